//! Which findings a run imports where. Security Hub deletes a finding 90 days after its last
//! update, and an import costs a call per 100 findings in every account and Region, so a run
//! imports in each account and Region (a *site*) either everything (a full import) or only the
//! findings of tables whose verdict changed (a delta):
//! - full where the previous run did not finish an import there (never imported, Security Hub
//!   off, a refusal, a finding refused: nothing is dropped, the next run imports it all again)
//!   and where the last full import is [`REFRESH_DAYS`] old (well within the 90 days);
//! - a delta elsewhere: new tables, and tables whose status or failing controls changed (their
//!   every finding, so a recovered control is PASSED); the open findings of a table that left
//!   the report, or of a control that no longer applies, are ARCHIVED.
//!
//! Full imports share a budget per run ([`MAX_FULL_FINDINGS_PER_RUN`]): past it a site's full
//! import goes on in the next run from a cursor (the last finding id imported, in id order), so
//! an organisation's first import, or one huge account, is spread over a few runs and always
//! moves on. What was imported is remembered in the verdicts: each site's last full import
//! ([`crate::Verdicts::findings_synced`]), kept only while every import since went through, and
//! the cursors ([`crate::Verdicts::findings_cursor`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use super::{archived, table_findings, Finding};
use crate::tables::{SpoolError, Tables};
use crate::{Report, ResourceReport, Status, Verdict, Verdicts};

/// A full import at least this often in every account and Region.
pub const REFRESH_DAYS: i64 = 30;
/// Findings a run imports at most in full imports: 500 calls, a few minutes at Security Hub's 10
/// calls a second per account and Region even in one account, beside the report's own work.
pub const MAX_FULL_FINDINGS_PER_RUN: usize = 50_000;
/// Changed tables' findings a run holds at most, as many as the full imports': the day most of an
/// organisation breaks at once (its backups fail, a policy is edited) must not be the day the
/// report runs out of memory. Sites past it are imported in full by the next runs.
pub const MAX_CHANGED_FINDINGS_PER_RUN: usize = MAX_FULL_FINDINGS_PER_RUN;

/// The findings a run holds and imports at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// In full imports.
    pub full: usize,
    /// Of changed tables.
    pub changed: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            full: MAX_FULL_FINDINGS_PER_RUN,
            changed: MAX_CHANGED_FINDINGS_PER_RUN,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every finding (from the cursor on, as far as the budget goes).
    Full,
    /// The changed tables' findings only.
    Delta,
    /// A full import that found no room in this run: the changed tables' findings now, the rest
    /// by the next runs, the longest waiting first.
    Deferred,
    /// Its changed tables' findings found no room in this run: nothing now, and no full import
    /// kept (its time and cursor are dropped), so the next runs import it in full.
    Overflow,
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
    /// Where its full import goes on from (the last id imported), if a run cut it.
    pub cursor: Option<String>,
    /// A full import that reaches the site's last finding this run: it completes.
    pub completes: bool,
    /// The cursor a part of a full import leaves, if it goes through.
    pub next_cursor: Option<String>,
}

impl Site {
    pub fn key(&self) -> String {
        site_key(&self.account, &self.region)
    }
}

/// `ACCOUNT/REGION`: the key of a site in the verdicts.
pub use relay_core::arn::site_key;

/// A site as it is planned: the changed tables' findings and, for a full import, the other
/// tables, whose findings are made only if the run's budget reaches the site (a first run's
/// plan would otherwise hold every finding of the organisation before it cuts them).
struct Draft {
    site: Site,
    /// The other tables, by their place in the report.
    rest: Vec<usize>,
}

/// What this run imports, site by site, in the order of the sites' keys.
pub fn plan(report: &Report, previous: Option<&Verdicts>) -> Vec<Site> {
    plan_within(report, previous, MAX_FULL_FINDINGS_PER_RUN)
}

/// [`plan`] with full imports of at most `budget` findings.
pub fn plan_within(report: &Report, previous: Option<&Verdicts>, budget: usize) -> Vec<Site> {
    let verdicts = Verdicts::of(report).tables;
    let tables = Tables::Listed(&report.resources);
    // A listed report's tables are read from memory: no error.
    let budget = Budget {
        full: budget,
        ..Budget::default()
    };
    plan_in(report, (tables, &verdicts), previous, budget).unwrap_or_default()
}

/// [`plan_within`] of a report's tables wherever they are, with their verdicts (the same
/// tables, in the same order); `frame` gives the time and the gaps. The verdicts choose, and
/// only the tables whose findings are made are read: the changed ones, and the sites a full
/// import reaches within the budget, one site at a time.
pub fn plan_in(
    frame: &Report,
    (tables, verdicts): (Tables<'_>, &[Verdict]),
    previous: Option<&Verdicts>,
    budget: Budget,
) -> Result<Vec<Site>, SpoolError> {
    let now = frame.generated_at;
    let before = Verdicts::by_table(previous);
    let mut drafts: BTreeMap<String, Draft> = BTreeMap::new();
    let mut changed_held = 0;
    for (i, v) in verdicts.iter().enumerate() {
        let key = site_key(&v.account, &v.region);
        let draft = drafts.entry(key.clone()).or_insert_with(|| {
            let synced = previous.and_then(|p| p.findings_synced.get(&key).copied());
            let cursor = previous.and_then(|p| p.findings_cursor.get(&key).cloned());
            let due = synced.is_none_or(|t| now - t >= Duration::days(REFRESH_DAYS));
            draft_of(&v.resource_arn, &v.account, &v.region, due, synced, cursor)
        });
        let was = before.get(v.resource_arn.as_str());
        let differs = was.is_some_and(|w| w.status != v.status || w.failing != v.failing);
        // A new table is part of a full import (within its budget), else a change of its own.
        let changed = differs || (was.is_none() && draft.site.mode == Mode::Delta);
        if draft.site.mode == Mode::Overflow {
            continue;
        }
        if changed {
            let r = tables.get(i)?;
            let held = draft.site.findings.len();
            changed_findings(&mut draft.site, &r, was.copied(), now);
            changed_held += draft.site.findings.len() - held;
            if changed_held > budget.changed {
                changed_held -= draft.site.findings.len();
                overflow(&mut draft.site);
                draft.rest = Vec::new();
            }
        } else if draft.site.mode == Mode::Full {
            draft.rest.push(i);
        }
    }
    archive_gone(frame, verdicts, previous, &mut drafts);
    share_budget(drafts.values_mut().collect(), tables, budget.full, now)?;
    Ok(drafts.into_values().map(|d| d.site).collect())
}

/// A site whose changes find no room: nothing imported now, in full by the next runs.
fn overflow(site: &mut Site) {
    site.mode = Mode::Overflow;
    site.findings = Vec::new();
    site.synced = None;
    site.cursor = None;
}

/// A changed table's every finding, so a recovered control is PASSED; a control that failed
/// and no longer applies has its open finding retired.
fn changed_findings(
    site: &mut Site,
    r: &ResourceReport,
    was: Option<&Verdict>,
    now: DateTime<Utc>,
) {
    site.findings.extend(table_findings(r, now));
    let applies: BTreeSet<&str> = r
        .controls
        .iter()
        .filter(|c| c.status != Status::NotApplicable)
        .map(|c| c.id.as_str())
        .collect();
    for control in was.iter().flat_map(|v| &v.failing) {
        if !applies.contains(control.as_str()) {
            site.findings.push(archived(
                &r.resource_arn,
                &r.name,
                &r.account,
                &r.region,
                control,
                now,
            ));
        }
    }
}

fn draft_of(
    arn: &str,
    account: &str,
    region: &str,
    due: bool,
    synced: Option<DateTime<Utc>>,
    cursor: Option<String>,
) -> Draft {
    Draft {
        site: Site {
            partition: super::partition_of(arn).to_string(),
            account: account.to_string(),
            region: region.to_string(),
            mode: if due { Mode::Full } else { Mode::Delta },
            findings: Vec::new(),
            synced,
            cursor,
            completes: false,
            next_cursor: None,
        },
        rest: Vec::new(),
    }
}

/// The tables that left the report with failing controls: since the previous report, or
/// still waiting for their findings to be archived. `present`: the report's verdicts.
pub fn gone<'a>(present: &[Verdict], previous: Option<&'a Verdicts>) -> Vec<&'a Verdict> {
    let present: BTreeSet<&str> = present.iter().map(|v| v.resource_arn.as_str()).collect();
    let mut seen = BTreeSet::new();
    previous
        .into_iter()
        .flat_map(|p| p.tables.iter().chain(&p.findings_to_archive))
        .filter(|v| !v.failing.is_empty() && !present.contains(v.resource_arn.as_str()))
        .filter(|v| seen.insert(v.resource_arn.as_str()))
        .collect()
}

/// The open findings of tables that left the report, archived where their site was read whole
/// (elsewhere they wait in the verdicts: [`pending_archives`]).
fn archive_gone(
    frame: &Report,
    present: &[Verdict],
    previous: Option<&Verdicts>,
    drafts: &mut BTreeMap<String, Draft>,
) {
    let unread = unread_sites(frame);
    for v in gone(present, previous) {
        if unread.contains(&(v.account.as_str(), v.region.as_str())) {
            continue;
        }
        let draft = drafts
            .entry(site_key(&v.account, &v.region))
            .or_insert_with(|| draft_of(&v.resource_arn, &v.account, &v.region, false, None, None));
        draft.site.findings.extend(v.failing.iter().map(|control| {
            archived(
                &v.resource_arn,
                &v.name,
                &v.account,
                &v.region,
                control,
                frame.generated_at,
            )
        }));
    }
}

fn unread_sites(report: &Report) -> BTreeSet<(&str, &str)> {
    report
        .gaps
        .iter()
        .map(|g| (g.account.as_str(), g.region.as_str()))
        .collect()
}

/// The gone tables whose findings this run did not archive (their site unread, or its import
/// not through): the next run tries again.
pub fn pending_archives(
    present: &[Verdict],
    previous: Option<&Verdicts>,
    went_through: impl Fn(&str) -> bool,
) -> Vec<Verdict> {
    gone(present, previous)
        .into_iter()
        .filter(|v| !went_through(&site_key(&v.account, &v.region)))
        .cloned()
        .collect()
}

/// The budget of full imports, the longest waiting first (never imported, then the oldest):
/// each takes the findings after its cursor, in id order, as far as the budget goes, and the
/// changed tables' findings before the cursor again; a site with no room left waits, its changed
/// tables' findings still going now. Every site with room moves on, however large.
fn share_budget(
    mut drafts: Vec<&mut Draft>,
    tables: Tables<'_>,
    budget: usize,
    now: DateTime<Utc>,
) -> Result<(), SpoolError> {
    drafts.retain(|d| d.site.mode == Mode::Full);
    drafts.sort_by_key(|d| (d.site.synced, d.site.cursor.is_none()));
    let mut left = budget;
    for d in drafts {
        if left == 0 {
            d.site.mode = Mode::Deferred;
            d.rest.clear();
            continue;
        }
        let changed = std::mem::take(&mut d.site.findings);
        let rest = std::mem::take(&mut d.rest);
        let mut all: Vec<Finding> = changed.clone();
        for r in tables.pick(rest.iter().copied()) {
            let r = r?;
            all.extend(table_findings(&r, now));
        }
        all.sort_by(|a, b| a.id.cmp(&b.id));
        let cursor = d.site.cursor.as_deref().unwrap_or("");
        let from = all.partition_point(|f| f.id.as_str() <= cursor);
        let take = (all.len() - from).min(left);
        left -= take;
        d.site.completes = from + take == all.len();
        d.site.next_cursor = all[..from + take].last().map(|f| f.id.clone());
        d.site.findings = all.drain(from..from + take).collect();
        d.site
            .findings
            .extend(changed.into_iter().filter(|f| f.id.as_str() <= cursor));
    }
    Ok(())
}

/// The sites' full-import times after this run: now where a full import completed and went
/// through, the previous time where a delta (or a part of a full import) did, none where
/// anything was refused.
pub fn synced_after(
    sites: &[Site],
    went_through: impl Fn(&Site) -> bool,
    now: DateTime<Utc>,
) -> BTreeMap<String, DateTime<Utc>> {
    sites
        .iter()
        .filter_map(|s| {
            let at = match s.mode {
                _ if !went_through(s) => None,
                Mode::Full if s.completes => Some(now),
                Mode::Full | Mode::Delta | Mode::Deferred => s.synced,
                Mode::Overflow => None,
            };
            at.map(|t| (s.key(), t))
        })
        .collect()
}

/// The cursors after this run: where a part of a full import went through, its last id; kept
/// where a site waited; none where a full import completed or anything was refused.
pub fn cursors_after(
    sites: &[Site],
    went_through: impl Fn(&Site) -> bool,
) -> BTreeMap<String, String> {
    sites
        .iter()
        .filter_map(|s| {
            let cursor = match s.mode {
                Mode::Full if went_through(s) && !s.completes => s.next_cursor.clone(),
                Mode::Deferred if went_through(s) => s.cursor.clone(),
                _ => None,
            };
            cursor.map(|c| (s.key(), c))
        })
        .collect()
}
