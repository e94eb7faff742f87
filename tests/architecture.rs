//! The floor plan: the modules in layers, each using only layers below it, so that the imports
//! have no cycle (ARCHITECTURE.md draws it). The replica and what it is made of are a crate
//! of their own (`crates/replica`), so the compiler already keeps them from the layers above;
//! these tests keep the order within each crate too.
//! Read from the source text, as a reviewer would: every `crate::module` a file names outside
//! its comments and its tests, and `super::` in a module's own files.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The layers, bottom first. A module may use the modules of lower layers; within a layer,
/// only the pairs in [`SIDEWAYS`].
const LAYERS: &[&[&str]] = &[
    // The names everything uses.
    &["ids"],
    // Plain tools.
    &["error", "rng", "hash", "chunked", "queue"],
    // Causality and placement.
    &["clock", "ring"],
    // Values and the rules that choose between them.
    &["version", "crdt"],
    // One node: the sans-IO protocol.
    &["replica"],
    // The world around it and what watches it.
    &["network", "trace", "metrics"],
    &["settings", "writes"],
    // The simulation, then time travel over it.
    &["sim"],
    &["timeline"],
    &["lesson", "compare", "encode"],
    // The adapter to JavaScript.
    &["wasm"],
];

/// Uses within one layer: (user, used).
const SIDEWAYS: &[(&str, &str)] = &[("crdt", "version")];

/// What the replica may use: it must run without the simulation, its settings, its network
/// model and its observer.
const REPLICA_MAY_USE: &[&str] = &["ids", "rng", "hash", "clock", "ring", "version", "crdt"];

/// The source of every module file, of this crate (`src/`) and of the replica's
/// (`crates/replica/src/`), with its top-level module name (`replica` for
/// `crates/replica/src/replica/table.rs`) and its path from its crate's `src/`.
fn sources() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for src in [root.join("src"), root.join("crates/replica/src")] {
        let mut stack = vec![src.clone()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let rel = path
                    .strip_prefix(&src)
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                if rel == "lib.rs" || !rel.ends_with(".rs") {
                    continue;
                }
                let parts: Vec<&str> = rel.trim_end_matches(".rs").split('/').collect();
                let top = parts[0].to_string();
                out.push((top, rel.clone(), fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The code of a file without its comments and its test modules (a `#[cfg(...test...)]`
/// attribute followed by `mod`; tests may build what they check from any layer). A file that
/// is itself a test module (`tests.rs`) has no code here.
fn code(rel: &str, text: &str) -> String {
    code_with(rel, text, false)
}

/// The same, keeping the test modules if `tests`.
fn code_with(rel: &str, text: &str, tests: bool) -> String {
    if !tests && rel.ends_with("/tests.rs") {
        return String::new();
    }
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if !tests
            && t.starts_with("#[cfg(")
            && t.contains("test")
            && let Some(next) = lines.peek()
            && next.trim_start().starts_with("mod ")
        {
            if next.trim_end().ends_with(';') {
                lines.next();
                continue;
            }
            // Skip the module: to the line that closes it at its own indentation.
            let indent = line.len() - t.len();
            let close = format!("{}}}", " ".repeat(indent));
            for inner in lines.by_ref() {
                if inner.trim_end() == close {
                    break;
                }
            }
            continue;
        }
        let without = match t.find("//") {
            Some(0) => "",
            _ => line,
        };
        out.push_str(without);
        out.push('\n');
    }
    out
}

/// The top-level modules a piece of code names: `crate::x` and `use crate::{x, y::z}`.
fn uses(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The roots of a group: names at brace depth 0, before `::`, `,` or `}`.
            let mut depth = 0;
            let mut name = String::new();
            let mut root = true;
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        root = true;
                        name.clear();
                        continue;
                    }
                    ':' if depth == 0 && root => {
                        if !name.is_empty() {
                            found.insert(name.clone());
                        }
                        root = false;
                    }
                    c if depth == 0 && root && (c.is_alphanumeric() || c == '_') => name.push(c),
                    _ => {}
                }
            }
            if root && !name.is_empty() {
                found.insert(name);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.insert(name);
        }
    }
    found
}

/// Every top-level module's uses of other top-level modules, with the file that makes each.
fn graph() -> BTreeMap<String, BTreeMap<String, String>> {
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (top, rel, text) in sources() {
        let entry = graph.entry(top.clone()).or_default();
        for used in uses(&code(&rel, &text)) {
            if used != top {
                entry.entry(used).or_insert(rel.clone());
            }
        }
    }
    graph
}

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

#[test]
fn every_module_is_in_a_layer_and_uses_only_the_layers_below_it() {
    let graph = graph();
    let mut wrong = Vec::new();
    for (user, used) in &graph {
        let Some(at) = layer(user) else {
            wrong.push(format!("{user} is in no layer of tests/architecture.rs"));
            continue;
        };
        for (module, file) in used {
            match layer(module) {
                // Names at the crate's root that are not modules (a re-export would hide a
                // use): the layers below the simulation must name the module.
                None if module.chars().next().is_some_and(char::is_uppercase)
                    || module.starts_with("MAX_") =>
                {
                    if at < layer("sim").unwrap() {
                        wrong.push(format!("{file} names crate::{module}: name its module"));
                    }
                }
                None => wrong.push(format!("{file} uses crate::{module}, in no layer")),
                Some(l) if l < at => {}
                Some(l) if l == at && SIDEWAYS.contains(&(user.as_str(), module.as_str())) => {}
                Some(_) => wrong.push(format!(
                    "{file} ({user}) uses {module}, which is not below it"
                )),
            }
        }
    }
    for (user, used) in &graph {
        eprintln!(
            "{user} -> {}",
            used.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Its tests too: the replica is unit-tested without the simulation or its settings.
#[test]
fn the_replica_and_its_tests_use_nothing_of_the_simulation() {
    let mut forbidden = Vec::new();
    for (top, rel, text) in sources() {
        if top != "replica" {
            continue;
        }
        for module in uses(&code_with(&rel, &text, true)) {
            if module != "replica" && !REPLICA_MAY_USE.contains(&module.as_str()) {
                forbidden.push(format!("{rel} uses crate::{module}"));
            }
        }
    }
    assert!(forbidden.is_empty(), "{}", forbidden.join("\n"));
}

/// Within the replica: the request table holds any state, and knows nothing of the
/// coordinator that keeps its requests there.
#[test]
fn the_request_table_knows_nothing_of_the_coordinator() {
    let (_, rel, text) = sources()
        .into_iter()
        .find(|(_, rel, _)| rel == "replica/table.rs")
        .unwrap();
    let code = code(&rel, &text);
    assert!(!code.contains("coordinator"), "{rel} names the coordinator");
}

#[test]
fn the_reader_finds_uses_in_groups_and_paths_and_skips_comments_and_tests() {
    let found = uses("use crate::{a::B, c::{d, E}, F};\nlet x = crate::g::h();\n");
    let expected: BTreeSet<String> = ["a", "c", "F", "g"].map(String::from).into();
    assert_eq!(found, expected);
    let text = "use crate::a;\n/// see crate::b\n#[cfg(test)]\nmod tests {\n    use crate::c;\n}\n";
    let expected: BTreeSet<String> = ["a"].map(String::from).into();
    assert_eq!(uses(&code("x.rs", text)), expected);
}
