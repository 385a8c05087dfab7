//! The hop ledger's rules. One record per hop: (original backup, destination vault), the hop
//! identity of design.md. The rules are pure functions here; the simulator applies them directly
//! and the DynamoDB adapter encodes the same rules as condition expressions (the tests run one
//! contract suite against both).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The backup a backup plan made, which every copy along a chain descends from. Copies keep their
/// source's resource ARN and creation date, so any copy names its original.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Original {
    pub resource_arn: String,
    pub creation_date: DateTime<Utc>,
}

impl Original {
    pub fn new(resource_arn: impl Into<String>, creation_date: DateTime<Utc>) -> Self {
        Self {
            resource_arn: resource_arn.into(),
            creation_date,
        }
    }

    /// One string per original, to key records by: the resource ARN and the creation date to the
    /// millisecond (what AWS's APIs carry).
    pub fn key(&self) -> String {
        format!(
            "{}#{}",
            self.resource_arn,
            self.creation_date
                .to_rfc3339_opts(SecondsFormat::Millis, true)
        )
    }

    /// Read back what [`Original::key`] wrote.
    pub fn from_key(key: &str) -> Option<Self> {
        let (resource, date) = key.rsplit_once('#')?;
        let date = DateTime::parse_from_rfc3339(date).ok()?.with_timezone(&Utc);
        Some(Self::new(resource, date))
    }
}

/// The hop identity: an original backup and the vault its copy lands in. Exactly one copy per hop,
/// whatever the graph: every route into the vault claims the same key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HopKey {
    pub original: Original,
    pub destination_vault_arn: String,
}

impl HopKey {
    pub fn new(original: Original, destination_vault_arn: impl Into<String>) -> Self {
        Self {
            original,
            destination_vault_arn: destination_vault_arn.into(),
        }
    }

    /// The hop's own id among incidents (its idempotency tokens are derived from it, so it
    /// never changes); alerts about hops are raised per vault and cause ([`Self::vault_incident`]).
    pub fn incident_id(&self) -> String {
        format!("hop#{}#{}", self.original.key(), self.destination_vault_arn)
    }

    /// The incident of the hops into this hop's vault that are not made for `cause` (a word,
    /// as [`crate::plan::copy_failure_cause`] gives), copying from `source_account`: a missing
    /// vault, a refused copy-in or a lock fails every copy into the vault, every day; that is
    /// one alert, never one per hop. The reconciler closes it once a copy into the vault of a
    /// backup newer than the incident is held (from that account, for a cause of one).
    pub fn vault_incident(&self, cause: &str, source_account: &str) -> String {
        vault_incident(&self.destination_vault_arn, cause, source_account)
    }
}

/// The incident of copies into `vault_arn` not made for `cause` ([`HopKey::vault_incident`]):
/// `copies#VAULT#CAUSE`, or `copies#VAULT#CAUSE#ACCOUNT` for a cause that is one source
/// account's to fix ([`is_source_account_cause`]): its key, its copy role, its admission by the
/// vault's access policy, its route's retention under the vault's lock. Another account's copies
/// landing fix nothing of it.
pub fn vault_incident(vault_arn: &str, cause: &str, source_account: &str) -> String {
    match is_source_account_cause(cause) {
        true => format!("{VAULT_INCIDENT_PREFIX}{vault_arn}#{cause}#{source_account}"),
        false => format!("{VAULT_INCIDENT_PREFIX}{vault_arn}#{cause}"),
    }
}

/// Is `cause` one source account's to fix (so its incident is the account's, and closed by that
/// account's copies landing)?
pub fn is_source_account_cause(cause: &str) -> bool {
    // A lock refusing a retention refuses one route's copies (its source's), not the vault's.
    matches!(
        cause,
        "kms" | "privileges" | "access-denied" | "vault-lock" | "lock-retention"
    )
}

/// A `copies#` incident id's parts: the vault, the cause, the source account (for a cause of one).
pub fn vault_incident_parts(id: &str) -> Option<(&str, &str, Option<&str>)> {
    let rest = id.strip_prefix(VAULT_INCIDENT_PREFIX)?;
    let mut parts = rest.split('#');
    let (vault, cause) = (parts.next()?, parts.next()?);
    Some((vault, cause, parts.next()))
}

/// The cause of copies into a vault that does not exist, whoever finds it first: the router
/// (a copy job into it failed, or StartCopyJob was refused) or the reconciler (it cannot
/// describe or list it). [`crate::plan::copy_failure_cause`] names AWS's message so too.
pub const VAULT_MISSING_CAUSE: &str = "does-not-exist";

/// The prefix of [`HopKey::vault_incident`]'s ids.
pub const VAULT_INCIDENT_PREFIX: &str = "copies#";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HopState {
    /// An invocation is about to call StartCopyJob for this attempt.
    Claimed,
    /// StartCopyJob failed transiently; the same attempt (same token) may be claimed again.
    Released,
    Started,
    Completed,
    Failed,
    /// Deliberately not copied (a vault lock and `on_lock_conflict: skip`).
    Skipped,
}

impl HopState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claimed => "CLAIMED",
            Self::Released => "RELEASED",
            Self::Started => "STARTED",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Skipped => "SKIPPED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "CLAIMED" => Self::Claimed,
            "RELEASED" => Self::Released,
            "STARTED" => Self::Started,
            "COMPLETED" => Self::Completed,
            "FAILED" => Self::Failed,
            "SKIPPED" => Self::Skipped,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HopRecord {
    pub key: HopKey,
    pub route: String,
    pub state: HopState,
    pub attempt: u32,
    pub idempotency_token: Option<String>,
    pub copy_job_id: Option<String>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub failure_class: Option<FailureClass>,
    pub status_message: Option<String>,
    pub destination_recovery_point_arn: Option<String>,
    /// The recovery point the claiming route copies from, and its vault: where the copy job runs.
    pub source_recovery_point_arn: Option<String>,
    pub source_vault_arn: Option<String>,
    /// Every source point a claim of this hop has copied from, as [`source_entry`] spells it.
    /// A takeover searches where each of them runs: any of those tries may have reached AWS
    /// (a diamond's routes claim from different vaults), and a record holds only the last source.
    pub tried_sources: BTreeSet<String>,
    /// When the copy was found carrying the policy's tags (or given them): the reconciler's
    /// tag repair skips it from then on.
    pub tagged_at: Option<DateTime<Utc>>,
}

impl HopRecord {
    /// A record no claim made (a skipped hop, a copy found held and tagged): attempt 0.
    pub fn unclaimed(key: &HopKey, route: &str, state: HopState, now: DateTime<Utc>) -> Self {
        Self {
            key: key.clone(),
            route: route.to_string(),
            state,
            attempt: 0,
            idempotency_token: None,
            copy_job_id: None,
            claimed_at: None,
            updated_at: now,
            failure_class: None,
            status_message: None,
            destination_recovery_point_arn: None,
            source_recovery_point_arn: None,
            source_vault_arn: None,
            tried_sources: BTreeSet::new(),
            tagged_at: None,
        }
    }
}

/// One tried source, as the ledger stores it: the vault ARN and the recovery point ARN.
pub fn source_entry(vault_arn: &str, recovery_point_arn: &str) -> String {
    format!("{vault_arn} {recovery_point_arn}")
}

/// The (vault ARN, recovery point ARN) of a stored tried source; `None` for a malformed one.
pub fn parse_source_entry(entry: &str) -> Option<(&str, &str)> {
    entry.split_once(' ')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// Transient: another attempt may succeed.
    Retryable,
    /// Configuration or permissions: a person must fix something first.
    NeedsPerson,
}

impl FailureClass {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Retryable => "retryable",
            Self::NeedsPerson => "needs_person",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    pub route: String,
    pub source_recovery_point_arn: String,
    pub source_vault_arn: String,
    pub attempt: u32,
    pub idempotency_token: String,
    pub now: DateTime<Utc>,
    /// A CLAIMED record older than this was left by an invocation that died: it may be taken over
    /// (with the same attempt and so the same token, which makes a repeated StartCopyJob a no-op).
    pub stale_before: DateTime<Utc>,
}

impl ClaimRequest {
    /// A claim from its parts (tests and the ledger contract suite).
    pub fn of(
        route: &str,
        attempt: u32,
        idempotency_token: &str,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> Self {
        Self {
            route: route.to_string(),
            source_recovery_point_arn: format!("rp-of-{route}"),
            source_vault_arn: format!("vault-of-{route}"),
            attempt,
            idempotency_token: idempotency_token.to_string(),
            now,
            stale_before: now - stale_after,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This invocation owns the attempt: it must call StartCopyJob. `previous` is the record it
    /// replaced: a released or abandoned claim of the same attempt may have reached AWS already.
    Claimed { previous: Option<Box<HopRecord>> },
    /// Someone else did or is doing this hop: do nothing.
    AlreadyTaken(Option<Box<HopRecord>>),
}

/// May this claim be taken, given the record as it is?
pub fn may_claim(existing: Option<&HopRecord>, req: &ClaimRequest) -> bool {
    let Some(r) = existing else {
        return req.attempt == 1;
    };
    match r.state {
        HopState::Released => r.attempt == req.attempt,
        HopState::Claimed => {
            r.attempt == req.attempt && r.claimed_at.is_some_and(|t| t < req.stale_before)
        }
        HopState::Failed => {
            req.attempt > 1
                && r.attempt.checked_add(1) == Some(req.attempt)
                && r.failure_class == Some(FailureClass::Retryable)
        }
        HopState::Started | HopState::Completed | HopState::Skipped => false,
    }
}

/// The record after a successful claim. Earlier failure details are kept for the record.
pub fn claimed(existing: Option<&HopRecord>, key: &HopKey, req: &ClaimRequest) -> HopRecord {
    HopRecord {
        key: key.clone(),
        route: req.route.clone(),
        state: HopState::Claimed,
        attempt: req.attempt,
        idempotency_token: Some(req.idempotency_token.clone()),
        copy_job_id: None,
        claimed_at: Some(req.now),
        updated_at: req.now,
        failure_class: existing.and_then(|r| r.failure_class),
        status_message: existing.and_then(|r| r.status_message.clone()),
        destination_recovery_point_arn: None,
        source_recovery_point_arn: Some(req.source_recovery_point_arn.clone()),
        source_vault_arn: Some(req.source_vault_arn.clone()),
        tried_sources: existing
            .map(|r| r.tried_sources.clone())
            .unwrap_or_default()
            .into_iter()
            .chain([source_entry(
                &req.source_vault_arn,
                &req.source_recovery_point_arn,
            )])
            .collect(),
        tagged_at: None,
    }
}

/// A hop whose copy carries the policy's tags. A copy with no record yet (a backup plan's copy
/// action made it, and no route claimed it) gets one, COMPLETED: its hop is done.
pub fn tagged(
    existing: Option<&HopRecord>,
    key: &HopKey,
    route: &str,
    copy_arn: &str,
    now: DateTime<Utc>,
) -> HopRecord {
    let mut record = existing.cloned().unwrap_or_else(|| {
        let mut r = HopRecord::unclaimed(key, route, HopState::Completed, now);
        r.destination_recovery_point_arn = Some(copy_arn.to_string());
        r
    });
    record.tagged_at = Some(now);
    record.updated_at = now;
    record
}

impl ClaimOutcome {
    /// Did this claim take over an attempt (released, or left by a dead invocation) whose
    /// StartCopyJob may have reached AWS? The record it replaced, when so.
    pub fn takeover(&self) -> Option<&HopRecord> {
        match self {
            Self::Claimed { previous: Some(r) }
                if matches!(r.state, HopState::Released | HopState::Claimed) =>
            {
                Some(r)
            }
            _ => None,
        }
    }
}

pub fn may_mark_started(existing: Option<&HopRecord>, attempt: u32) -> bool {
    existing.is_some_and(|r| r.state == HopState::Claimed && r.attempt == attempt)
}

pub fn may_release(existing: Option<&HopRecord>, attempt: u32) -> bool {
    may_mark_started(existing, attempt)
}

pub fn may_mark_completed(existing: Option<&HopRecord>) -> bool {
    existing.is_some()
}

/// A failure applies to the attempt it belongs to: the STARTED job with that id, or, for a start
/// refused outright, the CLAIMED attempt. Anything else is a stale or repeated event.
pub fn may_mark_failed(
    existing: Option<&HopRecord>,
    copy_job_id: Option<&str>,
    attempt: Option<u32>,
) -> bool {
    let Some(r) = existing else { return false };
    match (copy_job_id, attempt) {
        (Some(job), _) => r.state == HopState::Started && r.copy_job_id.as_deref() == Some(job),
        (None, Some(a)) => r.state == HopState::Claimed && r.attempt == a,
        (None, None) => false,
    }
}

pub fn may_record_skipped(existing: Option<&HopRecord>) -> bool {
    existing.is_none()
}

/// A retryable failure that used up its attempts becomes a failure that needs a person, once.
pub fn may_escalate(existing: Option<&HopRecord>, attempt: u32) -> bool {
    existing.is_some_and(|r| {
        r.state == HopState::Failed
            && r.attempt == attempt
            && r.failure_class == Some(FailureClass::Retryable)
    })
}

/// The wait before attempt `next` of a hop: base * 2^(next - 2), at most `max`, less up to a
/// quarter by the hop's own jitter. Hops that failed together (one throttling storm) are tried
/// again spread over the runs, not all in one; the jitter is a hash of the hop and the attempt,
/// so every run computes the same due time (and a simulation repeats exactly).
pub fn retry_backoff(next: u32, base: Duration, max: Duration, hop: &HopKey) -> Duration {
    let doublings = next.saturating_sub(2).min(20);
    let full = (base * 2_i32.pow(doublings)).min(max);
    let digest = Sha256::digest(format!("{}#{next}", hop.incident_id()));
    let spread = i32::from(digest[0]) % 64;
    full - full / 4 * spread / 64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + min * 60, 0).unwrap()
    }

    fn req(attempt: u32, now: i64) -> ClaimRequest {
        ClaimRequest::of("a->b", attempt, "tok", at(now), Duration::minutes(15))
    }

    fn record(state: HopState, attempt: u32, claimed: i64) -> HopRecord {
        let key = HopKey::new(Original::new("table", at(0)), "vault");
        let mut r = claimed_record(&key, attempt, claimed);
        r.state = state;
        r
    }

    fn claimed_record(key: &HopKey, attempt: u32, t: i64) -> HopRecord {
        claimed(None, key, &req(attempt, t))
    }

    #[test]
    fn original_keys_read_back_and_differ_by_the_millisecond() {
        let t = at(0) + Duration::milliseconds(7);
        let o = Original::new("arn:aws:dynamodb:us-east-1:111111111111:table/a#b", t);
        assert_eq!(Original::from_key(&o.key()), Some(o.clone()));
        assert_ne!(o.key(), Original::new(o.resource_arn.clone(), at(0)).key());
    }

    #[test]
    fn first_claim_only_for_attempt_one() {
        assert!(may_claim(None, &req(1, 0)));
        assert!(!may_claim(None, &req(2, 0)));
    }

    #[test]
    fn a_live_claim_blocks_and_a_stale_one_can_be_taken_over() {
        let r = record(HopState::Claimed, 1, 0);
        assert!(!may_claim(Some(&r), &req(1, 5)));
        assert!(may_claim(Some(&r), &req(1, 16)));
        assert!(!may_claim(Some(&r), &req(2, 16)));
    }

    #[test]
    fn started_completed_and_skipped_are_final_for_claims() {
        for s in [HopState::Started, HopState::Completed, HopState::Skipped] {
            assert!(!may_claim(Some(&record(s, 1, 0)), &req(1, 100)));
            assert!(!may_claim(Some(&record(s, 1, 0)), &req(2, 100)));
        }
    }

    #[test]
    fn a_retryable_failure_admits_exactly_the_next_attempt() {
        let mut r = record(HopState::Failed, 1, 0);
        r.failure_class = Some(FailureClass::Retryable);
        assert!(may_claim(Some(&r), &req(2, 1)));
        assert!(!may_claim(Some(&r), &req(1, 1)));
        assert!(!may_claim(Some(&r), &req(3, 1)));
        r.failure_class = Some(FailureClass::NeedsPerson);
        assert!(!may_claim(Some(&r), &req(2, 1)));
    }

    #[test]
    fn released_attempts_can_be_claimed_again_with_the_same_attempt() {
        let r = record(HopState::Released, 2, 0);
        assert!(may_claim(Some(&r), &req(2, 1)));
        assert!(!may_claim(Some(&r), &req(3, 1)));
    }

    #[test]
    fn escalation_is_once_and_only_for_retryable_failures() {
        let mut r = record(HopState::Failed, 3, 0);
        r.failure_class = Some(FailureClass::Retryable);
        assert!(may_escalate(Some(&r), 3));
        assert!(!may_escalate(Some(&r), 2));
        r.failure_class = Some(FailureClass::NeedsPerson);
        assert!(!may_escalate(Some(&r), 3));
        assert!(!may_escalate(None, 1));
    }

    #[test]
    fn backoff_doubles_is_capped_and_spread_by_the_hop() {
        let base = Duration::minutes(30);
        let max = Duration::hours(6);
        let hops: Vec<HopKey> = (0..200)
            .map(|i| HopKey::new(Original::new(format!("table-{i}"), at(0)), "vault"))
            .collect();
        for (next, full) in [
            (2, Duration::minutes(30)),
            (3, Duration::minutes(60)),
            (4, Duration::minutes(120)),
            (10, max),
            (u32::MAX, max),
        ] {
            let waits: BTreeSet<Duration> = hops
                .iter()
                .map(|h| retry_backoff(next, base, max, h))
                .collect();
            assert!(
                waits.iter().all(|w| *w <= full && *w > full * 3 / 4),
                "{waits:?}"
            );
            assert!(
                waits.len() > 20,
                "hops failed together are spread: {waits:?}"
            );
        }
        // The same hop and attempt: the same wait, run after run.
        assert_eq!(
            retry_backoff(3, base, max, &hops[7]),
            retry_backoff(3, base, max, &hops[7])
        );
    }

    #[test]
    fn failures_apply_only_to_their_own_job() {
        let mut r = record(HopState::Started, 1, 0);
        r.copy_job_id = Some("job-1".into());
        assert!(may_mark_failed(Some(&r), Some("job-1"), None));
        assert!(!may_mark_failed(Some(&r), Some("job-0"), None));
        assert!(!may_mark_failed(
            Some(&record(HopState::Failed, 1, 0)),
            Some("job-1"),
            None
        ));
        assert!(may_mark_failed(
            Some(&record(HopState::Claimed, 1, 0)),
            None,
            Some(1)
        ));
        assert!(!may_mark_failed(None, Some("job-1"), None));
    }
}
