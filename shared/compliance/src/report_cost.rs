//! Cost where people look: the report's month of cost per account and vault (what the vaults
//! hold now, at the shipped prices) and the 12-month projection of the organisation the
//! inventory saw (`relay cost`'s model over its tables, sizes and backup plans).
//!
//! What the pieces of a run each see is summed exactly (bytes, not money) and priced once, so a
//! run in pieces gives the same figures as a run in one process.

use std::collections::{BTreeMap, BTreeSet};

use relay_core::arn::{TableArn, VaultArn};
use relay_core::retention::Lifecycle;
use relay_core::Policy;
use serde::{Deserialize, Serialize};

use crate::cost::{self, Organisation, Prices};
use crate::inventory::{Inventory, PlanFacts};

/// Bytes in a GB as AWS Backup bills it (2^30).
const GB: f64 = 1_073_741_824.0;
/// Months the report's projection shows.
pub const PROJECTED_MONTHS: u32 = 12;

/// What the report prices, gathered from an inventory (or several, summed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostFacts {
    /// Bytes held per vault ARN: [warm, cold].
    pub held: BTreeMap<String, [u64; 2]>,
    /// Each table's newest backup size in bytes, and its tags, by table ARN.
    pub tables: BTreeMap<String, (u64, BTreeMap<String, String>)>,
    pub plans: Vec<PlanFacts>,
    /// (account, Region) with advanced features off: their backups are native, never copied.
    pub native_regions: BTreeSet<(String, String)>,
}

impl CostFacts {
    pub fn of(inv: &Inventory) -> Self {
        let mut facts = Self::default();
        let mut newest: BTreeMap<&str, (chrono::DateTime<chrono::Utc>, u64)> = BTreeMap::new();
        for p in &inv.points {
            let Some(bytes) = p.backup_size_bytes else {
                continue;
            };
            let tier = usize::from(p.storage_class.as_deref() == Some("COLD"));
            let held = facts.held.entry(p.vault.to_string()).or_default();
            held[tier] = held[tier].saturating_add(bytes);
            if let Some(r) = p.resource_arn.as_deref() {
                let slot = newest.entry(r).or_insert((p.creation_date, bytes));
                if p.creation_date > slot.0 {
                    *slot = (p.creation_date, bytes);
                }
            }
        }
        for t in &inv.tables {
            let bytes = newest.get(t.arn.as_str()).map_or(0, |(_, b)| *b);
            facts.tables.insert(t.arn.clone(), (bytes, t.tags.clone()));
        }
        facts.plans = inv.plans.clone();
        facts.native_regions = inv
            .regions
            .iter()
            .filter(|r| r.advanced_features == Some(false))
            .map(|r| (r.account.clone(), r.region.clone()))
            .collect();
        facts
    }

    /// Another piece's facts added to these.
    pub fn absorb(&mut self, other: CostFacts) {
        for (vault, [warm, cold]) in other.held {
            let held = self.held.entry(vault).or_default();
            held[0] = held[0].saturating_add(warm);
            held[1] = held[1].saturating_add(cold);
        }
        self.tables.extend(other.tables);
        self.plans.extend(other.plans);
        self.native_regions.extend(other.native_regions);
    }
}

/// The report's cost section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportCost {
    pub currency: String,
    pub prices_source: String,
    pub prices_as_of: String,
    /// What each vault's points cost for a month, as held when the report was taken.
    pub this_month: Vec<VaultMonth>,
    /// The same by account: who pays.
    pub by_account: Vec<AccountMonth>,
    /// The organisation as seen, projected month by month (the backup plans running on).
    pub projection: Vec<ProjectedMonth>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VaultMonth {
    /// The policy alias, or the vault's name outside the policy.
    pub vault: String,
    pub vault_arn: String,
    pub account: String,
    pub region: String,
    pub warm_gb: f64,
    pub cold_gb: f64,
    pub monthly_cost: f64,
    /// The same, exactly: what the EMF metrics publish.
    pub warm_bytes: u64,
    pub cold_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountMonth {
    pub account: String,
    pub monthly_cost: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectedMonth {
    pub month: u32,
    pub warm_gb: f64,
    pub cold_gb: f64,
    pub total_cost: f64,
}

/// The cost section from what the inventory (or the pieces together) saw.
pub fn report_cost(policy: &Policy, facts: &CostFacts, prices: &Prices) -> ReportCost {
    let this_month: Vec<VaultMonth> = facts
        .held
        .iter()
        .filter_map(|(arn, held)| vault_month(policy, prices, arn, *held))
        .collect();
    let mut accounts: BTreeMap<&str, f64> = BTreeMap::new();
    for v in &this_month {
        *accounts.entry(&v.account).or_default() += v.monthly_cost;
    }
    let by_account = accounts
        .into_iter()
        .map(|(account, cost)| AccountMonth {
            account: account.to_string(),
            monthly_cost: cost::round(cost, 2),
        })
        .collect();
    let projection = cost::project(
        policy,
        &organisation(policy, facts),
        prices,
        PROJECTED_MONTHS,
    )
    .months
    .iter()
    .map(|m| ProjectedMonth {
        month: m.month,
        warm_gb: cost::round(m.warm_gb, 3),
        cold_gb: cost::round(m.cold_gb, 3),
        total_cost: cost::round(m.total_cost, 2),
    })
    .collect();
    ReportCost {
        currency: prices.currency.clone(),
        prices_source: prices.source.clone(),
        prices_as_of: prices.as_of.clone(),
        this_month,
        by_account,
        projection,
    }
}

fn vault_month(
    policy: &Policy,
    prices: &Prices,
    arn: &str,
    [warm, cold]: [u64; 2],
) -> Option<VaultMonth> {
    let vault = VaultArn::parse(arn).ok()?;
    let rates = prices.rates(&vault.region);
    let (warm_gb, cold_gb) = (warm as f64 / GB, cold as f64 / GB);
    let alias = policy
        .vault_by_arn(&vault)
        .map_or_else(|| vault.name.clone(), |v| v.alias.clone());
    Some(VaultMonth {
        vault: alias,
        vault_arn: arn.to_string(),
        account: vault.account.clone(),
        region: vault.region.clone(),
        warm_gb: cost::round(warm_gb, 3),
        cold_gb: cost::round(cold_gb, 3),
        monthly_cost: cost::round(
            warm_gb * rates.warm_gb_month + cold_gb * rates.cold_gb_month,
            2,
        ),
        warm_bytes: warm,
        cold_bytes: cold,
    })
}

/// The organisation the inventory saw, as the cost model takes it: its tables at their newest
/// backup's size (whole GB, rounded up: a small table is not free), its backup plans into the
/// policy's vaults (a plan's resource list is read as its account and Region's tables).
fn organisation(policy: &Policy, facts: &CostFacts) -> Organisation {
    let tables = facts
        .tables
        .iter()
        .filter_map(|(arn, (bytes, tags))| {
            Some(cost::Table {
                arn: TableArn::parse(arn).ok()?,
                tags: tags.clone(),
                size_gb: u32::try_from(bytes.div_ceil(1 << 30)).unwrap_or(u32::MAX),
            })
        })
        .collect();
    // Each plan once, however many pieces saw it.
    let unique: BTreeMap<(&str, &str, &str, &str), &PlanFacts> = facts
        .plans
        .iter()
        .map(|p| ((&*p.account, &*p.region, &*p.name, &*p.vault_arn), p))
        .collect();
    let plans = unique
        .values()
        .filter_map(|p| {
            let vault = policy.vault_by_arn(&VaultArn::parse(&p.vault_arn).ok()?)?;
            Some(cost::Plan {
                vault: vault.alias.clone(),
                every_hours: p.every_hours?.max(1),
                lifecycle: Lifecycle {
                    delete_after_days: p.delete_after_days,
                    move_to_cold_storage_after_days: None,
                },
                select_tags: p.select_tags.clone(),
                copy_to: None,
            })
        })
        .collect();
    Organisation {
        tables,
        plans,
        native_regions: facts.native_regions.clone(),
        locks: BTreeMap::new(),
    }
}
