//! Writes the generated man pages (`man/`) and shell completions
//! (`completions/`) from the CLI definition and the rule registry:
//! `cargo run --example gen-docs`. `tests/docs.rs` fails when they drift.

#[path = "../tests/docgen/mod.rs"]
mod docgen;

fn main() -> std::io::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in docgen::generate() {
        let path = root.join(&file.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        if std::fs::read(&path).ok().as_deref() != Some(&file.text[..]) {
            std::fs::write(&path, &file.text)?;
            println!("wrote {}", file.path);
        }
    }
    Ok(())
}
