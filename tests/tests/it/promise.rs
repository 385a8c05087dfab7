//! The product's core promise on any graph and under any fault mix: exactly one copy per original
//! per vault, every chain complete or alerted (once), nothing shortened. Counted from what the
//! simulated AWS holds and the alerts it really published.

use std::collections::HashMap;

use chrono::Duration;
use relay_core::ledger::Original;
use relay_core::policy::Policy;
use relay_sim::world::TRANSIENT_COPY_FAILURE;
use relay_sim::{Faults, SimOptions, Simulation, Summary};

fn policy(name: &str) -> Policy {
    let path = format!("{}/policies/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Policy::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn example() -> Policy {
    Policy::parse(include_str!("../../../infra/examples/policy.yaml")).unwrap()
}

use relay_tests::sim_options as options;

/// At most one COMPLETED copy of each original in each vault, whatever the graph.
fn assert_one_copy_per_original_per_vault(sim: &Simulation) {
    let w = sim.sim.world();
    let mut held: HashMap<(String, Original), u32> = HashMap::new();
    for rp in w
        .recovery_points
        .values()
        .filter(|rp| rp.status == "COMPLETED")
    {
        let key = (
            rp.vault.to_string(),
            Original::new(rp.resource_arn.clone(), rp.creation_date),
        );
        *held.entry(key).or_default() += 1;
    }
    let twice: Vec<_> = held.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "copies held twice: {twice:?}");
}

/// The invariants every run keeps, whatever it was given.
fn assert_promise(sim: &Simulation, s: &Summary) {
    assert!(s.chains_total > 0, "{s:#?}");
    assert_eq!(s.duplicate_copy_jobs, 0, "{s:#?}");
    assert_eq!(s.chains_incomplete_unalerted, 0, "{:?}", s.unalerted);
    assert_eq!(sim.sim.world().retentions_shortened, 0);
    assert_one_copy_per_original_per_vault(sim);
}

#[tokio::test]
async fn a_diamond_gets_one_copy_per_backup_in_the_vault_two_routes_reach() {
    let mut sim = Simulation::new(policy("diamond"), SimOptions::default());
    let s = sim.run().await;
    assert_promise(&sim, &s);
    assert_eq!(s.chains_complete, s.chains_total);
    // b, c and d: three copies per backup, not four.
    assert_eq!(s.hops_required, 3 * s.chains_total);
    assert_eq!(s.copy_jobs_started, s.hops_required + s.copy_failures);
}

#[tokio::test]
async fn ladders_of_diamonds_cost_one_copy_job_per_vault_not_per_path() {
    for (name, vaults) in [("ladder3", 9), ("ladder5", 15)] {
        let mut sim = Simulation::new(policy(name), options(3, 4, 7, SimOptions::default().faults));
        let s = sim.run().await;
        assert_promise(&sim, &s);
        // Under the default faults a hop may run out of attempts: then it is alerted (the
        // promise above), and no more than the alerts sent.
        assert!(
            s.chains_total - s.chains_complete <= s.alerts,
            "{name}: {s:#?}"
        );
        assert_eq!(s.hops_required, vaults * s.chains_total, "{name}");
        // One job per hop done, and one per failed try: none per path.
        assert_eq!(
            s.copy_jobs_started,
            s.hops_complete + s.copy_failures,
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_fan_out_with_second_hops_completes() {
    let mut sim = Simulation::new(
        policy("fanout"),
        options(3, 4, 3, SimOptions::default().faults),
    );
    let s = sim.run().await;
    assert_promise(&sim, &s);
    assert_eq!(s.chains_complete, s.chains_total);
    // Six vaults below the root, each reached by one or two routes: six copies per backup.
    assert_eq!(s.hops_required, 6 * s.chains_total);
}

#[tokio::test]
async fn thirty_percent_throttling_for_twelve_days_completes_every_chain() {
    let faults = Faults {
        throttle: 0.3,
        ..SimOptions::default().faults
    };
    let mut sim = Simulation::new(example(), options(12, 4, 42, faults));
    let s = sim.run().await;
    assert_promise(&sim, &s);
    assert_eq!(s.chains_complete, s.chains_total, "{s:#?}");
    assert!(s.calls_throttled > 1000, "{s:#?}");
}

#[tokio::test]
async fn every_fault_at_once_ends_every_incomplete_chain_in_exactly_one_alert() {
    for seed in 1..=6 {
        let faults = Faults {
            lose: 0.9,
            duplicate: 1.0,
            throttle: 0.5,
            copy_failure: 0.5,
            ..SimOptions::default().faults
        };
        let mut sim = Simulation::new(example(), options(7, 8, seed, faults));
        let s = sim.run().await;
        assert_promise(&sim, &s);
        assert!(s.chains_complete > 0, "seed {seed}: {s:#?}");
        // Every incomplete chain is covered (assert_promise), by one alert per shortfall: a hop
        // that gave up, or a route whose copies reach the look-back window's edge (one for all
        // of them), besides the dead-letter queues' alarms (events that Lambda's retries could not
        // get through: the reconciler repairs what they missed). Never more alerts than
        // incomplete chains, and never two about one thing.
        let w = sim.sim.world();
        let about_chains: Vec<&str> = w
            .alerts
            .iter()
            .filter(|a| !a.subject.starts_with("ALARM:"))
            .map(|a| a.subject.as_str())
            .collect();
        let incomplete = s.chains_total - s.chains_complete;
        // A route's notice that its copies near the window's edge is one for the route, and may
        // precede the copies it warned of being made just in time: at most one per route.
        let (notices, per_chain): (Vec<&str>, Vec<&str>) = about_chains
            .iter()
            .partition(|a| a.contains("about to leave the look-back window"));
        assert!(
            (per_chain.len() as u64) <= incomplete
                && notices.len() <= sim.policy.routes.len()
                && (incomplete == 0 || !about_chains.is_empty()),
            "seed {seed}: {incomplete} incomplete chains: {about_chains:#?}"
        );
        let hops: Vec<_> = w.alerts.iter().filter_map(|a| a.hop.as_ref()).collect();
        let distinct: std::collections::BTreeSet<_> = hops.iter().collect();
        assert_eq!(
            distinct.len(),
            hops.len(),
            "seed {seed}: a hop alerted twice"
        );
        assert!(w.alarms.len() <= 2, "{:?}", w.alarms);
    }
}

#[tokio::test]
async fn an_account_without_the_executor_role_is_one_alert_and_stalls_no_other_route() {
    // The bunker's account refuses AssumeRole: copies into it still run (they start in dr's
    // account), the retention guard and the reconciler's bunker phases cannot.
    let mut faults = SimOptions::default().faults;
    faults.deny_account.insert("333333333333".into());
    let mut sim = Simulation::new(example(), options(7, 8, 42, faults));
    let s = sim.run().await;
    assert_promise(&sim, &s);
    assert_eq!(s.alerts, 1, "{s:#?}");
    assert!(s.calls_denied > 0);
    let w = sim.sim.world();
    assert_eq!(w.alerts[0].account.as_deref(), Some("333333333333"));
    // Every hop before the bunker is made.
    assert!(s.hops_complete >= 2 * s.chains_total, "{s:#?}");
    assert_eq!(
        s.invocation_errors, 0,
        "a denied account is handled, not retried"
    );
}

#[tokio::test]
async fn the_central_account_denied_blocks_its_chains_with_one_alert() {
    let mut faults = Faults::none();
    faults.deny_account.insert("222222222222".into());
    let mut sim = Simulation::new(example(), options(2, 4, 5, faults));
    let s = sim.run().await;
    assert_promise(&sim, &s);
    assert_eq!((s.chains_complete, s.alerts), (0, 1), "{s:#?}");
}

#[tokio::test]
async fn a_start_whose_answer_was_lost_is_found_not_repeated_even_when_aws_forgot_the_token() {
    let mut sim = Simulation::new(example(), options(2, 4, 11, Faults::none()));
    {
        let mut w = sim.sim.world();
        // AWS forgets idempotency tokens after 30 s (the invocation's own quick retries are
        // remembered, Lambda's and the reconciler's are not); five starts reach AWS, answer lost.
        w.token_memory = Duration::seconds(30);
        w.lost_start_answers = 5;
    }
    let s = sim.run().await;
    assert_promise(&sim, &s);
    assert_eq!(s.chains_complete, s.chains_total, "{s:#?}");
    assert_eq!(
        s.copy_jobs_started, s.hops_required,
        "no second job for a lost answer"
    );
}

#[tokio::test]
async fn alerts_that_could_not_be_sent_go_out_once_when_the_topic_is_back() {
    let mut sim = Simulation::new(example(), options(1, 1, 4, Faults::none()));
    {
        let mut w = sim.sim.world();
        let dr = sim.policy.vault("dr").unwrap().arn.clone();
        w.force_copy_failures(&dr, 99, TRANSIENT_COPY_FAILURE);
        // SNS is down for the whole first two days.
        w.publish_down_until = Some(sim.options.start + Duration::days(2));
    }
    let s = sim.run().await;
    assert_promise(&sim, &s);
    assert_eq!((s.chains_complete, s.alerts), (0, 1), "{s:#?}");
    let w = sim.sim.world();
    assert!(w.alerts[0].subject.contains("gave up after 3 attempts"));
    assert!(w.incidents.values().all(|i| i.alerted_at.is_some()));
}

#[tokio::test]
async fn partial_copies_are_not_held_and_are_copied_again() {
    let faults = Faults {
        copy_failure: 0.4,
        ..Faults::none()
    };
    let mut sim = Simulation::new(example(), options(4, 6, 9, faults));
    let s = sim.run().await;
    assert_promise(&sim, &s);
    let w = sim.sim.world();
    let partial = w
        .recovery_points
        .values()
        .filter(|rp| rp.status == "PARTIAL")
        .count();
    assert!(partial > 0, "the seed makes partial copies");
    // Every chain with a partial copy is complete through a second, COMPLETED copy, or alerted.
    assert_eq!(s.alerts, s.chains_total - s.chains_complete, "{s:#?}");
}

#[tokio::test]
async fn a_copy_job_that_never_finishes_is_alerted_once_as_a_day_behind() {
    let mut sim = Simulation::new(example(), options(1, 1, 2, Faults::none()));
    let dr = sim.policy.vault("dr").unwrap().arn.clone();
    sim.sim.world().stalled_into.insert(dr);
    let s = sim.run().await;
    assert_promise(&sim, &s);
    assert_eq!((s.chains_complete, s.alerts), (0, 1), "{s:#?}");
    let w = sim.sim.world();
    assert!(
        w.alerts[0].subject.contains("are a day behind"),
        "{}",
        w.alerts[0].subject
    );
}

#[tokio::test]
async fn nothing_to_copy_is_said_so_not_reported_as_success() {
    let text = include_str!("../../../infra/examples/policy.yaml")
        .replace("backup-tier: gold", "backup-tier: platinum");
    let mut sim = Simulation::new(
        Policy::parse(&text).unwrap(),
        options(1, 4, 1, Faults::none()),
    );
    // Tables get the tags the routes select on: make none match.
    sim.sim
        .world()
        .tables
        .iter_mut()
        .for_each(|t| t.tags.clear());
    let s = sim.run().await;
    assert_eq!(s.chains_total, 0);
    assert!(s
        .render()
        .contains("nothing to copy: no route selects any table"));
}

/// A random valid policy: a root vault and up to seven more, each reached from an earlier one
/// (a random DAG: fan-outs, diamonds, ladders), across three accounts and three Regions.
fn random_policy(vaults: usize, edges: &[bool], kinds: &[u8]) -> Policy {
    let accounts = ["111111111111", "222222222222", "333333333333"];
    let regions = ["us-east-1", "us-west-2", "eu-west-1"];
    let mut text = String::from(
        "version: 1\ncopy_role: \"arn:aws:iam::{account}:role/backup-relay-copy\"\nvaults:\n  v0: { arn: \"arn:aws:backup:us-east-1:111111111111:backup-vault:vault-0\" }\n",
    );
    for i in 1..vaults {
        let kind = kinds[i % kinds.len()];
        let retention = match kind % 3 {
            0 => "{ delete_after_days: 35 }",
            1 => "never_expire",
            _ => "{ delete_after_days: 365 }",
        };
        text += &format!(
            "  v{i}: {{ arn: \"arn:aws:backup:{}:{}:backup-vault:vault-{i}\", retention: {retention} }}\n",
            regions[usize::from(kind / 3) % 3],
            accounts[(i + usize::from(kind)) % 3]
        );
    }
    text += "routes:\n";
    let mut e = edges.iter().cycle();
    for j in 1..vaults {
        // Always one route in from the vault before, sometimes more from any earlier vault.
        text += &format!("  - {{ from: v{}, to: v{j} }}\n", j - 1);
        for i in 0..j.saturating_sub(1) {
            if *e.next().unwrap_or(&false) {
                text += &format!("  - {{ from: v{i}, to: v{j} }}\n");
            }
        }
    }
    Policy::parse(&text).unwrap_or_else(|e| panic!("{text}\n{e}"))
}

proptest::proptest! {
    #![proptest_config(relay_tests::property_config(96))]

    /// Design.md's invariants on random graphs under random fault mixes: at most one copy per
    /// (original, vault), every chain complete or alerted, nothing shortened.
    #[test]
    fn the_promise_holds_on_random_graphs_under_random_faults(
        vaults in 2usize..=8,
        edges in proptest::collection::vec(proptest::bool::weighted(0.3), 1..30),
        kinds in proptest::collection::vec(0u8..9, 1..8),
        lose in 0.0f64..0.6,
        duplicate in 0.0f64..1.0,
        reorder in 0i64..180,
        fail in 0.0f64..0.5,
        throttle in 0.0f64..0.5,
        deny in proptest::option::weighted(0.2, 0usize..3),
        lost_answers in 0u32..6,
        plan_copy in proptest::option::weighted(0.5, 1usize..8),
        seed in 0u64..1000,
    ) {
        let case = RandomCase { vaults, edges, kinds, plan_copy: plan_copy.map(|v| v.min(vaults - 1)) };
        check_random_case(&case, (lose, duplicate, reorder, fail, throttle), deny, lost_answers, seed);
    }
}

/// The organisation of one random case: the graph, and the vault a backup plan's own copy action
/// copies into beside the routes (`v{n}`), if it has one.
struct RandomCase {
    vaults: usize,
    edges: Vec<bool>,
    kinds: Vec<u8>,
    plan_copy: Option<usize>,
}

/// One case of the random-graph property: runs it and checks the promise.
fn check_random_case(
    case: &RandomCase,
    (lose, duplicate, reorder, fail, throttle): (f64, f64, i64, f64, f64),
    deny: Option<usize>,
    lost_answers: u32,
    seed: u64,
) {
    let mut faults = Faults {
        lose,
        duplicate,
        reorder_minutes: reorder,
        copy_failure: fail,
        throttle,
        ..Faults::none()
    };
    if let Some(a) = deny {
        faults
            .deny_account
            .insert(["111111111111", "222222222222", "333333333333"][a].into());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut o = options(2, 2, seed, faults);
    o.plan_copy_to = case.plan_copy.map(|v| format!("v{v}"));
    let mut sim = Simulation::new(random_policy(case.vaults, &case.edges, &case.kinds), o);
    if lost_answers > 0 {
        // Starts that reach AWS with their answer lost, and an AWS that forgets tokens fast.
        let mut w = sim.sim.world();
        w.lost_start_answers = lost_answers;
        w.token_memory = Duration::seconds(30);
    }
    let s = runtime.block_on(sim.run());
    assert_promise(&sim, &s);
}

/// Found by the property in CI: a lost start answer under heavy throttling.
#[test]
fn a_lost_start_answer_under_throttling_is_not_started_twice() {
    let case = RandomCase {
        vaults: 5,
        edges: vec![true, false, false, false, false, false],
        kinds: vec![2, 2, 7],
        plan_copy: None,
    };
    check_random_case(
        &case,
        (
            0.17572305902592752,
            0.45719524002849676,
            61,
            0.012209588965308531,
            0.4946198225617127,
        ),
        None,
        1,
        222,
    );
}

/// The README's world file: a backup plan whose own copy action copies every backup into the
/// bunker (lifecycle "never"), beside the routes that reach it.
const PLAN_COPIES_INTO_THE_BUNKER: &str = r#"
tables:
  - { name: orders, account: "111111111111", region: us-east-1, tags: { backup-tier: gold } }
  - { name: audit, account: "111111111111", region: us-east-1 }
backup_plans:
  - { vault: primary, every_hours: 12, delete_after_days: 35, copy_to: bunker }
"#;

fn with_world(text: &str, faults: Faults, seed: u64) -> Simulation {
    let policy = example();
    let world = relay_core::world_file::WorldFile::parse(text, &policy).unwrap();
    let mut o = options(4, 1, seed, faults);
    o.plan_copy_actions = false;
    Simulation::with_world(policy, &world, o)
}

#[tokio::test]
async fn a_plans_copy_action_and_a_route_into_one_vault_make_one_copy_per_backup() {
    for seed in [1, 2, 3] {
        let mut sim = with_world(
            PLAN_COPIES_INTO_THE_BUNKER,
            SimOptions::default().faults,
            seed,
        );
        let s = sim.run().await;
        assert_promise(&sim, &s);
        assert_eq!(s.chains_complete, s.chains_total, "{s:#?}");
        // Every backup of both tables, the plan's copy of each, kept 100 years.
        assert_eq!(s.never_expire_copies, s.backups, "{s:#?}");
        assert_eq!(s.never_expire_violations, 0);
        assert_eq!(s.plan_copy_jobs, s.backups);
    }
}

#[tokio::test]
async fn a_plans_copy_into_a_middle_vault_is_held_once_and_the_chain_goes_on_from_it() {
    let world = PLAN_COPIES_INTO_THE_BUNKER.replace("copy_to: bunker", "copy_to: dr");
    let mut sim = with_world(&world, SimOptions::default().faults, 7);
    let s = sim.run().await;
    assert_promise(&sim, &s);
    assert_eq!(s.chains_complete, s.chains_total, "{s:#?}");
    // The gold table's chains reach the bunker from the plan's copies in dr; the untagged
    // table's copies in dr came from outside the routes and the policy routes it nowhere: not
    // chained on, and said once.
    assert_eq!(s.never_expire_copies, s.chains_total, "{s:#?}");
    let w = sim.sim.world();
    let outside: Vec<_> = w
        .alerts
        .iter()
        .filter(|a| a.subject.contains("from outside the policy"))
        .collect();
    assert_eq!(outside.len(), 1, "{:#?}", w.alerts);
}

#[tokio::test]
async fn the_duplicate_counter_counts_a_plans_job_and_a_route_job_into_one_vault() {
    let sim = with_world(PLAN_COPIES_INTO_THE_BUNKER, Faults::none(), 1);
    let bunker = sim.vault_arn("bunker").unwrap();
    let primary = sim.vault_arn("primary").unwrap();
    let (table, now, rp) = {
        let mut w = sim.sim.world();
        let table = w.tables[0].arn.clone();
        let now = w.now;
        let lifecycle = relay_core::retention::Lifecycle {
            delete_after_days: Some(35),
            move_to_cold_storage_after_days: None,
        };
        let rp = w
            .complete_backup(&table, &primary, now, lifecycle, Some(&bunker))
            .unwrap();
        (table, now, rp)
    };
    // A second job of the same backup into the same vault while the plan's is under way.
    let job = relay_core::plan::StartCopyJob {
        route: "by hand".into(),
        original: Original::new(table.to_string(), now),
        account: primary.account.clone(),
        region: primary.region.clone(),
        partition: primary.partition.clone(),
        recovery_point_arn: rp,
        source_backup_vault_name: primary.name.clone(),
        source_backup_vault_arn: primary.to_string(),
        destination_backup_vault_arn: bunker.to_string(),
        iam_role_arn: "arn:aws:iam::111111111111:role/backup-relay-copy".into(),
        idempotency_token: "by-hand".into(),
        attempt: 1,
        lifecycle: None,
        lock_adjustment: None,
        resource_arn: Some(table.to_string()),
    };
    relay_core::ports::BackupPort::start_copy_job(&sim.sim, &job)
        .await
        .unwrap();
    assert_eq!(sim.summary().duplicate_copy_jobs, 1);
}

#[tokio::test]
async fn throttling_at_any_level_ends_with_every_incomplete_chain_announced_and_no_storm() {
    for (throttle, seed) in [(0.8, 1), (0.9, 2), (1.0, 3)] {
        let faults = Faults {
            throttle,
            ..SimOptions::default().faults
        };
        let mut sim = Simulation::new(example(), options(3, 2, seed, faults));
        let s = sim.run().await;
        assert_eq!(s.duplicate_copy_jobs, 0, "{throttle}: {s:#?}");
        assert_eq!(
            s.chains_incomplete_unalerted, 0,
            "{throttle}: {:?}",
            s.unalerted
        );
        assert_eq!(sim.sim.world().retentions_shortened, 0);
        // What cannot be repaired is announced once as a whole, not hop by hop.
        if s.chains_complete < s.chains_total {
            assert!(s.all_chains_alerts >= 1, "{throttle}: {s:#?}");
        }
        assert!(s.alerts <= 12, "{throttle}: a storm of {} alerts", s.alerts);
    }
}

#[tokio::test]
async fn when_aws_refuses_every_call_the_reconcilers_dead_letter_alarm_says_so_once() {
    let faults = Faults {
        throttle: 1.0,
        ..Faults::none()
    };
    let mut sim = Simulation::new(example(), options(2, 2, 5, faults));
    let s = sim.run().await;
    assert_eq!(s.chains_complete, 0);
    assert_eq!(s.chains_incomplete_unalerted, 0, "{:?}", s.unalerted);
    let w = sim.sim.world();
    let alarms: Vec<&str> = w.alerts.iter().map(|a| a.subject.as_str()).collect();
    assert_eq!(
        alarms
            .iter()
            .filter(|a| a.contains("reconciler-failed-runs"))
            .count(),
        1,
        "{alarms:?}"
    );
    assert!(s.reconciler_runs_dead_lettered > 1);
}
