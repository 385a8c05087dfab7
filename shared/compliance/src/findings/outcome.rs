//! What an import did, told where it belongs: a site Security Hub did not take is a gap in the
//! report and one incident (`securityhub#ACCOUNT#REGION`, one alert until it works again, then
//! closed); the counts go to the run's summary.

use chrono::{DateTime, Utc};
use serde::Serialize;

use relay_core::incident::raise_with;
use relay_core::ports::{Alert, AlertPort, Clock, LedgerPort, PortResult};

use super::import::SiteResult;
use super::plan::{synced_after, Site};
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

    pub fn summary(&self) -> FindingsSummary {
        let mut s = FindingsSummary::default();
        for (site, result) in self.each() {
            match result {
                SiteResult::Imported { findings, calls } => {
                    s.imported += findings;
                    s.calls += calls;
                    match site.mode {
                        super::plan::Mode::Full => s.full_sites += 1,
                        _ => s.delta_sites += 1,
                    }
                }
                SiteResult::Deferred => s.deferred_sites += 1,
                _ => s.failed_sites += 1,
            }
        }
        s
    }

    /// Each site's last full import after this run (the verdicts keep it).
    pub fn synced(&self, now: DateTime<Utc>) -> std::collections::BTreeMap<String, DateTime<Utc>> {
        let went: std::collections::BTreeSet<String> = self
            .each()
            .filter(|(_, r)| r.went_through())
            .map(|(s, _)| s.key())
            .collect();
        synced_after(self.sites, |s| went.contains(&s.key()), now)
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

    /// One incident per site that failed (a new one alerts, an open one is already told); the
    /// open ones of sites that now went through are closed. Best effort: what cannot be told
    /// now is told by the next run, which imports those sites again in full.
    pub async fn tell(
        &self,
        ledger: &impl LedgerPort,
        alerts: &impl AlertPort,
        clock: &impl Clock,
    ) -> PortResult<()> {
        let open = ledger.open_incidents().await?;
        for (site, result) in self.each() {
            let id = format!("{INCIDENT_PREFIX}{}#{}", site.account, site.region);
            match why(result) {
                Some((cause, error)) => {
                    raise_with(ledger, alerts, clock, id, alert(site, cause, &error)).await?;
                }
                None if matches!(result, SiteResult::Imported { .. })
                    && open.iter().any(|i| i.id == id) =>
                {
                    ledger.close_incident(&id).await?;
                }
                None => {}
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
        SiteResult::Imported { .. } | SiteResult::Deferred => None,
    }
}

fn alert(site: &Site, cause: &str, error: &str) -> Alert {
    let fix = match cause {
        "not-enabled" => {
            "Enable Security Hub there (or leave it: the report and findings.asff.json hold the \
             findings)."
        }
        "refused" => {
            "Update the spoke stack there: its executor role needs securityhub:BatchImportFindings \
             on the account's own product ARN."
        }
        _ => "Read the refusal above; the next report imports every finding there again.",
    };
    Alert {
        subject: format!(
            "Backup Relay: findings not imported in {} {}",
            site.account, site.region
        ),
        message: format!(
            "Security Hub in account {}, Region {} did not take Backup Relay's findings for its \
             tables; the report lists this as a gap, and every report imports them all again until \
             one goes through (this incident closes then, with no further alert).\n\
             {error}\nLikely fix: {fix}",
            site.account, site.region
        ),
        hop: None,
        account: Some(site.account.clone()),
        resource: None,
        route: None,
        all_chains: false,
    }
}
