//! Families of incidents about one account of many: past a few open at once, the rest are
//! covered by one alert for them all (never a storm when a whole organisation fails alike).

use chrono::Duration;

use super::{mark_sent, send_opened};
use crate::ledger::vault_incident_parts;
use crate::ports::{Alert, AlertPort, Clock, Incident, LedgerPort, PortResult};

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

/// Only a burst is one alert: the other members counted, and the family's alert itself, are of
/// the last day (an organisation-wide breakage shows within a day of backups). A family left open
/// longer by members that never close (tagging refusals expire with the ledger) covers no
/// account that fails weeks later: that one is alerted on its own.
pub const FAMILY_WINDOW_HOURS: i64 = 24;

/// `Some(sent)` when `family` has [`ALERTS_BEFORE_ONE_FOR_ALL`] other members opened within
/// [`FAMILY_WINDOW_HOURS`] in `open` (a read of the ledger's open incidents): the family's alert
/// is raised (sent once, `sent` when by this call) and `member` marked alerted by it. The
/// family's alert goes first: a failure before the mark leaves the member for the outbox, which
/// comes here again. A family closed as this member opened is raised again by its closer, which
/// reads the members once more after closing it (`relay_chain`'s reconciler).
pub async fn cover_from(
    ledger: &impl LedgerPort,
    alerts: &impl AlertPort,
    clock: &impl Clock,
    member: &Incident,
    family: &str,
    open: &[Incident],
) -> PortResult<Option<bool>> {
    let since = clock.now() - Duration::hours(FAMILY_WINDOW_HOURS);
    let others = open
        .iter()
        .filter(|i| i.id != member.id && i.opened_at >= since)
        .filter(|i| family_of(&i.id).as_deref() == Some(family))
        .count();
    let existing = open.iter().find(|i| i.id == family);
    if others < ALERTS_BEFORE_ONE_FOR_ALL || existing.is_some_and(|f| f.opened_at < since) {
        return Ok(None);
    }
    let mut sent = false;
    if existing.is_none() {
        let alert = family_alert(family, &member.alert, others + 1);
        let incident = Incident::new(family.to_string(), alert, clock.now());
        if ledger.open_incident(&incident).await? {
            sent = send_opened(ledger, alerts, clock, &incident).await?;
        }
    }
    mark_sent(ledger, clock, &member.id).await?;
    Ok(Some(sent))
}

/// The family's alert, for `accounts` members, naming the latest.
pub fn family_alert(family: &str, member: &Alert, accounts: usize) -> Alert {
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
