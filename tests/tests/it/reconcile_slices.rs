//! The reconciler's pieces where one account and Region gathers the copies of many member vaults
//! (an organisation's central vault and the vaults after it): walked in slices at once, each
//! table's points by exactly one slice; the chains, the copies and the alerts are those of one
//! walk.

use proptest::prelude::*;
use relay_chain::reconcile::{pieces, Slice};
use relay_core::policy::Policy;
use relay_core::world_file::WorldFile;
use relay_sim::{Faults, SimOptions, Simulation};
use relay_tests::sim_options as options;

const ORG_POLICY: &str = include_str!("../../../infra/examples/organization-policy.yaml");

/// `members` vaults in accounts of their own copying into one central vault, then DR, then a
/// bunker; and a pair beside them.
fn fan_in_policy(members: usize) -> Policy {
    let mut vaults = String::new();
    let mut routes = String::new();
    for i in 0..members {
        let account = 100_000_000_000_u64 + i as u64;
        vaults.push_str(&format!(
            "  m{i}: {{ arn: \"arn:aws:backup:us-east-1:{account}:backup-vault:primary\" }}\n"
        ));
        routes.push_str(&format!("  - {{ from: m{i}, to: central }}\n"));
    }
    Policy::parse(&format!(
        "version: 1
copy_role: \"arn:aws:iam::{{account}}:role/backup-relay-copy\"
vaults:
{vaults}  central: {{ arn: \"arn:aws:backup:us-east-1:222222222222:backup-vault:central\", retention: {{ delete_after_days: 35 }} }}
  dr: {{ arn: \"arn:aws:backup:us-west-2:222222222222:backup-vault:dr\", retention: {{ delete_after_days: 35 }} }}
  bunker: {{ arn: \"arn:aws:backup:eu-west-1:333333333333:backup-vault:bunker\", retention: never_expire }}
  side-a: {{ arn: \"arn:aws:backup:us-east-1:444444444444:backup-vault:side-a\" }}
  side-b: {{ arn: \"arn:aws:backup:eu-west-1:444444444444:backup-vault:side-b\", retention: {{ delete_after_days: 35 }} }}
routes:
{routes}  - {{ from: central, to: dr }}
  - {{ from: dr, to: bunker }}
  - {{ from: side-a, to: side-b }}
"
    ))
    .unwrap()
}

#[test]
fn a_source_gathering_many_members_is_cut_into_slices_and_the_rest_is_one_piece_each() {
    let policy = fan_in_policy(600);
    let all = pieces(&policy, 250);
    let of = |key: &str| all.iter().filter(|p| p.key().starts_with(key)).count();
    // 600 members: central and dr 3 slices each (250 a slice); the bunker (nothing routed out
    // of it, guarded by one piece), every member and the pair's source one piece each.
    assert_eq!(of("222222222222/us-east-1#"), 3);
    assert_eq!(of("222222222222/us-west-2#"), 3);
    assert_eq!(of("333333333333/eu-west-1"), 1);
    assert_eq!(of("444444444444/"), 1);
    assert_eq!(all.len(), 600 + 3 + 3 + 1 + 1);
    let keys: std::collections::BTreeSet<String> = all.iter().map(|p| p.key()).collect();
    assert_eq!(keys.len(), all.len(), "every piece its own cursor");
    assert!(keys.contains("222222222222/us-east-1#0/3"));
    // Only the first slice guards a never_expire vault; with one per 1,000 none is cut.
    assert_eq!(
        all.iter()
            .filter(|p| p.slice.is_some() && p.guards())
            .count(),
        2
    );
    assert!(pieces(&policy, 1000).iter().all(|p| p.slice.is_none()));
    // A huge fan-in is at most 16 slices.
    assert_eq!(
        pieces(&fan_in_policy(5000), 250)
            .iter()
            .filter(|p| p.key().starts_with("222222222222/us-east-1#"))
            .count(),
        16
    );
}

proptest! {
    #[test]
    fn every_table_is_walked_by_exactly_one_slice(arn in "arn:aws:dynamodb:[a-z0-9-]{4,14}:[0-9]{12}:table/[A-Za-z0-9_.-]{1,255}", of in 1u32..=16) {
        let takers = (0..of).filter(|&index| Slice { index, of }.takes(&arn)).count();
        prop_assert_eq!(takers, 1);
    }
}

const QUEUED_WORLD: &str = "organization:
  organizational_units:
    ou-ab12-cdef3456: [\"100000000001\", \"100000000002\"]
  concurrent_copy_jobs: 3
backup_plans:
  - { vault: primary, every_hours: 24 }
tables:
";

/// Slices of the central account, under every fault and AWS's copy quota falling behind for
/// days: every chain completes or is alerted, no copy is made twice, and a route's incident is
/// one alert, not one per slice: the same alerts as one walk.
#[tokio::test]
async fn slices_of_a_central_account_chain_like_one_walk_under_every_fault() {
    let tables: String = (0..200)
        .map(|i| {
            let account = 100_000_000_001_u64 + (i % 2);
            format!("  - {{ name: table-{i}, account: \"{account}\", region: us-east-1, tags: {{ backup-tier: gold }} }}\n")
        })
        .collect();
    for (seed, faulty) in [(1, false), (1, true), (2, true)] {
        let (mut counts, mut ends) = (Vec::new(), Vec::new());
        for per_slice in [250, 1] {
            let p = Policy::parse(ORG_POLICY).unwrap();
            let world = WorldFile::parse(&format!("{QUEUED_WORLD}{tables}"), &p).unwrap();
            let faults = match faulty {
                true => SimOptions::default().faults,
                false => Faults::none(),
            };
            let mut o = options(3, 1, seed, faults);
            o.reconcile_fan_out = Some(4);
            o.reconcile.sources_per_slice = per_slice;
            let mut sim = Simulation::with_world(p, &world, o);
            let s = sim.run().await;
            let what = format!("seed {seed}, {per_slice} per slice");
            assert_eq!(
                s.chains_incomplete_unalerted, 0,
                "{what}: {:?}",
                s.unalerted
            );
            assert_eq!(s.duplicate_copy_jobs, 0, "{what}");
            // Copies that landed after their source left the 7-day look-back (announced by the
            // route's look-back alert) keep the lineage AWS carried across Regions; every
            // other copy is repaired, by when it landed.
            assert!(
                s.copies_missing_tags <= 3,
                "{what}: {}",
                s.copies_missing_tags
            );
            let sliced = sim.reconcile_reports.iter().any(|r| r.piece.contains('#'));
            assert_eq!(sliced, per_slice == 1, "{what}");
            let w = sim.sim.world();
            let about = |route: &str| {
                w.alerts
                    .iter()
                    .filter(|a| a.subject.contains(&format!("along {route} are")))
                    .count()
            };
            counts.push((about("central->dr"), about("dr->bunker"), w.alerts.len()));
            // Without faults the runs are the same: the routes' incidents end as one walk's
            // (the sliced ones closed by the coordinator once every slice passed without cause).
            let open: Vec<String> = w
                .incidents
                .keys()
                .filter(|id| id.starts_with("queued#") || id.starts_with("window#"))
                .cloned()
                .collect();
            if !faulty {
                ends.push(open);
            }
        }
        // The sliced routes' incidents are alerted as often as one walk's (faults move the
        // runs apart by an alert or two), never once per slice.
        let (whole, sliced) = (counts[0], counts[1]);
        assert!(sliced.0 >= 1, "seed {seed}: {counts:?}");
        assert!(
            sliced.0 <= whole.0 + 1 && sliced.1 <= whole.1 + 1,
            "seed {seed}: {counts:?}"
        );
        assert!(sliced.2 <= whole.2 + 2, "seed {seed}: {counts:?}");
        if !faulty {
            assert_eq!(counts[0], counts[1]);
            assert_eq!(ends[0], ends[1]);
        }
    }
}

#[tokio::test]
async fn without_faults_slices_make_every_copy_once() {
    let p = Policy::parse(ORG_POLICY).unwrap();
    let world = "organization:
  organizational_units:
    ou-ab12-cdef3456: [\"100000000001\", \"100000000002\"]
tables:
  - { name: orders, account: \"100000000001\", region: us-east-1, tags: { backup-tier: gold } }
  - { name: users, account: \"100000000002\", region: eu-west-1, tags: { backup-tier: gold } }
";
    let world = WorldFile::parse(world, &p).unwrap();
    let mut o = options(3, 1, 7, Faults::none());
    o.reconcile_fan_out = Some(4);
    o.reconcile.sources_per_slice = 1;
    let mut sim = Simulation::with_world(p, &world, o);
    let s = sim.run().await;
    assert_eq!(s.chains_complete, s.chains_total, "{s:#?}");
    assert_eq!(s.duplicate_copy_jobs, 0);
    assert!(sim
        .reconcile_reports
        .iter()
        .any(|r| r.piece.ends_with("#1/4")));
    // Every scheduled run's calls are tallied per account and Region: the busiest is named with
    // the least time AWS's published rates allow it, which a pass cannot beat however cut.
    let floor = s
        .reconcile_rate_floor
        .clone()
        .expect("the reconciler calls AWS Backup");
    assert!(floor.calls > 0 && floor.per_second > 0.0, "{floor:?}");
    assert!(s.reconcile_pass_minutes > 0.0);
    // The calls are tallied in the account they go into: the busiest is a shared vault's
    // account (central and DR's, or the bunker's), never a member's (this hub calls from none).
    assert!(
        ["222222222222", "333333333333"].contains(&floor.account.as_str()),
        "{floor:?}"
    );
}

#[tokio::test]
async fn a_piece_naming_no_slice_is_refused_not_walked() {
    use relay_chain::reconcile::{run_piece, Piece, ReconcileConfig, RunBudget};
    let sim = Simulation::new(
        Policy::parse(ORG_POLICY).unwrap(),
        options(1, 1, 1, Faults::none()),
    );
    let central = sim.policy.vault("central").unwrap().arn.location();
    for (index, of) in [(0, 0), (2, 2), (7, 3)] {
        let piece = Piece {
            slice: Some(Slice { index, of }),
            ..Piece::at(central.clone())
        };
        let run = run_piece(
            &sim.sim,
            &sim.policy,
            &piece,
            &ReconcileConfig::default(),
            RunBudget::default(),
            "test",
        )
        .await;
        let e = run.expect_err("a slice of nothing");
        assert_eq!(e.kind, relay_core::ports::ErrorKind::Permanent, "{e}");
    }
}
