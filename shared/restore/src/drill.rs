//! Restore drills: on a schedule, restore a sample of the policy's tables from a chosen vault
//! (by default the deepest of each table's chain, e.g. the bunker), time the restore, check the
//! new table, delete it, and keep the evidence for the report's restore-time control. A drill
//! deletes only the table it made itself, named with its prefix.

use std::collections::BTreeMap;

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::run::{advance, start, Follow, InFlight, RestoreError, RestoreResult, Step};
use super::{plan_restore, RestoreRequest};
use relay_chain::incident;
use relay_compliance::inventory::{RestoreTest, TableFacts};
use relay_core::arn::{Location, TableArn};
use relay_core::guard::PointView;
use relay_core::policy::Vault;
use relay_core::ports::{
    Alert, LedgerPort, ListQuery, PortResult, RestoreEvidence, RestorePort, RouterPorts, TableState,
};
use relay_core::Policy;

mod scheduled;
pub use scheduled::{scheduled, DrillError, DrillPorts};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillConfig {
    /// Restore from this vault (alias); `None`: the deepest vault of each table's chain.
    pub from: Option<String>,
    /// Tables drilled per run, chosen at random (seeded by the day), unless `drill_tag` is set.
    pub tables_per_run: usize,
    /// Drill every table carrying this tag instead.
    pub drill_tag: Option<(String, String)>,
    /// Restored tables are named with this prefix (the IAM grant to delete tables is limited to it).
    pub name_prefix: String,
    /// Restore into the table's own account and Region (the full path, with the copy back),
    /// instead of the vault's.
    pub copy_back: bool,
    /// How far back to look for the latest copy.
    pub lookback_days: i64,
}

impl Default for DrillConfig {
    fn default() -> Self {
        Self {
            from: None,
            tables_per_run: 2,
            drill_tag: None,
            name_prefix: "relay-drill-".into(),
            copy_back: false,
            lookback_days: 14,
        }
    }
}

/// One drill: which table, from which vault, into which new table where.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillTarget {
    pub table: TableArn,
    pub vault: Vault,
    pub request: RestoreRequest,
}

/// The drills of a run, pure: the sample of tables the routes protect, each with its vault.
pub fn choose(
    policy: &Policy,
    tables: &[TableFacts],
    config: &DrillConfig,
    run_at: DateTime<Utc>,
) -> Vec<DrillTarget> {
    let mut candidates: Vec<(String, DrillTarget)> = tables
        .iter()
        .filter(|t| match &config.drill_tag {
            Some((k, v)) => t.tags.get(k) == Some(v),
            None => true,
        })
        .filter_map(|t| target(policy, t, config, run_at))
        .map(|d| (day_order(&d.table.to_string(), run_at), d))
        .collect();
    candidates.sort_by(|a, b| a.0.cmp(&b.0));
    let take = if config.drill_tag.is_some() {
        usize::MAX
    } else {
        config.tables_per_run
    };
    candidates.into_iter().take(take).map(|(_, d)| d).collect()
}

/// A different, reproducible order each day: a hash of the table and the date.
fn day_order(table: &str, run_at: DateTime<Utc>) -> String {
    let mut h = Sha256::new();
    h.update(run_at.format("%Y-%m-%d").to_string().as_bytes());
    h.update(table.as_bytes());
    hex::encode(h.finalize())
}

fn target(
    policy: &Policy,
    t: &TableFacts,
    config: &DrillConfig,
    run_at: DateTime<Utc>,
) -> Option<DrillTarget> {
    let table = TableArn::parse(&t.arn).ok()?;
    let vault = match &config.from {
        // Only tables whose routes reach that vault: the others have no copy there to restore.
        Some(alias) => reached(policy, t)
            .into_iter()
            .find(|v| &v.alias == alias)?
            .clone(),
        None => deepest(policy, t)?.clone(),
    };
    let (account, region) = if config.copy_back {
        (table.account.clone(), table.region.clone())
    } else {
        (vault.arn.account.clone(), vault.arn.region.clone())
    };
    let request = RestoreRequest {
        table: table.clone(),
        at: None,
        target_account: Some(account),
        target_region: Some(region),
        target_table: restored_name(&config.name_prefix, &table, run_at),
        from: Some(vault.alias.clone()),
        kms_key_arn: None,
        copy_source_tags: false,
    };
    Some(DrillTarget {
        table,
        vault,
        request,
    })
}

/// Every vault the routes from the table's root vaults reach for it.
fn reached<'a>(policy: &'a Policy, t: &TableFacts) -> Vec<&'a Vault> {
    policy
        .root_vaults()
        .into_iter()
        .filter(|r| r.arn.account == t.account && r.arn.region == t.region)
        .flat_map(|r| policy.vaults_reached(&r.alias, Some("DynamoDB"), &t.tags))
        .collect()
}

/// The vault farthest down the table's routes (the most hops from its root): the copy that
/// proves the whole chain. `None` when no route selects the table.
pub fn deepest<'a>(policy: &'a Policy, t: &TableFacts) -> Option<&'a Vault> {
    let mut best: Option<(usize, &Vault)> = None;
    for root in policy
        .root_vaults()
        .into_iter()
        .filter(|r| r.arn.account == t.account && r.arn.region == t.region)
    {
        let mut depth: BTreeMap<&str, usize> = BTreeMap::from([(root.alias.as_str(), 0)]);
        let mut frontier = vec![root.alias.as_str()];
        while let Some(alias) = frontier.pop() {
            let d = depth.get(alias).copied().unwrap_or(0);
            for r in policy
                .routes_from(alias)
                .filter(|r| r.select.matches(Some("DynamoDB"), &t.tags))
            {
                if depth.get(r.to.as_str()).is_none_or(|&old| old < d + 1) {
                    depth.insert(&r.to, d + 1);
                    frontier.push(&r.to);
                }
            }
        }
        for (alias, d) in depth.into_iter().filter(|(_, d)| *d > 0) {
            if best.is_none_or(|(bd, _)| d > bd) {
                best = policy.vault(alias).map(|v| (d, v));
            }
        }
    }
    best.map(|(_, v)| v)
}

/// `<prefix><table>-<where>-<yyyymmdd>`, at most 255 characters (DynamoDB's limit). `<where>`
/// tells apart tables of the same name in other accounts and Regions drilled into one vault; the
/// day (not the minute) keeps a retried start on the same name, so on the same restore token.
pub fn restored_name(prefix: &str, table: &TableArn, run_at: DateTime<Utc>) -> String {
    let mut h = Sha256::new();
    h.update(format!("{}:{}", table.account, table.region).as_bytes());
    let place = &hex::encode(h.finalize())[..8];
    let stamp = run_at.format("%Y%m%d").to_string();
    let room = 255usize.saturating_sub(prefix.len() + place.len() + stamp.len() + 2);
    let name: String = table.table.chars().take(room).collect();
    format!("{prefix}{name}-{place}-{stamp}")
}

/// The restored table checks out: ACTIVE, and holding what the source holds (a tenth either way:
/// the source has moved on since the backup). DynamoDB refreshes a table's ItemCount and size
/// about every six hours, so a just-restored table may still report none: then only ACTIVE is
/// checked, and the detail says so.
pub fn check(source: Option<&TableState>, restored: &TableState) -> Result<String, String> {
    if restored.status != "ACTIVE" {
        return Err(format!(
            "the restored table is {}, not ACTIVE",
            restored.status
        ));
    }
    let Some(source) = source else {
        return Ok(format!(
            "ACTIVE, {} items, {} bytes (the source table is gone: nothing to compare)",
            restored.item_count, restored.size_bytes
        ));
    };
    if restored.item_count == 0 && restored.size_bytes == 0 && source.item_count > 0 {
        return Ok(
            "ACTIVE; DynamoDB has not yet counted its items (it does about every six hours): not compared"
                .into(),
        );
    }
    let near = |a: u64, b: u64| a.abs_diff(b) <= b / 10;
    if near(restored.item_count, source.item_count) && near(restored.size_bytes, source.size_bytes)
    {
        Ok(format!(
            "ACTIVE, {} items and {} bytes against the source's {} and {}",
            restored.item_count, restored.size_bytes, source.item_count, source.size_bytes
        ))
    } else {
        Err(format!(
            "the restored table holds {} items and {} bytes, the source {} and {}",
            restored.item_count, restored.size_bytes, source.item_count, source.size_bytes
        ))
    }
}

/// A drill under way, as kept between looks (the restore of a large table outlasts a Lambda).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillInFlight {
    pub table_arn: String,
    pub vault_arn: String,
    pub name_prefix: String,
    pub started_at: DateTime<Utc>,
    pub restore: InFlight,
}

/// Where drills under way are kept between looks.
pub trait DrillStore: Send + Sync {
    fn drills_in_flight(&self) -> impl Future<Output = PortResult<Vec<DrillInFlight>>> + Send;
    fn save_drill(&self, drill: &DrillInFlight) -> impl Future<Output = PortResult<()>> + Send;
    fn end_drill(&self, table_arn: &str) -> impl Future<Output = PortResult<()>> + Send;
}

/// What one look at the drills did.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct TickReport {
    pub started: Vec<String>,
    pub waiting: Vec<String>,
    pub finished: Vec<RestoreTest>,
}

/// One look (the restore-drill function, every few minutes): advance every drill under way,
/// conclude those that ended, and when `start_new`, begin this run's drills (a table already
/// being drilled is not drilled twice).
pub async fn tick<P>(
    ports: &P,
    policy: &Policy,
    tables: &[TableFacts],
    config: &DrillConfig,
    start_new: bool,
) -> PortResult<TickReport>
where
    P: RouterPorts + RestorePort,
    P::Ledger: RestoreEvidence + DrillStore,
{
    let mut report = TickReport::default();
    let in_flight = ports.ledger().drills_in_flight().await?;
    let busy: std::collections::BTreeSet<String> =
        in_flight.iter().map(|d| d.table_arn.clone()).collect();
    for drill in in_flight {
        match look(ports, drill).await {
            Ok(waiting) => {
                report.waiting.push(waiting.table_arn.clone());
                ports.ledger().save_drill(&waiting).await?;
            }
            Err(ended) => {
                // Ended first, then its table deleted, then recorded: a look that stops between
                // them never finds the drill's own table gone and calls that a failure.
                ports.ledger().end_drill(&ended.test.resource_arn).await?;
                let test = clean_up(ports, ended).await;
                conclude(ports, &test).await?;
                report.finished.push(test);
            }
        }
    }
    if start_new {
        for target in choose(policy, tables, config, ports.now()) {
            if busy.contains(&target.table.to_string()) {
                continue;
            }
            match begin(ports, policy, &target, config).await {
                Begun::Started(drill) => {
                    report.started.push(drill.table_arn.clone());
                    ports.ledger().save_drill(&drill).await?;
                }
                Begun::Failed(test) => {
                    conclude(ports, &test).await?;
                    report.finished.push(test);
                }
                Begun::Skipped(why) => {
                    tracing::info!(table = %target.table, reason = %why, "drill not started");
                }
            }
        }
    }
    Ok(report)
}

/// One run's drills followed to their ends right here (the CLI and tests), one after the other.
pub async fn run<P>(
    ports: &P,
    policy: &Policy,
    targets: &[DrillTarget],
    config: &DrillConfig,
    follow: Follow,
) -> PortResult<Vec<RestoreTest>>
where
    P: RouterPorts + RestorePort,
    P::Ledger: RestoreEvidence,
{
    let mut tests = Vec::with_capacity(targets.len());
    for target in targets {
        let mut outcome = match begin(ports, policy, target, config).await {
            Begun::Started(drill) => Ok(*drill),
            Begun::Failed(test) => Err(Ended { test, made: None }),
            Begun::Skipped(_) => continue,
        };
        let mut polls = 0;
        let ended = loop {
            match outcome {
                Err(ended) => break ended,
                Ok(drill) if polls >= follow.max_polls => {
                    let state = drill.restore.last_state.clone();
                    let test = failed(
                        ports,
                        &drill,
                        format!("not done after {polls} polls: still {state}"),
                    );
                    break Ended { test, made: None };
                }
                Ok(drill) => {
                    ports.pause(follow.poll).await;
                    polls += 1;
                    outcome = look(ports, drill).await;
                }
            }
        };
        let test = clean_up(ports, ended).await;
        conclude(ports, &test).await?;
        tests.push(test);
    }
    Ok(tests)
}

/// A drill that ended: its test, and the table its restore made (to delete), if it made one.
struct Ended {
    test: RestoreTest,
    made: Option<(Location, String)>,
}

/// Delete the table the drill's restore made (only that one, named with the drill's prefix). A
/// table left behind costs money: the drill then says so, and is alerted.
async fn clean_up<P: RestorePort + relay_core::ports::Clock>(
    ports: &P,
    ended: Ended,
) -> RestoreTest {
    const TRIES: u32 = 5;
    let mut test = ended.test;
    let Some((at, name)) = ended.made else {
        return test;
    };
    for attempt in 1..=TRIES {
        match ports.delete_table(&at, &name).await {
            Ok(()) => return test,
            Err(e) if e.kind.is_transient() && attempt < TRIES => {
                ports
                    .pause(std::time::Duration::from_secs(2 * u64::from(attempt)))
                    .await;
            }
            Err(e) => {
                test.passed = false;
                test.detail = format!(
                    "{}; but the drill table {name} could not be deleted: {e}",
                    test.detail
                );
                return test;
            }
        }
    }
    test
}

/// Record the drill's evidence; a failed drill is one incident (alerted once) until a drill of
/// that table passes again.
async fn conclude<P>(ports: &P, test: &RestoreTest) -> PortResult<()>
where
    P: RouterPorts,
    P::Ledger: RestoreEvidence,
{
    ports.ledger().record_restore_test(test).await?;
    let incident_id = format!("drill#{}", test.resource_arn);
    if test.passed {
        ports.ledger().close_incident(&incident_id).await
    } else {
        incident::raise(ports, incident_id, failure_alert(test))
            .await
            .map(|_| ())
    }
}

fn failure_alert(test: &RestoreTest) -> Alert {
    Alert { resource: Some(test.resource_arn.clone()), ..Alert::plain(format!("Backup Relay: restore drill of {} failed", test.resource_arn), format!(
            "The restore drill of {} from {} failed: {}\nLikely fix: the restore role must be assumable by AWS Backup in the target account and may use the vault's KMS key (kms:Decrypt and kms:CreateGrant through backup); a copy back needs the destination vault's access policy to allow it.",
            test.resource_arn, test.vault, test.detail
        )) }
}

/// How starting a drill went.
enum Begun {
    Started(Box<DrillInFlight>),
    /// It could not start: a failed test.
    Failed(RestoreTest),
    /// Its table already exists: most likely this drill started before and was not recorded
    /// (the name and the restore token are the day's); the next run drills it.
    Skipped(String),
}

/// Plan and start one drill.
async fn begin<P>(ports: &P, policy: &Policy, target: &DrillTarget, config: &DrillConfig) -> Begun
where
    P: RouterPorts + RestorePort,
{
    let fail = |detail: String, rp: String| {
        Begun::Failed(RestoreTest {
            resource_arn: target.table.to_string(),
            recovery_point_arn: rp,
            vault: target.vault.arn.to_string(),
            finished_at: ports.now(),
            minutes: 0,
            passed: false,
            detail,
        })
    };
    let req = &target.request;
    let points = match latest_points(ports, target, config).await {
        Ok(p) => p,
        Err(e) => return fail(e.to_string(), String::new()),
    };
    match ports
        .table_state(&target_location(target), &req.target_table)
        .await
    {
        Ok(Some(_)) => return Begun::Skipped(format!("{} exists", req.target_table)),
        Ok(None) => {}
        Err(e) => return fail(e.to_string(), String::new()),
    }
    let plan = match plan_restore(
        policy,
        &points,
        &Default::default(),
        &BTreeMap::new(),
        req,
        ports.now(),
    ) {
        Ok(plan) => plan,
        Err(e) => return fail(e.to_string(), String::new()),
    };
    match start(ports, &plan, &target.table).await {
        // Not started, or started with the answer lost: the same day's next start uses the same
        // name and token, and finds it (a skip, not a failure).
        Err(RestoreError::Port(e)) if e.kind.is_transient() => Begun::Skipped(e.to_string()),
        Ok(restore) => Begun::Started(Box::new(DrillInFlight {
            table_arn: target.table.to_string(),
            vault_arn: target.vault.arn.to_string(),
            name_prefix: config.name_prefix.clone(),
            started_at: ports.now(),
            restore,
        })),
        Err(e) => fail(e.to_string(), plan.recovery_point.arn.clone()),
    }
}

fn target_location(target: &DrillTarget) -> Location {
    Location {
        partition: target.table.partition.clone(),
        account: target
            .request
            .target_account
            .clone()
            .unwrap_or_else(|| target.table.account.clone()),
        region: target
            .request
            .target_region
            .clone()
            .unwrap_or_else(|| target.table.region.clone()),
    }
}

/// A drill not done after this long is ended as failed (and alerted): a copy or restore that
/// never finishes must not hold its table's drills, or the report's evidence, for ever.
pub const MAX_DRILL_HOURS: i64 = 48;

/// One look at a drill: still under way (`Ok`), or ended in its test (`Err`, passed or not). A
/// transient error is only a look that did not see: the drill waits for the next one.
async fn look<P: RouterPorts + RestorePort>(
    ports: &P,
    drill: DrillInFlight,
) -> Result<DrillInFlight, Ended> {
    match advance(ports, drill.restore.clone()).await {
        Ok(Step::Waiting(restore)) => {
            let drill = DrillInFlight { restore, ..drill };
            let waited = ports.now().signed_duration_since(drill.started_at);
            if waited > Duration::hours(MAX_DRILL_HOURS) {
                let name = restored_table(&drill).map(|(_, n)| n).unwrap_or_default();
                let state = drill.restore.last_state.clone();
                let test = failed(ports, &drill, format!(
                    "not done after {MAX_DRILL_HOURS} h: still {state}; if its restore completes later, delete {name}"
                ));
                return Err(Ended { test, made: None });
            }
            Ok(drill)
        }
        Ok(Step::Done(result)) => match check_restored(ports, &drill).await {
            Err(e) if e.kind.is_transient() => {
                tracing::warn!(table = %drill.table_arn, error = %e, "drill check did not see: next look");
                Ok(drill)
            }
            verdict => {
                let verdict = verdict.unwrap_or_else(|e| Err(e.to_string()));
                let made =
                    restored_table(&drill).filter(|(_, n)| n.starts_with(&drill.name_prefix));
                let test = finish(ports, &drill, &result, verdict).await;
                Err(Ended { test, made })
            }
        },
        Err(RestoreError::Port(e)) if e.kind.is_transient() => {
            tracing::warn!(table = %drill.table_arn, error = %e, "drill look did not see: next look");
            Ok(drill)
        }
        Err(e) => Err(Ended {
            test: failed(ports, &drill, e.to_string()),
            made: None,
        }),
    }
}

/// The restore is done: check the new table against its source, and say how it went (the table
/// is deleted once the drill is ended: see [`clean_up`]).
async fn finish<P: RouterPorts + RestorePort>(
    ports: &P,
    drill: &DrillInFlight,
    result: &RestoreResult,
    verdict: Result<String, String>,
) -> RestoreTest {
    let mut test = failed(ports, drill, String::new());
    test.minutes = u32::try_from(result.restore_minutes).unwrap_or(u32::MAX);
    match verdict {
        Ok(detail) => {
            test.passed = true;
            test.detail = detail;
        }
        Err(why) => test.detail = why,
    }
    test
}

async fn check_restored<P: RestorePort>(
    ports: &P,
    drill: &DrillInFlight,
) -> Result<Result<String, String>, relay_core::ports::PortError> {
    let Some((at, name)) = restored_table(drill) else {
        return Ok(Err("the drill's target is unknown".into()));
    };
    let Some(restored) = ports.table_state(&at, &name).await? else {
        return Ok(Err(format!(
            "the restore completed but {name} is not there"
        )));
    };
    let table = match TableArn::parse(&drill.table_arn) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let source_at = Location {
        partition: table.partition.clone(),
        account: table.account.clone(),
        region: table.region.clone(),
    };
    let source = ports.table_state(&source_at, &table.table).await?;
    Ok(check(source.as_ref(), &restored))
}

/// The drill ended without a pass. Nothing is deleted: a restore that did not complete made no
/// table of this drill's (a table of that name is someone else's, or another drill's).
fn failed<P: RouterPorts>(ports: &P, drill: &DrillInFlight, detail: String) -> RestoreTest {
    RestoreTest {
        resource_arn: drill.table_arn.clone(),
        recovery_point_arn: drill.restore.plan.recovery_point.arn.clone(),
        vault: drill.vault_arn.clone(),
        finished_at: ports.now(),
        minutes: 0,
        passed: false,
        detail,
    }
}

/// Where the drill's restore makes its table, and its name.
fn restored_table(drill: &DrillInFlight) -> Option<(Location, String)> {
    let table = TableArn::parse(&drill.table_arn).ok()?;
    drill.restore.plan.steps.iter().find_map(|s| match s {
        super::RestoreStep::StartRestoreJob {
            account,
            region,
            metadata,
            ..
        } => Some((
            Location {
                partition: table.partition.clone(),
                account: account.clone(),
                region: region.clone(),
            },
            metadata.get("targetTableName")?.clone(),
        )),
        super::RestoreStep::StartCopyJob { .. } => None,
    })
}

/// The table's points in the drill's vault, from the look-back window (not the vault's whole
/// history: a bunker holds years).
async fn latest_points<P: RouterPorts>(
    ports: &P,
    target: &DrillTarget,
    config: &DrillConfig,
) -> PortResult<Vec<PointView>> {
    let table = target.table.to_string();
    let mut query = ListQuery {
        created_after: Some(ports.now() - Duration::days(config.lookback_days)),
        created_before: None,
        resource_arn: None,
        page_token: None,
        page_size: relay_compliance::inventory::POINTS_PAGE,
    };
    let mut out = Vec::new();
    loop {
        let page = ports
            .list_recovery_points(&target.vault.arn, &query)
            .await?;
        out.extend(
            page.items
                .into_iter()
                .filter(|p| p.resource_arn.as_deref() == Some(table.as_str())),
        );
        match page.next_token {
            Some(t) => query.page_token = Some(t),
            None => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = include_str!("../../../infra/examples/policy.yaml");

    fn table(name: &str, tier: Option<&str>) -> TableFacts {
        TableFacts {
            arn: format!("arn:aws:dynamodb:us-east-1:111111111111:table/{name}"),
            name: name.into(),
            account: "111111111111".into(),
            region: "us-east-1".into(),
            tags: tier
                .map(|t| [("backup-tier".to_string(), t.to_string())].into())
                .unwrap_or_default(),
            pitr: Some(true),
            native_backups: 0,
        }
    }

    fn at(day: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::days(day)
    }

    fn state(items: u64, bytes: u64) -> TableState {
        TableState {
            arn: "t".into(),
            status: "ACTIVE".into(),
            item_count: items,
            size_bytes: bytes,
            tags: Default::default(),
        }
    }

    #[test]
    fn the_deepest_vault_is_the_end_of_the_chain_and_unselected_tables_have_none() {
        let policy = Policy::parse(POLICY).unwrap();
        assert_eq!(
            deepest(&policy, &table("orders", Some("gold"))).map(|v| v.alias.as_str()),
            Some("bunker")
        );
        assert!(deepest(&policy, &table("audit", None)).is_none());
    }

    #[test]
    fn a_run_samples_a_few_tables_differently_each_day_or_every_tagged_one() {
        let policy = Policy::parse(POLICY).unwrap();
        let tables: Vec<_> = (0..20)
            .map(|i| table(&format!("t{i:02}"), Some("gold")))
            .collect();
        let config = DrillConfig::default();
        let day1: Vec<_> = choose(&policy, &tables, &config, at(1))
            .into_iter()
            .map(|d| d.table.table)
            .collect();
        let again: Vec<_> = choose(&policy, &tables, &config, at(1))
            .into_iter()
            .map(|d| d.table.table)
            .collect();
        let day2: Vec<_> = choose(&policy, &tables, &config, at(2))
            .into_iter()
            .map(|d| d.table.table)
            .collect();
        assert_eq!(day1.len(), 2);
        assert_eq!(day1, again, "reproducible within a day");
        assert_ne!(day1, day2, "another sample the next day");
        let mut tagged = tables.clone();
        for t in tagged.iter_mut().take(5) {
            t.tags.insert("drill".into(), "yes".into());
        }
        let config = DrillConfig {
            drill_tag: Some(("drill".into(), "yes".into())),
            ..DrillConfig::default()
        };
        assert_eq!(choose(&policy, &tagged, &config, at(1)).len(), 5);
    }

    #[test]
    fn a_drill_restores_where_its_vault_is_unless_it_drills_the_copy_back() {
        let policy = Policy::parse(POLICY).unwrap();
        let t = [table("orders", Some("gold"))];
        let d = &choose(&policy, &t, &DrillConfig::default(), at(1))[0];
        assert_eq!(
            (
                d.request.target_account.as_deref(),
                d.request.target_region.as_deref()
            ),
            (Some("333333333333"), Some("eu-west-1"))
        );
        assert!(
            d.request.target_table.starts_with("relay-drill-orders-")
                && d.request.target_table.ends_with("-20270116"),
            "{}",
            d.request.target_table
        );
        assert!(
            !d.request.copy_source_tags,
            "a drill table must not carry the tags plans select on"
        );
        let config = DrillConfig {
            copy_back: true,
            ..DrillConfig::default()
        };
        let d = &choose(&policy, &t, &config, at(1))[0];
        assert_eq!(d.request.target_account.as_deref(), Some("111111111111"));
    }

    #[test]
    fn the_same_table_name_in_two_accounts_gets_two_drill_names() {
        let a = TableArn::parse("arn:aws:dynamodb:us-east-1:111111111111:table/orders").unwrap();
        let b = TableArn::parse("arn:aws:dynamodb:us-east-1:444444444444:table/orders").unwrap();
        assert_ne!(
            restored_name("relay-drill-", &a, at(1)),
            restored_name("relay-drill-", &b, at(1))
        );
        assert_eq!(
            restored_name("relay-drill-", &a, at(1)),
            restored_name("relay-drill-", &a, at(1) + Duration::hours(3)),
            "a retry the same day: same name"
        );
    }

    #[test]
    fn drilling_from_a_named_vault_takes_only_tables_that_reach_it() {
        let policy = Policy::parse(POLICY).unwrap();
        let config = DrillConfig {
            from: Some("dr".into()),
            tables_per_run: 10,
            ..DrillConfig::default()
        };
        let tables = [table("orders", Some("gold")), table("audit", None)];
        let chosen = choose(&policy, &tables, &config, at(1));
        assert_eq!(chosen.len(), 1);
        assert_eq!(chosen[0].table.table, "orders");
    }

    #[test]
    fn names_stay_within_dynamodbs_limit_and_checks_compare_with_the_source() {
        let long = "x".repeat(300);
        let long_table = TableArn {
            partition: "aws".into(),
            region: "us-east-1".into(),
            account: "111111111111".into(),
            table: long,
        };
        assert_eq!(restored_name("relay-drill-", &long_table, at(1)).len(), 255);
        assert!(check(Some(&state(1000, 5000)), &state(950, 5200)).is_ok());
        assert!(check(Some(&state(1000, 5000)), &state(10, 50))
            .unwrap_err()
            .contains("holds 10 items"));
        let mut creating = state(1, 1);
        creating.status = "CREATING".into();
        assert!(check(None, &creating).is_err());
        assert!(check(None, &state(1, 1))
            .unwrap()
            .contains("the source table is gone"));
    }
}
