//! Raising an incident: opened first (a conditional put: only one caller wins), its alert sent,
//! and only then marked alerted. An alert whose send failed stays in the ledger as an unsent
//! incident, which the reconciler's next run sends (the outbox): never zero alerts, never a storm.
//! Here for every function (the chain's, the report's); `relay_chain::incident` builds on it.

use crate::ports::{Alert, AlertPort, Clock, Incident, LedgerPort, PortResult};

mod family;
pub use family::{
    cover_from, family_alert, family_of, family_resolved, ALERTS_BEFORE_ONE_FOR_ALL, FAMILY_PREFIX,
    FAMILY_WINDOW_HOURS, MANY_UNREACHABLE_SUBJECT,
};

/// Open `id` with `alert` and send it if this call opened it. `Ok(true)` when this call sent it.
/// An incident of a family ([`family_of`]) past [`ALERTS_BEFORE_ONE_FOR_ALL`] open ones is
/// covered by the family's one alert instead of its own.
pub async fn raise_with(
    ledger: &impl LedgerPort,
    alerts: &impl AlertPort,
    clock: &impl Clock,
    id: String,
    alert: Alert,
) -> PortResult<bool> {
    let incident = Incident::new(id, alert, clock.now());
    if !ledger.open_incident(&incident).await? {
        return Ok(false);
    }
    if let Some(family) = family_of(&incident.id) {
        let open = ledger.open_incidents().await?;
        if let Some(sent) = cover_from(ledger, alerts, clock, &incident, &family, &open).await? {
            return Ok(sent);
        }
    }
    send_opened(ledger, alerts, clock, &incident).await
}

pub(crate) async fn send_opened(
    ledger: &impl LedgerPort,
    alerts: &impl AlertPort,
    clock: &impl Clock,
    incident: &Incident,
) -> PortResult<bool> {
    alerts.send(&incident.alert).await?;
    mark_sent(ledger, clock, &incident.id).await?;
    Ok(true)
}

/// Mark a sent alert. A mark that fails leaves the alert in the outbox, to be sent a second time:
/// after a send that went through, the mark is worth more patience than any other write.
pub async fn mark_sent(ledger: &impl LedgerPort, clock: &impl Clock, id: &str) -> PortResult<()> {
    const ROUNDS: u32 = 3;
    let mut round = 1;
    loop {
        match ledger.incident_alerted(id, clock.now()).await {
            Err(e) if e.kind.is_transient() && round < ROUNDS => round += 1,
            other => return other,
        }
    }
}
