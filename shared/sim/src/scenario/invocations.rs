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
    /// The end of the last run of the pass still open (`started` is its start).
    open_until: Option<DateTime<Utc>>,
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
            // A pass given up for a fresh one still ran as long as it ran.
            self.longest_minutes = self.longest_minutes_with_open();
            self.started = Some(at);
            self.open_until = None;
        }
        let end = chrono::Duration::from_std(took)
            .ok()
            .and_then(|t| at.checked_add_signed(t))
            .unwrap_or(at);
        if complete {
            let start = self.started.take().unwrap_or(at);
            self.open_until = None;
            self.longest_minutes = self.longest_minutes.max(minutes_between(start, end));
            self.complete += 1;
        } else {
            self.open_until = Some(end);
        }
    }

    /// The longest pass, counting one still open at the end of the run as at least as long as it
    /// has gone on: a pass that never finishes is the longest of all, not left out.
    pub fn longest_minutes_with_open(&self) -> f64 {
        let open = self
            .started
            .zip(self.open_until)
            .map_or(0.0, |(start, end)| minutes_between(start, end));
        self.longest_minutes.max(open)
    }
}

fn minutes_between(start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
    (end - start).num_milliseconds() as f64 / 60_000.0
}
