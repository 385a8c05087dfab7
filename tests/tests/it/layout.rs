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
