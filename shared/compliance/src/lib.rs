//! The compliance report: one pure evaluation of an [`Inventory`] against the policy, per table
//! and per control, with the reason in words and the evidence (recovery points, vaults, dates).
//! Renderings (JSON, CSV, HTML, the terminal summary) are in [`render`].
//!
//! Unlike Audit Manager, which looks at what backup plans are set up to copy, every control here
//! counts the copies that exist, however they were made (a plan's copy action or StartCopyJob).

pub mod alert;
pub mod calls;
pub mod change_events;
pub mod controls;
pub mod cost;
pub mod emf;
pub mod findings;
pub mod inventory;
pub mod pieces;
pub mod publish;
pub mod render;
pub mod report_cost;
pub mod scratch;
pub mod store;
pub mod tables;
pub mod tag_sample;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use controls::ControlId;
pub use inventory::{Inventory, InventoryGap, InventoryPort};
pub use relay_core::policy::params::{self, Parameters};
pub use relay_core::policy::policy_digest;
pub use store::{ObjectLinks, ReportFile, ReportStore};

use relay_core::Policy;

pub const SCHEMA: &str = "backup-relay/report/v1";
/// Evidence items kept per control and table; the reason says how many more there were.
pub const MAX_EVIDENCE: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Compliant,
    NonCompliant,
    NotApplicable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compliant => "COMPLIANT",
            Self::NonCompliant => "NON_COMPLIANT",
            Self::NotApplicable => "NOT_APPLICABLE",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_point_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_at: Option<DateTime<Utc>>,
    /// What this item shows, when the fields alone do not say it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlResult {
    pub id: ControlId,
    pub status: Status,
    pub reason: String,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceReport {
    pub resource_arn: String,
    pub name: String,
    pub account: String,
    pub region: String,
    pub status: Status,
    pub controls: Vec<ControlResult>,
}

impl ResourceReport {
    /// The reasons of its non-compliant controls, `ID: reason` each.
    pub fn failures(&self) -> Vec<String> {
        self.controls
            .iter()
            .filter(|c| c.status == Status::NonCompliant)
            .map(|c| format!("{}: {}", c.id.as_str(), c.reason))
            .collect()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlCounts {
    pub compliant: u64,
    pub non_compliant: u64,
    pub not_applicable: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSummary {
    pub resources: u64,
    pub compliant: u64,
    pub non_compliant: u64,
    /// Keyed by control id, in the contract's order of ids.
    pub controls: BTreeMap<String, ControlCounts>,
    /// Per account: resources compliant and not.
    #[serde(default)]
    pub accounts: BTreeMap<String, ControlCounts>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub generated_at: DateTime<Utc>,
    pub policy_digest: String,
    #[serde(default)]
    pub parameters: Parameters,
    pub summary: ReportSummary,
    pub resources: Vec<ResourceReport>,
    /// What could not be read (an account that refused, a listing that failed): the report is
    /// incomplete there, and says so.
    #[serde(default)]
    pub gaps: Vec<InventoryGap>,
    /// What the vaults hold costs, per account and vault, and the next 12 months projected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<report_cost::ReportCost>,
}

/// The cost section of a report from what was seen, at the prices that ship (`None` only if
/// they could not be read, which a test of the shipped file rules out).
pub(crate) fn cost_section(
    policy: &Policy,
    facts: &report_cost::CostFacts,
) -> Option<report_cost::ReportCost> {
    let prices = cost::Prices::shipped().ok()?;
    Some(report_cost::report_cost(policy, facts, &prices))
}

/// Evaluate every table of the inventory against every control.
pub fn evaluate(
    policy: &Policy,
    inventory: &Inventory,
    now: DateTime<Utc>,
    policy_digest: &str,
) -> Report {
    let index = controls::Index::new(policy, inventory, now);
    let mut resources: Vec<ResourceReport> = inventory
        .tables
        .iter()
        .map(|t| index.evaluate_table(t))
        .collect();
    resources
        .sort_by(|a, b| (&a.account, &a.region, &a.name).cmp(&(&b.account, &b.region, &b.name)));
    Report {
        schema: SCHEMA.to_string(),
        generated_at: now,
        policy_digest: policy_digest.to_string(),
        parameters: policy.compliance.clone(),
        summary: summarize(&resources),
        resources,
        gaps: inventory.gaps.clone(),
        cost: cost_section(policy, &report_cost::CostFacts::of(inventory)),
    }
}

pub(crate) fn summarize(resources: &[ResourceReport]) -> ReportSummary {
    let mut s = ReportSummary::empty();
    for r in resources {
        s.add(r);
    }
    s
}

impl ReportSummary {
    /// No table yet: every control counted at zero.
    pub fn empty() -> Self {
        let mut s = Self::default();
        for id in ControlId::ALL {
            s.controls
                .insert(id.as_str().to_string(), ControlCounts::default());
        }
        s
    }

    /// One more table counted.
    pub fn add(&mut self, r: &ResourceReport) {
        self.resources += 1;
        let account = self.accounts.entry(r.account.clone()).or_default();
        if r.status == Status::NonCompliant {
            self.non_compliant += 1;
            account.non_compliant += 1;
        } else {
            self.compliant += 1;
            account.compliant += 1;
        }
        for c in &r.controls {
            let counts = self.controls.entry(c.id.as_str().to_string()).or_default();
            match c.status {
                Status::Compliant => counts.compliant += 1,
                Status::NonCompliant => counts.non_compliant += 1,
                Status::NotApplicable => counts.not_applicable += 1,
            }
        }
    }
}

/// The change alert's baseline: each table's verdict and the controls it fails, a few hundred
/// bytes a table where the report is kilobytes, so it stays readable for any organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdicts {
    pub schema: String,
    pub generated_at: DateTime<Utc>,
    pub tables: Vec<Verdict>,
    /// Per `ACCOUNT/REGION`: when its findings were last all imported into Security Hub, kept
    /// while every import since went through (see [`findings::plan`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub findings_synced: BTreeMap<String, DateTime<Utc>>,
    /// Per `ACCOUNT/REGION`: a full import cut by the run's budget, the last finding id it
    /// imported (findings in id order); the next run goes on from there.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub findings_cursor: BTreeMap<String, String>,
    /// Tables that left the report whose open findings are not yet archived (their account and
    /// Region was unread, or its import failed): archived when it goes through.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings_to_archive: Vec<Verdict>,
}

pub const VERDICTS_SCHEMA: &str = "backup-relay/verdicts/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub resource_arn: String,
    pub name: String,
    pub account: String,
    pub region: String,
    pub status: Status,
    /// The ids of the controls it fails.
    pub failing: Vec<String>,
}

impl Verdicts {
    /// The previous verdicts by table ARN (none: an empty map).
    pub fn by_table(previous: Option<&Self>) -> BTreeMap<&str, &Verdict> {
        previous
            .map(|p| {
                p.tables
                    .iter()
                    .map(|t| (t.resource_arn.as_str(), t))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn of(report: &Report) -> Self {
        Self::new(
            report.generated_at,
            report.resources.iter().map(Verdict::of).collect(),
        )
    }

    /// The verdicts of a report's tables, with nothing yet of the findings' import.
    pub fn new(generated_at: DateTime<Utc>, tables: Vec<Verdict>) -> Self {
        Self {
            schema: VERDICTS_SCHEMA.to_string(),
            generated_at,
            tables,
            findings_synced: BTreeMap::new(),
            findings_cursor: BTreeMap::new(),
            findings_to_archive: Vec::new(),
        }
    }
}

impl Verdict {
    pub fn of(r: &ResourceReport) -> Self {
        Self {
            resource_arn: r.resource_arn.clone(),
            name: r.name.clone(),
            account: r.account.clone(),
            region: r.region.clone(),
            status: r.status,
            failing: failing_ids(r),
        }
    }
}

fn failing_ids(r: &ResourceReport) -> Vec<String> {
    r.controls
        .iter()
        .filter(|c| c.status == Status::NonCompliant)
        .map(|c| c.id.as_str().to_string())
        .collect()
}

/// A table whose verdict changed since the previous report: it became non-compliant, fails
/// other controls than before, recovered, is new and non-compliant, or left the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub resource_arn: String,
    pub name: String,
    pub account: String,
    pub region: String,
    pub was: Option<Status>,
    pub now: Status,
    /// Why it is non-compliant now (empty when it recovered).
    pub reasons: Vec<String>,
    /// It is not in this report: deleted, or its account and Region could not be read.
    pub gone: bool,
}

/// What changed since the previous verdicts. A new table is a change only when non-compliant;
/// a non-compliant table whose failing controls changed is one too (a second breakage must not
/// hide behind the first); a table that left the report is one (it may be unreadable now).
pub fn changes(previous: Option<&Verdicts>, current: &Report) -> Vec<Change> {
    let verdicts = Verdicts::of(current).tables;
    // A listed report's tables are read from memory: no error.
    changes_in(
        previous,
        tables::Tables::Listed(&current.resources),
        &verdicts,
    )
    .unwrap_or_default()
}

/// [`changes`] of a report's tables wherever they are, and their `verdicts` (the same tables,
/// in the same order): the verdicts find the changed tables, and only those are read whole.
pub fn changes_in(
    previous: Option<&Verdicts>,
    current: tables::Tables<'_>,
    verdicts: &[Verdict],
) -> Result<Vec<Change>, tables::SpoolError> {
    let before = Verdicts::by_table(previous);
    let mut out = Vec::new();
    for (i, v) in verdicts.iter().enumerate() {
        let was = before.get(v.resource_arn.as_str());
        let changed = match was {
            Some(was) => was.status != v.status || was.failing != v.failing,
            None => v.status == Status::NonCompliant,
        };
        if !changed {
            continue;
        }
        let reasons = current.get(i)?.failures();
        out.push(Change {
            resource_arn: v.resource_arn.clone(),
            name: v.name.clone(),
            account: v.account.clone(),
            region: v.region.clone(),
            was: was.map(|v| v.status),
            now: v.status,
            reasons,
            gone: false,
        });
    }
    let present: std::collections::BTreeSet<&str> =
        verdicts.iter().map(|v| v.resource_arn.as_str()).collect();
    out.extend(
        before
            .values()
            .filter(|v| !present.contains(v.resource_arn.as_str()))
            .map(|v| Change {
                resource_arn: v.resource_arn.clone(),
                name: v.name.clone(),
                account: v.account.clone(),
                region: v.region.clone(),
                was: Some(v.status),
                now: Status::NotApplicable,
                reasons: vec![
                    "no longer in the report: deleted, or its account and Region could not be read"
                        .into(),
                ],
                gone: true,
            }),
    );
    Ok(out)
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
