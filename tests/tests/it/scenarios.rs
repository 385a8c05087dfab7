//! Whole chains on the simulator: the real router over simulated days, with faults.

use chrono::Duration;
use relay_core::ledger::{HopKey, HopState};
use relay_core::plan::FailureClass;
use relay_core::policy::Policy;
use relay_core::retention::{VaultLock, NEVER_EXPIRE_DAYS};
use relay_sim::world::{ACCESS_DENIED_FAILURE, TRANSIENT_COPY_FAILURE};
use relay_sim::{Faults, SimOptions, Simulation, Summary};

const POLICY: &str = include_str!("../../../infra/examples/policy.yaml");

fn policy() -> Policy {
    Policy::parse(POLICY).unwrap()
}

use relay_tests::sim_options as options;

fn assert_all_complete(s: &Summary) {
    assert!(s.chains_total > 0);
    assert_eq!(s.chains_complete, s.chains_total, "{s:#?}");
    assert_eq!(s.hops_complete, s.hops_required);
    assert_eq!(s.duplicate_copy_jobs, 0);
}

#[tokio::test]
async fn three_hops_across_three_accounts_and_three_regions() {
    let p = policy();
    let accounts: std::collections::BTreeSet<_> =
        p.vaults.iter().map(|v| v.arn.account.clone()).collect();
    let regions: std::collections::BTreeSet<_> =
        p.vaults.iter().map(|v| v.arn.region.clone()).collect();
    assert_eq!((accounts.len(), regions.len()), (3, 3));

    let mut sim = Simulation::new(p, options(3, 4, 1, Faults::none()));
    let s = sim.run().await;
    assert_all_complete(&s);
    // 4 tables, 3 of them gold: 3 chains a day, 3 hops each, exactly one copy job per hop.
    assert_eq!(s.chains_total, 9);
    assert_eq!(s.hops_required, 27);
    assert_eq!(s.copy_jobs_started, 27);
    assert_eq!(s.never_expire_violations, 0);

    let w = sim.sim.world();
    let vault = |alias: &str| sim.policy.vault(alias).unwrap().arn.clone();
    for rp in w.recovery_points.values().filter(|rp| rp.source.is_some()) {
        // Copies keep the original's creation date; every delete date counts from it.
        let mut original = rp;
        while let Some(src) = &original.source {
            original = &w.recovery_points[src];
        }
        assert_eq!(rp.creation_date, original.creation_date);
        let days = if rp.vault == vault("central") {
            35
        } else if rp.vault == vault("dr") {
            assert_eq!(rp.lifecycle.move_to_cold_storage_after_days, Some(30));
            365
        } else {
            assert_eq!(rp.vault, vault("bunker"));
            i64::from(NEVER_EXPIRE_DAYS)
        };
        assert_eq!(rp.delete_at, Some(rp.creation_date + Duration::days(days)));
    }
    // Every hop is COMPLETED in the ledger.
    assert_eq!(w.ledger.len(), 27);
    assert!(w
        .ledger
        .values()
        .all(|r| r.state == HopState::Completed && r.attempt == 1));
}

#[tokio::test]
async fn every_event_delivered_three_times_and_shuffled_starts_one_copy_job_per_hop() {
    let faults = Faults {
        deliveries: 3,
        reorder_minutes: 120,
        ..Faults::none()
    };
    let mut sim = Simulation::new(policy(), options(4, 6, 2, faults));
    let s = sim.run().await;
    assert_all_complete(&s);
    assert_eq!(s.events_duplicated, 2 * s.events_emitted, "{s:#?}");
    assert_eq!(
        s.copy_jobs_started, s.hops_required,
        "exactly one copy job per hop"
    );
    assert!(sim
        .sim
        .world()
        .jobs
        .iter()
        .all(|j| j.state == relay_sim::world::JobState::Completed));
}

#[tokio::test]
async fn exactly_once_holds_across_seeds_under_heavy_faults() {
    for seed in 1..=8 {
        let faults = Faults {
            duplicate: 0.6,
            deliveries: 1,
            reorder_minutes: 180,
            copy_failure: 0.1,
            throttle: 0.01,
            lose: 0.0,
            ..Faults::none()
        };
        let mut sim = Simulation::new(policy(), options(3, 5, seed, faults));
        let s = sim.run().await;
        assert_eq!(s.duplicate_copy_jobs, 0, "seed {seed}: {s:#?}");
        // Every job that did not fail is the one successful copy of its hop.
        assert_eq!(
            s.copy_jobs_started - s.copy_failures,
            s.hops_complete,
            "seed {seed}"
        );
    }
}

#[tokio::test]
async fn a_copy_that_fails_then_succeeds_on_retry() {
    let mut sim = Simulation::new(policy(), options(1, 1, 3, Faults::none()));
    let dr = sim.vault_arn("dr").unwrap();
    sim.sim
        .world()
        .force_copy_failures(&dr, 1, TRANSIENT_COPY_FAILURE);
    let s = sim.run().await;
    assert_all_complete(&s);
    assert_eq!((s.copy_failures, s.retries, s.alerts), (1, 1, 0));
    assert_eq!(s.copy_jobs_started, 4, "3 hops + 1 retry");
    let w = sim.sim.world();
    let hop = w
        .ledger
        .values()
        .find(|r| r.route == "central->dr")
        .unwrap();
    assert_eq!((hop.state, hop.attempt), (HopState::Completed, 2));
    assert_eq!(
        hop.status_message.as_deref(),
        Some(TRANSIENT_COPY_FAILURE),
        "the failure stays on record"
    );
}

#[tokio::test]
async fn a_hop_that_keeps_failing_stops_after_max_attempts_with_one_alert() {
    let mut sim = Simulation::new(policy(), options(1, 1, 4, Faults::none()));
    let dr = sim.vault_arn("dr").unwrap();
    sim.sim
        .world()
        .force_copy_failures(&dr, 99, TRANSIENT_COPY_FAILURE);
    let s = sim.run().await;
    assert_eq!(s.chains_complete, 0);
    assert_eq!((s.copy_failures, s.retries, s.alerts), (3, 2, 1), "{s:#?}");
    let w = sim.sim.world();
    assert!(
        w.alerts[0].subject.contains("gave up after 3 attempts"),
        "{}",
        w.alerts[0].subject
    );
}

#[tokio::test]
async fn access_denied_on_the_destination_is_one_alert_and_no_retry() {
    let mut sim = Simulation::new(
        policy(),
        options(
            2,
            2,
            5,
            Faults {
                deliveries: 2,
                ..Faults::none()
            },
        ),
    );
    let bunker = sim.vault_arn("bunker").unwrap();
    sim.sim.world().deny_copies_from(&bunker, "222222222222");
    let s = sim.run().await;
    // 2 tables, both gold (every fourth table is not), 2 days: 4 chains, each stopped at dr -> bunker.
    assert_eq!((s.chains_total, s.chains_complete), (4, 0));
    assert_eq!((s.copy_failures, s.retries, s.alerts), (4, 0, 1), "{s:#?}");
    let w = sim.sim.world();
    for alert in &w.alerts {
        assert!(alert.message.contains(ACCESS_DENIED_FAILURE));
        assert!(
            alert.message.contains("backup:CopyIntoBackupVault"),
            "likely fix: {}",
            alert.message
        );
    }
    let failed: Vec<_> = w
        .ledger
        .values()
        .filter(|r| r.route == "dr->bunker")
        .collect();
    assert_eq!(failed.len(), 4);
    assert!(
        failed
            .iter()
            .all(|r| r.state == HopState::Failed
                && r.failure_class == Some(FailureClass::NeedsPerson))
    );
}

#[tokio::test]
async fn a_bunker_locked_at_3650_days_is_clamped_and_reported() {
    let mut sim = Simulation::new(policy(), options(2, 2, 6, Faults::none()));
    let bunker = sim.vault_arn("bunker").unwrap();
    sim.sim.world().vault_mut(&bunker).unwrap().lock = Some(VaultLock {
        min_retention_days: Some(1),
        max_retention_days: Some(3650),
    });
    let s = sim.run().await;
    assert_all_complete(&s);
    assert_eq!(s.lock_adjustments, 4);
    // Clamped copies are violations of "never expire", all of them forced by the lock.
    assert_eq!(
        (
            s.never_expire_copies,
            s.never_expire_violations,
            s.never_expire_violations_by_lock
        ),
        (4, 4, 4)
    );
    let w = sim.sim.world();
    for rp in w.recovery_points.values().filter(|rp| rp.vault == bunker) {
        assert_eq!(rp.lifecycle.delete_after_days, Some(3650));
    }
}

#[tokio::test]
async fn a_bunker_locked_at_3650_days_with_skip_is_not_copied_and_alerts_once() {
    let text = POLICY.replace("on_lock_conflict: clamp", "on_lock_conflict: skip");
    let mut sim = Simulation::new(
        Policy::parse(&text).unwrap(),
        options(
            2,
            2,
            7,
            Faults {
                deliveries: 3,
                ..Faults::none()
            },
        ),
    );
    let bunker = sim.vault_arn("bunker").unwrap();
    sim.sim.world().vault_mut(&bunker).unwrap().lock = Some(VaultLock {
        min_retention_days: None,
        max_retention_days: Some(3650),
    });
    let s = sim.run().await;
    assert_eq!((s.chains_total, s.chains_complete), (4, 0));
    assert_eq!(
        s.hops_complete, 8,
        "primary->central and central->dr still happen"
    );
    // Four hops skipped, into one vault, for one cause: one alert, despite three deliveries.
    assert_eq!(s.alerts, 1);
    assert_eq!(s.chains_incomplete_unalerted, 0);
    assert_eq!(s.never_expire_copies, 0);
    let w = sim.sim.world();
    assert!(
        w.jobs.iter().all(|j| j.dest_vault != bunker),
        "nothing shortened: nothing copied"
    );
    assert_eq!(
        w.ledger
            .values()
            .filter(|r| r.state == HopState::Skipped)
            .count(),
        4
    );
}

#[tokio::test]
async fn without_the_reconciler_lost_events_leave_chains_incomplete_and_the_summary_says_so() {
    let faults = Faults {
        lose: 0.3,
        ..Faults::none()
    };
    let mut o = options(3, 4, 8, faults);
    o.reconcile_every = None;
    let mut sim = Simulation::new(policy(), o);
    let s = sim.run().await;
    assert!(s.events_lost > 0);
    assert!(s.chains_complete < s.chains_total, "{s:#?}");
    assert_eq!(
        s.incomplete.len() as u64,
        s.chains_total - s.chains_complete
    );
    assert!(s.render().contains("chain(s) incomplete"));
    assert_eq!(s.duplicate_copy_jobs, 0);
}

#[tokio::test]
async fn thirty_percent_lost_with_duplicates_reordering_throttling_and_failures_completes_every_chain(
) {
    for seed in [21, 22, 23] {
        let faults = Faults {
            lose: 0.3,
            duplicate: 0.4,
            deliveries: 1,
            reorder_minutes: 120,
            copy_failure: 0.1,
            throttle: 0.02,
            ..Faults::none()
        };
        let mut o = options(5, 6, seed, faults);
        // 10% transient failures: five attempts make giving up on a hop (0.1^5) vanishingly rare here.
        o.reconcile.max_attempts = 5;
        let mut sim = Simulation::new(policy(), o);
        let s = sim.run().await;
        assert_all_complete(&s);
        assert!(
            s.events_lost > 0 && s.events_lost_repaired > 0 && s.copy_failures > 0,
            "seed {seed}: {s:#?}"
        );
        // Exactly one successful copy per hop: every job that did not fail made one required copy.
        assert_eq!(
            s.copy_jobs_started - s.copy_failures,
            s.hops_required,
            "seed {seed}: {s:#?}"
        );
        assert_eq!(s.never_expire_violations, 0);
    }
}

#[tokio::test]
async fn plan_copy_action_copies_in_the_bunker_are_all_repaired_to_36500_days() {
    let mut o = options(3, 4, 9, SimOptions::default().faults);
    o.plan_copy_actions = true;
    let mut sim = Simulation::new(policy(), o);
    let s = sim.run().await;
    assert_all_complete(&s);
    assert_eq!(s.plan_copy_jobs, 12, "4 tables, 3 days");
    assert_eq!(s.lifecycles_repaired, 12, "{s:#?}");
    assert_eq!(s.never_expire_violations, 0);
    let w = sim.sim.world();
    let bunker = sim.vault_arn("bunker").unwrap();
    for rp in w.points_in(&bunker) {
        assert_eq!(
            rp.delete_at,
            Some(rp.creation_date + Duration::days(i64::from(NEVER_EXPIRE_DAYS)))
        );
    }
}

#[tokio::test]
async fn a_locked_bunker_keeps_the_plans_own_copy_once_and_reports_it_as_a_violation() {
    let mut o = options(2, 2, 10, Faults::none());
    o.plan_copy_actions = true;
    let mut sim = Simulation::new(policy(), o);
    let bunker = sim.vault_arn("bunker").unwrap();
    sim.sim.world().vault_mut(&bunker).unwrap().lock = Some(VaultLock {
        min_retention_days: Some(1),
        max_retention_days: Some(3650),
    });
    let s = sim.run().await;
    let w = sim.sim.world();
    // The plan's copies (inheriting 35 days) reach the bunker first: the route into it finds
    // each one under way and makes no second copy. The lock forbids the repair: each is
    // reported once.
    assert_eq!(s.duplicate_copy_jobs, 0, "{s:#?}");
    assert_eq!(w.points_in(&bunker).count(), 4, "one copy per backup");
    assert_eq!(s.lifecycles_repaired, 0);
    assert_eq!(s.retention_violations, 4, "{s:#?}");
    assert_eq!(s.never_expire_violations, 4);
    assert_eq!(s.never_expire_violations_by_lock, 4);
    assert_eq!(
        w.alerts
            .iter()
            .filter(|a| a.subject.contains("never-expire not kept"))
            .count(),
        4
    );
    for rp in w.points_in(&bunker) {
        let inherited = rp
            .source
            .as_ref()
            .and_then(|src| w.recovery_points.get(src))
            .and_then(|src| src.delete_at);
        let kept = rp.delete_at.unwrap();
        assert!(
            kept >= rp.creation_date + Duration::days(35),
            "nothing shortened"
        );
        if rp.lifecycle.delete_after_days.is_none() {
            assert_eq!(
                Some(kept),
                inherited,
                "plan copies keep exactly what they inherited"
            );
        }
    }
}

#[tokio::test]
async fn the_reconciler_resumes_across_runs_when_its_budget_cuts_it_short() {
    let faults = Faults {
        lose: 0.5,
        ..Faults::none()
    };
    let mut o = options(3, 8, 11, faults);
    o.reconcile.page_size = 2;
    o.reconcile_pages_per_run = Some(12);
    let mut sim = Simulation::new(policy(), o);
    let s = sim.run().await;
    assert_all_complete(&s);
    assert!(s.events_lost_repaired > 0);
    let reports = &sim.reconcile_reports;
    assert!(reports.iter().any(|r| r.resumed), "some runs resume a pass");
    assert!(
        reports.iter().any(|r| r.pass_complete && r.resumed),
        "a resumed pass reaches its end"
    );
    assert!(
        reports.iter().all(|r| r.pages <= 12),
        "each run stays within its budget"
    );
}

#[tokio::test]
async fn a_permanent_failure_is_one_alert_for_its_vault_and_no_retry_storm() {
    let mut sim = Simulation::new(
        policy(),
        options(
            3,
            2,
            12,
            Faults {
                duplicate: 0.5,
                ..Faults::none()
            },
        ),
    );
    let bunker = sim.vault_arn("bunker").unwrap();
    sim.sim.world().deny_copies_from(&bunker, "222222222222");
    let s = sim.run().await;
    // 2 gold tables, 3 days: 6 hops into the bunker, each tried once, one alert for them all.
    assert_eq!((s.copy_failures, s.retries, s.alerts), (6, 0, 1), "{s:#?}");
    assert_eq!(s.chains_incomplete_unalerted, 0);
    let w = sim.sim.world();
    assert_eq!(w.jobs.iter().filter(|j| j.dest_vault == bunker).count(), 6);
    assert!(w
        .ledger
        .values()
        .filter(|r| r.route == "dr->bunker")
        .all(|r| r.failure_class == Some(FailureClass::NeedsPerson)));
}

#[tokio::test]
async fn the_same_seed_gives_the_same_history() {
    let run = |seed| async move {
        let mut sim = Simulation::new(policy(), options(2, 3, seed, SimOptions::default().faults));
        serde_json::to_string(&sim.run().await).unwrap()
    };
    assert_eq!(run(11).await, run(11).await);
    assert_ne!(run(11).await, run(12).await);
}

#[tokio::test]
async fn the_readme_command_completes_every_chain() {
    // `relay simulate --policy infra/examples/policy.yaml`: the defaults, as the README promises.
    let mut sim = Simulation::new(policy(), SimOptions::default());
    let s = sim.run().await;
    assert_all_complete(&s);
    assert!(
        s.events_duplicated > 0 && s.copy_failures > 0 && s.retries > 0,
        "{s:#?}"
    );
    assert_eq!(s.never_expire_violations, 0);
    assert_eq!(s.never_expire_copies, s.chains_total);
    assert!(s.events_lost > 0 && s.events_lost_repaired > 0, "{s:#?}");
}

#[test]
fn hop_keys_order_by_original_then_vault() {
    let t = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
    let a = HopKey::new(relay_core::ledger::Original::new("a", t), "z");
    let b = HopKey::new(relay_core::ledger::Original::new("b", t), "a");
    assert!(a < b);
}

/// AWS's concurrent-copy quota: 2500 tables backed up in one account, two or three a minute, make
/// more copies into one Region than may run at once; 100 run at a time, the rest wait in CREATED,
/// and every chain still completes.
#[tokio::test]
async fn copies_past_the_concurrent_copy_quota_wait_their_turn_and_complete() {
    let policy = Policy::parse(POLICY).unwrap();
    let tables: String = (0..2500)
        .map(|i| format!("  - {{ name: table-{i}, account: \"111111111111\", region: us-east-1, tags: {{ backup-tier: gold }} }}\n"))
        .collect();
    let world =
        format!("tables:\n{tables}backup_plans:\n  - {{ vault: primary, every_hours: 24 }}\n");
    let world = relay_core::world_file::WorldFile::parse(&world, &policy).unwrap();
    let mut sim = Simulation::with_world(policy, &world, options(1, 1, 7, Faults::none()));
    let s = sim.run().await;
    assert_eq!(s.copy_concurrency_peak, 100, "{s:#?}");
    assert!(s.copy_job_minutes_queued > 0, "{s:#?}");
    assert!(s.copies_started_peak_hour >= 100, "{s:#?}");
    assert_eq!(s.chains_complete, s.chains_total, "{s:#?}");
    assert_eq!(s.duplicate_copy_jobs, 0);
    assert_eq!(s.chains_incomplete_unalerted, 0);
}

/// A quota that cannot keep up (3 copies at once from one account into one Region, for 150
/// tables a day): copies queue for days. That is one alert per route whose copies wait, never
/// one per table, and every incomplete chain is covered by one.
#[tokio::test]
async fn copies_queued_behind_the_quota_for_days_are_one_alert_per_route_not_a_storm() {
    let policy = Policy::parse(POLICY).unwrap();
    let tables: String = (0..150)
        .map(|i| format!("  - {{ name: table-{i}, account: \"111111111111\", region: us-east-1, tags: {{ backup-tier: gold }} }}\n"))
        .collect();
    let world = format!(
        "tables:\n{tables}organization: {{ concurrent_copy_jobs: 3 }}\nbackup_plans:\n  - {{ vault: primary, every_hours: 24 }}\n"
    );
    let world = relay_core::world_file::WorldFile::parse(&world, &policy).unwrap();
    let mut sim = Simulation::with_world(policy, &world, options(3, 1, 3, Faults::none()));
    let s = sim.run().await;
    assert_eq!(s.copy_concurrency_peak, 3, "{s:#?}");
    // The queue drains for days after the last backup (the copies wait, none is lost).
    assert!(s.drained_hours > 48, "the quota must fall behind: {s:#?}");
    assert_eq!(s.chains_incomplete_unalerted, 0, "{s:#?}");
    let w = sim.sim.world();
    let subjects: Vec<&str> = w.alerts.iter().map(|a| a.subject.as_str()).collect();
    assert!(
        subjects.iter().any(|s| s.contains("are a day behind")),
        "{subjects:?}"
    );
    assert!(
        subjects.len() <= 4,
        "a storm: {} alerts: {subjects:?}",
        subjects.len()
    );
}

/// The same queue behind the quota, with every reconciler run cut after a few pages: each pass
/// spans many runs, and a route's "a day behind" incident is alerted no more often than when a
/// pass is one run (a guard: a pass's incidents are closed by what all its runs saw).
#[tokio::test]
async fn a_pass_spanning_many_runs_alerts_a_route_no_more_than_a_pass_of_one_run() {
    let tables: String = (0..150)
        .map(|i| format!("  - {{ name: table-{i}, account: \"111111111111\", region: us-east-1, tags: {{ backup-tier: gold }} }}\n"))
        .collect();
    let world = format!(
        "tables:\n{tables}organization: {{ concurrent_copy_jobs: 3 }}\nbackup_plans:\n  - {{ vault: primary, every_hours: 24 }}\n"
    );
    let mut behind = Vec::new();
    for pages in [None, Some(3), Some(6)] {
        let policy = Policy::parse(POLICY).unwrap();
        let world = relay_core::world_file::WorldFile::parse(&world, &policy).unwrap();
        let mut options = options(3, 1, 3, Faults::none());
        options.reconcile_pages_per_run = pages;
        let mut sim = Simulation::with_world(policy, &world, options);
        let s = sim.run().await;
        assert_eq!(s.chains_complete, s.chains_total, "{pages:?}: {s:#?}");
        let w = sim.sim.world();
        let alerts = w
            .alerts
            .iter()
            .filter(|a| a.subject.contains("are a day behind"))
            .count();
        behind.push(alerts);
    }
    assert!(behind[0] >= 1, "{behind:?}");
    assert!(
        behind.iter().all(|b| *b <= behind[0]),
        "re-alerted: {behind:?}"
    );
}
