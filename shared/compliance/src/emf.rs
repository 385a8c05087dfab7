//! The report's counts as CloudWatch metrics, in the embedded metric format (EMF): JSON log
//! lines that CloudWatch Logs turns into metrics, so a Lambda function needs no PutMetricData
//! permission and no extra call. One line per dimension value (a line holds one value per
//! dimension): the totals, each control, each account.

use serde_json::{json, Map, Value};

use super::{ControlCounts, Report};

pub const NAMESPACE: &str = "BackupRelay/Compliance";
/// EMF's limits: metrics per directive and dimension keys per dimension set.
pub const MAX_METRICS: usize = 100;
pub const MAX_DIMENSIONS: usize = 30;

/// The EMF lines of a report, timestamped with its generation time.
pub fn lines(report: &Report) -> Vec<String> {
    let at = report.generated_at.timestamp_millis();
    let s = &report.summary;
    let totals = [
        ("Resources", s.resources),
        ("Compliant", s.compliant),
        ("NonCompliant", s.non_compliant),
        ("InventoryGaps", report.gaps.len() as u64),
    ];
    let mut out = vec![line(at, None, &totals)];
    for (control, c) in &s.controls {
        let metrics = [
            ("Compliant", c.compliant),
            ("NonCompliant", c.non_compliant),
            ("NotApplicable", c.not_applicable),
        ];
        out.push(line(at, Some(("Control", control)), &metrics));
    }
    for (account, c) in &s.accounts {
        out.push(line(at, Some(("Account", account)), &tables(c)));
    }
    out.extend(storage(report, at));
    out
}

/// Storage per vault and tier (issue: cost where people look): one line per vault and tier,
/// the bytes its recovery points hold, so a dashboard graphs growth without reading reports.
fn storage(report: &Report, at_ms: i64) -> Vec<String> {
    let Some(cost) = &report.cost else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for v in &cost.this_month {
        for (tier, bytes) in [("WARM", v.warm_bytes), ("COLD", v.cold_bytes)] {
            let definitions = [json!({"Name": "StoredBytes", "Unit": "Bytes"})];
            let doc = json!({
                "_aws": {
                    "Timestamp": at_ms,
                    "CloudWatchMetrics": [{"Namespace": NAMESPACE,
                        "Dimensions": [["Vault", "Tier"]], "Metrics": definitions}],
                },
                "Vault": v.vault_arn,
                "Tier": tier,
                "StoredBytes": bytes,
            });
            out.push(doc.to_string());
        }
    }
    out
}

/// An account's tables: each is compliant or not (not-applicable controls do not count).
fn tables(c: &ControlCounts) -> [(&'static str, u64); 2] {
    [
        ("Compliant", c.compliant),
        ("NonCompliant", c.non_compliant),
    ]
}

/// One EMF document: `_aws` metadata, the dimension value and the metric values as members.
fn line(at_ms: i64, dimension: Option<(&str, &str)>, metrics: &[(&str, u64)]) -> String {
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
        .collect();
    // An empty dimension set publishes the metric with no dimensions (the totals).
    let keys: Vec<&str> = dimension.iter().map(|(k, _)| *k).collect();
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": at_ms,
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [keys], "Metrics": definitions}],
        }),
    );
    if let Some((key, value)) = dimension {
        doc.insert(key.into(), Value::from(value));
    }
    for (name, value) in metrics {
        doc.insert((*name).into(), Value::from(*value));
    }
    Value::Object(doc).to_string()
}

#[cfg(test)]
mod tests;
