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
    /// What is held now, by vault ARN, and by [`bin`] (the projected month it is cold from, the
    /// month it is deleted in, each 1..=13, 13 past the projection): the projection starts from
    /// it. (JSON keys are strings: a number keys the pair.)
    #[serde(default)]
    pub holding: BTreeMap<String, BTreeMap<u16, u64>>,
}

/// (cold from, deleted in) as one number.
fn bin(cold_from: u8, gone: u8) -> u16 {
    (u16::from(cold_from) << 8) | u16::from(gone)
}

fn unbin(key: u16) -> (u8, u8) {
    let [cold_from, gone] = key.to_be_bytes();
    (cold_from, gone)
}

/// The projected month (1..=13) that `at` falls in, counted from `now` in 730-hour months.
fn month_of(now: chrono::DateTime<chrono::Utc>, at: Option<chrono::DateTime<chrono::Utc>>) -> u8 {
    let beyond = PROJECTED_MONTHS as u8 + 1;
    let Some(at) = at else {
        return beyond;
    };
    let months = (at - now).num_hours().div_euclid(cost::HOURS_PER_MONTH) + 1;
    u8::try_from(months.clamp(1, i64::from(beyond))).unwrap_or(beyond)
}

impl CostFacts {
    pub fn of(inv: &Inventory) -> Self {
        let mut facts = Self::default();
        let mut newest: BTreeMap<&str, (chrono::DateTime<chrono::Utc>, u64)> = BTreeMap::new();
        facts.add_held(&inv.points, inv.taken_at);
        for p in &inv.points {
            let Some(bytes) = p.backup_size_bytes else {
                continue;
            };
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

    /// What these points hold, by vault and tier (a DELETED or EXPIRED point holds nothing,
    /// a PARTIAL one what it says).
    pub fn add_held(
        &mut self,
        points: &[relay_core::guard::PointView],
        now: Option<chrono::DateTime<chrono::Utc>>,
    ) {
        for p in points {
            let (Some(bytes), false) = (
                p.backup_size_bytes,
                matches!(p.status.as_deref(), Some("DELETED" | "EXPIRED"))
                    || p.storage_class.as_deref() == Some("DELETED"),
            ) else {
                continue;
            };
            let cold = p.storage_class.as_deref() == Some("COLD");
            let held = self.held.entry(p.vault.to_string()).or_default();
            held[usize::from(cold)] = held[usize::from(cold)].saturating_add(bytes);
            let Some(now) = now else {
                continue;
            };
            let cold_at = match (cold, p.lifecycle.move_to_cold_storage_after_days) {
                (true, _) => Some(now),
                (false, Some(days)) => p
                    .creation_date
                    .checked_add_signed(chrono::Duration::days(i64::from(days))),
                (false, None) => None,
            };
            let key = bin(month_of(now, cold_at), month_of(now, p.delete_at));
            let slot = self
                .holding
                .entry(p.vault.to_string())
                .or_default()
                .entry(key)
                .or_default();
            *slot = slot.saturating_add(bytes);
        }
    }

    /// Another piece's facts added to these.
    pub fn absorb(&mut self, other: CostFacts) {
        for (vault, [warm, cold]) in other.held {
            let held = self.held.entry(vault).or_default();
            held[0] = held[0].saturating_add(warm);
            held[1] = held[1].saturating_add(cold);
        }
        for (vault, bins) in other.holding {
            let mine = self.holding.entry(vault).or_default();
            for (key, bytes) in bins {
                let slot = mine.entry(key).or_default();
                *slot = slot.saturating_add(bytes);
            }
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
    .map(|m| {
        // The model's new backups, on top of what is held now and not yet deleted.
        let (warm, cold, held_cost) = still_held(facts, prices, m.month);
        ProjectedMonth {
            month: m.month,
            warm_gb: cost::round(m.warm_gb + warm, 3),
            cold_gb: cost::round(m.cold_gb + cold, 3),
            total_cost: cost::round(m.total_cost + held_cost, 2),
        }
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

/// What is held now and still held in projected month `month` (to the month: a point counts in
/// the months before the one it is deleted in): warm GB, cold GB, their cost.
fn still_held(facts: &CostFacts, prices: &Prices, month: u32) -> (f64, f64, f64) {
    let (mut warm, mut cold, mut total) = (0.0, 0.0, 0.0);
    for (arn, bins) in &facts.holding {
        let Ok(vault) = VaultArn::parse(arn) else {
            continue;
        };
        let rates = prices.rates(&vault.region);
        for (key, bytes) in bins {
            let (cold_from, gone) = unbin(*key);
            if month >= u32::from(gone) {
                continue;
            }
            let gb = *bytes as f64 / GB;
            if month >= u32::from(cold_from) {
                cold += gb;
                total += gb * rates.cold_gb_month;
            } else {
                warm += gb;
                total += gb * rates.warm_gb_month;
            }
        }
    }
    (warm, cold, total)
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
    // Each plan rule and filter once, however many pieces saw it (a rule's filters are each
    // their own entry: distinct selections, so the whole entry is the key).
    let mut unique: Vec<&PlanFacts> = Vec::new();
    for p in &facts.plans {
        if !unique.contains(&p) {
            unique.push(p);
        }
    }
    // In one order whatever order the pieces came in: the same sums, to the last digit.
    unique.sort_by(|a, b| {
        let key = |p: &PlanFacts| {
            (
                p.account.clone(),
                p.region.clone(),
                p.name.clone(),
                p.vault_arn.clone(),
                p.select_tags.clone(),
                p.select_resources.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    let plans = unique
        .iter()
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

#[cfg(test)]
mod tests {
    use super::*;
    use relay_core::guard::PointView;

    fn point(
        vault: &str,
        days_old: i64,
        keep_days: Option<i64>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> PointView {
        let created = now - chrono::Duration::days(days_old);
        PointView {
            recovery_point_arn: format!(
                "arn:aws:backup:eu-west-1:333333333333:recovery-point:{days_old}"
            ),
            vault: VaultArn::parse(vault).unwrap(),
            resource_arn: Some("arn:aws:dynamodb:us-east-1:111111111111:table/orders".into()),
            resource_type: Some("DynamoDB".into()),
            status: Some("COMPLETED".into()),
            creation_date: created,
            completion_date: Some(created),
            lifecycle: Lifecycle::default(),
            delete_at: keep_days.map(|d| created + chrono::Duration::days(d)),
            storage_class: Some("WARM".into()),
            encrypted: Some(true),
            source_vault_arn: None,
            tags: None,
            backup_size_bytes: Some(10 << 30),
        }
    }

    #[test]
    fn the_projection_starts_from_what_is_held_and_lets_it_expire() {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let bunker = "arn:aws:backup:eu-west-1:333333333333:backup-vault:bunker";
        let policy = Policy::parse(include_str!("../../../infra/examples/policy.yaml")).unwrap();
        let inv = Inventory {
            taken_at: Some(now),
            // Years of never-expire copies, and one that expires within the first month.
            points: (1..=100)
                .map(|d| point(bunker, d * 10, None, now))
                .chain([point(bunker, 30, Some(40), now)])
                .collect(),
            ..Inventory::default()
        };
        let facts = CostFacts::of(&inv);
        assert_eq!(facts.held[bunker], [101 * (10 << 30), 0]);
        let prices = Prices::shipped().unwrap();
        let cost = report_cost(&policy, &facts, &prices);
        let months: Vec<f64> = cost.projection.iter().map(|m| m.warm_gb).collect();
        // No plan here: only what is held, the one expiring copy gone after month 1.
        assert_eq!(months[0], 1000.0);
        assert!(months[1..].iter().all(|gb| *gb == 1000.0), "{months:?}");
        assert_eq!(cost.this_month[0].warm_gb, 1010.0);
        // Summed in pieces, the same figures.
        let (a, b) = inv.points.split_at(37);
        let mut halves = CostFacts::default();
        halves.add_held(a, Some(now));
        halves.add_held(b, Some(now));
        assert_eq!(halves.held, facts.held);
        assert_eq!(halves.holding, facts.holding);
    }
}
