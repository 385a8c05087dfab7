//! What the report is computed from: tables, Region settings, backup plans, vaults, recovery
//! points and the ledger's open incidents, as AWS holds them. Gathered through [`InventoryPort`]
//! with the fewest calls (list calls at their largest page), one account and Region at a time.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use relay_core::arn::{Location, VaultArn};
use relay_core::guard::PointView;
use relay_core::ports::{
    BackupPort, CopyTagPort, Incident, LedgerPort, ListQuery, PortError, PortResult,
    RestoreEvidence,
};
use relay_core::retention::VaultLock;

use crate::tag_sample::{is_judged_copy, TagSample};
pub use crate::tag_sample::{judges_tags, COPY_TAGS_DAYS, COPY_TAGS_SETTLE_HOURS};

pub mod listing;
mod schedule;
pub use schedule::schedule_every_hours;

/// The largest page ListRecoveryPointsByBackupVault gives.
pub const POINTS_PAGE: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableFacts {
    pub arn: String,
    pub name: String,
    pub account: String,
    pub region: String,
    pub tags: BTreeMap<String, String>,
    /// Point-in-time recovery (DescribeContinuousBackups); `None` when it could not be read.
    pub pitr: Option<bool>,
    /// DynamoDB-native backups of the table (ListBackups): AWS Backup cannot copy them.
    pub native_backups: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionFacts {
    pub account: String,
    pub region: String,
    /// DescribeRegionSettings' ResourceTypeManagementPreference for DynamoDB (advanced features).
    pub advanced_features: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFacts {
    pub account: String,
    pub region: String,
    pub name: String,
    /// The rule's target vault.
    pub vault_arn: String,
    /// Hours between backups of the rule's schedule; `None` when it cannot be read as a period.
    pub every_hours: Option<u32>,
    /// The rule's DeleteAfterDays; `None` keeps the points for ever.
    pub delete_after_days: Option<u32>,
    /// The selection: tables with all these tags (no tags and no resources: every table).
    pub select_tags: BTreeMap<String, String>,
    /// Table ARNs the selection names (`*` for all).
    pub select_resources: Vec<String>,
}

impl PlanFacts {
    pub fn selects(&self, table: &TableFacts) -> bool {
        if (table.account.as_str(), table.region.as_str())
            != (self.account.as_str(), self.region.as_str())
        {
            return false;
        }
        let named = self
            .select_resources
            .iter()
            .any(|r| resource_matches(r, &table.arn));
        let tagged = !self.select_tags.is_empty()
            && self
                .select_tags
                .iter()
                .all(|(k, v)| table.tags.get(k) == Some(v));
        named || tagged || (self.select_tags.is_empty() && self.select_resources.is_empty())
    }
}

/// A selection's resource pattern against an ARN: AWS Backup's `*` matches any run of
/// characters (`*`, `arn:aws:dynamodb:*:*:table/*`, `arn:aws:dynamodb:us-east-1:*:table/app-*`).
pub fn resource_matches(pattern: &str, arn: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return false;
    };
    let Some(mut rest) = arn.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty(); // no `*`: the whole ARN
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultFacts {
    pub arn: VaultArn,
    /// Vault lock as ListBackupVaults reports it; `None` for an unlocked vault.
    pub lock: Option<VaultLock>,
    pub encryption_key_arn: Option<String>,
    /// Its access policy denies backup:DeleteRecoveryPoint to everyone.
    pub deny_manual_deletion: bool,
    /// NumberOfRecoveryPoints and CreationDate as ListBackupVaults reports them: how a huge
    /// vault's listing is cut into creation-date ranges (`listing`). Hints only: AWS counts
    /// lazily, and the ranges cover all time whatever they say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_points: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
}

pub use relay_core::ports::RestoreTest;

/// What could not be read, and why: the report says so instead of guessing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryGap {
    pub account: String,
    pub region: String,
    pub what: String,
    pub error: String,
    /// Which read failed, so the controls that needed it can say so.
    #[serde(default)]
    pub kind: GapKind,
    /// The vault whose recovery points could not be listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapKind {
    Tables,
    RegionSettings,
    BackupPlans,
    BackupVaults,
    RecoveryPoints,
    Incidents,
    RestoreTests,
    /// Security Hub did not take the findings (not enabled, refused).
    SecurityHub,
    /// Tags of listed recovery points could not be read (RELAY_COPY_TAGS cannot judge them).
    CopyTags,
    #[default]
    Other,
}

#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub taken_at: Option<DateTime<Utc>>,
    pub tables: Vec<TableFacts>,
    pub regions: Vec<RegionFacts>,
    pub plans: Vec<PlanFacts>,
    pub vaults: Vec<VaultFacts>,
    pub points: Vec<PointView>,
    pub incidents: Vec<Incident>,
    pub restore_tests: Vec<RestoreTest>,
    pub gaps: Vec<InventoryGap>,
    /// Whose copies' tags were read (every table, but where a vault's account and Region holds
    /// more copies than AWS's rate lets a run read).
    pub tag_sample: TagSample,
}

/// The reads the inventory needs beyond [`BackupPort`], each in one account and Region (and the
/// copies' tags).
pub trait InventoryPort: CopyTagPort {
    /// ListTables (100 a page), then per table ListTagsOfResource and DescribeContinuousBackups;
    /// ListBackups once for the account and Region, counted per table.
    fn tables(&self, at: &Location) -> impl Future<Output = PortResult<Vec<TableFacts>>> + Send;
    /// DescribeRegionSettings.
    fn advanced_features(
        &self,
        at: &Location,
    ) -> impl Future<Output = PortResult<Option<bool>>> + Send;
    /// ListBackupVaults (1000 a page, lock state included), GetBackupVaultAccessPolicy per vault.
    fn vaults(&self, at: &Location) -> impl Future<Output = PortResult<Vec<VaultFacts>>> + Send;
    /// ListBackupPlans, and per plan GetBackupPlan and its selections.
    fn backup_plans(
        &self,
        at: &Location,
    ) -> impl Future<Output = PortResult<Vec<PlanFacts>>> + Send;
}

/// Every account and Region of the report's scope (design.md): every table there is in the
/// report, also where no vault of the policy is. Vault locations outside a narrower scope are
/// read too, for their copies. In order.
pub fn locations(policy: &relay_core::Policy) -> Vec<Location> {
    let mut out = policy.report_locations();
    out.extend(policy.vaults.iter().map(|v| v.arn.location()));
    out.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
    out.dedup();
    out
}

/// Everything the report needs, from every account and Region the policy reaches, `concurrency`
/// of them at a time (each with its own session), plus the ledger's open incidents. A read that
/// fails becomes a gap in the inventory, never a guess.
pub async fn take_inventory<P, L>(
    ports: &P,
    ledger: &L,
    policy: &relay_core::Policy,
    concurrency: usize,
    now: DateTime<Utc>,
) -> Inventory
where
    P: InventoryPort + BackupPort + Sync,
    L: LedgerPort + RestoreEvidence,
{
    use futures_util::stream::{self, StreamExt};
    let locations = locations(policy);
    let mut parts: Vec<(usize, Inventory)> = stream::iter(locations.iter().enumerate())
        .map(|(i, at)| async move { (i, inventory_of(ports, at, now).await) })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    // The same order whatever finished first: reports of the same world are identical.
    parts.sort_by_key(|(i, _)| *i);
    let mut inventory = Inventory {
        taken_at: Some(now),
        ..Inventory::default()
    };
    for (_, part) in parts {
        inventory.absorb(part);
    }
    // The tags once every vault is listed: the sample counts each account and Region's copies,
    // and an original is read for the copies of it that are read, wherever they are.
    let budget = policy.compliance.tag_reads_per_site;
    inventory.tag_sample = TagSample::of(&inventory.points, now, budget);
    let sample = &inventory.tag_sample;
    let points = &mut inventory.points;
    let tag_gaps = read_copy_tags(ports, policy, points, now, sample, concurrency).await;
    inventory.gaps.extend(tag_gaps);
    inventory.gaps = fold_tag_gaps(std::mem::take(&mut inventory.gaps));
    let ledger = read_ledger(ledger).await;
    inventory.incidents = ledger.incidents;
    inventory.restore_tests = ledger.restore_tests;
    inventory.gaps.extend(ledger.gaps);
    inventory
}

/// The inventory of one account and Region: a read that fails becomes a gap, the rest goes on.
pub async fn inventory_of<P: InventoryPort + BackupPort>(
    ports: &P,
    at: &Location,
    now: DateTime<Utc>,
) -> Inventory {
    let mut inv = site_facts(ports, at).await;
    for vault in inv.vaults.clone() {
        let points = &mut inv.points;
        let taken = listing::list_vault(ports, &vault, now, listing::RANGE_POINTS, |page| {
            points.extend(page);
            Ok::<(), std::convert::Infallible>(())
        });
        if let Ok(Some(gap)) = taken.await {
            inv.gaps.push(gap);
        }
    }
    inv
}

/// ListTags calls in flight at once in one account and Region (AWS Backup's request rates).
pub const TAG_READS_AT_ONCE: usize = 8;
/// Tables whose tags and PITR an inventory reads at once (two DynamoDB control-plane calls each,
/// far within DynamoDB's 2,500 a second): 25 tables read one after another were two thirds of a
/// member account's piece.
pub const TABLE_READS_AT_ONCE: usize = 8;
/// Accounts and Regions an evaluation piece reads tags in at once (a table's copies are in a few:
/// the central vault's, the DR vault's, the bunker's).
pub const TAG_SITES_AT_ONCE: usize = 4;

/// ListTags for the points the report reads, [`TAG_READS_AT_ONCE`] in flight at a time: the copies
/// it judges that `sample` takes, and the originals of their tables in a root vault of the policy
/// (read for what the copies must carry; a point with no source in any other vault is nobody's
/// original to the copy-tag control, so its tags are not read). One that cannot be read stays
/// `None` (not judged); the failures come back as one gap per vault.
pub async fn read_copy_tags<P: CopyTagPort>(
    ports: &P,
    policy: &relay_core::Policy,
    points: &mut [PointView],
    now: DateTime<Utc>,
    sample: &TagSample,
    sites_at_once: usize,
) -> Vec<InventoryGap> {
    let sampled: HashSet<String> = points
        .iter()
        .filter(|p| is_judged_copy(p, now) && sample.takes(p))
        .filter_map(|p| p.resource_arn.clone())
        .collect();
    let read = |p: &PointView| match p.source_vault_arn {
        Some(_) => sample.takes(p),
        None => {
            p.resource_arn.as_ref().is_some_and(|r| sampled.contains(r))
                && relay_core::plan::is_root(policy, &p.vault.to_string())
        }
    };
    let mut wanted: Vec<&mut PointView> = points
        .iter_mut()
        .filter(|p| judges_tags(p, now) && read(p))
        .collect();
    let calls: Vec<(VaultArn, String)> = wanted
        .iter()
        .map(|p| (p.vault.clone(), p.recovery_point_arn.clone()))
        .collect();
    let mut read = read_by_site(ports, &calls, sites_at_once).await;
    read.sort_by_key(|(i, _)| *i);
    // Per vault: how many failed, and the least error (the same whichever reads met it).
    let mut failed: BTreeMap<VaultArn, (usize, String)> = BTreeMap::new();
    for (p, (_, tags)) in wanted.iter_mut().zip(read) {
        match tags {
            Ok(tags) => p.tags = Some(tags),
            Err(e) => {
                let entry = failed.entry(p.vault.clone()).or_insert((0, e.to_string()));
                entry.0 += 1;
                entry.1 = entry.1.clone().min(e.to_string());
            }
        }
    }
    failed
        .into_iter()
        .map(|(vault, (count, error))| tags_gap(&vault, count, error))
        .collect()
}

/// The calls grouped by their vault's account and Region (AWS's rates are per account and
/// Region): [`TAG_READS_AT_ONCE`] in flight in each, `sites_at_once` of them at a time. Each
/// answer with the index of its call.
async fn read_by_site<P: CopyTagPort>(
    ports: &P,
    calls: &[(VaultArn, String)],
    sites_at_once: usize,
) -> Vec<(usize, PortResult<relay_core::plan::Tags>)> {
    use futures_util::stream::{self, StreamExt};
    let mut by_site: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, (vault, _)) in calls.iter().enumerate() {
        let site = (vault.account.as_str(), vault.region.as_str());
        by_site.entry(site).or_default().push(i);
    }
    let sites = by_site.into_values().map(|indices| async move {
        let site: Vec<(&VaultArn, &str)> = indices
            .iter()
            .map(|&i| (&calls[i].0, calls[i].1.as_str()))
            .collect();
        let read = ports
            .recovery_point_tags_at_once(&site, TAG_READS_AT_ONCE)
            .await;
        indices.into_iter().zip(read).collect::<Vec<_>>()
    });
    stream::iter(sites)
        .buffer_unordered(sites_at_once.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// The points were listed: only their tags are unknown, which RELAY_COPY_TAGS says.
fn tags_gap(vault: &VaultArn, count: usize, error: String) -> InventoryGap {
    InventoryGap {
        account: vault.account.clone(),
        region: vault.region.clone(),
        what: format!("tags of {count} recovery points in {vault}"),
        error,
        kind: GapKind::CopyTags,
        vault: Some(vault.to_string()),
    }
}

/// Tags that could not be read are one gap per vault, however many pages (a single run) or
/// home pieces (a run in pieces) met them: their counts summed and the least error kept, after
/// the other gaps, in vault order. Both runs give the same gaps, and a bunker that refuses
/// ListTags is one gap, not one per member account.
pub fn fold_tag_gaps(gaps: Vec<InventoryGap>) -> Vec<InventoryGap> {
    let (tags, mut out): (Vec<_>, Vec<_>) =
        gaps.into_iter().partition(|g| g.kind == GapKind::CopyTags);
    let mut by_vault: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for gap in tags {
        let count = gap
            .what
            .strip_prefix("tags of ")
            .and_then(|rest| rest.split_once(' '))
            .and_then(|(n, _)| n.parse::<usize>().ok())
            .unwrap_or(1);
        let vault = gap.vault.unwrap_or_default();
        let entry = by_vault.entry(vault).or_insert((0, gap.error.clone()));
        entry.0 = entry.0.saturating_add(count);
        entry.1 = entry.1.clone().min(gap.error);
    }
    out.extend(by_vault.into_iter().filter_map(|(vault, (count, error))| {
        VaultArn::parse(&vault)
            .ok()
            .map(|v| tags_gap(&v, count, error))
    }));
    out
}

/// One account and Region's tables, Region settings, backup plans and vaults, without the
/// vaults' recovery points: a read that fails becomes a gap, the rest goes on.
pub async fn site_facts<P: InventoryPort>(ports: &P, at: &Location) -> Inventory {
    let mut inv = Inventory::default();
    let gap = |kind: GapKind, what: &str, e: PortError| InventoryGap {
        account: at.account.clone(),
        region: at.region.clone(),
        what: what.to_string(),
        error: e.to_string(),
        kind,
        vault: None,
    };
    let mut gaps = Vec::new();
    match ports.tables(at).await {
        Ok(t) => inv.tables = t,
        Err(e) => gaps.push(gap(GapKind::Tables, "tables", e)),
    }
    match ports.advanced_features(at).await {
        Ok(a) => inv.regions.push(RegionFacts {
            account: at.account.clone(),
            region: at.region.clone(),
            advanced_features: a,
        }),
        Err(e) => gaps.push(gap(GapKind::RegionSettings, "region settings", e)),
    }
    match ports.backup_plans(at).await {
        Ok(p) => inv.plans = p,
        Err(e) => gaps.push(gap(GapKind::BackupPlans, "backup plans", e)),
    }
    match ports.vaults(at).await {
        Ok(v) => inv.vaults = v,
        Err(e) => gaps.push(gap(GapKind::BackupVaults, "backup vaults", e)),
    }
    inv.gaps = gaps;
    inv
}

/// The query of a vault's first page of recovery points, at the largest page.
pub fn first_page() -> ListQuery {
    ListQuery {
        created_after: None,
        created_before: None,
        resource_arn: None,
        page_token: None,
        page_size: POINTS_PAGE,
    }
}

/// The gap of a vault whose recovery points could not all be listed.
pub fn points_gap(vault: &VaultArn, e: PortError) -> InventoryGap {
    InventoryGap {
        account: vault.account.clone(),
        region: vault.region.clone(),
        what: format!("recovery points of {}", vault.name),
        error: e.to_string(),
        kind: GapKind::RecoveryPoints,
        vault: Some(vault.to_string()),
    }
}

/// What the ledger held when the run started: read once, not once per piece.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerFacts {
    pub incidents: Vec<Incident>,
    pub restore_tests: Vec<RestoreTest>,
    pub gaps: Vec<InventoryGap>,
}

/// The ledger's open incidents and restore tests; a read that fails is a gap.
pub async fn read_ledger<L: LedgerPort + RestoreEvidence>(ledger: &L) -> LedgerFacts {
    let mut facts = LedgerFacts::default();
    match ledger.open_incidents().await {
        Ok(incidents) => facts.incidents = incidents,
        Err(e) => facts.gaps.push(InventoryGap {
            what: "open incidents (the ledger)".into(),
            error: e.to_string(),
            kind: GapKind::Incidents,
            ..InventoryGap::default()
        }),
    }
    match ledger.restore_tests().await {
        Ok(tests) => facts.restore_tests = tests,
        Err(e) => facts.gaps.push(InventoryGap {
            what: "restore tests (the ledger)".into(),
            error: e.to_string(),
            kind: GapKind::RestoreTests,
            ..InventoryGap::default()
        }),
    }
    facts
}

impl Inventory {
    /// Another account and Region's inventory, added to this one.
    pub fn absorb(&mut self, other: Inventory) {
        self.tables.extend(other.tables);
        self.regions.extend(other.regions);
        self.plans.extend(other.plans);
        self.vaults.extend(other.vaults);
        self.points.extend(other.points);
        self.incidents.extend(other.incidents);
        self.restore_tests.extend(other.restore_tests);
        self.gaps.extend(other.gaps);
    }
}

/// The actions AWS Config's manual-deletion rule looks for in a vault access policy's Deny:
/// deleting a recovery point, shortening its lifecycle, and replacing the policy itself.
pub const DELETION_ACTIONS: [&str; 3] = [
    "backup:DeleteRecoveryPoint",
    "backup:UpdateRecoveryPointLifecycle",
    "backup:PutBackupVaultAccessPolicy",
];

/// Does this vault access policy deny every action of [`DELETION_ACTIONS`] to every principal
/// (Principal `*`, conditions allowed: that is how a break-glass role is exempted)? An unreadable
/// policy denies nothing.
pub fn access_policy_denies_deletion(policy_json: &str) -> bool {
    use relay_core::iam::{action_matches, everyone, strings};
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy_json) else {
        return false;
    };
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(s @ serde_json::Value::Object(_)) => vec![s.clone()],
        _ => return false,
    };
    let denied: Vec<String> = statements
        .iter()
        .filter(|s| s.get("Effect").and_then(|e| e.as_str()) == Some("Deny"))
        .filter(|s| everyone(s.get("Principal")))
        .flat_map(|s| strings(s.get("Action")))
        .collect();
    DELETION_ACTIONS
        .iter()
        .all(|action| denied.iter().any(|pattern| action_matches(pattern, action)))
}

#[cfg(test)]
mod tests {
    use super::resource_matches as matches;
    use proptest::prelude::*;

    const ORDERS: &str = "arn:aws:dynamodb:us-east-1:111111111111:table/orders";

    #[test]
    fn selection_resources_match_as_aws_backup_globs() {
        assert!(matches("*", ORDERS));
        assert!(matches(ORDERS, ORDERS));
        assert!(matches("arn:aws:dynamodb:*:*:table/*", ORDERS));
        assert!(matches("arn:aws:dynamodb:us-east-1:*:table/ord*", ORDERS));
        assert!(matches("*:table/orders", ORDERS));
        assert!(!matches("arn:aws:dynamodb:us-west-2:*:table/*", ORDERS));
        assert!(!matches("arn:aws:dynamodb:*:*:table/orders-*", ORDERS));
        assert!(!matches(&format!("{ORDERS}x"), ORDERS));
        assert!(!matches(
            "arn:aws:dynamodb:*:*:table/orders",
            &format!("{ORDERS}2")
        ));
        assert!(
            !matches("*s*s", "arn:as"),
            "the last part may not reuse what a middle one took"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 512,
            rng_seed: proptest::test_runner::RngSeed::Fixed(20_261_122),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_pattern_answers_and_a_string_matches_itself(p in "[a-z*:/é-]{0,12}", s in ".{0,12}") {
            let _ = matches(&p, &s);
            prop_assert!(matches(&s.replace('*', ""), &s.replace('*', "")));
            prop_assert!(matches("*", &s));
        }
    }
}
