//! The rule registry: every kind of finding pyvet can report, in one place.
//!
//! A rule id is a stable kebab-case name. It is the finding's `rule` in
//! JSON, the SARIF `ruleId`, the key a policy sets a level for, and an entry
//! in the man page; `pyvet audit --explain RULE` prints its explanation.
//! Ids are never renamed or reused once released.

use super::finding::Severity;

/// What a rule is about (groups the checks, one module each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// A file a package owns, verified as `rpm -V` / `dpkg --verify` would.
    Owned,
    /// A file nothing owns, inside a Python tree.
    Unowned,
    /// What CPython's import system would do with a pyc.
    Bytecode,
    /// What CPython would try to write.
    Prediction,
    /// Layout markers (`__dont_write_bytecode__`, `__pysources__`).
    Marker,
    /// Zips on the import path (`python3XY.zip`, zips named in `.pth` files).
    Zipped,
    /// `pyvet subset`: a minimal layout against a fuller one.
    Subset,
    /// About the audit itself (no manifest, policy entries).
    Audit,
}

/// One rule: id, default severity, one-line summary, explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub family: Family,
    pub severity: Severity,
    pub summary: &'static str,
    pub explanation: &'static str,
}

macro_rules! rules {
    ($($name:ident = $id:literal, $family:ident, $sev:ident, $summary:literal, $expl:literal;)*) => {
        $(
            #[doc = $summary]
            pub const $name: &Rule = &Rule {
                id: $id,
                family: Family::$family,
                severity: Severity::$sev,
                summary: $summary,
                explanation: $expl,
            };
        )*
        /// Every rule, in the order they are documented.
        pub const ALL: &[&Rule] = &[$($name),*];
    };
}

rules! {
    MISSING = "missing", Owned, Error,
        "a file a package owns is not there",
        "The package manager says this path was installed, and nothing is there (rpm -V prints `missing`). Files marked %ghost, %missingok or not installed (--excludedocs, --nodocs) are not reported, as rpm does.";
    DIGEST_MISMATCH = "digest-mismatch", Owned, Error,
        "an owned file's content differs from the package (rpm -V `5`)",
        "The file's digest, computed with the algorithm the package manager recorded (SHA-256 for most rpms, MD5 for dpkg, SHA-1 for apk), differs from the recorded one: the content was changed after installation. For a Python source this changes what runs; for a pyc, it is code injection unless a tool rewrote it.";
    SIZE_MISMATCH = "size-mismatch", Owned, Warning,
        "an owned file's size differs from the package (rpm -V `S`)",
        "The file's size differs from the size the package recorded. dpkg and apk record no sizes, so only rpm and pip data can report this.";
    MODE_MISMATCH = "mode-mismatch", Owned, Warning,
        "an owned file's permissions differ from the package (rpm -V `M`)",
        "The permission bits (or, as rpm compares them, the whole st_mode) differ from the package's. A world-writable file in a system Python tree lets anyone change what root imports.";
    OWNER_MISMATCH = "owner-mismatch", Owned, Warning,
        "an owned file's user differs from the package (rpm -V `U`)",
        "The file's owner differs from the user the package recorded. Names are resolved as rpm resolves them under --root: `root` is uid 0, other names come from the root's own etc/passwd, never the host's.";
    GROUP_MISMATCH = "group-mismatch", Owned, Warning,
        "an owned file's group differs from the package (rpm -V `G`)",
        "The file's group differs from the group the package recorded, resolved from the root's own etc/group (`root` is gid 0).";
    MTIME_MISMATCH = "mtime-mismatch", Owned, Warning,
        "an owned file's modification time differs from the package (rpm -V `T`)",
        "The file's mtime differs from the package's. rpm does not compare mtimes for a path several packages own, and neither does pyvet. For a Python source, a changed mtime also makes its timestamp pycs stale, so CPython would recompile and try to write them.";
    LINK_MISMATCH = "link-mismatch", Owned, Warning,
        "an owned symlink points elsewhere than the package says (rpm -V `L`)",
        "The symlink's target (readlink, not resolved) differs from the target the package recorded: code imported through it now comes from elsewhere.";
    TYPE_MISMATCH = "type-mismatch", Owned, Warning,
        "an owned path is of another file type than the package says",
        "The package installed a regular file, directory, symlink or device here, and something of another type is there now (for instance a symlink where a file was). rpm -V reports this as a mode change (`M`) and skips the other checks.";
    DEVICE_MISMATCH = "device-mismatch", Owned, Warning,
        "an owned device node has other major/minor numbers (rpm -V `D`)",
        "A character or block device the package installed now has another major or minor device number.";
    CAPS_MISMATCH = "caps-mismatch", Owned, Warning,
        "an owned file's capabilities differ from the package (rpm -V `P`)",
        "The file capabilities (security.capability) differ from the ones the package recorded.";
    UNREADABLE = "unreadable", Owned, Warning,
        "a file could not be read or examined",
        "pyvet could not stat, open or read this path (permissions, I/O error, size over a limit). Whatever it holds was not checked; rpm -V prints `?` in such columns.";
    ROOT_WRITTEN_BYTECODE = "root-written-bytecode", Unowned, Warning,
        "Python run as root wrote this pyc into a system location",
        "A pyc that is valid for a source a package owns, owned by uid 0, that no package installed. CPython writes such a file when it runs as root and finds no valid bytecode, which a distribution's policy forbids and SELinux flags: such writes look exactly like code injection, and nothing verifies the file afterwards.";
    USER_WRITTEN_BYTECODE = "user-written-bytecode", Unowned, Warning,
        "a non-root user wrote this pyc into a system Python tree",
        "A pyc valid for a source a package owns, that no package installed, owned by a user other than root: a user had write access to a system Python tree.";
    GENERATED_BYTECODE = "generated-bytecode", Unowned, Info,
        "bytecode the distribution generates at install time",
        "On Debian and Ubuntu, py3compile writes the opt-0 pycs of the stdlib and of dist-packages when a package is installed; dpkg does not list them. A valid opt-0 pyc, with the interpreter's own tag, for a source an installed package owns, is what the distribution expects. Other optimisation levels, invalid, foreign or sourceless pycs are still reported under their own rules.";
    SOURCELESS_BYTECODE = "sourceless-bytecode", Bytecode, Error,
        "a legacy-location pyc without a source: importable as is",
        "A `X.pyc` beside where `X.py` would be, with no `X.py`: CPython 3 imports it as module X without any check against a source. Nothing owns it, so nothing verifies it. Dropping `usercustomize.pyc` or a stdlib module name is a classic persistence trick.";
    SHADOWED_BYTECODE = "shadowed-bytecode", Bytecode, Warning,
        "a legacy-location pyc beside its source: imported the moment the source goes",
        "A `X.pyc` beside `X.py`. CPython 3 imports the source and ignores this file today, but the moment the source is removed (for instance by a layout change or a package update), the pyc is imported as is.";
    DIVERGING_BYTECODE = "diverging-bytecode", Bytecode, Error,
        "the pyc's code is not the compilation of its source (--deep)",
        "A trusted interpreter of the pyc's version compiled the source and the code objects differ. The header matched, so CPython would run this code in place of the source: this is how a replaced pyc that kept its header is caught.";
    UNVERIFIED_BYTECODE = "unverified-bytecode", Bytecode, Info,
        "--deep could not check this pyc (no trusted interpreter)",
        "No trusted interpreter of the pyc's Python version was found (give one with --interpreter 3.X=PATH), so its code was not compared with its source.";
    ORPHAN_BYTECODE = "orphan-bytecode", Bytecode, Warning,
        "a cache pyc without its source, or a name CPython never loads",
        "A `__pycache__` file whose source is gone, or a file CPython never imports. Harmless to the import system, but nothing owns it: clutter at best, a stash at worst.";
    STALE_BYTECODE = "stale-bytecode", Bytecode, Warning,
        "a pyc whose timestamp or size no longer match its source",
        "CPython would not use it: it recompiles the source and, where it may, writes a new pyc. Nothing owns the stale file.";
    HASH_MISMATCH_BYTECODE = "hash-mismatch-bytecode", Bytecode, Error,
        "a checked-hash pyc whose hash does not match its source",
        "The pyc records the SipHash of a source other than the one beside it: it was made for other content. CPython recompiles; the mismatch means source or pyc were changed.";
    UNCHECKED_HASH_BYTECODE = "unchecked-hash-bytecode", Bytecode, Warning,
        "an unchecked-hash pyc: used without any check against its source",
        "CPython uses unchecked-hash pycs without looking at the source, so whoever writes it decides what runs. Packaged unchecked-hash pycs are verified by their digest; this one is not owned.";
    FOREIGN_BYTECODE = "foreign-bytecode", Bytecode, Warning,
        "another interpreter's pyc (tag or magic of another Python)",
        "The pyc's magic number belongs to another Python version than its cache tag or its python3.X directory, or to a pre-release: the tree's interpreter never uses it.";
    MISPLACED_BYTECODE = "misplaced-bytecode", Bytecode, Error,
        "the pyc was compiled for another path (co_filename)",
        "The code object's co_filename names another file than the source it caches: the pyc was compiled elsewhere and copied here, which packaging never does.";
    CORRUPT_BYTECODE = "corrupt-bytecode", Bytecode, Warning,
        "a pyc that is truncated, malformed, or of an unknown magic",
        "The header or the marshalled code does not parse; an import would fail, or it is not CPython bytecode at all.";
    UNOWNED_PTH = "unowned-pth", Unowned, Error,
        "a .pth file nothing owns: its import lines run at every start",
        "site.py executes every line starting with `import` in every .pth file of a site directory, at every interpreter start. An unowned .pth is arbitrary code run by every Python process, root's included.";
    UNOWNED_MODULE = "unowned-module", Unowned, Error,
        "an unowned .py, extension module or zip where imports would find it",
        "A module nothing owns on the import path: in the stdlib, lib-dynload or the distribution's package directories it can shadow or extend what packages installed. Under usr/local it is reported as a warning (pip installs there without RECORD ownership only by mistake).";
    UNOWNED_FILE = "unowned-file", Unowned, Warning,
        "a file nothing owns inside a Python tree",
        "Anything else no manifest lists: data files, leftovers, editor backups.";
    SPECIAL_FILE = "special-file", Unowned, Warning,
        "a FIFO, socket or device node inside a Python tree",
        "Never opened by pyvet (opening a FIFO blocks), and never expected in a Python tree.";
    BYTECODE_WRITE_ATTEMPT = "bytecode-write-attempt", Prediction, Warning,
        "CPython would find no valid pyc for this source and try to write one",
        "For an owned source and an optimisation level in use, no valid pyc exists where CPython looks, so an import would recompile and try to write `__pycache__/X.<tag>[.opt-N].pyc`. Run as root this is the write into a system location that SELinux denies (an AVC) and the distribution's policy forbids; run as a user it fails silently and costs a compile at every start.";
    MARKER_MISSING = "marker-missing", Marker, Error,
        "a marker the policy requires is absent",
        "The policy requires `__pycache__/__dont_write_bytecode__` in every `__pycache__` whose parent has sources (option 1), or a `__pysource__` file beside legacy-location pycs; this directory has none, so CPython would write bytecode there.";
    MARKER_INVALID = "marker-invalid", Marker, Error,
        "a marker that is not a regular empty file, or nothing owns it",
        "`__dont_write_bytecode__` must be a regular empty file, owned by a package where a manifest exists, in a `__pycache__` whose parent directory has sources. Anything else is not the marker CPython honours, or is one nobody can verify.";
    MARKER_WRITTEN_BYTECODE = "marker-written-bytecode", Marker, Error,
        "an unowned pyc in a `__pycache__` whose marker forbids writing",
        "With `__pycache__/__dont_write_bytecode__` present CPython writes no bytecode there, so a pyc there that no package installed was written by something other than the interpreter.";
    MARKER_SOURCE_MISSING = "marker-source-missing", Marker, Error,
        "a legacy-location pyc whose source is not in `__pysources__`",
        "In the option 2 layout every `X.pyc` has its source in `__pysources__/X.py` (or compressed, as the policy allows), or in the directory a `__pysource__` file names, or (the prefix variant) at `PREFIX/dir/X.py` under the pysource prefix. This one has none: tracebacks show no source and nothing proves what the bytecode was compiled from.";
    MARKER_SOURCE_ORPHAN = "marker-source-orphan", Marker, Warning,
        "a source in `__pysources__` without its `X.pyc`, or not a source",
        "Every file of `__pysources__` is the source of an `X.pyc` beside the directory. A source without its pyc is never imported; anything else (another name, a second compressed form of one source) does not belong there. The same holds of a pysource prefix tree, where a directory mirroring none of the tree is one such finding.";
    MARKER_SOURCE_MISMATCH = "marker-source-mismatch", Marker, Error,
        "a legacy-location pyc that was not compiled from its `__pysources__` source",
        "A timestamp pyc records its source's size, a hash-based pyc the SipHash of its source: here the (decompressed) source in `__pysources__` has another size or hash, so the pyc that runs was made from other content than the source shipped beside it. A plain source under the pysource prefix is judged as CPython judges a source beside its pyc: the timestamp pyc's recorded mtime too.";
    MARKER_SOURCE_SHADOWED = "marker-source-shadowed", Marker, Warning,
        "a plain `X.py` beside `X.pyc` where sources belong in `__pysources__`",
        "CPython imports a plain `X.py` before a legacy-location `X.pyc`, so this source, not the shipped bytecode, runs; and with no pyc in `__pycache__` it is compiled at every import (and written where CPython may).";
    MARKER_SOURCE_BOMB = "marker-source-bomb", Marker, Error,
        "a compressed source that decompresses past pyvet's limit",
        "Sources are decompressed streamed and capped; this one grew past the cap (a compression bomb, or a file no source should be) and was not checked further.";
    MARKER_SOURCE_INVALID = "marker-source-invalid", Marker, Error,
        "a source in `__pysources__` that cannot be read or is stored as the policy forbids",
        "The compressed data is corrupt or truncated, the file cannot be read, or its compression (gz, xz, bz2) is not one the policy allows.";
    MARKER_PYSOURCE_INVALID = "marker-pysource-invalid", Marker, Error,
        "a `__pysource__` file that does not parse or points at nothing",
        "`__pysource__` names, in one `directory = /path` line, where the sources of the directory's legacy-location pycs are (see pyvet-policy(5)). This one is malformed, or the directory it names does not exist in the root.";
    LAYOUT_UNEXPECTED = "layout-unexpected", Marker, Warning,
        "a packaged file the policy's layout does not have at this path",
        "The policy says which sources and which bytecode a layout ships where: a plain source where it ships none, a legacy-location pyc where it ships `__pycache__` pycs, a `__pycache__` pyc at an optimisation level it does not ship. `pyvet markers` on a bare build tree (no manifest) takes every file as packaged.";
    SUBSET_MISSING = "subset-missing", Subset, Error,
        "a file of the minimal side is not on the full side",
        "`pyvet subset`: the minimal packages install this path and the full packages do not, so installing the minimal layout is not a subset of installing the full one.";
    SUBSET_DIFFERS = "subset-differs", Subset, Error,
        "a file of the minimal side differs from the full side's",
        "`pyvet subset`: both sides install this path, but with another type, content, mode, owner, group or link target (the `differs` list says which, at the --compare level). A content digest that cannot be compared (none recorded, or another algorithm) counts as different: an unproven subset is not a subset.";
    SUBSET_CONFLICT = "subset-conflict", Subset, Error,
        "the minimal inputs list one path with different content",
        "`pyvet subset`: two minimal-side inputs install the same path with different content or metadata, so what ends up on disk depends on installation order.";
    ZIP_MALFORMED = "zip-malformed", Zipped, Error,
        "a zip on the import path, or a member of it, that does not read as a zip",
        "A zip on `sys.path` (`lib/python3XY.zip`, or a file a `.pth` names) whose central directory is truncated or inconsistent, a member whose local header, size, CRC-32 or deflate stream is wrong, an encrypted member or one of a method zipimport cannot read, or a member name that escapes the archive (absolute, `..`). Imports from it fail or behave differently from what any tool listing it shows, and nothing in it could be judged.";
    ZIP_BOMB = "zip-bomb", Zipped, Error,
        "a zip on the import path whose members overlap or inflate beyond the limits",
        "Members sharing bytes with each other or with the central directory (the non-recursive zip bomb), a member declaring more than 64 MiB uncompressed, members adding up to more than 1 GiB, or more entries than a zip without zip64 can hold. pyvet stops reading the zip there: no packaging tool writes such a file.";
    PACKED_MALFORMED = "packed-malformed", Zipped, Error,
        "a PyOxidizer packed resources file that does not read as one",
        "A file of a Python tree starting with `pyembed\\x03` (the packed resources `oxidized_importer` imports modules from), or one given as a PATH or `--manifest` (then also one without that magic), whose header, blob index, resource index or blob sections are truncated, inconsistent or over pyvet's limits (a count no index could hold, a blob running past its section). The reference parser trusts every length; nothing in the file could be judged.";
    PACKED_UNCHECKED_BYTECODE = "packed-unchecked-bytecode", Zipped, Info,
        "bytecode in a packed resources file, run without a check against its embedded source",
        "`oxidized_importer` unmarshals a module's embedded bytecode whenever there is some and never compares it with the embedded source (the bytecode has no pyc header: no timestamp, no hash). pyvet checked that it loads as code of the tree's Python (outside a Python tree, the root's only interpreter's); `--deep` compiles the embedded source with a trusted interpreter and compares (`diverging-bytecode` when they differ).";
    NO_MANIFEST = "no-manifest", Audit, Info,
        "no package database, or a bare build tree: ownership checks skipped",
        "No installed package database was found under the root and no INPUT named one, so nothing is owned: ownership checks are skipped and every other check still runs. Also reported, at the tree, for a tree given as a PATH in which no manifest owns a single file (a build tree audited on a host whose databases know nothing of it): ownership findings (unowned-*, a marker nothing owns) are skipped in that tree only, and its bytecode and markers are still checked. A discovered tree, or a PATH that is, holds or lies in one, is never taken as bare: a python3.X tree nothing owns is what an attacker would create.";
    NO_PYTHON_TREE = "no-python-tree", Audit, Warning,
        "no Python tree under the root: nothing was audited",
        "Package databases were found under the root, but no Python tree: no lib*/python3.X directory a package installs into, none under /usr/local/lib*, /usr/lib* or /lib*, and no PATH. Nothing was checked, which is no pass: a mistyped --root, a root mounted wrong, or a system without Python. With no package database either, the command stops with exit 2.";
    POLICY_UNMATCHED = "policy-unmatched", Audit, Warning,
        "a policy `[[expect]]` entry that matched no path",
        "None of the entry's globs matched a file of the audited trees: the layout changed or the glob is wrong. Reported so that policies do not rot (built-in policies describe whole distributions and are exempt).";
    TREE_TOO_DEEP = "tree-too-deep", Audit, Error,
        "a directory pyvet did not look into: nested too deep, or its path too long",
        "pyvet walks a Python tree down to 128 directories below its top (real trees are under 30 levels deep), and nothing can open a path longer than PATH_MAX (4096 bytes) by name. This directory lies at that depth, or its path is that long, so nothing below it was audited. A nest thousands of directories deep is legal (one `mkdir` loop makes it) and hides whatever sits at its bottom from every walk; code there is importable once a `.pth` file or `sys.path` entry names it. No packaging tool makes such a tree: look at what is below with `find` and remove it.";
    ACCEPTED_GONE = "accepted-gone", Audit, Warning,
        "an accepted finding that no longer occurs",
        "A policy `[[accept]]` entry or a `--baseline` report accepts a finding that this run did not find: remove the acceptance, so that the finding's return is not accepted silently. An entry with `required = true` makes this an error.";
}

/// Looks a rule up by id.
pub fn find(id: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_kebab_case_and_documented() {
        let mut seen = HashSet::new();
        for r in ALL {
            assert!(seen.insert(r.id), "duplicate rule id {}", r.id);
            assert!(
                r.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                    && !r.id.starts_with('-')
                    && !r.id.ends_with('-')
                    && !r.id.contains("--"),
                "{} is not kebab-case",
                r.id
            );
            assert!(r.summary.len() > 10, "{}: summary too short", r.id);
            assert!(
                r.explanation.len() > r.summary.len(),
                "{}: explanation must say more than the summary",
                r.id
            );
        }
        assert_eq!(find("missing"), Some(MISSING));
        assert_eq!(find("no-such-rule"), None);
    }
}
