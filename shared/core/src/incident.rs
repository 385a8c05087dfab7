//! Raising an incident: opened first (a conditional put: only one caller wins), its alert sent,
//! and only then marked alerted. An alert whose send failed stays in the ledger as an unsent
//! incident, which the reconciler's next run sends (the outbox): never zero alerts, never a storm.
//! Here for every function (the chain's, the report's); `relay_chain::incident` builds on it.

use crate::ledger::vault_incident_parts;
use crate::ports::{Alert, AlertPort, Clock, Incident, LedgerPort, PortResult};

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
        if let Some(sent) = cover_by_family(ledger, alerts, clock, &incident, &family).await? {
            return Ok(sent);
        }
    }
    send_opened(ledger, alerts, clock, &incident).await
}

async fn send_opened(
    ledger: &impl LedgerPort,
    alerts: &impl AlertPort,
    clock: &impl Clock,
    incident: &Incident,
) -> PortResult<bool> {
    alerts.send(&incident.alert).await?;
    mark_sent(ledger, clock, &incident.id).await?;
    Ok(true)
}

/// Incidents of one family open at once, each with its own alert, before the rest are covered by
/// one alert for them all: a destination that refuses every member of a 1,000-account
/// organisation (its access policy, its key) is one fix, not 1,000 alerts.
pub const ALERTS_BEFORE_ONE_FOR_ALL: usize = 3;

/// The prefix of a family's incident ([`family_of`]).
pub const FAMILY_PREFIX: &str = "many#";

/// The family of an incident about one account of many: copies into one vault failing for one
/// cause of the source account's (`copies#VAULT#CAUSE#ACCOUNT` -> `many#copies#VAULT#CAUSE`), or
/// an account that cannot be reached (`account#ACCOUNT` -> `many#account`: the hub's roles
/// renamed, or a spoke's trust broken by one StackSet update, refuse every account at once).
pub fn family_of(id: &str) -> Option<String> {
    if let Some(account) = id.strip_prefix(ACCOUNT_PREFIX) {
        return (!account.is_empty()).then(|| format!("{FAMILY_PREFIX}account"));
    }
    if let Some((_, cause)) = id.strip_prefix(TAGS_PREFIX).and_then(|r| r.split_once('#')) {
        return Some(format!("{FAMILY_PREFIX}{TAGS_PREFIX}{cause}"));
    }
    let (vault, cause, account) = vault_incident_parts(id)?;
    account.map(|_| format!("{FAMILY_PREFIX}copies#{vault}#{cause}"))
}

const ACCOUNT_PREFIX: &str = "account#";
/// `tags#ACCOUNT#CAUSE`: tagging copies refused in an account (an SCP denying it everywhere is
/// every account at once).
const TAGS_PREFIX: &str = "tags#";

/// Is `id` a family's incident whose members in `open` are all closed (so it is resolved)?
pub fn family_resolved(id: &str, open: &[Incident]) -> bool {
    id.starts_with(FAMILY_PREFIX) && !open.iter().any(|i| family_of(&i.id).as_deref() == Some(id))
}

/// `Some(sent)` when `family` already has [`ALERTS_BEFORE_ONE_FOR_ALL`] other incidents open:
/// the family's alert is raised (sent once, `sent` when by this call) and the new incident
/// marked alerted by it. The family's alert goes first: a failure before the mark leaves the
/// member for the outbox (one alert more, never none).
async fn cover_by_family(
    ledger: &impl LedgerPort,
    alerts: &impl AlertPort,
    clock: &impl Clock,
    member: &Incident,
    family: &str,
) -> PortResult<Option<bool>> {
    let open = ledger.open_incidents().await?;
    let others = open
        .iter()
        .filter(|i| i.id != member.id && family_of(&i.id).as_deref() == Some(family))
        .count();
    if others < ALERTS_BEFORE_ONE_FOR_ALL {
        return Ok(None);
    }
    let alert = family_alert(family, &member.alert, others + 1);
    let incident = Incident::new(family.to_string(), alert, clock.now());
    let sent = match ledger.open_incident(&incident).await? {
        true => send_opened(ledger, alerts, clock, &incident).await?,
        false => false,
    };
    mark_sent(ledger, clock, &member.id).await?;
    Ok(Some(sent))
}

fn family_alert(family: &str, member: &Alert, accounts: usize) -> Alert {
    if family == format!("{FAMILY_PREFIX}account") {
        return unreachable_accounts_alert(member, accounts);
    }
    if let Some(cause) = family.strip_prefix(&format!("{FAMILY_PREFIX}{TAGS_PREFIX}")) {
        return untaggable_accounts_alert(cause, member, accounts);
    }
    let (vault, cause) = family
        .strip_prefix(FAMILY_PREFIX)
        .and_then(vault_incident_parts)
        .map_or(("", ""), |(v, c, _)| (v, c));
    let subject = format!("Backup Relay: copies into {vault} fail from many accounts ({cause})");
    let message = format!(
        "Copies into {vault} from {accounts} source accounts fail for the same cause ({cause}). \
         Each of the first {ALERTS_BEFORE_ONE_FOR_ALL} was alerted on its own; this alert stands \
         for every other account while it is open (the reconciler closes it once no account's \
         incident of this cause is open). When many accounts fail alike the fix is most likely \
         one: the destination vault's access policy, its KMS key's policy or its lock, or the copy \
         role as the StackSet deployed it everywhere. `relay report` lists every missing copy.\n\
         The latest of them: {}\n{}",
        member.subject, member.message
    );
    Alert {
        vault: Some(vault.to_string()),
        ..Alert::plain(subject, message)
    }
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

/// The subject of the alert for many accounts that cannot be reached.
pub const MANY_UNREACHABLE_SUBJECT: &str = "Backup Relay: many accounts cannot be reached";

fn unreachable_accounts_alert(member: &Alert, accounts: usize) -> Alert {
    let subject = MANY_UNREACHABLE_SUBJECT.to_string();
    let message = format!(
        "{accounts} accounts refuse the hub's AssumeRole at once. Each of the first \
         {ALERTS_BEFORE_ONE_FOR_ALL} was alerted on its own; this alert stands for every other \
         account while it is open (the reconciler closes it once every account is reachable \
         again). When many accounts fail alike the fix is most likely one: the spokes' executor \
         role trusts the hub's function roles by name (were they renamed or the hub stack \
         replaced?), or a StackSet update changed the role everywhere. `relay doctor --live` \
         names each account.\nThe latest of them: {}\n{}",
        member.subject, member.message
    );
    Alert::plain(subject, message)
}

fn untaggable_accounts_alert(cause: &str, member: &Alert, accounts: usize) -> Alert {
    // "cannot be tagged", as each account's own alert says: what a reader searches for.
    let subject = format!("Backup Relay: copies in many accounts cannot be tagged ({cause})");
    let message = format!(
        "Tagging copies is refused ({cause}) in {accounts} accounts. Each of the first \
         {ALERTS_BEFORE_ONE_FOR_ALL} was alerted on its own; this alert stands for every other \
         account. When many accounts refuse alike the fix is most likely one: a service control \
         policy denying backup:TagResource across the organisation, or the spoke's executor role \
         as the StackSet deployed it. The compliance report's RELAY_COPY_TAGS names the copies.\n\
         The latest of them: {}\n{}",
        member.subject, member.message
    );
    Alert::plain(subject, message)
}
