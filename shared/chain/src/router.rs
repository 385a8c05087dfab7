//! The copy router: what the `copy-router` function does with one event, over the ports. The
//! decisions are the planner's; this only looks up what the plan needs, applies the plan through
//! the ledger so every side effect is claimed first, and reports what happened.

use chrono::Duration;
use serde::Serialize;
use serde_json::Value;

use crate::existing::{self, Existing, Listing};
use crate::incident;
use crate::patience::{Patience, Patient};

mod tags;
use relay_core::arn::VaultArn;
use relay_core::event::{EventDetail, EventError, JobState, ParsedEvent};
use relay_core::ledger::{ClaimOutcome, ClaimRequest, HopKey, Original};
use relay_core::plan::{
    self, copy_failure_cause, Action, CopyFailure, FailureClass, Observed, Plan, SkippedRoute,
    StartCopyJob, Tags,
};
use relay_core::policy::Policy;
use relay_core::ports::{
    Alert, ErrorKind, HopFailure, LedgerPort, PortError, RouterPorts, StartedJob,
};
use tags::{lands_by_route, observe_original, tag_copy, tag_held};

#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// A claim older than this belongs to an invocation that died (Lambda's limit is 15 minutes).
    pub stale_claim_after: Duration,
    /// How often a throttled or failed call is tried again before the event is retried whole.
    pub patience: Patience,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            stale_claim_after: Duration::minutes(15),
            patience: Patience {
                tries: 4,
                ..Patience::default()
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The event cannot be read: it must go to the dead-letter path with its id.
    #[error("unreadable event{}: {source}", id.as_deref().map(|i| format!(" {i}")).unwrap_or_default())]
    UnreadableEvent {
        id: Option<String>,
        source: EventError,
    },
    /// AWS failed transiently: retrying the whole event is safe (every side effect is claimed).
    #[error("event {event_id}: {source}")]
    Transient { event_id: String, source: PortError },
    /// AWS refused in a way retrying the event cannot fix, and the refusal could not be recorded.
    #[error("event {event_id}: {source}")]
    Permanent { event_id: String, source: PortError },
}

impl RouterError {
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::UnreadableEvent { .. } => "UnreadableEvent",
            Self::Transient { source, .. } if source.kind == ErrorKind::Throttled => "Throttled",
            Self::Transient { .. } => "TransientAwsError",
            Self::Permanent { source, .. } if source.kind == ErrorKind::AccessDenied => {
                "AccessDenied"
            }
            Self::Permanent { .. } => "PermanentAwsError",
        }
    }
}

impl RouterError {
    /// An AWS failure while handling `event_id`: a transient one is retried with the whole event.
    pub fn from_port(event_id: &str, source: PortError) -> Self {
        let event_id = event_id.to_string();
        if source.kind.is_transient() {
            Self::Transient { event_id, source }
        } else {
            Self::Permanent { event_id, source }
        }
    }
}

/// Parse an event for a function; an unreadable one keeps its id, if it had one, for the dead letters.
pub fn parse_event(raw: &Value) -> Result<ParsedEvent, RouterError> {
    ParsedEvent::parse(raw).map_err(|source| RouterError::UnreadableEvent {
        id: raw.get("id").and_then(Value::as_str).map(str::to_string),
        source,
    })
}

/// What one event led to.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RouteOutcome {
    pub event_id: String,
    pub ignored: Option<String>,
    /// Copy jobs started: (route, copy job id).
    pub started: Vec<(String, String)>,
    /// Hops another delivery already claimed: the duplicates suppressed.
    pub already_claimed: Vec<String>,
    /// Copy jobs an earlier try had started, found and recorded instead of starting another.
    pub adopted: Vec<(String, String)>,
    pub failures_recorded: u32,
    pub retries_started: u32,
    pub hops_completed: u32,
    pub lock_adjustments: Vec<String>,
    pub skipped: Vec<String>,
    pub alerts_sent: u32,
    /// Hops whose vault already held a COMPLETED copy someone else made (none started).
    pub held: Vec<HeldCopy>,
    /// Copies from outside the routes, not chained on.
    pub unrouted: Vec<String>,
    /// Copies given the policy's tags (TagResource called; a copy that had them is not counted).
    pub copies_tagged: u32,
}

/// A copy a route found already in its vault: the hop is done, and the chain goes on from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeldCopy {
    pub route: String,
    pub original: Original,
    pub vault: VaultArn,
    pub recovery_point_arn: String,
}

pub async fn handle_event<P: RouterPorts>(
    ports: &P,
    policy: &Policy,
    raw: &Value,
    config: &RouterConfig,
) -> Result<RouteOutcome, RouterError> {
    let ports = &Patient::new(ports, config.patience);
    let event = parse_event(raw)?;
    let event_id = event.envelope.id.clone();
    let fail = |source: PortError| RouterError::from_port(&event_id, source);
    let mut out = RouteOutcome {
        event_id: event_id.clone(),
        ..Default::default()
    };

    let needs = plan::plan_needs(&event, policy);
    let mut observed = match observe(ports, &needs).await {
        Ok(o) => o,
        // Nothing can be done in that account until a person fixes it; the reconciler re-drives then.
        Err(e) if e.is_account_denied() => {
            out.alerts_sent += u32::from(account_unreachable(ports, &e).await.map_err(&fail)?);
            out.ignored = Some(format!("account unreachable: {e}"));
            return Ok(out);
        }
        Err(e) => return Err(fail(e)),
    };
    if mark_landed(ports, &event, &observed).await.map_err(&fail)? {
        out.hops_completed += 1;
        // A route claimed this copy or found it held: it is chained on even if it came from
        // outside the routes.
        observed.landing_hop_known = true;
    }
    // Tags never hold a chain up: an original that cannot be read now leaves the copy to the
    // reconciler's repair (no tag action is planned without it).
    let original = observe_original(ports, policy, &event, &observed).await;
    observed.original = original.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the copy's original could not be read; its tags wait for the repair");
        None
    });
    let mut tags_unknown = observed.original.is_none() && lands_by_route(policy, &event);
    if let Some(resource) = &needs.tags_for_tagging {
        match crate::tagging::table_tags(ports, resource).await {
            Ok(tags) => observed.resource_tags = tags,
            Err(e) => {
                tracing::warn!(error = %e, "the table's tags could not be read; the copy's tags wait for the repair");
                tags_unknown = true;
            }
        }
    }

    let mut plan = plan::plan_event(&event, policy, &observed);
    if tags_unknown {
        plan.actions
            .retain(|a| !matches!(a, Action::TagRecoveryPoint(_)));
    }
    out.ignored = plan.ignored.clone();

    // A deferred transient error: the rest of the plan still runs, then the event is retried.
    let mut retry_event: Option<PortError> = None;
    apply(ports, &plan, config, &mut retry_event, &mut out)
        .await
        .map_err(&fail)?;
    let tags = observed.resource_tags;
    chain_from_held(ports, policy, config, tags, &mut retry_event, &mut out)
        .await
        .map_err(&fail)?;
    match retry_event {
        Some(source) => Err(RouterError::Transient { event_id, source }),
        None => Ok(out),
    }
}

/// A Copy Job COMPLETED event whose landed point was described: its hop is marked done. `true`
/// when the ledger had the hop (a route claimed it, or found the copy held).
async fn mark_landed<P: RouterPorts>(
    ports: &P,
    event: &ParsedEvent,
    observed: &Observed,
) -> Result<bool, PortError> {
    let (EventDetail::CopyJob(c), Some(point)) = (&event.detail, &observed.point) else {
        return Ok(false);
    };
    let (JobState::Completed, Some(dst), Some(resource)) = (
        &c.state,
        &c.destination_backup_vault_arn,
        &point.resource_arn,
    ) else {
        return Ok(false);
    };
    let hop = HopKey::new(
        Original::new(resource.clone(), point.creation_date),
        dst.clone(),
    );
    let landed = c.destination_recovery_point_arn.as_deref();
    ports
        .ledger()
        .mark_completed(&hop, landed, ports.now())
        .await
}

/// The plan's skips and actions, each settled: a transient failure is kept for the event's
/// retry while the rest still runs.
async fn apply<P: RouterPorts>(
    ports: &P,
    plan: &Plan,
    config: &RouterConfig,
    retry_event: &mut Option<PortError>,
    out: &mut RouteOutcome,
) -> Result<(), PortError> {
    for skip in &plan.skipped_routes {
        let result = record_skip(ports, skip, out).await;
        settle(ports, result, retry_event, out).await?;
    }
    for action in &plan.actions {
        let result = match action {
            Action::StartCopyJob(job) => start_hop(ports, job, Listing::Unread, config, out).await,
            Action::RecordCopyFailure(failure) => record_failure(ports, failure, out).await,
            Action::RecordBackupFailure(failure) => backup_failed(ports, failure, out).await,
            Action::RecordUnroutedCopy(copy) => unrouted_copy(ports, copy, out).await,
            Action::TagRecoveryPoint(tag) => tag_copy(ports, tag, out).await,
            // The retention guard's actions: its own function handles these events.
            Action::UpdateRecoveryPointLifecycle(_) | Action::RecordRetentionViolation(_) => Ok(()),
        };
        settle(ports, result, retry_event, out).await?;
    }
    Ok(())
}

/// Copies found already held run their own onward routes now, as a landing would: each vault
/// once, so the walk ends within the policy's graph.
async fn chain_from_held<P: RouterPorts>(
    ports: &P,
    policy: &Policy,
    config: &RouterConfig,
    mut tags: Tags,
    retry_event: &mut Option<PortError>,
    out: &mut RouteOutcome,
) -> Result<(), PortError> {
    let mut walked = std::collections::BTreeSet::new();
    let mut next = 0;
    let mut tags_read = false;
    while let Some(copy) = out.held.get(next).cloned() {
        next += 1;
        let tagged = tag_held(ports, policy, &copy, out).await;
        settle(ports, tagged, retry_event, out).await?;
        let Some(vault) = policy.vault_by_arn(&copy.vault) else {
            continue;
        };
        if !walked.insert(vault.alias.clone()) {
            continue;
        }
        let routes: Vec<_> = policy.routes_from(&vault.alias).collect();
        if routes.iter().any(|r| !r.select.tags.is_empty()) && !tags_read {
            tags = match crate::tagging::table_tags(ports, &copy.original.resource_arn).await {
                Ok(t) => t,
                Err(e) => {
                    settle(ports, Err(e), retry_event, out).await?;
                    continue;
                }
            };
            tags_read = true;
        }
        let needs = plan::PlanNeeds {
            locks_of: routes
                .iter()
                .filter_map(|r| policy.vault(&r.to).map(|v| v.arn.clone()))
                .collect(),
            ..plan::PlanNeeds::default()
        };
        let mut observed = match observe(ports, &needs).await {
            Ok(o) => o,
            Err(e) => {
                settle(ports, Err(e), retry_event, out).await?;
                continue;
            }
        };
        observed.resource_tags = tags.clone();
        for route in routes
            .into_iter()
            .filter(|r| r.select.matches(Some("DynamoDB"), &tags))
        {
            let planned = plan::plan_hop(
                policy,
                &route.name(),
                &copy.recovery_point_arn,
                &copy.original,
                1,
                &observed,
            );
            let result = match planned {
                Some(Ok(job)) => start_hop(ports, &job, Listing::Unread, config, out).await,
                Some(Err(skip)) => record_skip(ports, &skip, out).await,
                None => Ok(()),
            };
            settle(ports, result, retry_event, out).await?;
        }
    }
    Ok(())
}

/// One action's result: a transient error is kept to retry the event after the rest ran; an
/// unreachable account becomes its one incident; anything else fails the event.
async fn settle<P: RouterPorts>(
    ports: &P,
    result: Result<(), PortError>,
    retry_event: &mut Option<PortError>,
    out: &mut RouteOutcome,
) -> Result<(), PortError> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind.is_transient() => {
            retry_event.get_or_insert(e);
            Ok(())
        }
        Err(e) if e.is_account_denied() => {
            out.alerts_sent += u32::from(account_unreachable(ports, &e).await?);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The one incident of an account whose executor role cannot be assumed.
pub(crate) async fn account_unreachable<P: RouterPorts>(
    ports: &P,
    error: &PortError,
) -> Result<bool, PortError> {
    let account = error.account.as_deref().unwrap_or_default();
    tracing::warn!(account, error = %error, "account unreachable");
    incident::raise_account(ports, account, error).await
}

/// Plan an event without touching anything: the `relay plan` command.
pub fn plan_only(raw: &Value, policy: &Policy, observed: &Observed) -> Result<Plan, EventError> {
    let event = ParsedEvent::parse(raw)?;
    Ok(plan::plan_event(&event, policy, observed))
}

pub(crate) async fn observe<P: RouterPorts>(
    ports: &P,
    needs: &plan::PlanNeeds,
) -> Result<Observed, PortError> {
    let mut observed = Observed::default();
    if let Some(resource) = &needs.tags_of {
        observed.resource_tags = crate::tagging::table_tags(ports, resource).await?;
    }
    for vault in &needs.locks_of {
        match ports.vault_lock(vault).await {
            Ok(Some(lock)) => {
                observed.vault_locks.insert(vault.clone(), lock);
            }
            Ok(None) => {}
            // StartCopyJob gives the authoritative answer for a vault we cannot describe.
            Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::AccessDenied) => {
                tracing::warn!(vault = %vault, error = %e, "vault lock state unknown; planning without it");
            }
            Err(e) => return Err(e),
        }
    }
    if let Some((vault, recovery_point)) = &needs.describe {
        match ports.describe_recovery_point(vault, recovery_point).await {
            Ok(point) => observed.point = Some(point),
            Err(e) if e.kind == ErrorKind::NotFound => observed.point_missing = true,
            Err(e) => return Err(e),
        }
    }
    Ok(observed)
}

pub(crate) async fn start_hop<P: RouterPorts>(
    ports: &P,
    job: &StartCopyJob,
    listing: Listing,
    config: &RouterConfig,
    out: &mut RouteOutcome,
) -> Result<(), PortError> {
    let hop = HopKey::new(
        job.original.clone(),
        job.destination_backup_vault_arn.clone(),
    );
    let req = ClaimRequest::new(job, ports.now(), config.stale_claim_after);
    let claim = ports.ledger().claim(&hop, &req).await?;
    if let ClaimOutcome::AlreadyTaken(_) = claim {
        tracing::info!(route = %job.route, attempt = job.attempt, "hop already claimed or held; duplicate suppressed");
        out.already_claimed.push(job.route.clone());
        return Ok(());
    }
    // Ours to make, unless the vault holds the copy or is receiving it, whoever made or started
    // it: a backup plan's copy action, a person, or an earlier try whose answer was lost (AWS's
    // memory of the token is undocumented).
    let existing = match existing::existing_copy(ports, job, claim.takeover(), listing).await {
        Ok(existing) => existing,
        Err(e) => return release(ports, &hop, job, e).await,
    };
    match existing {
        Existing::Held(point) => return held(ports, &hop, job, &point, out).await,
        Existing::UnderWay(found) => {
            tracing::info!(route = %job.route, copy_job_id = %found.copy_job_id, "a copy job of this hop is under way; adopted");
            if !ports
                .ledger()
                .mark_started(&hop, job.attempt, &found, ports.now())
                .await?
            {
                tracing::warn!(route = %job.route, "claim lost before the adopted job was recorded");
            }
            out.adopted.push((job.route.clone(), found.copy_job_id));
            return Ok(());
        }
        Existing::Nothing => {}
    }
    if let Some(adj) = &job.lock_adjustment {
        out.lock_adjustments.push(format!("{}: {adj}", job.route));
    }
    match ports.start_copy_job(job).await {
        Ok(copy_job_id) => {
            tracing::info!(route = %job.route, attempt = job.attempt, copy_job_id = %copy_job_id,
                account = %job.account, region = %job.region, "copy job started");
            let started = StartedJob::new(
                &copy_job_id,
                &job.recovery_point_arn,
                &job.source_backup_vault_arn,
            );
            if !ports
                .ledger()
                .mark_started(&hop, job.attempt, &started, ports.now())
                .await?
            {
                // Another invocation took the claim over meanwhile; its search finds this job.
                tracing::warn!(route = %job.route, copy_job_id = %copy_job_id, "claim lost before the started job was recorded");
            }
            out.started.push((job.route.clone(), copy_job_id));
            Ok(())
        }
        // Released: the same attempt is taken again later (after the account is fixed, if denied).
        Err(e) if e.kind.is_transient() || e.is_account_denied() => {
            release(ports, &hop, job, e).await
        }
        Err(e) => refused(ports, job, hop, &e, out).await,
    }
}

/// The claim given back after a call failed transiently (or its account refused): the same
/// attempt, with the same token, is taken again by the event's retry or the reconciler.
async fn release<P: RouterPorts>(
    ports: &P,
    hop: &HopKey,
    job: &StartCopyJob,
    e: PortError,
) -> Result<(), PortError> {
    if !(e.kind.is_transient() || e.is_account_denied()) {
        // A claim left CLAIMED goes stale and is taken over: nothing is lost, only later.
        return Err(e);
    }
    tracing::warn!(route = %job.route, error = %e, "copy not started; claim released");
    ports
        .ledger()
        .release(hop, job.attempt, &e.to_string(), ports.now())
        .await?;
    Err(e)
}

/// The vault already holds a COMPLETED copy of the original that someone else made: the hop is
/// done, and its onward routes run from that copy.
async fn held<P: RouterPorts>(
    ports: &P,
    hop: &HopKey,
    job: &StartCopyJob,
    point: &str,
    out: &mut RouteOutcome,
) -> Result<(), PortError> {
    tracing::info!(route = %job.route, recovery_point = %point, "the vault already holds a copy of this backup; none started");
    ports
        .ledger()
        .mark_completed(hop, Some(point), ports.now())
        .await?;
    if let Ok(vault) = VaultArn::parse(&job.destination_backup_vault_arn) {
        out.held.push(HeldCopy {
            route: job.route.clone(),
            original: job.original.clone(),
            vault,
            recovery_point_arn: point.to_string(),
        });
    }
    Ok(())
}

/// StartCopyJob refused outright: retrying cannot help. Recorded, and alerted once for the hop.
async fn refused<P: RouterPorts>(
    ports: &P,
    job: &StartCopyJob,
    hop: HopKey,
    e: &PortError,
    out: &mut RouteOutcome,
) -> Result<(), PortError> {
    // The kind of refusal in words the cause of its incident reads ([`copy_failure_cause`]):
    // a destination that does not exist is the vault's one incident, whoever finds it first.
    let message = match e.kind {
        ErrorKind::NotFound => format!("the vault or the recovery point does not exist: {e}"),
        ErrorKind::AccessDenied => format!("access denied: {e}"),
        _ => e.to_string(),
    };
    let failure = HopFailure {
        copy_job_id: None,
        attempt: Some(job.attempt),
        class: FailureClass::NeedsPerson,
        message,
    };
    if ports
        .ledger()
        .mark_failed(&hop, &failure, ports.now())
        .await?
        .is_some()
    {
        out.failures_recorded += 1;
        let alert = Alert::about_hop(
            format!("Backup Relay: cannot start copy {}", job.route),
            format!(
                "StartCopyJob for route {} was refused in {}/{}.\nRecovery point: {}\nDestination: {}\nAWS said: {}\nLikely fix: {}{SAME_CAUSE}",
                job.route, job.account, job.region, job.recovery_point_arn, job.destination_backup_vault_arn, e,
                refusal_fix(e.kind)
            ),
            hop.clone(),
        );
        let id = hop.vault_incident(copy_failure_cause(&failure.message), &job.account);
        out.alerts_sent += u32::from(incident::raise(ports, id, alert).await?);
    }
    Ok(())
}

/// What every hop alert adds: it stands for the other hops into the vault that fail alike.
pub(crate) const SAME_CAUSE: &str = "\nLater copies into this vault that fail for the same reason are not alerted again until a copy of a newer backup into it is made (the reconciler closes this incident then); `relay report` lists every missing copy.";

/// The cause of hops skipped because the destination's lock refuses their retention.
pub(crate) const SKIPPED_CAUSE: &str = "skipped";

fn refusal_fix(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::AccessDenied => "the executor role in the source account must allow backup:StartCopyJob and iam:PassRole on the copy role",
        ErrorKind::NotFound => "the recovery point or a vault no longer exists: check the policy's vault ARNs",
        _ => "check the request against the policy (vault ARNs, copy role, retention)",
    }
}

/// A backup plan's job into a vault of the policy failed: no original, so no chain. One incident
/// per vault and cause (a lock refusing the plan's retention fails every backup, every day); the
/// reconciler closes it once the vault holds a newer backup.
async fn backup_failed<P: RouterPorts>(
    ports: &P,
    failure: &plan::BackupFailure,
    out: &mut RouteOutcome,
) -> Result<(), PortError> {
    let fix = match failure.cause() {
        "vault-lock" => "the vault's lock refuses the plan's retention: set the plan's DeleteAfterDays within the lock's bounds, or (while it is changeable) widen the lock",
        "vault-missing" => "the plan's target vault does not exist: create it (the spoke stack does) or correct the plan",
        "access" => "the plan's IAM role cannot back up the table: check the role and its policies",
        _ => "see the backup job in AWS Backup's console",
    };
    let alert = Alert::plain(
        format!(
            "Backup Relay: backups into {} fail",
            failure.backup_vault_arn
        ),
        format!(
            "A backup job of {} into {} ended {} in {}/{}: no backup was made, so nothing is \
             copied on. Later failures for the same reason are not alerted again until a backup \
             into the vault succeeds.\nAWS said: {}\nLikely fix: {fix}",
            failure.resource_arn.as_deref().unwrap_or("(a resource)"),
            failure.backup_vault_arn,
            failure.state,
            failure.account,
            failure.region,
            failure.status_message
        ),
    );
    let id = backup_failure_incident(&failure.backup_vault_arn, failure.cause());
    out.alerts_sent += u32::from(incident::raise(ports, id, alert).await?);
    Ok(())
}

/// A copy from outside the routes, of a table the policy does not route there, that no route
/// claimed: not chained on. A copy the policy did not ask for, perhaps planted: one alert per flow.
pub(crate) async fn unrouted_copy<P: RouterPorts>(
    ports: &P,
    copy: &relay_core::provenance::UnroutedCopy,
    out: &mut RouteOutcome,
) -> Result<(), PortError> {
    tracing::info!(recovery_point = %copy.recovery_point_arn, source_vault = %copy.source_vault_arn,
        "copy from outside the routes: not chained on");
    out.unrouted.push(copy.recovery_point_arn.clone());
    let alert = Alert::plain(
        format!(
            "Backup Relay: copies into {} from outside the policy",
            copy.backup_vault_arn
        ),
        format!(
            "{}.\nLater copies along the same way are not alerted again. If a backup plan's copy \
             action or a person made it, add a route from that vault to the policy if it is to be \
             chained; if nobody did, someone who may copy into the vault put it there: check \
             CloudTrail (CopyIntoBackupVault) and the vault's access policy.",
            copy.reason()
        ),
    );
    out.alerts_sent += u32::from(incident::raise(ports, copy.incident_id(), alert).await?);
    Ok(())
}

/// The incident of backups failing into a vault for one cause.
pub fn backup_failure_incident(vault_arn: &str, cause: &str) -> String {
    format!("backup#{vault_arn}#{cause}")
}

/// Record a failed copy job against its own attempt. Retryable failures are retried by the
/// reconciler, with backoff; failures that need a person are alerted here, once.
async fn record_failure<P: RouterPorts>(
    ports: &P,
    failure: &CopyFailure,
    out: &mut RouteOutcome,
) -> Result<(), PortError> {
    let Some(original) = failure.original.clone() else {
        tracing::info!(copy_job_id = ?failure.copy_job_id, "failed copy's source point cannot be described; the reconciler finds the hop");
        return Ok(());
    };
    let hop = HopKey::new(original, failure.destination_backup_vault_arn.clone());
    let recorded = HopFailure {
        copy_job_id: failure.copy_job_id.clone(),
        attempt: None,
        class: failure.class,
        message: failure.status_message.clone(),
    };
    let Some(record) = ports
        .ledger()
        .mark_failed(&hop, &recorded, ports.now())
        .await?
    else {
        tracing::info!(copy_job_id = ?failure.copy_job_id, "copy failure already recorded or not ours");
        return Ok(());
    };
    out.failures_recorded += 1;
    if failure.class == FailureClass::Retryable {
        tracing::info!(route = ?failure.route, attempt = record.attempt, "retryable copy failure recorded; the reconciler retries it");
        return Ok(());
    }
    let alert = copy_failure_alert(failure, &hop, record.attempt, "needs a person");
    let cause = copy_failure_cause(&failure.status_message);
    let id = hop.vault_incident(cause, &failure.account);
    out.alerts_sent += u32::from(incident::raise(ports, id, alert).await?);
    Ok(())
}

/// The alert for a hop that will not be copied without a person.
pub fn copy_failure_alert(failure: &CopyFailure, hop: &HopKey, attempt: u32, why: &str) -> Alert {
    Alert::about_hop(
        format!(
            "Backup Relay: copy {} failed ({why})",
            failure.route.as_deref().unwrap_or("outside the policy's routes")
        ),
        format!(
            "Copy job {} from {} failed in {}/{} (attempt {attempt}).\nSource recovery point: {}\nDestination vault: {}\nAWS said: {}\nLikely fix: {}{SAME_CAUSE}",
            failure.copy_job_id.as_deref().unwrap_or("(no id)"),
            failure.source_backup_vault_arn.as_deref().unwrap_or("(unknown vault)"),
            failure.account,
            failure.region,
            failure.source_recovery_point_arn,
            failure.destination_backup_vault_arn,
            failure.status_message,
            failure.likely_fix
        ),
        hop.clone(),
    )
}

pub(crate) async fn record_skip<P: RouterPorts>(
    ports: &P,
    skip: &SkippedRoute,
    out: &mut RouteOutcome,
) -> Result<(), PortError> {
    let hop = HopKey::new(
        skip.original.clone(),
        skip.destination_backup_vault_arn.clone(),
    );
    out.skipped.push(format!("{}: {}", skip.route, skip.reason));
    if ports
        .ledger()
        .record_skipped(&hop, &skip.route, &skip.reason, ports.now())
        .await?
    {
        let alert = Alert::about_hop(
            format!("Backup Relay: copy {} skipped (vault lock)", skip.route),
            format!(
                "Recovery point {} was not copied to {}: {}.\nLikely fix: widen the vault lock's MaxRetentionDays, or set on_lock_conflict: clamp.{SAME_CAUSE}",
                skip.recovery_point_arn, skip.destination_backup_vault_arn, skip.reason
            ),
            hop.clone(),
        );
        let id = hop.vault_incident(SKIPPED_CAUSE, "");
        out.alerts_sent += u32::from(incident::raise(ports, id, alert).await?);
    }
    Ok(())
}
