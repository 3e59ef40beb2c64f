//! `pyvet layout apply`: plan the layout for the whole build root, refuse
//! (exit 2, nothing written) if any module does not fit, otherwise write it,
//! write the `--split` lists, and check the result as `pyvet markers` does.

use std::path::PathBuf;

use crate::cli::{
    DbChoice, FailOn, LayoutApplyArgs, LayoutCommand, MarkersArgs, MarkersFormat, ShowArgs,
};
use crate::cmd::ExitCode;
use crate::layout::{self, SplitLists, Target};

pub fn run(cmd: &LayoutCommand, out: &mut dyn std::io::Write) -> crate::Result<ExitCode> {
    match cmd {
        LayoutCommand::Apply(a) => apply(a, out),
    }
}

fn apply(args: &LayoutApplyArgs, out: &mut dyn std::io::Write) -> crate::Result<ExitCode> {
    if !args.buildroot.is_dir() {
        return Err(crate::Error::Usage(format!(
            "{}: not a directory",
            args.buildroot.display()
        )));
    }
    let spec = match (&args.layout, &args.policy) {
        (Some(l), _) => l.policy().to_string(),
        (None, Some(p)) => p.clone(),
        (None, None) => {
            return Err(crate::Error::Usage(
                "--layout or --policy is required".into(),
            ))
        }
    };
    let policy = crate::policy::load(&spec).map_err(|e| crate::Error::Usage(e.to_string()))?;
    let target = Target::of(&policy).map_err(|e| crate::Error::Usage(e.to_string()))?;
    let root = args
        .buildroot
        .canonicalize()
        .map_err(|e| crate::Error::io(&args.buildroot, e))?;
    let paths: Vec<PathBuf> = if args.paths.is_empty() {
        layout::default_trees(&root)
    } else {
        args.paths.clone()
    };
    if paths.is_empty() {
        return Err(crate::Error::Usage(format!(
            "{}: no usr/lib*/python3* tree; name the trees as PATHs",
            args.buildroot.display()
        )));
    }
    let hosts = paths
        .iter()
        .map(|p| layout::host_path(&root, p))
        .collect::<crate::Result<Vec<_>>>()?;
    let plan =
        layout::plan(&root, &hosts, &target).map_err(|e| crate::Error::Usage(e.to_string()))?;
    let lists = SplitLists::of(&plan.after, target.prefix.as_deref());
    plan.run()?;
    if let Some(dir) = &args.split {
        layout::write_split(dir, &lists)?;
    }
    writeln!(
        out,
        "pyvet layout apply: {} ({}): {} changes",
        policy.name,
        serde_json::to_value(policy.layout)
            .map(|v| v.as_str().unwrap_or("").to_string())
            .unwrap_or_default(),
        plan.actions.len()
    )
    .map_err(|e| crate::Error::io("<stdout>", e))?;
    let markers = MarkersArgs {
        root,
        db: DbChoice::None,
        policy: Some(spec),
        format: MarkersFormat::Text,
        fail_on: FailOn::Error,
        show: ShowArgs::default(),
        pysource_prefix: None,
        also_discovered: false,
        paths: paths
            .iter()
            .map(|p| PathBuf::from("/").join(p.strip_prefix("/").unwrap_or(p)))
            .collect(),
    };
    crate::cmd::markers::run(&markers, out)
}
