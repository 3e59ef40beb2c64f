//! Writes a PyOxidizer packed resources file with PyOxidizer's own writer
//! (`python_packed_resources::write_packed_resources_v3`), from resources
//! staged by `tests/fixtures/packed/make.py`; `make.sh` there runs both.
//!
//!     cargo run --example packed_fixture -- OUT STAGE
//!
//! Each directory `STAGE/NAME` is one module resource: `source.py`,
//! `opt0.bin`..`opt2.bin` (marshalled code), `package`, `data/FILE`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use python_packed_resources::{write_packed_resources_v3, Resource};

fn read(p: &Path) -> Option<Cow<'static, [u8]>> {
    std::fs::read(p).ok().map(Cow::Owned)
}

fn resource(dir: &Path) -> Resource<'static, u8> {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let mut data = HashMap::new();
    let mut files: Vec<_> = std::fs::read_dir(dir.join("data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let key = f.file_name().unwrap().to_string_lossy().into_owned();
        data.insert(Cow::Owned(key), read(&f).unwrap());
    }
    Resource {
        name: Cow::Owned(name),
        is_python_module: true,
        is_python_package: dir.join("package").exists(),
        in_memory_source: read(&dir.join("source.py")),
        in_memory_bytecode: read(&dir.join("opt0.bin")),
        in_memory_bytecode_opt1: read(&dir.join("opt1.bin")),
        in_memory_bytecode_opt2: read(&dir.join("opt2.bin")),
        in_memory_package_resources: (!data.is_empty()).then_some(data),
        ..Resource::default()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, stage] = args.as_slice() else {
        eprintln!("usage: packed_fixture OUT STAGE");
        std::process::exit(2);
    };
    let mut dirs: Vec<_> = std::fs::read_dir(stage)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    let resources: Vec<_> = dirs.iter().map(|d| resource(d)).collect();
    let mut bytes = Vec::new();
    write_packed_resources_v3(&resources, &mut bytes, None).unwrap();
    std::fs::write(out, bytes).unwrap();
}
