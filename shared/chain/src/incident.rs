//! Incidents: every shortfall a person must know about ends in exactly one alert. An incident is
//! opened first (a conditional put: only one caller wins), its alert sent, and only then marked
//! alerted. An alert whose send failed stays in the ledger as an unsent incident, and the
//! reconciler's next run sends it (the outbox): never zero alerts, never a storm.

pub use relay_core::incident::{family_resolved, mark_sent, raise_with, FAMILY_PREFIX};
use relay_core::ports::{Alert, Incident, LedgerPort, PortError, PortResult, RouterPorts};

/// Open `id` with `alert` and send it if this call opened it. `Ok(true)` when this call sent it.
pub async fn raise<P: RouterPorts>(ports: &P, id: String, alert: Alert) -> PortResult<bool> {
    raise_with(ports.ledger(), ports, ports, id, alert).await
}

/// An account whose executor role cannot be assumed: one incident until it is reachable again.
pub async fn raise_account<P: RouterPorts>(
    ports: &P,
    account: &str,
    error: &PortError,
) -> PortResult<bool> {
    let alert = Alert { account: Some(account.to_string()), ..Alert::plain(format!("Backup Relay: cannot reach account {account}"), format!(
            "AssumeRole into account {account} was refused: every copy into or out of its vaults, and \
             every check of them, waits until it works again (the reconciler retries hourly and \
             closes this incident then). Backups that leave the look-back window (LOOKBACK_DAYS) \
             meanwhile are not re-driven afterwards: the compliance report shows what is missing.\n\
             AWS said: {error}\nLikely fix: deploy the spoke stack in {account} (the executor role, \
             trusting the hub's function roles), or correct EXECUTOR_ROLE_NAME."
        )) };
    raise(ports, Incident::account_id(account), alert).await
}

/// An unsent incident younger than this may be one an invocation is sending right now: the
/// outbox leaves it to that invocation (Lambda's limit is 15 minutes).
const OUTBOX_GRACE_MINUTES: i64 = 15;

/// Send every open incident whose alert was never sent. Returns how many were sent now, the open
/// incidents (for the caller to close what is resolved) and the sends that failed (each incident
/// on its own: one that cannot be sent does not hold back the others).
pub async fn drain<P: RouterPorts>(ports: &P) -> PortResult<(u64, Vec<Incident>, Vec<PortError>)> {
    let mut open = ports.ledger().open_incidents().await?;
    let settled = ports.now() - chrono::Duration::minutes(OUTBOX_GRACE_MINUTES);
    let (mut sent, mut failed) = (0, Vec::new());
    for incident in open
        .iter_mut()
        .filter(|i| i.alerted_at.is_none() && i.opened_at < settled)
    {
        let result = match ports.send(&incident.alert).await {
            Ok(()) => mark_sent(ports.ledger(), ports, &incident.id).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                incident.alerted_at = Some(ports.now());
                sent += 1;
            }
            Err(e) => failed.push(e),
        }
    }
    Ok((sent, open, failed))
}
