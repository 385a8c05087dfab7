//! What the vaults hold over time, and points leaving them on their delete date as AWS Backup
//! deletes them (a vault lock does not keep a point past its own delete date).
//!
//! Read off the vaults as they change, never from a model's arithmetic: each COMPLETED point adds
//! its table's size (GB) to its vault's warm tier when it lands, moves it to the cold tier when its
//! lifecycle moves it, and takes it away when it is deleted. `held_gb_hours` integrates that over
//! any span of time. A PARTIAL point (what a failed copy left) is not counted: its size is unknown.

use super::*;

/// A point deleted later than this after it lands never expires within a run (the simulator runs
/// at most 3650 days): its expiry is not scheduled, so a bunker of a million 100-year points costs
/// no memory for it.
const EXPIRY_HORIZON_DAYS: i64 = 3700;

/// Warm or cold storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Warm,
    Cold,
}

#[derive(Debug, Default)]
pub struct Held {
    /// Per vault and tier: GB gained (+) or lost (-) at each second (Unix time).
    changes: BTreeMap<(VaultArn, Tier), BTreeMap<i64, i64>>,
    /// When points are due to be deleted: (delete date, sequence) -> point (a lifecycle changed
    /// later schedules again; a stale entry is checked against the point when due).
    expiry_due: BTreeMap<(DateTime<Utc>, u64), String>,
    /// Points deleted on their delete date: what the vaults held, for the summary's chains.
    pub expired: BTreeMap<String, SimRecoveryPoint>,
}

impl World {
    /// A point's table size in GB, if the point counts (COMPLETED, of a known table).
    fn held_size(&self, rp: &SimRecoveryPoint) -> Option<i64> {
        (rp.status == "COMPLETED")
            .then(|| self.table(&rp.resource_arn))
            .flatten()
            .map(|t| i64::from(t.size_gb))
    }

    fn held_change(&mut self, vault: &VaultArn, tier: Tier, at: DateTime<Utc>, gb: i64) {
        *self
            .held
            .changes
            .entry((vault.clone(), tier))
            .or_default()
            .entry(at.timestamp())
            .or_default() += gb;
    }

    /// A point landed in its vault (warm).
    pub(super) fn held_gained(&mut self, rp: &SimRecoveryPoint) {
        if let Some(gb) = self.held_size(rp) {
            self.held_change(&rp.vault, Tier::Warm, rp.completed_at, gb);
        }
    }

    /// A point moved to the cold tier at `at`.
    pub(super) fn held_moved_cold(&mut self, arn: &str, at: DateTime<Utc>) {
        let Some(rp) = self.recovery_points.get(arn) else {
            return;
        };
        if let Some(gb) = self.held_size(rp) {
            let vault = rp.vault.clone();
            self.held_change(&vault, Tier::Warm, at, -gb);
            self.held_change(&vault, Tier::Cold, at, gb);
        }
    }

    /// A point left its vault at `at` (already out of `recovery_points`).
    pub(super) fn held_lost(&mut self, rp: &SimRecoveryPoint, at: DateTime<Utc>) {
        let tier = if self.cold_points.remove(&rp.arn) {
            Tier::Cold
        } else {
            Tier::Warm
        };
        if let Some(gb) = self.held_size(rp) {
            self.held_change(&rp.vault, tier, at, -gb);
        }
    }

    /// When the point's lifecycle deletes it, it is due then (within the horizon).
    pub(super) fn schedule_expiry(&mut self, rp: &SimRecoveryPoint) {
        let Some(at) = rp.delete_at else {
            return;
        };
        let horizon = self
            .now
            .checked_add_signed(Duration::days(EXPIRY_HORIZON_DAYS));
        if horizon.is_some_and(|h| at > h) {
            return;
        }
        self.seq += 1;
        self.held.expiry_due.insert((at, self.seq), rp.arn.clone());
    }

    /// AWS Backup deletes points on their delete date, locked vault or not.
    pub(super) fn expire_due_points(&mut self) {
        while let Some(entry) = self.held.expiry_due.first_entry() {
            if entry.key().0 > self.now {
                return;
            }
            let arn = entry.remove();
            let due = self
                .recovery_points
                .get(&arn)
                .and_then(|rp| rp.delete_at)
                .filter(|at| *at <= self.now);
            if let Some(at) = due {
                if let Some(rp) = self.remove_point_at(&arn, at) {
                    self.held.expired.insert(arn, rp);
                }
            }
        }
    }

    /// GB-hours each vault held in each tier within [from, to): every COMPLETED point's table
    /// size over the time it was in its vault, read off the vaults as they changed.
    pub fn held_gb_hours(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> BTreeMap<(VaultArn, Tier), f64> {
        let (from, to) = (from.timestamp(), to.timestamp());
        self.held
            .changes
            .iter()
            .map(|(key, changes)| {
                let (mut level, mut at, mut gb_seconds) = (0i128, from, 0i128);
                for (&t, &gb) in changes.range(..to) {
                    if t > at {
                        gb_seconds += level * i128::from(t - at);
                        at = t;
                    }
                    level += i128::from(gb);
                }
                gb_seconds += level * i128::from((to - at).max(0));
                (key.clone(), gb_seconds as f64 / 3600.0)
            })
            .collect()
    }
}
