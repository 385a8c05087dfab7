//! Cold tiering advice: in each vault that holds copies with no cold transition, what moving them
//! to cold storage after 30, 60 or 90 days would save in the last projected month; and, where AWS
//! forbids it, that it is not advised and why (facts §3, §4): a vault receiving cross-account
//! copies (no cold tier for them; the policy's validation refuses it), a lifecycle shorter than
//! cold + 90 days (the cold tier's minimum), an account and Region without advanced features. In a
//! vault whose points a backup plan makes, the saving is the plan's to make, and the advice says so.

use std::collections::{BTreeSet, HashMap};

use relay_core::retention::{Retention, COLD_MIN_DAYS};
use serde::Serialize;

use super::build::{storage_cost, Load};
use super::paths::Graph;
use super::profile::Life;
use super::{money, Organisation, Rates};

/// The cold transitions advised on: copies older than these many days.
pub const COLD_OPTIONS_DAYS: [u32; 3] = [30, 60, 90];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advice {
    pub vault: String,
    pub account: String,
    pub region: String,
    /// What storing those copies costs in the last month as it is.
    #[serde(serialize_with = "money")]
    pub monthly_cost: f64,
    /// Why no cold transition is advised there at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Who would make the change, when it is not the policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub options: Vec<AdviceOption>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdviceOption {
    pub cold_after_days: u32,
    /// Saved in the last month; absent where the option is refused.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "money_option"
    )]
    pub saves_per_month: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

pub(super) fn advise(
    graph: &Graph<'_>,
    org: &Organisation,
    load: &Load,
    rates: &[Rates],
    month: u32,
) -> Vec<Advice> {
    let sources = cross_account_sources(graph, org);
    (0..graph.policy.vaults.len())
        .filter_map(|v| {
            // Copies it holds that never go cold (the others are tiered already).
            let warm_only: Vec<(Life, f64)> = load
                .held
                .range((v, Life::MIN)..)
                .take_while(|((vault, _), _)| *vault == v)
                .filter(|((_, life), gb)| life.cold_days.is_none() && **gb > 0.0)
                .map(|((_, life), gb)| (*life, *gb))
                .collect();
            let tiered = graph.policy.vaults[v]
                .retention
                .is_some_and(|r| r.cold_after_days().is_some());
            (!warm_only.is_empty() && !tiered)
                .then(|| advice_for(graph, org, &sources, v, &warm_only, &rates[v], month))
        })
        .collect()
}

fn advice_for(
    graph: &Graph<'_>,
    org: &Organisation,
    sources: &HashMap<usize, String>,
    v: usize,
    held: &[(Life, f64)],
    rates: &Rates,
    month: u32,
) -> Advice {
    let vault = &graph.policy.vaults[v];
    let refused = refusal(graph, org, sources, v);
    let options = match refused {
        Some(_) => Vec::new(),
        None => COLD_OPTIONS_DAYS
            .iter()
            .map(|&c| option(held, c, rates, month))
            .collect(),
    };
    let note = vault.retention.is_none().then(|| {
        "its points are made by a backup plan, which owns their lifecycle: the saving is made \
         by a cold transition in the plan's rule (MoveToColdStorageAfterDays), not in the policy"
            .to_string()
    });
    Advice {
        vault: vault.alias.clone(),
        account: vault.arn.account.clone(),
        region: vault.arn.region.clone(),
        monthly_cost: held
            .iter()
            .map(|(life, gb)| gb * storage_cost(*life, month, rates))
            .sum(),
        refused,
        note,
        options,
    }
}

/// Moving what the vault holds to cold storage after `cold` days: the saving in `month`, or why
/// not (a point must stay cold 90 days before it is deleted).
fn option(held: &[(Life, f64)], cold: u32, rates: &Rates, month: u32) -> AdviceOption {
    let short: BTreeSet<u32> = held
        .iter()
        .filter_map(|(life, _)| life.delete_days)
        .filter(|d| *d < cold + COLD_MIN_DAYS)
        .collect();
    if let Some(d) = short.first() {
        return AdviceOption {
            cold_after_days: cold,
            saves_per_month: None,
            refused: Some(format!(
                "its points are deleted after {d} days, fewer than {cold} + {COLD_MIN_DAYS}: a \
                 point must stay in cold storage at least {COLD_MIN_DAYS} days"
            )),
        };
    }
    let saves = held
        .iter()
        .map(|(life, gb)| {
            let tiered = Life {
                cold_days: Some(cold),
                ..*life
            };
            gb * (storage_cost(*life, month, rates) - storage_cost(tiered, month, rates))
        })
        .sum();
    AdviceOption {
        cold_after_days: cold,
        saves_per_month: Some(saves),
        refused: None,
    }
}

/// Why AWS forbids a cold transition in vault `v` whatever its days, if it does.
fn refusal(
    graph: &Graph<'_>,
    org: &Organisation,
    sources: &HashMap<usize, String>,
    v: usize,
) -> Option<String> {
    let vault = &graph.policy.vaults[v];
    let (account, region) = (&vault.arn.account, &vault.arn.region);
    if graph.native(org, v) {
        return Some(format!(
            "DynamoDB advanced features are off in {account}/{region}: backups there are \
             DynamoDB-native and have no cold tier"
        ));
    }
    if let Some(from) = sources.get(&v) {
        return Some(format!(
            "it receives cross-account copies (from '{from}'): AWS has no cold tier for \
             cross-account copies, and the policy's validation refuses cold storage on a \
             cross-account destination"
        ));
    }
    if matches!(vault.retention, Some(Retention::Inherit)) {
        return Some(
            "its retention is inherit: its copies keep their source's lifecycle; give it a \
             retention of its own with move_to_cold_storage_after_days (delete_after_days at \
             least cold + 90)"
                .to_string(),
        );
    }
    None
}

/// Per vault, a vault of another account that copies into it (by a route, or by a plan's copy
/// action), found in one pass over the routes and plans.
fn cross_account_sources(graph: &Graph<'_>, org: &Organisation) -> HashMap<usize, String> {
    let vaults = &graph.policy.vaults;
    let routes = graph.policy.routes.iter().map(|r| (&r.from, &r.to));
    let copies = org
        .plans
        .iter()
        .filter_map(|p| Some((&p.vault, p.copy_to.as_ref()?)));
    let mut out = HashMap::new();
    for (from, to) in routes.chain(copies) {
        let (Some(f), Some(t)) = (graph.vault_index(from), graph.vault_index(to)) else {
            continue;
        };
        if vaults[f].arn.account != vaults[t].arn.account {
            out.entry(t).or_insert_with(|| vaults[f].alias.clone());
        }
    }
    out
}

fn money_option<S: serde::Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(x) => money(x, s),
        None => s.serialize_none(),
    }
}
