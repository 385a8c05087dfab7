//! A simulated organisation built from a policy, run day after day: backup plans back up the tables
//! into the root vaults, the simulated AWS Backup emits its events through the faults, the real
//! copy-router and retention-guard code reacts, and the real reconciler runs on its schedule. The
//! summary says what happened and whether every chain is complete.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

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
mod copy_tags;
mod cost;
mod fan_out;
mod invocations;
mod membership;
mod organisation;
mod summary;

pub use cost::cost_organisation;
pub use invocations::{Invocations, Passes};
use invocations::{RECONCILER_BUDGET, RECONCILER_TIMEOUT, ROUTER_TIMEOUT};
use membership::Members;
pub(crate) use organisation::BackupQueue;
pub use organisation::HeldShort;
use organisation::{
    add_member_vault, hold_points, plans_for, tables_of, world_from_spec, BackupPlan,
};
use summary::held_copies;
pub use summary::Summary;

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
    /// The reconciler cut into pieces (one per account and Region), this many at once, as the
    /// hub deploys it for an organisation; `None`: one run over the whole policy.
    pub reconcile_fan_out: Option<usize>,
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
            reconcile_fan_out: None,
            reconcile: ReconcileConfig::default(),
            progress: None,
        }
    }
}

pub struct Simulation {
    pub sim: Sim,
    /// The policy in force: vault sets expanded with today's members.
    pub policy: Policy,
    members: Members,
    /// The world file, for the spokes of accounts that join.
    world_spec: Option<WorldFile>,
    pub options: SimOptions,
    /// The backup plans that make the originals.
    plans: Vec<BackupPlan>,
    redriven: u64,
    lock_adjustments: u64,
    reconciler_runs: u64,
    reconciler_pages: u64,
    pub reconcile_reports: Vec<reconcile::ReconcileReport>,
    /// Every function invocation, in the time its calls took (the scale model).
    pub invocations: Invocations,
    pub passes: Passes,
    /// Vaults holding fewer of the world file's `held_points` than it asked.
    pub held_short: Vec<HeldShort>,
    /// OUs the policy names that the world's organisation does not have: AWS answers
    /// ParentNotFoundException, and their sets have no members there.
    pub missing_units: Vec<String>,
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

    fn build(template: Policy, mut options: SimOptions, spec: Option<&WorldFile>) -> Self {
        if let Some(f) = spec.and_then(|s| s.faults.as_ref()) {
            options.faults = options.faults.with_spec(f);
        }
        let members = Members::new(&template, spec);
        let missing_units = members.missing_units();
        let policy = members.policy_on(Some(0));
        let mut world = World::new(options.start, options.seed, options.faults.clone());
        // The organisation: every account of the policy (whether its vaults exist or not) and
        // every member, late joiners included (before they join they make no backups).
        let active = members.tree(None).active;
        world.organization = active.clone();
        world.org_tree = members.tree(Some(0));
        world.organization.extend(
            members
                .policy_on(None)
                .vaults
                .iter()
                .map(|v| v.arn.account.clone()),
        );
        match spec {
            Some(spec) => world_from_spec(&mut world, &policy, spec, &active),
            None => {
                for v in &policy.vaults {
                    world.add_vault(v.arn.clone());
                }
            }
        }
        // Tables exist before their account joins; its backup plan starts when it does.
        world.set_tables(tables_of(spec, &members.policy_on(None), options.tables));
        let held_short = match spec {
            Some(spec) => hold_points(&mut world, &policy, spec),
            None => Vec::new(),
        };
        let plans = plans_for(&policy, spec, &options);
        world.backup_plans = plans.iter().enumerate().map(|(i, p)| p.facts(i)).collect();
        Self {
            sim: Sim::new(world),
            policy,
            members,
            world_spec: spec.cloned(),
            options,
            plans,
            redriven: 0,
            lock_adjustments: 0,
            reconciler_runs: 0,
            reconciler_pages: 0,
            reconcile_reports: Vec::new(),
            invocations: Invocations::default(),
            passes: Passes::default(),
            held_short,
            missing_units,
        }
    }

    /// An invocation begins: no session held yet; the time spent so far.
    fn begin_invocation(&self) -> std::time::Duration {
        let mut w = self.sim.world();
        w.sessions.clear();
        w.spent
    }

    /// The invocation begun at `started` ends: how long it took.
    fn end_invocation(
        &mut self,
        started: std::time::Duration,
        timeout: std::time::Duration,
    ) -> std::time::Duration {
        let took = self.sim.world().spent.saturating_sub(started);
        self.invocations.record(took, timeout);
        took
    }

    /// Organizations read again as a new day begins: accounts that joined get their member
    /// vaults and backup plans (their first backups from today), and the policy in force covers
    /// them, with no change to the policy as written.
    pub(crate) async fn refresh_members(&mut self, day: u32, queue: &mut BackupQueue) {
        // What Organizations answers today, read as the functions read it.
        self.sim.world().org_tree = self.members.tree(Some(day));
        let Ok(tree) = relay_core::organization::read_tree(&self.sim, &self.members.template).await
        else {
            return;
        };
        let template = &self.members.template;
        let next = template.expand(&template.membership(&tree));
        if next.vaults.len() == self.policy.vaults.len() && next == self.policy {
            return;
        }
        {
            let mut w = self.sim.world();
            for v in &next.vaults {
                if !w.vaults.contains_key(&v.arn) {
                    add_member_vault(&mut w, v, self.world_spec.as_ref());
                }
            }
        }
        let known: BTreeSet<VaultArn> = self.plans.iter().map(|p| p.vault.clone()).collect();
        let from = start_of_day(self.sim.world().now);
        for plan in plans_for(&next, self.world_spec.as_ref(), &self.options) {
            if known.contains(&plan.vault) {
                continue;
            }
            self.plans.push(plan);
            self.queue_plans(std::iter::once(self.plans.len() - 1), from, queue);
        }
        let mut w = self.sim.world();
        w.backup_plans = self
            .plans
            .iter()
            .enumerate()
            .map(|(i, p)| p.facts(i))
            .collect();
        drop(w);
        self.policy = next;
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
            if t == start_of_day(t) && t > start && t < backups_end {
                let day = u32::try_from((t - start).num_days()).unwrap_or(u32::MAX);
                self.sim.world().now = t;
                self.refresh_members(day, &mut backups).await;
            }
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
        // Copies still bare are being tagged, unless tagging them was refused and alerted.
        let tags_alerted = w
            .alerts
            .iter()
            .any(|a| a.subject.contains("cannot be tagged"));
        s.chains_incomplete_unalerted == 0 && (tags_alerted || self.count_missing_tags(&w) == 0)
    }

    /// One scheduled reconciler run, as the reconciler function would do it.
    pub async fn reconcile(&mut self) {
        if let Some(concurrency) = self.options.reconcile_fan_out {
            return self.reconcile_fanned_out(concurrency).await;
        }
        self.reconciler_runs += 1;
        // The schedule invokes it asynchronously: a failed run is retried twice by Lambda, then
        // goes to its dead-letter queue, whose alarm tells a person.
        std::mem::take(&mut self.sim.world().rate_tally);
        for attempt in 0..=LAMBDA_ASYNC_RETRIES {
            let started = self.begin_invocation();
            let budget = RunBudget {
                deadline: Some(self.sim.world().instant() + RECONCILER_BUDGET),
                max_pages: self.options.reconcile_pages_per_run,
            };
            let run =
                reconcile::run(&self.sim, &self.policy, &self.options.reconcile, budget).await;
            let took = self.end_invocation(started, RECONCILER_TIMEOUT);
            match run {
                Ok(report) => {
                    let (at, tally) = {
                        let mut w = self.sim.world();
                        (w.now, std::mem::take(&mut w.rate_tally))
                    };
                    self.passes.rate_floor(tally.floor());
                    self.passes
                        .run(at, took, report.resumed, report.pass_complete);
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
        let first_day = start_of_day(self.options.start);
        let mut queue = BackupQueue::new();
        self.queue_plans(0..self.plans.len(), first_day, &mut queue);
        queue
    }

    /// The plans' first backup of each of their tables, on the day that starts at `day`.
    fn queue_plans(
        &self,
        plans: impl Iterator<Item = usize>,
        day: DateTime<Utc>,
        queue: &mut BackupQueue,
    ) {
        let w = self.sim.world();
        // Tables by account and Region: an organisation has thousands of plans.
        let mut here: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
        for (i, t) in w.tables.iter().enumerate() {
            let at = (t.arn.account.as_str(), t.arn.region.as_str());
            here.entry(at).or_default().push(i);
        }
        for p in plans {
            let plan = &self.plans[p];
            let at = (plan.vault.account.as_str(), plan.vault.region.as_str());
            for &i in here.get(&at).into_iter().flatten() {
                let table = &w.tables[i];
                if !plan
                    .select_tags
                    .iter()
                    .all(|(k, v)| table.tags.get(k) == Some(v))
                {
                    continue;
                }
                let n = i64::try_from(i).unwrap_or(i64::MAX);
                let started = day + Duration::minutes(5 * 60 + n % (18 * 60));
                let duration = Duration::minutes(10 + n.wrapping_mul(7).rem_euclid(30));
                queue.push(started + duration, (i, p, duration));
            }
        }
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
        let started = self.begin_invocation();
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
        self.end_invocation(started, ROUTER_TIMEOUT);
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
}

fn start_of_day(t: DateTime<Utc>) -> DateTime<Utc> {
    t - Duration::seconds(t.timestamp().rem_euclid(86_400))
}
