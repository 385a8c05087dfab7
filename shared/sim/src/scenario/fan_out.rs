//! The reconciler as the hub deploys it for an organisation: the schedule's invocation
//! coordinates, then one invocation per piece (an SQS message each) through an event source
//! mapping of at most `concurrency` at once. Pieces run one after another here, but their time is
//! laid out as Lambda would run them: each goes to the first worker free, so a pass lasts from the
//! coordinator's start to the end of its last piece. A piece cut by its deadline sends its own
//! continuation; one that fails is received again up to three times, then goes to the dead-letter
//! queue (whose alarm is one alert).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration as Elapsed;

use relay_chain::reconcile::Piece;

use super::*;

/// SQS receives a failing message this often, then moves it to the dead-letter queue.
const MAX_RECEIVES: u32 = 3;
/// Continuations one piece may send within one scheduled pass (then the next schedule resumes
/// it from its cursor).
const MAX_CONTINUATIONS: u32 = 20;

impl Simulation {
    /// One scheduled reconciliation, fanned out over `concurrency` workers.
    pub(super) async fn reconcile_fanned_out(&mut self, concurrency: usize) {
        self.reconciler_runs += 1;
        // The calls since the last run are the router's: this run's tally starts here.
        std::mem::take(&mut self.sim.world().rate_tally);
        let started = self.begin_invocation();
        let coordinated =
            reconcile::coordinate(&self.sim, &self.policy, &self.options.reconcile).await;
        let coordinator = self.end_invocation(started, RECONCILER_TIMEOUT);
        let pieces = match coordinated {
            Ok(c) => c.pieces,
            Err(_) => {
                // Retried by Lambda at the next schedule: pieces keep their cursors.
                self.sim.world().counters.invocation_errors += 1;
                return;
            }
        };
        let mut workers: BinaryHeap<Reverse<Elapsed>> = (0..concurrency.max(1))
            .map(|_| Reverse(coordinator))
            .collect();
        let mut queue: VecDeque<(Piece, u32, u32)> =
            pieces.into_iter().map(|p| (p, 0, 0)).collect();
        let (mut last_end, mut all_complete) = (coordinator, true);
        while let Some((piece, receives, continuations)) = queue.pop_front() {
            let Reverse(free_at) = workers.pop().unwrap_or(Reverse(coordinator));
            let (outcome, took) = self.run_piece(&piece).await;
            let end = free_at + took;
            workers.push(Reverse(end));
            last_end = last_end.max(end);
            match outcome {
                Some(true) => {}
                Some(false) if continuations < MAX_CONTINUATIONS => {
                    queue.push_back((piece, 0, continuations + 1))
                }
                Some(false) => all_complete = false,
                None if receives + 1 < MAX_RECEIVES => {
                    self.sim.world().counters.invocation_retries += 1;
                    queue.push_back((piece, receives + 1, continuations));
                }
                None => {
                    all_complete = false;
                    let mut w = self.sim.world();
                    w.counters.reconciler_runs_dead_lettered += 1;
                    w.dead_letter_alarm("reconciler-pieces-failed", true);
                }
            }
        }
        let (at, tally) = {
            let mut w = self.sim.world();
            (w.now, std::mem::take(&mut w.rate_tally))
        };
        self.passes.rate_floor(tally.floor());
        // A pass left incomplete (a piece out of continuations) goes on at the next schedule.
        self.passes.run(at, last_end, true, all_complete);
    }

    /// One piece's invocation: `Some(pass complete)`, or `None` when it failed; and its time.
    async fn run_piece(&mut self, piece: &Piece) -> (Option<bool>, Elapsed) {
        let started = self.begin_invocation();
        let budget = RunBudget {
            deadline: Some(self.sim.world().instant() + RECONCILER_BUDGET),
            max_pages: self.options.reconcile_pages_per_run,
        };
        let config = &self.options.reconcile;
        let holder = format!("sim-invocation-{}", self.invocations.count);
        let run =
            reconcile::run_piece(&self.sim, &self.policy, piece, config, budget, &holder).await;
        let took = self.end_invocation(started, RECONCILER_TIMEOUT);
        match run {
            Ok(report) => {
                let complete = report.pass_complete;
                self.reconciler_pages += u64::from(report.pages);
                self.redriven += report.redriven;
                self.lock_adjustments += report.lock_adjustments;
                self.reconcile_reports.push(report);
                (Some(complete), took)
            }
            Err(_) => {
                self.sim.world().counters.invocation_errors += 1;
                (None, took)
            }
        }
    }
}
