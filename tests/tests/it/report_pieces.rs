//! The report in pieces (start, inventory per account and Region, evaluation per account and
//! Region, merge) gives the report a single run gives, on every world the report tests plant
//! problems in, whatever the flush size; a piece that fails for good is a named gap while the
//! others complete; a piece run twice changes nothing.

use relay_compliance::pieces::MemoryParts;
use relay_compliance::{self as compliance, Report};
use relay_core::policy::Policy;
use relay_core::world_file::WorldFile;
use relay_sim::report::{PieceOptions, ReportRun};
use relay_sim::{Faults, SimOptions, Simulation};

const EXAMPLE: &str = include_str!("../../../infra/examples/policy.yaml");
const ORG_POLICY: &str = include_str!("../../../infra/examples/organization-policy.yaml");
const COMPLIANT: &str = include_str!("../../worlds/compliant.yaml");

const ORG_WORLD: &str = r#"
organization:
  organizational_units:
    ou-ab12-cdef3456: ["100000000001", "999999999999", ou-ab12-aaaa1111]
    ou-ab12-aaaa1111: ["100000000002"]
  joins: { "100000000002": 1 }
tables:
  - { name: orders, account: "100000000001", region: us-east-1, tags: { backup-tier: gold } }
  - { name: carts, account: "100000000001", region: us-east-1, tags: { backup-tier: gold } }
  - { name: users, account: "100000000002", region: eu-west-1, tags: { backup-tier: gold } }
  - { name: excluded, account: "999999999999", region: us-east-1, tags: { backup-tier: gold } }
"#;

/// The worlds of the report tests: compliant, and each planted problem.
fn worlds() -> Vec<(&'static str, String)> {
    vec![
        ("compliant", COMPLIANT.to_string()),
        (
            "pitr off",
            COMPLIANT.replace(
                "name: carts, account: \"111111111111\", region: us-east-1,",
                "name: carts, account: \"111111111111\", region: us-east-1, pitr: false,",
            ),
        ),
        (
            "a table no route selects",
            COMPLIANT.replace(
                "tables:\n",
                "tables:\n  - { name: audit, account: \"111111111111\", region: us-east-1 }\n",
            ),
        ),
        (
            "no advanced features",
            format!("{COMPLIANT}regions:\n  - {{ account: \"111111111111\", region: us-east-1, advanced_features: false }}\n"),
        ),
        (
            "a short lock",
            COMPLIANT.replace("max_retention_days: 36500", "max_retention_days: 3650"),
        ),
        (
            "an account refusing its role",
            format!("{COMPLIANT}accounts:\n  \"333333333333\": {{ executor_role: false }}\n"),
        ),
    ]
}

fn options(days: u32, seed: u64, faults: Faults) -> SimOptions {
    SimOptions {
        days,
        seed,
        faults,
        ..SimOptions::default()
    }
}

async fn simulated(policy: &str, world: &str, options: SimOptions) -> Simulation {
    let policy = Policy::parse(policy).unwrap();
    let world = WorldFile::parse(world, &policy).unwrap_or_else(|e| panic!("{e}"));
    let mut sim = Simulation::with_world(policy, &world, options);
    sim.run().await;
    sim
}

async fn in_pieces(sim: &Simulation, flush_points: usize) -> (Report, ReportRun) {
    in_pieces_with(sim, flush_points, PieceOptions::default().range_points).await
}

async fn in_pieces_with(
    sim: &Simulation,
    flush_points: usize,
    range_points: u64,
) -> (Report, ReportRun) {
    let parts = MemoryParts::default();
    let options = PieceOptions {
        concurrency: 4,
        flush_points,
        range_points,
        heap: None,
    };
    sim.compliance_report_in_pieces("digest", &parts, options)
        .await
}

fn assert_same(single: &Report, merged: &Report, what: &str) {
    assert_eq!(single.summary, merged.summary, "{what}: summaries differ");
    assert_eq!(single.gaps, merged.gaps, "{what}: gaps differ");
    for (a, b) in single.resources.iter().zip(&merged.resources) {
        assert_eq!(a, b, "{what}: {} differs", a.name);
    }
    assert_eq!(single, merged, "{what}");
}

#[tokio::test]
async fn the_merged_report_is_the_single_runs_on_every_planted_problem() {
    for (what, world) in worlds() {
        let sim = simulated(EXAMPLE, &world, options(2, 1, Faults::none())).await;
        let single = sim.compliance_report("digest").await;
        assert!(!single.resources.is_empty(), "{what}");
        for flush in [1, 3, 50_000] {
            let (merged, run) = in_pieces(&sim, flush).await;
            assert_same(&single, &merged, &format!("{what}, flush {flush}"));
            assert_eq!(run.failures, 0, "{what}");
            // Each vault listed once, page by page: the floor, no more (less where an account
            // refuses: its vaults are a gap).
            if what == "an account refusing its role" {
                assert!(run.list_pages < run.list_pages_floor, "{what}: {run:?}");
            } else {
                assert_eq!(run.list_pages, run.list_pages_floor, "{what}: {run:?}");
            }
            assert_eq!(run.invocations_over_deadline, 0);
            // start, an inventory and an evaluation per piece, the merge.
            assert_eq!(run.invocations, 2 + 2 * run.pieces as u64, "{what}");
        }
    }
}

#[tokio::test]
async fn the_merged_report_is_the_single_runs_under_faults_and_over_an_organisation() {
    for seed in [1, 2, 3, 4] {
        let faults = SimOptions::default().faults;
        let sim = simulated(EXAMPLE, COMPLIANT, options(3, seed, faults.clone())).await;
        let single = sim.compliance_report("digest").await;
        let (merged, _) = in_pieces(&sim, 7).await;
        assert_same(&single, &merged, &format!("example, seed {seed}"));
        let sim = simulated(ORG_POLICY, ORG_WORLD, options(3, seed, faults)).await;
        let single = sim.compliance_report("digest").await;
        let (merged, run) = in_pieces(&sim, 5).await;
        assert_same(&single, &merged, &format!("organisation, seed {seed}"));
        assert!(run.pieces >= 4, "{run:?}");
    }
}

#[tokio::test]
async fn a_bunker_holding_years_of_copies_is_read_in_spills_and_merged_the_same() {
    let world = COMPLIANT.replace(
        "    deny_manual_deletion: true\n    lock:",
        "    deny_manual_deletion: true\n    held_points: 2000\n    lock:",
    );
    assert_ne!(world, COMPLIANT);
    let sim = simulated(EXAMPLE, &world, options(2, 1, Faults::none())).await;
    let bunker = sim.policy.vault("bunker").unwrap().arn.clone();
    let held = sim
        .sim
        .world()
        .recovery_points
        .values()
        .filter(|p| p.vault == bunker)
        .count();
    assert!(held >= 2000, "{held}");
    // They are copies the route from DR made: they name its vault as their source, as AWS does,
    // and carry its lineage.
    let dr = sim.policy.vault("dr").unwrap().arn.to_string();
    {
        let world = sim.sim.world();
        let in_bunker = world.recovery_points.values().filter(|p| p.vault == bunker);
        for p in in_bunker {
            assert_eq!(
                world.view_of(p).source_vault_arn.as_deref(),
                Some(dr.as_str())
            );
            let route = world
                .point_tags
                .get(&p.arn)
                .and_then(|t| t.get("backup-relay:route"));
            assert_eq!(route.map(String::as_str), Some("dr to bunker"), "{}", p.arn);
        }
    }
    let single = sim.compliance_report("digest").await;
    let (merged, run) = in_pieces(&sim, 64).await;
    assert_same(&single, &merged, "held points");
    use relay_compliance::controls::ControlId;
    let copy_tags = merged
        .resources
        .iter()
        .flat_map(|r| &r.controls)
        .filter(|c| c.id == ControlId::RelayCopyTags);
    let mut judged = 0;
    for c in copy_tags {
        assert_ne!(c.status, relay_compliance::Status::NonCompliant, "{c:?}");
        judged += usize::from(c.status == relay_compliance::Status::Compliant);
    }
    assert!(judged > 0, "the held copies' tags were judged");
    // 2,000 held points are 2 pages; the evaluation of the tables' home holds them all.
    assert!(run.largest_piece_points >= 2000, "{run:?}");
}

#[tokio::test]
async fn a_huge_vault_is_listed_in_date_ranges_at_once_and_merged_the_same() {
    let world = COMPLIANT.replace(
        "    deny_manual_deletion: true\n    lock:",
        "    deny_manual_deletion: true\n    held_points: 20000\n    lock:",
    );
    let sim = simulated(EXAMPLE, &world, options(2, 1, Faults::none())).await;
    let single = sim.compliance_report("digest").await;
    let (serial, serial_run) = in_pieces_with(&sim, 50_000, 1_000_000).await;
    assert_same(&single, &serial, "listed whole");
    assert_eq!(serial_run.list_pages, serial_run.list_pages_floor);
    for flush in [7, 50_000] {
        let (ranged, run) = in_pieces_with(&sim, flush, 3_000).await;
        assert_same(&single, &ranged, &format!("in ranges, flush {flush}"));
        // Each range ends on a page of its own: a few more pages than one listing...
        assert!(run.list_pages > run.list_pages_floor, "{run:?}");
        assert!(run.list_pages <= run.list_pages_floor + 6, "{run:?}");
        // ...in flight together: the bunker's piece, the longest, takes a fraction of the time.
        assert!(
            run.longest_invocation_seconds * 2.0 < serial_run.longest_invocation_seconds,
            "{run:?} against {serial_run:?}"
        );
        assert_eq!(
            run.part_bytes, serial_run.part_bytes,
            "the same points, once each"
        );
    }
}

#[tokio::test]
async fn a_piece_failing_for_good_is_a_named_gap_and_the_others_complete() {
    let sim = simulated(EXAMPLE, COMPLIANT, options(2, 1, Faults::none())).await;
    let single = sim.compliance_report("digest").await;
    let parts = MemoryParts::default();
    // The bunker's account and Region cannot write its site file: its inventory never finishes.
    let bunker = sim.policy.vault("bunker").unwrap().arn.clone();
    let run_dir = "runs/";
    parts.fail_writes_under(&format!(
        "{run_dir}{}/sites/{}/{}",
        relay_compliance::pieces::RunRef::at(single.generated_at).run,
        bunker.account,
        bunker.region
    ));
    let (merged, run) = sim
        .compliance_report_in_pieces("digest", &parts, PieceOptions::default())
        .await;
    assert_eq!(run.failures, 1, "{run:?}");
    // Every table is still reported (none lives in the bunker's account)...
    assert_eq!(merged.summary.resources, single.summary.resources);
    // ...the bunker's account and Region is a named gap, once...
    let gaps: Vec<_> = merged
        .gaps
        .iter()
        .filter(|g| g.account == bunker.account && g.region == bunker.region)
        .collect();
    assert_eq!(gaps.len(), 1, "{:#?}", merged.gaps);
    assert!(gaps[0].error.contains("did not finish"), "{:?}", gaps[0]);
    // ...and what needed the bunker says it could not be verified, never that it is missing.
    let orders = merged
        .resources
        .iter()
        .find(|r| r.name == "orders")
        .unwrap();
    let chain = orders
        .controls
        .iter()
        .find(|c| c.id == compliance::ControlId::RelayChainComplete)
        .unwrap();
    assert_eq!(chain.status, compliance::Status::NonCompliant);
    assert!(
        chain.reason.contains("could not be verified"),
        "{}",
        chain.reason
    );
}

#[tokio::test]
async fn a_run_done_twice_over_the_same_parts_is_the_same_report() {
    let sim = simulated(EXAMPLE, COMPLIANT, options(2, 1, Faults::none())).await;
    let parts = MemoryParts::default();
    let options = PieceOptions {
        concurrency: 2,
        flush_points: 2,
        ..PieceOptions::default()
    };
    let (first, _) = sim
        .compliance_report_in_pieces("digest", &parts, options)
        .await;
    let (again, _) = sim
        .compliance_report_in_pieces("digest", &parts, options)
        .await;
    assert_same(&first, &again, "again");
    assert_same(&sim.compliance_report("digest").await, &again, "single");
    // Spilled past 2 points held, yet one object per home and source.
    let shards: Vec<String> = parts
        .keys()
        .into_iter()
        .filter(|k| k.contains("/points/"))
        .collect();
    assert!(!shards.is_empty());
    assert!(
        shards.iter().all(|k| k.ends_with("-00000.json")),
        "{shards:?}"
    );
}

#[tokio::test]
async fn copies_stripped_of_their_tags_fail_the_same_when_each_home_reads_its_own() {
    let sim = simulated(EXAMPLE, COMPLIANT, options(2, 1, Faults::none())).await;
    // Someone stripped every recovery point of its tags after the run.
    sim.sim.world().point_tags.clear();
    let reads = || relay_tests::list_tags_calls(&sim);
    let before = reads();
    let single = sim.compliance_report("digest").await;
    let single_reads = reads() - before;
    let failing = single
        .resources
        .iter()
        .filter(|r| {
            r.failures()
                .iter()
                .any(|f| f.starts_with("RELAY_COPY_TAGS"))
        })
        .count();
    assert!(failing > 0, "{:#?}", single.summary);
    let (merged, run) = in_pieces(&sim, 50_000).await;
    assert_same(&single, &merged, "bare copies");
    // The evaluation pieces read each copy's tags once, as the single run does.
    assert_eq!(reads() - before - single_reads, single_reads, "{run:?}");
    assert!(single_reads > 0);
}

#[tokio::test]
async fn tags_a_vault_refuses_to_read_are_one_gap_in_both_runs_not_one_per_home() {
    let sim = simulated(ORG_POLICY, ORG_WORLD, options(3, 2, Faults::none())).await;
    // The bunker's account refuses ListTags (an SCP): its copies' tags cannot be judged.
    sim.sim
        .world()
        .tag_reads_refused
        .insert("333333333333".to_string());
    let single = sim.compliance_report("digest").await;
    let (merged, _) = in_pieces(&sim, 50_000).await;
    assert_same(&single, &merged, "tags refused");
    let tag_gaps: Vec<_> = merged
        .gaps
        .iter()
        .filter(|g| g.kind == relay_compliance::inventory::GapKind::CopyTags)
        .collect();
    assert_eq!(tag_gaps.len(), 1, "{tag_gaps:#?}");
    assert_eq!(tag_gaps[0].account, "333333333333");
    assert!(tag_gaps[0].error.contains("ListTags"), "{tag_gaps:#?}");
    // More than one home's copies are in it.
    let homes = merged.resources.iter().map(|r| (&r.account, &r.region));
    assert!(homes.collect::<std::collections::BTreeSet<_>>().len() > 1);
}

#[tokio::test]
async fn each_map_is_held_to_aws_request_rates_in_the_account_it_calls() {
    use relay_sim::world::rates::ALL_BACKUP_CALLS;
    let sim = simulated(ORG_POLICY, ORG_WORLD, options(3, 2, Faults::none())).await;
    let tag_reads = || {
        sim.sim
            .world()
            .counters
            .calls_by_operation
            .get("ListTags")
            .copied()
    };
    let before = tag_reads().unwrap_or(0);
    let (_, run) = in_pieces(&sim, 50_000).await;
    let read = tag_reads().unwrap_or(0) - before;
    let inventory = run
        .inventory_rate_floor
        .clone()
        .expect("the inventory lists vaults");
    let evaluation = run
        .evaluation_rate_floor
        .clone()
        .expect("the evaluation reads tags");
    // The inventory lists vaults (20 a second) in the account and Region holding most.
    assert!(inventory.calls > 0, "{inventory:?}");
    assert!(
        ["ListRecoveryPointsByBackupVault", ALL_BACKUP_CALLS]
            .contains(&inventory.operation.as_str()),
        "{inventory:?}"
    );
    // The evaluation's only AWS Backup calls are the copies' ListTags, in the vaults' accounts:
    // the busiest of those accounts binds, by ListTags' 20/s or the sum's 50/s.
    assert!(
        ["ListTags", ALL_BACKUP_CALLS].contains(&evaluation.operation.as_str()),
        "{evaluation:?}"
    );
    assert!(evaluation.calls <= read, "{evaluation:?}: {read} read");
    let vault_accounts: Vec<&str> = sim
        .policy
        .vaults
        .iter()
        .map(|v| v.arn.account.as_str())
        .collect();
    assert!(
        vault_accounts.contains(&evaluation.account.as_str()),
        "{evaluation:?}"
    );
    // What the largest piece and the merge parse is measured, within what the run wrote.
    assert!(run.largest_piece_read_bytes > 0, "{run:?}");
    assert!(
        run.merge_read_bytes > 0 && run.merge_read_bytes <= run.part_bytes,
        "{run:?}"
    );
}

/// A vault's account and Region holding more copies to judge than a run may read there
/// (`compliance.tag_reads_per_site`) has its copies' tags read for a sample of tables, the same
/// in the single run and in pieces, the same tables every run; a table outside the sample says
/// so, and no other verdict moves.
#[tokio::test]
async fn copies_beyond_the_tag_reads_a_run_may_make_are_sampled_by_table_the_same_in_both_runs() {
    use relay_compliance::controls::ControlId;
    let world = relay_tests::two_member_world(40, "");
    let reads = relay_tests::list_tags_calls;
    let whole = simulated(ORG_POLICY, &world, options(3, 1, Faults::none())).await;
    let sampled_policy = format!("{ORG_POLICY}compliance:\n  tag_reads_per_site: 8\n");
    let sampled = simulated(&sampled_policy, &world, options(3, 1, Faults::none())).await;
    let before = (reads(&whole), reads(&sampled));
    let (all, _) = in_pieces(&whole, 50_000).await;
    let single = sampled.compliance_report("digest").await;
    let after_single = reads(&sampled);
    let (merged, run) = in_pieces(&sampled, 50_000).await;
    assert_same(&single, &merged, "sampled");
    let (read_all, read_sampled) = (reads(&whole) - before.0, reads(&sampled) - after_single);
    assert_eq!(
        after_single - before.1,
        read_sampled,
        "both runs read the same"
    );
    // Fewer than half the reads (the originals of every table sampled anywhere are read too).
    assert!(
        read_sampled * 2 < read_all,
        "{read_sampled} of {read_all}: {run:?}"
    );
    let copy_tags = |r: &relay_compliance::ResourceReport| {
        r.controls
            .iter()
            .find(|c| c.id == ControlId::RelayCopyTags)
            .cloned()
            .unwrap()
    };
    let outside: Vec<_> = merged
        .resources
        .iter()
        .map(copy_tags)
        .filter(|c| c.reason.contains("not in the tag sample"))
        .collect();
    assert!(
        !outside.is_empty() && outside.len() < merged.resources.len(),
        "{outside:#?}"
    );
    assert!(
        outside[0].reason.contains("one table in"),
        "{}",
        outside[0].reason
    );
    // Every table in the sample somewhere is judged and compliant; no other control moves.
    for (a, b) in all.resources.iter().zip(&merged.resources) {
        for (x, y) in a.controls.iter().zip(&b.controls) {
            if x.id != ControlId::RelayCopyTags {
                assert_eq!(x.status, y.status, "{}: {:?}", a.name, x.id);
            }
        }
        assert_ne!(
            copy_tags(b).status,
            relay_compliance::Status::NonCompliant,
            "{}",
            b.name
        );
    }
    // Asked again, the same tables: the sample is by table, not drawn per run.
    let again = sampled.compliance_report("digest").await;
    let names = |r: &Report| -> Vec<String> {
        r.resources
            .iter()
            .filter(|t| copy_tags(t).reason.contains("not in the tag sample"))
            .map(|t| t.name.clone())
            .collect()
    };
    assert_eq!(names(&again), names(&merged));
}

/// The scale model's deadline and memory of a report invocation are the function's own.
#[test]
fn the_scale_model_holds_the_report_to_the_functions_timeout_and_memory() {
    let template = include_str!("../../../infra/template.yaml");
    // The indented block under `  NAME:`.
    let block = |name: &str| -> Vec<&str> {
        template
            .lines()
            .skip_while(|l| l.trim_end() != name)
            .skip(1)
            .take_while(|l| !l.starts_with("  ") || l.starts_with("   ") || l.is_empty())
            .collect()
    };
    let setting = |lines: &[&str], name: &str| -> String {
        let line = lines
            .iter()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {lines:?}"));
        line.trim_start()[name.len()..].trim().to_string()
    };
    let function = block("  ComplianceReportFunction:");
    let timeout = relay_sim::report::REPORT_TIMEOUT.as_secs();
    assert_eq!(setting(&function, "Timeout:"), timeout.to_string());
    let memory = setting(&function, "MemorySize:");
    let memory = match memory.strip_prefix("!Ref ") {
        Some(parameter) => setting(&block(&format!("  {parameter}:")), "Default:"),
        None => memory,
    };
    let memory: usize = memory.parse().unwrap();
    assert_eq!(memory << 20, relay_sim::report::REPORT_MEMORY);
}

/// The merge writes each file in pieces as they come: joined, they are the whole file, and
/// report.json is what serde_json prints of the report. The page and the CSV are also checked
/// against what they must hold, on a report with more failing tables than the page unfolds.
#[tokio::test]
async fn every_rendering_in_pieces_joins_into_the_whole_file() {
    use relay_compliance::{findings, render, ReportFile, Status};
    let strays: String = (0..30)
        .map(|i| {
            format!("  - {{ name: stray-{i}, account: \"111111111111\", region: us-east-1 }}\n")
        })
        .collect();
    let world = COMPLIANT.replace("tables:\n", &format!("tables:\n{strays}"));
    let world = format!("{world}accounts:\n  \"333333333333\": {{ executor_role: false }}\n");
    let sim = simulated(EXAMPLE, &world, options(2, 1, Faults::none())).await;
    let mut report = sim.compliance_report("digest").await;
    let failing = |r: &Report| {
        r.resources
            .iter()
            .filter(|t| t.status == Status::NonCompliant)
            .count()
    };
    assert!(
        !report.gaps.is_empty() && failing(&report) > 30,
        "{:?}",
        report.summary
    );
    let joined = |report: &Report, file| {
        render::chunks(report, file)
            .unwrap()
            .map(|c| c.unwrap())
            .collect::<String>()
    };
    for _ in 0..2 {
        assert_eq!(
            joined(&report, ReportFile::Json),
            serde_json::to_string_pretty(&report).unwrap()
        );
        assert_eq!(
            render::json(&report).unwrap(),
            joined(&report, ReportFile::Json)
        );
        assert_eq!(
            joined(&report, ReportFile::Findings),
            serde_json::to_string(&findings::findings(&report)).unwrap()
        );
        let page = joined(&report, ReportFile::Html);
        assert_eq!(render::html(&report), page);
        let count = |s: &str| page.matches(s).count();
        let cards = failing(&report);
        assert_eq!(count("<details class=\"card\""), cards);
        assert_eq!(count("\" open><summary>"), cards.min(25));
        assert_eq!(
            count("<section id=\"non-compliant\">"),
            usize::from(cards > 0)
        );
        assert_eq!(count("<tr data-status="), report.resources.len());
        assert!(page.ends_with("</body></html>\n"));
        if cards > 0 {
            assert!(page.contains("</details>\n</section>\n<section id=\"tables\">"));
        }
        let csv = joined(&report, ReportFile::Csv);
        assert_eq!(render::csv(&report).unwrap(), csv);
        let rows: usize = report.resources.iter().map(|r| r.controls.len()).sum();
        assert_eq!(csv.lines().count(), 1 + rows);
        assert!(csv.starts_with("Account Id,Region,Resource ARN,"));
        // And a report of no table at all.
        report.resources.clear();
        report.summary = Default::default();
    }
}

/// The organisation benchmark's policy and world (`scripts/bench-organisation`) at a small size,
/// a day, reported in pieces: the same report as the single run, and the run's figures.
async fn bench_organisation(accounts: u32, tables: u32, what: &str) -> (Report, ReportRun) {
    let policy = include_str!("../../../scripts/bench/organisation-policy.yaml");
    let world = include_str!("../../../scripts/bench/organisation-world.yaml")
        .replace("ACCOUNTS", &accounts.to_string())
        .replace("TABLES", &tables.to_string())
        .replace("HELD", "0")
        .replace("QUOTA", "1000");
    let sim = simulated(policy, &world, options(1, 1, Faults::none())).await;
    let single = sim.compliance_report("digest").await;
    let (merged, run) = in_pieces(&sim, 50_000).await;
    assert_same(&single, &merged, what);
    (merged, run)
}

/// The merge reads the evaluation parts a window at a time, all of a window in flight together:
/// it waits about one read per window, not one per piece, and the report is the same.
#[tokio::test]
async fn the_merge_reads_its_parts_a_window_at_a_time() {
    let (merged, run) = Box::pin(bench_organisation(12, 1, "read in windows")).await;
    assert!(!merged.resources.is_empty());
    let windows = run.pieces.div_ceil(compliance::pieces::MERGE_READS_AT_ONCE);
    assert!(windows >= 3, "{run:?}");
    // One read after another would be 40 ms a piece.
    let serial_seconds = run.pieces as f64 * 0.040;
    assert!(
        run.merge_minutes * 60.0 < serial_seconds / 3.0,
        "{} s to merge {} pieces",
        run.merge_minutes * 60.0,
        run.pieces
    );
}

/// A member account's piece reads its tables' tags and PITR several tables at once: 100 tables
/// read one after another are 12 s of DynamoDB calls in one piece.
#[tokio::test]
async fn an_accounts_tables_are_read_several_at_once() {
    let (merged, run) = Box::pin(bench_organisation(1, 100, "tables read at once")).await;
    assert_eq!(merged.resources.len(), 400);
    // The inventory took 17 s with the tables read one after another (the member's piece 13.8 s,
    // of which 12 s its tables' reads); 6.6 s with eight at once.
    assert!(run.inventory_minutes * 60.0 < 10.0, "{run:?}");
}

/// With no tables in the world, the simulator makes some in every root vault's account and
/// Region, a set's members included: their names are table names, and the report in pieces is
/// the single run's.
#[tokio::test]
async fn tables_the_simulator_makes_for_a_set_are_reported_the_same_in_pieces() {
    let policy = Policy::parse(ORG_POLICY).unwrap();
    let mut sim = Simulation::new(policy, options(1, 1, Faults::none()));
    sim.run().await;
    let single = sim.compliance_report("digest").await;
    let (merged, _) = in_pieces(&sim, 50_000).await;
    assert_same(&single, &merged, "generated tables");
    assert!(!merged.resources.is_empty());
    for r in &merged.resources {
        assert!(
            relay_core::arn::TableArn::parse(&r.resource_arn).is_ok(),
            "{}",
            r.resource_arn
        );
        let chain = r
            .controls
            .iter()
            .find(|c| c.id == relay_compliance::controls::ControlId::RelayChainComplete);
        assert_ne!(
            chain.map(|c| c.status),
            Some(relay_compliance::Status::NonCompliant),
            "{}: {chain:?}",
            r.name
        );
    }
}
