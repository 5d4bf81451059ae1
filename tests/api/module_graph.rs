//! The shape of the library, checked: no import cycle between the top-level modules of
//! `src/` (an edge A → B is a file of A naming `crate::B`), and the voice code never speaks
//! the signalling protocol or handles join tokens (it joins rooms through the rooms layer);
//! and every configuration key is documented in the README.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its `//` comments (doc links are not imports).
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .expect("read a source file")
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Top-level module names used after `crate::` (also inside `crate::{a, b::c}`).
fn named_modules(code: &str, tops: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or("");
            group.split(',').collect()
        } else {
            vec![rest]
        };
        for n in names {
            let n: String = n
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if tops.contains(&n) {
                out.insert(n);
            }
        }
    }
    out
}

#[test]
fn no_import_cycle_between_top_level_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    // The library's top-level modules (main.rs and the binary-only `dev` are not the library).
    let tops: BTreeSet<String> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .map(|e| {
            e.file_name()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .filter(|n| !["lib", "main", "dev"].contains(&n.as_str()))
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for top in &tops {
        let mut files = Vec::new();
        let dir = src.join(top);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        } else {
            files.push(src.join(format!("{top}.rs")));
        }
        for f in files {
            for to in named_modules(&code(&f), &tops) {
                if &to != top {
                    edges.entry(top.clone()).or_default().insert(to);
                }
            }
        }
    }
    let reaches = |from: &str, target: &str| {
        let (mut seen, mut stack) = (BTreeSet::new(), vec![from.to_string()]);
        while let Some(x) = stack.pop() {
            for y in edges.get(&x).into_iter().flatten() {
                if y == target {
                    return true;
                }
                if seen.insert(y.clone()) {
                    stack.push(y.clone());
                }
            }
        }
        false
    };
    let cyclic: Vec<String> = edges
        .iter()
        .flat_map(|(a, bs)| bs.iter().map(move |b| (a, b)))
        .filter(|(a, b)| reaches(b, a))
        .map(|(a, b)| format!("{a} -> {b}"))
        .collect();
    assert!(cyclic.is_empty(), "edges on an import cycle: {cyclic:?}");
    assert!(
        edges.get("sfu").is_none_or(|e| e.is_empty()),
        "the SFU core imports nothing of the crate: {:?}",
        edges.get("sfu")
    );
}

#[test]
fn the_voice_code_neither_speaks_the_signalling_protocol_nor_handles_join_tokens() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/voice"),
        &mut files,
    );
    for f in files {
        let c = code(&f);
        for banned in [
            "crate::signal",
            "signal::protocol",
            "join_token",
            "JoinClaims",
        ] {
            assert!(!c.contains(banned), "{} names {banned}", f.display());
        }
    }
}

/// Every configuration key has a row in the README's configuration table.
#[test]
fn every_configuration_key_is_documented_in_the_readme() {
    fn keys(prefix: &str, t: &toml::Table, out: &mut Vec<String>) {
        for (k, v) in t {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(inner) => keys(&key, inner, out),
                _ => out.push(key),
            }
        }
    }
    let toml::Value::Table(defaults) = toml::Value::try_from(parlor::config::Config::default())
        .expect("the default configuration serialises")
    else {
        panic!("the configuration is a table");
    };
    let mut all = Vec::new();
    keys("", &defaults, &mut all);
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let missing: Vec<&String> = all
        .iter()
        .filter(|k| !readme.contains(&format!("| `{k}` |")))
        .collect();
    assert!(missing.is_empty(), "not in the README's table: {missing:?}");
}
