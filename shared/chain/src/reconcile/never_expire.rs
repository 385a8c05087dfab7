//! A never_expire vault's phase: every point of the look-back (every point, once a day) checked by
//! the retention guard.

use super::*;

pub(super) async fn guard_phase<P: RouterPorts>(
    ports: &P,
    vault: &Vault,
    cursor: Cursor,
    since: Option<DateTime<Utc>>,
    budget: RunBudget,
    report: &mut ReconcileReport,
) -> Result<Progress, PortError> {
    let phase = cursor.phase;
    let lock: Option<VaultLock> = match ports.vault_lock(&vault.arn).await {
        Ok(l) => l,
        Err(e) if e.kind.is_transient() || e.is_account_denied() => return Err(e),
        Err(e) => {
            report.errors.push(format!("vault '{}': {e}", vault.alias));
            None
        }
    };
    let at = |token: Option<String>| Cursor {
        phase,
        token,
        ..Cursor::default()
    };
    let mut out = GuardOutcome::default();
    let mut token = cursor.token;
    let progress = loop {
        if budget.exhausted(report.pages, ports.instant()) {
            break Progress::Stopped(at(token));
        }
        let page_token = token.clone();
        let query = ListQuery {
            created_after: since,
            created_before: None,
            resource_arn: None,
            page_token: token,
            page_size: 1000,
        };
        let p = page(ports, &vault.arn, query, report).await?;
        let mut out_of_time = false;
        for point in &p.items {
            if budget.past_deadline(ports.instant()) {
                out_of_time = true;
                break;
            }
            report.points_scanned += 1;
            if let Err(e) =
                retention_guard::check_point(ports, vault, point, lock.as_ref(), &mut out).await
            {
                report
                    .errors
                    .push(format!("{}: {e}", point.recovery_point_arn));
            }
        }
        if out_of_time {
            // This page again next run: the points repaired here are compliant by then.
            break Progress::Stopped(at(page_token));
        }
        token = p.next_token;
        match &token {
            None => break Progress::Done,
            Some(_) => save(ports, &at(token.clone()), report).await?,
        }
    };
    report.lifecycles_repaired += u64::from(out.repaired);
    report.retention_violations += u64::from(out.violations);
    report.alerts_sent += u64::from(out.alerts_sent);
    Ok(progress)
}
