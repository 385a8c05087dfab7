//! The compliance report of a simulated organisation, read through the same inventory and
//! evaluation as the compliance-report function reads real AWS.

use chrono::Duration;
use relay_compliance::{self as compliance, inventory, Report};

use crate::Simulation;

/// Account-Regions inventoried at once.
const CONCURRENCY: usize = 8;

impl Simulation {
    /// The report of the world as the run left it, as of the end of the last day of backups: the
    /// run goes on past it only to let the last copies land (no backups are made then, so a later
    /// date would find every table's newest backup late). Throttling is turned off first: it is
    /// the copy machinery's fault to survive, and the function's SDK clients retry it themselves.
    pub async fn compliance_report(&self, policy_digest: &str) -> Report {
        let end_of_backups = self.options.start + Duration::days(i64::from(self.options.days));
        let now = {
            let mut w = self.sim.world();
            w.faults.throttle = 0.0;
            w.now.min(end_of_backups)
        };
        let inv =
            inventory::take_inventory(&self.sim, &self.sim, &self.policy, CONCURRENCY, now).await;
        compliance::evaluate(&self.policy, &inv, now, policy_digest)
    }
}
