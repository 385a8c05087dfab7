//! Which findings a run imports where. Security Hub deletes a finding 90 days after its last
//! update, and an import costs a call per 100 findings in every account and Region, so a run
//! imports in each account and Region (a *site*) either everything (a full import) or only the
//! findings of tables whose verdict changed (a delta):
//! - full where the previous run did not finish an import there (never imported, Security Hub
//!   off, a refusal, a finding refused: nothing is dropped, the next run imports it all again)
//!   and where the last full import is [`REFRESH_DAYS`] old (well within the 90 days);
//! - a delta elsewhere: new tables, and tables whose status or failing controls changed (their
//!   every finding, so a recovered control is RESOLVED); the open findings of a table that left
//!   the report are ARCHIVED where its account and Region was read.
//!
//! What was imported is remembered in the verdicts ([`crate::Verdicts::findings_synced`]): the
//! time of each site's last full import, kept only while every import since has gone through.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::{archived, table_findings, Finding};
use crate::{failing_ids, Report, Verdict, Verdicts};

/// A full import at least this often in every account and Region.
pub const REFRESH_DAYS: i64 = 30;
/// Findings a run imports at most in full imports (a call per 100: 2,000 calls, minutes at
/// Security Hub's 10 calls a second per account and Region): an organisation's first import is
/// spread over a few days' runs, the oldest sites first; deltas always go.
pub const MAX_FULL_FINDINGS_PER_RUN: usize = 200_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Full,
    Delta,
    /// A full import that did not fit in this run: the next run's, first.
    Deferred,
}

/// The findings of one account and Region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub partition: String,
    pub account: String,
    pub region: String,
    pub mode: Mode,
    pub findings: Vec<Finding>,
    /// When its last full import was, if every import since went through.
    pub synced: Option<DateTime<Utc>>,
}

impl Site {
    pub fn key(&self) -> String {
        site_key(&self.account, &self.region)
    }
}

/// `ACCOUNT/REGION`: the key of a site in [`crate::Verdicts::findings_synced`].
pub fn site_key(account: &str, region: &str) -> String {
    format!("{account}/{region}")
}

/// What this run imports, site by site, in the order of the sites' keys.
pub fn plan(report: &Report, previous: Option<&Verdicts>) -> Vec<Site> {
    plan_within(report, previous, MAX_FULL_FINDINGS_PER_RUN)
}

/// [`plan`] with full imports of at most `budget` findings.
pub fn plan_within(report: &Report, previous: Option<&Verdicts>, budget: usize) -> Vec<Site> {
    let now = report.generated_at;
    let before = Verdicts::by_table(previous);
    let synced = previous.map(|p| &p.findings_synced);
    let mut sites: BTreeMap<String, Site> = BTreeMap::new();
    for r in &report.resources {
        let site = sites
            .entry(site_key(&r.account, &r.region))
            .or_insert_with(|| {
                let last = synced.and_then(|s| s.get(&site_key(&r.account, &r.region)).copied());
                let due = last.is_none_or(|t| now - t >= Duration::days(REFRESH_DAYS));
                Site {
                    partition: partition(&r.resource_arn).to_string(),
                    account: r.account.clone(),
                    region: r.region.clone(),
                    mode: if due { Mode::Full } else { Mode::Delta },
                    findings: Vec::new(),
                    synced: last,
                }
            });
        let changed = before
            .get(r.resource_arn.as_str())
            .is_none_or(|was| was.status != r.status || was.failing != failing_ids(r));
        if site.mode == Mode::Full || changed {
            site.findings.extend(table_findings(r, now));
        }
    }
    archive_gone(report, &before, &mut sites);
    defer_over_budget(&mut sites, budget);
    sites.into_values().collect()
}

/// The open findings of tables that left the report, archived where their site was read whole.
fn archive_gone(
    report: &Report,
    before: &BTreeMap<&str, &Verdict>,
    sites: &mut BTreeMap<String, Site>,
) {
    let present: std::collections::BTreeSet<&str> = report
        .resources
        .iter()
        .map(|r| r.resource_arn.as_str())
        .collect();
    for v in before
        .values()
        .filter(|v| !present.contains(v.resource_arn.as_str()))
    {
        let unread = report
            .gaps
            .iter()
            .any(|g| g.account == v.account && g.region == v.region);
        if unread || v.failing.is_empty() {
            continue;
        }
        let site = sites
            .entry(site_key(&v.account, &v.region))
            .or_insert_with(|| Site {
                partition: partition(&v.resource_arn).to_string(),
                account: v.account.clone(),
                region: v.region.clone(),
                mode: Mode::Delta,
                findings: Vec::new(),
                synced: None,
            });
        site.findings.extend(v.failing.iter().map(|control| {
            archived(
                &v.resource_arn,
                &v.name,
                &v.account,
                &v.region,
                control,
                report.generated_at,
            )
        }));
    }
}

/// Full imports past `budget` findings wait for the next run, the longest unsynced first.
fn defer_over_budget(sites: &mut BTreeMap<String, Site>, budget: usize) {
    let mut full: Vec<&mut Site> = sites
        .values_mut()
        .filter(|s| s.mode == Mode::Full)
        .collect();
    full.sort_by_key(|s| s.synced);
    let mut left = budget;
    for site in full {
        if site.findings.len() <= left {
            left -= site.findings.len();
        } else {
            site.mode = Mode::Deferred;
            site.findings.clear();
            left = 0;
        }
    }
}

fn partition(arn: &str) -> &str {
    super::partition_of(arn)
}

/// The sites' full-import times after this run: now where a full import went through, the
/// previous time where a delta did (or nothing was due), none where anything was refused.
pub fn synced_after(
    sites: &[Site],
    went_through: impl Fn(&Site) -> bool,
    now: DateTime<Utc>,
) -> BTreeMap<String, DateTime<Utc>> {
    sites
        .iter()
        .filter_map(|s| {
            let at = match s.mode {
                Mode::Full if went_through(s) => Some(now),
                Mode::Delta if went_through(s) => s.synced,
                Mode::Deferred => s.synced,
                Mode::Full | Mode::Delta => None,
            };
            at.map(|t| (s.key(), t))
        })
        .collect()
}
