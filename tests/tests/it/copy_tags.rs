//! Tags on copies (contract) on the simulator: every copy a route requires carries the policy's
//! tags, read off the simulated vaults, whatever the faults; nothing is called twice for a copy
//! that has them; an account that refuses is one alert; AWS's 50-tag limit is one alert a route.

use relay_core::copy_tags::{ORIGINAL_TAG, ROUTE_TAG};
use relay_core::policy::Policy;
use relay_core::world_file::WorldFile;
use relay_sim::{Faults, SimOptions, Simulation};
use relay_tests::sim_options as options;

const POLICY: &str = include_str!("../../../infra/examples/policy.yaml");

fn policy_with(tags: &str) -> Policy {
    Policy::parse(&format!("{POLICY}\n{tags}\n")).unwrap()
}

fn copies(sim: &Simulation) -> usize {
    let w = sim.sim.world();
    w.recovery_points
        .values()
        .filter(|rp| rp.source.is_some() && rp.status == "COMPLETED")
        .count()
}

#[tokio::test]
async fn every_copy_carries_the_originals_tags_and_its_lineage_under_every_fault() {
    for seed in 1..=4 {
        let mut sim = Simulation::new(
            policy_with(""),
            options(3, 6, seed, SimOptions::default().faults),
        );
        let s = sim.run().await;
        assert_eq!(s.chains_complete, s.chains_total, "seed {seed}");
        assert_eq!(s.copies_missing_tags, 0, "seed {seed}: {s:#?}");
        let w = sim.sim.world();
        // Read off the vaults: the bunker's copies name their original in primary and the
        // route that made them, and carry the table's tags.
        let bunker = sim.vault_arn("bunker").unwrap();
        let primary = sim.vault_arn("primary").unwrap();
        let mut seen = 0;
        // A PARTIAL copy is a failed attempt, not the route's copy: it keeps what AWS carried
        // across Regions and nothing of ours.
        for rp in w.points_in(&bunker).filter(|rp| rp.status == "COMPLETED") {
            let tags = w.tags_of_point(&rp.arn).unwrap();
            assert_eq!(
                tags.get(ROUTE_TAG).map(String::as_str),
                Some("dr to bunker")
            );
            let original = &w.recovery_points[&tags[ORIGINAL_TAG]];
            assert_eq!(original.vault, primary);
            assert_eq!(original.creation_date, rp.creation_date);
            assert_eq!(tags.get("backup-tier").map(String::as_str), Some("gold"));
            seen += 1;
        }
        assert!(seen > 0);
    }
}

#[tokio::test]
async fn a_copy_that_has_its_tags_costs_no_call_and_a_second_pass_changes_nothing() {
    let mut sim = Simulation::new(policy_with(""), options(2, 4, 7, Faults::none()));
    let s = sim.run().await;
    assert_eq!(s.copies_missing_tags, 0);
    // Without faults, one TagResource per copy, except the cross-Region copies whose carried
    // tags (AWS copies the source's) already held the table's: they still lacked the route.
    assert_eq!(s.tag_calls, copies(&sim) as u64, "{s:#?}");
    let before = sim.sim.world().counters.tag_calls;
    sim.reconcile().await;
    sim.reconcile().await;
    assert_eq!(sim.sim.world().counters.tag_calls, before);
}

#[tokio::test]
async fn lost_answers_and_throttling_leave_no_copy_bare() {
    let faults = Faults {
        throttle: 0.2,
        ..Faults::none()
    };
    let mut sim = Simulation::new(policy_with(""), options(2, 4, 3, faults));
    sim.sim.world().lost_tag_answers = 25;
    let s = sim.run().await;
    assert_eq!(s.chains_complete, s.chains_total);
    assert_eq!(s.copies_missing_tags, 0, "{s:#?}");
    assert_eq!(
        sim.sim.world().lost_tag_answers,
        0,
        "every lost answer was used"
    );
}

#[tokio::test]
async fn an_account_that_refuses_tagging_is_one_alert_and_its_copies_are_counted_bare() {
    let mut sim = Simulation::new(
        policy_with(""),
        options(3, 4, 5, SimOptions::default().faults),
    );
    sim.sim
        .world()
        .tagging_refused
        .insert("333333333333".to_string());
    let s = sim.run().await;
    assert_eq!(
        s.chains_complete, s.chains_total,
        "copies are made all the same"
    );
    let bunker_copies = {
        let w = sim.sim.world();
        w.points_in(&sim.vault_arn("bunker").unwrap())
            .filter(|rp| rp.status == "COMPLETED")
            .count() as u64
    };
    assert!(bunker_copies > 0);
    assert_eq!(s.copies_missing_tags, bunker_copies);
    let w = sim.sim.world();
    let tag_alerts: Vec<_> = w
        .alerts
        .iter()
        .filter(|a| a.subject.contains("cannot be tagged"))
        .collect();
    assert_eq!(tag_alerts.len(), 1, "{tag_alerts:#?}");
    assert!(tag_alerts[0].message.contains("333333333333"));
}

#[tokio::test]
async fn past_fifty_tags_the_rule_drops_the_last_and_alerts_once_per_route() {
    let tags: Vec<String> = (0..60).map(|i| format!("k{i:02}: v")).collect();
    let world = format!(
        "tables:\n  - {{ name: wide, account: '111111111111', region: us-east-1, tags: {{ backup-tier: gold, {} }} }}\n",
        tags.join(", ")
    );
    let policy = policy_with("");
    let world = WorldFile::parse(&world, &policy).unwrap();
    let mut sim = Simulation::with_world(policy, &world, options(2, 1, 9, Faults::none()));
    let s = sim.run().await;
    assert_eq!(
        s.copies_missing_tags, 0,
        "every tag that fits is there: {s:#?}"
    );
    let w = sim.sim.world();
    for rp in w.recovery_points.values().filter(|rp| rp.source.is_some()) {
        let tags = w.tags_of_point(&rp.arn).unwrap();
        assert_eq!(tags.len(), 50, "{}", rp.vault);
        assert!(tags.contains_key(ORIGINAL_TAG) && tags.contains_key(ROUTE_TAG));
    }
    let dropped: Vec<_> = w
        .alerts
        .iter()
        .filter(|a| a.subject.contains("tags left off"))
        .map(|a| a.subject.clone())
        .collect();
    assert_eq!(dropped.len(), 3, "one per route: {dropped:#?}");
}

#[tokio::test]
async fn the_policy_chooses_the_tags_and_a_plans_own_copy_is_tagged_too() {
    let policy = policy_with("tags: { copy: [team], lineage: false }");
    let world = "tables:\n  - { name: orders, account: '111111111111', region: us-east-1, tags: { backup-tier: gold, team: payments, cost-center: cc-1 } }\nbackup_plans:\n  - { vault: primary, every_hours: 24, delete_after_days: 35, copy_to: central }\n";
    let world = WorldFile::parse(world, &policy).unwrap();
    let mut sim = Simulation::with_world(policy, &world, options(2, 1, 2, Faults::none()));
    let s = sim.run().await;
    assert!(s.plan_copy_jobs > 0);
    assert_eq!(s.copies_missing_tags, 0, "{s:#?}");
    let w = sim.sim.world();
    let central = sim.vault_arn("central").unwrap();
    for rp in w.points_in(&central) {
        let tags = w.tags_of_point(&rp.arn).unwrap();
        assert_eq!(tags.get("team").map(String::as_str), Some("payments"));
        assert!(!tags.contains_key(ROUTE_TAG), "lineage off");
    }
}

#[tokio::test]
async fn with_most_events_lost_the_reconciler_tags_what_it_finds_bare() {
    let faults = Faults {
        lose: 0.7,
        ..Faults::none()
    };
    let mut sim = Simulation::new(policy_with(""), options(3, 4, 11, faults));
    let s = sim.run().await;
    assert_eq!(s.chains_complete, s.chains_total);
    assert!(s.events_lost > 0);
    assert_eq!(s.copies_missing_tags, 0, "{s:#?}");
}

#[tokio::test]
async fn the_report_holds_every_recent_copy_to_the_policys_tags_read_off_the_copy() {
    use relay_compliance::{ControlId, Status};
    let control = |report: &relay_compliance::Report, id: ControlId| {
        report
            .resources
            .iter()
            .flat_map(|r| r.controls.iter())
            .filter(|c| c.id == id)
            .map(|c| (c.status, c.reason.clone(), c.evidence.clone()))
            .collect::<Vec<_>>()
    };
    let mut sim = Simulation::new(policy_with(""), options(3, 4, 5, Faults::none()));
    sim.run().await;
    let report = sim.compliance_report("digest").await;
    let tags = control(&report, ControlId::RelayCopyTags);
    assert!(!tags.is_empty());
    assert!(
        tags.iter()
            .all(|(s, _, _)| matches!(s, Status::Compliant | Status::NotApplicable)),
        "{tags:#?}"
    );
    assert!(tags.iter().any(|(s, _, _)| *s == Status::Compliant));

    // The bunker's account refuses TagResource: its copies lack their tags, named one by one.
    let mut sim = Simulation::new(policy_with(""), options(3, 4, 5, Faults::none()));
    sim.sim
        .world()
        .tagging_refused
        .insert("333333333333".to_string());
    sim.run().await;
    let report = sim.compliance_report("digest").await;
    let failing: Vec<_> = control(&report, ControlId::RelayCopyTags)
        .into_iter()
        .filter(|(s, _, _)| *s == Status::NonCompliant)
        .collect();
    assert!(!failing.is_empty());
    for (_, reason, evidence) in &failing {
        assert!(reason.contains("lack the policy's tags"), "{reason}");
        assert!(evidence.iter().all(|e| {
            e.vault
                .as_deref()
                .is_some_and(|v| v.contains(":333333333333:"))
                && e.detail
                    .as_deref()
                    .is_some_and(|d| d.contains("backup-relay:route"))
        }));
    }

    // A policy that asks no tags: not applicable.
    let mut sim = Simulation::new(
        policy_with("tags: { copy: [], lineage: false }"),
        options(2, 2, 5, Faults::none()),
    );
    sim.run().await;
    let report = sim.compliance_report("digest").await;
    assert!(control(&report, ControlId::RelayCopyTags)
        .iter()
        .all(|(s, _, _)| *s == Status::NotApplicable));
}

/// Two root vaults in one account and Region back up the same tables at the same time, so two
/// originals share a table and a creation date. Each copy is judged against the original it was
/// made from (its source, followed back), whichever the simulator's map lists first: untagging
/// one copy of each chain counts two copies missing their tags, not one (or none).
#[tokio::test]
async fn copies_of_two_originals_made_at_once_are_each_judged_against_their_own() {
    let policy = POLICY
        .replace(
            "vaults:\n",
            "vaults:\n  secondary:\n    arn: \"arn:aws:backup:us-east-1:111111111111:backup-vault:secondary\"\n  side:\n    arn: \"arn:aws:backup:us-west-2:111111111111:backup-vault:side\"\n    retention: { delete_after_days: 35 }\n",
        )
        .replace("routes:\n", "routes:\n  - { from: secondary, to: side }\n");
    let mut sim = Simulation::new(
        Policy::parse(&policy).unwrap(),
        options(2, 4, 7, Faults::none()),
    );
    let s = sim.run().await;
    assert_eq!(s.chains_complete, s.chains_total, "{s:#?}");
    assert_eq!(s.copies_missing_tags, 0, "{s:#?}");
    let (central, side) = (
        sim.vault_arn("central").unwrap(),
        sim.vault_arn("side").unwrap(),
    );
    let (primary, secondary) = (
        sim.vault_arn("primary").unwrap(),
        sim.vault_arn("secondary").unwrap(),
    );
    let untagged: Vec<String> = {
        let mut w = sim.sim.world();
        let made_at = |vault| {
            w.points_in(vault)
                .map(|p| (p.resource_arn.clone(), p.creation_date))
                .collect::<std::collections::BTreeSet<_>>()
        };
        let shared = made_at(&primary).intersection(&made_at(&secondary)).count();
        assert!(
            shared > 0,
            "the two root vaults hold originals made at once"
        );
        let first_in = |vault| {
            w.points_in(vault)
                .filter(|p| p.status == "COMPLETED")
                .map(|p| p.arn.clone())
                .min()
                .unwrap()
        };
        let picked = vec![first_in(&central), first_in(&side)];
        for arn in &picked {
            w.point_tags.remove(arn);
        }
        picked
    };
    assert_eq!(
        sim.summary().copies_missing_tags,
        2,
        "untagged {untagged:?}: each judged against its own original"
    );
}
