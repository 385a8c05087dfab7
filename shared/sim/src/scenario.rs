//! A simulated organisation built from a policy, run day after day: backup plans back up the tables
//! into the root vaults, the simulated AWS Backup emits its events through the faults, and the real
//! router code reacts. The summary says what happened and whether every chain is complete.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use relay_core::arn::{TableArn, VaultArn};
use relay_core::policy::Policy;
use relay_core::retention::{Lifecycle, Retention, NEVER_EXPIRE_DAYS};
use relay_core::router::{self, RouterConfig, RouterError};
use serde::Serialize;

use crate::world::{Faults, Sim, SimTable, World};

/// Lambda retries a failed asynchronous invocation twice, then sends it to the on-failure destination.
pub const LAMBDA_ASYNC_RETRIES: u32 = 2;

#[derive(Debug, Clone)]
pub struct SimOptions {
    pub days: u32,
    pub tables: u32,
    pub seed: u64,
    pub faults: Faults,
    pub start: DateTime<Utc>,
    /// Quiet time after the last backup for copies and events to finish.
    pub drain_hours: i64,
    /// The backup plan's own lifecycle for the originals.
    pub backup_plan_lifecycle: Lifecycle,
    pub router: RouterConfig,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            days: 7,
            tables: 8,
            seed: 42,
            faults: Faults {
                lose: 0.0,
                duplicate: 0.3,
                deliveries: 1,
                reorder_minutes: 45,
                copy_failure: 0.05,
                throttle: 0.005,
            },
            start: DateTime::from_timestamp(1_798_761_600, 0).unwrap_or_default(), // 2027-01-01T00:00:00Z
            drain_hours: 24,
            backup_plan_lifecycle: Lifecycle {
                delete_after_days: Some(35),
                move_to_cold_storage_after_days: None,
            },
            router: RouterConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
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
    pub retries: u64,
    pub events_emitted: u64,
    pub events_delivered: u64,
    pub events_duplicated: u64,
    pub events_lost: u64,
    pub invocation_errors: u64,
    pub events_dead_lettered: u64,
    pub calls_throttled: u64,
    pub alerts: u64,
    pub lock_adjustments: u64,
    pub never_expire_copies: u64,
    pub never_expire_violations: u64,
    /// Of the violations, those a vault lock makes unavoidable (MaxRetentionDays < 36500).
    pub never_expire_violations_by_lock: u64,
    /// Chains not complete, with the first missing hop: (root recovery point, route).
    pub incomplete: Vec<(String, String)>,
}

pub struct Simulation {
    pub sim: Sim,
    pub policy: Policy,
    pub options: SimOptions,
    retries: u64,
    lock_adjustments: u64,
}

impl Simulation {
    /// An organisation from the policy: every vault, and in each root vault's account and Region,
    /// `tables` DynamoDB tables. Three in four carry every tag the routes out of it select on.
    pub fn new(policy: Policy, options: SimOptions) -> Self {
        let mut world = World::new(options.start, options.seed, options.faults.clone());
        for v in &policy.vaults {
            world.add_vault(v.arn.clone());
        }
        for root in policy.root_vaults() {
            let selected: BTreeMap<String, String> = policy
                .routes_from(&root.alias)
                .flat_map(|r| r.select.tags.clone())
                .collect();
            for i in 0..options.tables {
                let mut tags = BTreeMap::from([("team".to_string(), format!("team-{}", i % 3))]);
                if i % 4 != 3 {
                    tags.extend(selected.clone());
                }
                world.tables.push(SimTable {
                    arn: TableArn {
                        partition: root.arn.partition.clone(),
                        region: root.arn.region.clone(),
                        account: root.arn.account.clone(),
                        table: format!("{}-table-{i:03}", root.alias),
                    },
                    tags,
                });
            }
        }
        Self {
            sim: Sim::new(world),
            policy,
            options,
            retries: 0,
            lock_adjustments: 0,
        }
    }

    pub fn vault_arn(&self, alias: &str) -> Option<VaultArn> {
        self.policy.vault(alias).map(|v| v.arn.clone())
    }

    pub async fn run(&mut self) -> Summary {
        let start = self.options.start;
        let backups_end = start + Duration::days(i64::from(self.options.days));
        let end = backups_end + Duration::hours(self.options.drain_hours);
        let roots: Vec<VaultArn> = self
            .policy
            .root_vaults()
            .iter()
            .map(|v| v.arn.clone())
            .collect();
        let mut t = start;
        while t < end {
            self.sim.world().now = t;
            if t < backups_end {
                self.run_backups(t, &roots);
            }
            self.sim.world().step_jobs();
            let due = self.sim.world().take_due();
            for delivery in due {
                self.deliver(delivery).await;
            }
            t += Duration::minutes(1);
        }
        self.summary()
    }

    /// Backup plans run daily at 05:00, one table a minute, each job taking 10 to 40 minutes.
    fn run_backups(&self, t: DateTime<Utc>, roots: &[VaultArn]) {
        let mut w = self.sim.world();
        let minutes_into_day = (t - start_of_day(t)).num_minutes();
        let tables: Vec<TableArn> = w.tables.iter().map(|t| t.arn.clone()).collect();
        for (i, table) in tables.iter().enumerate() {
            let Some(vault) = roots
                .iter()
                .find(|v| v.account == table.account && v.region == table.region)
            else {
                continue;
            };
            let started = 5 * 60 + i as i64;
            let duration = 10 + (i as i64 * 7) % 30;
            if minutes_into_day == started + duration {
                let created = start_of_day(t) + Duration::minutes(started);
                let lifecycle = self.options.backup_plan_lifecycle;
                w.complete_backup(table, vault, created, lifecycle);
            }
        }
    }

    async fn deliver(&mut self, delivery: crate::world::Delivery) {
        self.sim.world().counters.events_delivered += 1;
        match router::handle_event(
            &self.sim,
            &self.policy,
            &delivery.event,
            &self.options.router,
        )
        .await
        {
            Ok(outcome) => {
                self.retries += u64::from(outcome.retries_started);
                self.lock_adjustments += outcome.lock_adjustments.len() as u64;
            }
            Err(e) => {
                let mut w = self.sim.world();
                w.counters.invocation_errors += 1;
                let retryable = !matches!(e, RouterError::UnreadableEvent { .. });
                if retryable && delivery.retry < LAMBDA_ASYNC_RETRIES {
                    w.counters.invocation_retries += 1;
                    let at = w.now + Duration::minutes(1 + i64::from(delivery.retry));
                    w.schedule(delivery.event, at, delivery.retry + 1);
                } else {
                    w.counters.events_dead_lettered += 1;
                    w.dead_letters.push(delivery.event);
                }
            }
        }
    }

    pub fn summary(&self) -> Summary {
        let w = self.sim.world();
        // Copies by (source recovery point, destination vault).
        let mut copies: BTreeMap<(String, VaultArn), String> = BTreeMap::new();
        for rp in w.recovery_points.values() {
            if let Some(src) = &rp.source {
                copies.insert((src.clone(), rp.vault.clone()), rp.arn.clone());
            }
        }
        let mut chains_total = 0;
        let mut chains_complete = 0;
        let mut hops_required = 0;
        let mut hops_complete = 0;
        let mut backups = 0;
        let mut incomplete = Vec::new();
        for rp in w.recovery_points.values().filter(|rp| rp.source.is_none()) {
            backups += 1;
            let Some(vault) = self.policy.vault_by_arn(&rp.vault) else {
                continue;
            };
            let tags = w
                .tables
                .iter()
                .find(|t| t.arn.to_string() == rp.resource_arn)
                .map(|t| t.tags.clone())
                .unwrap_or_default();
            // Walk the chain from the original: every selected route out of every vault it reaches.
            let mut frontier = vec![(vault.alias.clone(), Some(rp.arn.clone()))];
            let mut required = 0;
            let mut complete = 0;
            let mut first_missing = None;
            while let Some((alias, at)) = frontier.pop() {
                for route in self.policy.routes_from(&alias) {
                    if !route.select.matches(Some("DynamoDB"), &tags) {
                        continue;
                    }
                    required += 1;
                    let dest = self.policy.vault(&route.to).map(|v| v.arn.clone());
                    let copy = match (&at, dest) {
                        (Some(src), Some(dest)) => copies.get(&(src.clone(), dest)).cloned(),
                        _ => None,
                    };
                    if copy.is_some() {
                        complete += 1;
                    } else if first_missing.is_none() {
                        first_missing = Some(route.name());
                    }
                    frontier.push((route.to.clone(), copy));
                }
            }
            if required > 0 {
                chains_total += 1;
                hops_required += required;
                hops_complete += complete;
                match first_missing {
                    None => chains_complete += 1,
                    Some(route) => incomplete.push((rp.arn.clone(), route)),
                }
            }
        }
        // Jobs per hop that did not fail: more than one is a duplicate copy.
        let mut per_hop: BTreeMap<(String, VaultArn), u64> = BTreeMap::new();
        for job in w
            .jobs
            .iter()
            .filter(|j| j.state != crate::world::JobState::Failed)
        {
            *per_hop
                .entry((job.source_rp.clone(), job.dest_vault.clone()))
                .or_default() += 1;
        }
        let duplicate_copy_jobs = per_hop.values().map(|n| n.saturating_sub(1)).sum();

        let never_vaults: BTreeSet<&VaultArn> = self
            .policy
            .vaults
            .iter()
            .filter(|v| matches!(v.retention, Some(Retention::NeverExpire { .. })))
            .map(|v| &v.arn)
            .collect();
        let mut never_expire_copies = 0;
        let mut never_expire_violations = 0;
        let mut by_lock = 0;
        for rp in w
            .recovery_points
            .values()
            .filter(|rp| never_vaults.contains(&rp.vault))
        {
            never_expire_copies += 1;
            let wanted = rp.creation_date + Duration::days(i64::from(NEVER_EXPIRE_DAYS));
            if rp.delete_at.is_some_and(|d| d < wanted) {
                never_expire_violations += 1;
                let locked_below = w
                    .vaults
                    .get(&rp.vault)
                    .and_then(|v| v.lock)
                    .and_then(|l| l.max_retention_days)
                    .is_some_and(|m| m < NEVER_EXPIRE_DAYS);
                if locked_below {
                    by_lock += 1;
                }
            }
        }
        let c = &w.counters;
        Summary {
            days: self.options.days,
            tables: self.options.tables,
            seed: self.options.seed,
            backups,
            chains_total,
            chains_complete,
            hops_required,
            hops_complete,
            copy_jobs_started: c.copy_jobs_started,
            duplicate_copy_jobs,
            copy_failures: c.copy_failures,
            retries: self.retries,
            events_emitted: c.events_emitted,
            events_delivered: c.events_delivered,
            events_duplicated: c.events_duplicated,
            events_lost: c.events_lost,
            invocation_errors: c.invocation_errors,
            events_dead_lettered: c.events_dead_lettered,
            calls_throttled: c.calls_throttled,
            alerts: w.alerts.len() as u64,
            lock_adjustments: self.lock_adjustments,
            never_expire_copies,
            never_expire_violations,
            never_expire_violations_by_lock: by_lock,
            incomplete,
        }
    }
}

fn start_of_day(t: DateTime<Utc>) -> DateTime<Utc> {
    t - Duration::seconds(i64::from(t.timestamp().rem_euclid(86_400) as u32))
}

impl Summary {
    /// The human-readable report of `relay simulate`.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let line = |s: &mut String, text: String| {
            s.push_str(&text);
            s.push('\n');
        };
        line(
            &mut s,
            format!(
                "Simulated {} days, {} tables per root vault, seed {}.",
                self.days, self.tables, self.seed
            ),
        );
        line(
            &mut s,
            format!(
                "Backups made: {}; chains to build: {}.",
                self.backups, self.chains_total
            ),
        );
        line(
            &mut s,
            format!(
                "Chains complete: {} of {} ({} of {} hops).",
                self.chains_complete, self.chains_total, self.hops_complete, self.hops_required
            ),
        );
        line(
            &mut s,
            format!(
                "Copy jobs started: {}; duplicate copy jobs: {}; copy failures: {}; retries: {}.",
                self.copy_jobs_started, self.duplicate_copy_jobs, self.copy_failures, self.retries
            ),
        );
        line(&mut s, format!("Events: {} emitted, {} delivered, {} duplicated, {} lost, {} dead-lettered after Lambda's retries.", self.events_emitted, self.events_delivered, self.events_duplicated, self.events_lost, self.events_dead_lettered));
        line(&mut s, format!("Invocation errors (retried by Lambda): {}; throttled calls: {}; alerts: {}; lock adjustments: {}.", self.invocation_errors, self.calls_throttled, self.alerts, self.lock_adjustments));
        line(
            &mut s,
            format!(
                "Never-expire copies: {}; violations: {} ({} forced by a vault lock).",
                self.never_expire_copies,
                self.never_expire_violations,
                self.never_expire_violations_by_lock
            ),
        );
        if self.chains_complete == self.chains_total {
            line(&mut s, "Result: every chain is complete.".to_string());
        } else {
            line(
                &mut s,
                format!(
                    "Result: {} chain(s) incomplete{}.",
                    self.chains_total - self.chains_complete,
                    if self.events_lost > 0 {
                        " (events were lost; the reconciler that repairs them is not built yet)"
                    } else {
                        ""
                    }
                ),
            );
            for (rp, route) in self.incomplete.iter().take(5) {
                line(&mut s, format!("  missing {route} for {rp}"));
            }
        }
        s
    }
}
