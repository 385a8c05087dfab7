//! The layout docs/architecture.md draws: each crate's relay dependencies are the ones its table
//! allows, and the core crates link no AWS SDK.

use std::collections::BTreeSet;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// (manifest, the relay crates it may depend on), as docs/architecture.md's table says.
const ALLOWED: &[(&str, &[&str])] = &[
    ("shared/core", &[]),
    ("shared/chain", &["relay-core"]),
    ("shared/compliance", &["relay-core"]),
    (
        "shared/restore",
        &["relay-core", "relay-chain", "relay-compliance"],
    ),
    ("shared/doctor", &["relay-core", "relay-compliance"]),
    (
        "shared/aws",
        &["relay-core", "relay-compliance", "relay-restore"],
    ),
    (
        "shared/sim",
        &[
            "relay-core",
            "relay-chain",
            "relay-compliance",
            "relay-restore",
            "relay-doctor",
        ],
    ),
    (
        "shared/lambda",
        &[
            "relay-core",
            "relay-chain",
            "relay-compliance",
            "relay-restore",
            "relay-aws",
        ],
    ),
];

const NO_SDK: &[&str] = &[
    "shared/core",
    "shared/chain",
    "shared/compliance",
    "shared/restore",
    "shared/doctor",
    "shared/sim",
];

/// The names under `[dependencies]` (not dev- or build-dependencies) of a manifest.
fn dependencies(crate_dir: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(format!("{ROOT}/{crate_dir}/Cargo.toml")).unwrap();
    let mut inside = false;
    let mut out = BTreeSet::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[dependencies]";
        } else if inside && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['.', '=', ' ']).next().unwrap_or_default();
            out.insert(name.to_string());
        }
    }
    out
}

#[test]
fn each_crate_depends_only_on_the_crates_below_it() {
    for (dir, allowed) in ALLOWED {
        let relay: BTreeSet<String> = dependencies(dir)
            .into_iter()
            .filter(|d| d.starts_with("relay-"))
            .collect();
        let extra: Vec<&String> = relay
            .iter()
            .filter(|d| !allowed.contains(&d.as_str()))
            .collect();
        assert!(
            extra.is_empty(),
            "{dir} depends on {extra:?}, which docs/architecture.md does not allow"
        );
    }
}

#[test]
fn the_core_crates_link_no_aws_sdk() {
    for dir in NO_SDK {
        let sdk: Vec<String> = dependencies(dir)
            .into_iter()
            .filter(|d| d.starts_with("aws-") || d == "lambda_runtime")
            .collect();
        assert!(sdk.is_empty(), "{dir} depends on {sdk:?}");
    }
}

#[test]
fn the_manifest_reader_sees_what_is_there() {
    // The check above must not pass by reading nothing.
    let lambda = dependencies("shared/lambda");
    assert!(
        lambda.contains("relay-aws") && lambda.contains("aws-sdk-dynamodb"),
        "{lambda:?}"
    );
}

/// Rust files under `dir`, recursively.
fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn a_library_built_without_unit_tests_holds_none() {
    // `test = false` saves CI a binary linking the SDK; a unit test added there would never run.
    let mut checked = 0;
    let mut dirs: Vec<String> = ALLOWED.iter().map(|(d, _)| d.to_string()).collect();
    dirs.extend(["cli".to_string(), "tests".to_string()]);
    for f in std::fs::read_dir(format!("{ROOT}/functions"))
        .unwrap()
        .flatten()
    {
        dirs.push(format!("functions/{}", f.file_name().to_string_lossy()));
    }
    for dir in &dirs {
        let manifest = std::fs::read_to_string(format!("{ROOT}/{dir}/Cargo.toml")).unwrap();
        let lib = manifest.split("[lib]").nth(1).unwrap_or_default();
        let lib = lib.split("\n[").next().unwrap_or_default();
        if !lib.lines().any(|l| l.trim() == "test = false") {
            continue;
        }
        checked += 1;
        let mut files = Vec::new();
        rust_files(
            std::path::Path::new(&format!("{ROOT}/{dir}/src")),
            &mut files,
        );
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(
                !text.contains("#[cfg(test)]"),
                "{} has unit tests that never run",
                f.display()
            );
        }
    }
    assert!(checked >= 4, "the manifests' `test = false` not seen");
}
