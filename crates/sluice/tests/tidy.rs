//! Tidy checks of the whole workspace, in the style of rust-analyzer's tidy test: the crate dependency rules of
//! `docs/ARCHITECTURE.md` hold in the `Cargo.toml` files, every `.rs` file opens with `//!`, a file under `src/`
//! longer than 600 lines says why at its top, every crate root says what the crate must not depend on, and no
//! files of a crate import from each other in a circle.

#[path = "tidy/imports.rs"]
mod imports;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn crates() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(workspace().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    out.sort();
    out
}

/// The names of a crate's normal dependencies (the `[dependencies]` table of its `Cargo.toml`).
fn dependencies(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[dependencies]";
            continue;
        }
        if inside && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.', ' ']).next().unwrap().trim();
            out.push(name.to_string());
        }
    }
    out
}

/// The rules table of `docs/ARCHITECTURE.md`: crate → (may use, must not use).
fn rules() -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let doc = std::fs::read_to_string(workspace().join("docs/ARCHITECTURE.md")).unwrap();
    let ticked = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    let mut out = BTreeMap::new();
    for line in doc.lines().filter(|l| l.starts_with("| `sluice")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = ticked(cells[1]).remove(0);
        out.insert(name, (ticked(cells[2]), ticked(cells[3])));
    }
    out
}

#[test]
fn crate_dependencies_follow_the_architecture_table() {
    let rules = rules();
    let crates = crates();
    assert_eq!(
        rules.len(),
        crates.len(),
        "one row per crate in docs/ARCHITECTURE.md: {rules:?}"
    );
    for dir in crates {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let (may, must_not) = rules.get(&name).unwrap_or_else(|| {
            panic!("{name} has no row in the dependency rules of docs/ARCHITECTURE.md")
        });
        for dep in dependencies(&dir.join("Cargo.toml")) {
            if dep.starts_with("sluice") {
                assert!(
                    may.contains(&dep),
                    "{name} depends on {dep}, which docs/ARCHITECTURE.md does not allow"
                );
            }
            assert!(
                !must_not.contains(&dep),
                "{name} must not depend on {dep} (docs/ARCHITECTURE.md)"
            );
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_file_says_what_it_is_and_long_files_say_why() {
    let mut files = Vec::new();
    for dir in crates() {
        rust_files(&dir, &mut files);
    }
    assert!(files.len() > 100, "found only {} files", files.len());
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let shown = file
            .strip_prefix(workspace())
            .unwrap_or(file)
            .display()
            .to_string();
        if !text.starts_with("//!") {
            problems.push(format!("{shown}: does not open with a //! comment"));
        }
        let in_src = file.components().any(|c| c.as_os_str() == "src");
        let header: Vec<&str> = text.lines().take_while(|l| l.starts_with("//!")).collect();
        if in_src
            && text.lines().count() > MAX_LINES
            && !header
                .iter()
                .any(|l| l.starts_with("//! Longer than 600 lines"))
        {
            problems.push(format!(
                "{shown}: {} lines; split it or say why at its top (`//! Longer than 600 lines ...`)",
                text.lines().count()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_crate_root_says_what_it_must_not_depend_on() {
    for dir in crates() {
        let root = ["src/lib.rs", "src/main.rs"]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.exists())
            .unwrap();
        let text = std::fs::read_to_string(&root).unwrap();
        let header: String = text
            .lines()
            .take_while(|l| l.starts_with("//!") || l.starts_with("#!"))
            .collect::<Vec<_>>()
            .join(" ")
            .replace("//!", "");
        let header = header.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            header.contains("must not depend on"),
            "{}: its header does not say what the crate must not depend on",
            root.display()
        );
    }
}

#[test]
fn no_files_of_a_crate_import_each_other_in_a_circle() {
    let mut problems = Vec::new();
    let mut files = 0;
    for dir in crates() {
        let graph = imports::graph(&dir.join("src"));
        files += graph.len();
        for circle in imports::circles(&graph) {
            let shown: Vec<String> = circle
                .iter()
                .map(|f| f.strip_prefix(&dir).unwrap_or(f).display().to_string())
                .collect();
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            problems.push(format!("{name}: {}", shown.join(" <-> ")));
        }
    }
    assert!(files > 100, "found only {files} files");
    assert!(
        problems.is_empty(),
        "files that import each other (move what they share into a lower file):\n{}",
        problems.join("\n")
    );
}

/// The check itself: a circle through a re-export and one through `crate::` paths are found; a re-export alone and
/// a one-way import are not circles.
#[test]
fn the_import_check_finds_circles() {
    let dir = std::env::temp_dir().join(format!("sluice-tidy-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("a")).unwrap();
    let write = |f: &str, text: &str| std::fs::write(src.join(f), text).unwrap();
    write("lib.rs", "//! x\nmod a;\nmod b;\nmod c;\npub use a::A;\n");
    write("d.rs", "//! x\npub use crate::b::B;\n");
    write("e.rs", "//! x\nuse crate::d::B;\n");
    write(
        "a/mod.rs",
        "//! x\nmod child;\npub use child::C;\npub struct A;\npub fn c() -> child::C { child::C }\n",
    );
    write("a/child.rs", "//! x\nuse crate::A;\npub struct C;\n");
    write("a/other.rs", "//! x\nuse super::child::C;\n");
    write(
        "b.rs",
        "//! x\nuse crate::{a::A, c::{self as see}};\npub struct B;\n",
    );
    write(
        "c.rs",
        "//! x\npub fn f() -> crate::b::B { crate::b::B }\n// crate::a::A in a comment\n",
    );
    let graph = imports::graph(&src);
    let mut circles: Vec<Vec<String>> = imports::circles(&graph)
        .into_iter()
        .map(|c| {
            c.iter()
                .map(|f| f.strip_prefix(&src).unwrap().display().to_string())
                .collect()
        })
        .collect();
    circles.sort();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        circles,
        vec![
            vec!["a/child.rs".to_string(), "a/mod.rs".to_string()],
            vec!["b.rs".to_string(), "c.rs".to_string()],
        ]
    );
}
