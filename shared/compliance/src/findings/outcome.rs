//! What an import did, told where it belongs: a site Security Hub did not take is a gap in the
//! report, and each cause is one incident for every site it stops (`securityhub#not-enabled`,
//! `securityhub#refused`, `securityhub#findings-failed`: one alert however many accounts and
//! Regions, closed when a run has no site failing so); the counts go to the run's summary. The
//! incidents name no account or table: they are about Security Hub, not about any table's
//! protection (RELAY_OPEN_INCIDENTS does not count them).

use chrono::{DateTime, Utc};
use serde::Serialize;

use relay_core::incident::raise_with;
use relay_core::ports::{Alert, AlertPort, Clock, LedgerPort, PortResult};

use super::import::SiteResult;
use super::plan::{cursors_after, synced_after, Mode, Site};
use crate::inventory::{GapKind, InventoryGap};

/// The prefix of the incidents this raises.
pub const INCIDENT_PREFIX: &str = "securityhub#";

/// The counts of a run's import, for its answer and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FindingsSummary {
    /// Findings Security Hub took, and the calls that took them.
    pub imported: usize,
    pub calls: usize,
    /// Accounts and Regions imported in full, by a delta, or left to a later run.
    pub full_sites: usize,
    pub delta_sites: usize,
    pub deferred_sites: usize,
    /// Accounts and Regions where Security Hub did not take them (each a gap and an incident).
    pub failed_sites: usize,
}

/// The sites planned and how each went, in the same order.
pub struct Outcome<'a> {
    pub sites: &'a [Site],
    pub results: &'a [SiteResult],
}

impl Outcome<'_> {
    fn each(&self) -> impl Iterator<Item = (&Site, &SiteResult)> {
        self.sites.iter().zip(self.results)
    }

    /// The keys of the sites whose import went through.
    fn went_through(&self) -> std::collections::BTreeSet<String> {
        self.each()
            .filter(|(_, r)| r.went_through())
            .map(|(s, _)| s.key())
            .collect()
    }

    pub fn summary(&self) -> FindingsSummary {
        let mut s = FindingsSummary::default();
        for (site, result) in self.each() {
            match result {
                SiteResult::Imported { findings, calls } => {
                    s.imported += findings;
                    s.calls += calls;
                    match site.mode {
                        Mode::Full => s.full_sites += 1,
                        Mode::Delta => s.delta_sites += 1,
                        Mode::Deferred | Mode::Overflow => s.deferred_sites += 1,
                    }
                }
                _ => s.failed_sites += 1,
            }
        }
        s
    }

    /// Each site's last full import after this run (the verdicts keep it).
    pub fn synced(&self, now: DateTime<Utc>) -> std::collections::BTreeMap<String, DateTime<Utc>> {
        let went = self.went_through();
        synced_after(self.sites, |s| went.contains(&s.key()), now)
    }

    /// The tables that left the report (not among `present`, its verdicts) whose findings are
    /// still to archive, after this run.
    pub fn pending_archives(
        &self,
        present: &[crate::Verdict],
        previous: Option<&crate::Verdicts>,
    ) -> Vec<crate::Verdict> {
        let went = self.went_through();
        super::plan::pending_archives(present, previous, |key| went.contains(key))
    }

    /// Each site's cursor of a full import cut by the budget, after this run.
    pub fn cursors(&self) -> std::collections::BTreeMap<String, String> {
        let went = self.went_through();
        cursors_after(self.sites, |s| went.contains(&s.key()))
    }

    /// The sites Security Hub did not take, as gaps of the report.
    pub fn gaps(&self) -> Vec<InventoryGap> {
        self.each()
            .filter_map(|(site, result)| {
                why(result).map(|(_, error)| InventoryGap {
                    account: site.account.clone(),
                    region: site.region.clone(),
                    what: "Security Hub findings".into(),
                    error,
                    kind: GapKind::SecurityHub,
                    vault: None,
                })
            })
            .collect()
    }

    /// One incident per cause, for every site it stops this run (a new one alerts; an open one
    /// was told); the open ones of causes no site met this run are closed. Best effort: what
    /// cannot be told now is told by the next run, which imports those sites again in full.
    pub async fn tell(
        &self,
        ledger: &impl LedgerPort,
        alerts: &impl AlertPort,
        clock: &impl Clock,
    ) -> PortResult<()> {
        let mut by_cause: std::collections::BTreeMap<&str, Vec<(&Site, String)>> =
            std::collections::BTreeMap::new();
        for (site, result) in self.each() {
            if let Some((cause, error)) = why(result) {
                by_cause.entry(cause).or_default().push((site, error));
            }
        }
        for (cause, sites) in &by_cause {
            let id = format!("{INCIDENT_PREFIX}{cause}");
            raise_with(ledger, alerts, clock, id, alert(cause, sites)).await?;
        }
        for open in ledger.open_incidents().await? {
            let cause = open.id.strip_prefix(INCIDENT_PREFIX);
            if cause.is_some_and(|c| !by_cause.contains_key(c)) {
                ledger.close_incident(&open.id).await?;
            }
        }
        Ok(())
    }
}

/// The cause and the error of a site that did not go through.
fn why(result: &SiteResult) -> Option<(&'static str, String)> {
    match result {
        SiteResult::NotEnabled(e) => {
            Some(("not-enabled", format!("Security Hub is not enabled: {e}")))
        }
        SiteResult::Refused(e) => Some(("refused", e.to_string())),
        SiteResult::FindingsFailed(failed) => {
            let first = failed.first().map_or(String::new(), |f| {
                format!(" (the first: {} {}: {})", f.id, f.code, f.message)
            });
            Some((
                "findings-failed",
                format!("{} findings were refused twice{first}", failed.len()),
            ))
        }
        SiteResult::Imported { .. } => None,
    }
}

/// Sites an alert names; the report's gaps have them all.
const SITES_LISTED: usize = 20;

fn alert(cause: &str, sites: &[(&Site, String)]) -> Alert {
    let fix = match cause {
        "not-enabled" => {
            "Enable Security Hub there (or leave it: the report and findings.asff.json hold the \
             findings)."
        }
        "refused" => {
            "Deploy the current spoke stack there: its findings role (FindingsRoleName) may \
             import into the account's own product; or correct FINDINGS_ROLE_NAME."
        }
        _ => "Read the refusal above; the next report imports every finding there again.",
    };
    let mut listed = String::new();
    for (site, error) in sites.iter().take(SITES_LISTED) {
        listed.push_str(&format!("  {} {}: {error}\n", site.account, site.region));
    }
    if sites.len() > SITES_LISTED {
        listed.push_str(&format!(
            "  and {} more (the report's gaps list them all)\n",
            sites.len() - SITES_LISTED
        ));
    }
    Alert::plain(
        format!(
            "Backup Relay: findings not imported in {} accounts and Regions ({cause})",
            sites.len()
        ),
        format!(
            "Security Hub did not take Backup Relay's findings in these accounts and Regions; each \
             is a gap in the report, and every report imports them all again until it goes \
             through (this incident closes then, with no further alert; sites that fail the same \
             way meanwhile are in the report, not in another alert):\n{listed}Likely fix: {fix}"
        ),
    )
}
