//! `relay doctor --world`: each misconfiguration a world file can plant is found by exactly its
//! check (the only one that does not pass, beside the checks it makes impossible to run, which
//! warn), a clean organisation passes every check, and the simulation shows what the
//! misconfiguration breaks.

use relay_core::world_file::WorldFile;
use relay_core::Policy;
use relay_doctor::{DoctorReport, Status, CHECK_IDS};
use relay_sim::{Faults, SimOptions, Simulation};

const EXAMPLE: &str = include_str!("../../../infra/examples/policy.yaml");
const COMPLIANT: &str = include_str!("../../worlds/compliant.yaml");

/// Every misconfiguration a world file can plant, at once.
const EVERY_MISCONFIGURATION: &str = r#"
accounts: { "333333333333": { executor_role: false }, "222222222222": { copy_role: false } }
regions:
  - { account: "111111111111", region: us-east-1, advanced_features: false }
  - { account: "222222222222", region: us-west-2, event_forwarding: false }
organization: { cross_account_backup: false }
vaults:
  central: { access_policy_allows_copy_from: [] }
  primary: { kms_key_shared_with: [] }
"#;

fn simulation(policy_text: &str, world: &str) -> Simulation {
    let policy = Policy::parse(policy_text).unwrap();
    let world = WorldFile::parse(world, &policy).unwrap();
    let options = SimOptions {
        days: 2,
        tables: 2,
        faults: Faults::none(),
        ..SimOptions::default()
    };
    Simulation::with_world(policy, &world, options)
}

async fn doctor(policy_text: &str, world: &str) -> DoctorReport {
    simulation(policy_text, world).doctor().await
}

fn not_passing(report: &DoctorReport, status: Status) -> Vec<(&'static str, String)> {
    report
        .checks
        .iter()
        .filter(|c| c.status == status)
        .map(|c| (c.id, format!("{} {}", c.account, c.subject)))
        .collect()
}

#[tokio::test]
async fn a_clean_organisation_passes_every_check() {
    for world in ["{}", COMPLIANT] {
        let report = doctor(EXAMPLE, world).await;
        assert_eq!(report.summary.fail + report.summary.warn, 0, "{report:#?}");
        let ids: std::collections::BTreeSet<&str> = report.checks.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), CHECK_IDS.len(), "every check ran: {ids:?}");
    }
}

/// A policy edit: (text, replacement).
type Edit = Option<(&'static str, &'static str)>;

/// (world file, policy edit, the check that must fail, what it names).
const PLANTED: &[(&str, Edit, &str, &str)] = &[
    (
        r#"accounts: { "333333333333": { executor_role: false } }"#,
        None,
        "executor_role",
        "333333333333",
    ),
    (
        r#"accounts: { "222222222222": { copy_role: false } }"#,
        None,
        "copy_role",
        "222222222222",
    ),
    (
        "vaults: { dr: { exists: false } }",
        None,
        "vault_exists",
        "dr",
    ),
    (
        "vaults: { bunker: { access_policy_allows_copy_from: [] } }",
        None,
        "vault_access_policy",
        "bunker",
    ),
    (
        r#"vaults: { dr: { kms_key_shared_with: ["222222222222"] } }"#,
        None,
        "kms_key_shared",
        "dr",
    ),
    (
        "vaults: { bunker: { lock: { min_retention_days: 1, max_retention_days: 3650 } } }",
        Some(("on_lock_conflict: clamp", "on_lock_conflict: skip")),
        "vault_lock_bounds",
        "bunker",
    ),
    (
        r#"regions: [ { account: "111111111111", region: us-east-1, advanced_features: false } ]"#,
        None,
        "advanced_features",
        "primary",
    ),
    (
        "organization: { cross_account_backup: false }",
        None,
        "cross_account_backup",
        "organization",
    ),
    (
        r#"organization: { members: ["111111111111", "222222222222"] }"#,
        None,
        "organization_member",
        "333333333333",
    ),
    (
        r#"regions: [ { account: "222222222222", region: us-west-2, event_forwarding: false } ]"#,
        None,
        "event_forwarding",
        "dr",
    ),
    // Where copies only land: the retention guard's events come from there.
    (
        r#"regions: [ { account: "333333333333", region: eu-west-1, event_forwarding: false } ]"#,
        None,
        "event_forwarding",
        "bunker",
    ),
];

#[tokio::test]
async fn each_planted_misconfiguration_is_found_by_exactly_its_check() {
    let mut found = std::collections::BTreeSet::new();
    for (world, edit, id, names) in PLANTED {
        let policy = match edit {
            Some((from, to)) => EXAMPLE.replace(from, to),
            None => EXAMPLE.to_string(),
        };
        let report = doctor(&policy, world).await;
        let failed = not_passing(&report, Status::Fail);
        assert_eq!(failed.len(), 1, "{world}: only {id} fails, got {failed:?}");
        assert_eq!(failed[0].0, *id, "{world}: {failed:?}");
        assert!(
            failed[0].1.contains(names),
            "{world}: {failed:?} names {names}"
        );
        let check = report
            .checks
            .iter()
            .find(|c| c.status == Status::Fail)
            .unwrap();
        assert!(!check.fix.is_empty() && !check.message.is_empty());
        // Checks that could not run beside it say so; none passes unseen.
        for c in report.checks.iter().filter(|c| c.status == Status::Warn) {
            assert!(c.message.starts_with("not checked"), "{world}: {c:?}");
        }
        found.insert(*id);
    }
    // The one a world file cannot plant: the policy itself refuses a Default vault as a
    // cross-account destination, so the doctor never sees one.
    found.insert("vault_not_default");
    assert_eq!(
        found.len(),
        CHECK_IDS.len(),
        "every check has its planted fault"
    );
    let default = EXAMPLE.replace("backup-vault:bunker", "backup-vault:Default");
    let refused = Policy::parse(&default).unwrap_err().to_string();
    assert!(
        refused.contains("cannot receive cross-account copies"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_clamping_lock_is_a_warning_not_a_pass() {
    let world = "vaults: { bunker: { lock: { min_retention_days: 1, max_retention_days: 3650 } } }";
    let report = doctor(EXAMPLE, world).await;
    assert_eq!(
        not_passing(&report, Status::Warn),
        [("vault_lock_bounds", "333333333333 bunker".to_string())]
    );
    assert!(!report.failed());
}

#[tokio::test]
async fn copies_that_inherit_their_retention_into_a_locked_vault_are_a_warning() {
    let world =
        "vaults: { central: { lock: { min_retention_days: 60, max_retention_days: 3650 } } }";
    let policy = EXAMPLE.replace("retention: { delete_after_days: 35 }", "retention: inherit");
    let report = doctor(&policy, world).await;
    assert_eq!(
        not_passing(&report, Status::Warn),
        [("vault_lock_bounds", "222222222222 central".to_string())]
    );
}

#[tokio::test]
async fn every_misconfiguration_at_once_fails_each_check_and_reads_nothing_it_cannot() {
    let report = doctor(EXAMPLE, EVERY_MISCONFIGURATION).await;
    let failed: std::collections::BTreeSet<&str> = not_passing(&report, Status::Fail)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    for id in [
        "executor_role",
        "copy_role",
        "vault_access_policy",
        "kms_key_shared",
        "advanced_features",
        "cross_account_backup",
        "event_forwarding",
    ] {
        assert!(failed.contains(id), "{id} not among {failed:?}");
    }
    // Nothing read in the unreachable account is called a pass (vault_not_default reads nothing:
    // it is the policy's name for the vault).
    for c in report
        .checks
        .iter()
        .filter(|c| c.account == "333333333333" && c.id != "vault_not_default")
    {
        assert_ne!(c.status, Status::Pass, "{c:?}");
    }
}

#[tokio::test]
async fn what_the_doctor_finds_is_what_the_simulation_breaks() {
    // No copy role where copies start: every copy from there fails, and is alerted.
    let mut sim = simulation(
        EXAMPLE,
        r#"accounts: { "222222222222": { copy_role: false } }"#,
    );
    let summary = sim.run().await;
    assert!(
        summary.chains_complete < summary.chains_total,
        "{summary:?}"
    );
    assert!(summary.copy_failures > 0 && summary.alerts > 0);
    assert_eq!(summary.chains_incomplete_unalerted, 0);

    // No forwarding from dr's Region: its events never reach the hub, the reconciler still
    // completes every chain.
    let mut sim = simulation(
        EXAMPLE,
        r#"regions: [ { account: "222222222222", region: us-west-2, event_forwarding: false } ]"#,
    );
    let summary = sim.run().await;
    assert!(summary.events_not_forwarded > 0, "{summary:?}");
    assert_eq!(summary.duplicate_copy_jobs, 0);
    assert_eq!(summary.chains_incomplete_unalerted, 0);
}

#[tokio::test]
async fn a_lock_on_a_plans_own_vault_that_refuses_its_retention_fails_and_the_simulation_shows_why()
{
    let world =
        "vaults:\n  primary: { lock: { min_retention_days: 100, max_retention_days: 36500 } }\n";
    let report = doctor(EXAMPLE, world).await;
    assert_eq!(
        not_passing(&report, Status::Fail),
        vec![("vault_lock_bounds", "111111111111 primary".to_string())],
        "{report:#?}"
    );
    let failed = report
        .checks
        .iter()
        .find(|c| c.status == Status::Fail)
        .unwrap();
    assert!(
        failed.message.contains("keeps backups 35 days"),
        "{failed:?}"
    );

    // AWS fails every backup job into it: the run says why, and one alert tells a person.
    let mut sim = simulation(EXAMPLE, world);
    let s = sim.run().await;
    assert_eq!(s.backups, 0);
    assert!(s.backups_failed > 0);
    assert_eq!(s.backups_failed_unalerted, 0);
    let problems = s.problems().join("; ");
    assert!(
        problems.contains("outside the range the vault lock allows"),
        "{problems}"
    );
    assert!(!problems.contains("no backup plan covers"), "{problems}");
    let w = sim.sim.world();
    let about: Vec<_> = w
        .alerts
        .iter()
        .filter(|a| a.subject.contains("backups into"))
        .collect();
    assert_eq!(about.len(), 1, "{:#?}", w.alerts);
    assert!(about[0]
        .message
        .contains("Likely fix: the vault's lock refuses the plan's retention"));
}

#[tokio::test]
async fn every_member_of_a_set_is_checked_and_one_without_its_spoke_fails_once() {
    let policy = include_str!("../../../infra/examples/organization-policy.yaml");
    let world = r#"
organization:
  organizational_units:
    ou-ab12-cdef3456: ["100000000001", "100000000002", "100000000003"]
accounts:
  "100000000002": { executor_role: false, copy_role: false }
"#;
    let report = doctor(policy, world).await;
    assert_eq!(
        not_passing(&report, Status::Fail),
        [("executor_role", "100000000002 executor role".to_string())]
    );
    // Every member's vaults are checked: two Regions of `primary`, one of `local-dr`, each.
    for account in ["100000000001", "100000000003"] {
        let vaults = report
            .checks
            .iter()
            .filter(|c| c.id == "vault_exists" && c.account == account && c.status == Status::Pass)
            .count();
        assert_eq!(vaults, 3, "{account}");
    }
    // What the missing spoke makes impossible to check warns, naming the cause.
    assert!(not_passing(&report, Status::Warn)
        .iter()
        .all(|(_, subject)| subject.starts_with("100000000002")));
}

/// The doctor checks the organisation as it stands on the run's last day: an account that joins
/// by then is checked with its spoke (here the central vault's access policy refuses it), one
/// that joins later is not yet a member.
#[tokio::test]
async fn a_member_that_joins_by_the_last_day_is_checked_one_that_joins_later_is_not() {
    let policy = include_str!("../../../infra/examples/organization-policy.yaml");
    let world = |joins_on: u32| {
        format!(
            "organization:\n  organizational_units:\n    ou-ab12-cdef3456: [\"100000000001\", \"100000000002\"]\n  joins: {{ \"100000000002\": {joins_on} }}\nvaults:\n  central: {{ access_policy_allows_copy_from: [\"100000000001\"] }}\n"
        )
    };
    // The helper's runs are two days long: day 1 is the last.
    let report = doctor(policy, &world(1)).await;
    let failing = not_passing(&report, Status::Fail);
    assert_eq!(
        failing,
        [("vault_access_policy", "222222222222 central".to_string())]
    );
    let refusal = report
        .checks
        .iter()
        .find(|c| c.id == "vault_access_policy" && c.status == Status::Fail)
        .map(|c| format!("{c:?}"))
        .unwrap_or_default();
    assert!(refusal.contains("100000000002"), "{refusal}");
    let report = doctor(policy, &world(5)).await;
    assert_eq!(not_passing(&report, Status::Fail), [], "not a member yet");
    assert!(!report.checks.iter().any(|c| c.account == "100000000002"));
}

/// The doctor reads in pieces, one per account: however many run at once, the checks are the
/// same, with every fault planted at once and over an organisation.
#[tokio::test]
async fn the_checks_are_the_same_whatever_the_number_of_accounts_read_at_once() {
    let org_policy = include_str!("../../../infra/examples/organization-policy.yaml");
    let org = r#"
organization:
  organizational_units:
    ou-ab12-cdef3456: ["100000000001", "100000000002", "100000000003", "100000000004"]
accounts:
  "100000000002": { executor_role: false, copy_role: false }
"#;
    for (policy_text, world) in [
        (EXAMPLE, COMPLIANT),
        (EXAMPLE, EVERY_MISCONFIGURATION),
        (org_policy, org),
    ] {
        let sim = simulation(policy_text, world);
        let one = relay_doctor::run_with(&sim.sim, &sim.policy, 1).await;
        for n in [2, 16, 64] {
            let many = relay_doctor::run_with(&sim.sim, &sim.policy, n).await;
            assert_eq!(one, many, "{n} at once");
        }
    }
}
