//! The man pages and shell completions, generated from the CLI definition
//! (`src/cli.rs`) and the rule registry (`src/audit/rules.rs`).
//!
//! Shared by `examples/gen-docs.rs`, which writes them into `man/` and
//! `completions/`, and by `tests/docs.rs`, which regenerates them in memory
//! and fails when the committed files drift. Prose that is not about one
//! option (the long AUDIT, SUBSET and SIZE sections of pyvet(1)) lives in
//! `man/src/pyvet.1.in`, a roff template with `@TITLE@`, `@SYNOPSIS@`,
//! `@COMMANDS@` and `@RULES@` lines the generator fills in.

#![allow(dead_code)] // each includer uses a part

use clap::CommandFactory;
use clap_complete::Shell;
use pyvet::audit::rules::{self, Family};
use roff::{roman, Roff};

/// One generated file: its path relative to the repository, and its bytes.
pub struct Generated {
    pub path: String,
    pub text: Vec<u8>,
}

/// The command that rewrites every generated file.
pub const REGENERATE: &str = "cargo run --example gen-docs";

const SOURCE: &str = concat!("pyvet ", env!("CARGO_PKG_VERSION"));
const MANUAL: &str = "User Commands";
/// The pages' date (`.TH`): fixed, so that regenerating is reproducible;
/// move it forward when the command line changes.
const DATE: &str = "2026-12-01";

/// Every generated file, in a fixed order.
pub fn generate() -> Vec<Generated> {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/src/pyvet.1.in"))
            .expect("man/src/pyvet.1.in is in the repository");
    let mut out = vec![Generated {
        path: "man/pyvet.1".into(),
        text: main_page(&template).into_bytes(),
    }];
    let mut cmd = pyvet::cli::Cli::command();
    cmd.build();
    for sub in cmd.get_subcommands() {
        sub_pages(sub, "pyvet", &mut out);
    }
    for (shell, file) in [
        (Shell::Bash, "pyvet.bash"),
        (Shell::Zsh, "_pyvet"),
        (Shell::Fish, "pyvet.fish"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut pyvet::cli::Cli::command(), "pyvet", &mut buf);
        out.push(Generated {
            path: format!("completions/{file}"),
            text: buf,
        });
    }
    out
}

/// pyvet(1): the template with its title, synopsis and rules filled in.
fn main_page(template: &str) -> String {
    let mut cmd = pyvet::cli::Cli::command();
    cmd.build();
    let mut page = String::new();
    for line in template.lines() {
        match line {
            "@TITLE@" => page.push_str(&title(&cmd, "PYVET")),
            "@SYNOPSIS@" => page.push_str(&synopsis_lines(&cmd)),
            "@RULES@" => page.push_str(&rules_roff()),
            "@COMMANDS@" => page.push_str(&commands(&cmd)),
            _ => {
                page.push_str(line);
                page.push('\n');
            }
        }
    }
    one_preamble(&page)
}

fn title(cmd: &clap::Command, name: &str) -> String {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .title(name)
        .date(DATE)
        .source(SOURCE)
        .manual(MANUAL)
        .render_title(&mut buf)
        .expect("writing to a Vec");
    String::from_utf8(buf).expect("clap_mangen writes UTF-8")
}

/// One synopsis per leaf command (`pyvet audit ...`, `pyvet policy check ...`),
/// separated by line breaks.
fn synopsis_lines(cmd: &clap::Command) -> String {
    let mut leaves = Vec::new();
    collect_leaves(cmd, "pyvet", &mut leaves);
    let mut out = String::from(".SH SYNOPSIS\n");
    for (i, leaf) in leaves.iter().enumerate() {
        if i > 0 {
            out.push_str(".br\n");
        }
        out.push_str(&synopsis(
            leaf,
            leaf.get_bin_name().unwrap_or(leaf.get_name()),
        ));
    }
    out
}

/// `BIN [--opt VALUE]... [ARG...]` in the classic .B/.RB/.IR style: options
/// with their value names or possible values, `...` when repeatable,
/// brackets when optional. (clap_mangen's synopsis leaves the values out.)
fn synopsis(cmd: &clap::Command, bin: &str) -> String {
    let mut out = format!(".B {}\n", esc(bin));
    let args = cmd.get_arguments().filter(|a| !a.is_hide_set());
    let (positionals, options): (Vec<_>, Vec<_>) = args.partition(|a| a.is_positional());
    for arg in options {
        let Some(long) = arg.get_long() else { continue };
        if matches!(long, "help" | "version") {
            continue;
        }
        let flag = esc(&format!("--{long}"));
        let required = arg.is_required_set();
        let many = matches!(arg.get_action(), clap::ArgAction::Append)
            || arg.get_num_args().is_some_and(|n| n.max_values() > 1);
        let Some(value) = value_text(arg) else {
            out.push_str(&format!(".RB [ {flag} ]\n"));
            continue;
        };
        if required {
            out.push_str(&format!(".B {flag}\n.IR {value}{}\n", dots(many, " ")));
        } else {
            out.push_str(&format!(".RB [ {flag}\n.IR {value} ]{}\n", dots(many, "")));
        }
    }
    for arg in positionals {
        let name = value_text(arg).unwrap_or_else(|| esc(arg.get_id().as_str()));
        let many = arg.get_num_args().is_some_and(|n| n.max_values() > 1);
        if arg.is_required_set() {
            out.push_str(&format!(".IR {name}{}\n", dots(many, " ")));
        } else {
            out.push_str(&format!(".RI [ {name}{}]\n", dots(many, " ")));
        }
    }
    out
}

/// ` ...` (or `...`) after an argument that may be given several times.
fn dots(many: bool, sep: &str) -> String {
    if many {
        format!("{sep}...")
    } else {
        sep.trim().to_string()
    }
}

/// An option's value for .IR: its possible values (`auto | rpm | ...`) or
/// its value name split at `|` and `=` (`NAME | FILE`, `VER = PATH`), so
/// that the words are italic and the separators roman.
fn value_text(arg: &clap::Arg) -> Option<String> {
    if !arg.get_action().takes_values() {
        return None;
    }
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| esc(v.get_name()))
        .collect();
    if !values.is_empty() {
        return Some(values.join(" | "));
    }
    let name = arg.get_value_names().and_then(|v| v.first()).map_or_else(
        || arg.get_id().to_string().to_uppercase(),
        |v| v.to_string(),
    );
    Some(esc(&name).replace('|', " | ").replace('=', " = "))
}

/// Text for roff: `-` is a minus (`\-`), `\` is `\e`.
fn esc(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

/// clap_mangen starts every section with the same `Aq` string definition;
/// a page needs it once.
fn one_preamble(text: &str) -> String {
    let mut seen = 0;
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with(".ie \\n(.g .ds Aq") || line.starts_with(".el .ds Aq") {
            seen += 1;
            if seen > 2 {
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The COMMANDS section: each leaf command with its long description (the
/// paragraphs of its doc comment after the summary line).
fn commands(cmd: &clap::Command) -> String {
    let mut leaves = Vec::new();
    collect_leaves(cmd, "pyvet", &mut leaves);
    let mut out = String::from(".SH COMMANDS\n");
    for leaf in leaves {
        let bin = leaf.get_bin_name().unwrap_or(leaf.get_name());
        let name = bin.trim_start_matches("pyvet ");
        let long = leaf
            .get_long_about()
            .or(leaf.get_about())
            .map(|t| t.to_string());
        let long = long.unwrap_or_default();
        let detail = long
            .split_once("\n\n")
            .map_or(long.as_str(), |(_, rest)| rest);
        out.push_str(&format!(".TP\n.B {}\n", esc(name)));
        for (i, para) in detail.split("\n\n").enumerate() {
            if i > 0 {
                out.push_str(".IP\n");
            }
            let para = esc(para.trim());
            if para.starts_with(['.', '\'']) {
                out.push_str("\\&"); // not a request
            }
            out.push_str(&para);
            out.push('\n');
        }
    }
    out
}

fn collect_leaves(cmd: &clap::Command, prefix: &str, out: &mut Vec<clap::Command>) {
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let bin = format!("{prefix} {}", sub.get_name());
        if sub.has_subcommands() {
            collect_leaves(sub, &bin, out);
        } else {
            out.push(sub.clone().bin_name(bin));
        }
    }
}

/// pyvet-SUB(1) for a subcommand, and for each of its own subcommands.
fn sub_pages(sub: &clap::Command, prefix: &str, out: &mut Vec<Generated>) {
    if sub.get_name() == "help" {
        return;
    }
    let page_name = format!("{}-{}", prefix.replace(' ', "-"), sub.get_name());
    let bin = format!("{prefix} {}", sub.get_name());
    // clap takes `&'static str` names (no `string` feature); a generator run
    // leaks a few dozen bytes per page.
    let name: &'static str = Box::leak(page_name.clone().into_boxed_str());
    let cmd = sub.clone().name(name).bin_name(&bin).display_name(name);
    let man = clap_mangen::Man::new(cmd.clone())
        .title(page_name.to_uppercase())
        .date(DATE)
        .source(SOURCE)
        .manual(MANUAL);
    let mut buf = Vec::new();
    man.render_title(&mut buf).expect("writing to a Vec");
    man.render_name_section(&mut buf).expect("writing to a Vec");
    buf.extend_from_slice(format!(".SH SYNOPSIS\n{}", synopsis(&cmd, &bin)).as_bytes());
    man.render_description_section(&mut buf)
        .expect("writing to a Vec");
    man.render_options_section(&mut buf)
        .expect("writing to a Vec");
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut buf)
            .expect("writing to a Vec");
    }
    if cmd.get_after_long_help().is_some() {
        man.render_extra_section(&mut buf)
            .expect("writing to a Vec");
    }
    let mut text = one_preamble(&String::from_utf8(buf).expect("clap_mangen writes UTF-8"));
    if matches!(sub.get_name(), "audit" | "markers") && prefix == "pyvet" {
        text.push_str(".SH RULES\n");
        text.push_str(&rules_roff());
    }
    text.push_str(&exit_status(sub.get_name()));
    text.push_str(&see_also(sub));
    out.push(Generated {
        path: format!("man/{page_name}.1"),
        text: text.into_bytes(),
    });
    for child in sub.get_subcommands() {
        sub_pages(child, &bin, out);
    }
}

/// EXIT STATUS: 0 and 2 for every command; 1 where the command has
/// findings (src/cmd says which).
fn exit_status(name: &str) -> String {
    let findings = match name {
        "audit" | "markers" => Some("Findings at or above the --fail-on severity."),
        "pyc" => Some("A verdict other than valid."),
        "subset" => Some("A violation: the minimal side is not a subset of the full side."),
        _ => None,
    };
    let mut r = Roff::new();
    r.control("SH", ["EXIT STATUS"]);
    let codes = [
        ("0", Some("Clean.")),
        ("1", findings),
        ("2", Some("Usage or input errors.")),
    ];
    for (code, what) in codes {
        if let Some(what) = what {
            r.control("TP", []).control("B", [code]).text([roman(what)]);
        }
    }
    r.to_roff()
}

fn see_also(sub: &clap::Command) -> String {
    let mut r = Roff::new();
    r.control("SH", ["SEE ALSO"]);
    let mut refs = vec![("pyvet", "1")];
    if matches!(sub.get_name(), "audit" | "markers" | "policy") {
        refs.push(("pyvet-policy", "5"));
    }
    let last = refs.len() - 1;
    for (i, (name, sec)) in refs.into_iter().enumerate() {
        let sep = if i == last { "" } else { "," };
        r.control("BR", [name, &format!("({sec}){sep}")]);
    }
    r.to_roff()
}

/// The registry as roff: per family a subsection, per rule its id in bold,
/// its default severity in parentheses and its summary, where `` `x` `` in
/// a summary is set in bold.
pub fn rules_roff() -> String {
    let mut out = String::new();
    for family in FAMILIES {
        out.push_str(&format!(".SS {}\n", esc(heading(family))));
        for rule in rules::ALL.iter().filter(|rule| rule.family == family) {
            out.push_str(&format!(
                ".TP\n.B {}\n({}) ",
                esc(rule.id),
                rule.severity.as_str()
            ));
            for (i, part) in esc(rule.summary).split('`').enumerate() {
                match i % 2 {
                    1 => out.push_str(&format!("\\fB{part}\\fR")),
                    _ => out.push_str(part),
                }
            }
            out.push('\n');
        }
    }
    out
}

/// The families in the order the man page documents them.
const FAMILIES: [Family; 8] = [
    Family::Owned,
    Family::Unowned,
    Family::Bytecode,
    Family::Zipped,
    Family::Prediction,
    Family::Marker,
    Family::Subset,
    Family::Audit,
];

fn heading(family: Family) -> &'static str {
    match family {
        Family::Owned => "Owned files (verified as rpm -V and dpkg --verify do)",
        Family::Unowned => "Unowned files in a Python tree",
        Family::Bytecode => "Bytecode (what CPython's import system would do)",
        Family::Zipped => "Zips on the import path",
        Family::Prediction => "Predictions (what CPython would try to write)",
        Family::Marker => "Layout markers",
        Family::Subset => "Subset (pyvet subset)",
        Family::Audit => "The audit itself",
    }
}
