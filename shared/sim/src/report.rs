//! The compliance report of a simulated organisation, read through the same inventory and
//! evaluation as the compliance-report function reads real AWS: in one run, or in pieces as the
//! hub's state machine runs it (each piece an invocation, timed by the scale model).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration as Elapsed;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use relay_compliance::pieces::{self, PartStore, PieceRef};
use relay_compliance::store::{ReportFile, PART_BYTES};
use relay_compliance::tables::MergedReport;
use relay_compliance::{self as compliance, inventory, render, Report};
use relay_core::ports::PortResult;

use crate::world::rates::RateFloor;
use crate::world::{latency::latency, Sim};
use crate::Simulation;

/// Account-Regions inventoried at once.
const CONCURRENCY: usize = 8;
/// The compliance-report function's timeout in infra/template.yaml.
pub const REPORT_TIMEOUT: Elapsed = Elapsed::from_secs(900);
/// The compliance-report function's MemorySize in infra/template.yaml (`ReportMemorySize`'s
/// default), in bytes.
pub const REPORT_MEMORY: usize = 2048 << 20;

/// How a report run in pieces went, in the scale model.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReportRun {
    pub pieces: usize,
    pub invocations: u64,
    pub longest_invocation_seconds: f64,
    pub invocations_over_deadline: u64,
    /// From the start's invocation to the merge's end, the pieces laid out on `concurrency`
    /// workers as the state machine's maps run them.
    pub minutes: f64,
    /// Each phase's share of `minutes`: the two maps, and the merge's one invocation.
    pub inventory_minutes: f64,
    pub evaluation_minutes: f64,
    pub merge_minutes: f64,
    /// ListRecoveryPointsByBackupVault pages read, and the fewest that list every vault once.
    pub list_pages: u64,
    pub list_pages_floor: u64,
    /// Recovery points the largest evaluation piece held.
    pub largest_piece_points: usize,
    /// Pieces that failed for good (their account and Region is a gap in the report).
    pub failures: usize,
    pub part_bytes: usize,
    /// The parts the largest evaluation piece read (its tables' points), and those the merge read
    /// (every table's verdict and evidence): what each parses, the least it holds in memory.
    pub largest_piece_read_bytes: usize,
    pub merge_read_bytes: usize,
    /// The least time each map's calls take at AWS's published request rates, and the quota
    /// that binds it (`world::rates`): the pieces' own timing does not pace calls into one
    /// account, so a map's `minutes` can be less than AWS would allow.
    pub inventory_rate_floor: Option<RateFloor>,
    pub evaluation_rate_floor: Option<RateFloor>,
    /// `minutes` with each map lasting at least its rate floor.
    pub minutes_at_quotas: f64,
    /// The most heap an invocation held above what it started with, where the caller measures
    /// heap ([`HeapMeter`]): the largest inventory piece, the largest evaluation piece, and the
    /// merge (the parts merged, then each of the report's files rendered in turn, as the
    /// function writes them). What the simulated AWS allocates for its answers counts, as the
    /// SDK's would.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory_heap_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation_heap_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge_heap_bytes: Option<usize>,
    /// Invocations whose heap passed the function's memory (counted where heap is measured):
    /// on AWS, each would end out of memory.
    pub invocations_over_memory: u64,
}

/// A process's heap, as its counting allocator sees it: `reset` starts a measure, `peak` is the
/// most held above the start since. The CLI installs one; tests have none.
#[derive(Debug, Clone, Copy)]
pub struct HeapMeter {
    pub reset: fn(),
    pub peak: fn() -> usize,
}

impl ReportRun {
    /// The minutes of the run and of each phase, from when the start, the inventory map and the
    /// evaluation map ended, and the merge's time; and with each map held to its rate floor.
    fn time_phases(&mut self, [started, inventoried, mapped]: [Elapsed; 3], merge: Elapsed) {
        let minutes = |d: Elapsed| d.as_secs_f64() / 60.0;
        self.minutes = minutes(mapped + merge);
        self.inventory_minutes = minutes(inventoried.saturating_sub(started));
        self.evaluation_minutes = minutes(mapped.saturating_sub(inventoried));
        self.merge_minutes = minutes(merge);
        let at_least = |phase: f64, floor: &Option<RateFloor>| {
            floor.as_ref().map_or(phase, |f| phase.max(f.minutes))
        };
        self.minutes_at_quotas = minutes(started)
            + at_least(self.inventory_minutes, &self.inventory_rate_floor)
            + at_least(self.evaluation_minutes, &self.evaluation_rate_floor)
            + self.merge_minutes;
    }
}

/// How the run is cut: pieces at once per map, points an inventory piece holds.
#[derive(Debug, Clone, Copy)]
pub struct PieceOptions {
    pub concurrency: usize,
    pub flush_points: usize,
    /// A vault above this many points is listed in creation-date ranges.
    pub range_points: u64,
    pub heap: Option<HeapMeter>,
}

impl Default for PieceOptions {
    fn default() -> Self {
        Self {
            concurrency: 10,
            flush_points: pieces::FLUSH_POINTS,
            range_points: inventory::listing::RANGE_POINTS,
            heap: None,
        }
    }
}

/// The parts' store, each call taking S3's time in the scale model; the bytes read counted (what
/// an invocation parses is the least it holds), and each key's last write (what the run keeps).
struct TimedParts<'a, S> {
    sim: &'a Sim,
    parts: &'a S,
    read: AtomicUsize,
    written: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

impl<S> TimedParts<'_, S> {
    fn spend(&self, operation: &str) {
        self.sim.world().spent += latency(operation);
    }

    fn written_bytes(&self) -> usize {
        let written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        written.values().sum()
    }

    /// Bytes read since the last call.
    fn take_read(&self) -> usize {
        self.read.swap(0, Ordering::Relaxed)
    }
}

impl<S: PartStore> PartStore for TimedParts<'_, S> {
    async fn get_part(&self, key: &str) -> PortResult<Option<String>> {
        self.spend("GetObject");
        let body = self.parts.get_part(key).await?;
        let bytes = body.as_ref().map_or(0, String::len);
        self.read.fetch_add(bytes, Ordering::Relaxed);
        Ok(body)
    }

    /// Reads in flight together: one GetObject's time for all of them.
    async fn get_parts<'a>(&'a self, keys: &'a [String]) -> Vec<PortResult<Option<String>>> {
        if !keys.is_empty() {
            self.spend("GetObject");
        }
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let body = self.parts.get_part(key).await;
            let bytes = body
                .as_ref()
                .ok()
                .and_then(Option::as_ref)
                .map_or(0, String::len);
            self.read.fetch_add(bytes, Ordering::Relaxed);
            out.push(body);
        }
        out
    }

    async fn put_part(&self, key: &str, body: &str) -> PortResult<()> {
        self.spend("PutObject");
        self.parts.put_part(key, body).await?;
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        written.insert(key.to_string(), body.len());
        Ok(())
    }

    async fn list_parts(&self, prefix: &str) -> PortResult<Vec<String>> {
        self.spend("ListObjectsV2");
        self.parts.list_parts(prefix).await
    }
}

/// What the merge's publication holds beside the merged report (its frame and verdicts, its
/// tables on local disk), for the merge's heap to count it: the findings it plans to import (a
/// first run's: every site in full, as far as the run's budget goes), the verdicts written, and
/// each rendering written in pieces as the function writes them (parts of `PART_BYTES` sent as
/// they fill), its tables read back a table at a time.
/// A spool that does not read back is an error of the run (the simulator's own disk), never a
/// smaller heap.
fn published_in_turn(report: &MergedReport) -> Result<(), String> {
    let tables = (report.tables(), report.verdicts.as_slice());
    let plan = compliance::findings::plan::plan_in(
        &report.frame,
        tables,
        None,
        compliance::findings::plan::Budget::default(),
    )
    .map_err(|e| e.to_string())?;
    let verdicts = compliance::Verdicts::new(report.frame.generated_at, report.verdicts.clone());
    for chunks in ReportFile::ALL
        .map(|f| render::merged_chunks(report, f))
        .into_iter()
        .flatten()
    {
        let mut part = String::new();
        for chunk in chunks {
            part.push_str(&chunk.map_err(|e| e.to_string())?);
            if part.len() >= PART_BYTES {
                part.clear();
            }
        }
    }
    drop((plan, verdicts));
    Ok(())
}

/// Invocations laid out on `workers` free from `from`: when the last one ends.
fn makespan(from: Elapsed, took: &[Elapsed], workers: usize) -> Elapsed {
    let mut free: BinaryHeap<Reverse<Elapsed>> =
        (0..workers.max(1)).map(|_| Reverse(from)).collect();
    let mut end = from;
    for t in took {
        let Reverse(at) = free.pop().unwrap_or(Reverse(from));
        end = end.max(at + *t);
        free.push(Reverse(at + *t));
    }
    end
}

impl Simulation {
    /// The report of the world as the run left it, as of the end of the last day of backups: the
    /// run goes on past it only to let the last copies land (no backups are made then, so a later
    /// date would find every table's newest backup late). Throttling is turned off first: it is
    /// the copy machinery's fault to survive, and the function's SDK clients retry it themselves.
    pub async fn compliance_report(&self, policy_digest: &str) -> Report {
        let now = self.report_time();
        let inv =
            inventory::take_inventory(&self.sim, &self.sim, &self.policy, CONCURRENCY, now).await;
        compliance::evaluate(&self.policy, &inv, now, policy_digest)
    }

    fn report_time(&self) -> DateTime<Utc> {
        let end_of_backups = self.options.start + Duration::days(i64::from(self.options.days));
        let mut w = self.sim.world();
        w.faults.throttle = 0.0;
        w.now.min(end_of_backups)
    }

    /// The same report, in pieces as the hub's state machine runs it: start, a map of inventory
    /// pieces, a map of evaluation pieces, the merge; each an invocation of the function.
    pub async fn compliance_report_in_pieces(
        &self,
        policy_digest: &str,
        parts: &impl PartStore,
        options: PieceOptions,
    ) -> (Report, ReportRun) {
        let now = self.report_time();
        let store = TimedParts {
            sim: &self.sim,
            parts,
            read: AtomicUsize::new(0),
            written: Default::default(),
        };
        let pages_before = self.list_pages();
        let mut run = ReportRun::default();
        let start = pieces::start(&self.policy, &self.sim, &store, now);
        let (started, t0, _) = self.timed(&mut run, None, start).await;
        let Ok(started) = started else {
            return (
                compliance::evaluate(&self.policy, &Default::default(), now, policy_digest),
                run,
            );
        };
        let list: Vec<PieceRef> = parts
            .get_part(&started.pieces_key)
            .await
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_str(&b).ok())
            .unwrap_or_default();
        run.pieces = list.len();
        self.take_rate_tally();
        let took = self.inventory_map(&mut run, &store, &list, options).await;
        let inventoried = makespan(t0, &took, options.concurrency);
        run.inventory_rate_floor = self.take_rate_tally();
        let mut took = Vec::new();
        for piece in &list {
            let phase =
                pieces::evaluate_piece(&self.sim, &self.policy, &store, piece, policy_digest);
            store.take_read();
            let (r, t, heap) = self.timed(&mut run, options.heap, phase).await;
            run.evaluation_heap_bytes = run.evaluation_heap_bytes.max(heap);
            match r {
                Ok(done) => run.largest_piece_points = run.largest_piece_points.max(done.points),
                Err(_) => run.failures += 1,
            }
            run.largest_piece_read_bytes = run.largest_piece_read_bytes.max(store.take_read());
            took.push(t);
        }
        let mapped = makespan(inventoried, &took, options.concurrency);
        run.evaluation_rate_floor = self.take_rate_tally();
        let merge = async {
            let report = pieces::merge(&self.policy, &store, &started.run, policy_digest)
                .await
                .map_err(|e| e.to_string())?;
            published_in_turn(&report)?;
            Ok::<_, String>(report)
        };
        store.take_read();
        let (report, t, heap) = self.timed(&mut run, options.heap, merge).await;
        run.merge_heap_bytes = heap;
        run.merge_read_bytes = store.take_read();
        run.time_phases([t0, inventoried, mapped], t);
        run.list_pages = self.list_pages() - pages_before;
        let at: Vec<_> = list.iter().map(PieceRef::location).collect();
        run.list_pages_floor = self.sim.world().list_floor(&at);
        run.part_bytes = store.written_bytes();
        // Read whole only now, past the merge's measured heap: the caller compares it. A merge
        // that failed, or a spool that does not read back, is a failure of the run.
        let report = report
            .and_then(|r| r.load().map_err(|e| e.to_string()))
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the report's merge failed");
                run.failures += 1;
                compliance::evaluate(&self.policy, &Default::default(), now, policy_digest)
            });
        (report, run)
    }

    /// Each inventory piece, an invocation: how long each took.
    async fn inventory_map<S: PartStore>(
        &self,
        run: &mut ReportRun,
        store: &TimedParts<'_, S>,
        list: &[PieceRef],
        options: PieceOptions,
    ) -> Vec<Elapsed> {
        let limits = pieces::Limits {
            flush_points: options.flush_points,
            range_points: options.range_points,
        };
        let mut took = Vec::with_capacity(list.len());
        for piece in list {
            let phase = pieces::inventory_piece(&self.sim, store, piece, limits);
            let (r, t, heap) = self.timed(run, options.heap, phase).await;
            run.inventory_heap_bytes = run.inventory_heap_bytes.max(heap);
            run.failures += usize::from(r.is_err());
            took.push(t);
        }
        took
    }

    /// One invocation: its sessions anew, its time from the calls it makes, and the most heap it
    /// held when `heap` measures it.
    async fn timed<T>(
        &self,
        run: &mut ReportRun,
        heap: Option<HeapMeter>,
        call: impl std::future::Future<Output = T>,
    ) -> (T, Elapsed, Option<usize>) {
        let started = {
            let mut w = self.sim.world();
            w.sessions.clear();
            w.spent
        };
        if let Some(h) = heap {
            (h.reset)();
        }
        let out = call.await;
        let held = heap.map(|h| (h.peak)());
        run.invocations_over_memory += u64::from(held.is_some_and(|b| b > REPORT_MEMORY));
        let took = self.sim.world().spent.saturating_sub(started);
        run.invocations += 1;
        run.longest_invocation_seconds = run.longest_invocation_seconds.max(took.as_secs_f64());
        run.invocations_over_deadline += u64::from(took > REPORT_TIMEOUT);
        (out, took, held)
    }

    /// The calls tallied since the last take, as their rate floor; the tally starts again.
    fn take_rate_tally(&self) -> Option<RateFloor> {
        std::mem::take(&mut self.sim.world().rate_tally).floor()
    }

    fn list_pages(&self) -> u64 {
        self.sim
            .world()
            .counters
            .calls_by_operation
            .get("ListRecoveryPointsByBackupVault")
            .copied()
            .unwrap_or(0)
    }
}
