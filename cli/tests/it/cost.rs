//! `relay cost`: the contract's JSON, the comparison with `--vs`, and unusable input (a bad prices
//! file, months out of range) refused with exit 2, a message naming the field, nothing on stdout.

use std::process::{Command, Output};

use serde_json::Value;

const RELAY: &str = env!("CARGO_BIN_EXE_relay");
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const POLICY: &str = "infra/examples/policy.yaml";
const WORLD: &str = "infra/examples/world.yaml";

const PRICES: &str = "currency: USD\nas_of: \"2026-11-01\"\nsource: test prices\n\
    default: { warm_gb_month: 0.10, cold_gb_month: 0.03, transfer_gb: 0.02 }\n\
    regions: { eu-west-1: { warm_gb_month: 0.11 } }\n";

fn relay(args: &[&str]) -> Output {
    Command::new(RELAY)
        .args(args)
        .current_dir(ROOT)
        .output()
        .unwrap()
}

fn temp_file(name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!("relay-cost-test-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().to_string()
}

fn json(o: &Output) -> Value {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Exit 2, nothing on stdout, and the message on stderr.
fn refused(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(o.stdout.is_empty());
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn cost_prints_the_contracts_json() {
    let p = json(&relay(&[
        "cost", "--policy", POLICY, "--world", WORLD, "--json",
    ]));
    assert_eq!(p["currency"], "USD");
    assert!(p["prices"]["source"]
        .as_str()
        .unwrap()
        .contains("aws.amazon.com/backup/pricing"));
    let months = p["months"].as_array().unwrap();
    assert_eq!(months.len(), 12);
    for key in [
        "month",
        "warm_gb",
        "cold_gb",
        "storage_cost",
        "transfer_cost",
        "total_cost",
    ] {
        assert!(months[11][key].is_number(), "{key}");
    }
    let vaults: Vec<&str> = p["by_vault"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["vault"].as_str().unwrap())
        .collect();
    assert_eq!(vaults, ["primary", "central", "dr", "bunker"]);
    assert_eq!(p["by_table"].as_array().unwrap().len(), 6);
    assert!(p["by_table"][0]["resource_arn"]
        .as_str()
        .unwrap()
        .ends_with("table/orders"));
    assert!(p["cold_tiering_advice"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["vault"] == "bunker"));
}

#[test]
fn cost_compares_two_policies() {
    let text = std::fs::read_to_string(format!("{ROOT}/{POLICY}")).unwrap();
    let fewer = temp_file(
        "fewer.yaml",
        &text.replace("  - { from: dr, to: bunker }\n", ""),
    );
    let o = relay(&[
        "cost", "--policy", POLICY, "--world", WORLD, "--vs", &fewer, "--months", "24", "--json",
    ]);
    let c = json(&o);
    assert_eq!(c["policy"]["months"].as_array().unwrap().len(), 24);
    assert!(
        c["difference"]["total_cost"].as_f64().unwrap() < 0.0,
        "{}",
        c["difference"]
    );
    let printed = relay(&["cost", "--policy", POLICY, "--world", WORLD, "--vs", &fewer]);
    let out = String::from_utf8_lossy(&printed.stdout);
    assert!(
        out.contains("The other policy (--vs):") && out.contains("Difference"),
        "{out}"
    );
    // Without a world file, the what-if runs on the tables generated for the first policy: a
    // narrower selection copies fewer of them (the generated tables are not re-tagged to fit it).
    let narrower = temp_file(
        "narrower.yaml",
        &text.replace("backup-tier: gold", "backup-tier: platinum"),
    );
    let c = json(&relay(&[
        "cost", "--policy", POLICY, "--vs", &narrower, "--json",
    ]));
    let (this, other) = (
        c["policy"]["months"][11]["total_cost"].as_f64().unwrap(),
        c["vs"]["months"][11]["total_cost"].as_f64().unwrap(),
    );
    assert!(other < this / 2.0, "{this} vs {other}");
}

#[test]
fn cost_reads_a_prices_file_and_prints_tables_without_json() {
    let prices = temp_file("prices.yaml", PRICES);
    let o = relay(&[
        "cost", "--policy", POLICY, "--world", WORLD, "--prices", &prices, "--months", "3",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("prices as of 2026-11-01: test prices"),
        "{out}"
    );
    assert!(
        out.contains("Month 3 by vault:") && out.contains("Cold tiering"),
        "{out}"
    );
}

#[test]
fn a_bad_prices_file_is_exit_2_naming_the_field() {
    let cases = [
        (
            "negative",
            PRICES.replace("cold_gb_month: 0.03", "cold_gb_month: -1"),
            "default.cold_gb_month: -1 is negative",
        ),
        (
            "text",
            PRICES.replace("warm_gb_month: 0.11", "warm_gb_month: cheap"),
            "regions.eu-west-1.warm_gb_month",
        ),
        (
            "missing",
            PRICES.replace(", transfer_gb: 0.02", ""),
            "missing field `transfer_gb`",
        ),
        (
            "unknown",
            PRICES.replace("source: test prices", "source: test prices\nvat: 0.2"),
            "unknown field `vat`",
        ),
    ];
    for (name, text, message) in cases {
        let path = temp_file(&format!("{name}.yaml"), &text);
        let err = refused(&relay(&["cost", "--policy", POLICY, "--prices", &path]));
        assert!(err.contains(message), "{name}: {err}");
    }
    let big = temp_file("big.yaml", &format!("{PRICES}#{}\n", "x".repeat(1_048_576)));
    let err = refused(&relay(&["cost", "--policy", POLICY, "--prices", &big]));
    assert!(err.contains("over the 1048576-byte (1 MB) limit"), "{err}");
}

#[test]
fn months_outside_1_to_1200_and_a_missing_policy_are_exit_2() {
    for months in ["0", "1201", "-3", "twelve"] {
        refused(&relay(&["cost", "--policy", POLICY, "--months", months]));
    }
    refused(&relay(&["cost", "--world", WORLD]));
    let err = refused(&relay(&["cost", "--policy", "no/such/policy.yaml"]));
    assert!(err.contains("cannot read no/such/policy.yaml"), "{err}");
    let p = json(&relay(&[
        "cost", "--policy", POLICY, "--months", "1200", "--json",
    ]));
    assert_eq!(p["months"].as_array().unwrap().len(), 1200);
}
