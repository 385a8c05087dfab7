//! One source point of a route: is its copy missing, and if so what the hop needs (a first start,
//! a reclaim, a retry after its backoff, a look at a job whose events never came, or one alert).

use super::route::{is_held, Held, RouteCtx};
use super::tags;
use super::*;
use relay_core::plan::copy_failure_cause;

/// One source point of a route: is its copy missing, and if so, what does the hop need?
pub(super) async fn examine<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    point: &PointView,
    (held, listing): (&Held, Listing),
    observed: &Observed,
    records: &tags::Records,
    tags: &mut BTreeMap<String, Tags>,
    report: &mut ReconcileReport,
) -> Result<(), PortError> {
    let Some(original) = missing_copy(ctx, point, held, report) else {
        return tags::check(ctx, point, held, records, tags, report).await;
    };
    if !selected(ctx, point, &original, tags).await? {
        return Ok(());
    }
    if !chainable(ctx, point, &original, tags, report).await? {
        return Ok(());
    }
    let hop = HopKey::new(original.clone(), ctx.to.arn.to_string());
    if let Some(why) = not_copyable(point) {
        report.not_copyable += 1;
        return alert_not_copyable(ctx, point, &hop, why, report).await;
    }
    report.copies_missing += 1;
    let acted = match ctx.ports.ledger().get(&hop).await {
        Ok(None) => start(ctx, point, (&original, 1, listing), observed, report)
            .await
            .inspect(|n| report.redriven += n),
        Ok(Some(record)) => {
            let missing = Missing {
                point,
                original: &original,
                hop: &hop,
                listing,
            };
            on_record(ctx, &missing, &record, observed, report).await
        }
        Err(e) => Err(e),
    };
    // Whatever went wrong above, a copy about to leave the look-back is announced.
    if !matches!(acted, Ok(1..)) {
        final_notice(ctx, point, &hop, report).await?;
    }
    acted.map(|_| ())
}

/// Only routes are chained: a copy in the source vault that came from outside the routes is
/// copied on only when the policy routes its table there (a backup plan's copy action beside the
/// route serves the route's hop) or a route claimed it; anything else is alerted once per flow.
pub(super) async fn chainable<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    point: &PointView,
    original: &Original,
    tags: &mut BTreeMap<String, Tags>,
    report: &mut ReconcileReport,
) -> Result<bool, PortError> {
    use relay_core::provenance::{expected_in, provenance, Provenance, UnroutedCopy};
    let Provenance::Outside { source_vault_arn } =
        provenance(ctx.policy, ctx.from, point.source_vault_arn.as_deref())
    else {
        return Ok(true);
    };
    let table_tags = tags_of(ctx, &original.resource_arn, tags).await?;
    let kind = point.resource_type.as_deref();
    if expected_in(ctx.policy, ctx.from, original, kind, &table_tags) {
        return Ok(true);
    }
    let own = HopKey::new(original.clone(), ctx.from.arn.to_string());
    if ctx.ports.ledger().get(&own).await?.is_some() {
        return Ok(true);
    }
    report.unrouted += 1;
    let copy = UnroutedCopy {
        recovery_point_arn: point.recovery_point_arn.clone(),
        backup_vault_arn: ctx.from.arn.to_string(),
        source_vault_arn,
        original: original.clone(),
    };
    let mut out = RouteOutcome::default();
    router::unrouted_copy(ctx.ports, &copy, &mut out).await?;
    report.alerts_sent += u64::from(out.alerts_sent);
    Ok(false)
}

/// A table's tags, read once per resource per run.
pub(super) async fn tags_of<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    resource: &str,
    tags: &mut BTreeMap<String, Tags>,
) -> Result<Tags, PortError> {
    if let Some(t) = tags.get(resource) {
        return Ok(t.clone());
    }
    let t = crate::tagging::table_tags(ctx.ports, resource).await?;
    tags.insert(resource.to_string(), t.clone());
    Ok(t)
}

/// Why a source point can never be copied, if it cannot.
pub(super) fn not_copyable(point: &PointView) -> Option<&'static str> {
    let native =
        RecoveryPointArn::parse(&point.recovery_point_arn).is_ok_and(|a| a.is_dynamodb_native());
    if native {
        return Some("it is a DynamoDB-native backup (advanced features for DynamoDB are off in its account and Region)");
    }
    match point.storage_class.as_deref() {
        Some("COLD") => Some("it is in the cold tier, and cold recovery points cannot be copied"),
        Some("DELETED") => Some("it is deleted"),
        _ => None,
    }
}

/// A copy that can never be made needs a person: native backups once per account and Region
/// (every backup there is one), a cold point once for its hop.
pub(super) async fn alert_not_copyable<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    point: &PointView,
    hop: &HopKey,
    why: &str,
    report: &mut ReconcileReport,
) -> Result<(), PortError> {
    let native =
        RecoveryPointArn::parse(&point.recovery_point_arn).is_ok_and(|a| a.is_dynamodb_native());
    if !native {
        let why = format!(
            "recovery point {} cannot be copied: {why}",
            point.recovery_point_arn
        );
        let cause = match point.storage_class.as_deref() {
            Some("COLD") => COLD_CAUSE,
            _ => DELETED_CAUSE,
        };
        return alert_hop(ctx, hop, ("cannot be made", &why, cause), report).await;
    }
    let (account, region) = (&ctx.from.arn.account, &ctx.from.arn.region);
    let alert = Alert {
        account: Some(account.clone()),
        ..Alert::plain(
            format!("Backup Relay: backups in {account}/{region} cannot be copied"),
            format!(
            "Recovery point {} in vault '{}' is a DynamoDB-native backup: {why}. No backup of a \
             DynamoDB table made there can be copied until advanced features are switched on \
             (UpdateRegionSettings, ResourceTypeOptInPreference and \
             ResourceTypeManagementPreference DynamoDB=true); they apply to new backups only.",
            point.recovery_point_arn, ctx.from.alias
        ),
        )
    };
    let id = format!("native#{account}#{region}");
    report.alerts_sent += u64::from(incident::raise(ctx.ports, id, alert).await?);
    Ok(())
}

/// The original of a source point whose copy the destination does not hold, if it is one to judge
/// now: completed, of a selected type, and not so fresh that its events may still be on the way.
pub(super) fn missing_copy<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    point: &PointView,
    held: &Held,
    report: &mut ReconcileReport,
) -> Option<Original> {
    if !is_held(point) {
        return None;
    }
    let type_selected = point
        .resource_type
        .as_deref()
        .is_none_or(|t| ctx.route.select.resource_types.iter().any(|rt| rt == t));
    if !type_selected {
        return None;
    }
    let resource = point.resource_arn.clone()?;
    let now = ctx.ports.now();
    if point
        .completion_date
        .is_some_and(|c| c > now - ctx.config.settle)
    {
        report.settling += 1;
        return None;
    }
    if held
        .get(&resource)
        .is_some_and(|s| s.contains_key(&point.creation_date.timestamp_millis()))
    {
        // Copies into the destination are made: its vault incidents close once one is of a
        // backup newer than they are.
        let into = ctx.to.arn.to_string();
        let from_account = format!("{into}#{}", ctx.from.arn.account);
        for key in [into, from_account] {
            let newest = report.copied_into.entry(key).or_insert(point.creation_date);
            *newest = (*newest).max(point.creation_date);
        }
        return None;
    }
    Some(Original::new(resource, point.creation_date))
}

/// Does the route select this point's resource by its tags (read once per resource per run)?
pub(super) async fn selected<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    point: &PointView,
    original: &Original,
    tags: &mut BTreeMap<String, Tags>,
) -> Result<bool, PortError> {
    if ctx.route.select.tags.is_empty() {
        return Ok(true);
    }
    let t = tags_of(ctx, &original.resource_arn, tags).await?;
    Ok(ctx.route.select.matches(point.resource_type.as_deref(), &t))
}

/// A source point whose copy the destination lacks: the point, its original, and the hop.
pub(super) struct Missing<'a> {
    pub(super) point: &'a PointView,
    pub(super) original: &'a Original,
    pub(super) hop: &'a HopKey,
    /// Whether this pass listed the destination for the point's table (a fan-in route spares
    /// the lookup of tables the ledger accounts for: a start then lists it first).
    pub(super) listing: Listing,
}

/// A missing copy whose hop has a record: reclaim, watch, retry, or make sure a person knows.
/// Returns 1 when a copy job started.
pub(super) async fn on_record<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    missing: &Missing<'_>,
    record: &HopRecord,
    observed: &Observed,
    report: &mut ReconcileReport,
) -> Result<u64, PortError> {
    let Missing {
        point,
        original,
        hop,
        listing,
    } = *missing;
    let now = ctx.ports.now();
    let abandoned = record.state == HopState::Released
        || (record.state == HopState::Claimed
            && record
                .claimed_at
                .is_some_and(|t| t < now - ctx.config.router.stale_claim_after));
    if abandoned {
        // A released claim, or one left by a dead invocation: the same attempt, the same token.
        let n = start(
            ctx,
            point,
            (original, record.attempt, listing),
            observed,
            report,
        )
        .await?;
        report.reclaimed += n;
        return Ok(n);
    }
    match record.state {
        // A live claim (a released or stale one was taken over above).
        HopState::Claimed | HopState::Released => report.in_flight += 1,
        HopState::Started if record.updated_at < now - ctx.config.started_check_after => {
            // The copy was made after all: no final notice for it.
            return resolve_started(ctx, hop, record, report).await;
        }
        HopState::Started => report.in_flight += 1,
        HopState::Failed if record.failure_class == Some(FailureClass::Retryable) => {
            return retry_failed(ctx, missing, record, observed, report).await;
        }
        // Needs a person, or deliberately skipped: the router alerted; make sure it did, while
        // the failure is recent (a router stopped between its record and its alert). An older
        // one was alerted then: its vault's incident may since be closed by copies that work
        // again, and the failure stays missing in the report, never alerted anew each pass.
        HopState::Failed | HopState::Skipped
            if record.updated_at >= now - ctx.config.behind_after =>
        {
            let why = record.status_message.as_deref().unwrap_or("needs a person");
            let cause = recorded_cause(record);
            alert_hop(ctx, hop, ("not made (needs a person)", why, cause), report).await?;
        }
        // Alerted when it failed: no final notice for it either.
        HopState::Failed | HopState::Skipped => {
            report.alerted_hops.insert(hop.incident_id());
        }
        HopState::Completed => {
            let why = "the ledger records this copy as made, but the destination vault does not hold a COMPLETED copy";
            let cause = MISSING_CAUSE;
            alert_hop(ctx, hop, ("missing (recorded as made)", why, cause), report).await?;
        }
    }
    Ok(0)
}

/// A retryable failure: the next attempt after its backoff, or, out of attempts, one alert.
pub(super) async fn retry_failed<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    missing: &Missing<'_>,
    record: &HopRecord,
    observed: &Observed,
    report: &mut ReconcileReport,
) -> Result<u64, PortError> {
    let Missing {
        point,
        original,
        hop,
        listing,
    } = *missing;
    let now = ctx.ports.now();
    let config = ctx.config;
    if record.attempt >= config.max_attempts {
        let reason = format!("failed (gave up after {} attempts)", record.attempt);
        if ctx
            .ports
            .ledger()
            .escalate(hop, record.attempt, &reason, now)
            .await?
        {
            report.escalated += 1;
        }
        let message = record.status_message.clone().unwrap_or_default();
        let (_, fix) = classify_copy_failure(&message);
        let why = format!("{reason}. Last status from AWS: {message}. Likely fix: {fix}");
        let cause = recorded_cause(record);
        alert_hop(ctx, hop, (&reason, &why, cause), report).await?;
        return Ok(0);
    }
    // The record is stored data: checked, so a corrupt date cannot panic (it waits instead).
    let backoff = retry_backoff(
        record.attempt.saturating_add(1),
        config.backoff_base,
        config.backoff_max,
        hop,
    );
    let due = record
        .updated_at
        .checked_add_signed(backoff)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    if now < due {
        report.waiting_for_backoff += 1;
        return Ok(0);
    }
    let attempt = record.attempt + 1;
    let n = start(ctx, point, (original, attempt, listing), observed, report).await?;
    report.retries += n;
    Ok(n)
}

/// The hop's one alert (its incident): sent the first time, a no-op after.
/// The hop's alert, raised as the incident of every hop into its vault not made for `cause`
/// (the router's, when it raised it first): sent the first time, a no-op after.
pub(super) async fn alert_hop<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    hop: &HopKey,
    (headline, why, cause): (&str, &str, &str),
    report: &mut ReconcileReport,
) -> Result<(), PortError> {
    let alert = Alert::about_hop(
        format!("Backup Relay: copy {} {headline}", ctx.route.name()),
        format!(
            "The copy of {} (created {}) into {} is not made: {why}{}",
            hop.original.resource_arn,
            hop.original.creation_date,
            hop.destination_vault_arn,
            router::SAME_CAUSE
        ),
        hop.clone(),
    );
    let id = hop.vault_incident(cause, &ctx.from.arn.account);
    report.alerts_sent += u64::from(incident::raise(ctx.ports, id, alert).await?);
    report.alerted_hops.insert(hop.incident_id());
    Ok(())
}

/// Copies the ledger records as made that the vault does not hold, and points that can never be
/// copied (cold, deleted): copies of newer backups landing fix neither, so their incidents are
/// not closed by them (they expire with the ledger's incidents).
pub(super) const MISSING_CAUSE: &str = "missing";
/// As [`copy_failure_cause`] names AWS's refusal of a cold point, so the router's and the
/// reconciler's alerts of one are one incident.
pub(super) const COLD_CAUSE: &str = plan::COLD_CAUSE;
pub(super) const DELETED_CAUSE: &str = "deleted";

/// Why a hop the ledger records as failed or skipped is not made, as its incident names it:
/// from the message the router recorded, so both name one failure alike.
fn recorded_cause(record: &HopRecord) -> &'static str {
    match record.state {
        HopState::Skipped => router::SKIPPED_CAUSE,
        _ => copy_failure_cause(record.status_message.as_deref().unwrap_or("")),
    }
}

/// A copy still missing this close to the end of the look-back window is about to be dropped from
/// the reconciler's view: a person must know, once per route (a queue behind a quota brings many
/// to the edge at once: one alert, never one per copy), until a pass finds none at the edge.
pub(super) async fn final_notice<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    point: &PointView,
    hop: &HopKey,
    report: &mut ReconcileReport,
) -> Result<(), PortError> {
    let now = ctx.ports.now();
    let config = ctx.config;
    if point.creation_date >= now - config.lookback + config.final_notice
        || report.stuck_tables.contains(&hop.original.resource_arn)
        || report.alerted_hops.contains(&hop.incident_id())
    {
        return Ok(());
    }
    let route = ctx.route.name();
    report.window_seen.insert(route.clone());
    if report.window_routes.contains(&route) {
        return Ok(());
    }
    let alert = Alert {
        route: Some(route.clone()),
        ..Alert::plain(
            format!("Backup Relay: copies along {route} are about to leave the look-back window"),
            format!(
                "The copy of {} (created {}) into {} is not made, {} days after the backup; the \
             reconciler looks back {} days and stops re-driving copies older than that. Others \
             along {route} may be as late: this alert stands for all of them until a pass finds \
             none.\nLikely fix: see the route's other alerts (a copy job that failed, a queue \
             behind AWS's copy quota), then copy what is left by hand or raise LookbackDays.",
                hop.original.resource_arn,
                hop.original.creation_date,
                hop.destination_vault_arn,
                (now - point.creation_date).num_days(),
                config.lookback.num_days()
            ),
        )
    };
    let id = format!("{WINDOW_PREFIX}{route}");
    report.alerts_sent += u64::from(incident::raise(ctx.ports, id, alert).await?);
    report.window_routes.insert(route);
    Ok(())
}

/// Start one attempt of a hop through the router's own claim-then-start. Returns 1 if a copy job started.
pub(super) async fn start<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    point: &PointView,
    (original, attempt, listing): (&Original, u32, Listing),
    observed: &Observed,
    report: &mut ReconcileReport,
) -> Result<u64, PortError> {
    let mut out = RouteOutcome::default();
    // The source point as listed: what an inherited lifecycle is fitted to a lock from.
    let observed = Observed {
        point: Some(point.clone()),
        ..observed.clone()
    };
    let result = match plan::plan_hop(
        ctx.policy,
        &ctx.route.name(),
        &point.recovery_point_arn,
        original,
        attempt,
        &observed,
    ) {
        // NotHeld: the destination was listed by this pass moments ago and did not hold the copy.
        Some(Ok(job)) => {
            router::start_hop(ctx.ports, &job, listing, &ctx.config.router, &mut out).await
        }
        Some(Err(skip)) => router::record_skip(ctx.ports, &skip, &mut out).await,
        None => Ok(()),
    };
    report.lock_adjustments += out.lock_adjustments.len() as u64;
    report.alerts_sent += u64::from(out.alerts_sent);
    report.adopted += out.adopted.len() as u64;
    report.already_held += out.held.len() as u64;
    result?;
    Ok((out.started.len() + out.adopted.len()) as u64)
}

/// A STARTED hop whose events never came: ask AWS how its copy job ended. 1 when it completed.
pub(super) async fn resolve_started<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    hop: &HopKey,
    record: &HopRecord,
    report: &mut ReconcileReport,
) -> Result<u64, PortError> {
    let Some(job) = record.copy_job_id.as_deref() else {
        report.in_flight += 1;
        return Ok(0);
    };
    // The job runs where its source vault is: the claiming route's, which may not be this one.
    let at = record
        .source_vault_arn
        .as_deref()
        .and_then(|v| VaultArn::parse(v).ok())
        .unwrap_or_else(|| ctx.from.arn.clone());
    let status = match ctx.ports.copy_job_status(&at.location(), job).await {
        Ok(s) => s,
        Err(e) if e.kind == ErrorKind::NotFound => relay_core::ports::CopyJobStatus {
            state: "FAILED".into(),
            status_message: Some(format!("copy job {job} is unknown to AWS Backup")),
            destination_recovery_point_arn: None,
        },
        Err(e) => return Err(e),
    };
    let now = ctx.ports.now();
    match status.state.as_str() {
        "COMPLETED" => {
            ctx.ports
                .ledger()
                .mark_completed(hop, status.destination_recovery_point_arn.as_deref(), now)
                .await?;
            report.stuck_jobs_resolved += 1;
            return Ok(1);
        }
        "FAILED" | "ABORTED" | "EXPIRED" | "PARTIAL" => {
            let message = status
                .status_message
                .unwrap_or_else(|| format!("the copy job ended {}", status.state));
            let (class, fix) = classify_copy_failure(&message);
            let failure = HopFailure {
                copy_job_id: Some(job.to_string()),
                attempt: None,
                class,
                message: message.clone(),
            };
            if ctx
                .ports
                .ledger()
                .mark_failed(hop, &failure, now)
                .await?
                .is_some()
            {
                report.stuck_jobs_resolved += 1;
                if class == FailureClass::NeedsPerson {
                    let why = format!("copy job {job} failed: {message}. Likely fix: {fix}");
                    let cause = copy_failure_cause(&message);
                    alert_hop(ctx, hop, ("failed (needs a person)", &why, cause), report).await?;
                }
            }
        }
        _ => {
            report.in_flight += 1;
            if record.updated_at < now - ctx.config.stuck_after {
                stuck(ctx, hop, job, &status.state, record.updated_at, report).await?;
            }
        }
    }
    Ok(0)
}

/// A copy job not finished a day after its hop started. AWS Backup runs one job per table at a
/// time and at most 100 at once from one account into one Region (facts §7): past either, copies
/// queue in CREATED, and what queues behind them ends late too. That is one shortfall of the route
/// (one alert, however many tables wait: never one per table), closed once a pass finds none.
pub(super) async fn stuck<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    hop: &HopKey,
    job: &str,
    state: &str,
    since: DateTime<Utc>,
    report: &mut ReconcileReport,
) -> Result<(), PortError> {
    let route = ctx.route.name();
    report.queued_seen.insert(route.clone());
    if report.queued_routes.contains(&route) {
        return Ok(());
    }
    let alert = Alert {
        route: Some(route.clone()),
        ..Alert::plain(
            format!("Backup Relay: copies along {route} are a day behind"),
            format!(
            "Copy job {job} (of {}, into {}) is still {state} {} hours after its hop started, and \
             so may be every copy along {route}: AWS Backup runs at most 100 copy jobs at once \
             from one account into one Region, and one job per table at a time; past either, \
             copies wait in CREATED, the chain falls further behind every day, and copies of \
             backups that leave the look-back window are no longer watched.\nLikely fix: ask AWS \
             for a higher quota of concurrent copy jobs for the source account (Service Quotas, \
             AWS Backup; adjustable for DynamoDB with advanced features), spread the copies over \
             more accounts or hours, or make fewer hops (a less frequent plan, fewer vaults).",
            hop.original.resource_arn,
            hop.destination_vault_arn,
            (ctx.ports.now() - since).num_hours()
        ),
        )
    };
    let id = format!("{QUEUED_PREFIX}{route}");
    report.alerts_sent += u64::from(incident::raise(ctx.ports, id, alert).await?);
    report.queued_routes.insert(route);
    Ok(())
}
