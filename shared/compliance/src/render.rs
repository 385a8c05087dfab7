//! The report's renderings: JSON (the contract), CSV (Audit Manager's columns), HTML (one
//! self-contained page) and the terminal summary. All from the same [`Report`].

use std::fmt::Write as _;

use super::tables::{SpoolError, Tables};
use super::{ControlId, Report, Status};

mod html;
pub use html::html;

/// What a rendering can fail on (in practice never: every value is plain data).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot render JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot render CSV: {0}")]
    Csv(#[from] csv::Error),
    /// The tables could not be read back from the merge's spool.
    #[error(transparent)]
    Tables(#[from] SpoolError),
}

/// A piece of a rendering: joined in order, the pieces are the whole file.
pub type Chunk = Result<String, RenderError>;

/// `report.json`, pretty-printed.
pub fn json(report: &Report) -> Result<String, RenderError> {
    let mut out = String::new();
    for chunk in json_chunks(report)? {
        out.push_str(&chunk?);
    }
    Ok(out)
}

/// `report.json` in pieces: the report without its tables (pretty-printed, cut where the tables
/// go), then each table as `serde_json::to_string_pretty` prints it inside the report. The
/// merge writes them as they come, so it never holds the file.
pub fn json_chunks(report: &Report) -> Result<impl Iterator<Item = Chunk> + '_, serde_json::Error> {
    json_chunks_in(report, Tables::Listed(&report.resources))
}

/// [`json_chunks`] of `frame` (a report whose own tables are not read) with `tables`.
pub fn json_chunks_in<'a>(
    frame: &Report,
    tables: Tables<'a>,
) -> Result<impl Iterator<Item = Chunk> + 'a, serde_json::Error> {
    const TABLES: &str = "\n  \"resources\": []";
    let frame = Report {
        schema: frame.schema.clone(),
        generated_at: frame.generated_at,
        policy_digest: frame.policy_digest.clone(),
        parameters: frame.parameters.clone(),
        summary: frame.summary.clone(),
        resources: Vec::new(),
        gaps: frame.gaps.clone(),
        cost: frame.cost.clone(),
    };
    let text = serde_json::to_string_pretty(&frame)?;
    let (before, after) = match text.find(TABLES) {
        _ if tables.is_empty() => (text, String::new()),
        Some(at) => {
            let (before, after) = text.split_at(at + TABLES.len() - 1);
            (format!("{before}\n"), format!("\n  {after}"))
        }
        // Never a report.json without its tables in the locked bucket.
        None => {
            use serde::ser::Error as _;
            return Err(serde_json::Error::custom(
                "the report's tables have no place in its frame",
            ));
        }
    };
    let tables = tables.iter().enumerate().map(|(i, r)| {
        let item = serde_json::to_string_pretty(&r?)?;
        let mut out = String::with_capacity(item.len() + item.len() / 8);
        if i > 0 {
            out.push_str(",\n");
        }
        for (n, line) in item.lines().enumerate() {
            if n > 0 {
                out.push('\n');
            }
            out.push_str("    ");
            out.push_str(line);
        }
        Ok(out)
    });
    Ok(std::iter::once(Ok(before))
        .chain(tables)
        .chain(std::iter::once(Ok(after)).filter(|a| a.as_ref().is_ok_and(|a| !a.is_empty()))))
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
pub fn csv(report: &Report) -> Result<String, RenderError> {
    let mut out = String::new();
    for chunk in csv_chunks(report) {
        out.push_str(&chunk?);
    }
    Ok(out)
}

/// `report.csv` in pieces: the header, then each table's rows.
pub fn csv_chunks(report: &Report) -> impl Iterator<Item = Chunk> + '_ {
    csv_chunks_in(report.generated_at, Tables::Listed(&report.resources))
}

/// [`csv_chunks`] of a report's tables wherever they are, evaluated at `generated_at`.
pub fn csv_chunks_in(
    generated_at: chrono::DateTime<chrono::Utc>,
    tables: Tables<'_>,
) -> impl Iterator<Item = Chunk> + '_ {
    let evaluated = generated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let header = csv_text(|w| w.write_record(CSV_HEADERS)).map_err(RenderError::from);
    let rows = tables.iter().map(move |r| {
        let r = r?;
        let text = csv_text(|w| {
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
            Ok(())
        })?;
        Ok(text)
    });
    std::iter::once(header).chain(rows)
}

/// Records written by `write`, as text.
fn csv_text(
    write: impl FnOnce(&mut csv::Writer<Vec<u8>>) -> Result<(), csv::Error>,
) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    write(&mut w)?;
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    // Every cell was a str, so this takes the buffer without copying it.
    Ok(String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// [`findings`](crate::findings::findings) as compact JSON, joined from [`findings_chunks`] (which the merge writes as they
/// come, a table's findings at a time).
pub fn findings_json(report: &Report) -> Result<String, RenderError> {
    let mut out = String::new();
    for chunk in findings_chunks(report) {
        out.push_str(&chunk?);
    }
    Ok(out)
}

/// The same in pieces: `[`, each table's findings, `]`.
pub fn findings_chunks(report: &Report) -> impl Iterator<Item = Result<String, RenderError>> + '_ {
    findings_chunks_in(report.generated_at, Tables::Listed(&report.resources))
}

/// [`findings_chunks`] of a report's tables wherever they are.
pub fn findings_chunks_in(
    at: chrono::DateTime<chrono::Utc>,
    tables: Tables<'_>,
) -> impl Iterator<Item = Result<String, RenderError>> + '_ {
    let mut first = true;
    let tables = tables.iter().map(move |r| {
        let r = r?;
        let mut out = String::new();
        for f in crate::findings::table_findings(&r, at) {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&serde_json::to_string(&f)?);
        }
        Ok(out)
    });
    std::iter::once(Ok("[".to_string()))
        .chain(tables)
        .chain(std::iter::once(Ok("]".to_string())))
}

/// A rendering of a merged report in pieces, its tables read from the spool ([`chunks`]); the
/// verdicts say which tables are non-compliant, so the HTML's cards read only those.
pub fn merged_chunks(
    report: &crate::tables::MergedReport,
    file: crate::ReportFile,
) -> Option<Chunks<'_>> {
    chunks_in(
        &report.frame,
        (report.tables(), report.non_compliant()),
        file,
    )
}

/// A rendering in pieces, in order.
pub type Chunks<'a> = Box<dyn Iterator<Item = Chunk> + Send + 'a>;

/// A rendering of the report in pieces; `None` for the verdicts, which are not a rendering of
/// the report alone (they keep how the findings' import went) and are written whole.
pub fn chunks(report: &Report, file: crate::ReportFile) -> Option<Chunks<'_>> {
    let non_compliant =
        crate::tables::positions_of_non_compliant(report.resources.iter().map(|r| r.status));
    chunks_in(
        report,
        (Tables::Listed(&report.resources), non_compliant),
        file,
    )
}

/// [`chunks`] of `frame` (a report whose own tables are not read) with `tables` and the
/// positions of its non-compliant ones (from the verdicts: the HTML's cards read only those).
pub fn chunks_in<'a>(
    frame: &'a Report,
    (tables, non_compliant): (Tables<'a>, Vec<usize>),
    file: crate::ReportFile,
) -> Option<Chunks<'a>> {
    use crate::ReportFile;
    Some(match file {
        ReportFile::Json => match json_chunks_in(frame, tables) {
            Ok(c) => Box::new(c),
            Err(e) => Box::new(std::iter::once(Err(e.into()))),
        },
        ReportFile::Csv => Box::new(csv_chunks_in(frame.generated_at, tables)),
        ReportFile::Html => Box::new(html::chunks_in(frame, tables, non_compliant)),
        ReportFile::Findings => Box::new(findings_chunks_in(frame.generated_at, tables)),
        ReportFile::Verdicts => return None,
    })
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
