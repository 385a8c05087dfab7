//! One EventBridge event per compliance change, on the hub's bus, for teams to route to their
//! chat or ticketing (design.md "Compliance where teams look"). Put after the dated report is
//! written and before the baseline moves: a run that cannot put them all fails, and the next
//! run compares against the same baseline and puts them again (at least once; `detail.id`
//! tells a repeat).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use chrono::{DateTime, Utc};
use serde::Serialize;

use relay_core::ports::{ErrorKind, PortError, PortResult};

use crate::tables::{SpoolError, Tables};
use crate::{Change, Report, Status, Verdict, Verdicts};

pub const SOURCE: &str = "backup-relay";
pub const DETAIL_TYPE: &str = "Backup Relay Compliance Change";
/// PutEvents takes at most 10 entries a call, 256 KB in all.
pub const MAX_PER_CALL: usize = 10;
pub const MAX_CALL_BYTES: usize = 256 * 1024;
/// The incident of change events the bus refuses for good (one, whatever the number).
pub const INCIDENT_ID: &str = "change-events#refused";
/// A reason in an event is cut here (the report has it whole): 17 controls stay far under 256 KB.
const MAX_REASON_CHARS: usize = 1024;

/// One event's `detail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeDetail {
    /// `GENERATED_AT/TABLE_ARN`: the same change put twice has the same id.
    pub id: String,
    pub table: String,
    pub table_arn: String,
    pub account: String,
    pub region: String,
    /// The table's verdict before (none: new to the report) and now.
    pub was: Option<Status>,
    pub now: Status,
    /// It left the report (deleted, or its account and Region could not be read).
    pub gone: bool,
    pub controls: Vec<ControlChange>,
    /// Where the report with the evidence is.
    pub report_key: String,
    pub generated_at: DateTime<Utc>,
}

/// A control that started or stopped failing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlChange {
    pub control: String,
    pub was: Status,
    pub now: Status,
    pub reason: String,
}

/// The events of `changes`: one per table, the controls whose failing changed.
pub fn change_events(
    changes: &[Change],
    previous: Option<&Verdicts>,
    report: &Report,
    report_key: &str,
) -> Vec<ChangeDetail> {
    let verdicts = Verdicts::of(report).tables;
    let tables = Tables::Listed(&report.resources);
    // A listed report's tables are read from memory: no error.
    change_events_in(
        changes,
        previous,
        (report.generated_at, tables, &verdicts),
        report_key,
    )
    .unwrap_or_default()
}

/// [`change_events`] of a report's tables wherever they are (`generated_at`, the tables and
/// their verdicts, in the same order): only the changed tables are read.
pub fn change_events_in(
    changes: &[Change],
    previous: Option<&Verdicts>,
    (generated_at, tables, verdicts): (DateTime<Utc>, Tables<'_>, &[Verdict]),
    report_key: &str,
) -> Result<Vec<ChangeDetail>, SpoolError> {
    // By ARN: an organisation's changes are looked up in maps, not by scanning every table.
    let before = Verdicts::by_table(previous);
    let index: BTreeMap<&str, usize> = verdicts
        .iter()
        .enumerate()
        .map(|(i, v)| (v.resource_arn.as_str(), i))
        .collect();
    let mut out = Vec::with_capacity(changes.len());
    for c in changes {
        let failing_before: BTreeSet<&str> = before
            .get(c.resource_arn.as_str())
            .map(|v| v.failing.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let now = match index.get(c.resource_arn.as_str()) {
            Some(&i) => Some(tables.get(i)?),
            None => None,
        };
        let mut controls = Vec::new();
        for r in now.iter().flat_map(|r| &r.controls) {
            let was_failing = failing_before.contains(r.id.as_str());
            let is_failing = r.status == Status::NonCompliant;
            if was_failing != is_failing {
                controls.push(control_change(
                    r.id.as_str(),
                    was_failing,
                    r.status,
                    &r.reason,
                ));
            }
        }
        if now.is_none() {
            controls.extend(failing_before.iter().map(|id| {
                control_change(id, true, Status::NotApplicable, "no longer in the report")
            }));
        }
        out.push(ChangeDetail {
            id: format!("{}/{}", generated_at.to_rfc3339(), c.resource_arn),
            table: c.name.clone(),
            table_arn: c.resource_arn.clone(),
            account: c.account.clone(),
            region: c.region.clone(),
            was: c.was,
            now: c.now,
            gone: c.gone,
            controls,
            report_key: report_key.to_string(),
            generated_at,
        });
    }
    Ok(out)
}

fn control_change(id: &str, was_failing: bool, now: Status, reason: &str) -> ControlChange {
    ControlChange {
        control: id.to_string(),
        was: if was_failing {
            Status::NonCompliant
        } else {
            Status::Compliant
        },
        now,
        reason: reason.chars().take(MAX_REASON_CHARS).collect(),
    }
}

/// Consecutive runs of at most [`MAX_PER_CALL`] events and [`MAX_CALL_BYTES`] (an entry counts
/// its detail and some 200 bytes of envelope).
pub fn chunks(details: &[ChangeDetail]) -> Vec<&[ChangeDetail]> {
    crate::calls::slices(details, MAX_PER_CALL, MAX_CALL_BYTES, |d| {
        serde_json::to_string(d).map_or(MAX_CALL_BYTES, |s| s.len()) + 200
    })
}

/// The alert of change events the bus refused for good.
pub fn refused_alert(e: &PortError, count: usize) -> relay_core::ports::Alert {
    relay_core::ports::Alert::plain(
        "Backup Relay: compliance change events are refused".into(),
        format!(
            "The hub's event bus refused this run's {count} compliance change events, and \
             refuses them for good: rules routing them to teams get nothing until it is fixed (the \
             report, its change alert and Security Hub's findings are unaffected; this incident \
             closes when events go through again).\nAWS said: {e}\nLikely fix: the \
             compliance-report function's role needs events:PutEvents on the bus EVENT_BUS_NAME \
             names, and the bus must exist."
        ),
    )
}

/// The hub's event bus.
pub trait ChangeEventsPort: Send + Sync {
    /// PutEvents of at most [`MAX_PER_CALL`] details: the indexes of the entries it refused.
    fn put_change_events(
        &self,
        details: &[ChangeDetail],
    ) -> impl Future<Output = PortResult<Vec<usize>>> + Send;
}

/// Every event put, 10 a call; an entry refused is put once more, and one refused twice (or a
/// call that fails) fails the whole: the caller leaves the baseline where it was.
pub async fn put_all(port: &impl ChangeEventsPort, details: &[ChangeDetail]) -> PortResult<usize> {
    let mut calls = 0;
    for chunk in chunks(details) {
        let refused = port.put_change_events(chunk).await?;
        calls += 1;
        if refused.is_empty() {
            continue;
        }
        let again: Vec<ChangeDetail> = refused
            .iter()
            .filter_map(|i| chunk.get(*i).cloned())
            .collect();
        let still = port.put_change_events(&again).await?;
        calls += 1;
        if !still.is_empty() {
            return Err(PortError::new(
                ErrorKind::Retryable,
                "PutEvents",
                Some("FailedEntries"),
                format!(
                    "{} of {} change events refused twice",
                    still.len(),
                    chunk.len()
                ),
            ));
        }
    }
    Ok(calls)
}
