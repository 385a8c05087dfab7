//! The compliance report over a large organisation on the simulator: 10,000 tables in 50
//! account-Regions, 1,000,000 recovery points. Run: `cargo bench -p relay-sim --bench
//! inventory_10k`; the figures are recorded in docs/benchmarks.md. A bench binary, not a timed
//! test: it measures and asserts nothing about time.
//!
//! 10 accounts x 5 Regions. Each account-Region holds 200 gold tables, a root vault their backup
//! plan fills (50 daily backups per table) and a copy vault that the next account-Region's root
//! copies into (cross-account and cross-Region): 500,000 originals and 500,000 copies. Every vault
//! denies manual deletion, the copy vaults are locked; one table in a hundred has PITR off.
// Helpers of a benchmark may unwrap and panic: a failure is meant to stop it there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use relay_compliance::inventory::{self, PlanFacts};
use relay_compliance::{self as compliance, render};
use relay_core::arn::{TableArn, VaultArn};
use relay_core::policy::Policy;
use relay_core::retention::{delete_at, Lifecycle, VaultLock};
use relay_sim::world::{SimRecoveryPoint, SimTable};
use relay_sim::{Faults, Sim, World};

const ACCOUNTS: usize = 10;
const REGIONS: [&str; 5] = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
];
const TABLES_PER_LOCATION: usize = 200;
const BACKUPS_PER_TABLE: i64 = 50;

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn account(i: usize) -> String {
    format!("1000000000{i:02}")
}

/// Root vault `root-N` and copy vault `copy-N` in location N; root-N copies into copy-(N+11),
/// another account in another Region.
fn policy() -> Policy {
    let mut text = String::from(
        "version: 1\ncopy_role: \"arn:aws:iam::{account}:role/backup-relay-copy\"\nvaults:\n",
    );
    let locations = ACCOUNTS * REGIONS.len();
    for n in 0..locations {
        let (acct, region) = (account(n % ACCOUNTS), REGIONS[n / ACCOUNTS]);
        text += &format!(
            "  root-{n}: {{ arn: \"arn:aws:backup:{region}:{acct}:backup-vault:root-{n}\" }}\n"
        );
        text += &format!("  copy-{n}: {{ arn: \"arn:aws:backup:{region}:{acct}:backup-vault:copy-{n}\", retention: {{ delete_after_days: 365 }} }}\n");
    }
    text += "routes:\n";
    for n in 0..locations {
        text += &format!(
            "  - {{ from: root-{n}, to: copy-{} }}\n",
            (n + ACCOUNTS + 1) % locations
        );
    }
    Policy::parse(&text).expect("benchmark policy")
}

fn point(
    vault: &VaultArn,
    table: &str,
    n: i64,
    created: DateTime<Utc>,
    days: u32,
) -> SimRecoveryPoint {
    let lifecycle = Lifecycle {
        delete_after_days: Some(days),
        move_to_cold_storage_after_days: None,
    };
    SimRecoveryPoint {
        arn: format!(
            "arn:aws:backup:{}:{}:recovery-point:{}-{table}-{n}",
            vault.region, vault.account, vault.name
        ),
        vault: vault.clone(),
        resource_arn: table.to_string(),
        creation_date: created,
        lifecycle,
        delete_at: delete_at(created, &lifecycle),
        source: None,
        completed_at: created + Duration::hours(1),
        status: "COMPLETED",
        source_vault: None,
    }
}

fn world(policy: &Policy, now: DateTime<Utc>) -> World {
    let mut w = World::new(now, 1, Faults::none());
    for v in &policy.vaults {
        w.add_vault(v.arn.clone());
        // Every vault denies manual deletion; the copy vaults are locked.
        if let Some(sim) = w.vaults.get_mut(&v.arn) {
            sim.deny_manual_deletion = true;
            if v.alias.starts_with("copy-") {
                sim.lock = Some(VaultLock {
                    min_retention_days: Some(7),
                    max_retention_days: Some(36500),
                });
            }
        }
    }
    let locations = ACCOUNTS * REGIONS.len();
    for n in 0..locations {
        let root = policy
            .vault(&format!("root-{n}"))
            .expect("root")
            .arn
            .clone();
        let copy = policy
            .vault(&format!("copy-{}", (n + ACCOUNTS + 1) % locations))
            .expect("copy")
            .arn
            .clone();
        w.backup_plans.push(PlanFacts {
            account: root.account.clone(),
            region: root.region.clone(),
            name: format!("daily-{n}"),
            vault_arn: root.to_string(),
            every_hours: Some(24),
            delete_after_days: Some(35),
            select_tags: BTreeMap::new(),
            select_resources: Vec::new(),
        });
        for t in 0..TABLES_PER_LOCATION {
            let arn = TableArn {
                partition: "aws".into(),
                region: root.region.clone(),
                account: root.account.clone(),
                table: format!("table-{t:03}"),
            };
            let table = arn.to_string();
            let mut facts = SimTable::new(
                arn,
                [("backup-tier".to_string(), "gold".to_string())].into(),
            );
            // One table in a hundred without point-in-time recovery: a report with findings.
            facts.pitr = t % 100 != 42;
            w.tables.push(facts);
            for d in 0..BACKUPS_PER_TABLE {
                let created =
                    now - Duration::hours(20) - Duration::days(d) - Duration::minutes(t as i64);
                w.insert_point(point(&root, &table, d, created, 35));
                w.insert_point(point(&copy, &table, d, created, 365));
            }
        }
    }
    w
}

fn main() {
    let policy = policy();
    let now = DateTime::parse_from_rfc3339("2027-06-01T06:00:00Z")
        .expect("date")
        .with_timezone(&Utc);
    let rss_start = status_kib("VmRSS:");
    let build = Instant::now();
    let w = world(&policy, now);
    let built_in = build.elapsed();
    let rss_world = status_kib("VmRSS:");
    let sim = Sim::new(w);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let start = Instant::now();
    let inv = runtime.block_on(inventory::take_inventory(&sim, &sim, &policy, 8, now));
    let inventory_time = start.elapsed();
    let rss_inventory = status_kib("VmRSS:");
    let start = Instant::now();
    let report = compliance::evaluate(&policy, &inv, now, &compliance::policy_digest("bench"));
    let evaluate_time = start.elapsed();
    let start = Instant::now();
    let json = render::json(&report).expect("json");
    let csv = render::csv(&report).expect("csv");
    let html = render::html(&report);
    let render_time = start.elapsed();
    let hwm = status_kib("VmHWM:");

    let w = sim.world();
    let calls = &w.counters.calls_by_operation;
    let locations = (ACCOUNTS * REGIONS.len()) as u64;
    let per_location_tables = TABLES_PER_LOCATION as u64;
    let points_per_vault = per_location_tables * BACKUPS_PER_TABLE as u64;
    // The floor the issue sets: ceil(N/100) + ceil(V/1000) + sum of ceil(M/1000), per account-Region.
    let list_floor =
        locations * (per_location_tables.div_ceil(100) + 1 + 2 * points_per_vault.div_ceil(1000));
    let listed = calls.get("ListTables").copied().unwrap_or(0)
        + calls.get("ListBackupVaults").copied().unwrap_or(0)
        + calls
            .get("ListRecoveryPointsByBackupVault")
            .copied()
            .unwrap_or(0);
    let total: u64 = calls.values().sum();

    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| account-Regions / tables / vaults | {locations} / {} / {} |",
        inv.tables.len(),
        inv.vaults.len()
    );
    println!("| recovery points inventoried | {} |", inv.points.len());
    println!("| world built in | {:.2} s |", built_in.as_secs_f64());
    println!(
        "| inventory (all account-Regions, 8 at a time) | {:.2} s |",
        inventory_time.as_secs_f64()
    );
    println!(
        "| evaluation (16 controls x {} tables) | {:.2} s |",
        report.resources.len(),
        evaluate_time.as_secs_f64()
    );
    println!(
        "| rendering JSON + CSV + HTML | {:.2} s |",
        render_time.as_secs_f64()
    );
    println!(
        "| report sizes JSON / CSV / HTML | {} / {} / {} KiB |",
        json.len() / 1024,
        csv.len() / 1024,
        html.len() / 1024
    );
    println!("| list calls made / the floor (ListTables + ListBackupVaults + ListRecoveryPointsByBackupVault) | {listed} / {list_floor} |");
    for (op, n) in calls {
        println!("| calls: {op} | {n} |");
    }
    println!("| calls in all | {total} |");
    println!(
        "| RSS before the world / with the world / after the inventory | {} / {} / {} MiB |",
        rss_start / 1024,
        rss_world / 1024,
        rss_inventory / 1024
    );
    println!("| peak RSS (VmHWM) | {} MiB |", hwm / 1024);
    println!(
        "| tables compliant / non-compliant | {} / {} |",
        report.summary.compliant, report.summary.non_compliant
    );
    for (id, c) in report
        .summary
        .controls
        .iter()
        .filter(|(_, c)| c.non_compliant > 0)
    {
        println!("| non-compliant: {id} | {} |", c.non_compliant);
    }
}
