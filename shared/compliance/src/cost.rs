//! What protection costs (`relay cost`, design.md's contract): the storage and transfer a policy
//! makes on an organisation, projected month by month. Pure: no clock, no AWS; the organisation
//! (tables, backup plans) comes from the world file as the simulator builds it.
//!
//! The model (facts §16, §3):
//! - Every backup of a DynamoDB table is a full copy of its size. A backup plan makes one every
//!   `every_hours`, from hour 0 of the projection; the original is held in the plan's vault for the
//!   plan's `delete_after_days`.
//! - Each vault the table's routes reach holds one copy of each original (the hop identity: one
//!   copy per original per vault, whatever the graph), with the lifecycle the copy router gives it:
//!   the vault's retention (never_expire = 36500 days), `inherit` the source's expiry (its cold
//!   transition too within one account: cross-account copies have no cold tier), fitted to a
//!   vault lock the world file names; a plan's own copy action has lifecycle "never" and keeps the
//!   original's expiry (repaired to 36500 days by the retention guard in an unlocked never_expire
//!   vault). Days count from the original's creation, which copies keep; the minutes or hours a
//!   chain takes are not counted.
//! - A point is warm until its cold transition, cold after it, until its delete date: a
//!   never_expire vault grows month after month.
//! - A hop between Regions moves the table's size once per backup, priced at the Region the data
//!   leaves (AWS bills the account it is transferred from).
//! - Month m is hours [(m - 1) * 730, m * 730): 730 hours, AWS's average month (8760 hours a
//!   year, so 12 months are exactly 365 days). `warm_gb` and `cold_gb` are the average GB held
//!   during the month (GB-months), as AWS bills storage.
//! - In an account and Region without advanced features the plan's backups are DynamoDB-native:
//!   held, never copied, never cold. The projection is of the policy working: roles, keys and
//!   access policies a world file breaks are `relay doctor`'s business, not costs.
//!
//! Tables with the same plan and the same selected routes share one shape per GB, computed once
//! and scaled by their sizes: the work is one pass over the tables plus one per (vault, schedule,
//! lifecycle) and month.

use std::collections::{BTreeMap, BTreeSet};

use relay_core::arn::TableArn;
use relay_core::policy::Policy;
use relay_core::retention::{Lifecycle, VaultLock};
use relay_core::world_file::TableSpec;
use serde::Serialize;

mod advice;
mod build;
mod compare;
mod paths;
mod prices;
mod profile;
mod render;

pub use advice::{Advice, AdviceOption, COLD_OPTIONS_DAYS};
pub use compare::{Comparison, Difference, MonthDelta};
pub use prices::{Prices, PricesError, Rates, RegionRates, DEFAULT_PRICES, MAX_PRICES_BYTES};

/// Hours in a projected month: AWS's average month (365 days x 24 / 12).
pub const HOURS_PER_MONTH: i64 = 730;
/// `--months` bounds: 1 to 100 years.
pub const MAX_MONTHS: u32 = 1200;
pub const DEFAULT_MONTHS: u32 = 12;

/// A DynamoDB table of the organisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub arn: TableArn,
    pub tags: BTreeMap<String, String>,
    pub size_gb: u32,
}

impl Table {
    /// A world file's table.
    pub fn from_spec(t: &TableSpec) -> Self {
        Self {
            arn: t.arn(),
            tags: t.tags.clone(),
            size_gb: t.size_gb,
        }
    }
}

/// A backup plan: into the policy vault `vault` (a concrete alias, after sets are expanded),
/// every table of that vault's account and Region carrying all of `select_tags`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub vault: String,
    pub every_hours: u32,
    pub lifecycle: Lifecycle,
    pub select_tags: BTreeMap<String, String>,
    /// The plan's own copy action (lifecycle "never"), into this vault alias.
    pub copy_to: Option<String>,
}

/// The organisation a projection is of.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Organisation {
    pub tables: Vec<Table>,
    pub plans: Vec<Plan>,
    /// (account, Region) with DynamoDB advanced features off.
    pub native_regions: BTreeSet<(String, String)>,
    /// Vault locks, by policy alias.
    pub locks: BTreeMap<String, VaultLock>,
}

impl Organisation {
    /// The same organisation under another policy (a what-if): its plans and locks follow their
    /// vaults by ARN to the other policy's aliases; a plan into a vault the other policy does not
    /// have is outside its projection, as its backups are outside that policy.
    pub fn for_policy(&self, from: &Policy, to: &Policy) -> Organisation {
        let alias = |a: &str| -> Option<String> {
            let arn = &from.vault(a)?.arn;
            to.vault_by_arn(arn).map(|v| v.alias.clone())
        };
        let plans = self
            .plans
            .iter()
            .filter_map(|p| {
                Some(Plan {
                    vault: alias(&p.vault)?,
                    copy_to: p.copy_to.as_deref().and_then(alias),
                    ..p.clone()
                })
            })
            .collect();
        let locks = self
            .locks
            .iter()
            .filter_map(|(a, lock)| Some((alias(a)?, *lock)))
            .collect();
        Organisation {
            tables: self.tables.clone(),
            plans,
            native_regions: self.native_regions.clone(),
            locks,
        }
    }
}

/// The projection `relay cost --json` prints (the contract's fields, and more).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Projection {
    pub currency: String,
    pub prices: PriceSource,
    pub months: Vec<MonthCost>,
    /// Month N (the last month).
    pub by_vault: Vec<VaultCost>,
    /// Month N; every table of the organisation, costliest first.
    pub by_table: Vec<TableCost>,
    /// Month N, per Region of the vaults.
    pub by_region: Vec<RegionCost>,
    /// Month N: what a cold transition would save in each vault that has none, or why not.
    pub cold_tiering_advice: Vec<Advice>,
    pub model: ModelFacts,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceSource {
    pub source: String,
    pub as_of: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct MonthCost {
    pub month: u32,
    #[serde(serialize_with = "gb")]
    pub warm_gb: f64,
    #[serde(serialize_with = "gb")]
    pub cold_gb: f64,
    /// GB moved between Regions during the month.
    #[serde(serialize_with = "gb")]
    pub transfer_gb: f64,
    #[serde(serialize_with = "money")]
    pub storage_cost: f64,
    #[serde(serialize_with = "money")]
    pub transfer_cost: f64,
    #[serde(serialize_with = "money")]
    pub total_cost: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VaultCost {
    /// The policy alias.
    pub vault: String,
    pub account: String,
    pub region: String,
    #[serde(serialize_with = "gb")]
    pub warm_gb: f64,
    #[serde(serialize_with = "gb")]
    pub cold_gb: f64,
    #[serde(serialize_with = "money")]
    pub storage_cost: f64,
    /// Moving the copies that land here from another Region.
    #[serde(serialize_with = "money")]
    pub transfer_cost: f64,
    #[serde(serialize_with = "money")]
    pub monthly_cost: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableCost {
    pub resource_arn: String,
    pub size_gb: u32,
    #[serde(serialize_with = "money")]
    pub monthly_cost: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionCost {
    pub region: String,
    #[serde(serialize_with = "gb")]
    pub warm_gb: f64,
    #[serde(serialize_with = "gb")]
    pub cold_gb: f64,
    #[serde(serialize_with = "money")]
    pub monthly_cost: f64,
}

/// What the projection assumed, for the reader of the JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelFacts {
    pub hours_per_month: i64,
    pub tables: usize,
    /// Tables some backup plan backs up.
    pub tables_backed_up: usize,
    pub backup_plans: usize,
    pub total_gb: u64,
}

/// Projects `months` months (1..=[`MAX_MONTHS`]; outside, clamped) of the policy (sets
/// expanded) on the organisation, at these prices.
pub fn project(policy: &Policy, org: &Organisation, prices: &Prices, months: u32) -> Projection {
    build::project(policy, org, prices, months.clamp(1, MAX_MONTHS))
}

fn gb<S: serde::Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round(*x, 3))
}

fn money<S: serde::Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round(*x, 2))
}

/// `x` to `places` decimals, and never `-0`.
pub(crate) fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    let r = (x * f).round() / f;
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

#[cfg(test)]
mod tests;
