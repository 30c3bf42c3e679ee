//! The file import graph of one crate, for the tidy test that no two files of a crate import from each other,
//! directly or through a chain ("no import circle").
//!
//! A file imports another when it names an item through a path that leads into that file: `crate::a::b::Item`,
//! `super::Item`, `self::child::Item`, or `child::Item` for a module it declares. The longest prefix of the path
//! that is a module file is the file imported. A re-export (`pub use child::Item`) publishes an item, it does not
//! use it: it is not an import of the re-exporting file, and a path through it (`crate::Item`) leads to the file
//! that defines the item. Test modules (everything from the first `#[cfg(test)]`) and comments are left out: tests
//! may reach anywhere. Declaring a module (`mod child;`) is not an import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (from the crate root) → the file that defines it, for every `.rs` file under `src`.
fn module_files(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut files = Vec::new();
    super::rust_files(src, &mut files);
    let mut out = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        let mut segments: Vec<String> = rel
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        let last = segments.pop().unwrap();
        let stem = last.trim_end_matches(".rs");
        if !matches!(stem, "mod" | "lib" | "main") || !segments.is_empty() && stem != "mod" {
            segments.push(stem.to_string());
        }
        if segments.first().is_some_and(|s| s == "bin") {
            continue; // each binary is a crate of its own
        }
        out.insert(segments, file);
    }
    out
}

/// The code of `text` that is compiled outside tests, without comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One path named in a file, and whether it is a re-export (`pub use`).
struct Named {
    path: Vec<String>,
    reexport: bool,
}

/// Every path named in `code`: the paths of `use` items with their braces expanded (an `as` rename kept after an
/// `@` in the last segment), and the `a::b::c` paths of the rest of the code.
fn paths(code: &str) -> Vec<Named> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = find_use(rest) {
        let (before, from_use) = rest.split_at(at);
        let mut plain = Vec::new();
        plain_paths(before, &mut plain);
        let reexport = before
            .rsplit('\n')
            .next()
            .is_some_and(|line| line.trim_start().starts_with("pub"));
        out.extend(plain.into_iter().map(|path| Named {
            path,
            reexport: false,
        }));
        let end = from_use.find(';').unwrap_or(from_use.len());
        let tree: String = from_use[4..end]
            .replace(" as ", "@")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let mut expanded = Vec::new();
        expand(&tree, &mut Vec::new(), &mut expanded);
        out.extend(expanded.into_iter().map(|path| Named { path, reexport }));
        rest = &from_use[(end + 1).min(from_use.len())..];
    }
    let mut plain = Vec::new();
    plain_paths(rest, &mut plain);
    out.extend(plain.into_iter().map(|path| Named {
        path,
        reexport: false,
    }));
    out
}

/// Where the next `use ` item starts (at the start of a line, after an optional visibility).
fn find_use(code: &str) -> Option<usize> {
    let mut offset = 0;
    for line in code.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let item = trimmed
            .strip_prefix("pub(crate) ")
            .or_else(|| trimmed.strip_prefix("pub(super) "))
            .or_else(|| trimmed.strip_prefix("pub "))
            .unwrap_or(trimmed);
        if item.starts_with("use ") {
            return Some(offset + (line.len() - item.len()));
        }
        offset += line.len();
    }
    None
}

/// Expands a use tree (`a::{b, c::{d, e}}`) under `prefix`.
fn expand(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let Some(open) = tree.find('{') else {
        let mut path = prefix.clone();
        path.extend(
            tree.split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
        out.push(path);
        return;
    };
    let head: Vec<String> = tree[..open]
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let depth = prefix.len();
    prefix.extend(head);
    let mut level = 0;
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => level += 1,
            '}' => level -= 1,
            ',' if level == 0 => {
                expand(&inner[start..i], prefix, out);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < inner.len() {
        expand(&inner[start..], prefix, out);
    }
    prefix.truncate(depth);
}

/// The `x::y::z` paths in code that is not a `use` item.
fn plain_paths(code: &str, out: &mut Vec<Vec<String>>) {
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'))
            && (chars[i].is_alphabetic() || chars[i] == '_');
        if !starts_word {
            i += 1;
            continue;
        }
        let mut path = Vec::new();
        let mut j = i;
        loop {
            let start = j;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            path.push(chars[start..j].iter().collect::<String>());
            if chars.get(j) == Some(&':') && chars.get(j + 1) == Some(&':') {
                j += 2;
                if !chars.get(j).is_some_and(|c| c.is_alphabetic() || *c == '_') {
                    break;
                }
            } else {
                break;
            }
        }
        if path.len() > 1 {
            out.push(path);
        }
        i = j.max(i + 1);
    }
}

/// The modules `code` declares (`mod x;` or `mod x {`).
fn declared(code: &str) -> BTreeSet<String> {
    code.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l
                .strip_prefix("pub(crate) ")
                .or_else(|| l.strip_prefix("pub "))
                .unwrap_or(l);
            let name = l.strip_prefix("mod ")?;
            Some(name.trim_end_matches([';', '{', ' ']).trim().to_string())
        })
        .collect()
}

/// `path` (as named in the file of module `module`, which declares `children`) from the crate root, or `None` for
/// a path outside the crate.
fn absolute(
    path: &[String],
    module: &[String],
    children: &BTreeSet<String>,
) -> Option<Vec<String>> {
    let mut out = match path[0].as_str() {
        "crate" => Vec::new(),
        "super" => module[..module.len().saturating_sub(1)].to_vec(),
        "self" => module.to_vec(),
        first if children.contains(first) => {
            let mut m = module.to_vec();
            m.extend(path.iter().cloned());
            return Some(m);
        }
        _ => return None,
    };
    let mut rest = &path[1..];
    while rest.first().is_some_and(|s| s == "super") {
        out.pop();
        rest = &rest[1..];
    }
    out.extend(rest.iter().cloned());
    Some(out)
}

/// The file that defines what `path` (from the crate root) names, following re-exports.
fn resolve<'m>(
    path: &[String],
    modules: &'m BTreeMap<Vec<String>, PathBuf>,
    reexports: &BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>,
    depth: usize,
) -> Option<&'m PathBuf> {
    let path: Vec<String> = path
        .iter()
        .map(|s| s.split('@').next().unwrap().to_string())
        .collect();
    let n = (0..=path.len())
        .rev()
        .find(|n| modules.contains_key(&path[..*n]))?;
    let module = &path[..n];
    if let Some(target) = path
        .get(n)
        .and_then(|name| reexports.get(module)?.get(name))
        .filter(|_| depth < 8)
    {
        let mut through = target.clone();
        through.extend(path[n + 1..].iter().cloned());
        return resolve(&through, modules, reexports, depth + 1);
    }
    modules.get(module)
}

/// The files of the crate whose sources are under `src`, each with the files it imports.
pub fn graph(src: &Path) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let modules = module_files(src);
    let mut named = BTreeMap::new();
    let mut reexports: BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for (module, file) in &modules {
        let code = code(&std::fs::read_to_string(file).unwrap());
        let children = declared(&code);
        let mut uses = Vec::new();
        for n in paths(&code) {
            let Some(path) = absolute(&n.path, module, &children) else {
                continue;
            };
            if n.reexport {
                let last = path.last().unwrap();
                let name = last.rsplit('@').next().unwrap().to_string();
                if name != "*" && name != "self" {
                    reexports
                        .entry(module.clone())
                        .or_default()
                        .insert(name, path);
                }
            } else {
                uses.push(path);
            }
        }
        named.insert(module.clone(), uses);
    }
    let mut out = BTreeMap::new();
    for (module, file) in &modules {
        let imports = named[module]
            .iter()
            .filter_map(|path| resolve(path, &modules, &reexports, 0))
            .filter(|target| *target != file)
            .cloned()
            .collect();
        out.insert(file.clone(), imports);
    }
    out
}

/// The groups of files that import each other (strongly connected components of more than one file).
pub fn circles(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    let reaches = |from: &PathBuf| -> BTreeSet<PathBuf> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(f) = todo.pop() {
            for next in graph.get(&f).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&PathBuf, BTreeSet<PathBuf>> =
        graph.keys().map(|f| (f, reaches(f))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for f in graph.keys() {
        if done.contains(f) || !reach[f].contains(f) {
            continue;
        }
        let group: Vec<PathBuf> = graph
            .keys()
            .filter(|g| reach[f].contains(*g) && reach[*g].contains(f))
            .cloned()
            .collect();
        done.extend(group.iter().cloned());
        out.push(group);
    }
    out
}
