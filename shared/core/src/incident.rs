//! Incidents: every shortfall a person must know about ends in exactly one alert. An incident is
//! opened first (a conditional put: only one caller wins), its alert sent, and only then marked
//! alerted. An alert whose send failed stays in the ledger as an unsent incident, and the
//! reconciler's next run sends it (the outbox): never zero alerts, never a storm.

use crate::ports::{Alert, Incident, LedgerPort, PortError, PortResult, RouterPorts};

/// Open `id` with `alert` and send it if this call opened it. `Ok(true)` when this call sent it.
pub async fn raise<P: RouterPorts>(ports: &P, id: String, alert: Alert) -> PortResult<bool> {
    let incident = Incident::new(id, alert, ports.now());
    if !ports.ledger().open_incident(&incident).await? {
        return Ok(false);
    }
    ports.send(&incident.alert).await?;
    mark_sent(ports, &incident.id).await?;
    Ok(true)
}

/// Mark a sent alert. A mark that fails leaves the alert in the outbox, to be sent a second time:
/// after a send that went through, the mark is worth more patience than any other write.
async fn mark_sent<P: RouterPorts>(ports: &P, id: &str) -> PortResult<()> {
    const ROUNDS: u32 = 3;
    let mut round = 1;
    loop {
        match ports.ledger().incident_alerted(id, ports.now()).await {
            Err(e) if e.kind.is_transient() && round < ROUNDS => round += 1,
            other => return other,
        }
    }
}

/// An account whose executor role cannot be assumed: one incident until it is reachable again.
pub async fn raise_account<P: RouterPorts>(
    ports: &P,
    account: &str,
    error: &PortError,
) -> PortResult<bool> {
    let alert = Alert {
        subject: format!("Backup Relay: cannot reach account {account}"),
        message: format!(
            "AssumeRole into account {account} was refused: every copy into or out of its vaults, and \
             every check of them, waits until it works again (the reconciler retries hourly and \
             closes this incident then).\nAWS said: {error}\nLikely fix: deploy the spoke stack in \
             {account} (the executor role, trusting the hub's function roles), or correct \
             EXECUTOR_ROLE_NAME."
        ),
        hop: None,
        account: Some(account.to_string()),
    };
    raise(ports, Incident::account_id(account), alert).await
}

/// Send every open incident whose alert was never sent. Returns how many were sent now and the
/// open incidents (for the caller to close what is resolved).
pub async fn drain<P: RouterPorts>(ports: &P) -> PortResult<(u64, Vec<Incident>)> {
    let mut open = ports.ledger().open_incidents().await?;
    let mut sent = 0;
    for incident in open.iter_mut().filter(|i| i.alerted_at.is_none()) {
        ports.send(&incident.alert).await?;
        mark_sent(ports, &incident.id).await?;
        incident.alerted_at = Some(ports.now());
        sent += 1;
    }
    Ok((sent, open))
}
