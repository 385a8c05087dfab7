//! Where reports live: a port, the keys a day's report is written under, and the order of the
//! writes. The S3 adapter is in `relay-aws`.

use std::future::Future;

use chrono::{DateTime, Utc};

use relay_core::ports::{ErrorKind, PortError, PortResult};

/// Every key the report function reads or writes starts here (its IAM grant is this prefix).
pub const PREFIX: &str = "reports/";
/// The previous run's verdicts, the baseline of the change alert: a few hundred bytes a table,
/// readable whatever the organisation's size (the full report can pass the read limit).
pub const BASELINE_KEY: &str = "reports/latest/verdicts.json";
/// The code of a [`PortError`] refusing an object over the store's size limit.
pub const REPORT_TOO_LARGE: &str = "ReportTooLarge";

/// The object store holding the reports.
pub trait ReportStore: Send + Sync {
    /// The body of [`BASELINE_KEY`]; `None` when there is none yet (the first run). A body over
    /// the store's size limit is refused with [`REPORT_TOO_LARGE`] before it is read.
    fn get_baseline(&self) -> impl Future<Output = PortResult<Option<String>>> + Send;
    fn put(
        &self,
        key: &str,
        body: &str,
        content_type: &str,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// A body written a piece at a time as it is rendered, so that no one holds it whole (S3:
    /// a multipart upload). A piece that fails to render writes nothing: the object appears
    /// whole or not at all. This default joins the pieces and puts them.
    fn put_chunks<'a>(
        &'a self,
        key: &'a str,
        content_type: &'a str,
        chunks: Chunks<'a>,
    ) -> impl Future<Output = Result<(), WriteError>> + Send + 'a {
        async move {
            let mut body = String::new();
            for chunk in chunks {
                body.push_str(&chunk?);
            }
            Ok(self.put(key, &body, content_type).await?)
        }
    }
    /// Where a person finds the object.
    fn links(&self, key: &str) -> ObjectLinks;
}

/// The parts a body written in pieces is sent in (S3's multipart upload takes parts of 5 MiB
/// to 5 GiB, the last one smaller): what a writer holds of it at most, beside one piece.
pub const PART_BYTES: usize = 8 << 20;

/// A rendering's pieces, in order.
pub type Chunks<'a> = Box<dyn Iterator<Item = crate::render::Chunk> + Send + 'a>;

/// Why a body written in pieces was not written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
    #[error(transparent)]
    Store(#[from] PortError),
}

/// An object's address for tools, and for people when the store has a console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectLinks {
    /// `s3://bucket/key` or the like.
    pub uri: String,
    pub console: Option<String>,
}

/// The files of one report, as stored: its three renderings and the verdicts (the baseline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFile {
    Json,
    Csv,
    Html,
    /// The change alert's baseline ([`crate::Verdicts`]).
    Verdicts,
    /// The report as Security Hub findings ([`crate::findings`]).
    Findings,
}

impl ReportFile {
    pub const ALL: [ReportFile; 5] = [
        Self::Json,
        Self::Csv,
        Self::Html,
        Self::Findings,
        Self::Verdicts,
    ];

    pub fn file_name(self) -> &'static str {
        match self {
            Self::Json => "report.json",
            Self::Csv => "report.csv",
            Self::Html => "report.html",
            Self::Verdicts => "verdicts.json",
            Self::Findings => "findings.asff.json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json | Self::Verdicts | Self::Findings => "application/json",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Html => "text/html; charset=utf-8",
        }
    }
}

/// `reports/YYYY/MM/DD/<file>`: the day (UTC) the report was generated.
pub fn dated_key(generated_at: DateTime<Utc>, file: ReportFile) -> String {
    format!(
        "{PREFIX}{}/{}",
        generated_at.format("%Y/%m/%d"),
        file.file_name()
    )
}

/// `reports/latest/<file>`.
pub fn latest_key(file: ReportFile) -> String {
    format!("{PREFIX}latest/{}", file.file_name())
}

/// The writes of one run, in order: the dated files first, then the latest ones with the
/// baseline (`verdicts.json`) last. A run that stops half-way leaves the baseline on the
/// previous day, and the next run compares against it again (and alerts again, not never).
pub fn write_order(generated_at: DateTime<Utc>) -> Vec<(String, ReportFile)> {
    let dated = ReportFile::ALL.map(|f| (dated_key(generated_at, f), f));
    let latest = [
        ReportFile::Html,
        ReportFile::Csv,
        ReportFile::Json,
        ReportFile::Findings,
        ReportFile::Verdicts,
    ]
    .map(|f| (latest_key(f), f));
    dated.into_iter().chain(latest).collect()
}

/// The error of a store refusing to read an object of `size` bytes, over its `limit`.
pub fn too_large(operation: &'static str, key: &str, size: u64, limit: u64) -> PortError {
    PortError::new(
        ErrorKind::Permanent,
        operation,
        Some(REPORT_TOO_LARGE),
        format!("{key} is {size} bytes, over the {limit}-byte limit: not read"),
    )
}

pub fn is_too_large(e: &PortError) -> bool {
    e.code.as_deref() == Some(REPORT_TOO_LARGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_written_dated_first_and_the_baseline_last() {
        let at = DateTime::parse_from_rfc3339("2026-03-07T23:59:59Z")
            .unwrap()
            .with_timezone(&Utc);
        let keys: Vec<String> = write_order(at).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "reports/2026/03/07/report.json",
                "reports/2026/03/07/report.csv",
                "reports/2026/03/07/report.html",
                "reports/2026/03/07/findings.asff.json",
                "reports/2026/03/07/verdicts.json",
                "reports/latest/report.html",
                "reports/latest/report.csv",
                "reports/latest/report.json",
                "reports/latest/findings.asff.json",
                "reports/latest/verdicts.json",
            ]
        );
        assert_eq!(keys.last().map(String::as_str), Some(BASELINE_KEY));
        assert!(keys.iter().all(|k| k.starts_with(PREFIX)));
    }

    #[test]
    fn too_large_is_permanent_and_recognisable() {
        let e = too_large("GetObject", BASELINE_KEY, 10, 5);
        assert_eq!(e.kind, ErrorKind::Permanent);
        assert!(is_too_large(&e));
        assert!(e.to_string().contains("over the 5-byte limit"), "{e}");
    }
}
