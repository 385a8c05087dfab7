//! The simulated AWS Backup going on after a run, for `relay emulate`: its backup plans keep
//! backing up and its copy jobs keep finishing as the clock moves, and what the functions would
//! receive is handed out to be delivered elsewhere (the real functions) instead of in-process.

use chrono::{DateTime, Duration, Utc};

use crate::scenario::{BackupQueue, Simulation};
use crate::world::Delivery;

/// The backup plans' schedule from where a run left it (and Organizations' answers after it).
pub struct Running {
    backups: BackupQueue,
    /// Plans make no backup from this time on (`None`: they go on).
    backups_until: Option<DateTime<Utc>>,
}

impl Running {
    /// Plans stop backing up at `until` (the in-flight copies and their events go on).
    pub fn backups_until(mut self, until: DateTime<Utc>) -> Self {
        self.backups_until = Some(until);
        self
    }
}

impl Simulation {
    /// The schedule from `from` on (the history's end when that is later): the backups before
    /// it are not made (the history made its own; a gap between its end and `from` stays empty).
    pub fn keep_running(&self, from: DateTime<Utc>) -> Running {
        let now = {
            let mut w = self.sim.world();
            w.now = w.now.max(from);
            w.now
        };
        let mut backups = self.backup_queue();
        while let Some(((at, _), (table, plan, duration))) = backups.pop_due(now) {
            let every = self.plan_every(plan);
            backups.push(at + every, (table, plan, duration));
        }
        Running {
            backups,
            backups_until: None,
        }
    }

    /// The account of a caller whose credentials name none: the policy's first.
    pub fn default_account(&self) -> String {
        self.policy
            .vaults
            .first()
            .map(|v| v.arn.account.clone())
            .unwrap_or_else(|| "123456789012".to_string())
    }

    /// Whole simulated days since the run's start (a world's `joins` and `leaves` count them).
    fn day_of(&self, t: DateTime<Utc>) -> u32 {
        u32::try_from((t - self.options.start).num_days()).unwrap_or(u32::MAX)
    }

    /// The simulated clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.sim.world().now
    }

    /// Move the clock to `t` (never back): Organizations is read again as each day begins (an
    /// account that joins gets its spoke and plan, one that leaves its copies stopped, as in a
    /// run), backups complete, copy jobs advance, and the events due by then are returned for
    /// delivery.
    pub async fn advance(&mut self, running: &mut Running, t: DateTime<Utc>) -> Vec<Delivery> {
        let now = self.sim.world().now;
        let mut minute = now;
        let mut due = Vec::new();
        // Minute by minute, as a run does: a job or backup never skips its own steps.
        while minute < t {
            let day_before = self.day_of(minute);
            minute = (minute + Duration::minutes(1)).min(t);
            self.sim.world().now = minute;
            let day = self.day_of(minute);
            if day > day_before {
                self.refresh_members(day, &mut running.backups).await;
            }
            if running.backups_until.is_none_or(|until| minute < until) {
                self.run_backups(minute, &mut running.backups);
            }
            let mut w = self.sim.world();
            w.step_jobs();
            w.step_lifecycles();
            w.step_restores();
            due.extend(w.take_due());
        }
        due
    }
}
