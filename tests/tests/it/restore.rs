//! Restores on the simulated organisation: planned from what the vaults hold, copied back across
//! accounts and Regions when only a far copy is left, restored into a new table, and timed.

use relay_core::arn::TableArn;
use relay_core::policy::Policy;
use relay_core::world_file::WorldFile;
use relay_restore::run::{execute, Follow, RestoreError};
use relay_restore::{plan_restore, RestorePlan, RestoreRequest, RestoreStep};
use relay_sim::{Faults, SimOptions, Simulation};

const EXAMPLE: &str = include_str!("../../../infra/examples/policy.yaml");
const WORLD: &str = include_str!("../../../infra/examples/world.yaml");
const ORDERS: &str = "arn:aws:dynamodb:us-east-1:111111111111:table/orders";

async fn simulated(days: u32) -> Simulation {
    let policy = Policy::parse(EXAMPLE).unwrap();
    let world = WorldFile::parse(WORLD, &policy).unwrap();
    let options = SimOptions {
        days,
        faults: Faults::none(),
        ..SimOptions::default()
    };
    let mut sim = Simulation::with_world(policy, &world, options);
    sim.run().await;
    sim.sim.world().time_flows = true;
    sim
}

fn request(target: &str) -> RestoreRequest {
    RestoreRequest {
        table: TableArn::parse(ORDERS).unwrap(),
        at: None,
        target_account: None,
        target_region: None,
        target_table: target.into(),
        from: None,
        kms_key_arn: None,
        copy_source_tags: true,
    }
}

fn plan(sim: &Simulation, req: &RestoreRequest) -> RestorePlan {
    let w = sim.sim.world();
    let points: Vec<_> = w.points_by_arn().into_iter().map(|rp| rp.view()).collect();
    let existing = w.tables.iter().map(|t| t.arn.table.clone()).collect();
    plan_restore(
        &sim.policy,
        &points,
        &existing,
        &Default::default(),
        req,
        w.now,
    )
    .unwrap()
}

#[tokio::test]
async fn with_only_the_bunkers_copy_left_it_copies_back_and_restores() {
    let sim = simulated(3).await;
    // Every copy of orders outside the bunker is gone.
    let bunker = sim.policy.vault("bunker").unwrap().arn.clone();
    {
        let mut w = sim.sim.world();
        let gone: Vec<String> = w
            .recovery_points
            .values()
            .filter(|p| p.resource_arn == ORDERS && p.vault != bunker)
            .map(|p| p.arn.clone())
            .collect();
        assert!(gone.len() >= 9, "three backups in three vaults");
        for arn in gone {
            w.remove_point(&arn);
        }
    }
    let p = plan(&sim, &request("orders-restored"));
    assert!(matches!(p.steps[0], RestoreStep::StartCopyJob { .. }));
    let result = execute(
        &sim.sim,
        &p,
        &TableArn::parse(ORDERS).unwrap(),
        Follow::default(),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(result.status, "COMPLETED");
    assert_eq!(
        result.restored_table_arn,
        "arn:aws:dynamodb:us-east-1:111111111111:table/orders-restored"
    );
    // orders is 120 GB: 6 + 2 x 120 minutes, and up to a fifth more.
    assert!(
        (246..=296).contains(&result.restore_minutes),
        "{}",
        result.restore_minutes
    );
    let w = sim.sim.world();
    let copied = result.copied_back_recovery_point_arn.as_deref().unwrap();
    let point = &w.recovery_points[copied];
    assert_eq!(point.vault, sim.policy.vault("primary").unwrap().arn);
    let restored = w
        .tables
        .iter()
        .find(|t| t.arn.table == "orders-restored")
        .unwrap();
    assert!(!restored.pitr, "a restore brings no PITR back");
    assert_eq!(
        restored.tags.get("backup-tier").map(String::as_str),
        Some("gold"),
        "tags copied"
    );
    // Restore Job State Change events were emitted with the real fields.
    assert!(w.counters.events_emitted > 0);
}

#[tokio::test]
async fn a_name_taken_meanwhile_fails_with_awss_message() {
    let sim = simulated(1).await;
    let p = plan(&sim, &request("orders-copy"));
    // Someone creates the table between the plan and the restore.
    {
        let mut w = sim.sim.world();
        let mut t = w.tables[0].clone();
        t.arn.table = "orders-copy".into();
        w.tables.push(t);
    }
    let err = execute(
        &sim.sim,
        &p,
        &TableArn::parse(ORDERS).unwrap(),
        Follow::default(),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, RestoreError::RestoreFailed { message, .. } if message == "Table already exists: orders-copy"),
        "{err}"
    );
}

#[tokio::test]
async fn a_key_of_another_account_is_not_usable() {
    let sim = simulated(1).await;
    let mut req = request("orders-kms");
    req.kms_key_arn = Some("arn:aws:kms:us-east-1:999999999999:key/k".into());
    let p = plan(&sim, &req);
    let err = execute(
        &sim.sim,
        &p,
        &TableArn::parse(ORDERS).unwrap(),
        Follow::default(),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("is not accessible or is not usable by AWS Backup"),
        "{err}"
    );
}

use relay_compliance::inventory::TableFacts;
use relay_restore::drill::{self, DrillConfig};

fn table_facts(sim: &Simulation) -> Vec<TableFacts> {
    sim.sim
        .world()
        .tables
        .iter()
        .map(|t| TableFacts {
            arn: t.arn.to_string(),
            name: t.arn.table.clone(),
            account: t.arn.account.clone(),
            region: t.arn.region.clone(),
            tags: t.tags.clone(),
            pitr: Some(t.pitr),
            native_backups: t.native_backups,
        })
        .collect()
}

#[tokio::test]
async fn a_drill_restores_from_the_bunker_checks_deletes_and_feeds_the_report() {
    let sim = simulated(3).await;
    let config = DrillConfig {
        tables_per_run: 10,
        ..DrillConfig::default()
    };
    let now = sim.sim.world().now;
    let targets = drill::choose(&sim.policy, &table_facts(&sim), &config, now);
    // Five gold tables reach the bunker; audit-log reaches nothing and is not drilled.
    assert_eq!(targets.len(), 5);
    assert!(targets.iter().all(|t| t.vault.alias == "bunker"));
    let tests = drill::run(&sim.sim, &sim.policy, &targets, &config, Follow::default())
        .await
        .unwrap();
    assert!(tests.iter().all(|t| t.passed), "{tests:#?}");
    {
        let w = sim.sim.world();
        assert_eq!(w.restore_tests.len(), 5);
        assert!(
            !w.tables
                .iter()
                .any(|t| t.arn.table.starts_with("relay-drill-")),
            "every drill table is deleted"
        );
        let orders = tests.iter().find(|t| t.resource_arn == ORDERS).unwrap();
        let small = tests
            .iter()
            .find(|t| t.resource_arn.ends_with("/carts"))
            .unwrap();
        assert!(
            orders.minutes > 200 && small.minutes < 20,
            "{orders:?} {small:?}"
        );
        assert!(w.alerts.is_empty());
    }
    // The report's restore-time control reads the drills: 120 GB misses a 4-hour target.
    let text = format!("{EXAMPLE}compliance: {{ max_restore_time_minutes: 240 }}\n");
    let mut sim = sim;
    sim.policy = Policy::parse(&text).unwrap();
    let report = sim.compliance_report("d").await;
    let status = |name: &str| {
        report
            .resources
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| {
                r.controls.iter().find(|c| {
                    c.id == relay_compliance::ControlId::RestoreTimeForResourcesMeetTarget
                })
            })
            .map(|c| c.status)
            .unwrap()
    };
    use relay_compliance::Status;
    assert_eq!(status("orders"), Status::NonCompliant);
    assert_eq!(status("carts"), Status::Compliant);
    assert_eq!(status("audit-log"), Status::NotApplicable);
}

#[tokio::test]
async fn a_failing_drill_is_alerted_once_and_closed_when_it_passes_again() {
    let sim = simulated(2).await;
    let config = DrillConfig {
        tables_per_run: 10,
        ..DrillConfig::default()
    };
    let bunker = sim.policy.vault("bunker").unwrap().arn.clone();
    let saved: Vec<_> = {
        let mut w = sim.sim.world();
        let arns: Vec<String> = w
            .points_in(&bunker)
            .filter(|p| p.resource_arn == ORDERS)
            .map(|p| p.arn.clone())
            .collect();
        arns.iter().filter_map(|a| w.remove_point(a)).collect()
    };
    let now = sim.sim.world().now;
    let targets: Vec<_> = drill::choose(&sim.policy, &table_facts(&sim), &config, now)
        .into_iter()
        .filter(|t| t.table.to_string() == ORDERS)
        .collect();
    for _ in 0..2 {
        let tests = drill::run(&sim.sim, &sim.policy, &targets, &config, Follow::default())
            .await
            .unwrap();
        assert!(!tests[0].passed);
        assert!(
            tests[0].detail.contains("no COMPLETED copy"),
            "{}",
            tests[0].detail
        );
    }
    assert_eq!(
        sim.sim.world().alerts.len(),
        1,
        "one alert for two failed drills"
    );
    {
        let mut w = sim.sim.world();
        for p in saved {
            w.insert_point(p);
        }
    }
    let tests = drill::run(&sim.sim, &sim.policy, &targets, &config, Follow::default())
        .await
        .unwrap();
    assert!(tests[0].passed, "{tests:?}");
    assert!(sim
        .sim
        .world()
        .incidents
        .keys()
        .all(|id| !id.starts_with("drill#")));
}

#[tokio::test]
async fn the_drill_function_starts_drills_and_finishes_them_over_later_looks() {
    use relay_core::ports::Clock;
    let sim = simulated(2).await;
    let config = DrillConfig {
        tables_per_run: 2,
        ..DrillConfig::default()
    };
    let tables = table_facts(&sim);
    let first = drill::tick(&sim.sim, &sim.policy, &tables, &config, true)
        .await
        .unwrap();
    assert_eq!((first.started.len(), first.finished.len()), (2, 0));
    // A second start while they run drills nothing twice.
    let again = drill::tick(&sim.sim, &sim.policy, &tables, &config, true)
        .await
        .unwrap();
    assert!(again.started.iter().all(|t| !first.started.contains(t)));
    let mut finished = again.finished.len();
    let mut looks = 0;
    while !sim.sim.world().drills.is_empty() {
        // Every five minutes, as the function's schedule looks.
        sim.sim.pause(std::time::Duration::from_secs(300)).await;
        let r = drill::tick(&sim.sim, &sim.policy, &tables, &config, false)
            .await
            .unwrap();
        finished += r.finished.len();
        looks += 1;
        assert!(looks < 200, "drills never finish");
    }
    let w = sim.sim.world();
    assert_eq!(finished, w.restore_tests.len());
    assert!(
        w.restore_tests.iter().all(|t| t.passed),
        "{:#?}",
        w.restore_tests
    );
    assert!(!w
        .tables
        .iter()
        .any(|t| t.arn.table.starts_with("relay-drill-")));
}

#[tokio::test]
async fn reapply_puts_back_what_a_restore_does_not_bring() {
    use relay_restore::run::reapply;
    let sim = simulated(1).await;
    {
        let mut w = sim.sim.world();
        let orders = w
            .tables
            .iter_mut()
            .find(|t| t.arn.to_string() == ORDERS)
            .unwrap();
        orders.ttl_attribute = Some("expires_at".into());
        orders.stream_view_type = Some("NEW_AND_OLD_IMAGES".into());
        orders.deletion_protection = true;
    }
    let p = plan(&sim, &request("orders-back"));
    let table = TableArn::parse(ORDERS).unwrap();
    execute(&sim.sim, &p, &table, Follow::default(), &mut |_| {})
        .await
        .unwrap();
    {
        let w = sim.sim.world();
        let restored = w
            .tables
            .iter()
            .find(|t| t.arn.table == "orders-back")
            .unwrap();
        assert!(
            !restored.pitr && restored.ttl_attribute.is_none() && !restored.deletion_protection
        );
    }
    let settings = reapply(&sim.sim, &p, &table).await.unwrap().unwrap();
    assert_eq!(settings.ttl_attribute.as_deref(), Some("expires_at"));
    let w = sim.sim.world();
    let restored = w
        .tables
        .iter()
        .find(|t| t.arn.table == "orders-back")
        .unwrap();
    assert!(restored.pitr);
    assert_eq!(restored.ttl_attribute.as_deref(), Some("expires_at"));
    assert_eq!(
        restored.stream_view_type.as_deref(),
        Some("NEW_AND_OLD_IMAGES")
    );
    assert!(restored.deletion_protection);
}

/// Looks every ten minutes until no drill is under way; a look that stops on an error is the
/// next look's to repeat (as Lambda retries it).
async fn look_until_done(sim: &Simulation, tables: &[TableFacts], config: &DrillConfig) -> usize {
    use relay_core::ports::Clock;
    let mut finished = 0;
    for _ in 0..2000 {
        sim.sim.pause(std::time::Duration::from_secs(600)).await;
        if let Ok(r) = drill::tick(&sim.sim, &sim.policy, tables, config, false).await {
            finished += r.finished.len();
        }
        if sim.sim.world().drills.is_empty() {
            return finished;
        }
    }
    panic!("drills never end");
}

#[tokio::test]
async fn throttled_looks_neither_fail_drills_nor_leave_tables() {
    let sim = simulated(2).await;
    sim.sim.world().faults.throttle = 0.05;
    let config = DrillConfig {
        tables_per_run: 5,
        ..DrillConfig::default()
    };
    let tables = table_facts(&sim);
    let mut started = 0;
    while started == 0 {
        if let Ok(r) = drill::tick(&sim.sim, &sim.policy, &tables, &config, true).await {
            started = r.started.len();
        }
    }
    look_until_done(&sim, &tables, &config).await;
    let w = sim.sim.world();
    assert!(
        w.restore_tests.iter().all(|t| t.passed),
        "{:#?}",
        w.restore_tests
    );
    assert!(!w
        .tables
        .iter()
        .any(|t| t.arn.table.starts_with("relay-drill-")));
    assert!(w.alerts.is_empty(), "{:?}", w.alerts);
}

#[tokio::test]
async fn a_drill_that_never_finishes_ends_failed_and_alerted_once() {
    let sim = simulated(2).await;
    let primary = sim.policy.vault("primary").unwrap().arn.clone();
    sim.sim.world().stalled_into.insert(primary);
    let config = DrillConfig {
        tables_per_run: 1,
        copy_back: true,
        ..DrillConfig::default()
    };
    let tables = table_facts(&sim);
    let r = drill::tick(&sim.sim, &sim.policy, &tables, &config, true)
        .await
        .unwrap();
    assert_eq!(r.started.len(), 1);
    assert_eq!(look_until_done(&sim, &tables, &config).await, 1);
    let w = sim.sim.world();
    assert!(!w.restore_tests[0].passed);
    assert!(
        w.restore_tests[0].detail.starts_with("not done after 48 h"),
        "{}",
        w.restore_tests[0].detail
    );
    assert_eq!(w.alerts.len(), 1);
}
