//! Vault sets over a simulated organisation: members from the OU tree (nested OUs, exclusions),
//! an account that joins mid-run covered with no policy change, and the report covering every
//! table in scope, also where no vault of the policy is.

use relay_compliance::Status;
use relay_core::policy::Policy;
use relay_core::world_file::WorldFile;
use relay_sim::{Faults, Simulation};
use relay_tests::sim_options as options;

const ORG_POLICY: &str = include_str!("../../../infra/examples/organization-policy.yaml");

const WORLD: &str = r#"
organization:
  organizational_units:
    ou-ab12-cdef3456: ["100000000001", "999999999999", ou-ab12-aaaa1111]
    ou-ab12-aaaa1111: ["100000000002"]
  joins: { "100000000002": 1 }
tables:
  - { name: orders, account: "100000000001", region: us-east-1, tags: { backup-tier: gold } }
  - { name: users, account: "100000000002", region: eu-west-1, tags: { backup-tier: gold } }
  - { name: excluded, account: "999999999999", region: us-east-1, tags: { backup-tier: gold } }
"#;

fn policy() -> Policy {
    Policy::parse(ORG_POLICY).unwrap()
}

#[tokio::test]
async fn a_nested_ou_member_joining_mid_run_is_chained_with_no_policy_change() {
    let p = policy();
    let world = WorldFile::parse(WORLD, &p).unwrap();
    let mut sim = Simulation::with_world(p, &world, options(3, 1, 7, Faults::none()));
    let s = sim.run().await;
    // orders: 3 days; users: 2 days (its account joins on day 1). The excluded account's
    // table gets no spoke from the policy, so no chains.
    assert_eq!(s.chains_total, 5, "{s:#?}");
    assert_eq!(s.chains_complete, s.chains_total, "{s:#?}");
    assert_eq!(s.duplicate_copy_jobs, 0);
    assert_eq!(s.chains_incomplete_unalerted, 0);
    assert_eq!(s.member_accounts, 2);
    // Each member's chain: its local-dr (same account), central, dr, bunker.
    assert_eq!(s.hops_required, 5 * 4);
    let w = sim.sim.world();
    let in_vault = |account: &str, name: &str| {
        w.recovery_points
            .values()
            .filter(|rp| rp.vault.account == account && rp.vault.name == name)
            .count()
    };
    assert_eq!(in_vault("100000000002", "local-dr"), 2);
    assert_eq!(in_vault("100000000001", "local-dr"), 3);
    assert_eq!(in_vault("999999999999", "primary"), 0);
    assert!(sim
        .policy
        .vault("primary[100000000002/eu-west-1]")
        .is_some());
}

#[tokio::test]
async fn a_faulty_organisation_run_still_completes_or_alerts_every_chain() {
    for seed in [1, 2, 3] {
        let p = policy();
        let world = WorldFile::parse(WORLD, &p).unwrap();
        let mut sim = Simulation::with_world(
            p,
            &world,
            options(3, 1, seed, relay_sim::SimOptions::default().faults),
        );
        let s = sim.run().await;
        assert_eq!(s.chains_incomplete_unalerted, 0, "seed {seed}: {s:#?}");
        assert_eq!(s.duplicate_copy_jobs, 0, "seed {seed}");
    }
}

#[tokio::test]
async fn the_report_covers_a_table_in_an_account_without_a_vault_and_says_why() {
    // The example policy with a report scope of listed accounts: 444444444444 holds no vault.
    let text = include_str!("../../../infra/examples/policy.yaml").to_string()
        + "compliance:\n  scope: { accounts: [\"111111111111\", \"444444444444\"], regions: [us-east-1, ap-south-1] }\n";
    let p = Policy::parse(&text).unwrap();
    let world = r#"
tables:
  - { name: orders, account: "111111111111", region: us-east-1, tags: { backup-tier: gold } }
  - { name: stray, account: "111111111111", region: ap-south-1, tags: { backup-tier: gold } }
  - { name: payments, account: "444444444444", region: us-east-1, tags: { backup-tier: gold } }
"#;
    let world = WorldFile::parse(world, &p).unwrap();
    let mut sim = Simulation::with_world(p, &world, options(2, 1, 1, Faults::none()));
    sim.run().await;
    let report = sim.compliance_report("sha256:test").await;
    let names: Vec<&str> = report.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for name in ["stray", "payments"] {
        let r = report.resources.iter().find(|r| r.name == name).unwrap();
        assert_eq!(r.status, Status::NonCompliant);
        let plan = r
            .controls
            .iter()
            .find(|c| c.id == relay_compliance::ControlId::BackupResourcesProtectedByBackupPlan)
            .unwrap();
        assert!(
            plan.reason.contains("no vault of the policy"),
            "{}",
            plan.reason
        );
    }
}

/// A random OU tree: `parents[i]` is the parent of OU i+1 (OU 0 is the top); `homes[a]` is the
/// OU account a sits in.
fn random_world(parents: &[usize], homes: &[usize], joins: &[Option<u32>]) -> String {
    let ou = |i: usize| format!("ou-ab12-{i:08}");
    let mut units: Vec<Vec<String>> = vec![Vec::new(); parents.len() + 1];
    for (i, p) in parents.iter().enumerate() {
        units[p % (i + 1)].push(ou(i + 1));
    }
    let n = units.len();
    for (a, home) in homes.iter().enumerate() {
        units[home % n].push(format!("\"{}\"", 100_000_000_001u64 + a as u64));
    }
    let mut text = String::from("organization:\n  organizational_units:\n");
    for (i, entries) in units.iter().enumerate() {
        text.push_str(&format!("    {}: [{}]\n", ou(i), entries.join(", ")));
    }
    let joins: Vec<String> = joins
        .iter()
        .enumerate()
        .filter_map(|(a, d)| d.map(|d| format!("\"{}\": {d}", 100_000_000_001u64 + a as u64)))
        .collect();
    text.push_str(&format!("  joins: {{ {} }}\n", joins.join(", ")));
    text
}

/// A policy whose sets cover OU 0 (and everything nested), minus `excluded`.
fn random_set_policy(excluded: &[usize]) -> Policy {
    let ex: Vec<String> = excluded
        .iter()
        .map(|a| format!("\"{}\"", 100_000_000_001u64 + *a as u64))
        .collect();
    let scope = format!(
        "accounts: {{ organizational_units: [ou-ab12-00000000] }}, exclude_accounts: [{}]",
        ex.join(", ")
    );
    Policy::parse(&format!(
        "version: 1\ncopy_role: \"arn:aws:iam::{{account}}:role/copy\"\nvaults:\n  primary: {{ name: primary, {scope}, regions: [us-east-1, eu-west-1] }}\n  local: {{ name: local, {scope}, regions: [us-west-2], retention: {{ delete_after_days: 7 }} }}\n  central: {{ arn: \"arn:aws:backup:us-east-1:222222222222:backup-vault:central\", retention: never_expire }}\nroutes:\n  - {{ from: primary, to: central }}\n  - {{ from: primary, to: local }}\n  - {{ from: local, to: central }}\n"
    ))
    .unwrap()
}

proptest::proptest! {
    #![proptest_config(relay_tests::property_config(24))]

    /// On random OU trees (nesting, exclusions, accounts joining late) under random faults:
    /// each member is covered from the day it joins, each excluded account never, and the
    /// promise holds (one copy per original and vault, every chain complete or alerted).
    #[test]
    fn sets_expand_over_random_organisations_and_the_promise_holds(
        parents in proptest::collection::vec(0usize..8, 0..6),
        homes in proptest::collection::vec(0usize..8, 1..6),
        joins in proptest::collection::vec(proptest::option::weighted(0.3, 1u32..3), 6),
        excluded in proptest::collection::vec(0usize..6, 0..2),
        lose in 0.0f64..0.4,
        duplicate in 0.0f64..0.6,
        seed in 0u64..1000,
    ) {
        let joins = &joins[..homes.len()];
        let policy = random_set_policy(&excluded);
        let world = random_world(&parents, &homes, joins);
        let world = WorldFile::parse(&world, &policy).unwrap();
        let members = policy.membership(&world.org_tree(&Default::default(), None));
        let expected: std::collections::BTreeSet<String> = (0..homes.len())
            .filter(|a| !excluded.contains(a))
            .map(|a| format!("{}", 100_000_000_001u64 + a as u64))
            .collect();
        proptest::prop_assert_eq!(&members["primary"], &expected);
        let expanded = policy.expand(&members);
        proptest::prop_assert_eq!(expanded.vaults.len(), 1 + expected.len() * 3);
        for route in &expanded.routes {
            let from = expanded.vault(&route.from).unwrap();
            let to = expanded.vault(&route.to).unwrap();
            if to.member_of.is_some() {
                proptest::prop_assert_eq!(&from.arn.account, &to.arn.account);
            }
        }
        let faults = Faults { lose, duplicate, ..Faults::none() };
        let mut sim = Simulation::with_world(policy, &world, options(3, 1, seed, faults));
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let s = runtime.block_on(sim.run());
        proptest::prop_assert_eq!(s.duplicate_copy_jobs, 0);
        proptest::prop_assert_eq!(s.chains_incomplete_unalerted, 0, "{:#?}", s);
        // A member's tables are chained only from the day it joins.
        let days: u64 = (0..homes.len())
            .filter(|a| !excluded.contains(a))
            .map(|a| 3 - u64::from(joins[a].unwrap_or(0)))
            .sum();
        // Two Regions of `primary`, one generated table per root vault.
        proptest::prop_assert_eq!(s.chains_total, days * 2);
    }
}

#[tokio::test]
async fn a_missing_central_vault_is_one_alert_for_every_member_route_into_it() {
    let p = policy();
    let world = r#"
organization:
  organizational_units:
    ou-ab12-cdef3456: ["100000000001", "100000000002", "100000000003"]
vaults:
  central: { exists: false }
"#;
    let world = WorldFile::parse(world, &p).unwrap();
    let mut sim = Simulation::with_world(p, &world, options(2, 1, 3, Faults::none()));
    let s = sim.run().await;
    assert_eq!(s.chains_incomplete_unalerted, 0, "{s:#?}");
    let w = sim.sim.world();
    let about_central: Vec<&str> = w
        .alerts
        .iter()
        .map(|a| a.subject.as_str())
        .filter(|s| s.contains("central"))
        .collect();
    for a in &w.alerts {
        eprintln!(
            "ALERT {} | {:?} {:?} {:?}",
            a.subject, a.account, a.route, a.hop
        );
    }
    // The reconciler's: one for the vault, not one per member route (six here).
    let reconciler = about_central
        .iter()
        .filter(|s| s.contains("does not exist"))
        .count();
    assert!(reconciler <= 1, "{about_central:#?}");
}

/// A set's members copy into one central vault: each member's route asks the central vault about
/// its own tables only, and only where the ledger does not already account for the hop (a copy
/// recorded as made and tagged, or a job still in flight). Beside it, a backup plan's own copy
/// action into the same vault (whose copies the ledger may not know): no copy is made twice.
#[tokio::test]
async fn a_fan_in_route_asks_the_destination_only_what_the_ledger_does_not_account_for() {
    for plan in [
        "",
        "backup_plans:\n  - { vault: primary, every_hours: 24, copy_to: central }\n",
    ] {
        let world = relay_tests::two_member_world(12, plan);
        let p = policy();
        let world = WorldFile::parse(&world, &p).unwrap_or_else(|e| panic!("{e}"));
        let mut sim = Simulation::with_world(p, &world, options(4, 1, 3, Faults::none()));
        let s = sim.run().await;
        assert_eq!(s.chains_complete, s.chains_total, "{plan}: {s:#?}");
        assert_eq!(s.duplicate_copy_jobs, 0, "{plan}");
        assert_eq!(s.copies_missing_tags, 0, "{plan}");
        let spared: u64 = sim.reconcile_reports.iter().map(|r| r.lookups_spared).sum();
        assert!(spared > 0, "{plan}: no lookup spared");
        if !plan.is_empty() {
            assert!(s.plan_copy_jobs > 0, "{s:#?}");
        }
        // Under every fault (events lost, duplicated, late; copies failing; calls throttled):
        // no copy made twice, every shortfall announced.
        for seed in [1, 2, 3] {
            let faults = relay_sim::SimOptions::default().faults;
            let mut sim = Simulation::with_world(policy(), &world, options(4, 1, seed, faults));
            let s = sim.run().await;
            assert_eq!(s.duplicate_copy_jobs, 0, "{plan} seed {seed}: {s:#?}");
            assert_eq!(
                s.chains_incomplete_unalerted, 0,
                "{plan} seed {seed}: {s:#?}"
            );
        }
    }
}

/// The other side of sparing lookups: a copy deleted from the central vault after the ledger
/// recorded it as made is still found by the reconciler, within a day (each table is asked of
/// the destination in one hour of the day whatever the ledger says), and alerted once.
#[tokio::test]
async fn a_copy_deleted_from_a_fan_in_destination_after_it_was_recorded_is_alerted_within_a_day() {
    let world = relay_tests::two_member_world(12, "");
    let world = WorldFile::parse(&world, &policy()).unwrap();
    let mut sim = Simulation::with_world(policy(), &world, options(2, 1, 5, Faults::none()));
    let s = sim.run().await;
    assert_eq!(s.chains_complete, s.chains_total, "{s:#?}");
    let central = sim.vault_arn("central").unwrap();
    let missing = |sim: &Simulation| {
        let w = sim.sim.world();
        w.alerts
            .iter()
            .filter(|a| a.subject.contains("missing (recorded as made)"))
            .count()
    };
    assert_eq!(missing(&sim), 0);
    {
        let mut w = sim.sim.world();
        let victim = w
            .recovery_points
            .values()
            .filter(|rp| rp.vault == central && rp.source.is_some())
            .map(|rp| rp.arn.clone())
            .max()
            .unwrap();
        w.remove_point(&victim).unwrap();
    }
    let spared_before: u64 = sim.reconcile_reports.iter().map(|r| r.lookups_spared).sum();
    for _ in 0..25 {
        let now = sim.sim.world().now;
        sim.sim.world().now = now + chrono::Duration::hours(1);
        sim.reconcile().await;
    }
    let spared: u64 = sim.reconcile_reports.iter().map(|r| r.lookups_spared).sum();
    assert!(spared > spared_before, "the day's passes spared lookups");
    assert_eq!(missing(&sim), 1, "one alert for the deleted copy");
}

/// Points a world says a fan-in vault already holds are copies its members made: each names the
/// member vault of its table's own account and Region as its source, and carries that route.
#[test]
fn held_copies_in_a_fan_in_vault_name_their_tables_own_member_as_source() {
    let p = policy();
    let text = relay_tests::two_member_world(10, "vaults:\n  central: { held_points: 40 }\n");
    let world = WorldFile::parse(&text, &p).unwrap();
    let sim = Simulation::with_world(p.clone(), &world, options(1, 1, 7, Faults::none()));
    let w = sim.sim.world();
    let central = &p.vault("central").unwrap().arn;
    let held: Vec<_> = w
        .recovery_points
        .values()
        .filter(|rp| &rp.vault == central)
        .collect();
    assert_eq!(held.len(), 40);
    assert!(sim.held_short.is_empty(), "{:?}", sim.held_short);
    for rp in held {
        let account = rp.resource_arn.split(':').nth(4).unwrap();
        let member = format!("arn:aws:backup:us-east-1:{account}:backup-vault:primary");
        assert_eq!(
            w.view_of(rp).source_vault_arn,
            Some(member),
            "{}",
            rp.resource_arn
        );
        let route = w
            .point_tags
            .get(&rp.arn)
            .and_then(|t| t.get("backup-relay:route"));
        let wanted = format!("primary.{account}/us-east-1 to central");
        assert_eq!(route, Some(&wanted));
    }
}

/// Held points past what a vault's retention keeps are not made, and the world says so: the
/// run is of fewer points than asked, never silently.
#[test]
fn held_points_past_the_retention_are_said_not_made() {
    let p = policy();
    let text = relay_tests::two_member_world(4, "vaults:\n  local-dr: { held_points: 5000 }\n");
    let world = WorldFile::parse(&text, &p).unwrap();
    let sim = Simulation::with_world(p.clone(), &world, options(1, 1, 7, Faults::none()));
    // Each account's local DR vault keeps 14 days of its two tables' copies.
    assert_eq!(sim.held_short.len(), 2, "{:?}", sim.held_short);
    let in_local_dr = sim
        .sim
        .world()
        .recovery_points
        .values()
        .filter(|rp| rp.vault.name == "local-dr")
        .count();
    let made: usize = sim.held_short.iter().map(|s| s.made as usize).sum();
    assert_eq!(made, in_local_dr);
    for short in &sim.held_short {
        assert!(short.vault.starts_with("local-dr"), "{short:?}");
        assert_eq!((short.asked, short.tables), (5000, 2));
        assert!(short.made > 0 && short.made <= 2 * 14, "{short:?}");
        let warning = short.warning();
        assert!(
            warning.contains("retention keeps no older copies"),
            "{warning}"
        );
    }
}

/// Points a world says a set's members hold are their plans' own backups, of their own account
/// and Region's tables only, and the copies the run makes of them carry their tags.
#[tokio::test]
async fn held_backups_in_a_sets_members_are_of_their_own_tables() {
    let p = policy();
    let text = relay_tests::two_member_world(4, "vaults:\n  primary: { held_points: 5 }\n");
    let world = WorldFile::parse(&text, &p).unwrap();
    let mut sim = Simulation::with_world(p.clone(), &world, options(1, 1, 7, Faults::none()));
    {
        let w = sim.sim.world();
        let mut held = 0;
        for rp in w
            .recovery_points
            .values()
            .filter(|rp| rp.vault.name == "primary")
        {
            let table = relay_core::arn::TableArn::parse(&rp.resource_arn).unwrap();
            assert_eq!(
                (&table.account, &table.region),
                (&rp.vault.account, &rp.vault.region)
            );
            held += 1;
        }
        let all: Vec<String> = w
            .recovery_points
            .values()
            .map(|rp| rp.vault.to_string())
            .collect();
        assert_eq!(held, 10, "5 in each member with tables: {all:?}");
    }
    let s = sim.run().await;
    assert_eq!(s.copies_missing_tags, 0, "{s:?}");
}

/// Held copies in a set -> set route's members are of their own account's tables only: each
/// account's primary copies into its own local DR vault.
#[test]
fn held_copies_in_a_set_to_set_destination_are_of_the_members_own_tables() {
    let p = policy();
    let text = relay_tests::two_member_world(4, "vaults:\n  local-dr: { held_points: 6 }\n");
    let world = WorldFile::parse(&text, &p).unwrap();
    let sim = Simulation::with_world(p.clone(), &world, options(1, 1, 7, Faults::none()));
    let w = sim.sim.world();
    let held: Vec<_> = w
        .recovery_points
        .values()
        .filter(|rp| rp.vault.name == "local-dr")
        .collect();
    assert_eq!(held.len(), 12, "6 in each account's local DR vault");
    for rp in held {
        let table = relay_core::arn::TableArn::parse(&rp.resource_arn).unwrap();
        assert_eq!(table.account, rp.vault.account, "{}", rp.resource_arn);
        let source = w.view_of(rp).source_vault_arn.unwrap();
        let primary = format!(
            "arn:aws:backup:us-east-1:{}:backup-vault:primary",
            table.account
        );
        assert_eq!(source, primary);
    }
}

/// A held copy of a day whose original is held too carries that original's lineage, as the
/// product would have tagged it: the run counts no copy without its tags.
#[tokio::test]
async fn held_copies_of_held_originals_carry_their_lineage() {
    let p = policy();
    let extra = "vaults:\n  primary: { held_points: 5 }\n  local-dr: { held_points: 6 }\n  central: { held_points: 10 }\n";
    let text = relay_tests::two_member_world(4, extra);
    let world = WorldFile::parse(&text, &p).unwrap();
    let mut sim = Simulation::with_world(p.clone(), &world, options(1, 1, 7, Faults::none()));
    let s = sim.run().await;
    assert_eq!(s.copies_missing_tags, 0, "{s:?}");
}

/// An account that leaves the organisation mid-run: from that day no copy starts from its vaults
/// (its backups go on, as its own plan makes them, and are not chained), nothing it already had
/// copied is lost, and its leaving raises no alert.
#[tokio::test]
async fn a_member_leaving_mid_run_gets_no_new_copies_loses_nothing_and_raises_no_alert() {
    let world = WORLD.replace(
        "  joins: { \"100000000002\": 1 }",
        "  leaves: { \"100000000002\": 2 }",
    );
    let p = policy();
    let world = WorldFile::parse(&world, &p).unwrap();
    let options = options(4, 1, 11, Faults::none());
    let start = options.start;
    let mut sim = Simulation::with_world(p, &world, options);
    let s = sim.run().await;
    assert_eq!((s.alerts, s.chains_incomplete_unalerted), (0, 0), "{s:#?}");
    assert_eq!(
        s.member_accounts, 1,
        "the leaver is no member on the last day"
    );
    let w = sim.sim.world();
    let leaver = "100000000002";
    let left_at = start + chrono::Duration::days(2);
    let late_copies = w
        .jobs
        .iter()
        .filter(|j| j.source_vault.account == leaver && j.created_at >= left_at)
        .count();
    assert_eq!(
        late_copies, 0,
        "no copy from a vault of an account that left"
    );
    // Its two days as a member: every copy made is still held, in its own local-dr and in
    // central, dr and the bunker.
    let copies_of_leaver = |name: &str| {
        w.recovery_points
            .values()
            .filter(|rp| rp.source.is_some() && rp.resource_arn.contains(leaver))
            .filter(|rp| rp.vault.name == name)
            .count()
    };
    for vault in ["local-dr", "central", "dr", "bunker"] {
        assert_eq!(copies_of_leaver(vault), 2, "{vault}");
    }
    assert!(
        w.recovery_points.values().any(|rp| rp.source.is_none()
            && rp.vault.account == leaver
            && rp.creation_date >= left_at),
        "its own plan goes on backing up"
    );
}

/// `relay emulate`'s clock after the history: an account that joins after it gets its spoke
/// (its member vaults) and its plan's backups on the day it joins, and the policy in force
/// covers it, as in a run.
#[tokio::test]
async fn the_emulators_clock_reads_organizations_each_day_so_a_late_joiner_gets_its_spoke() {
    let world = WORLD.replace(
        "  joins: { \"100000000002\": 1 }",
        "  joins: { \"100000000002\": 3 }",
    );
    let p = policy();
    let world = WorldFile::parse(&world, &p).unwrap();
    let mut sim = Simulation::with_world(p, &world, options(1, 1, 5, Faults::none()));
    sim.run().await;
    let joiner = "primary[100000000002/eu-west-1]";
    assert!(sim.policy.vault(joiner).is_none(), "not a member yet");
    let now = sim.now();
    let mut running = sim.keep_running(now);
    let mut until = now;
    while until < sim.options.start + chrono::Duration::days(4) + chrono::Duration::hours(12) {
        until += chrono::Duration::hours(6);
        sim.advance(&mut running, until).await;
    }
    let vault = sim.policy.vault(joiner).map(|v| v.arn.clone());
    let vault = vault.expect("a member from day 3");
    let w = sim.sim.world();
    assert!(w.vaults.contains_key(&vault), "its spoke's vault exists");
    let backups = w
        .recovery_points
        .values()
        .filter(|rp| rp.vault == vault && rp.source.is_none())
        .count();
    assert!(backups >= 1, "its plan backs up from the day it joins");
}

/// One member's key is not shared with the central account: its copies into central fail every
/// day, while the other member's land. That is one alert for that account's copies into central,
/// kept open (the other account's copies landing fix nothing of it), not one a day.
#[tokio::test]
async fn one_members_unshared_key_is_one_alert_kept_open_while_others_copies_land() {
    let p = policy();
    let world = WorldFile::parse(WORLD, &p).unwrap();
    let mut sim = Simulation::with_world(p, &world, options(5, 1, 13, Faults::none()));
    let member = sim.vault_arn("primary[100000000001/us-east-1]").unwrap();
    sim.sim.world().vault_mut(&member).unwrap().kms_shared_with = Some(Default::default());
    let s = sim.run().await;
    assert_eq!(s.chains_incomplete_unalerted, 0, "{s:#?}");
    let w = sim.sim.world();
    let central = sim.vault_arn("central").unwrap().to_string();
    let about_central: Vec<&str> = w
        .alerts
        .iter()
        .filter(|a| a.vault.as_deref() == Some(central.as_str()))
        .map(|a| a.subject.as_str())
        .collect();
    assert_eq!(about_central.len(), 1, "{about_central:#?}");
    let open: Vec<&String> = w
        .incidents
        .keys()
        .filter(|k| k.starts_with("copies#"))
        .collect();
    assert_eq!(open.len(), 1, "{open:?}");
    assert!(open[0].ends_with("#kms#100000000001"), "{open:?}");
    // The other member's copies into central were made all along.
    let landed = w
        .recovery_points
        .values()
        .filter(|rp| rp.vault.name == "central" && rp.resource_arn.contains("100000000002"))
        .count();
    assert!(landed >= 3, "{landed}");
}

/// Every member refusing the hub (a StackSet update broke the executor role's trust everywhere)
/// is a few alerts, not one an account: the first three accounts' own, then one for the rest;
/// every chain still announced.
#[tokio::test]
async fn many_unreachable_members_are_a_few_alerts_and_every_chain_announced() {
    let members: String = (0..8)
        .map(|i| format!("  \"1000000000{i:02}\": {{ executor_role: false }}\n"))
        .collect();
    let text = format!(
        "generate:\n  accounts: 8\n  organizational_unit: ou-ab12-cdef3456\n  regions: [us-east-1]\n  tables_per_account_region: 1\n  tags: {{ backup-tier: gold }}\naccounts:\n{members}"
    );
    let p = policy();
    let world = WorldFile::parse(&text, &p).unwrap();
    let mut sim = Simulation::with_world(p, &world, options(2, 1, 7, Faults::none()));
    let s = sim.run().await;
    assert_eq!(s.member_accounts, 8);
    assert_eq!(s.chains_complete, 0, "{s:#?}");
    assert_eq!(s.chains_incomplete_unalerted, 0, "{s:#?}");
    let w = sim.sim.world();
    let subjects: Vec<&str> = w.alerts.iter().map(|a| a.subject.as_str()).collect();
    let own = subjects
        .iter()
        .filter(|s| s.starts_with("Backup Relay: cannot reach account"))
        .count();
    let many = subjects
        .iter()
        .filter(|s| **s == relay_core::incident::MANY_UNREACHABLE_SUBJECT)
        .count();
    assert_eq!((own, many), (3, 1), "{subjects:#?}");
    // Every member's own incident is open (the rest covered by the family's), and the family's.
    let open = w
        .incidents
        .keys()
        .filter(|k| k.starts_with("account#") || k.starts_with("many#account"))
        .count();
    assert_eq!(open, 9, "{:?}", w.incidents.keys().collect::<Vec<_>>());
}

/// Tagging refused in every member (an SCP denying backup:TagResource organisation-wide) is a
/// few alerts, not one an account.
#[tokio::test]
async fn tagging_refused_in_every_member_is_a_few_alerts() {
    let text = "generate:\n  accounts: 8\n  organizational_unit: ou-ab12-cdef3456\n  regions: [us-east-1]\n  tables_per_account_region: 1\n  tags: { backup-tier: gold }\n";
    let p = policy();
    let world = WorldFile::parse(text, &p).unwrap();
    let mut sim = Simulation::with_world(p, &world, options(2, 1, 7, Faults::none()));
    {
        let mut w = sim.sim.world();
        for i in 0..8 {
            w.tagging_refused.insert(format!("1000000000{i:02}"));
        }
    }
    let s = sim.run().await;
    assert_eq!(s.chains_complete, s.chains_total, "{s:#?}");
    assert!(s.copies_missing_tags > 0);
    let w = sim.sim.world();
    let tagging: Vec<&str> = w
        .alerts
        .iter()
        .map(|a| a.subject.as_str())
        .filter(|s| s.contains("cannot be tagged"))
        .collect();
    let many = tagging
        .iter()
        .filter(|s| s.contains("many accounts"))
        .count();
    assert_eq!((tagging.len(), many), (4, 1), "{tagging:#?}");
}
