//! `relay cost` against the simulator: over a simulated year, the GB-months the simulated vaults
//! really held (every COMPLETED point's table size over the time it was in its vault, warm or
//! cold, read off the vaults as points landed, went cold and expired) match the projection of the
//! same policy on the same organisation.

use std::collections::BTreeMap;

use chrono::Duration;
use relay_compliance::cost::{self, Prices, HOURS_PER_MONTH};
use relay_core::arn::VaultArn;
use relay_core::policy::Policy;
use relay_core::world_file::WorldFile;
use relay_sim::scenario::cost_organisation;
use relay_sim::world::Tier;
use relay_sim::{Faults, SimOptions, Simulation};

/// The example policy (primary -> central -> dr, cold after 30 days, deleted after 365 -> bunker,
/// never expire) on a few tables: two gold tables of different sizes and one no route selects.
/// The default backup plan: daily, 35 days.
const WORLD: &str = r#"
tables:
  - { name: orders, account: "111111111111", region: us-east-1, tags: { backup-tier: gold }, size_gb: 20 }
  - { name: carts, account: "111111111111", region: us-east-1, tags: { backup-tier: gold }, size_gb: 3 }
  - { name: audit, account: "111111111111", region: us-east-1, size_gb: 7 }
"#;

const MONTHS: u32 = 12;

/// Average GB held per (vault, tier, month): (simulated, projected).
type Held = BTreeMap<(String, Tier, u32), (f64, f64)>;

/// GB-months over the year per (vault, tier): (simulated, projected).
type Year = BTreeMap<(String, Tier), (f64, f64)>;

async fn year(faults: Faults) -> Held {
    let policy = Policy::parse(include_str!("../../../infra/examples/policy.yaml")).unwrap();
    let world = WorldFile::parse(WORLD, &policy).unwrap();
    let options = SimOptions {
        days: 365,
        faults,
        // The reconciler every six hours, not every hour: a year in seconds (it repairs lost
        // events a few hours later, which this comparison does not notice).
        reconcile_every: Some(Duration::hours(6)),
        ..SimOptions::default()
    };
    let (expanded, org) = cost_organisation(&policy, Some(&world), &options);
    let start = options.start;
    let mut sim = Simulation::with_world(policy, &world, options);
    let s = sim.run().await;
    // A hop that fails transiently three times in a row (5% a try under the default faults) is
    // given up and alerted: over a year a chain or two may end so, never unannounced.
    assert_eq!(s.chains_incomplete_unalerted, 0, "{:?}", s.unalerted);
    assert!(
        s.chains_total - s.chains_complete <= s.chains_total / 300,
        "{:?}",
        s.incomplete
    );
    assert_eq!(s.duplicate_copy_jobs, 0);
    let prices = Prices::shipped().unwrap();
    let arns: BTreeMap<&str, &VaultArn> = expanded
        .vaults
        .iter()
        .map(|v| (v.alias.as_str(), &v.arn))
        .collect();
    let mut held = Held::new();
    let w = sim.sim.world();
    for m in 1..=MONTHS {
        let hours = |m: u32| Duration::hours(HOURS_PER_MONTH * i64::from(m));
        let gb_hours = w.held_gb_hours(start + hours(m - 1), start + hours(m));
        let projection = cost::project(&expanded, &org, &prices, m);
        for v in &projection.by_vault {
            let arn = arns[v.vault.as_str()];
            for (tier, projected) in [(Tier::Warm, v.warm_gb), (Tier::Cold, v.cold_gb)] {
                let key = (arn.clone(), tier);
                let simulated = gb_hours.get(&key).copied().unwrap_or(0.0) / HOURS_PER_MONTH as f64;
                held.insert((v.vault.clone(), tier, m), (simulated, projected));
            }
        }
    }
    held
}

/// (simulated, projected) GB-months over the year per vault and tier, and the total's difference
/// in percent; every month printed (`--nocapture`).
fn report(name: &str, held: &Held) -> (Year, f64) {
    let mut year = Year::new();
    println!("{name}: average GB held, simulated / projected");
    for ((vault, tier, m), (sim, model)) in held {
        let e = year.entry((vault.clone(), *tier)).or_default();
        (e.0, e.1) = (e.0 + sim, e.1 + model);
        if *model > 0.0 || *sim > 0.0 {
            let off = pct(*sim, *model);
            println!(
                "  {vault:<8} {tier:?} month {m:>2}: {sim:>10.1} / {model:>10.1} ({off:+.2}%)"
            );
        }
    }
    let (sim, model) = year
        .values()
        .fold((0.0, 0.0), |a, v| (a.0 + v.0, a.1 + v.1));
    for ((vault, tier), (s, m)) in &year {
        let off = pct(*s, *m);
        println!("  {vault:<8} {tier:?} year: {s:>10.1} / {m:>10.1} GB-months ({off:+.2}%)");
    }
    let total = pct(sim, model);
    println!("  total year: {sim:.1} / {model:.1} GB-months ({total:+.2}%)");
    (year, total)
}

/// How far the simulated figure is from the projection, in percent of the projection.
fn pct(simulated: f64, projected: f64) -> f64 {
    if projected == 0.0 {
        return if simulated == 0.0 { 0.0 } else { 100.0 };
    }
    (simulated - projected) / projected * 100.0
}

fn check(name: &str, held: &Held) {
    let (year, total) = report(name, held);
    assert!(
        total.abs() < 2.0,
        "{name}: the year's GB-months differ by {total:.2}%"
    );
    for ((vault, tier), (s, m)) in year {
        let off = pct(s, m);
        assert!(
            off.abs() < 2.0,
            "{name}: {vault} {tier:?}: held {s:.1} GB-months, projected {m:.1} ({off:+.2}%)"
        );
    }
    // The dr vault's points go cold after 30 days, the others' never.
    let cold = |vault: &str| {
        held.iter()
            .filter(|((v, t, _), _)| v == vault && *t == Tier::Cold)
            .map(|(_, h)| h.0)
            .sum::<f64>()
    };
    assert!(cold("dr") > 10_000.0 && cold("bunker") == 0.0 && cold("primary") == 0.0);
}

#[tokio::test]
async fn a_simulated_year_holds_what_the_projection_says_without_faults() {
    check("no faults", &year(Faults::none()).await);
}

#[tokio::test]
async fn a_simulated_year_holds_what_the_projection_says_with_the_default_faults() {
    check("default faults", &year(SimOptions::default().faults).await);
}
