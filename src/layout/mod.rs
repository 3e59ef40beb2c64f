//! `pyvet layout apply`'s engine: rearranges a status-quo build tree
//! (sources plus `compileall -o 0 -o 1 -o 2` output) into one layout of the
//! distributors' proposal, the way distributors do today with ad-hoc shell,
//! but checked: the whole tree is judged and planned first, and nothing is
//! touched unless every module is either status quo or already in the target
//! layout (so a half-converted or foreign tree is refused, and applying twice
//! changes nothing).
//!
//! Unlike the audit this module WRITES, to a build root. It walks without
//! following symlinks, refuses to move anything that is not a regular file,
//! and checks that every tree it is given resolves inside the build root.

mod plan;
mod split;

pub use plan::{plan, Action, Plan, Refusal};
pub use split::{write_split, SplitLists};

use std::path::{Path, PathBuf};

use crate::policy::{Compression, Layout, Policy};

/// The layouts `pyvet layout apply --layout` makes and `pyvet size` prices,
/// in the proposal's order, each with the shipped policy that describes it:
/// what a layout keeps is its policy's [`Target`], for both commands.
/// `option1` is what option 1's base package ships (sources and markers),
/// `option1-full` that plus the pycs subpackage (the status quo's pycs).
pub const LAYOUTS: [(&str, &str); 7] = [
    ("status-quo", "fedora"),
    ("py-opt0", "fedora-py-opt0"),
    ("option1", "fedora-option1"),
    ("option1-full", "fedora-option1-full"),
    ("option2", "fedora-option2"),
    ("option2-prefix", "fedora-option2-prefix"),
    ("minimal", "fedora-minimal"),
];

/// The shipped policy of a layout of [`LAYOUTS`].
pub fn policy_of(layout: &str) -> Option<&'static str> {
    LAYOUTS.iter().find(|(l, _)| *l == layout).map(|(_, p)| *p)
}

/// What the target layout asks of each module, read from the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub layout: Layout,
    /// `__pycache__` opt levels kept (sources-beside layouts); `None`: all.
    /// Option 1 keeps the levels its policy's `pycache` lists, none when it
    /// lists none (pycs optional: the base package has none).
    pub keep_levels: Option<Vec<u8>>,
    /// Option 2: how `__pysources__` files are written.
    pub compression: Compression,
    /// Option 2: compressions accepted as already converted.
    pub accepted: Vec<Compression>,
    /// Whether `__pycache__/__dont_write_bytecode__` markers are written.
    pub markers: bool,
    /// Option 2's prefix variant: the root of the parallel source tree
    /// (inside the build root) sources move to, at their mirrored paths.
    pub prefix: Option<PathBuf>,
}

/// Whether a layout drops plain sources for legacy-location pycs.
fn is_sourceless(layout: Layout) -> bool {
    matches!(
        layout,
        Layout::Option2 | Layout::Option2Prefix | Layout::Minimal
    )
}

/// Errors of `pyvet layout apply` that stop it before anything is written.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("layout {0:?} cannot be applied (pyvet layout apply makes status-quo, py-opt0, option1, option2, option2-prefix and minimal)")]
    Unsupported(Layout),
    #[error("layout option2-prefix needs the policy's pysource-prefix")]
    NoPrefix,
    #[error("{}: resolves outside the build root {}", path.display(), root.display())]
    OutsideRoot { path: PathBuf, root: PathBuf },
    #[error("the tree is not in the layout pyvet layout apply expects; nothing was changed:\n{}", list(.0))]
    Refused(Vec<Refusal>),
}

fn list(r: &[Refusal]) -> String {
    r.iter()
        .map(|r| format!("  {}: {}", r.path.display(), r.why))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Target {
    /// The target of `policy`'s layout (its defaults; per-path overrides are
    /// not layouts of their own).
    pub fn of(policy: &Policy) -> Result<Target, LayoutError> {
        let e = &policy.defaults;
        let keep_levels = match policy.layout {
            Layout::StatusQuo => None,
            Layout::PyOpt0 => Some(e.pycache.clone().unwrap_or_else(|| vec![0])),
            Layout::Option1 => Some(e.pycache.clone().unwrap_or_default()),
            Layout::Option2 | Layout::Option2Prefix | Layout::Minimal => Some(Vec::new()),
            other => return Err(LayoutError::Unsupported(other)),
        };
        let compression = [Compression::Gz, Compression::Xz, Compression::Bz2]
            .into_iter()
            .find(|c| e.compression.contains(c))
            .unwrap_or(Compression::None);
        let markers = policy.layout == Layout::Option1
            || e.markers
                .contains(&crate::policy::Marker::DontWriteBytecode);
        let prefix = match policy.layout {
            Layout::Option2Prefix => Some(
                policy
                    .pysource_prefix
                    .clone()
                    .ok_or(LayoutError::NoPrefix)?,
            ),
            _ => None,
        };
        let sourceless = is_sourceless(policy.layout);
        Ok(Target {
            layout: policy.layout,
            keep_levels,
            compression,
            accepted: e.compression.clone(),
            markers: markers && !sourceless,
            prefix,
        })
    }

    /// The target of a layout of [`LAYOUTS`], by name.
    pub fn named(layout: &str) -> Option<Target> {
        let policy = crate::policy::builtin(policy_of(layout)?)?;
        Target::of(&policy).ok()
    }

    /// Whether the layout drops plain sources for legacy-location pycs.
    pub fn sourceless(&self) -> bool {
        is_sourceless(self.layout)
    }

    /// Whether the layout keeps the sources of the moved pycs (option 2,
    /// in `__pysources__` or under the prefix).
    pub fn keeps_sources(&self) -> bool {
        matches!(self.layout, Layout::Option2 | Layout::Option2Prefix)
    }

    /// Whether a `__pycache__` pyc of `level` stays where it is (`None`: an
    /// optimisation tag other than `opt-1` or `opt-2`, kept only by the
    /// status quo). Sourceless layouts move the opt-0 pyc, keep none.
    pub fn keeps_cache(&self, level: Option<u8>) -> bool {
        !self.sourceless()
            && match &self.keep_levels {
                None => true,
                Some(k) => level.is_some_and(|l| k.contains(&l)),
            }
    }
}

/// The default trees: every `lib*/python3*` directory under `usr/` and
/// `usr/local/` of the build root, as paths inside it.
pub fn default_trees(buildroot: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for base in ["usr", "usr/local"] {
        let Ok(libs) = std::fs::read_dir(buildroot.join(base)) else {
            continue;
        };
        let mut libs: Vec<_> = libs.flatten().collect();
        libs.sort_by_key(|e| e.file_name());
        for lib in libs {
            let name = lib.file_name();
            if !name.to_string_lossy().starts_with("lib") || !is_real_dir(&lib.path()) {
                continue;
            }
            let Ok(pys) = std::fs::read_dir(lib.path()) else {
                continue;
            };
            let mut pys: Vec<_> = pys.flatten().collect();
            pys.sort_by_key(|e| e.file_name());
            for py in pys {
                if py.file_name().to_string_lossy().starts_with("python3")
                    && is_real_dir(&py.path())
                {
                    out.push(Path::new("/").join(base).join(&name).join(py.file_name()));
                }
            }
        }
    }
    out
}

/// A directory, not a symlink to one.
fn is_real_dir(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

/// The host path of `inside` (a path inside the build root), after checking
/// that no symlink along it leads out of the root.
pub fn host_path(buildroot: &Path, inside: &Path) -> Result<PathBuf, crate::Error> {
    let rel = inside.strip_prefix("/").unwrap_or(inside);
    let host = buildroot.join(rel);
    let root = buildroot
        .canonicalize()
        .map_err(|e| crate::Error::io(buildroot, e))?;
    let real = host
        .canonicalize()
        .map_err(|e| crate::Error::io(&host, e))?;
    if !real.starts_with(&root) || !is_real_dir(&real) {
        return Err(crate::Error::Usage(
            LayoutError::OutsideRoot {
                path: inside.to_path_buf(),
                root: buildroot.to_path_buf(),
            }
            .to_string(),
        ));
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layout_has_its_policy_and_target() {
        for (layout, policy) in LAYOUTS {
            let t = Target::named(layout).unwrap_or_else(|| panic!("{layout}"));
            assert_eq!(crate::policy::builtin(policy).unwrap().layout, t.layout);
        }
        let levels = |l: &str| {
            let t = Target::named(l).unwrap();
            [Some(0), Some(1), Some(2), None].map(|lv| t.keeps_cache(lv))
        };
        assert_eq!(levels("status-quo"), [true, true, true, true]);
        assert_eq!(levels("py-opt0"), [true, false, false, false]);
        assert_eq!(levels("option1"), [false; 4]);
        assert_eq!(levels("option1-full"), [true, true, true, false]);
        assert_eq!(levels("option2"), [false; 4]);
        assert_eq!(levels("option2-prefix"), [false; 4]);
        let t = Target::named("option2-prefix").unwrap();
        assert_eq!(
            t.prefix.as_deref(),
            Some(Path::new("/usr/share/python3-sources"))
        );
        assert_eq!(
            (t.sourceless(), t.keeps_sources(), t.markers),
            (true, true, false)
        );
        assert_eq!(t.compression, Compression::None);
        assert_eq!(levels("minimal"), [false; 4]);
        for l in ["option1", "option1-full"] {
            assert!(Target::named(l).unwrap().markers, "{l}");
        }
        assert!(Target::named("nonesuch").is_none());
    }
}
