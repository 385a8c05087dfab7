//! The report's renderings: JSON (the contract), CSV (Audit Manager's columns), HTML (one
//! self-contained page) and the terminal summary. All from the same [`Report`].

use std::fmt::Write as _;

use super::{ControlId, Report, Status};

mod html;
pub use html::html;

/// `report.json`, pretty-printed.
pub fn json(report: &Report) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report)
}

/// The CSV columns, as auditors know them from Audit Manager's reports.
pub const CSV_HEADERS: [&str; 9] = [
    "Account Id",
    "Region",
    "Resource ARN",
    "Resource Name",
    "Control Name",
    "Compliance Status",
    "Reason",
    "Evidence",
    "Last Evaluation Time",
];

/// `report.csv`: one row per table and control; evidence items joined by `; `.
pub fn csv(report: &Report) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_HEADERS)?;
    let evaluated = report
        .generated_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for r in &report.resources {
        for c in &r.controls {
            let evidence: Vec<String> = c.evidence.iter().map(evidence_text).collect();
            let evidence = evidence.join("; ");
            let row = [
                r.account.as_str(),
                r.region.as_str(),
                r.resource_arn.as_str(),
                r.name.as_str(),
                c.id.as_str(),
                c.status.as_str(),
                c.reason.as_str(),
                evidence.as_str(),
                evaluated.as_str(),
            ];
            w.write_record(row.map(inert_cell).iter().map(|c| c.as_bytes()))?;
        }
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    // Every cell was a str, so this takes the buffer without copying it.
    Ok(String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// A cell a spreadsheet will not run as a formula: one that starts with `=`, `+`, `-`, `@`, a
/// tab or a carriage return (table names and tags are anyone's to choose) gets a leading `'`,
/// as OWASP advises for CSV injection.
pub fn inert_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// One evidence item in words: what it shows, then its fields.
pub fn evidence_text(e: &super::Evidence) -> String {
    let mut parts = Vec::new();
    if let Some(d) = &e.detail {
        parts.push(d.clone());
    }
    if let Some(rp) = &e.recovery_point_arn {
        parts.push(rp.clone());
    }
    if let Some(v) = &e.vault {
        parts.push(format!("vault {v}"));
    }
    if let Some(c) = e.creation_date {
        parts.push(format!(
            "created {}",
            c.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    if let Some(d) = e.delete_at {
        parts.push(format!(
            "deleted at {}",
            d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    parts.join(", ")
}

/// The terminal summary: the verdict, per control compliant / non-compliant / not applicable,
/// then the non-compliant tables with their reasons (at most `max_tables`).
pub fn summary(report: &Report, max_tables: usize) -> String {
    let s = &report.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Compliance: {} of {} tables compliant, {} non-compliant.",
        s.compliant, s.resources, s.non_compliant
    );
    let _ = writeln!(
        out,
        "{:<50} {:>9} {:>13} {:>14}",
        "control", "compliant", "non-compliant", "not applicable"
    );
    for id in ControlId::ALL {
        let c = s.controls.get(id.as_str()).copied().unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<50} {:>9} {:>13} {:>14}",
            id.as_str(),
            c.compliant,
            c.non_compliant,
            c.not_applicable
        );
    }
    let bad: Vec<_> = report
        .resources
        .iter()
        .filter(|r| r.status == Status::NonCompliant)
        .collect();
    if !bad.is_empty() {
        let _ = writeln!(out, "Non-compliant tables:");
    }
    for r in bad.iter().take(max_tables) {
        let _ = writeln!(out, "  {} ({}/{}):", r.name, r.account, r.region);
        for f in r.failures() {
            let _ = writeln!(out, "    - {f}");
        }
    }
    if bad.len() > max_tables {
        let _ = writeln!(
            out,
            "  ... and {} more (see the report files)",
            bad.len() - max_tables
        );
    }
    for g in &report.gaps {
        let _ = writeln!(
            out,
            "Not inventoried: {} in {}/{}: {}",
            g.what, g.account, g.region, g.error
        );
    }
    out
}
