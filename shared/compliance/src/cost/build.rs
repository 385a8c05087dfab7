//! The projection assembled: each table's shape (one per plan and set of selected routes, cached),
//! the GB each (vault, lifecycle) holds and each Region crossing moves, and their cost month by
//! month.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use relay_core::policy::Policy;

use super::advice;
use super::paths::{Graph, Shape};
use super::profile::{backups, Life};
use super::{
    ModelFacts, MonthCost, Organisation, PriceSource, Prices, Projection, Rates, RegionCost,
    TableCost, VaultCost,
};

/// The resource type every table here is.
const DYNAMODB: &str = "DynamoDB";

/// Every table's shapes.
pub(super) struct Shapes {
    pub(super) shapes: Vec<Shape>,
    /// GB of table per shape: the sizes of every table that has it.
    pub(super) gb: Vec<f64>,
    /// Per table of the organisation: the shapes of the plans that back it up.
    pub(super) of_table: Vec<Vec<usize>>,
}

/// What the organisation puts where: GB per (vault, lifecycle), GB moved per (Region left, vault
/// landed in, schedule).
#[derive(Default)]
pub(super) struct Load {
    pub(super) held: BTreeMap<(usize, Life), f64>,
    pub(super) moved: BTreeMap<(String, usize, u32), f64>,
}

pub(super) fn project(
    policy: &Policy,
    org: &Organisation,
    prices: &Prices,
    months: u32,
) -> Projection {
    let graph = Graph::new(policy);
    let shapes = Shapes::of(&graph, org);
    let load = Load::of(&shapes);
    let rates: Vec<Rates> = policy
        .vaults
        .iter()
        .map(|v| prices.rates(&v.arn.region))
        .collect();
    let by_vault = by_vault(policy, &load, &rates, prices, months);
    Projection {
        currency: prices.currency.clone(),
        prices: PriceSource {
            source: prices.source.clone(),
            as_of: prices.as_of.clone(),
        },
        months: (1..=months)
            .map(|m| month_cost(&load, &rates, prices, m))
            .collect(),
        by_region: by_region(&by_vault),
        by_table: by_table(org, &shapes, &rates, prices, months),
        cold_tiering_advice: advice::advise(&graph, org, &load, &rates, months),
        by_vault,
        model: ModelFacts {
            hours_per_month: super::HOURS_PER_MONTH,
            tables: org.tables.len(),
            tables_backed_up: shapes.of_table.iter().filter(|s| !s.is_empty()).count(),
            backup_plans: org.plans.len(),
            total_gb: org.tables.iter().map(|t| u64::from(t.size_gb)).sum(),
        },
    }
}

impl Shapes {
    /// How many shapes the organisation's tables have.
    #[cfg(test)]
    pub(super) fn count(graph: &Graph<'_>, org: &Organisation) -> usize {
        Self::of(graph, org).shapes.len()
    }

    fn of(graph: &Graph<'_>, org: &Organisation) -> Self {
        let mut here: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
        for (i, t) in org.tables.iter().enumerate() {
            let at = (t.arn.account.as_str(), t.arn.region.as_str());
            here.entry(at).or_default().push(i);
        }
        let mut out = Self {
            shapes: Vec::new(),
            gb: Vec::new(),
            of_table: vec![Vec::new(); org.tables.len()],
        };
        let mut cache: HashMap<(usize, Vec<bool>), usize> = HashMap::new();
        for (p, plan) in org.plans.iter().enumerate() {
            let Some(root) = graph.vault_index(&plan.vault) else {
                continue;
            };
            let arn = &graph.policy.vaults[root].arn;
            let routes = graph.reachable_routes(plan);
            let at = (arn.account.as_str(), arn.region.as_str());
            for &i in here.get(&at).into_iter().flatten() {
                let t = &org.tables[i];
                if !plan
                    .select_tags
                    .iter()
                    .all(|(k, v)| t.tags.get(k) == Some(v))
                {
                    continue;
                }
                let selects =
                    |r: &relay_core::policy::Route| r.select.matches(Some(DYNAMODB), &t.tags);
                let mask: Vec<bool> = routes.iter().map(|r| selects(r)).collect();
                let id = match cache.entry((p, mask)) {
                    Entry::Occupied(e) => *e.get(),
                    Entry::Vacant(e) => {
                        out.shapes.push(graph.shape(org, plan, &selects));
                        out.gb.push(0.0);
                        *e.insert(out.shapes.len() - 1)
                    }
                };
                out.gb[id] += f64::from(t.size_gb);
                out.of_table[i].push(id);
            }
        }
        out
    }
}

impl Load {
    fn of(shapes: &Shapes) -> Self {
        let mut load = Self::default();
        for (shape, gb) in shapes.shapes.iter().zip(&shapes.gb) {
            for h in &shape.holdings {
                *load.held.entry((h.vault, h.life)).or_default() += gb;
            }
            for t in &shape.transfers {
                let key = (t.from_region.clone(), t.vault, t.every_hours);
                *load.moved.entry(key).or_default() += gb;
            }
        }
        load
    }
}

/// What one GB of warm and cold storage holding `life` costs in `month` at `rates`.
pub(super) fn storage_cost(life: Life, month: u32, rates: &Rates) -> f64 {
    let h = life.month(month);
    h.warm * rates.warm_gb_month + h.cold * rates.cold_gb_month
}

fn month_cost(load: &Load, rates: &[Rates], prices: &Prices, month: u32) -> MonthCost {
    let mut m = MonthCost {
        month,
        ..MonthCost::default()
    };
    for (&(vault, life), gb) in &load.held {
        let h = life.month(month);
        m.warm_gb += gb * h.warm;
        m.cold_gb += gb * h.cold;
        m.storage_cost += gb * storage_cost(life, month, &rates[vault]);
    }
    for ((from, _, every), gb) in &load.moved {
        let moved = gb * backups(*every, month);
        m.transfer_gb += moved;
        m.transfer_cost += moved * prices.rates(from).transfer_gb;
    }
    m.total_cost = m.storage_cost + m.transfer_cost;
    m
}

fn by_vault(
    policy: &Policy,
    load: &Load,
    rates: &[Rates],
    prices: &Prices,
    month: u32,
) -> Vec<VaultCost> {
    let mut out: Vec<VaultCost> = policy
        .vaults
        .iter()
        .map(|v| VaultCost {
            vault: v.alias.clone(),
            account: v.arn.account.clone(),
            region: v.arn.region.clone(),
            warm_gb: 0.0,
            cold_gb: 0.0,
            storage_cost: 0.0,
            transfer_cost: 0.0,
            monthly_cost: 0.0,
        })
        .collect();
    for (&(vault, life), gb) in &load.held {
        let h = life.month(month);
        let v = &mut out[vault];
        v.warm_gb += gb * h.warm;
        v.cold_gb += gb * h.cold;
        v.storage_cost += gb * storage_cost(life, month, &rates[vault]);
    }
    for ((from, vault, every), gb) in &load.moved {
        out[*vault].transfer_cost += gb * backups(*every, month) * prices.rates(from).transfer_gb;
    }
    for v in &mut out {
        v.monthly_cost = v.storage_cost + v.transfer_cost;
    }
    out
}

fn by_region(vaults: &[VaultCost]) -> Vec<RegionCost> {
    let mut regions: BTreeMap<&str, RegionCost> = BTreeMap::new();
    for v in vaults {
        let r = regions.entry(&v.region).or_insert_with(|| RegionCost {
            region: v.region.clone(),
            warm_gb: 0.0,
            cold_gb: 0.0,
            monthly_cost: 0.0,
        });
        r.warm_gb += v.warm_gb;
        r.cold_gb += v.cold_gb;
        r.monthly_cost += v.monthly_cost;
    }
    regions.into_values().collect()
}

/// Every table's cost in `month`: the cost of one GB of each of its shapes, times its size.
fn by_table(
    org: &Organisation,
    shapes: &Shapes,
    rates: &[Rates],
    prices: &Prices,
    month: u32,
) -> Vec<TableCost> {
    let per_gb: Vec<f64> = shapes
        .shapes
        .iter()
        .map(|s| {
            let stored: f64 = s
                .holdings
                .iter()
                .map(|h| storage_cost(h.life, month, &rates[h.vault]))
                .sum();
            let moved: f64 = s
                .transfers
                .iter()
                .map(|t| backups(t.every_hours, month) * prices.rates(&t.from_region).transfer_gb)
                .sum();
            stored + moved
        })
        .collect();
    let mut out: Vec<TableCost> = org
        .tables
        .iter()
        .zip(&shapes.of_table)
        .map(|(t, ids)| TableCost {
            resource_arn: t.arn.to_string(),
            size_gb: t.size_gb,
            monthly_cost: f64::from(t.size_gb) * ids.iter().map(|&i| per_gb[i]).sum::<f64>(),
        })
        .collect();
    out.sort_by(|a, b| {
        b.monthly_cost
            .total_cmp(&a.monthly_cost)
            .then_with(|| a.resource_arn.cmp(&b.resource_arn))
    });
    out
}
