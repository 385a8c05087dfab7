//! Incidents: every shortfall a person must know about ends in exactly one alert. An incident is
//! opened first (a conditional put: only one caller wins), its alert sent, and only then marked
//! alerted. An alert whose send failed stays in the ledger as an unsent incident, and the
//! reconciler's next run sends it (the outbox): never zero alerts, never a storm.

pub use relay_core::incident::{
    cover_from, family_alert, family_of, family_resolved, mark_sent, raise_with, FAMILY_PREFIX,
};
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
    // As read: a member left unsent (its family's read failed, say) is covered by the family
    // here too, not sent on its own: an organisation's burst of them is no storm either.
    let snapshot = open.clone();
    for incident in open
        .iter_mut()
        .filter(|i| i.alerted_at.is_none() && i.opened_at < settled)
    {
        let result = match send_or_cover(ports, incident, &snapshot).await {
            Ok(own) => mark_sent(ports.ledger(), ports, &incident.id)
                .await
                .map(|()| own),
            Err(e) => Err(e),
        };
        match result {
            Ok(own) => {
                incident.alerted_at = Some(ports.now());
                sent += u64::from(own);
            }
            Err(e) => failed.push(e),
        }
    }
    Ok((sent, open, failed))
}

/// An unsent incident's alert, or its family's when the family covers it (then it is marked by
/// the cover, and again by the caller: the same mark). `true` when an alert was sent.
async fn send_or_cover<P: RouterPorts>(
    ports: &P,
    incident: &Incident,
    open: &[Incident],
) -> PortResult<bool> {
    if let Some(family) = family_of(&incident.id) {
        let ledger = ports.ledger();
        if let Some(sent) = cover_from(ledger, ports, ports, incident, &family, open).await? {
            return Ok(sent);
        }
    }
    ports.send(&incident.alert).await.map(|()| true)
}
