//! The shape of the code (issue 17; CONTRIBUTING.md): no two modules of
//! `src/` import each other, and no function is longer than
//! [`MAX_FN_LINES`] lines unless it is listed in [`LONG_FNS`] with a reason.
//! Both checks read the source as text: `use` paths and `crate::`/`super::`
//! paths outside comments and test modules, and each `fn`'s lines from its
//! signature to its closing brace.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The longest a function may be, in lines (signature to closing brace).
const MAX_FN_LINES: usize = 100;

/// Functions allowed past [`MAX_FN_LINES`], as `file:function`, with why.
const LONG_FNS: &[(&str, &str)] = &[];

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Each module of `src/` (its path without `.rs`, `mod.rs` as its
/// directory), with its source outside comments and `#[cfg(test)]` modules.
fn modules() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&src).unwrap().with_extension("");
            let mut name = rel.to_string_lossy().replace('\\', "/");
            if let Some(dir) = name.strip_suffix("/mod") {
                name = dir.to_string();
            }
            let text = fs::read_to_string(&p).unwrap();
            // A test module in its own file (`mod tests;`) is all tests.
            if name.ends_with("/tests") {
                return (name, String::new());
            }
            let code = match text.find("#[cfg(test)]\nmod tests") {
                Some(i) => &text[..i],
                None => &text[..],
            };
            let code: Vec<&str> = code
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect();
            (name, code.join("\n"))
        })
        .collect()
}

/// The modules `code` (of module `me`) names by `crate::…` or `super::…`.
fn imports(me: &str, code: &str, all: &BTreeSet<String>) -> BTreeSet<String> {
    let parent = me.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    let mut out = BTreeSet::new();
    for (prefix, base) in [("crate::", ""), ("super::", parent)] {
        for (i, _) in code.match_indices(prefix) {
            let before = code[..i].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &code[i + prefix.len()..];
            let path: Vec<&str> = rest
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("")
                .split("::")
                .filter(|s| !s.is_empty())
                .collect();
            for k in (1..=path.len()).rev() {
                let mut cand = path[..k].join("/");
                if !base.is_empty() {
                    cand = format!("{base}/{cand}");
                }
                if all.contains(&cand) {
                    if cand != me {
                        out.insert(cand);
                    }
                    break;
                }
            }
        }
    }
    out
}

#[test]
fn no_two_modules_import_each_other() {
    let mods = modules();
    let names: BTreeSet<String> = mods.keys().cloned().collect();
    let graph: BTreeMap<&String, BTreeSet<String>> = mods
        .iter()
        .map(|(m, code)| (m, imports(m, code, &names)))
        .collect();
    let mut pairs = Vec::new();
    for (a, uses) in &graph {
        for b in uses {
            // A parent module declares its children and may name their
            // items; a child naming its parent (the layer's error type) is
            // the one direction that counts then.
            let nested = b.starts_with(&format!("{a}/")) || a.starts_with(&format!("{b}/"));
            if a.as_str() < b.as_str() && !nested && graph[b].contains(a.as_str()) {
                pairs.push(format!("{a} <-> {b}"));
            }
        }
    }
    assert!(
        pairs.is_empty(),
        "modules that import each other (move what both need below them):\n{}",
        pairs.join("\n")
    );
}

/// Every function's length in lines: (module, name, lines).
fn function_lengths() -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    for (m, code) in modules() {
        let lines: Vec<&str> = code.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let t = lines[i].trim_start();
            let sig = [
                "pub fn ",
                "pub(crate) fn ",
                "pub(super) fn ",
                "fn ",
                "async fn ",
                "pub async fn ",
                "const fn ",
                "pub const fn ",
            ]
            .iter()
            .find_map(|p| t.strip_prefix(p));
            let Some(rest) = sig else {
                i += 1;
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            // `nest`: brackets and parentheses of the signature, where a `;`
            // (`[u8; 32]`) does not end a declaration without a body.
            let (mut depth, mut nest, mut opened, mut j) = (0i64, 0i64, false, i);
            'scan: while j < lines.len() {
                for c in lines[j].chars() {
                    match c {
                        '{' => {
                            depth += 1;
                            opened = true;
                        }
                        '}' => depth -= 1,
                        '(' | '[' if !opened => nest += 1,
                        ')' | ']' if !opened => nest -= 1,
                        ';' if !opened && nest == 0 => break 'scan,
                        _ => {}
                    }
                }
                if opened && depth <= 0 {
                    break;
                }
                j += 1;
            }
            if opened {
                out.push((m.clone(), name, j - i + 1));
            }
            i += 1;
        }
    }
    out
}

#[test]
fn no_function_is_longer_than_the_limit_without_a_reason() {
    let listed: BTreeMap<&str, &str> = LONG_FNS.iter().copied().collect();
    let mut long = Vec::new();
    let mut seen = BTreeSet::new();
    for (m, name, n) in function_lengths() {
        let key = format!("{m}:{name}");
        if n > MAX_FN_LINES {
            if listed.contains_key(key.as_str()) {
                seen.insert(key);
            } else {
                long.push(format!("{key} ({n} lines)"));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines (split them along their steps, or list them in LONG_FNS with the reason):\n{}",
        long.join("\n")
    );
    let stale: Vec<&&str> = listed.keys().filter(|k| !seen.contains(**k)).collect();
    assert!(
        stale.is_empty(),
        "LONG_FNS lists functions that are short now or gone: {stale:?}"
    );
}

/// The layers (CONTRIBUTING.md): an import only runs down, `cli` → `store`
/// → `core`, and inside `store`, `ops` → `archive` → `files`.
#[test]
fn imports_only_run_down_the_layers() {
    let mods = modules();
    let names: BTreeSet<String> = mods.keys().cloned().collect();
    // (layer, the layers it may not import)
    let rules: &[(&str, &[&str])] = &[
        ("core", &["store", "cli"]),
        ("store", &["cli"]),
        ("store/files", &["store/archive", "store/ops"]),
        ("store/archive", &["store/ops"]),
    ];
    let mut wrong = Vec::new();
    for (m, code) in &mods {
        for (layer, above) in rules {
            if m != layer && !m.starts_with(&format!("{layer}/")) {
                continue;
            }
            for used in imports(m, code, &names) {
                if above
                    .iter()
                    .any(|a| used == *a || used.starts_with(&format!("{a}/")))
                {
                    wrong.push(format!("{m} imports {used}"));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that run up a layer:\n{}",
        wrong.join("\n")
    );
}
