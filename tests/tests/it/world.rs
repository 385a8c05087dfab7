//! World files: each misconfiguration planted through the contract's world file shows up as AWS
//! would show it, and ends in its alert; nothing incomplete goes unannounced.

use relay_core::policy::Policy;
use relay_core::world_file::WorldFile;
use relay_sim::{Faults, SimOptions, Simulation, Summary};

fn example() -> Policy {
    Policy::parse(include_str!("../../../infra/examples/policy.yaml")).unwrap()
}

/// Four tables in the primary account, three of them gold, no faults unless the world says so.
const TABLES: &str = r#"
tables:
  - { name: orders, account: "111111111111", region: us-east-1, tags: { backup-tier: gold } }
  - { name: carts, account: "111111111111", region: us-east-1, tags: { backup-tier: gold } }
  - { name: users, account: "111111111111", region: us-east-1, tags: { backup-tier: gold } }
  - { name: audit, account: "111111111111", region: us-east-1 }
"#;

async fn run(world: &str) -> (Simulation, Summary) {
    let policy = example();
    let world =
        WorldFile::parse(&format!("{TABLES}{world}"), &policy).unwrap_or_else(|e| panic!("{e}"));
    let options = SimOptions {
        days: 2,
        faults: Faults::none(),
        ..SimOptions::default()
    };
    let mut sim = Simulation::with_world(policy, &world, options);
    let s = sim.run().await;
    assert_eq!(s.chains_incomplete_unalerted, 0, "{:?}", s.unalerted);
    assert_eq!(s.duplicate_copy_jobs, 0);
    (sim, s)
}

fn subjects(sim: &Simulation) -> Vec<String> {
    sim.sim
        .world()
        .alerts
        .iter()
        .map(|a| a.subject.clone())
        .collect()
}

#[tokio::test]
async fn a_healthy_world_completes_every_chain_of_its_own_tables() {
    let (sim, s) = run("").await;
    assert_eq!((s.table_count, s.backups, s.chains_total), (4, 8, 6));
    assert_eq!(s.chains_complete, s.chains_total);
    assert!(subjects(&sim).is_empty());
}

#[tokio::test]
async fn a_plan_every_twelve_hours_with_a_copy_action_is_repaired_by_the_guard() {
    let (_, s) = run(
        "backup_plans:\n  - { vault: primary, every_hours: 12, delete_after_days: 35, copy_to: bunker }\n",
    )
    .await;
    assert_eq!((s.backups, s.chains_total), (16, 12));
    assert_eq!(s.chains_complete, s.chains_total);
    assert_eq!((s.plan_copy_jobs, s.lifecycles_repaired), (16, 16));
    assert_eq!(s.never_expire_violations, 0);
}

#[tokio::test]
async fn an_account_without_the_executor_role_is_one_alert() {
    let (sim, s) = run("accounts:\n  \"222222222222\": { executor_role: false }\n").await;
    assert_eq!(s.chains_complete, 0);
    assert_eq!(
        subjects(&sim),
        ["Backup Relay: cannot reach account 222222222222"]
    );
}

#[tokio::test]
async fn cross_account_backup_off_fails_every_cross_account_hop_with_one_person_alert() {
    let (sim, s) = run("organization: { cross_account_backup: false }\n").await;
    assert_eq!(s.chains_complete, 0);
    assert_eq!(s.chains_incomplete_unalerted, 0, "{s:#?}");
    // Every chain stops at its first hop, into one vault, for one cause: one alert.
    assert_eq!(s.alerts, 1, "{:?}", subjects(&sim));
    assert!(
        subjects(&sim).iter().all(|s| s.contains("needs a person")),
        "{:?}",
        subjects(&sim)
    );
}

#[tokio::test]
async fn advanced_features_off_makes_native_backups_alerted_once() {
    let (sim, s) = run(
        "regions:\n  - { account: \"111111111111\", region: us-east-1, advanced_features: false }\n",
    )
    .await;
    assert_eq!(s.chains_complete, 0);
    assert_eq!(
        subjects(&sim),
        ["Backup Relay: backups in 111111111111/us-east-1 cannot be copied"]
    );
}

#[tokio::test]
async fn a_key_not_shared_and_a_missing_copy_role_fail_their_hops_with_the_likely_fix() {
    let (sim, s) = run("vaults:\n  dr: { kms_key_shared_with: [] }\n").await;
    assert_eq!(
        s.hops_complete,
        2 * s.chains_total,
        "primary->central and central->dr made"
    );
    let alerts = sim.sim.world().alerts.clone();
    assert!(
        alerts.iter().all(|a| a.message.contains("KMS key")),
        "{alerts:?}"
    );
    let (sim, s) = run("accounts:\n  \"111111111111\": { copy_role: false }\n").await;
    assert_eq!(s.hops_complete, 0);
    assert_eq!((s.alerts, s.chains_incomplete_unalerted), (1, 0), "{s:#?}");
    assert!(sim
        .sim
        .world()
        .alerts
        .iter()
        .all(|a| a.message.contains("copy role")));
}

#[tokio::test]
async fn a_bunker_locked_below_100_years_is_clamped_and_counted() {
    let (_, s) =
        run("vaults:\n  bunker: { lock: { min_retention_days: 1, max_retention_days: 3650 } }\n")
            .await;
    assert_eq!(s.chains_complete, s.chains_total);
    assert_eq!(s.lock_adjustments, s.chains_total);
    assert_eq!(s.never_expire_violations_by_lock, s.chains_total);
}

#[tokio::test]
async fn a_vault_that_does_not_exist_breaks_its_chains_and_every_one_is_announced() {
    for missing in ["central", "dr", "bunker"] {
        let (_, s) = run(&format!("vaults:\n  {missing}: {{ exists: false }}\n")).await;
        assert_eq!(s.chains_complete, 0, "{missing}: {s:#?}");
        assert!(s.alerts > 0, "{missing}");
    }
}

#[tokio::test]
async fn a_root_vault_that_does_not_exist_makes_no_backup_and_says_so() {
    let (sim, s) = run("vaults:\n  primary: { exists: false }\n").await;
    assert_eq!((s.backups, s.chains_total), (0, 0));
    assert!(s.backups_failed > 0);
    assert!(
        s.render().contains("all 8 backup jobs failed"),
        "{}",
        s.render()
    );
    let problems = s.problems().join("; ");
    assert!(
        problems.contains("The backup vault does not exist."),
        "{problems}"
    );
    assert_eq!(s.backups_failed_unalerted, 0);
    assert!(subjects(&sim).iter().any(|a| a.contains("backups into")));
}

#[tokio::test]
async fn a_lock_that_refuses_the_plans_retention_fails_the_backups() {
    let (_, s) = run("vaults:\n  primary: { lock: { min_retention_days: 100 } }\n").await;
    assert_eq!(s.backups, 0);
    let (_, s) = run("vaults:\n  primary: { lock: { min_retention_days: 30 } }\n").await;
    assert_eq!(
        (s.backups, s.chains_complete),
        (8, 6),
        "35 days is within the lock"
    );
}

#[tokio::test]
async fn an_account_outside_the_organisation_or_the_access_policy_fails_with_a_person_alert() {
    let (sim, s) = run("organization: { members: [\"111111111111\", \"222222222222\"] }\n").await;
    assert_eq!(
        s.hops_complete,
        2 * s.chains_total,
        "the bunker's account is not a member"
    );
    assert!(sim
        .sim
        .world()
        .alerts
        .iter()
        .all(|a| a.message.contains("same organization")));
    let (sim, s) = run("vaults:\n  central: { access_policy_allows_copy_from: [] }\n").await;
    assert_eq!(s.hops_complete, 0);
    assert!(sim
        .sim
        .world()
        .alerts
        .iter()
        .all(|a| a.message.contains("Access Denied")));
}

#[tokio::test]
async fn a_missing_copy_role_does_not_fail_the_plans_own_copies() {
    let (_, s) = run(
        "accounts:\n  \"111111111111\": { copy_role: false }\nbackup_plans:\n  - { vault: primary, copy_to: bunker }\n",
    )
    .await;
    // The plan's own copies land in the bunker; the relay's, which need the copy role, fail.
    assert_eq!(s.hops_complete, s.chains_total);
    assert_eq!(s.plan_copy_jobs, 8);
    assert_eq!(
        s.copy_failures, 6,
        "the relay's first hops only, not the plan's copies"
    );
}

#[tokio::test]
async fn points_move_to_the_cold_tier_on_their_lifecycle_and_aws_rules_for_cold_apply() {
    use chrono::Duration;
    use relay_core::ports::{BackupPort, RestorePort, StartRestore};
    use relay_core::retention::Lifecycle;

    let (sim, _) = run("").await;
    let dr = sim.vault_arn("dr").unwrap();
    // The dr vault keeps copies 365 days, cold after 30 (the policy's retention).
    let point = {
        let w = sim.sim.world();
        let first = w.points_in(&dr).next().unwrap().clone();
        first
    };
    assert_eq!(point.lifecycle.move_to_cold_storage_after_days, Some(30));
    let view = sim
        .sim
        .describe_recovery_point(&dr, &point.arn)
        .await
        .unwrap();
    assert_eq!(view.storage_class.as_deref(), Some("WARM"));
    {
        let mut w = sim.sim.world();
        w.now = point.creation_date + Duration::days(31);
        w.step_lifecycles();
    }
    let view = sim
        .sim
        .describe_recovery_point(&dr, &point.arn)
        .await
        .unwrap();
    assert_eq!(view.storage_class.as_deref(), Some("COLD"));

    // No copy from the cold tier.
    let bunker = sim.vault_arn("bunker").unwrap();
    let job = relay_core::plan::StartCopyJob {
        route: "dr->bunker".into(),
        original: relay_core::ledger::Original::new(
            point.resource_arn.clone(),
            point.creation_date,
        ),
        account: dr.account.clone(),
        region: dr.region.clone(),
        partition: dr.partition.clone(),
        recovery_point_arn: point.arn.clone(),
        source_backup_vault_name: dr.name.clone(),
        source_backup_vault_arn: dr.to_string(),
        destination_backup_vault_arn: bunker.to_string(),
        iam_role_arn: "arn:aws:iam::222222222222:role/backup-relay-copy".into(),
        idempotency_token: "cold".into(),
        attempt: 1,
        lifecycle: None,
        lock_adjustment: None,
        resource_arn: Some(point.resource_arn.clone()),
    };
    let refused = sim.sim.start_copy_job(&job).await.unwrap_err();
    assert!(refused.message.contains("cold"), "{refused}");

    // Its cold setting cannot change any more; its delete date still may (within cold + 90).
    let moved = Lifecycle {
        delete_after_days: Some(400),
        move_to_cold_storage_after_days: Some(60),
    };
    assert!(sim
        .sim
        .update_recovery_point_lifecycle(&dr, &point.arn, &moved)
        .await
        .is_err());
    let longer = Lifecycle {
        delete_after_days: Some(400),
        move_to_cold_storage_after_days: Some(30),
    };
    sim.sim
        .update_recovery_point_lifecycle(&dr, &point.arn, &longer)
        .await
        .unwrap();

    // A restore from the cold tier is allowed, and takes hours longer.
    let restore = StartRestore {
        account: dr.account.clone(),
        region: dr.region.clone(),
        partition: dr.partition.clone(),
        recovery_point_arn: point.arn.clone(),
        iam_role_arn: "arn:aws:iam::222222222222:role/backup-relay-copy".into(),
        metadata: [("targetTableName".to_string(), "from-cold".to_string())].into(),
        idempotency_token: "cold-restore".into(),
        copy_source_tags: false,
    };
    sim.sim.start_restore_job(&restore).await.unwrap();
    let w = sim.sim.world();
    let job = w.restore_jobs.last().unwrap();
    assert_eq!(job.state, "RUNNING", "{:?}", job.status_message);
    assert!(
        job.finish_at - job.created_at
            >= Duration::minutes(relay_sim::restore::COLD_RESTORE_EXTRA_MINUTES)
    );
}

/// The doctor asks for a vault's key by its ARN: the simulator finds the vault from it.
#[test]
fn a_simulated_vaults_key_names_its_vault() {
    use relay_sim::world::{vault_key_arn, vault_of_key};
    for arn in [
        "arn:aws:backup:eu-west-1:333333333333:backup-vault:bunker",
        "arn:aws-cn:backup:cn-north-1:111111111111:backup-vault:a-b_c",
    ] {
        let vault = relay_core::arn::VaultArn::parse(arn).unwrap();
        assert_eq!(vault_of_key(&vault_key_arn(&vault)), Some(vault));
    }
    assert_eq!(
        vault_of_key("arn:aws:kms:us-east-1:111111111111:alias/x"),
        None
    );
    assert_eq!(vault_of_key("not an arn"), None);
}
