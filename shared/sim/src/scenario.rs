//! A simulated organisation built from a policy, run day after day: backup plans back up the tables
//! into the root vaults, the simulated AWS Backup emits its events through the faults, the real
//! copy-router and retention-guard code reacts, and the real reconciler runs on its schedule. The
//! summary says what happened and whether every chain is complete.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Duration, Utc};
use relay_chain::reconcile::{self, ReconcileConfig, RunBudget};
use relay_chain::retention_guard;
use relay_chain::router::{self, RouterError};
use relay_core::arn::{TableArn, VaultArn};
use relay_core::policy::Policy;
use relay_core::retention::{Lifecycle, Retention, NEVER_EXPIRE_DAYS};
use serde::Serialize;

use relay_compliance::inventory::PlanFacts;
use relay_core::ledger::Original;
use relay_core::plan::Tags;
use relay_core::world_file::{BackupPlanSpec, Principals, TableSpec, WorldFile};

use crate::world::{Delivery, Faults, JobState, Sim, SimCopyJob, SimTable, Target, World};

/// Lambda retries a failed asynchronous invocation twice, then sends it to the on-failure destination.
pub const LAMBDA_ASYNC_RETRIES: u32 = 2;

#[derive(Debug, Clone)]
pub struct SimOptions {
    pub days: u32,
    pub tables: u32,
    pub seed: u64,
    pub faults: Faults,
    pub start: DateTime<Utc>,
    /// Quiet time after the last backup for copies, events and reconciler runs to finish.
    pub drain_hours: i64,
    /// The backup plan's own lifecycle for the originals.
    pub backup_plan_lifecycle: Lifecycle,
    /// A backup plan copy action into the first never_expire vault (lifecycle "never").
    pub plan_copy_actions: bool,
    /// A backup plan copy action into this vault alias instead (lifecycle "never").
    pub plan_copy_to: Option<String>,
    /// How often the reconciler runs (`None`: never, as before it existed).
    pub reconcile_every: Option<Duration>,
    /// Pages one reconciler run may read before it stops and resumes next run.
    pub reconcile_pages_per_run: Option<u32>,
    pub reconcile: ReconcileConfig,
    /// Called as each simulated day begins, with (day, days): a progress line for long runs.
    pub progress: Option<fn(u32, u32)>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            days: 7,
            tables: 8,
            seed: 42,
            faults: Faults {
                lose: 0.1,
                duplicate: 0.3,
                deliveries: 1,
                reorder_minutes: 45,
                copy_failure: 0.05,
                throttle: 0.005,
                deny_account: BTreeSet::new(),
            },
            start: DateTime::from_timestamp(1_798_761_600, 0).unwrap_or_default(), // 2027-01-01T00:00:00Z
            drain_hours: 24,
            backup_plan_lifecycle: Lifecycle {
                delete_after_days: Some(35),
                move_to_cold_storage_after_days: None,
            },
            plan_copy_actions: false,
            plan_copy_to: None,
            reconcile_every: Some(Duration::hours(1)),
            reconcile_pages_per_run: None,
            reconcile: ReconcileConfig::default(),
            progress: None,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub days: u32,
    pub tables: u32,
    pub seed: u64,
    pub backups: u64,
    pub chains_total: u64,
    pub chains_complete: u64,
    pub hops_required: u64,
    pub hops_complete: u64,
    pub copy_jobs_started: u64,
    pub duplicate_copy_jobs: u64,
    pub copy_failures: u64,
    /// Copy jobs started for a hop after every earlier one of it had failed (read off the jobs).
    pub retries: u64,
    pub events_emitted: u64,
    pub events_delivered: u64,
    pub events_duplicated: u64,
    pub events_lost: u64,
    /// Events emitted where no rule forwards them to the hub (never delivered).
    pub events_not_forwarded: u64,
    /// Events lost on the bus that would have started copies, whose copies exist all the same.
    pub events_lost_repaired: u64,
    /// Hops the reconciler started that had no ledger record (their event lost or dead-lettered).
    pub hops_redriven: u64,
    pub invocation_errors: u64,
    pub events_dead_lettered: u64,
    pub calls_throttled: u64,
    /// Calls refused because AssumeRole into their account is denied (`deny_account`).
    pub calls_denied: u64,
    pub alerts: u64,
    /// Backup jobs AWS failed (a vault lock that refuses the plan's retention, a missing vault).
    pub backups_failed: u64,
    /// Why, per vault: (vault ARN, AWS's message, how many).
    pub backup_failures: Vec<(String, String, u64)>,
    /// Vaults whose backups failed with no alert sent about them: must be 0.
    pub backups_failed_unalerted: u64,
    /// Alerts that the repair engine cannot do its work (the reconciler behind, or its runs
    /// dead-lettered): each covers every chain.
    pub all_chains_alerts: u64,
    /// Reconciler runs that failed three times (Lambda's retries) and went to the dead letters.
    pub reconciler_runs_dead_lettered: u64,
    /// Incomplete chains no alert was sent for (about the original or an account it needs): must be 0.
    pub chains_incomplete_unalerted: u64,
    /// Tables in the simulated organisation (a world file's, or `tables` per root vault).
    pub table_count: u64,
    /// Hours simulated after the last backups: the drain, longer while chains were still in progress.
    pub drained_hours: i64,
    /// Those chains: (original, the first vault missing its copy). Empty in every correct run.
    pub unalerted: Vec<(String, String)>,
    pub lock_adjustments: u64,
    pub plan_copy_jobs: u64,
    /// never_expire points whose delete date the retention guard moved to creation + 36500 days.
    pub lifecycles_repaired: u64,
    pub retention_violations: u64,
    pub reconciler_runs: u64,
    pub reconciler_pages: u64,
    /// COMPLETED copies in never_expire vaults.
    pub never_expire_copies: u64,
    pub never_expire_violations: u64,
    /// Recovery points a partial copy left (PARTIAL): not copies, in no other count.
    pub partial_copies: u64,
    /// Of the violations, those a vault lock makes unavoidable (MaxRetentionDays < 36500).
    pub never_expire_violations_by_lock: u64,
    /// Chains not complete, with the first missing hop: (original recovery point, what is missing).
    pub incomplete: Vec<(String, String)>,
}

pub struct Simulation {
    pub sim: Sim,
    pub policy: Policy,
    pub options: SimOptions,
    /// The backup plans that make the originals.
    plans: Vec<BackupPlan>,
    redriven: u64,
    lock_adjustments: u64,
    reconciler_runs: u64,
    reconciler_pages: u64,
    pub reconcile_reports: Vec<reconcile::ReconcileReport>,
}

impl Simulation {
    /// An organisation from the policy: every vault, and in each root vault's account and Region,
    /// `tables` DynamoDB tables. Three in four carry every tag the routes out of it select on.
    pub fn new(policy: Policy, options: SimOptions) -> Self {
        Self::build(policy, options, None)
    }

    /// The organisation a world file describes (design.md's contract); what it leaves out is
    /// made as [`Simulation::new`] makes it.
    pub fn with_world(policy: Policy, world: &WorldFile, options: SimOptions) -> Self {
        Self::build(policy, options, Some(world))
    }

    fn build(policy: Policy, mut options: SimOptions, spec: Option<&WorldFile>) -> Self {
        if let Some(f) = spec.and_then(|s| s.faults.as_ref()) {
            options.faults = options.faults.with_spec(f);
        }
        let mut world = World::new(options.start, options.seed, options.faults.clone());
        match spec {
            Some(spec) => world_from_spec(&mut world, &policy, spec),
            None => {
                for v in &policy.vaults {
                    world.add_vault(v.arn.clone());
                }
            }
        }
        match spec.and_then(|s| s.tables.as_ref()) {
            Some(tables) => world.set_tables(tables.iter().map(sim_table).collect()),
            None => world.set_tables(generated_tables(&policy, options.tables)),
        }
        let plans = match spec.and_then(|s| s.backup_plans.as_ref()) {
            Some(plans) => plans
                .iter()
                .filter_map(|p| plan_from_spec(&policy, p))
                .collect(),
            None => default_plans(&policy, &options),
        };
        world.backup_plans = plans.iter().enumerate().map(|(i, p)| p.facts(i)).collect();
        Self {
            sim: Sim::new(world),
            policy,
            options,
            plans,
            redriven: 0,
            lock_adjustments: 0,
            reconciler_runs: 0,
            reconciler_pages: 0,
            reconcile_reports: Vec::new(),
        }
    }

    pub fn vault_arn(&self, alias: &str) -> Option<VaultArn> {
        self.policy.vault(alias).map(|v| v.arn.clone())
    }

    pub async fn run(&mut self) -> Summary {
        let start = self.options.start;
        let backups_end = start + Duration::days(i64::from(self.options.days));
        let end = backups_end + Duration::hours(self.options.drain_hours);
        // Past the drain, a chain still being retried is neither done nor a shortfall yet: the run
        // goes on (no new backups) until every chain is complete or alerted. The reconciler's final
        // notice, a day before a point leaves its look-back window, bounds the wait.
        let limit = backups_end + self.options.reconcile.lookback + Duration::days(1);
        let mut last_check = end;
        let mut backups = self.backup_queue();
        let mut next_reconcile = self.options.reconcile_every.map(|every| start + every);
        let mut t = start;
        while t < limit {
            if let Some(progress) = self.options.progress {
                if t == start_of_day(t) {
                    let day = (t - start).num_days();
                    progress(u32::try_from(day).unwrap_or(u32::MAX), self.options.days);
                }
            }
            if t >= end && t >= last_check + Duration::hours(1) {
                last_check = t;
                if self.settled() {
                    break;
                }
            }
            self.sim.world().now = t;
            if t < backups_end {
                self.run_backups(t, &mut backups);
            }
            {
                let mut w = self.sim.world();
                w.step_jobs();
                w.step_lifecycles();
            }
            let due = self.sim.world().take_due();
            for delivery in due {
                self.deliver(delivery).await;
            }
            if let (Some(at), Some(every)) = (next_reconcile, self.options.reconcile_every) {
                if t >= at {
                    self.reconcile().await;
                    next_reconcile = Some(at + every);
                }
            }
            t += Duration::minutes(1);
        }
        self.summary()
    }

    /// Is every chain complete or alerted (nothing left that the functions are still working on)?
    fn settled(&self) -> bool {
        let w = self.sim.world();
        let mut s = Summary::default();
        self.count_chains(&w, &held_copies(&w), &mut s);
        s.chains_incomplete_unalerted == 0
    }

    /// One scheduled reconciler run, as the reconciler function would do it.
    pub async fn reconcile(&mut self) {
        let budget = RunBudget {
            deadline: None,
            max_pages: self.options.reconcile_pages_per_run,
        };
        self.reconciler_runs += 1;
        // The schedule invokes it asynchronously: a failed run is retried twice by Lambda, then
        // goes to its dead-letter queue, whose alarm tells a person.
        for attempt in 0..=LAMBDA_ASYNC_RETRIES {
            match reconcile::run(&self.sim, &self.policy, &self.options.reconcile, budget).await {
                Ok(report) => {
                    self.reconciler_pages += u64::from(report.pages);
                    self.redriven += report.redriven;
                    self.lock_adjustments += report.lock_adjustments;
                    self.reconcile_reports.push(report);
                    return;
                }
                Err(_) => {
                    let mut w = self.sim.world();
                    w.counters.invocation_errors += 1;
                    w.counters.invocation_retries += u64::from(attempt < LAMBDA_ASYNC_RETRIES);
                }
            }
        }
        let mut w = self.sim.world();
        w.counters.reconciler_runs_dead_lettered += 1;
        w.dead_letter_alarm("reconciler-failed-runs", true);
    }

    /// Every backup the plans will make, by when it completes: each plan backs up the tables of
    /// its vault's account and Region that carry its tags, from 05:00 on the first day, one table a
    /// minute (wrapping after 18 hours), each job taking 10 to 40 minutes, every `every`.
    pub(crate) fn backup_queue(&self) -> BackupQueue {
        let w = self.sim.world();
        let first_day = start_of_day(self.options.start);
        let mut queue = BackupQueue::new();
        for (p, plan) in self.plans.iter().enumerate() {
            for (i, table) in w.tables.iter().enumerate() {
                let here = table.arn.account == plan.vault.account
                    && table.arn.region == plan.vault.region;
                let tagged = plan
                    .select_tags
                    .iter()
                    .all(|(k, v)| table.tags.get(k) == Some(v));
                if !(here && tagged) {
                    continue;
                }
                let started = first_day + Duration::minutes(5 * 60 + i as i64 % (18 * 60));
                let duration = Duration::minutes(10 + (i as i64 * 7) % 30);
                queue.push(started + duration, (i, p, duration));
            }
        }
        queue
    }

    /// The backups that complete by `t`; each plan's next one is queued.
    /// How often plan `index` backs up.
    pub(crate) fn plan_every(&self, index: usize) -> Duration {
        self.plans[index].every
    }

    pub(crate) fn run_backups(&self, t: DateTime<Utc>, queue: &mut BackupQueue) {
        let mut w = self.sim.world();
        while let Some(((at, _), (table, plan_index, duration))) = queue.pop_due(t) {
            let plan = &self.plans[plan_index];
            let arn = w.tables[table].arn.clone();
            w.complete_backup(
                &arn,
                &plan.vault,
                at - duration,
                plan.lifecycle,
                plan.copy_to.as_ref(),
            );
            queue.push(at + plan.every, (table, plan_index, duration));
        }
    }

    async fn deliver(&mut self, delivery: Delivery) {
        self.sim.world().counters.events_delivered += 1;
        let result = match delivery.target {
            Target::CopyRouter => router::handle_event(
                &self.sim,
                &self.policy,
                &delivery.event,
                &self.options.reconcile.router,
            )
            .await
            .map(|o| self.lock_adjustments += o.lock_adjustments.len() as u64),
            Target::RetentionGuard => {
                retention_guard::handle_event(&self.sim, &self.policy, &delivery.event)
                    .await
                    .map(|_| ())
            }
        };
        if let Err(e) = result {
            let mut w = self.sim.world();
            w.counters.invocation_errors += 1;
            let retryable = !matches!(e, RouterError::UnreadableEvent { .. });
            if retryable && delivery.retry < LAMBDA_ASYNC_RETRIES {
                w.counters.invocation_retries += 1;
                let at = w.now + Duration::minutes(1 + i64::from(delivery.retry));
                w.schedule(delivery.target, delivery.event, at, delivery.retry + 1);
            } else {
                w.counters.events_dead_lettered += 1;
                w.dead_letters.push(delivery.event);
                let queue = match delivery.target {
                    Target::CopyRouter => "copy-router-failed-events",
                    Target::RetentionGuard => "retention-guard-failed-events",
                };
                w.dead_letter_alarm(queue, false);
            }
        }
    }

    /// What happened, counted from the simulated AWS side: what the vaults hold, which jobs ran,
    /// which alerts were really published. Never from the functions' own bookkeeping.
    pub fn summary(&self) -> Summary {
        let w = self.sim.world();
        let backups_end = self.options.start + Duration::days(i64::from(self.options.days));
        let mut s = Summary {
            days: self.options.days,
            tables: self.options.tables,
            seed: self.options.seed,
            drained_hours: (w.now - backups_end).num_hours() + 1,
            table_count: w.tables.len() as u64,
            ..Summary::default()
        };
        let held = held_copies(&w);
        self.count_chains(&w, &held, &mut s);
        (s.duplicate_copy_jobs, s.retries) = job_counts(&w);
        self.count_never_expire(&w, &mut s);
        s.events_lost_repaired = self.lost_events_repaired(&w, &held);
        let c = &w.counters;
        s.copy_jobs_started = c.copy_jobs_started;
        s.copy_failures = c.copy_failures;
        s.events_emitted = c.events_emitted;
        s.events_delivered = c.events_delivered;
        s.events_duplicated = c.events_duplicated;
        s.events_lost = c.events_lost;
        s.events_not_forwarded = c.events_not_forwarded;
        s.hops_redriven = self.redriven;
        s.invocation_errors = c.invocation_errors;
        s.events_dead_lettered = c.events_dead_lettered;
        s.calls_throttled = c.calls_throttled;
        s.calls_denied = c.calls_denied;
        s.alerts = w.alerts.len() as u64;
        s.backups_failed = c.backups_failed;
        s.backup_failures = w
            .backup_failures
            .iter()
            .map(|((v, why), n)| (v.to_string(), why.clone(), *n))
            .collect();
        let failing: BTreeSet<&VaultArn> = w.backup_failures.keys().map(|(v, _)| v).collect();
        s.backups_failed_unalerted = failing
            .iter()
            .filter(|v| {
                let subject = format!("backups into {v} fail");
                !w.alerts.iter().any(|a| a.subject.contains(&subject))
            })
            .count() as u64;
        s.all_chains_alerts = w.alerts.iter().filter(|a| a.all_chains).count() as u64;
        s.reconciler_runs_dead_lettered = c.reconciler_runs_dead_lettered;
        s.lock_adjustments = self.lock_adjustments;
        s.plan_copy_jobs = c.plan_copy_jobs;
        s.lifecycles_repaired = w.extended_points.len() as u64;
        s.retention_violations = w
            .incidents
            .keys()
            .filter(|id| id.starts_with("retention#"))
            .count() as u64;
        s.reconciler_runs = self.reconciler_runs;
        s.reconciler_pages = c.list_calls;
        s
    }

    /// The vaults an original in `root` must reach (the policy's rule, shared with the report).
    fn required_vaults(&self, root: &str, tags: &Tags) -> Vec<(String, VaultArn)> {
        self.policy
            .vaults_reached(root, Some("DynamoDB"), tags)
            .into_iter()
            .map(|v| (v.alias.clone(), v.arn.clone()))
            .collect()
    }

    fn count_chains(&self, w: &World, held: &HashSet<(VaultArn, Original)>, s: &mut Summary) {
        let alerts = SentAlerts::of(w);
        for rp in w.recovery_points.values().filter(|rp| rp.source.is_none()) {
            s.backups += 1;
            let Some(vault) = self.policy.vault_by_arn(&rp.vault) else {
                continue;
            };
            let original = Original::new(rp.resource_arn.clone(), rp.creation_date);
            let required = self.required_vaults(&vault.alias, &table_tags(w, &rp.resource_arn));
            if required.is_empty() {
                continue;
            }
            let missing: Vec<&(String, VaultArn)> = required
                .iter()
                .filter(|(_, arn)| !held.contains(&(arn.clone(), original.clone())))
                .collect();
            s.chains_total += 1;
            s.hops_required += required.len() as u64;
            s.hops_complete += (required.len() - missing.len()) as u64;
            let Some((first, _)) = missing.first() else {
                s.chains_complete += 1;
                continue;
            };
            s.incomplete
                .push((rp.arn.clone(), format!("copy into '{first}'")));
            if let Some((uncovered, _)) = missing
                .iter()
                .find(|m| !self.covered(&alerts, &original, m, &missing))
            {
                s.chains_incomplete_unalerted += 1;
                s.unalerted.push((original.key(), uncovered.clone()));
            }
        }
    }

    /// Is a missing copy announced: itself, or a missing copy upstream of it (the chain broke there)?
    fn covered(
        &self,
        alerts: &SentAlerts,
        original: &Original,
        m: &(String, VaultArn),
        missing: &[&(String, VaultArn)],
    ) -> bool {
        self.announced(alerts, original, m)
            || missing.iter().any(|u| {
                u.0 != m.0 && self.reaches(&u.0, &m.0) && self.announced(alerts, original, u)
            })
    }

    /// A hop alert about this copy, or an account alert for its vault's account or an account
    /// copying into it.
    fn announced(
        &self,
        alerts: &SentAlerts,
        original: &Original,
        (alias, arn): &(String, VaultArn),
    ) -> bool {
        let mut accounts = self
            .policy
            .routes
            .iter()
            .filter(|r| &r.to == alias)
            .filter_map(|r| self.policy.vault(&r.from))
            .map(|v| &v.arn.account)
            .chain(std::iter::once(&arn.account));
        let route_alerted = self
            .policy
            .routes
            .iter()
            .any(|r| &r.to == alias && alerts.routes.contains(&r.name()));
        alerts.all_chains
            || alerts.hops.contains(&(original.clone(), arn.to_string()))
            || route_alerted
            || alerts.resources.contains(&original.resource_arn)
            || accounts.any(|a| alerts.accounts.contains(a))
    }

    /// Can a copy in vault `from` lead, route after route, to vault `to`?
    fn reaches(&self, from: &str, to: &str) -> bool {
        let mut frontier = vec![from];
        let mut seen = BTreeSet::new();
        while let Some(v) = frontier.pop() {
            for r in self.policy.routes_from(v) {
                if r.to == to {
                    return true;
                }
                if seen.insert(r.to.as_str()) {
                    frontier.push(&r.to);
                }
            }
        }
        false
    }

    fn count_never_expire(&self, w: &World, s: &mut Summary) {
        let never_vaults: BTreeSet<&VaultArn> = self
            .policy
            .vaults
            .iter()
            .filter(|v| matches!(v.retention, Some(Retention::NeverExpire { .. })))
            .map(|v| &v.arn)
            .collect();
        for rp in w.recovery_points.values() {
            // What a partial copy left is no copy: reported as such, never counted as held.
            if rp.status != "COMPLETED" {
                s.partial_copies += 1;
                continue;
            }
            if !never_vaults.contains(&rp.vault) {
                continue;
            }
            s.never_expire_copies += 1;
            // Judged by whole days, as the guard does; no delete date at all is the inherited trap.
            let days = rp.delete_at.map(|d| (d - rp.creation_date).num_days());
            if days.is_none_or(|d| d < i64::from(NEVER_EXPIRE_DAYS) - 1) {
                s.never_expire_violations += 1;
                let locked_below = w
                    .vaults
                    .get(&rp.vault)
                    .and_then(|v| v.lock)
                    .and_then(|l| l.max_retention_days)
                    .is_some_and(|m| m < NEVER_EXPIRE_DAYS);
                if locked_below {
                    s.never_expire_violations_by_lock += 1;
                }
            }
        }
    }

    /// Lost events that would have started copies, whose copies exist all the same.
    fn lost_events_repaired(&self, w: &World, held: &HashSet<(VaultArn, Original)>) -> u64 {
        let mut repaired = 0;
        for (vault_arn, rp_arn) in &w.lost_landings {
            let (Some(rp), Some(vault)) = (
                w.recovery_points.get(rp_arn),
                self.policy.vault_by_arn(vault_arn),
            ) else {
                continue;
            };
            let tags = table_tags(w, &rp.resource_arn);
            let next: Vec<VaultArn> = self
                .policy
                .routes_from(&vault.alias)
                .filter(|r| r.select.matches(Some("DynamoDB"), &tags))
                .filter_map(|r| self.policy.vault(&r.to).map(|v| v.arn.clone()))
                .collect();
            let original = Original::new(rp.resource_arn.clone(), rp.creation_date);
            if !next.is_empty()
                && next
                    .iter()
                    .all(|v| held.contains(&(v.clone(), original.clone())))
            {
                repaired += 1;
            }
        }
        repaired
    }
}

/// The alerts the topic really published: about which hops, and which accounts.
struct SentAlerts {
    hops: HashSet<(Original, String)>,
    accounts: HashSet<String>,
    /// Tables whose every chain an alert covers (their copies are stuck).
    resources: HashSet<String>,
    /// Routes the reconciler cannot walk: every copy they should make is announced.
    routes: HashSet<String>,
    /// The repair engine cannot do its work (the reconciler behind or failing): every chain.
    all_chains: bool,
}

impl SentAlerts {
    fn of(w: &World) -> Self {
        Self {
            hops: w
                .alerts
                .iter()
                .filter_map(|a| a.hop.as_ref())
                .map(|h| (h.original.clone(), h.destination_vault_arn.clone()))
                .collect(),
            accounts: w.alerts.iter().filter_map(|a| a.account.clone()).collect(),
            resources: w.alerts.iter().filter_map(|a| a.resource.clone()).collect(),
            routes: w.alerts.iter().filter_map(|a| a.route.clone()).collect(),
            all_chains: w.alerts.iter().any(|a| a.all_chains),
        }
    }
}

/// What every vault holds, by original: copies keep their source's resource and creation date.
/// Only a COMPLETED copy is held (a PARTIAL one is not).
fn held_copies(w: &World) -> HashSet<(VaultArn, Original)> {
    w.recovery_points
        .values()
        .filter(|rp| rp.status == "COMPLETED")
        .map(|rp| {
            (
                rp.vault.clone(),
                Original::new(rp.resource_arn.clone(), rp.creation_date),
            )
        })
        .collect()
}

fn table_tags(w: &World, resource_arn: &str) -> Tags {
    w.table(resource_arn)
        .map(|t| t.tags.clone())
        .unwrap_or_default()
}

/// Every copy job per hop, read off the jobs AWS ran, whoever started them (Backup Relay, a
/// backup plan's copy action): (duplicates, retries). A job started while an earlier one of its
/// hop had not failed (was under way, or had made the copy the vault holds) is a duplicate (a
/// failed duplicate too); one started after every earlier one had failed is a retry.
fn job_counts(w: &World) -> (u64, u64) {
    let mut per_hop: BTreeMap<(Original, VaultArn), Vec<&SimCopyJob>> = BTreeMap::new();
    for job in &w.jobs {
        per_hop
            .entry((job.original.clone(), job.dest_vault.clone()))
            .or_default()
            .push(job);
    }
    let (mut duplicates, mut retries) = (0, 0);
    for jobs in per_hop.values() {
        for (k, job) in jobs.iter().enumerate().skip(1) {
            let overlaps = jobs[..k].iter().any(|earlier| {
                !(matches!(earlier.state, JobState::Failed | JobState::Partial)
                    && earlier.ended_at.is_some_and(|e| e <= job.created_at))
            });
            if overlaps {
                duplicates += 1;
            } else {
                retries += 1;
            }
        }
    }
    (duplicates, retries)
}

fn start_of_day(t: DateTime<Utc>) -> DateTime<Utc> {
    t - Duration::seconds(t.timestamp().rem_euclid(86_400))
}

impl Summary {
    /// What the run found wrong, in words; empty when every chain is complete and every
    /// never-expire copy is kept 36500 days.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some((vault, why, _)) = self.backup_failures.first() {
            out.push(format!(
                "{} backup job(s) failed (in {vault}: {why})",
                self.backups_failed
            ));
        }
        if self.backups_failed_unalerted > 0 {
            out.push(format!(
                "{} vault(s) whose backups fail with no alert sent",
                self.backups_failed_unalerted
            ));
        }
        if self.backups == 0 && self.backups_failed == 0 {
            out.push("no backup was made: no backup plan covers any table".to_string());
        } else if self.backups == 0 {
            // Said above: every backup job failed.
        } else if self.chains_total == 0 {
            out.push("nothing to copy: no route selects any table".to_string());
        }
        let incomplete = self.chains_total - self.chains_complete;
        if incomplete > 0 {
            out.push(format!("{incomplete} chain(s) incomplete"));
        }
        if self.chains_incomplete_unalerted > 0 {
            out.push(format!(
                "{} incomplete chain(s) with no alert sent",
                self.chains_incomplete_unalerted
            ));
        }
        if self.duplicate_copy_jobs > 0 {
            out.push(format!(
                "{} duplicate copy job(s)",
                self.duplicate_copy_jobs
            ));
        }
        if self.never_expire_violations > 0 {
            out.push(format!(
                "{} never-expire copies will not be kept 36500 days",
                self.never_expire_violations
            ));
        }
        out
    }

    /// The human-readable report of `relay simulate`.
    pub fn render(&self) -> String {
        let mut lines = vec![
            format!("Simulated {} days, {} tables, seed {}.", self.days, self.table_count, self.seed),
            format!("Backups made: {}; chains to build: {}.", self.backups, self.chains_total),
            format!("Chains complete: {} of {} ({} of {} hops).", self.chains_complete, self.chains_total, self.hops_complete, self.hops_required),
            format!("Copy jobs started: {}; duplicate copy jobs: {}; copy failures: {}; retries: {}.", self.copy_jobs_started, self.duplicate_copy_jobs, self.copy_failures, self.retries),
            format!("Events: {} emitted, {} lost, {} never forwarded to the hub, {} duplicated, {} deliveries to the functions, {} dead-lettered after Lambda's retries.", self.events_emitted, self.events_lost, self.events_not_forwarded, self.events_duplicated, self.events_delivered, self.events_dead_lettered),
            format!("Reconciler: {} runs, {} pages; hops re-driven: {}; lost events whose copies were made all the same: {}.", self.reconciler_runs, self.reconciler_pages, self.hops_redriven, self.events_lost_repaired),
            format!("Invocation errors (retried by Lambda): {}; throttled calls: {}; denied calls: {}; alerts: {}; lock adjustments: {}.", self.invocation_errors, self.calls_throttled, self.calls_denied, self.alerts, self.lock_adjustments),
            format!("Never-expire copies: {}; lifecycles repaired: {}; violations: {} ({} forced by a vault lock).", self.never_expire_copies, self.lifecycles_repaired, self.never_expire_violations, self.never_expire_violations_by_lock),
        ];
        if self.partial_copies > 0 {
            lines.push(format!(
                "Partial copies left by copy jobs that ended PARTIAL (not counted as copies): {}.",
                self.partial_copies
            ));
        }
        if self.plan_copy_jobs > 0 {
            lines.push(format!(
                "Backup plan copy actions into the never-expire vault: {}.",
                self.plan_copy_jobs
            ));
        }
        for (vault, why, n) in &self.backup_failures {
            lines.push(format!("Backup jobs failed: {n} in {vault}: {why}"));
        }
        if self.backups == 0 && self.backups_failed > 0 {
            lines.push(format!(
                "Result: no backup was made: all {} backup jobs failed (see above).",
                self.backups_failed
            ));
        } else if self.backups == 0 {
            lines.push("Result: no backup was made: no backup plan covers any table.".to_string());
        } else if self.chains_total == 0 {
            lines.push("Result: nothing to copy: no route selects any table.".to_string());
        } else if self.chains_complete == self.chains_total && self.never_expire_violations > 0 {
            lines.push(format!(
                "Result: every chain is complete, but {} never-expire copies will not be kept 36500 days.",
                self.never_expire_violations
            ));
        } else if self.chains_complete == self.chains_total {
            lines.push("Result: every chain is complete.".to_string());
        } else {
            lines.push(format!(
                "Result: {} chain(s) incomplete, {} of them with no alert sent.",
                self.chains_total - self.chains_complete,
                self.chains_incomplete_unalerted
            ));
            for (rp, route) in self.incomplete.iter().take(5) {
                lines.push(format!("  missing {route} for {rp}"));
            }
        }
        lines.join("\n") + "\n"
    }
}

/// A backup plan as the simulation runs it.
#[derive(Debug, Clone)]
struct BackupPlan {
    vault: VaultArn,
    every: Duration,
    lifecycle: Lifecycle,
    select_tags: Tags,
    /// Its copy action (lifecycle "never"), when it has one.
    copy_to: Option<VaultArn>,
}

impl BackupPlan {
    /// The plan as ListBackupPlans / GetBackupPlan / GetBackupSelection describe it.
    fn facts(&self, index: usize) -> PlanFacts {
        PlanFacts {
            account: self.vault.account.clone(),
            region: self.vault.region.clone(),
            name: format!("relay-sim-plan-{index}-{}", self.vault.name),
            vault_arn: self.vault.to_string(),
            every_hours: u32::try_from(self.every.num_hours()).ok(),
            delete_after_days: self.lifecycle.delete_after_days,
            select_tags: self.select_tags.clone(),
            select_resources: Vec::new(),
        }
    }
}

/// Backups to come, by completion time: (table index, plan index, job duration).
pub(crate) struct BackupQueue {
    due: BTreeMap<(DateTime<Utc>, u64), (usize, usize, Duration)>,
    seq: u64,
}

impl BackupQueue {
    fn new() -> Self {
        Self {
            due: BTreeMap::new(),
            seq: 0,
        }
    }

    pub(crate) fn push(&mut self, at: DateTime<Utc>, backup: (usize, usize, Duration)) {
        self.seq += 1;
        self.due.insert((at, self.seq), backup);
    }

    #[allow(clippy::type_complexity)]
    pub(crate) fn pop_due(
        &mut self,
        t: DateTime<Utc>,
    ) -> Option<((DateTime<Utc>, u64), (usize, usize, Duration))> {
        let first = self.due.first_key_value().map(|(k, _)| *k)?;
        if first.0 > t {
            return None;
        }
        self.due.remove(&first).map(|b| (first, b))
    }
}

/// One plan per root vault, daily, every table of its account and Region, with the options'
/// lifecycle (and, with `plan_copy_actions`, a copy action into the first never_expire vault).
fn default_plans(policy: &Policy, options: &SimOptions) -> Vec<BackupPlan> {
    let first_never_expire = || {
        policy
            .vaults
            .iter()
            .find(|v| matches!(v.retention, Some(Retention::NeverExpire { .. })))
    };
    let copy_to = match &options.plan_copy_to {
        Some(alias) => policy.vault(alias),
        None => options.plan_copy_actions.then(first_never_expire).flatten(),
    }
    .map(|v| v.arn.clone());
    policy
        .root_vaults()
        .iter()
        .map(|root| BackupPlan {
            vault: root.arn.clone(),
            every: Duration::hours(24),
            lifecycle: options.backup_plan_lifecycle,
            select_tags: Tags::new(),
            copy_to: copy_to.clone(),
        })
        .collect()
}

fn plan_from_spec(policy: &Policy, spec: &BackupPlanSpec) -> Option<BackupPlan> {
    Some(BackupPlan {
        vault: policy.vault(&spec.vault)?.arn.clone(),
        every: Duration::hours(i64::from(spec.every_hours)),
        lifecycle: Lifecycle {
            delete_after_days: Some(spec.delete_after_days),
            move_to_cold_storage_after_days: None,
        },
        select_tags: spec.select_tags.clone(),
        copy_to: spec
            .copy_to
            .as_deref()
            .and_then(|alias| policy.vault(alias))
            .map(|v| v.arn.clone()),
    })
}

/// In each root vault's account and Region, `tables` tables; three in four carry every tag the
/// routes out of it select on.
fn generated_tables(policy: &Policy, tables: u32) -> Vec<SimTable> {
    let mut out = Vec::new();
    for root in policy.root_vaults() {
        let selected: BTreeMap<String, String> = policy
            .routes_from(&root.alias)
            .flat_map(|r| r.select.tags.clone())
            .collect();
        for i in 0..tables {
            let mut tags = BTreeMap::from([("team".to_string(), format!("team-{}", i % 3))]);
            if i % 4 != 3 {
                tags.extend(selected.clone());
            }
            out.push(SimTable::new(
                TableArn {
                    partition: root.arn.partition.clone(),
                    region: root.arn.region.clone(),
                    account: root.arn.account.clone(),
                    table: format!("{}-table-{i:03}", root.alias),
                },
                tags,
            ));
        }
    }
    out
}

fn sim_table(t: &TableSpec) -> SimTable {
    SimTable {
        arn: TableArn {
            partition: relay_core::arn::partition_of_region(&t.region).to_string(),
            region: t.region.clone(),
            account: t.account.clone(),
            table: t.name.clone(),
        },
        tags: t.tags.clone(),
        size_gb: t.size_gb,
        pitr: t.pitr,
        native_backups: t.native_backups,
        ttl_attribute: None,
        stream_view_type: None,
        deletion_protection: false,
    }
}

/// The simulated AWS as the world file describes it: which vaults exist, their locks, access
/// policies and keys; the organisation; missing roles; Regions without advanced features.
fn world_from_spec(world: &mut World, policy: &Policy, spec: &WorldFile) {
    // The organisation is every account of the policy, whether its vaults exist or not.
    world.organization = policy
        .vaults
        .iter()
        .map(|v| v.arn.account.clone())
        .collect();
    for v in &policy.vaults {
        if spec.vaults.get(&v.alias).is_none_or(|s| s.exists) {
            world.add_vault(v.arn.clone());
        }
    }
    if let Some(members) = &spec.organization.members {
        world.organization = members.clone();
    }
    let org = world.organization.clone();
    for v in &policy.vaults {
        let (Some(vs), Some(sim)) = (spec.vaults.get(&v.alias), world.vaults.get_mut(&v.arn))
        else {
            continue;
        };
        sim.lock = vs.lock;
        sim.allow_copy_from = match &vs.access_policy_allows_copy_from {
            Principals::Organization => org.clone(),
            Principals::Accounts(a) => a.clone(),
        };
        sim.kms_shared_with = match &vs.kms_key_shared_with {
            Principals::Organization => Some(org.clone()),
            Principals::Accounts(a) => Some(a.clone()),
        };
        sim.deny_manual_deletion = vs.deny_manual_deletion;
    }
    for (account, a) in &spec.accounts {
        if !a.executor_role {
            world.faults.deny_account.insert(account.clone());
        }
        if !a.copy_role {
            world.copy_role_missing.insert(account.clone());
        }
    }
    world.cross_account_backup_disabled = !spec.organization.cross_account_backup;
    world.native_regions = spec
        .regions
        .iter()
        .filter(|(_, r)| !r.advanced_features)
        .map(|(k, _)| k.clone())
        .collect();
    world.unforwarded = spec
        .regions
        .iter()
        .filter(|(_, r)| !r.event_forwarding)
        .map(|(k, _)| k.clone())
        .collect();
}
