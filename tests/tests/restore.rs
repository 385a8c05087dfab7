//! Restores on the simulated organisation: planned from what the vaults hold, copied back across
//! accounts and Regions when only a far copy is left, restored into a new table, and timed.

use relay_core::arn::TableArn;
use relay_core::policy::Policy;
use relay_core::restore::run::{execute, Follow, RestoreError};
use relay_core::restore::{plan_restore, RestorePlan, RestoreRequest, RestoreStep};
use relay_core::world_file::WorldFile;
use relay_sim::{Faults, SimOptions, Simulation};

const EXAMPLE: &str = include_str!("../../infra/examples/policy.yaml");
const WORLD: &str = include_str!("../../infra/examples/world.yaml");
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
    }
}

fn plan(sim: &Simulation, req: &RestoreRequest) -> RestorePlan {
    let w = sim.sim.world();
    let points: Vec<_> = w.recovery_points.values().map(|rp| rp.view()).collect();
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
