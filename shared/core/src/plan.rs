//! Planning: event + policy + resource tags + observed vault locks -> actions. Pure: no I/O, no clock.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::arn::{Location, RecoveryPointArn, VaultArn};
use crate::event::{BackupJobEvent, EventDetail, JobState, ParsedEvent, RecoveryPointEvent};
use crate::guard::{self, GuardDecision, PointView};
use crate::ledger::Original;
use crate::policy::{Policy, Route, Vault};
use crate::retention::{fit_to_lock, Lifecycle, LockFit, Retention, VaultLock};

mod find;
mod tagging;

use find::{find, Found, Landing};
pub use tagging::{is_root, route_into, tag_action, OriginalPoint, TagRecoveryPoint};

pub use crate::ledger::FailureClass;
pub use crate::policy::Tags;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub event: EventSummary,
    pub actions: Vec<Action>,
    /// Why there is no action, in words; `None` when there are actions.
    pub ignored: Option<String>,
    /// Routes that matched but were not acted on, with why (e.g. a vault lock and `skip`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_routes: Vec<SkippedRoute>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventSummary {
    pub id: String,
    pub detail_type: String,
    pub account: String,
    pub region: String,
    pub state: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    StartCopyJob(StartCopyJob),
    RecordCopyFailure(CopyFailure),
    /// The retention guard's repair of a never_expire point.
    UpdateRecoveryPointLifecycle(UpdateLifecycle),
    /// A never_expire point that cannot be repaired (a vault lock): recorded and alerted.
    RecordRetentionViolation(RetentionViolation),
    /// A backup plan's job into a vault of the policy failed: alerted once per vault and cause.
    RecordBackupFailure(BackupFailure),
    /// A copy into a vault of the policy from outside its routes, of a table the policy does not
    /// route there: not chained on; alerted once per flow.
    RecordUnroutedCopy(crate::provenance::UnroutedCopy),
    /// TagResource on a copy that landed: the policy's tags (Tags on copies).
    TagRecoveryPoint(TagRecoveryPoint),
}

/// A backup job that failed in a vault of the policy (a lock refusing the plan's retention, a
/// missing vault, a role): no original, so no chain, until a person fixes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupFailure {
    pub account: String,
    pub region: String,
    pub backup_vault_arn: String,
    pub resource_arn: Option<String>,
    pub backup_job_id: Option<String>,
    /// FAILED, ABORTED or EXPIRED.
    pub state: String,
    pub status_message: String,
}

impl BackupFailure {
    /// What the failures share, for one incident per vault and cause (not one per table and day).
    pub fn cause(&self) -> &'static str {
        let m = self.status_message.to_ascii_lowercase();
        if m.contains("lock") || m.contains("retention") {
            "vault-lock"
        } else if m.contains("does not exist") || m.contains("not found") {
            "vault-missing"
        } else if m.contains("access") || m.contains("role") || m.contains("authoriz") {
            "access"
        } else {
            "other"
        }
    }
}

/// UpdateRecoveryPointLifecycle in the vault's own account and Region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpdateLifecycle {
    pub account: String,
    pub region: String,
    pub recovery_point_arn: String,
    pub backup_vault_name: String,
    pub backup_vault_arn: String,
    pub lifecycle: Lifecycle,
    pub current_delete_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetentionViolation {
    pub account: String,
    pub region: String,
    pub recovery_point_arn: String,
    pub backup_vault_name: String,
    pub reason: String,
}

/// The action the guard's decision on a point leads to, if any; the reason when there is none.
pub fn guard_action(
    vault: &Vault,
    point: &PointView,
    lock: Option<&VaultLock>,
) -> Result<Action, String> {
    match guard::decide(vault, point, lock) {
        GuardDecision::Compliant { reason } | GuardDecision::Ignored { reason } => Err(reason),
        GuardDecision::Repair {
            lifecycle,
            current_delete_at,
        } => Ok(Action::UpdateRecoveryPointLifecycle(UpdateLifecycle {
            account: vault.arn.account.clone(),
            region: vault.arn.region.clone(),
            recovery_point_arn: point.recovery_point_arn.clone(),
            backup_vault_name: vault.arn.name.clone(),
            backup_vault_arn: vault.arn.to_string(),
            lifecycle,
            current_delete_at,
        })),
        GuardDecision::Violation { reason } => {
            Ok(Action::RecordRetentionViolation(RetentionViolation {
                account: vault.arn.account.clone(),
                region: vault.arn.region.clone(),
                recovery_point_arn: point.recovery_point_arn.clone(),
                backup_vault_name: vault.arn.name.clone(),
                reason,
            }))
        }
    }
}

/// A recovery point event as the guard sees it: `None` when it lacks what the decision needs.
pub fn point_from_event(r: &RecoveryPointEvent, vault: &VaultArn) -> Option<PointView> {
    Some(PointView {
        recovery_point_arn: r.recovery_point_arn.clone()?,
        vault: vault.clone(),
        resource_arn: r.resource_arn.clone(),
        resource_type: r.resource_type.clone(),
        status: Some(r.status.clone()),
        creation_date: r.creation_date?,
        completion_date: r.completion_date,
        lifecycle: r.lifecycle.unwrap_or_default(),
        delete_at: r.delete_at,
        storage_class: r.storage_class.clone(),
        encrypted: r.is_encrypted,
        source_vault_arn: None,
        tags: None,
        backup_size_bytes: None,
    })
}

/// The vault a recovery point event is about.
pub fn event_vault(r: &RecoveryPointEvent, recovery_point: Option<&str>) -> Option<VaultArn> {
    if let Some(arn) = r
        .backup_vault_arn
        .as_deref()
        .and_then(|a| VaultArn::parse(a).ok())
    {
        return Some(arn);
    }
    let at = RecoveryPointArn::parse(recovery_point?).ok()?.location();
    VaultArn::parse(&format!(
        "arn:{}:backup:{}:{}:backup-vault:{}",
        at.partition,
        at.region,
        at.account,
        r.backup_vault_name.as_deref()?
    ))
    .ok()
}

impl crate::ledger::ClaimRequest {
    pub fn new(
        job: &StartCopyJob,
        now: chrono::DateTime<chrono::Utc>,
        stale_after: chrono::Duration,
    ) -> Self {
        use chrono::SubsecRound;
        // To the millisecond, as the ledger stores it: a claim read back compares equal.
        let now = now.trunc_subsecs(3);
        Self {
            route: job.route.clone(),
            source_recovery_point_arn: job.recovery_point_arn.clone(),
            source_vault_arn: job.source_backup_vault_arn.clone(),
            attempt: job.attempt,
            idempotency_token: job.idempotency_token.clone(),
            now,
            stale_before: now - stale_after,
        }
    }
}

/// One hop of a chain: StartCopyJob in the source vault's account and Region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StartCopyJob {
    pub route: String,
    /// The hop identity's original: every route into the destination claims the same hop.
    pub original: Original,
    pub account: String,
    pub region: String,
    pub partition: String,
    pub recovery_point_arn: String,
    pub source_backup_vault_name: String,
    pub source_backup_vault_arn: String,
    pub destination_backup_vault_arn: String,
    pub iam_role_arn: String,
    pub idempotency_token: String,
    pub attempt: u32,
    /// `None` for `inherit`: the copy keeps its source's expiry.
    pub lifecycle: Option<Lifecycle>,
    /// Set when a vault lock changed the lifecycle the policy asked for.
    pub lock_adjustment: Option<String>,
    pub resource_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CopyFailure {
    pub route: Option<String>,
    /// The original of the source recovery point (`None` when it could not be described).
    pub original: Option<Original>,
    /// Where the copy job ran: the source vault's account and Region.
    pub account: String,
    pub region: String,
    pub copy_job_id: Option<String>,
    pub source_recovery_point_arn: String,
    pub source_backup_vault_arn: Option<String>,
    pub destination_backup_vault_arn: String,
    pub status_message: String,
    pub class: FailureClass,
    pub likely_fix: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkippedRoute {
    pub route: String,
    pub original: Original,
    pub recovery_point_arn: String,
    pub destination_backup_vault_arn: String,
    pub reason: String,
}

/// The inputs a plan needs beyond the event and the policy: resource tags and vault locks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanNeeds {
    /// The resource whose tags the matching routes select on.
    pub tags_of: Option<String>,
    /// Destination vaults whose lock state bounds the lifecycle.
    pub locks_of: Vec<VaultArn>,
    /// The recovery point to describe (in its vault) for its original and status: copy job
    /// events carry the job's creation date, not the original's.
    pub describe: Option<(VaultArn, String)>,
    /// The resource whose tags only the landed copy's tagging needs (its route selects on
    /// them): read at best, since tagging never holds a chain up.
    pub tags_for_tagging: Option<String>,
}

/// What the planner knows besides the event.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub resource_tags: Tags,
    pub vault_locks: BTreeMap<VaultArn, VaultLock>,
    /// The described recovery point of [`PlanNeeds::describe`]; `None` when not looked up (then
    /// the event's own resource ARN and creation date stand in, as in `relay plan`).
    pub point: Option<PointView>,
    /// DescribeRecoveryPoint said it does not exist (deleted, or expired).
    pub point_missing: bool,
    /// The ledger has a record of the landed copy's hop (a route claimed it, or found it held):
    /// a copy from outside the routes is chained on only then. `relay plan` reads no ledger.
    pub landing_hop_known: bool,
    /// The original of a landed copy and its tags, as the router found them (`None` in `relay
    /// plan`: the event's source point and the resource's tags stand in).
    pub original: Option<OriginalPoint>,
}

/// The idempotency token of one attempt of one hop from one source point: a pure function of
/// (original, source recovery point, destination vault, attempt), so a redelivered event sends the
/// same token. Another route into the same vault copies another point, so its request differs and
/// so does its token (AWS is not told the same token with other parameters); a takeover through
/// it finds the first route's job with ListCopyJobs instead.
pub fn copy_token(
    original: &Original,
    source_recovery_point_arn: &str,
    destination_vault_arn: &str,
    attempt: u32,
) -> String {
    let mut h = Sha256::new();
    // Length-prefixed, so no two different tuples hash the same bytes.
    for part in [
        original.key().as_bytes(),
        source_recovery_point_arn.as_bytes(),
        destination_vault_arn.as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.update(attempt.to_be_bytes());
    hex::encode(&h.finalize()[..16])
}

fn routes_for<'p>(
    policy: &'p Policy,
    vault: &'p Vault,
    landing: &Landing,
    tags: Option<&Tags>,
) -> Vec<&'p Route> {
    policy
        .routes_from(&vault.alias)
        .filter(|r| match tags {
            Some(tags) => r.select.matches(landing.resource_type.as_deref(), tags),
            None => true,
        })
        .collect()
}

/// What to look up before planning this event.
pub fn plan_needs(event: &ParsedEvent, policy: &Policy) -> PlanNeeds {
    match find(event, policy) {
        Found::Landed(landing, vault) => {
            let routes = routes_for(policy, vault, &landing, None);
            // A copy from outside the routes is judged by the table's tags too (do the routes
            // bring it here?).
            let outside = matches!(
                crate::provenance::provenance(policy, vault, landing.source_vault.as_deref()),
                crate::provenance::Provenance::Outside { .. }
            ) && policy.routes.iter().any(|r| !r.select.tags.is_empty());
            // The route that brought a copy here selects on tags too: its tagging asks them.
            let tagged_in = policy.tags.tags_anything()
                && tagging::route_into_of(policy, &landing, vault)
                    .is_some_and(|r| !r.select.tags.is_empty());
            let tags_of = (outside || routes.iter().any(|r| !r.select.tags.is_empty()))
                .then(|| landing.resource_arn.clone())
                .flatten();
            let tags_for_tagging = (tagged_in && tags_of.is_none())
                .then(|| landing.resource_arn.clone())
                .flatten();
            let locks_of = routes
                .iter()
                .filter_map(|r| policy.vault(&r.to).map(|v| v.arn.clone()))
                .collect();
            let describe = Some((landing.vault.clone(), landing.recovery_point.clone()));
            PlanNeeds {
                tags_of,
                locks_of,
                describe,
                tags_for_tagging,
            }
        }
        Found::Guarded(_, vault) => PlanNeeds {
            locks_of: vec![vault.arn.clone()],
            ..PlanNeeds::default()
        },
        // The failed copy's source point, described where the job ran, names its original.
        Found::Failed(f) => PlanNeeds {
            describe: f
                .source_backup_vault_arn
                .as_deref()
                .and_then(|v| VaultArn::parse(v).ok())
                .map(|v| (v, f.source_recovery_point_arn.clone())),
            ..PlanNeeds::default()
        },
        Found::BackupFailed(_) | Found::Nothing(_) => PlanNeeds::default(),
    }
}

/// The original a landing descends from: the described point when there is one, else the event's.
fn landing_original(landing: &Landing, observed: &Observed) -> Result<Original, String> {
    if observed.point_missing {
        return Err(format!(
            "recovery point {} no longer exists in its vault",
            landing.recovery_point
        ));
    }
    if let Some(point) = &observed.point {
        if !matches!(
            point.status.as_deref(),
            None | Some("COMPLETED" | "AVAILABLE")
        ) {
            return Err(format!(
                "recovery point {} is {}: only COMPLETED copies are held and copied on",
                landing.recovery_point,
                point.status.as_deref().unwrap_or_default()
            ));
        }
        if matches!(point.storage_class.as_deref(), Some("COLD" | "DELETED")) {
            return Err(format!(
                "recovery point {} is in the {} tier: it cannot be copied",
                landing.recovery_point,
                point.storage_class.as_deref().unwrap_or_default()
            ));
        }
        let resource = point.resource_arn.clone().or(landing.resource_arn.clone());
        return match resource {
            Some(r) => Ok(Original::new(r, point.creation_date)),
            None => Err("the recovery point names no resource".into()),
        };
    }
    match (&landing.resource_arn, landing.event_creation_date) {
        (Some(r), _) if !r.starts_with("arn:") => Err(format!(
            "the event's resourceArn '{r}' is not an ARN: it cannot identify the original"
        )),
        (Some(r), Some(d)) => Ok(Original::new(r.clone(), d)),
        _ => Err(
            "the event lacks the resource ARN or creation date that identify the original".into(),
        ),
    }
}

/// A landed copy that came from outside the policy's routes, of a table the policy does not route
/// into its vault, that no route claimed or found held: it is not chained on.
fn unrouted(
    policy: &Policy,
    vault: &Vault,
    landing: &Landing,
    original: &Original,
    observed: &Observed,
) -> Option<crate::provenance::UnroutedCopy> {
    use crate::provenance::{expected_in, provenance, Provenance, UnroutedCopy};
    let Provenance::Outside { source_vault_arn } =
        provenance(policy, vault, landing.source_vault.as_deref())
    else {
        return None;
    };
    let kind = landing.resource_type.as_deref();
    if observed.landing_hop_known
        || expected_in(policy, vault, original, kind, &observed.resource_tags)
    {
        return None;
    }
    Some(UnroutedCopy {
        recovery_point_arn: landing.recovery_point.clone(),
        backup_vault_arn: landing.vault.to_string(),
        source_vault_arn,
        original: original.clone(),
    })
}

impl Plan {
    fn nothing(event: EventSummary, why: String) -> Self {
        Self {
            event,
            actions: Vec::new(),
            ignored: Some(why),
            skipped_routes: Vec::new(),
        }
    }

    fn acting(event: EventSummary, actions: Vec<Action>) -> Self {
        Self {
            event,
            actions,
            ignored: None,
            skipped_routes: Vec::new(),
        }
    }
}

impl EventSummary {
    fn of(event: &ParsedEvent) -> Self {
        let env = &event.envelope;
        Self {
            id: env.id.clone(),
            detail_type: env.detail_type.clone(),
            account: env.account.clone(),
            region: env.region.clone(),
            state: event.state().map(str::to_string),
        }
    }
}

pub fn plan_event(event: &ParsedEvent, policy: &Policy, observed: &Observed) -> Plan {
    let summary = EventSummary::of(event);
    let action = match find(event, policy) {
        Found::Nothing(why) => Err(why),
        Found::Failed(mut f) => {
            f.original = observed
                .point
                .as_ref()
                .and_then(|p| Some(Original::new(p.resource_arn.clone()?, p.creation_date)));
            Ok(Action::RecordCopyFailure(f))
        }
        Found::BackupFailed(failure) => Ok(Action::RecordBackupFailure(failure)),
        Found::Guarded(point, vault) => {
            guard_action(vault, &point, observed.vault_locks.get(&vault.arn))
        }
        Found::Landed(landing, vault) => {
            return plan_landing(summary, policy, &landing, vault, observed)
        }
    };
    match action {
        Ok(action) => Plan::acting(summary, vec![action]),
        Err(why) => Plan::nothing(summary, why),
    }
}

/// A recovery point that landed in a vault of the policy: one start per selected route out of it.
fn plan_landing(
    summary: EventSummary,
    policy: &Policy,
    landing: &Landing,
    vault: &Vault,
    observed: &Observed,
) -> Plan {
    let original = landing_original(landing, observed);
    let tag = original
        .as_ref()
        .ok()
        .and_then(|o| tagging::for_landing(policy, landing, vault, o, observed));
    let mut plan = plan_onward(summary, policy, landing, vault, original, observed);
    // After the starts: tagging never holds up the next hop.
    if let Some(tag) = tag {
        plan.actions.push(Action::TagRecoveryPoint(tag));
        plan.ignored = None;
    }
    plan
}

/// The copies onward from a landed point: one start per selected route out of its vault.
fn plan_onward(
    summary: EventSummary,
    policy: &Policy,
    landing: &Landing,
    vault: &Vault,
    original: Result<Original, String>,
    observed: &Observed,
) -> Plan {
    if policy.routes_from(&vault.alias).next().is_none() {
        let why = format!(
            "no route leaves vault '{}': the chain ends here",
            vault.alias
        );
        return Plan::nothing(summary, why);
    }
    let original = match original {
        Ok(o) => o,
        Err(why) => return Plan::nothing(summary, why),
    };
    if let Some(unrouted) = unrouted(policy, vault, landing, &original, observed) {
        return Plan::acting(summary, vec![Action::RecordUnroutedCopy(unrouted)]);
    }
    let routes = routes_for(policy, vault, landing, Some(&observed.resource_tags));
    if routes.is_empty() {
        return Plan::nothing(summary, not_selected(policy, vault, landing, observed));
    }
    let mut plan = Plan::acting(summary, Vec::new());
    for route in routes {
        let point = &landing.recovery_point;
        match start_copy_for(policy, vault, route, point, &original, 1, observed) {
            Ok(action) => plan.actions.push(Action::StartCopyJob(action)),
            Err(skip) => plan.skipped_routes.push(skip),
        }
    }
    if plan.actions.is_empty() {
        plan.ignored = Some("every matching route was skipped (see skipped_routes)".to_string());
    }
    plan
}

/// Why no route out of the vault selects the resource: only the tags the routes select on, never
/// the table's whole tag map (logs are read by more people than tags are).
fn not_selected(policy: &Policy, vault: &Vault, landing: &Landing, observed: &Observed) -> String {
    let selected: BTreeMap<&String, Option<&String>> = policy
        .routes_from(&vault.alias)
        .flat_map(|r| r.select.tags.keys())
        .map(|k| (k, observed.resource_tags.get(k)))
        .collect();
    format!(
        "no route out of vault '{}' selects this resource (type {}, its values of the tags the routes select on: {selected:?})",
        vault.alias,
        landing.resource_type.as_deref().unwrap_or("unknown"),
    )
}

// A skip carries its reason in words; it is as common as a start, so it is not boxed.
#[allow(clippy::result_large_err)]
fn start_copy_for(
    policy: &Policy,
    from: &Vault,
    route: &Route,
    recovery_point: &str,
    original: &Original,
    attempt: u32,
    observed: &Observed,
) -> Result<StartCopyJob, SkippedRoute> {
    // Validation guarantees both ends exist; a missing one is skipped, not a panic.
    let skip = |reason: String| SkippedRoute {
        route: route.name(),
        original: original.clone(),
        recovery_point_arn: recovery_point.to_string(),
        destination_backup_vault_arn: policy
            .vault(&route.to)
            .map(|v| v.arn.to_string())
            .unwrap_or_default(),
        reason,
    };
    let to = policy
        .vault(&route.to)
        .ok_or_else(|| skip(format!("vault '{}' is not in the policy", route.to)))?;
    let wanted = match to.retention {
        // An inherited expiry that a lock bounds: the source point's own lifecycle, fitted like
        // any other, so AWS is not sent a copy its lock refuses. Unknown, it is left to AWS.
        Some(Retention::Inherit) if observed.vault_locks.contains_key(&to.arn) => observed
            .point
            .as_ref()
            .filter(|p| p.recovery_point_arn == recovery_point)
            .map(|p| Lifecycle {
                delete_after_days: p.lifecycle.delete_after_days,
                // Cross-account copies have no cold tier.
                move_to_cold_storage_after_days: p
                    .lifecycle
                    .move_to_cold_storage_after_days
                    .filter(|_| from.arn.account == to.arn.account),
            })
            .filter(|l| l.delete_after_days.is_some()),
        r => r.and_then(|r| r.copy_lifecycle()),
    };
    let (lifecycle, lock_adjustment) = match fit_to_lock(wanted, observed.vault_locks.get(&to.arn), to.on_lock_conflict) {
        LockFit::Fits(l) => (l, None),
        LockFit::Raised { lifecycle, from_days } => (
            Some(lifecycle),
            Some(format!(
                "raised from {from_days} to {} days: the vault lock's MinRetentionDays",
                lifecycle.delete_after_days.unwrap_or_default()
            )),
        ),
        LockFit::Clamped { lifecycle, from_days } => (
            Some(lifecycle),
            Some(format!(
                "clamped from {from_days} to {} days: the vault lock's MaxRetentionDays (on_lock_conflict: clamp)",
                lifecycle.delete_after_days.unwrap_or_default()
            )),
        ),
        LockFit::Skipped { reason } => return Err(skip(reason)),
    };
    let destination = to.arn.to_string();
    Ok(StartCopyJob {
        route: route.name(),
        original: original.clone(),
        account: from.arn.account.clone(),
        region: from.arn.region.clone(),
        partition: from.arn.partition.clone(),
        recovery_point_arn: recovery_point.to_string(),
        source_backup_vault_name: from.arn.name.clone(),
        source_backup_vault_arn: from.arn.to_string(),
        idempotency_token: copy_token(original, recovery_point, &destination, attempt),
        destination_backup_vault_arn: destination,
        iam_role_arn: policy.copy_role_for(&from.arn.account),
        attempt,
        lifecycle,
        lock_adjustment,
        resource_arn: Some(original.resource_arn.clone()),
    })
}

/// One hop of a named route for a recovery point in its `from` vault: what the reconciler
/// re-drives and retries. `None` when the route is no longer in the policy.
#[allow(clippy::result_large_err)]
pub fn plan_hop(
    policy: &Policy,
    route: &str,
    recovery_point: &str,
    original: &Original,
    attempt: u32,
    observed: &Observed,
) -> Option<Result<StartCopyJob, SkippedRoute>> {
    let route = policy.routes.iter().find(|r| r.name() == route)?;
    let from = policy.vault(&route.from)?;
    Some(start_copy_for(
        policy,
        from,
        route,
        recovery_point,
        original,
        attempt,
        observed,
    ))
}

/// Copy job status messages, sorted into "try again" and "a person must fix something", with the
/// likely fix. A message that says it is transient (throttled, an internal error, "retry") is
/// retryable whatever service it names: "Rate exceeded (Service: AWSKMS)" is not a key-sharing
/// problem. Unknown messages are retryable too: attempts are bounded, and giving up early loses a hop.
pub fn classify_copy_failure(message: &str) -> (FailureClass, &'static str) {
    const TRANSIENT: &str = "transient: retried automatically; if it keeps failing, check AWS Backup's service health and quotas";
    match copy_failure_kind(message) {
        CopyFailureKind::Transient | CopyFailureKind::Unknown => {
            (FailureClass::Retryable, TRANSIENT)
        }
        CopyFailureKind::NeedsPerson { fix, .. } => (FailureClass::NeedsPerson, fix),
    }
}

/// Why hops failed, as one word: hops into one vault that fail for one cause are one incident
/// (`transient` for a hop given up after its attempts, `other` for a message none of the known
/// causes names). A function of the message alone, so the router and the reconciler, reading
/// the message the ledger kept, name one failure alike.
pub fn copy_failure_cause(message: &str) -> &'static str {
    match copy_failure_kind(message) {
        CopyFailureKind::Transient => "transient",
        CopyFailureKind::Unknown => "other",
        CopyFailureKind::NeedsPerson { cause, .. } => cause,
    }
}

/// The cause of a copy refused because its source point is in the cold tier: the reconciler,
/// seeing the point cold before any copy is tried, names it so too (one incident either way).
pub const COLD_CAUSE: &str = "cold";

enum CopyFailureKind {
    Transient,
    NeedsPerson {
        cause: &'static str,
        fix: &'static str,
    },
    Unknown,
}

fn copy_failure_kind(message: &str) -> CopyFailureKind {
    // The words are AWS's, not the names in its ARNs: a vault called "cold-archive" or a key
    // alias in an ARN says nothing of why a copy failed.
    let m: String = message
        .split_whitespace()
        .filter(|word| {
            !word
                .trim_start_matches(['(', '\'', '"'])
                .starts_with("arn:")
        })
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    let transient_markers = [
        "throttl",
        "rate exceeded",
        "too many requests",
        "internal failure",
        "internal error",
        "internalexception",
        "internal server",
        "service unavailable",
        "serviceunavailable",
        "please retry",
        "try again",
        "timed out",
        "timeout",
    ];
    if transient_markers.iter().any(|t| m.contains(t)) {
        return CopyFailureKind::Transient;
    }
    // (what the message says, the cause's word, the likely fix)
    let needs_person: [(&str, &str, &str); 13] = [
        ("same organization", "organization", "both accounts must be members of the same AWS Organization, with cross-account backup enabled in the management account"),
        ("cross-account backup", "cross-account-backup", "enable cross-account backup in the organization's management account (UpdateGlobalSettings isCrossAccountBackupEnabled)"),
        ("kms", "kms", "share the source recovery point's customer-managed KMS key with the destination account"),
        ("retention", "lock-retention", "the destination vault's lock does not allow this retention: adjust the vault lock or the policy's retention"),
        ("vault lock", "vault-lock", "the destination vault's lock does not allow this copy: adjust the vault lock or the policy's retention"),
        ("locked", "vault-lock", "the destination vault is locked against this copy: adjust the vault lock or the policy's retention"),
        ("access denied", "access-denied", "the destination vault's access policy must allow backup:CopyIntoBackupVault from this account (restrict with aws:PrincipalOrgID)"),
        ("accessdenied", "access-denied", "the destination vault's access policy must allow backup:CopyIntoBackupVault from this account (restrict with aws:PrincipalOrgID)"),
        ("insufficient privileges", "privileges", "the copy role must be allowed to copy (its managed policies for backup), and the destination vault's access policy must allow backup:CopyIntoBackupVault"),
        ("not authorized", "privileges", "the copy role must be allowed to copy, and the destination vault's access policy must allow backup:CopyIntoBackupVault"),
        ("default vault", "default-vault", "cross-account copies cannot go into a Default vault: route to a named vault"),
        ("cold", COLD_CAUSE, "recovery points in the cold or archive tier cannot be copied; copy before the transition"),
        ("does not exist", crate::ledger::VAULT_MISSING_CAUSE, "a vault or the recovery point no longer exists: check the policy's vault ARNs"),
    ];
    needs_person
        .into_iter()
        .find(|(needle, _, _)| m.contains(needle))
        .map_or(CopyFailureKind::Unknown, |(_, cause, fix)| {
            CopyFailureKind::NeedsPerson { cause, fix }
        })
}

#[cfg(test)]
mod tests;
