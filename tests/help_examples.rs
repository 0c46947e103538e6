//! Every command's `--help` shows an example (README: "every command's
//! `--help` has examples"), subcommands of `actor`, `witness`, `trust` and
//! `config` included.

mod common;

use common::*;

/// The subcommands `custody [PARENT] --help` lists (its "Commands:" block).
fn commands(parent: &[&str]) -> Vec<String> {
    let mut c = custody();
    c.args(parent).arg("--help");
    let out = run(c).ok().stdout.clone();
    let mut names = Vec::new();
    let mut inside = false;
    for line in out.lines() {
        if line.starts_with("Commands:") {
            inside = true;
            continue;
        }
        if inside && !line.starts_with(' ') && !line.is_empty() {
            break;
        }
        // "  name   description": a name line starts with exactly two spaces.
        if let Some(rest) = line.strip_prefix("  ") {
            let name = rest.split_whitespace().next().unwrap_or("");
            if inside && !rest.starts_with(' ') && name != "help" && !name.is_empty() {
                names.push(name.to_string());
            }
        }
    }
    names
}

#[test]
fn every_command_help_has_an_example() {
    let top = commands(&[]);
    assert!(top.len() > 30, "parsed {top:?}");
    let mut missing = Vec::new();
    let mut checked = 0;
    for name in &top {
        let mut paths = vec![vec![name.clone()]];
        for sub in commands(&[name]) {
            paths.push(vec![name.clone(), sub]);
        }
        for p in paths {
            let mut c = custody();
            c.args(&p).arg("--help");
            let r = run(c);
            r.ok();
            checked += 1;
            if !r.stdout.contains("Example") {
                missing.push(p.join(" "));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "no example in --help of: {missing:?} ({checked} checked)"
    );
}
