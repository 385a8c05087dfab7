//! Every line checked against the EMF specification, member by member: the root is one JSON
//! object; `_aws` holds only `Timestamp` (ms) and `CloudWatchMetrics`; each directive holds only
//! `Namespace`, `Dimensions` (sets of at most 30 keys) and `Metrics` (at most 100 {Name, Unit});
//! every dimension key is a string member of the root, every metric name a number member.

use serde_json::{Map, Value};

use super::super::fixtures::{at, report, table};
use super::super::ControlId;
use super::*;

/// The units CloudWatch accepts (a metric's `Unit` must be one of them).
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

fn keys(o: &Map<String, Value>) -> Vec<&str> {
    let mut k: Vec<&str> = o.keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

/// One line, validated; returns its dimension keys and metric names.
fn validate(line: &str, timestamp_ms: i64) -> (Vec<String>, Vec<String>) {
    assert!(!line.contains('\n'), "one log event per line: {line}");
    assert!(line.len() <= 256 * 1024, "a log event is at most 256 KB");
    let root: Value = serde_json::from_str(line).expect("the line is JSON");
    let root = root.as_object().expect("the root is an object");
    let aws = root["_aws"].as_object().expect("_aws is an object");
    assert_eq!(keys(aws), ["CloudWatchMetrics", "Timestamp"], "{line}");
    assert_eq!(aws["Timestamp"].as_i64(), Some(timestamp_ms), "{line}");
    let directives = aws["CloudWatchMetrics"].as_array().expect("an array");
    assert_eq!(directives.len(), 1, "{line}");
    let d = directives[0].as_object().expect("a MetricDirective object");
    assert_eq!(keys(d), ["Dimensions", "Metrics", "Namespace"], "{line}");
    assert_eq!(d["Namespace"].as_str(), Some(NAMESPACE));
    let mut dims = Vec::new();
    for set in d["Dimensions"].as_array().expect("an array of sets") {
        let set = set.as_array().expect("a DimensionSet is an array");
        assert!(set.len() <= MAX_DIMENSIONS, "{line}");
        for key in set {
            let key = key.as_str().expect("dimension keys are strings");
            let value = root[key].as_str().expect("a dimension is a string member");
            assert!(!value.trim().is_empty() && value.is_ascii() && value.len() <= 1024);
            dims.push(key.to_string());
        }
    }
    let definitions = d["Metrics"].as_array().expect("Metrics is an array");
    assert!((1..=MAX_METRICS).contains(&definitions.len()), "{line}");
    let mut names = Vec::new();
    for m in definitions {
        let m = m.as_object().expect("a MetricDefinition object");
        assert_eq!(keys(m), ["Name", "Unit"], "{line}");
        let name = m["Name"].as_str().expect("Name is a string");
        assert!((1..=255).contains(&name.len()));
        assert!(UNITS.contains(&m["Unit"].as_str().expect("Unit is a string")));
        assert!(
            root[name].is_u64(),
            "metric {name} is a number member: {line}"
        );
        names.push(name.to_string());
    }
    (dims, names)
}

fn find<'a>(lines: &'a [Value], key: &str, value: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l[key] == value)
        .unwrap_or_else(|| panic!("no line with {key}={value}"))
}

#[test]
fn every_line_is_a_valid_emf_document_with_the_report_counts() {
    let r = report(
        "2026-11-20T06:00:00.250Z",
        vec![
            table("orders", "111111111111", &[]),
            table(
                "users",
                "111111111111",
                &[(ControlId::RelayChainComplete, "no copy in bunker")],
            ),
            table(
                "carts",
                "444444444444",
                &[(ControlId::RelayPitrEnabled, "PITR is off")],
            ),
        ],
    );
    let ms = at("2026-11-20T06:00:00.250Z").timestamp_millis();
    let out = lines(&r);
    assert_eq!(out.len(), 1 + ControlId::ALL.len() + 2);
    let mut shapes = Vec::new();
    for l in &out {
        shapes.push(validate(l, ms));
    }
    assert_eq!(
        shapes[0],
        (
            vec![],
            ["Resources", "Compliant", "NonCompliant", "InventoryGaps"]
                .map(String::from)
                .to_vec()
        )
    );
    assert!(shapes[1..=17].iter().all(|(d, _)| d == &["Control"]));
    assert!(shapes[18..]
        .iter()
        .all(|(d, m)| d == &["Account"] && m == &["Compliant", "NonCompliant"]));

    let parsed: Vec<Value> = out
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let totals = &parsed[0];
    assert_eq!(
        (
            &totals["Resources"],
            &totals["Compliant"],
            &totals["NonCompliant"],
            &totals["InventoryGaps"]
        ),
        (
            &Value::from(3),
            &Value::from(1),
            &Value::from(2),
            &Value::from(0)
        )
    );
    let chain = find(&parsed, "Control", "RELAY_CHAIN_COMPLETE");
    assert_eq!(
        (&chain["Compliant"], &chain["NonCompliant"]),
        (&Value::from(2), &Value::from(1))
    );
    let a = find(&parsed, "Account", "111111111111");
    assert_eq!(
        (&a["Compliant"], &a["NonCompliant"]),
        (&Value::from(1), &Value::from(1))
    );
    let b = find(&parsed, "Account", "444444444444");
    assert_eq!(
        (&b["Compliant"], &b["NonCompliant"]),
        (&Value::from(0), &Value::from(1))
    );
}

#[test]
fn an_empty_report_still_reports_zero_totals_and_every_control() {
    let r = report("2026-11-20T06:00:00Z", vec![]);
    let out = lines(&r);
    assert_eq!(out.len(), 1 + ControlId::ALL.len());
    for l in &out {
        validate(l, r.generated_at.timestamp_millis());
    }
    let totals: Value = serde_json::from_str(&out[0]).unwrap();
    assert_eq!(totals["Resources"], 0);
}

#[test]
fn storage_is_one_line_per_vault_and_tier_in_bytes() {
    use crate::report_cost::{ReportCost, VaultMonth};
    let mut r = report(
        "2026-11-20T06:00:00Z",
        vec![table("orders", "111111111111", &[])],
    );
    let vault = "arn:aws:backup:eu-west-1:333333333333:backup-vault:bunker";
    r.cost = Some(ReportCost {
        currency: "USD".into(),
        prices_source: "test".into(),
        prices_as_of: "2026-11-01".into(),
        this_month: vec![VaultMonth {
            vault: "bunker".into(),
            vault_arn: vault.into(),
            account: "333333333333".into(),
            region: "eu-west-1".into(),
            warm_gb: 2.0,
            cold_gb: 0.5,
            monthly_cost: 0.21,
            warm_bytes: 2 << 30,
            cold_bytes: 1 << 29,
        }],
        by_account: Vec::new(),
        projection: Vec::new(),
    });
    let ms = at("2026-11-20T06:00:00Z").timestamp_millis();
    let out = lines(&r);
    let storage: Vec<Value> = out
        .iter()
        .filter(|l| validate(l, ms).0 == ["Vault", "Tier"])
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(storage.len(), 2);
    let bytes = |tier: &str| {
        storage
            .iter()
            .find(|d| d["Tier"] == tier && d["Vault"] == vault)
            .map(|d| d["StoredBytes"].as_u64())
    };
    assert_eq!(bytes("WARM"), Some(Some(2 << 30)));
    assert_eq!(bytes("COLD"), Some(Some(1 << 29)));
}
