//! Lambda's limits in the scale model: every function run is an invocation with the timeout its
//! template gives, measured in the time its calls take. A run past its timeout would have been
//! cut off by Lambda: counted, and it must stay 0 (work is cut into pieces that fit).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The timeouts of infra/template.yaml.
pub(super) const ROUTER_TIMEOUT: Duration = Duration::from_secs(60);
pub(super) const RECONCILER_TIMEOUT: Duration = Duration::from_secs(900);
/// A reconciler run stops at this (a minute before Lambda's cut), as the function does.
pub(super) const RECONCILER_BUDGET: Duration = Duration::from_secs(840);

#[derive(Debug, Clone, Default, Serialize)]
pub struct Invocations {
    pub count: u64,
    pub longest: Duration,
    pub over_deadline: u64,
}

impl Invocations {
    pub fn record(&mut self, took: Duration, timeout: Duration) {
        self.count += 1;
        self.longest = self.longest.max(took);
        self.over_deadline += u64::from(took > timeout);
    }
}

/// Reconciliation passes: from the run that starts one to the end of the run that finishes it.
#[derive(Debug, Clone, Default)]
pub struct Passes {
    started: Option<DateTime<Utc>>,
    pub longest_minutes: f64,
    pub complete: u64,
    /// The largest rate floor of one scheduled run (`world::rates`).
    pub rate_floor: Option<crate::world::rates::RateFloor>,
}

impl Passes {
    /// A scheduled run's calls at AWS's request rates: kept when the longest so far.
    pub fn rate_floor(&mut self, floor: Option<crate::world::rates::RateFloor>) {
        if let Some(f) = floor {
            if self
                .rate_floor
                .as_ref()
                .is_none_or(|l| f.minutes > l.minutes)
            {
                self.rate_floor = Some(f);
            }
        }
    }

    /// A run at `at` that took `took`: `resumed` (it went on with an earlier run's pass) and
    /// `complete` (it ended the pass) as its report says.
    pub fn run(&mut self, at: DateTime<Utc>, took: Duration, resumed: bool, complete: bool) {
        if !resumed || self.started.is_none() {
            self.started = Some(at);
        }
        if complete {
            let start = self.started.take().unwrap_or(at);
            let minutes = (at - start).num_seconds() as f64 / 60.0 + took.as_secs_f64() / 60.0;
            self.longest_minutes = self.longest_minutes.max(minutes);
            self.complete += 1;
        }
    }
}
