use std::collections::BTreeMap;
use std::time::Instant;

use relay_core::arn::TableArn;
use relay_core::policy::Policy;
use relay_core::retention::{Lifecycle, VaultLock};

use super::*;

const EXAMPLE: &str = include_str!("../../../../infra/examples/policy.yaml");

/// Round prices, so expected costs are easy to read.
const PRICES: &str = "currency: USD\nas_of: \"2026-11-01\"\nsource: test\n\
    default: { warm_gb_month: 0.10, cold_gb_month: 0.03, transfer_gb: 0.02 }\n";

fn prices() -> Prices {
    Prices::parse(PRICES).unwrap()
}

fn gold() -> BTreeMap<String, String> {
    BTreeMap::from([("backup-tier".to_string(), "gold".to_string())])
}

fn table(
    name: &str,
    account: &str,
    region: &str,
    size_gb: u32,
    tags: BTreeMap<String, String>,
) -> Table {
    Table {
        arn: TableArn {
            partition: "aws".into(),
            region: region.into(),
            account: account.into(),
            table: name.into(),
        },
        tags,
        size_gb,
    }
}

fn daily(vault: &str, days: u32) -> Plan {
    Plan {
        vault: vault.into(),
        every_hours: 24,
        lifecycle: Lifecycle {
            delete_after_days: Some(days),
            move_to_cold_storage_after_days: None,
        },
        select_tags: BTreeMap::new(),
        copy_to: None,
    }
}

/// One gold table of `gb` GB in the example's primary account, backed up daily for 35 days.
fn example_org(gb: u32) -> Organisation {
    Organisation {
        tables: vec![table("orders", "111111111111", "us-east-1", gb, gold())],
        plans: vec![daily("primary", 35)],
        ..Organisation::default()
    }
}

fn vault<'a>(p: &'a Projection, alias: &str) -> &'a VaultCost {
    p.by_vault.iter().find(|v| v.vault == alias).unwrap()
}

/// The example policy with `vault`'s retention line replaced.
fn example_with(from: &str, to: &str) -> Policy {
    Policy::parse(&EXAMPLE.replace(from, to)).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn a_never_expire_vault_grows_by_the_same_amount_every_month() {
    let policy = Policy::parse(EXAMPLE).unwrap();
    let by_month: Vec<f64> = (1..=36)
        .map(|m| vault(&project(&policy, &example_org(1), &prices(), m), "bunker").warm_gb)
        .collect();
    // Daily backups: 730 / 24 = 30.4 more points each month (30 or 31 within a month's hours)...
    for pair in by_month.windows(2) {
        let growth = pair[1] - pair[0];
        assert!((30.0..=31.0).contains(&growth), "{by_month:?}");
    }
    // ...and exactly 365 a year: twelve months are 8760 hours, 365 days.
    assert!(close(by_month[35] - by_month[23], 365.0), "{by_month:?}");
    assert!(close(by_month[23] - by_month[11], 365.0), "{by_month:?}");
}

#[test]
fn points_go_cold_on_their_lifecycle_and_leave_on_their_delete_date() {
    let policy = Policy::parse(EXAMPLE).unwrap();
    let p = project(&policy, &example_org(1), &prices(), 24);
    // dr: cold after 30 days, deleted after 365: in a steady month, exactly 30 warm and 335 cold.
    let dr = vault(&p, "dr");
    assert!(
        close(dr.warm_gb, 30.0) && close(dr.cold_gb, 335.0),
        "{dr:?}"
    );
    assert!(close(dr.storage_cost, 30.0 * 0.10 + 335.0 * 0.03), "{dr:?}");
    // The plan's originals and central's copies: 35 days, warm.
    for alias in ["primary", "central"] {
        let v = vault(&p, alias);
        assert!(close(v.warm_gb, 35.0) && close(v.cold_gb, 0.0), "{v:?}");
    }
    // In the first month (730 hours) only the first backup is cold, for its last 10 hours.
    let first = project(&policy, &example_org(1), &prices(), 1);
    assert!(close(vault(&first, "dr").cold_gb, 10.0 / 730.0));
}

#[test]
fn an_inherit_vault_keeps_its_source_expiry_and_its_cold_transition() {
    // bunker inherits dr's 365 days.
    let policy = Policy::parse(
        &EXAMPLE
            .replace(
                "retention: never_expire     # 36500 days",
                "retention: inherit",
            )
            .replace(
                "{ move_to_cold_storage_after_days: 30, delete_after_days: 365 }",
                "{ delete_after_days: 365 }",
            ),
    )
    .unwrap();
    let p = project(&policy, &example_org(1), &prices(), 24);
    let bunker = vault(&p, "bunker");
    assert!(
        close(bunker.warm_gb, 365.0) && close(bunker.cold_gb, 0.0),
        "{bunker:?}"
    );
    // With dr's cold transition, in dr's own account (validation refuses it across accounts).
    let same = Policy::parse(
        &EXAMPLE
            .replace(
                "retention: never_expire     # 36500 days",
                "retention: inherit",
            )
            .replace(
                "eu-west-1:333333333333:backup-vault:bunker",
                "eu-west-1:222222222222:backup-vault:bunker",
            ),
    )
    .unwrap();
    let bunker = vault(&project(&same, &example_org(1), &prices(), 24), "bunker").clone();
    assert!(
        close(bunker.warm_gb, 30.0) && close(bunker.cold_gb, 335.0),
        "{bunker:?}"
    );
}

#[test]
fn only_hops_between_regions_move_data() {
    let policy = Policy::parse(EXAMPLE).unwrap();
    let p = project(&policy, &example_org(10), &prices(), 1);
    // central -> dr (us-east-1 -> us-west-2) and dr -> bunker (-> eu-west-1): 31 backups each.
    assert!(
        close(p.months[0].transfer_gb, 2.0 * 31.0 * 10.0),
        "{:?}",
        p.months[0]
    );
    assert!(close(p.months[0].transfer_cost, 620.0 * 0.02));
    assert_eq!(vault(&p, "central").transfer_cost, 0.0); // same Region as primary
    assert!(close(vault(&p, "dr").transfer_cost, 310.0 * 0.02));
    // Regional prices: the Region the data leaves.
    let dearer = Prices::parse(&format!(
        "{PRICES}regions: {{ us-west-2: {{ transfer_gb: 0.05 }} }}\n"
    ))
    .unwrap();
    let p = project(&policy, &example_org(10), &dearer, 1);
    assert!(close(vault(&p, "dr").transfer_cost, 310.0 * 0.02));
    assert!(close(vault(&p, "bunker").transfer_cost, 310.0 * 0.05));
}

#[test]
fn a_table_no_route_selects_is_held_only_where_its_plan_puts_it() {
    let policy = Policy::parse(EXAMPLE).unwrap();
    let mut org = example_org(1);
    org.tables.push(table(
        "audit",
        "111111111111",
        "us-east-1",
        4,
        BTreeMap::new(),
    ));
    let p = project(&policy, &org, &prices(), 12);
    let audit = p
        .by_table
        .iter()
        .find(|t| t.resource_arn.ends_with("/audit"))
        .unwrap();
    assert!(close(audit.monthly_cost, 4.0 * 35.0 * 0.10), "{audit:?}");
    let orders = &p.by_table[0];
    assert!(orders.resource_arn.ends_with("/orders") && orders.monthly_cost > audit.monthly_cost);
}

#[test]
fn a_policy_with_one_hop_fewer_costs_less_every_month() {
    let policy = Policy::parse(EXAMPLE).unwrap();
    let fewer = Policy::parse(&EXAMPLE.replace("  - { from: dr, to: bunker }\n", "")).unwrap();
    let org = example_org(20);
    let c = Comparison::of(
        project(&policy, &org, &prices(), 24),
        project(&fewer, &org, &prices(), 24),
    );
    assert!(
        c.difference.months.iter().all(|m| m.total_cost < 0.0),
        "{:?}",
        c.difference
    );
    assert!(c.difference.total_cost < 0.0);
    // What it saves is the bunker's cost, to the cent.
    let bunker = vault(&c.policy, "bunker").monthly_cost;
    assert!(close(c.difference.months[23].total_cost, -bunker));
}

#[test]
fn a_plan_copy_inherits_the_original_expiry_unless_the_guard_repairs_it() {
    let policy = Policy::parse(EXAMPLE).unwrap();
    let mut org = example_org(1);
    org.tables[0].tags.clear(); // no route: only the plan's own copy reaches the bunker
    org.plans[0].copy_to = Some("bunker".into());
    // Unlocked never_expire vault: the retention guard keeps it 36500 days (the vault grows).
    let p = project(&policy, &org, &prices(), 24);
    assert!(vault(&p, "bunker").warm_gb > 700.0);
    // Locked: the change is denied; the copy keeps the original's 35 days.
    org.locks.insert(
        "bunker".into(),
        VaultLock {
            min_retention_days: Some(1),
            max_retention_days: Some(36500),
        },
    );
    let p = project(&policy, &org, &prices(), 24);
    assert!(close(vault(&p, "bunker").warm_gb, 35.0));
}

#[test]
fn a_vault_lock_clamps_or_skips_as_the_router_does() {
    let lock = VaultLock {
        min_retention_days: None,
        max_retention_days: Some(3650),
    };
    let mut org = example_org(1);
    org.locks.insert("bunker".into(), lock);
    let policy = Policy::parse(EXAMPLE).unwrap();
    // Clamped to 3650 days: after ten years the bunker stops growing.
    let p = project(&policy, &org, &prices(), 240);
    assert!(close(vault(&p, "bunker").warm_gb, 3650.0));
    let skip = example_with("on_lock_conflict: clamp", "on_lock_conflict: skip");
    let p = project(&skip, &org, &prices(), 12);
    assert_eq!(vault(&p, "bunker").warm_gb, 0.0);
}

#[test]
fn without_advanced_features_backups_are_held_but_never_copied() {
    let policy = Policy::parse(EXAMPLE).unwrap();
    let mut org = example_org(1);
    org.native_regions
        .insert(("111111111111".into(), "us-east-1".into()));
    let p = project(&policy, &org, &prices(), 12);
    assert!(close(vault(&p, "primary").warm_gb, 35.0));
    assert!(p
        .by_vault
        .iter()
        .filter(|v| v.vault != "primary")
        .all(|v| v.warm_gb == 0.0));
    let primary = p
        .cold_tiering_advice
        .iter()
        .find(|a| a.vault == "primary")
        .unwrap();
    assert!(primary
        .refused
        .as_deref()
        .unwrap()
        .contains("advanced features are off"));
}

#[test]
fn cold_tiering_is_refused_where_aws_forbids_it_and_priced_where_it_does_not() {
    let policy = Policy::parse(EXAMPLE).unwrap();
    let p = project(&policy, &example_org(1), &prices(), 12);
    let advice: BTreeMap<&str, &Advice> = p
        .cold_tiering_advice
        .iter()
        .map(|a| (a.vault.as_str(), a))
        .collect();
    assert!(
        !advice.contains_key("dr"),
        "dr moves its copies to cold storage already"
    );
    for alias in ["central", "bunker"] {
        let why = advice[alias].refused.as_deref().unwrap();
        assert!(why.contains("cross-account copies"), "{alias}: {why}");
    }
    let primary = advice["primary"];
    assert!(primary.note.as_deref().unwrap().contains("backup plan"));
    assert!(primary.options.iter().all(|o| o
        .refused
        .as_deref()
        .unwrap()
        .contains("35 days, fewer than")));
    // The bunker in dr's own account: cold storage after 30/60/90 days, the later the less saved.
    let same = Policy::parse(&EXAMPLE.replace(
        "eu-west-1:333333333333:backup-vault:bunker",
        "eu-west-1:222222222222:backup-vault:bunker",
    ))
    .unwrap();
    let p = project(&same, &example_org(1), &prices(), 24);
    let bunker = p
        .cold_tiering_advice
        .iter()
        .find(|a| a.vault == "bunker")
        .unwrap();
    let saves: Vec<f64> = bunker
        .options
        .iter()
        .map(|o| o.saves_per_month.unwrap())
        .collect();
    assert!(
        saves[0] > saves[1] && saves[1] > saves[2] && saves[2] > 0.0,
        "{saves:?}"
    );
    // At month 24, 365 + 365 + ~30 points; after 30 days, all but 30 of them are cold.
    let held = vault(&p, "bunker").warm_gb;
    assert!(
        close(saves[0], (held - 30.0) * (0.10 - 0.03)),
        "{saves:?} {held}"
    );
}

#[test]
fn the_json_has_the_contracts_fields() {
    let policy = Policy::parse(EXAMPLE).unwrap();
    let json = serde_json::to_value(project(&policy, &example_org(1), &prices(), 3)).unwrap();
    for key in [
        "currency",
        "prices",
        "months",
        "by_vault",
        "by_table",
        "cold_tiering_advice",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
    let month = &json["months"][2];
    for key in [
        "month",
        "warm_gb",
        "cold_gb",
        "storage_cost",
        "transfer_cost",
        "total_cost",
    ] {
        assert!(month.get(key).is_some(), "{key}");
    }
    for key in [
        "vault",
        "account",
        "region",
        "warm_gb",
        "cold_gb",
        "monthly_cost",
    ] {
        assert!(json["by_vault"][0].get(key).is_some(), "{key}");
    }
    assert_eq!(json["prices"]["as_of"], "2026-11-01");
    assert!(json["by_table"][0]["monthly_cost"].is_number());
}

#[test]
fn a_hundred_thousand_tables_over_ten_years_take_well_under_a_second() {
    let policy = Policy::parse(EXAMPLE).unwrap();
    let tables = (0..100_000u32)
        .map(|i| {
            let tags = if i % 4 == 3 { BTreeMap::new() } else { gold() };
            table(
                &format!("t{i:06}"),
                "111111111111",
                "us-east-1",
                1 + i % 50,
                tags,
            )
        })
        .collect();
    let org = Organisation {
        tables,
        plans: vec![daily("primary", 35)],
        ..Organisation::default()
    };
    let started = Instant::now();
    let p = project(&policy, &org, &prices(), 120);
    let took = started.elapsed();
    println!("100,000 tables, 120 months: {took:?}");
    assert_eq!((p.by_table.len(), p.months.len()), (100_000, 120));
    // Two shapes (gold, not gold), whatever the number of tables.
    let graph = paths::Graph::new(&policy);
    assert_eq!(build::Shapes::count(&graph, &org), 2);
    // Unoptimised test builds are several times slower than the release binary.
    assert!(took.as_secs_f64() < 3.0, "{took:?}");
}
