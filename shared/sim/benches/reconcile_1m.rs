//! One reconciler pass over vaults of 1,000,000 recovery points each, on the simulator.
//! Run: `cargo bench -p relay-sim --bench reconcile_1m`; the figures are recorded in
//! docs/benchmarks.md. A bench binary, not a timed test: nothing here passes or fails on time.
//!
//! The organisation is the example policy's. `central` and `dr` each hold 1,000,000 points, one
//! every 86 seconds over ~1000 days, `dr` holding a copy of every `central` point but one in a
//! hundred; `bunker` holds 1,000,000 points of which one in a hundred inherited a 35-day expiry.
// Helpers of a benchmark may unwrap and panic: a failure is meant to stop it there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use relay_chain::reconcile::{self, ReconcileConfig, RunBudget};
use relay_core::arn::VaultArn;
use relay_core::policy::Policy;
use relay_core::retention::{delete_at, Lifecycle, NEVER_EXPIRE_DAYS};
use relay_sim::world::SimRecoveryPoint;
use relay_sim::{Faults, Sim, World};

const POINTS: usize = 1_000_000;

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .map(|l| l.to_string())
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn point(
    vault: &VaultArn,
    n: usize,
    created: DateTime<Utc>,
    lifecycle: Lifecycle,
    delete: Option<DateTime<Utc>>,
) -> SimRecoveryPoint {
    SimRecoveryPoint {
        arn: format!(
            "arn:aws:backup:{}:{}:recovery-point:{}-{n:07}",
            vault.region, vault.account, vault.name
        ),
        vault: vault.clone(),
        resource_arn: format!(
            "arn:aws:dynamodb:us-east-1:111111111111:table/table-{:03}",
            n % 500
        ),
        creation_date: created,
        lifecycle,
        delete_at: delete,
        source: None,
        completed_at: created + Duration::hours(2),
        status: "COMPLETED",
        source_vault: None,
    }
}

fn main() {
    let policy =
        Policy::parse(include_str!("../../../infra/examples/policy.yaml")).expect("example policy");
    // 03:00 UTC: the run that re-checks every point of the never-expire vaults (the worst case).
    let now = DateTime::parse_from_rfc3339("2027-06-01T03:00:00Z")
        .expect("date")
        .with_timezone(&Utc);
    let vault = |alias: &str| policy.vault(alias).map(|v| v.arn.clone()).expect("vault");
    let (central, dr, bunker) = (vault("central"), vault("dr"), vault("bunker"));

    let rss_start = status_kib("VmRSS:");
    let build = Instant::now();
    let mut w = World::new(now, 1, Faults::none());
    for v in &policy.vaults {
        w.add_vault(v.arn.clone());
    }
    let days = |d: u32| Lifecycle {
        delete_after_days: Some(d),
        move_to_cold_storage_after_days: None,
    };
    for n in 0..POINTS {
        let created = now - Duration::seconds(86 * (n as i64 + 1));
        let c = point(
            &central,
            n,
            created,
            days(35),
            delete_at(created, &days(35)),
        );
        if n % 100 != 7 {
            w.insert_point(point(
                &dr,
                n,
                created,
                days(365),
                delete_at(created, &days(365)),
            ));
        }
        w.insert_point(c);
        let (lc, del) = if n % 100 == 3 {
            // A plan's "never" copy that inherited its source's 35 days.
            (Lifecycle::default(), delete_at(created, &days(35)))
        } else {
            (
                days(NEVER_EXPIRE_DAYS),
                delete_at(created, &days(NEVER_EXPIRE_DAYS)),
            )
        };
        w.insert_point(point(&bunker, n, created, lc, del));
    }
    let built_in = build.elapsed();
    let rss_world = status_kib("VmRSS:");
    let sim = Sim::new(w);

    let calls_before = sim.world().counters.api_calls;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let start = Instant::now();
    let report = runtime
        .block_on(reconcile::run(
            &sim,
            &policy,
            &ReconcileConfig::default(),
            RunBudget::default(),
        ))
        .expect("reconciler pass");
    let pass = start.elapsed();
    let w = sim.world();
    let hwm = status_kib("VmHWM:");

    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| recovery points in the simulated world | {} |",
        w.recovery_points.len()
    );
    println!("| world built in | {:.2} s |", built_in.as_secs_f64());
    println!(
        "| reconciler pass, wall time | {:.2} s |",
        pass.as_secs_f64()
    );
    println!(
        "| pages listed (ListRecoveryPointsByBackupVault) | {} |",
        report.pages
    );
    println!(
        "| API calls in the pass (all ports) | {} |",
        w.counters.api_calls - calls_before
    );
    println!("| points examined | {} |", report.points_scanned);
    println!(
        "| copies found missing / re-driven | {} / {} |",
        report.copies_missing, report.redriven
    );
    println!(
        "| never-expire lifecycles repaired | {} |",
        report.lifecycles_repaired
    );
    println!("| copy jobs started | {} |", w.counters.copy_jobs_started);
    println!("| pass complete | {} |", report.pass_complete);
    println!(
        "| RSS before the world / with the world | {} MiB / {} MiB |",
        rss_start / 1024,
        rss_world / 1024
    );
    println!("| peak RSS (VmHWM) after the pass | {} MiB |", hwm / 1024);
    println!(
        "| peak RSS the pass added over the world | {} MiB |",
        hwm.saturating_sub(rss_world) / 1024
    );
}
