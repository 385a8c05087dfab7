//! The controls, one rule each, over one table and what the inventory holds of it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::inventory::{GapKind, Inventory, PlanFacts, RegionFacts, TableFacts, VaultFacts};
use super::{ControlResult, Evidence, Parameters, ResourceReport, Status, MAX_EVIDENCE};
use relay_core::arn::{RecoveryPointArn, VaultArn};
use relay_core::guard::{self, GuardDecision, PointView};
use relay_core::ports::Incident;
use relay_core::retention::Retention;
use relay_core::Policy;

mod audit;
mod copy_tags;
mod relay;

use audit::*;
use copy_tags::copy_tags;
use relay::*;

const DYNAMODB: &str = "DynamoDB";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ControlId {
    BackupResourcesProtectedByBackupPlan,
    BackupLastRecoveryPointCreated,
    BackupPlanMinFrequencyAndMinRetentionCheck,
    BackupRecoveryPointMinimumRetentionCheck,
    BackupRecoveryPointEncrypted,
    BackupRecoveryPointManualDeletionDisabled,
    BackupResourcesProtectedByCrossRegion,
    BackupResourcesProtectedByCrossAccount,
    BackupResourcesProtectedByBackupVaultLock,
    RestoreTimeForResourcesMeetTarget,
    RelayChainComplete,
    RelayNeverExpireRetention,
    RelayPitrEnabled,
    RelayAdvancedFeatures,
    RelayNoNativeOnlyBackups,
    RelayOpenIncidents,
    RelayCopyTags,
}

type Rule = fn(&Index<'_>, &TableView<'_>) -> (Status, String, Vec<Evidence>);

impl ControlId {
    pub const ALL: [ControlId; 17] = [
        Self::BackupResourcesProtectedByBackupPlan,
        Self::BackupLastRecoveryPointCreated,
        Self::BackupPlanMinFrequencyAndMinRetentionCheck,
        Self::BackupRecoveryPointMinimumRetentionCheck,
        Self::BackupRecoveryPointEncrypted,
        Self::BackupRecoveryPointManualDeletionDisabled,
        Self::BackupResourcesProtectedByCrossRegion,
        Self::BackupResourcesProtectedByCrossAccount,
        Self::BackupResourcesProtectedByBackupVaultLock,
        Self::RestoreTimeForResourcesMeetTarget,
        Self::RelayChainComplete,
        Self::RelayNeverExpireRetention,
        Self::RelayPitrEnabled,
        Self::RelayAdvancedFeatures,
        Self::RelayNoNativeOnlyBackups,
        Self::RelayOpenIncidents,
        Self::RelayCopyTags,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BackupResourcesProtectedByBackupPlan => {
                "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN"
            }
            Self::BackupLastRecoveryPointCreated => "BACKUP_LAST_RECOVERY_POINT_CREATED",
            Self::BackupPlanMinFrequencyAndMinRetentionCheck => {
                "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK"
            }
            Self::BackupRecoveryPointMinimumRetentionCheck => {
                "BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK"
            }
            Self::BackupRecoveryPointEncrypted => "BACKUP_RECOVERY_POINT_ENCRYPTED",
            Self::BackupRecoveryPointManualDeletionDisabled => {
                "BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED"
            }
            Self::BackupResourcesProtectedByCrossRegion => {
                "BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION"
            }
            Self::BackupResourcesProtectedByCrossAccount => {
                "BACKUP_RESOURCES_PROTECTED_BY_CROSS_ACCOUNT"
            }
            Self::BackupResourcesProtectedByBackupVaultLock => {
                "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK"
            }
            Self::RestoreTimeForResourcesMeetTarget => "RESTORE_TIME_FOR_RESOURCES_MEET_TARGET",
            Self::RelayChainComplete => "RELAY_CHAIN_COMPLETE",
            Self::RelayNeverExpireRetention => "RELAY_NEVER_EXPIRE_RETENTION",
            Self::RelayPitrEnabled => "RELAY_PITR_ENABLED",
            Self::RelayAdvancedFeatures => "RELAY_ADVANCED_FEATURES",
            Self::RelayNoNativeOnlyBackups => "RELAY_NO_NATIVE_ONLY_BACKUPS",
            Self::RelayOpenIncidents => "RELAY_OPEN_INCIDENTS",
            Self::RelayCopyTags => "RELAY_COPY_TAGS",
        }
    }

    /// What the control asks, in a line (the HTML and the terminal summary show it).
    pub fn question(self) -> &'static str {
        match self {
            Self::BackupResourcesProtectedByBackupPlan => {
                "Is the table in at least one backup plan?"
            }
            Self::BackupLastRecoveryPointCreated => "Was a recovery point made recently?",
            Self::BackupPlanMinFrequencyAndMinRetentionCheck => {
                "Does a plan back it up often enough, and keep it long enough?"
            }
            Self::BackupRecoveryPointMinimumRetentionCheck => {
                "Is every recovery point kept the minimum time?"
            }
            Self::BackupRecoveryPointEncrypted => "Is every recovery point encrypted?",
            Self::BackupRecoveryPointManualDeletionDisabled => {
                "Do its vaults deny manual deletion?"
            }
            Self::BackupResourcesProtectedByCrossRegion => "Is there a copy in another Region?",
            Self::BackupResourcesProtectedByCrossAccount => "Is there a copy in another account?",
            Self::BackupResourcesProtectedByBackupVaultLock => "Is there a copy in a locked vault?",
            Self::RestoreTimeForResourcesMeetTarget => {
                "Did its last restore test meet the target time?"
            }
            Self::RelayChainComplete => "Is every copy its routes ask for made?",
            Self::RelayNeverExpireRetention => "Are copies in never-expire vaults kept 100 years?",
            Self::RelayPitrEnabled => "Is point-in-time recovery on?",
            Self::RelayAdvancedFeatures => {
                "Are AWS Backup's advanced DynamoDB features on where it lives?"
            }
            Self::RelayNoNativeOnlyBackups => {
                "Is it protected by more than native (uncopyable) backups?"
            }
            Self::RelayOpenIncidents => "Is no copy of it waiting for a person?",
            Self::RelayCopyTags => "Does every copy carry the policy's tags (cost, lineage)?",
        }
    }

    fn rule(self) -> Rule {
        match self {
            Self::BackupResourcesProtectedByBackupPlan => protected_by_plan,
            Self::BackupLastRecoveryPointCreated => last_point_created,
            Self::BackupPlanMinFrequencyAndMinRetentionCheck => plan_frequency_and_retention,
            Self::BackupRecoveryPointMinimumRetentionCheck => minimum_retention,
            Self::BackupRecoveryPointEncrypted => encrypted,
            Self::BackupRecoveryPointManualDeletionDisabled => manual_deletion_disabled,
            Self::BackupResourcesProtectedByCrossRegion => cross_region,
            Self::BackupResourcesProtectedByCrossAccount => cross_account,
            Self::BackupResourcesProtectedByBackupVaultLock => vault_lock,
            Self::RestoreTimeForResourcesMeetTarget => restore_time,
            Self::RelayChainComplete => chain_complete,
            Self::RelayNeverExpireRetention => never_expire_retention,
            Self::RelayPitrEnabled => pitr,
            Self::RelayAdvancedFeatures => advanced_features,
            Self::RelayNoNativeOnlyBackups => no_native_only,
            Self::RelayOpenIncidents => open_incidents,
            Self::RelayCopyTags => copy_tags,
        }
    }
}

/// The inventory indexed for evaluation, built once per report.
pub(super) struct Index<'a> {
    policy: &'a Policy,
    params: &'a Parameters,
    now: DateTime<Utc>,
    points: HashMap<&'a str, Vec<&'a PointView>>,
    vaults: HashMap<&'a VaultArn, &'a VaultFacts>,
    regions: HashMap<(&'a str, &'a str), &'a RegionFacts>,
    plans: &'a [PlanFacts],
    incidents: &'a [Incident],
    restores: HashMap<&'a str, &'a super::inventory::RestoreTest>,
    /// Policy vaults whose contents could not be read, and why.
    unread_vaults: HashMap<&'a VaultArn, String>,
    /// Why the ledger's open incidents could not be read, when they could not.
    unread_ledger: Option<String>,
    /// Why the restore tests could not be read, when they could not.
    unread_restores: Option<String>,
    /// Whose copies' tags were read.
    tag_sample: &'a crate::tag_sample::TagSample,
}

/// One table and what belongs to it.
pub(super) struct TableView<'a> {
    table: &'a TableFacts,
    /// Its recovery points, every status.
    points: &'a [&'a PointView],
    plans: Vec<&'a PlanFacts>,
    /// The policy vaults its backups land in: its plans' vaults, and the root vaults of its
    /// account and Region. The points of the table there are its originals.
    origins: Vec<&'a relay_core::policy::Vault>,
    /// Vaults its routes copy into from there.
    reached: Vec<&'a relay_core::policy::Vault>,
}

impl<'a> Index<'a> {
    pub(super) fn new(policy: &'a Policy, inv: &'a Inventory, now: DateTime<Utc>) -> Self {
        let mut points: HashMap<&str, Vec<&PointView>> = HashMap::new();
        for p in &inv.points {
            if let Some(r) = p.resource_arn.as_deref() {
                points.entry(r).or_default().push(p);
            }
        }
        let mut restores: HashMap<&str, &super::inventory::RestoreTest> = HashMap::new();
        for t in &inv.restore_tests {
            let newer = restores
                .get(t.resource_arn.as_str())
                .is_none_or(|old| old.finished_at < t.finished_at);
            if newer {
                restores.insert(&t.resource_arn, t);
            }
        }
        Self {
            policy,
            params: &policy.compliance,
            now,
            points,
            vaults: inv.vaults.iter().map(|v| (&v.arn, v)).collect(),
            regions: inv
                .regions
                .iter()
                .map(|r| ((r.account.as_str(), r.region.as_str()), r))
                .collect(),
            plans: &inv.plans,
            incidents: &inv.incidents,
            restores,
            unread_vaults: unread_vaults(policy, inv),
            unread_ledger: inv
                .gaps
                .iter()
                .find(|g| g.kind == GapKind::Incidents)
                .map(|g| g.error.clone()),
            unread_restores: inv
                .gaps
                .iter()
                .find(|g| g.kind == GapKind::RestoreTests)
                .map(|g| g.error.clone()),
            tag_sample: &inv.tag_sample,
        }
    }

    /// Why this vault's contents are unknown, when they are.
    fn unread(&self, vault: &VaultArn) -> Option<&str> {
        self.unread_vaults.get(vault).map(String::as_str)
    }

    pub(super) fn evaluate_table(&self, table: &TableFacts) -> ResourceReport {
        let view = TableView {
            table,
            points: self
                .points
                .get(table.arn.as_str())
                .map_or(&[], |v| v.as_slice()),
            plans: self.plans.iter().filter(|p| p.selects(table)).collect(),
            origins: Vec::new(),
            reached: Vec::new(),
        };
        let origins = self.origins(table, &view.plans);
        let reached = self.reached(table, &origins);
        let view = TableView {
            origins,
            reached,
            ..view
        };
        let controls: Vec<ControlResult> = ControlId::ALL
            .iter()
            .map(|&id| {
                let (status, reason, mut evidence) = (id.rule())(self, &view);
                let more = evidence.len().saturating_sub(MAX_EVIDENCE);
                evidence.truncate(MAX_EVIDENCE);
                let reason = if more > 0 {
                    format!("{reason} (evidence: the first {MAX_EVIDENCE}, {more} more)")
                } else {
                    reason
                };
                ControlResult {
                    id,
                    status,
                    reason,
                    evidence,
                }
            })
            .collect();
        let status = if controls.iter().any(|c| c.status == Status::NonCompliant) {
            Status::NonCompliant
        } else {
            Status::Compliant
        };
        ResourceReport {
            resource_arn: table.arn.clone(),
            name: table.name.clone(),
            account: table.account.clone(),
            region: table.region.clone(),
            status,
            controls,
        }
    }

    /// Where the table's backups land: the policy vaults its plans back it up into, and the
    /// policy's root vaults in its own account and Region.
    fn origins(
        &self,
        table: &TableFacts,
        plans: &[&PlanFacts],
    ) -> Vec<&'a relay_core::policy::Vault> {
        let mut out: Vec<&relay_core::policy::Vault> = self
            .policy
            .root_vaults()
            .into_iter()
            .filter(|v| v.arn.account == table.account && v.arn.region == table.region)
            .collect();
        for plan in plans {
            let Ok(arn) = VaultArn::parse(&plan.vault_arn) else {
                continue;
            };
            if let Some(v) = self.policy.vault_by_arn(&arn) {
                if !out.iter().any(|o| o.alias == v.alias) {
                    out.push(v);
                }
            }
        }
        out
    }

    /// Every vault the routes out of `origins` reach for this table, each once.
    fn reached(
        &self,
        table: &TableFacts,
        origins: &[&'a relay_core::policy::Vault],
    ) -> Vec<&'a relay_core::policy::Vault> {
        let mut out: Vec<&relay_core::policy::Vault> = Vec::new();
        for origin in origins {
            for v in self
                .policy
                .vaults_reached(&origin.alias, Some(DYNAMODB), &table.tags)
            {
                if !out.iter().any(|o| o.alias == v.alias) {
                    out.push(v);
                }
            }
        }
        out
    }
}

/// Where the vaults that `inv`'s tables land in and are copied into live: the account-Regions
/// whose reads their evaluation depends on.
pub(crate) fn vault_locations(
    policy: &Policy,
    inv: &Inventory,
    now: DateTime<Utc>,
) -> BTreeSet<relay_core::arn::Location> {
    let index = Index::new(policy, inv, now);
    let mut out = BTreeSet::new();
    for table in &inv.tables {
        let plans: Vec<&PlanFacts> = inv.plans.iter().filter(|p| p.selects(table)).collect();
        let origins = index.origins(table, &plans);
        let reached = index.reached(table, &origins);
        out.extend(origins.iter().chain(&reached).map(|v| v.arn.location()));
    }
    out
}

/// The policy vaults whose contents are unknown: their account and Region's vault listing
/// failed, or their recovery points could not be listed.
fn unread_vaults<'a>(policy: &'a Policy, inv: &Inventory) -> HashMap<&'a VaultArn, String> {
    let mut out = HashMap::new();
    for gap in &inv.gaps {
        for v in &policy.vaults {
            let here = v.arn.account == gap.account && v.arn.region == gap.region;
            let hit = match gap.kind {
                GapKind::BackupVaults => here,
                GapKind::RecoveryPoints => gap.vault.as_deref() == Some(v.arn.to_string().as_str()),
                _ => false,
            };
            if hit {
                out.insert(
                    &v.arn,
                    format!("'{}' could not be read ({})", v.alias, gap.error),
                );
            }
        }
    }
    out
}

fn completed<'a>(view: &'a TableView<'a>) -> impl Iterator<Item = &'a PointView> + 'a {
    view.points
        .iter()
        .copied()
        .filter(|p| p.status.as_deref() == Some("COMPLETED"))
}

fn point_evidence(p: &PointView, detail: Option<String>) -> Evidence {
    Evidence {
        recovery_point_arn: Some(p.recovery_point_arn.clone()),
        vault: Some(p.vault.to_string()),
        creation_date: Some(p.creation_date),
        delete_at: p.delete_at,
        detail,
    }
}

fn vault_evidence(vault: &VaultArn, detail: impl Into<String>) -> Evidence {
    Evidence {
        vault: Some(vault.to_string()),
        detail: Some(detail.into()),
        ..Evidence::default()
    }
}

/// "1 copy", "2 copies".
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn ok(reason: impl Into<String>, evidence: Vec<Evidence>) -> (Status, String, Vec<Evidence>) {
    (Status::Compliant, reason.into(), evidence)
}

fn bad(reason: impl Into<String>, evidence: Vec<Evidence>) -> (Status, String, Vec<Evidence>) {
    (Status::NonCompliant, reason.into(), evidence)
}

fn na(reason: impl Into<String>) -> (Status, String, Vec<Evidence>) {
    (Status::NotApplicable, reason.into(), Vec::new())
}

fn plan_evidence(p: &PlanFacts) -> Evidence {
    Evidence {
        vault: Some(p.vault_arn.clone()),
        detail: Some(format!(
            "backup plan '{}': every {} h, kept {}",
            p.name,
            p.every_hours.map_or("?".into(), |h| h.to_string()),
            p.delete_after_days
                .map_or("for ever".into(), |d| format!("{d} days"))
        )),
        ..Evidence::default()
    }
}
