//! The library's layers import only downward (`src/lib.rs` lists them). This reads the
//! source as text: every `crate::<module>` a file names must be of its own module or of a
//! lower layer. Test code may also use the test-only `fixtures`.

use std::path::Path;

/// Each top-level module of the library and its layer, bottom first. Modules on one layer
/// do not import each other.
const LAYERS: &[(&str, u32)] = &[
    ("error", 0),
    ("base", 1),
    ("ingest", 2),
    ("features", 3),
    ("labels", 4),
    ("model", 5),
    ("list", 6),
    ("report", 7),
    ("generate", 7),
    ("run", 8),
];

fn layer(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|&(_, l)| l)
}

/// The `crate::<name>` paths a text names.
fn named_modules(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        out.push(name);
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every import that goes up or sideways, as `file: module -> module`.
fn wrong_imports(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        // The binary (main, cli, cmd, its allocator) is above every layer; the crate root
        // and the test fixtures may name any module.
        if ["main", "cli", "cmd", "alloc", "lib", "fixtures"].contains(&top.as_str()) {
            continue;
        }
        let own = layer(&top).unwrap_or_else(|| {
            panic!("src/{top} is in no layer: add it to LAYERS and to src/lib.rs's list")
        });
        let text = std::fs::read_to_string(&file).unwrap();
        let (code, tests) = text.split_at(text.find("#[cfg(test)]").unwrap_or(text.len()));
        for (part, is_test) in [(code, false), (tests, true)] {
            for name in named_modules(part) {
                if name == top || (is_test && name == "fixtures") {
                    continue;
                }
                let ok = match layer(&name) {
                    Some(l) => l < own,
                    None => false,
                };
                if !ok {
                    wrong.push(format!("{}: {top} -> {name}", rel.display()));
                }
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    wrong
}

#[test]
fn the_library_imports_only_downward() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let wrong = wrong_imports(&src);
    assert!(
        wrong.is_empty(),
        "imports that go up or sideways:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn an_upward_import_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = dir.path().join("ingest");
    std::fs::create_dir(&ingest).unwrap();
    std::fs::write(
        ingest.join("mod.rs"),
        "use crate::model::artifact::write_atomic;\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("list.rs"), "use crate::report::svg;\n").unwrap();
    std::fs::write(dir.path().join("report.rs"), "use crate::generate::generate;\n#[cfg(test)]\nmod tests { use crate::fixtures::events; }\n").unwrap();
    std::fs::write(
        dir.path().join("model.rs"),
        "use crate::ingest::Events;\n#[cfg(test)]\nmod tests { use crate::run::config; }\n",
    )
    .unwrap();
    assert_eq!(
        wrong_imports(dir.path()),
        [
            "ingest/mod.rs: ingest -> model",
            "list.rs: list -> report",
            "model.rs: model -> run",
            "report.rs: report -> generate",
        ]
    );
}
