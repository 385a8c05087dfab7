//! Closing incidents whose condition is gone, so a new breakage alerts again.

use super::{hop, ReconcileReport, BEHIND_INCIDENT};
use crate::incident;
use crate::router;
use relay_core::ledger::{vault_incident_parts, VAULT_MISSING_CAUSE};
use relay_core::ports::{Incident, LedgerPort, RouterPorts};

/// Causes no copy landing fixes: a point that can never be copied (cold, deleted), a copy
/// deleted after it was made, a hop the policy's lock setting skips. Their incidents expire with
/// the ledger's (90 days).
const NOT_CLOSED_BY_COPIES: [&str; 4] = [
    hop::MISSING_CAUSE,
    hop::COLD_CAUSE,
    hop::DELETED_CAUSE,
    router::SKIPPED_CAUSE,
];

/// A `copies#` incident is resolved once a copy of a backup newer than it lands in its vault
/// (from its account, for a cause of one), or, for a vault that did not exist (or a recovery
/// point gone), once a route into the vault ran through: the vault answers.
fn copies_resolved(incident: &Incident, report: &ReconcileReport) -> bool {
    let Some((vault, cause, account)) = vault_incident_parts(&incident.id) else {
        return false;
    };
    if NOT_CLOSED_BY_COPIES.contains(&cause) {
        return false;
    }
    if cause == VAULT_MISSING_CAUSE && report.destinations_answered.contains(vault) {
        return true;
    }
    let into = account.map_or_else(|| vault.to_string(), |a| format!("{vault}#{a}"));
    report
        .copied_into
        .get(&into)
        .is_some_and(|t| *t > incident.opened_at)
}

/// Conditions that are gone close their incidents, so a new breakage alerts again: an account
/// reached this run and refused nowhere, a phase that ran through.
pub(super) async fn close_resolved<P: RouterPorts>(
    ports: &P,
    open: &[Incident],
    report: &mut ReconcileReport,
) {
    // An incident whose alert was never sent stays for the outbox, whatever has changed since:
    // closing it would leave a shortfall no one heard of.
    for incident in open.iter().filter(|i| i.alerted_at.is_some()) {
        let resolved = match incident.id.split_once('#') {
            Some(("account", account)) => {
                report.accounts_reached.contains(account)
                    && !report.accounts_unreachable.contains(account)
            }
            Some(("phase", name)) => report.phases_done.contains(name),
            Some(("destination", _)) => report.phases_done.contains(&incident.id),
            // The route ran through and, in all of this pass, none of its copies waited a day
            // to start (queued) or neared the look-back's edge (window).
            Some(("queued" | "window", route)) => {
                report.phases_done.contains(&format!("route {route}"))
                    && !report.seen_in_pass().contains(&incident.id)
            }
            _ if incident.id == BEHIND_INCIDENT => report.pass_clean,
            // Copies into the vault are made again: one of a backup newer than the incident.
            Some(("copies", _)) => copies_resolved(incident, report),
            // Backups into the vault work again: a newer one is there.
            Some(("backup", rest)) => rest.rsplit_once('#').is_some_and(|(vault, _)| {
                report
                    .newest_in
                    .get(vault)
                    .is_some_and(|t| *t > incident.opened_at)
            }),
            _ => false,
        };
        if resolved {
            if let Err(e) = ports.ledger().close_incident(&incident.id).await {
                report.errors.push(format!("closing {}: {e}", incident.id));
            }
        }
    }
    close_resolved_families(ports, open, report).await;
}

/// A family's alert (many accounts failing alike) stands until none of its members is open: read
/// again after this run's closing, so a member opened meanwhile keeps it.
async fn close_resolved_families<P: RouterPorts>(
    ports: &P,
    open: &[Incident],
    report: &mut ReconcileReport,
) {
    let families: Vec<&Incident> = open
        .iter()
        .filter(|i| i.alerted_at.is_some() && i.id.starts_with(incident::FAMILY_PREFIX))
        .collect();
    if families.is_empty() {
        return;
    }
    let now_open = match ports.ledger().open_incidents().await {
        Ok(open) => open,
        Err(e) => return report.errors.push(format!("incidents: {e}")),
    };
    for family in families {
        if !incident::family_resolved(&family.id, &now_open) {
            continue;
        }
        match ports.ledger().close_incident(&family.id).await {
            Ok(()) => reraise_if_joined(ports, &family.id, report).await,
            Err(e) => report.errors.push(format!("closing {}: {e}", family.id)),
        }
    }
}

/// A member covered by the family between the read above and its closing would be left with no
/// alert standing: read once more, and raise the family again for it (an alert more, never none).
async fn reraise_if_joined<P: RouterPorts>(ports: &P, family: &str, report: &mut ReconcileReport) {
    let open = match ports.ledger().open_incidents().await {
        Ok(open) => open,
        Err(e) => return report.errors.push(format!("incidents: {e}")),
    };
    let members: Vec<&Incident> = open
        .iter()
        .filter(|i| incident::family_of(&i.id).as_deref() == Some(family))
        .collect();
    let Some(latest) = members.iter().max_by_key(|i| i.opened_at) else {
        return;
    };
    let alert = incident::family_alert(family, &latest.alert, members.len());
    match incident::raise(ports, family.to_string(), alert).await {
        Ok(sent) => report.alerts_sent += u64::from(sent),
        Err(e) => report.errors.push(format!("raising {family}: {e}")),
    }
}
