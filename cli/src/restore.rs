//! `relay restore`: the plan of a restore over the simulated organisation after the simulation,
//! from what its vaults hold, then (unless `--dry-run`) the restore followed to its end.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use relay_core::arn::{is_issued_account_id, TableArn};
use relay_core::ports::{BackupPort, Clock, RestorePort, TableSettings};
use relay_restore::run::{execute, reapply, Follow, RestoreResult};
use relay_restore::{plan_restore, RestorePlan, RestoreRefusal, RestoreRequest, RestoreStep};
use relay_sim::Simulation;

use crate::{input, out, runtime, Failure, Prepared, SimArgs};

/// A KMS key (or alias) ARN in the Region the table is restored into: DynamoDB encrypts a
/// table only with a key of its own Region.
fn check_kms_key(key: &str, region: &str) -> Result<(), String> {
    let parts: Vec<&str> = key.splitn(6, ':').collect();
    let [arn, _partition, service, key_region, account, resource] = parts.as_slice() else {
        return Err("not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)".into());
    };
    if *arn != "arn" || *service != "kms" || !is_issued_account_id(account) {
        return Err("not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)".into());
    }
    if !(resource.starts_with("key/") || resource.starts_with("alias/")) {
        return Err("names neither a key/ nor an alias/".into());
    }
    if *key_region != region {
        return Err(format!("is in {key_region}; the table is restored in {region}, and DynamoDB needs a key of that Region"));
    }
    Ok(())
}

#[derive(clap::Args)]
pub(crate) struct RestoreArgs {
    #[command(flatten)]
    pub(crate) sim: SimArgs,
    /// The table to restore (its ARN).
    #[arg(long)]
    pub(crate) table: String,
    /// The new table's name (never an existing table).
    #[arg(long)]
    pub(crate) target_table: String,
    /// Only copies in this policy vault (alias).
    #[arg(long)]
    pub(crate) from: Option<String>,
    /// The latest copy at or before this time (RFC 3339); the latest by default.
    #[arg(long)]
    pub(crate) at: Option<String>,
    /// Restore into this account (default: the table's own).
    #[arg(long)]
    pub(crate) to_account: Option<String>,
    /// Restore into this Region (default: the table's own).
    #[arg(long)]
    pub(crate) to_region: Option<String>,
    /// Encrypt the new table with this KMS key (default: AWS's default encryption).
    #[arg(long)]
    pub(crate) kms_key: Option<String>,
    /// Print the plan, touch nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// After the restore, put back what it does not bring (PITR, TTL, the stream, deletion
    /// protection, tags), read from the source table when it still exists.
    #[arg(long)]
    pub(crate) reapply: bool,
    /// The plan as the contract's JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Restore on live AWS instead (the caller's credentials, the executor role in other
    /// accounts): copies are looked for among the last 35 days' recovery points (before --at) first.
    #[arg(long)]
    pub(crate) live: bool,
    /// With --live: the role assumed in member accounts.
    #[arg(long, default_value = "backup-relay-executor")]
    pub(crate) executor_role: String,
}

pub(crate) fn run(args: RestoreArgs) -> Result<(), Failure> {
    let mode = Mode {
        dry_run: args.dry_run,
        reapply: args.reapply,
        json: args.json,
    };
    let request = request(RequestArgs {
        table: args.table,
        target_table: args.target_table,
        from: args.from,
        at: args.at,
        to_account: args.to_account,
        to_region: args.to_region,
        kms_key: args.kms_key,
    })?;
    if args.live {
        return live(
            args.sim.policy.as_deref(),
            &request,
            mode,
            &args.executor_role,
        );
    }
    simulated(args.sim.prepare()?, &request, mode)
}

/// What to do with the plan, and how to print it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mode {
    pub dry_run: bool,
    pub reapply: bool,
    pub json: bool,
}

pub(crate) struct RequestArgs {
    pub table: String,
    pub target_table: String,
    pub from: Option<String>,
    pub at: Option<String>,
    pub to_account: Option<String>,
    pub to_region: Option<String>,
    pub kms_key: Option<String>,
}

/// The request, every argument checked (exit 2 with what is wrong).
pub(crate) fn request(a: RequestArgs) -> Result<RestoreRequest, Failure> {
    let table = TableArn::parse(&a.table).map_err(|e| input(format!("--table: {e}")))?;
    let at =
        a.at.as_deref()
            .map(|t| {
                DateTime::parse_from_rfc3339(t)
                    .map(|d| d.with_timezone(&Utc))
                    .map_err(|e| input(format!("--at {t}: not an RFC 3339 time ({e})")))
            })
            .transpose()?;
    if let Some(acct) = a.to_account.as_deref().filter(|a| !is_issued_account_id(a)) {
        return Err(input(format!(
            "--to-account {acct}: not a 12-digit account id"
        )));
    }
    if let Some(r) = a.to_region.as_deref() {
        if let Some(problem) = relay_core::regions::region_problem(r) {
            return Err(input(format!("--to-region {r}: {problem}")));
        }
    }
    if let Some(key) = &a.kms_key {
        let region = a.to_region.as_deref().unwrap_or(&table.region);
        check_kms_key(key, region).map_err(|why| input(format!("--kms-key {key}: {why}")))?;
    }
    Ok(RestoreRequest {
        table,
        at,
        target_account: a.to_account,
        target_region: a.to_region,
        target_table: a.target_table,
        from: a.from,
        kms_key_arn: a.kms_key,
        copy_source_tags: true,
    })
}

/// What only the policy can tell is wrong with the request: a table or target in a partition
/// none of its vaults is in (exit 2, before anything runs).
fn check_against(policy: &relay_core::Policy, req: &RestoreRequest) -> Result<(), Failure> {
    let partitions: BTreeSet<&str> = policy
        .vaults
        .iter()
        .map(|v| v.arn.partition.as_str())
        .collect();
    if !partitions.contains(req.table.partition.as_str()) {
        return Err(input(format!(
            "--table {}: it is in partition {}, and the policy's vaults are in {}",
            req.table,
            req.table.partition,
            partitions.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    if let Some(region) = &req.target_region {
        let partition = relay_core::arn::partition_of_region(region);
        if partition != req.table.partition {
            return Err(input(format!(
                "--to-region {region}: it is in partition {partition}, the table in {}",
                req.table.partition
            )));
        }
    }
    Ok(())
}

/// `--at` names a moment that has not happened yet (`now` is the organisation's clock).
fn check_not_future(req: &RestoreRequest, now: DateTime<Utc>) -> Result<(), Failure> {
    match req.at {
        Some(at) if at > now => Err(input(format!(
            "--at {}: it is in the future (now is {}); leave it out for the latest copy",
            at.to_rfc3339(),
            now.to_rfc3339()
        ))),
        _ => Ok(()),
    }
}

/// The plan over the simulated organisation as the run left it.
fn plan_in(simulation: &Simulation, req: &RestoreRequest) -> Result<RestorePlan, Failure> {
    let w = simulation.sim.world();
    check_not_future(req, w.now)?;
    let account = req.target_account.as_deref().unwrap_or(&req.table.account);
    let region = req.target_region.as_deref().unwrap_or(&req.table.region);
    // As AWS describes them: in the cold tier once their lifecycle moved them there.
    let points: Vec<_> = w
        .points_by_arn()
        .into_iter()
        .map(|rp| w.view_of(rp))
        .collect();
    let existing: BTreeSet<String> = w
        .tables
        .iter()
        .filter(|t| t.arn.account == account && t.arn.region == region)
        .map(|t| t.arn.table.clone())
        .collect();
    let locks: BTreeMap<_, _> = w
        .vaults
        .values()
        .filter_map(|v| v.lock.map(|l| (v.arn.clone(), l)))
        .collect();
    plan_restore(&simulation.policy, &points, &existing, &locks, req, w.now).map_err(refusal)
}

/// Simulate, plan, and (unless a dry run) follow the restore to its end on the simulated AWS.
pub(crate) fn simulated(
    prepared: Prepared,
    req: &RestoreRequest,
    mode: Mode,
) -> Result<(), Failure> {
    let Prepared { mut simulation, .. } = prepared;
    check_against(&simulation.policy, req)?;
    let rt = runtime()?;
    rt.block_on(simulation.run());
    let plan = plan_in(&simulation, req)?;
    if mode.dry_run {
        return print(&plan, None, None, req, mode.json);
    }
    {
        // From here a pause moves the simulated clock; throttling is the SDK's to retry on AWS.
        let mut w = simulation.sim.world();
        w.time_flows = true;
        w.faults.throttle = 0.0;
    }
    let watching = std::io::IsTerminal::is_terminal(&std::io::stderr());
    rt.block_on(follow(&simulation.sim, &plan, req, mode, watching))
}

/// Run the plan to its end (a progress line on stderr when someone watches), put back what the
/// restore does not bring when asked, and print the outcome.
async fn follow<P: BackupPort + RestorePort + Clock>(
    ports: &P,
    plan: &RestorePlan,
    req: &RestoreRequest,
    mode: Mode,
    watching: bool,
) -> Result<(), Failure> {
    let mut progress = |line: &str| {
        if watching {
            let _ =
                std::io::Write::write_all(&mut std::io::stderr(), format!("{line}\n").as_bytes());
        }
    };
    let result = execute(ports, plan, &req.table, Follow::default(), &mut progress)
        .await
        .map_err(|e| Failure::Found(format!("the restore did not complete: {e}")))?;
    let reapplied = if mode.reapply {
        let settings = reapply(ports, plan, &req.table).await.map_err(|e| {
            Failure::Found(format!(
                "restored, but its settings could not be put back: {e}"
            ))
        })?;
        Some(settings)
    } else {
        None
    };
    print(plan, Some(&result), reapplied.as_ref(), req, mode.json)
}

/// Days of recovery points listed first per vault on live AWS (before `--at`): the best copy is
/// the latest, and a bunker holds years (they are listed only when the window holds none).
const LIVE_LOOKBACK_DAYS: i64 = 35;

/// The same plan and run over live AWS.
pub(crate) fn live(
    policy_path: Option<&std::path::Path>,
    req: &RestoreRequest,
    mode: Mode,
    executor_role: &str,
) -> Result<(), Failure> {
    let (_, policy) = crate::live::policy(policy_path)?;
    check_against(&policy, req)?;
    check_not_future(req, Utc::now())?;
    let rt = runtime()?;
    rt.block_on(async {
        // The ledger is not read by a restore.
        let ports = crate::live::ports(executor_role, "unused").await?;
        let policy = crate::live::expanded(policy, &ports).await?;
        let plan = live_plan(&ports, &policy, req).await?;
        if mode.dry_run {
            return print(&plan, None, None, req, mode.json);
        }
        follow(&ports, &plan, req, mode, true).await
    })
}

async fn live_plan(
    ports: &relay_aws::AwsPorts,
    policy: &relay_core::Policy,
    req: &RestoreRequest,
) -> Result<RestorePlan, Failure> {
    let aws = |e: relay_core::ports::PortError| Failure::Found(format!("AWS refused: {e}"));
    let mut locks = BTreeMap::new();
    for vault in &policy.vaults {
        if let Some(lock) = ports.vault_lock(&vault.arn).await.map_err(aws)? {
            locks.insert(vault.arn.clone(), lock);
        }
    }
    let at = relay_core::arn::Location {
        partition: req.table.partition.clone(),
        account: req
            .target_account
            .clone()
            .unwrap_or_else(|| req.table.account.clone()),
        region: req
            .target_region
            .clone()
            .unwrap_or_else(|| req.table.region.clone()),
    };
    let mut existing = BTreeSet::new();
    if ports
        .table_state(&at, &req.target_table)
        .await
        .map_err(aws)?
        .is_some()
    {
        existing.insert(req.target_table.clone());
    }
    // The recent window first (the best copy is the latest); only when it holds none, every
    // point the vaults hold (a table deleted months ago is still in the bunker).
    let before = req.at.unwrap_or_else(Utc::now);
    let recent = Some(before - chrono::Duration::days(LIVE_LOOKBACK_DAYS));
    let points = points_of(ports, policy, recent, req.at)
        .await
        .map_err(aws)?;
    match plan_restore(policy, &points, &existing, &locks, req, Utc::now()) {
        Err(RestoreRefusal::NoCopy { .. }) => {
            let points = points_of(ports, policy, None, req.at).await.map_err(aws)?;
            plan_restore(policy, &points, &existing, &locks, req, Utc::now()).map_err(refusal)
        }
        other => other.map_err(refusal),
    }
}

/// Every recovery point of the policy's vaults created in the window, every page.
async fn points_of(
    ports: &relay_aws::AwsPorts,
    policy: &relay_core::Policy,
    after: Option<DateTime<Utc>>,
    before: Option<DateTime<Utc>>,
) -> Result<Vec<relay_core::guard::PointView>, relay_core::ports::PortError> {
    use relay_core::ports::ListQuery;
    let mut points = Vec::new();
    for vault in &policy.vaults {
        let mut query = ListQuery {
            created_after: after,
            created_before: before,
            resource_arn: None,
            page_token: None,
            page_size: relay_compliance::inventory::POINTS_PAGE,
        };
        loop {
            let page = ports.list_recovery_points(&vault.arn, &query).await?;
            points.extend(page.items);
            match page.next_token {
                Some(t) => query.page_token = Some(t),
                None => break,
            }
        }
    }
    Ok(points)
}

/// A name that cannot be one, or a vault the policy lacks, is unusable input; the rest is what
/// the command found in this organisation.
fn refusal(e: RestoreRefusal) -> Failure {
    match e {
        RestoreRefusal::BadTableName(_) | RestoreRefusal::UnknownVault(_) => {
            input(format!("cannot restore: {e}"))
        }
        _ => Failure::Found(format!("cannot restore: {e}")),
    }
}

fn print(
    plan: &RestorePlan,
    result: Option<&RestoreResult>,
    reapplied: Option<&Option<TableSettings>>,
    req: &RestoreRequest,
    json: bool,
) -> Result<(), Failure> {
    if json {
        let mut value = serde_json::json!({
            "recovery_point": plan.recovery_point,
            "steps": plan.steps,
        });
        if let Some(r) = result {
            value["result"] = serde_json::json!(r);
        }
        if let Some(settings) = reapplied {
            value["reapplied"] = serde_json::json!(settings);
        }
        let text = serde_json::to_string_pretty(&value)
            .map_err(|e| input(format!("cannot render the plan: {e}")))?;
        return out(&format!("{text}\n"));
    }
    let mut text = describe(plan, req);
    match result {
        None => text.push_str("Dry run: nothing was started.\n"),
        Some(r) => text.push_str(&format!(
            "Restored: {} ({}), the restore job took {} minutes, {} in all.\n",
            r.restored_table_arn, r.status, r.restore_minutes, r.elapsed_minutes
        )),
    }
    match reapplied {
        Some(Some(s)) => text.push_str(&format!(
            "Reapplied from the source: PITR {}, TTL {}, stream {}, deletion protection {}, {} tags.\n",
            if s.pitr { "on" } else { "off" },
            s.ttl_attribute.as_deref().unwrap_or("off"),
            s.stream_view_type.as_deref().unwrap_or("off"),
            if s.deletion_protection { "on" } else { "off" },
            s.tags.len()
        )),
        Some(None) => text.push_str("Nothing reapplied: the source table is gone.\n"),
        None => {}
    }
    out(&text)
}

fn describe(plan: &RestorePlan, req: &RestoreRequest) -> String {
    let p = &plan.recovery_point;
    let mut text = format!(
        "Restore {} as of {} from {}\n  recovery point {}\n",
        req.table,
        p.creation_date.to_rfc3339(),
        p.vault,
        p.arn
    );
    for (i, step) in plan.steps.iter().enumerate() {
        match step {
            RestoreStep::StartCopyJob {
                account,
                region,
                destination_backup_vault_arn,
                lifecycle,
                ..
            } => text.push_str(&format!(
                "{}. copy it back (StartCopyJob in {account}/{region}) into {destination_backup_vault_arn}, kept {} days from the backup's creation\n",
                i + 1,
                lifecycle.delete_after_days.unwrap_or_default()
            )),
            RestoreStep::StartRestoreJob {
                account,
                region,
                metadata,
                ..
            } => text.push_str(&format!(
                "{}. restore it (StartRestoreJob in {account}/{region}) into the new table '{}' ({} encryption)\n",
                i + 1,
                metadata.get("targetTableName").map_or("", String::as_str),
                metadata.get("encryptionType").map_or("", String::as_str)
            )),
        }
    }
    text
}
