//! The compliance report over simulated organisations: a compliant one is compliant throughout,
//! and each failure planted through the world file turns that control of that table
//! NON_COMPLIANT, with the evidence that shows it. JSON, CSV and the summary agree.

use std::collections::BTreeSet;

use relay_compliance::{self as compliance, render, ControlId, Report, Status};
use relay_core::policy::Policy;
use relay_core::world_file::WorldFile;
use relay_sim::{Faults, SimOptions, Simulation};

const EXAMPLE: &str = include_str!("../../../infra/examples/policy.yaml");
const COMPLIANT: &str = include_str!("../../worlds/compliant.yaml");

fn options(days: u32) -> SimOptions {
    SimOptions {
        days,
        faults: Faults::none(),
        ..SimOptions::default()
    }
}

/// The simulation of `world` (the compliant world with `extra` appended) and its report.
async fn report_of(world: &str, options: SimOptions) -> (Simulation, Report) {
    let policy = Policy::parse(EXAMPLE).unwrap();
    let world = WorldFile::parse(world, &policy).unwrap_or_else(|e| panic!("{e}"));
    let mut sim = Simulation::with_world(policy, &world, options);
    sim.run().await;
    let report = sim
        .compliance_report(&compliance::policy_digest(EXAMPLE))
        .await;
    (sim, report)
}

/// The (table, control) pairs that are NON_COMPLIANT.
fn failing(report: &Report) -> BTreeSet<(String, ControlId)> {
    report
        .resources
        .iter()
        .flat_map(|r| {
            r.controls
                .iter()
                .filter(|c| c.status == Status::NonCompliant)
                .map(|c| (r.name.clone(), c.id))
        })
        .collect()
}

fn control<'a>(report: &'a Report, table: &str, id: ControlId) -> &'a compliance::ControlResult {
    report
        .resources
        .iter()
        .find(|r| r.name == table)
        .and_then(|r| r.controls.iter().find(|c| c.id == id))
        .unwrap_or_else(|| panic!("{table} {id:?}"))
}

fn pairs(table: &str, ids: &[ControlId]) -> BTreeSet<(String, ControlId)> {
    ids.iter().map(|id| (table.to_string(), *id)).collect()
}

#[tokio::test]
async fn a_compliant_organisation_is_compliant_on_every_table() {
    let (_, report) = report_of(COMPLIANT, options(3)).await;
    assert_eq!(report.summary.resources, 3);
    assert!(failing(&report).is_empty(), "{:#?}", failing(&report));
    assert_eq!(report.summary.compliant, 3);
    assert!(report.gaps.is_empty());
    let chain = control(&report, "orders", ControlId::RelayChainComplete);
    assert_eq!(chain.status, Status::Compliant, "{}", chain.reason);
    assert!(chain.reason.contains("in all 3 vaults"), "{}", chain.reason);
}

#[tokio::test]
async fn pitr_off_fails_only_that_control_of_that_table() {
    let world = COMPLIANT.replace(
        "name: carts, account: \"111111111111\", region: us-east-1,",
        "name: carts, account: \"111111111111\", region: us-east-1, pitr: false,",
    );
    let (_, report) = report_of(&world, options(2)).await;
    assert_eq!(
        failing(&report),
        pairs("carts", &[ControlId::RelayPitrEnabled])
    );
    let c = control(&report, "carts", ControlId::RelayPitrEnabled);
    assert_eq!(c.reason, "point-in-time recovery is off");
}

#[tokio::test]
async fn a_table_no_route_selects_has_no_copies_elsewhere_and_its_chain_is_not_applicable() {
    let world = COMPLIANT.replace(
        "tables:\n",
        "tables:\n  - { name: audit, account: \"111111111111\", region: us-east-1 }\n",
    );
    let (_, report) = report_of(&world, options(2)).await;
    // Only in the primary vault: no copy in another Region or account, nor in the locked bunker.
    let only_primary = [
        ControlId::BackupResourcesProtectedByCrossRegion,
        ControlId::BackupResourcesProtectedByCrossAccount,
        ControlId::BackupResourcesProtectedByBackupVaultLock,
    ];
    assert_eq!(failing(&report), pairs("audit", &only_primary));
    let chain = control(&report, "audit", ControlId::RelayChainComplete);
    assert_eq!(
        (chain.status, chain.reason.as_str()),
        (Status::NotApplicable, "no route selects the table")
    );
}

#[tokio::test]
async fn a_region_without_advanced_features_leaves_tables_with_native_backups_only() {
    let world = format!(
        "{COMPLIANT}regions:\n  - {{ account: \"111111111111\", region: us-east-1, advanced_features: false }}\n"
    );
    let (_, report) = report_of(&world, options(2)).await;
    let orders = &report
        .resources
        .iter()
        .find(|r| r.name == "orders")
        .unwrap();
    let failed: BTreeSet<ControlId> = orders
        .controls
        .iter()
        .filter(|c| c.status == Status::NonCompliant)
        .map(|c| c.id)
        .collect();
    for id in [
        ControlId::RelayAdvancedFeatures,
        ControlId::RelayNoNativeOnlyBackups,
        ControlId::RelayChainComplete,
        ControlId::BackupResourcesProtectedByCrossRegion,
    ] {
        assert!(failed.contains(&id), "{id:?} not failed: {failed:?}");
    }
    let native = control(&report, "orders", ControlId::RelayNoNativeOnlyBackups);
    assert!(
        native.reason.contains("DynamoDB-native"),
        "{}",
        native.reason
    );
    assert!(native.evidence.iter().all(|e| e
        .recovery_point_arn
        .as_deref()
        .is_some_and(|a| a.contains(":table/orders/backup/"))));
}

#[tokio::test]
async fn a_bunker_locked_below_36500_days_keeps_copies_short_of_never_expire() {
    let world = COMPLIANT.replace(
        "lock: { min_retention_days: 1, max_retention_days: 36500 }",
        "lock: { min_retention_days: 1, max_retention_days: 3650 }",
    );
    let (_, report) = report_of(&world, options(2)).await;
    let expected: BTreeSet<_> = ["orders", "carts", "users"]
        .iter()
        .flat_map(|t| pairs(t, &[ControlId::RelayNeverExpireRetention]))
        .collect();
    assert_eq!(failing(&report), expected);
    let c = control(&report, "orders", ControlId::RelayNeverExpireRetention);
    assert!(c
        .evidence
        .iter()
        .all(|e| e.vault.as_deref().is_some_and(|v| v.ends_with(":bunker"))));
    assert!(!c.evidence.is_empty());
}

#[tokio::test]
async fn a_plans_never_copy_is_non_compliant_until_the_guard_repairs_it() {
    // An unlocked bunker: a locked one denies the guard's lifecycle change (facts §5), which the
    // next test's lock shows from the other side.
    let world = format!(
        "{}backup_plans:\n  - {{ vault: primary, every_hours: 24, delete_after_days: 35, copy_to: bunker }}\n",
        COMPLIANT.replace("    lock: { min_retention_days: 1, max_retention_days: 36500 }\n", "")
    );
    let (sim, report) = report_of(&world, options(2)).await;
    let unlocked: BTreeSet<_> = ["orders", "carts", "users"]
        .iter()
        .flat_map(|t| pairs(t, &[ControlId::BackupResourcesProtectedByBackupVaultLock]))
        .collect();
    // After the run the guard has repaired every inherited expiry.
    assert_eq!(failing(&report), unlocked);
    // Before the repair: the plan's copy carries the "never" lifecycle it was made with.
    let bunker = sim.policy.vault("bunker").unwrap().arn.clone();
    {
        let mut w = sim.sim.world();
        let first = w
            .recovery_points
            .values()
            .filter(|p| p.vault == bunker && p.resource_arn.ends_with("/orders"))
            .map(|p| p.arn.clone())
            .min()
            .unwrap();
        let copy = w.recovery_points.get_mut(&first).unwrap();
        copy.lifecycle = relay_core::retention::Lifecycle::default();
        copy.delete_at = Some(copy.creation_date + chrono::Duration::days(35));
    }
    let before = sim.compliance_report("digest").await;
    let mut expected = unlocked.clone();
    expected.extend(pairs("orders", &[ControlId::RelayNeverExpireRetention]));
    assert_eq!(failing(&before), expected);
    let c = control(&before, "orders", ControlId::RelayNeverExpireRetention);
    assert_eq!(c.evidence.len(), 1);
    assert!(
        c.evidence[0].detail.as_deref()
            == Some("not kept 36500 days; the retention guard repairs it"),
        "{:?}",
        c.evidence
    );
}

#[tokio::test]
async fn a_plans_never_copy_in_a_locked_bunker_cannot_be_repaired_and_says_why() {
    let world = format!(
        "{COMPLIANT}backup_plans:\n  - {{ vault: primary, every_hours: 24, delete_after_days: 35, copy_to: bunker }}\n"
    );
    let (_, report) = report_of(&world, options(2)).await;
    let expected: BTreeSet<_> = ["orders", "carts", "users"]
        .iter()
        .flat_map(|t| pairs(t, &[ControlId::RelayNeverExpireRetention]))
        .collect();
    assert_eq!(failing(&report), expected);
    let c = control(&report, "orders", ControlId::RelayNeverExpireRetention);
    assert!(
        c.evidence
            .iter()
            .any(|e| e.detail.as_deref().is_some_and(|d| d.contains("locked"))),
        "{:?}",
        c.evidence
    );
}

/// A hop that failed for good is an open incident (of its table) until a copy of a newer backup
/// lands in its vault (the cause is fixed), and a missing copy in the report for good.
#[tokio::test]
async fn a_hop_that_failed_for_good_is_a_missing_copy_and_an_open_incident() {
    let failed_after = |days: u32| async move {
        let policy = Policy::parse(EXAMPLE).unwrap();
        let world = WorldFile::parse(COMPLIANT, &policy).unwrap();
        let mut sim = Simulation::with_world(policy, &world, options(days));
        let dr = sim.policy.vault("dr").unwrap().arn.clone();
        sim.sim.world().force_copy_failures(
            &dr,
            1,
            "Insufficient privileges to perform this action on the destination vault",
        );
        sim.run().await;
        let report = sim.compliance_report("digest").await;
        (failing(&report), report)
    };
    // Day one: the incident is open (the chain is not yet judged: its copies have a day).
    let (failed, _) = failed_after(1).await;
    let open: Vec<_> = failed
        .iter()
        .filter(|(_, id)| *id == ControlId::RelayOpenIncidents)
        .collect();
    assert_eq!(open.len(), 1, "{failed:?}");
    // Day two: copies into dr work again, the incident is closed, the copy is missing for good.
    let (failed, report) = failed_after(2).await;
    let table = failed
        .iter()
        .find(|(_, id)| *id == ControlId::RelayChainComplete)
        .map(|(t, _)| t.clone())
        .expect("one chain is incomplete");
    assert_eq!(failed, pairs(&table, &[ControlId::RelayChainComplete]));
    let chain = control(&report, &table, ControlId::RelayChainComplete);
    // dr and the bunker behind it: two copies of one backup missing.
    assert_eq!(chain.evidence.len(), 2, "{:#?}", chain.evidence);
    assert!(chain
        .evidence
        .iter()
        .any(|e| e.detail.as_deref() == Some("no COMPLETED copy in 'dr'")));
}

#[tokio::test]
async fn json_csv_and_summary_agree() {
    let world = COMPLIANT.replace(
        "tags: { backup-tier: gold } }\n  - { name: carts",
        "tags: { backup-tier: gold }, pitr: false }\n  - { name: carts",
    );
    let (_, report) = report_of(&world, options(2)).await;
    let json = render::json(&report).unwrap();
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report, "the JSON reads back to the same report");
    let csv = render::csv(&report).unwrap();
    let mut rows = csv.lines();
    assert_eq!(rows.next().unwrap(), render::CSV_HEADERS.join(","));
    let rows: Vec<&str> = rows.collect();
    assert_eq!(rows.len(), report.resources.len() * ControlId::ALL.len());
    let non_compliant_rows = rows
        .iter()
        .filter(|r| r.contains(",NON_COMPLIANT,"))
        .count() as u64;
    let counted: u64 = report
        .summary
        .controls
        .values()
        .map(|c| c.non_compliant)
        .sum();
    assert_eq!(non_compliant_rows, counted);
    let text = render::summary(&report, 10);
    assert!(
        text.starts_with("Compliance: 2 of 3 tables compliant, 1 non-compliant."),
        "{text}"
    );
    assert!(text.contains("RELAY_PITR_ENABLED: point-in-time recovery is off"));
}

#[tokio::test]
async fn an_alert_goes_out_on_change_and_not_on_an_unchanged_day() {
    let (_, first) = report_of(COMPLIANT, options(2)).await;
    let (_, same) = report_of(COMPLIANT, options(2)).await;
    assert!(compliance::changes(Some(&compliance::Verdicts::of(&first)), &same).is_empty());
    let world = COMPLIANT.replace(
        "name: users, account: \"111111111111\", region: us-east-1,",
        "name: users, account: \"111111111111\", region: us-east-1, pitr: false,",
    );
    let (_, worse) = report_of(&world, options(2)).await;
    let changes = compliance::changes(Some(&compliance::Verdicts::of(&first)), &worse);
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].name.as_str(), changes[0].now),
        ("users", Status::NonCompliant)
    );
    assert!(changes[0].reasons[0].contains("point-in-time recovery is off"));
    let back = compliance::changes(Some(&compliance::Verdicts::of(&worse)), &first);
    assert_eq!(
        (back.len(), back[0].now, back[0].reasons.len()),
        (1, Status::Compliant, 0)
    );
}

/// The report of `world` under the example policy with `compliance` appended to it.
async fn report_under(compliance: &str, world: &str) -> Report {
    let text = format!("{EXAMPLE}{compliance}");
    let policy = Policy::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let world = WorldFile::parse(world, &policy).unwrap_or_else(|e| panic!("{e}"));
    let mut sim = Simulation::with_world(policy, &world, options(3));
    sim.run().await;
    sim.compliance_report(&compliance::policy_digest(&text))
        .await
}

#[tokio::test]
async fn an_account_refusing_the_executor_role_is_a_gap_and_nothing_there_is_guessed() {
    let world = format!("{COMPLIANT}accounts:\n  \"333333333333\": {{ executor_role: false }}\n");
    let (_, report) = report_of(&world, options(3)).await;
    assert!(
        report.gaps.iter().any(|g| g.account == "333333333333"),
        "{:?}",
        report.gaps
    );
    let chain = control(&report, "orders", ControlId::RelayChainComplete);
    assert_eq!(chain.status, Status::NonCompliant);
    assert!(
        chain.reason.contains("could not be verified"),
        "{}",
        chain.reason
    );
    assert!(chain.evidence.iter().all(|e| e
        .detail
        .as_deref()
        .is_some_and(|d| d.starts_with("not verified: 'bunker' could not be read"))));
    let never = control(&report, "orders", ControlId::RelayNeverExpireRetention);
    assert_eq!(never.status, Status::NonCompliant, "{}", never.reason);
    assert!(
        never.reason.contains("could not be read"),
        "{}",
        never.reason
    );
    let lock = control(
        &report,
        "orders",
        ControlId::BackupResourcesProtectedByBackupVaultLock,
    );
    assert!(
        lock.reason.contains("'bunker' could not be read"),
        "{}",
        lock.reason
    );
}

#[tokio::test]
async fn listing_the_tables_own_region_or_account_asks_for_nothing_more() {
    let world = COMPLIANT.replace(
        "tables:\n",
        "tables:\n  - { name: audit, account: \"111111111111\", region: us-east-1 }\n",
    );
    let report = report_under(
        "compliance: { cross_region_list: [us-east-1], cross_account_list: [\"111111111111\"] }\n",
        &world,
    )
    .await;
    for id in [
        ControlId::BackupResourcesProtectedByCrossRegion,
        ControlId::BackupResourcesProtectedByCrossAccount,
    ] {
        assert_eq!(
            control(&report, "audit", id).status,
            Status::NonCompliant,
            "{id:?}"
        );
        assert_eq!(
            control(&report, "orders", id).status,
            Status::Compliant,
            "{id:?}"
        );
    }
    let listed = report_under(
        "compliance: { cross_region_list: [us-west-2, eu-west-1] }\n",
        COMPLIANT,
    )
    .await;
    let c = control(
        &listed,
        "orders",
        ControlId::BackupResourcesProtectedByCrossRegion,
    );
    assert_eq!(
        (c.status, c.evidence.len()),
        (Status::Compliant, 2),
        "{}",
        c.reason
    );
}

#[tokio::test]
async fn a_table_backed_up_into_a_vault_mid_chain_is_held_to_the_routes_from_there() {
    let world = "tables:\n  - { name: orders, account: \"111111111111\", region: us-east-1, tags: { backup-tier: gold } }\n  - { name: ledger, account: \"222222222222\", region: us-east-1, tags: { backup-tier: gold } }\nbackup_plans:\n  - { vault: primary, every_hours: 24, delete_after_days: 35 }\n  - { vault: central, every_hours: 24, delete_after_days: 35 }\nvaults:\n  bunker: { access_policy_allows_copy_from: [] }\n";
    let (_, report) = report_of(world, options(3)).await;
    // The bunker refuses every copy: both tables' chains stop at dr, the simulator's count and
    // the report's agree that ledger has chains too (from central).
    for table in ["orders", "ledger"] {
        let chain = control(&report, table, ControlId::RelayChainComplete);
        assert_eq!(
            chain.status,
            Status::NonCompliant,
            "{table}: {}",
            chain.reason
        );
        assert!(
            chain
                .evidence
                .iter()
                .all(|e| e.vault.as_deref().is_some_and(|v| v.ends_with(":bunker"))),
            "{table}"
        );
    }
}

#[tokio::test]
async fn a_plans_never_copy_of_a_table_no_route_selects_is_still_held_to_100_years() {
    let world = format!(
        "{}backup_plans:\n  - {{ vault: primary, every_hours: 24, delete_after_days: 35, copy_to: bunker }}\n",
        COMPLIANT
            .replace("tables:\n", "tables:\n  - { name: audit, account: \"111111111111\", region: us-east-1 }\n")
            .replace("    lock: { min_retention_days: 1, max_retention_days: 36500 }\n", "    lock: { min_retention_days: 1, max_retention_days: 3650 }\n")
    );
    let (_, report) = report_of(&world, options(2)).await;
    let never = control(&report, "audit", ControlId::RelayNeverExpireRetention);
    assert_eq!(never.status, Status::NonCompliant, "{}", never.reason);
    assert!(!never.evidence.is_empty());
}

#[tokio::test]
async fn a_second_breakage_of_a_non_compliant_table_is_a_change() {
    let pitr_off = COMPLIANT.replace(
        "name: users, account: \"111111111111\", region: us-east-1,",
        "name: users, account: \"111111111111\", region: us-east-1, pitr: false,",
    );
    let (_, before) = report_of(&pitr_off, options(2)).await;
    let world = format!("{pitr_off}regions:\n  - {{ account: \"111111111111\", region: us-east-1, advanced_features: false }}\n");
    let (_, after) = report_of(&world, options(2)).await;
    let changed = compliance::changes(Some(&compliance::Verdicts::of(&before)), &after);
    let users = changed
        .iter()
        .find(|c| c.name == "users")
        .expect("users changed");
    assert_eq!(
        (users.was, users.now),
        (Some(Status::NonCompliant), Status::NonCompliant)
    );
    assert!(users
        .reasons
        .iter()
        .any(|r| r.starts_with("RELAY_ADVANCED_FEATURES")));
}
