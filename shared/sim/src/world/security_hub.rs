//! Security Hub in every simulated account and Region, and the hub's event bus, as AWS answers
//! them (facts §15): BatchImportFindings takes at most 100 findings, only those naming the
//! calling account and its own product, answers the ones it refused per item, refuses the whole
//! call where Security Hub is not enabled; findings not updated for 90 days are gone. PutEvents
//! takes at most 10 entries and answers the refused ones per entry.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use relay_compliance::change_events::{ChangeDetail, ChangeEventsPort, MAX_PER_CALL};
use relay_compliance::findings::import::{
    FailedFinding, FindingsPort, MAX_FINDING_BYTES, MAX_PER_CALL as MAX_FINDINGS, NOT_ENABLED,
};
use relay_compliance::findings::{product_arn, Finding};
use relay_core::arn::Location;
use relay_core::ports::{ErrorKind, PortError, PortResult};

use super::World;
use crate::Sim;

/// Security Hub deletes a finding this long after its last update.
pub const RETENTION_DAYS: i64 = 90;

#[derive(Debug, Default)]
pub struct SecurityHub {
    /// (account, Region) where Security Hub is not enabled.
    pub disabled: BTreeSet<(String, String)>,
    /// Accounts whose executor role may not import findings (AccessDenied).
    pub refused_accounts: BTreeSet<String>,
    /// The next this many findings are refused in the answer (a test's fault).
    pub refuse_next_findings: u32,
    /// The next this many change events are refused in the answer.
    pub refuse_next_events: u32,
    /// PutEvents is denied (the role or the bus policy): every call fails for good.
    pub events_denied: bool,
    /// Findings by (account, Region), then by id.
    pub findings: BTreeMap<(String, String), BTreeMap<String, Finding>>,
    pub calls: u64,
}

impl SecurityHub {
    /// The findings Security Hub still holds in `account` and `region` at `now`.
    pub fn held(&self, account: &str, region: &str, now: DateTime<Utc>) -> Vec<&Finding> {
        let oldest = now - Duration::days(RETENTION_DAYS);
        self.findings
            .get(&(account.to_string(), region.to_string()))
            .into_iter()
            .flat_map(|m| m.values())
            .filter(|f| DateTime::parse_from_rfc3339(&f.updated_at).is_ok_and(|t| t >= oldest))
            .collect()
    }

    /// Every finding still held, anywhere.
    pub fn all_held(&self, now: DateTime<Utc>) -> Vec<&Finding> {
        self.findings
            .keys()
            .flat_map(|(a, r)| self.held(a, r, now))
            .collect()
    }
}

fn refused(code: &'static str, message: String) -> PortError {
    PortError::new(
        ErrorKind::Permanent,
        "BatchImportFindings",
        Some(code),
        message,
    )
}

impl World {
    fn import_findings(
        &mut self,
        at: &Location,
        findings: &[Finding],
    ) -> PortResult<Vec<FailedFinding>> {
        self.counted("BatchImportFindings");
        self.security_hub.calls += 1;
        let hub = &mut self.security_hub;
        if findings.is_empty() || findings.len() > MAX_FINDINGS {
            return Err(refused(
                "InvalidInputException",
                format!(
                    "Findings must hold 1 to {MAX_FINDINGS} items, not {}",
                    findings.len()
                ),
            ));
        }
        if hub.refused_accounts.contains(&at.account) {
            return Err(refused(
                "AccessDeniedException",
                format!(
                    "not authorized to perform securityhub:BatchImportFindings in {}",
                    at.account
                ),
            ));
        }
        if hub
            .disabled
            .contains(&(at.account.clone(), at.region.clone()))
        {
            return Err(refused(
                NOT_ENABLED,
                format!(
                    "Account {} is not subscribed to AWS Security Hub",
                    at.account
                ),
            ));
        }
        let own_product = product_arn(&at.partition, &at.region, &at.account);
        let mut failed = Vec::new();
        for f in findings {
            let size = serde_json::to_string(f).map_or(usize::MAX, |s| s.len());
            let why = if f.aws_account_id != at.account || f.product_arn != own_product {
                Some((
                    "AccessDeniedException",
                    "the finding names another account or product".to_string(),
                ))
            } else if size > MAX_FINDING_BYTES {
                Some(("InvalidInput", format!("the finding is {size} bytes")))
            } else if hub.refuse_next_findings > 0 {
                hub.refuse_next_findings -= 1;
                Some(("InternalException", "Internal service failure".to_string()))
            } else {
                None
            };
            match why {
                Some((code, message)) => failed.push(FailedFinding {
                    id: f.id.clone(),
                    code: code.into(),
                    message,
                }),
                None => {
                    let held = hub
                        .findings
                        .entry((at.account.clone(), at.region.clone()))
                        .or_default();
                    let updated = match held.get(&f.id) {
                        Some(was) => update(was, f),
                        None => f.clone(),
                    };
                    held.insert(f.id.clone(), updated);
                }
            }
        }
        Ok(failed)
    }

    fn put_change_events(&mut self, details: &[ChangeDetail]) -> PortResult<Vec<usize>> {
        self.counted("PutEvents");
        if details.is_empty() || details.len() > MAX_PER_CALL {
            return Err(PortError::new(
                ErrorKind::Permanent,
                "PutEvents",
                Some("ValidationException"),
                format!(
                    "Entries must hold 1 to {MAX_PER_CALL} items, not {}",
                    details.len()
                ),
            ));
        }
        if self.security_hub.events_denied {
            return Err(PortError::new(
                ErrorKind::AccessDenied,
                "PutEvents",
                Some("AccessDeniedException"),
                "not authorized to perform events:PutEvents on the bus",
            ));
        }
        let mut refused = Vec::new();
        for (i, d) in details.iter().enumerate() {
            if self.security_hub.refuse_next_events > 0 {
                self.security_hub.refuse_next_events -= 1;
                refused.push(i);
            } else {
                self.change_events.push(d.clone());
            }
        }
        Ok(refused)
    }
}

/// An import over a finding Security Hub holds: the provider's fields replace the old, but not
/// the workflow, which BatchImportFindings cannot set once the finding exists; Security Hub moves
/// it itself (facts §15): to RESOLVED when the compliance becomes PASSED, back to NEW when it
/// fails again or an archived finding is active again.
fn update(was: &Finding, now: &Finding) -> Finding {
    let mut out = now.clone();
    out.workflow = was.workflow.clone();
    let passed = |f: &Finding| f.compliance.status == "PASSED";
    if passed(now) && !passed(was) {
        out.workflow.status = "RESOLVED".into();
    } else if (!passed(now) && passed(was))
        || (was.record_state == "ARCHIVED" && now.record_state == "ACTIVE")
    {
        out.workflow.status = "NEW".into();
    }
    out
}

impl FindingsPort for Sim {
    async fn import_findings(
        &self,
        at: &Location,
        findings: &[Finding],
    ) -> PortResult<Vec<FailedFinding>> {
        self.world().import_findings(at, findings)
    }
}

impl ChangeEventsPort for Sim {
    async fn put_change_events(&self, details: &[ChangeDetail]) -> PortResult<Vec<usize>> {
        self.world().put_change_events(details)
    }
}
