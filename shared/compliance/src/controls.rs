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
}

type Rule = fn(&Index<'_>, &TableView<'_>) -> (Status, String, Vec<Evidence>);

impl ControlId {
    pub const ALL: [ControlId; 16] = [
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

fn protected_by_plan(_: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    if v.plans.is_empty() {
        return bad(
            "no backup plan in its account and Region selects the table",
            Vec::new(),
        );
    }
    let names: Vec<&str> = v.plans.iter().map(|p| p.name.as_str()).collect();
    ok(
        format!("selected by backup plan {}", names.join(", ")),
        v.plans.iter().map(|p| plan_evidence(p)).collect(),
    )
}

fn last_point_created(ix: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    let hours = ix.params.recovery_point_max_age_hours;
    let newest = completed(v).max_by_key(|p| p.creation_date);
    let Some(newest) = newest else {
        return bad(
            "no COMPLETED recovery point of the table exists",
            Vec::new(),
        );
    };
    let age = ix.now.signed_duration_since(newest.creation_date);
    let evidence = vec![point_evidence(
        newest,
        Some("the newest recovery point".into()),
    )];
    if age <= Duration::hours(i64::from(hours)) {
        ok(
            format!(
                "the newest recovery point is {} h old (at most {hours} h)",
                age.num_hours()
            ),
            evidence,
        )
    } else {
        bad(
            format!(
                "the newest recovery point is {} h old, over {hours} h",
                age.num_hours()
            ),
            evidence,
        )
    }
}

fn plan_frequency_and_retention(
    ix: &Index<'_>,
    v: &TableView<'_>,
) -> (Status, String, Vec<Evidence>) {
    let (hours, days) = (
        ix.params.required_frequency_hours,
        ix.params.required_retention_days,
    );
    if v.plans.is_empty() {
        return na(
            "no backup plan selects the table (see BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN)",
        );
    }
    let good = |p: &&&PlanFacts| {
        p.every_hours.is_some_and(|h| h <= hours) && p.delete_after_days.is_none_or(|d| d >= days)
    };
    let evidence = v.plans.iter().map(|p| plan_evidence(p)).collect();
    match v.plans.iter().find(good) {
        Some(p) => ok(format!("plan '{}' backs up at least every {hours} h and keeps at least {days} days", p.name), evidence),
        None => bad(format!("no plan selecting the table backs up at least every {hours} h and keeps at least {days} days"), evidence),
    }
}

fn minimum_retention(ix: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    let days = ix.params.required_retention_days;
    // Short by less than a day counts as kept: AWS rounds calculated delete dates (the guard
    // judges whole days the same way).
    let floor = Duration::days(i64::from(days) - 1);
    let mut count = 0;
    let short: Vec<Evidence> = completed(v)
        .inspect(|_| count += 1)
        .filter_map(|p| {
            let kept = p.delete_at?.signed_duration_since(p.creation_date);
            (kept <= floor)
                .then(|| point_evidence(p, Some(format!("kept {} days", kept.num_days()))))
        })
        .collect();
    if count == 0 {
        return na("no COMPLETED recovery point to check");
    }
    if short.is_empty() {
        ok(
            format!("all {count} recovery points are kept at least {days} days"),
            Vec::new(),
        )
    } else {
        bad(
            format!(
                "{} of {count} recovery points are kept less than {days} days",
                short.len()
            ),
            short,
        )
    }
}

fn encrypted(_: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    let mut count = 0;
    let plain: Vec<Evidence> = completed(v)
        .inspect(|_| count += 1)
        .filter(|p| p.encrypted != Some(true))
        .map(|p| {
            point_evidence(
                p,
                Some(match p.encrypted {
                    Some(false) => "not encrypted".into(),
                    _ => "encryption not reported".into(),
                }),
            )
        })
        .collect();
    if count == 0 {
        return na("no COMPLETED recovery point to check");
    }
    if plain.is_empty() {
        ok(
            format!("all {count} recovery points are encrypted"),
            Vec::new(),
        )
    } else {
        bad(
            format!(
                "{} of {count} recovery points are not known to be encrypted",
                plain.len()
            ),
            plain,
        )
    }
}

/// The vaults holding a COMPLETED point of the table, each once.
fn holding_vaults<'a>(v: &'a TableView<'a>) -> BTreeSet<&'a VaultArn> {
    completed(v).map(|p| &p.vault).collect()
}

fn manual_deletion_disabled(ix: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    let vaults = holding_vaults(v);
    if vaults.is_empty() {
        return na("no vault holds a COMPLETED recovery point of the table");
    }
    let open: Vec<Evidence> = vaults
        .iter()
        .filter(|a| !ix.vaults.get(*a).is_some_and(|f| f.deny_manual_deletion))
        .map(|a| match ix.vaults.get(*a) {
            Some(_) => vault_evidence(
                a,
                "its access policy does not deny backup:DeleteRecoveryPoint",
            ),
            None => vault_evidence(a, "its access policy could not be read"),
        })
        .collect();
    if open.is_empty() {
        ok(
            format!(
                "all {} vaults holding its recovery points deny manual deletion",
                vaults.len()
            ),
            Vec::new(),
        )
    } else {
        bad(
            format!(
                "{} of {} vaults holding its recovery points are not shown to deny manual deletion",
                open.len(),
                vaults.len()
            ),
            open,
        )
    }
}

/// Compliant when a COMPLETED copy is in each required place (`required` empty: any place other
/// than the table's own); the evidence is one copy per place found.
fn copies_elsewhere(
    ix: &Index<'_>,
    v: &TableView<'_>,
    what: &str,
    own: &str,
    listed: &[String],
    place: impl Fn(&VaultArn) -> &str,
) -> (Status, String, Vec<Evidence>) {
    let mut found: BTreeMap<&str, &PointView> = BTreeMap::new();
    for p in completed(v) {
        let at = place(&p.vault);
        if at != own {
            found.entry(at).or_insert(p);
        }
    }
    let evidence: Vec<Evidence> = found
        .iter()
        .map(|(at, p)| point_evidence(p, Some(format!("a copy in {what} {at}"))))
        .collect();
    // The table's own place is never a cross-place copy: listing it asks for nothing more.
    let required: Vec<&str> = listed
        .iter()
        .map(String::as_str)
        .filter(|r| *r != own)
        .collect();
    let unverified = unread_note(ix, v);
    if required.is_empty() {
        return match found.keys().next() {
            Some(at) => ok(
                format!("copies in {} other {what}(s), e.g. {at}", found.len()),
                evidence,
            ),
            None => bad(
                format!("no COMPLETED copy in another {what}{unverified}"),
                Vec::new(),
            ),
        };
    }
    let missing: Vec<&str> = required
        .into_iter()
        .filter(|r| !found.contains_key(r))
        .collect();
    if missing.is_empty() {
        ok(
            format!("a COMPLETED copy in every required {what}"),
            evidence,
        )
    } else {
        bad(
            format!(
                "no COMPLETED copy in {what} {}{unverified}",
                missing.join(", ")
            ),
            evidence,
        )
    }
}

/// "; 'bunker' could not be read (...)" when a vault the table's routes reach is unknown: a
/// finding there may be a copy the report could not see.
fn unread_note(ix: &Index<'_>, v: &TableView<'_>) -> String {
    v.reached
        .iter()
        .chain(&v.origins)
        .filter_map(|vault| ix.unread(&vault.arn))
        .map(|why| format!("; {why}"))
        .collect()
}

fn cross_region(ix: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    copies_elsewhere(
        ix,
        v,
        "Region",
        &v.table.region,
        &ix.params.cross_region_list,
        |a| &a.region,
    )
}

fn cross_account(ix: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    copies_elsewhere(
        ix,
        v,
        "account",
        &v.table.account,
        &ix.params.cross_account_list,
        |a| &a.account,
    )
}

fn vault_lock(ix: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    let (min, max) = (
        ix.params.vault_lock_min_retention_days,
        ix.params.vault_lock_max_retention_days,
    );
    let fits = |f: &VaultFacts| {
        f.lock.as_ref().is_some_and(|l| {
            min.is_none_or(|m| l.min_retention_days.is_some_and(|d| d >= m))
                && max.is_none_or(|m| l.max_retention_days.is_some_and(|d| d <= m))
        })
    };
    let locked: Vec<&PointView> = completed(v)
        .filter(|p| ix.vaults.get(&p.vault).is_some_and(|f| fits(f)))
        .collect();
    match locked.first() {
        Some(p) => ok(
            format!(
                "{} COMPLETED recovery points are in locked vaults",
                locked.len()
            ),
            vec![point_evidence(p, Some("in a locked vault".into()))],
        ),
        None => {
            let bounds = match (min, max) {
                (None, None) => String::new(),
                _ => format!(
                    " (lock bounds {}..{} days)",
                    min.map_or("any".into(), |d| d.to_string()),
                    max.map_or("any".into(), |d| d.to_string())
                ),
            };
            let unlocked = holding_vaults(v)
                .into_iter()
                .map(|a| vault_evidence(a, "not locked, or locked outside the bounds"))
                .collect();
            bad(
                format!(
                    "no COMPLETED recovery point is in a locked vault{bounds}{}",
                    unread_note(ix, v)
                ),
                unlocked,
            )
        }
    }
}

fn restore_time(ix: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    let Some(target) = ix.params.max_restore_time_minutes else {
        return na("no restore time target set (compliance.max_restore_time_minutes)");
    };
    let Some(test) = ix.restores.get(v.table.arn.as_str()) else {
        return match &ix.unread_restores {
            Some(why) => bad(
                format!("the restore tests could not be read ({why})"),
                Vec::new(),
            ),
            None => na("no restore test of the table on record"),
        };
    };
    let evidence = vec![Evidence {
        recovery_point_arn: Some(test.recovery_point_arn.clone()),
        vault: Some(test.vault.clone()),
        detail: Some(format!(
            "restore drill of {}: {} minutes; {}",
            test.finished_at, test.minutes, test.detail
        )),
        ..Evidence::default()
    }];
    if !test.passed {
        return bad(
            format!("the last restore drill failed: {}", test.detail),
            evidence,
        );
    }
    if test.minutes <= target {
        ok(
            format!(
                "the last restore took {} minutes (target {target})",
                test.minutes
            ),
            evidence,
        )
    } else {
        bad(
            format!(
                "the last restore took {} minutes, over the {target}-minute target",
                test.minutes
            ),
            evidence,
        )
    }
}

fn chain_complete(ix: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    if v.reached.is_empty() {
        return na("no route selects the table");
    }
    let hours = ix.params.chain_deadline_hours;
    let deadline = ix.now - Duration::hours(i64::from(hours));
    let held: BTreeSet<(DateTime<Utc>, &VaultArn)> =
        completed(v).map(|p| (p.creation_date, &p.vault)).collect();
    let origins: BTreeMap<&VaultArn, &str> = v
        .origins
        .iter()
        .map(|o| (&o.arn, o.alias.as_str()))
        .collect();
    let (mut originals, mut young) = (0, 0);
    let (mut missing, mut unseen) = (Vec::new(), Vec::new());
    for p in completed(v) {
        let Some(origin) = origins.get(&p.vault) else {
            continue;
        };
        if p.creation_date > deadline {
            young += 1;
            continue;
        }
        originals += 1;
        // The hop identity: (table, creation date) in each vault, whatever route made it.
        for vault in ix
            .policy
            .vaults_reached(origin, Some(DYNAMODB), &v.table.tags)
        {
            if held.contains(&(p.creation_date, &vault.arn)) {
                continue;
            }
            let (list, detail) = match ix.unread(&vault.arn) {
                Some(why) => (&mut unseen, format!("not verified: {why}")),
                None => (
                    &mut missing,
                    format!("no COMPLETED copy in '{}'", vault.alias),
                ),
            };
            list.push(Evidence {
                recovery_point_arn: Some(p.recovery_point_arn.clone()),
                vault: Some(vault.arn.to_string()),
                creation_date: Some(p.creation_date),
                delete_at: None,
                detail: Some(detail),
            });
        }
    }
    chain_verdict(v, hours, (originals, young), missing, unseen)
}

fn chain_verdict(
    v: &TableView<'_>,
    hours: u32,
    (originals, young): (usize, usize),
    missing: Vec<Evidence>,
    unseen: Vec<Evidence>,
) -> (Status, String, Vec<Evidence>) {
    let names: Vec<&str> = v.origins.iter().map(|o| o.alias.as_str()).collect();
    match (originals, missing.len(), unseen.len()) {
        (0, _, _) if young > 0 => ok(
            format!("no backup older than {hours} h to check yet"),
            Vec::new(),
        ),
        (0, _, _) => bad(
            format!(
                "no backup of the table in {}: nothing its routes could copy",
                names.join(", ")
            ),
            Vec::new(),
        ),
        (_, 0, 0) => ok(
            format!(
                "{originals} backups older than {hours} h are in all {} vaults their routes reach",
                v.reached.len()
            ),
            Vec::new(),
        ),
        (_, 0, n) => bad(
            format!(
                "{} over {originals} backups could not be verified",
                count(n, "copy", "copies")
            ),
            unseen,
        ),
        (_, m, _) => bad(
            format!(
                "{} missing over {originals} backups older than {hours} h",
                count(m, "copy", "copies")
            ),
            missing.into_iter().chain(unseen).collect(),
        ),
    }
}

fn never_expire_retention(ix: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    // Every never_expire vault of the policy: a copy there keeps 100 years however it got there
    // (a route, or a plan's copy action).
    let never: Vec<&relay_core::policy::Vault> = ix
        .policy
        .vaults
        .iter()
        .filter(|vault| matches!(vault.retention, Some(Retention::NeverExpire { .. })))
        .collect();
    let mut count_held = 0;
    let mut short = Vec::new();
    for p in completed(v) {
        let Some(vault) = never.iter().find(|n| n.arn == p.vault) else {
            continue;
        };
        count_held += 1;
        let lock = ix.vaults.get(&p.vault).and_then(|f| f.lock.as_ref());
        match guard::decide(vault, p, lock) {
            GuardDecision::Compliant { .. } => {}
            GuardDecision::Repair { .. } => short.push(point_evidence(
                p,
                Some("not kept 36500 days; the retention guard repairs it".into()),
            )),
            GuardDecision::Ignored { reason } | GuardDecision::Violation { reason } => {
                short.push(point_evidence(p, Some(reason)))
            }
        }
    }
    let reached: Vec<&&relay_core::policy::Vault> = never
        .iter()
        .filter(|n| v.reached.iter().any(|r| r.alias == n.alias))
        .collect();
    let unseen: Vec<Evidence> = reached
        .iter()
        .filter_map(|n| {
            ix.unread(&n.arn)
                .map(|why| vault_evidence(&n.arn, format!("not verified: {why}")))
        })
        .collect();
    if count_held == 0 && reached.is_empty() {
        return na(
            "none of its routes copies into a never_expire vault, and no copy of it is in one",
        );
    }
    match (short.len(), unseen.len()) {
        (0, 0) if count_held == 0 => ok(
            "no copy in a never_expire vault yet (RELAY_CHAIN_COMPLETE says if one is late)",
            Vec::new(),
        ),
        (0, 0) => ok(
            format!("all {count_held} copies in never_expire vaults are kept 36500 days"),
            Vec::new(),
        ),
        (0, n) => bad(
            format!(
                "{} never_expire vaults could not be read: their copies are not verified",
                n
            ),
            unseen,
        ),
        (s, _) => bad(
            format!("{s} of {count_held} copies in never_expire vaults are not kept 36500 days"),
            short.into_iter().chain(unseen).collect(),
        ),
    }
}

fn pitr(_: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    match v.table.pitr {
        Some(true) => ok("point-in-time recovery is on", Vec::new()),
        Some(false) => bad("point-in-time recovery is off", Vec::new()),
        None => bad("point-in-time recovery could not be read", Vec::new()),
    }
}

fn advanced_features(ix: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    let at = format!("{}/{}", v.table.account, v.table.region);
    match ix.regions.get(&(v.table.account.as_str(), v.table.region.as_str())).and_then(|r| r.advanced_features) {
        Some(true) => ok(format!("advanced features for DynamoDB are on in {at}"), Vec::new()),
        Some(false) => bad(format!("advanced features for DynamoDB are off in {at}: its backups are native and cannot be copied"), Vec::new()),
        None => bad(format!("the Region settings of {at} could not be read"), Vec::new()),
    }
}

fn no_native_only(_: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    let is_native = |p: &PointView| {
        RecoveryPointArn::parse(&p.recovery_point_arn).is_ok_and(|a| a.is_dynamodb_native())
    };
    let native_points: Vec<&PointView> = completed(v).filter(|p| is_native(p)).collect();
    let copyable = completed(v).filter(|p| !is_native(p)).count();
    let native = (v.table.native_backups as usize).max(native_points.len());
    if native == 0 {
        return ok("no native backups", Vec::new());
    }
    if copyable > 0 {
        return ok(format!("{native} native backups, and {copyable} AWS Backup recovery points that can be copied"), Vec::new());
    }
    bad(
        format!("protected only by {native} DynamoDB-native backups, which cannot be copied"),
        native_points
            .iter()
            .map(|p| point_evidence(p, Some("DynamoDB-native backup".into())))
            .collect(),
    )
}

fn open_incidents(ix: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    if let Some(why) = &ix.unread_ledger {
        return bad(
            format!("the ledger's open incidents could not be read ({why})"),
            Vec::new(),
        );
    }
    let accounts: BTreeSet<&str> = v
        .reached
        .iter()
        .chain(&v.origins)
        .map(|vault| vault.arn.account.as_str())
        .chain([v.table.account.as_str()])
        .collect();
    let open: Vec<Evidence> = ix
        .incidents
        .iter()
        .filter(|i| concerns(i, v.table, &accounts))
        .map(|i| Evidence {
            vault: i
                .alert
                .hop
                .as_ref()
                .map(|h| h.destination_vault_arn.clone()),
            creation_date: i.alert.hop.as_ref().map(|h| h.original.creation_date),
            detail: Some(format!("{} (open since {})", i.alert.subject, i.opened_at)),
            ..Evidence::default()
        })
        .collect();
    if open.is_empty() {
        ok("no open incident", Vec::new())
    } else {
        bad(format!("{} open incidents need a person", open.len()), open)
    }
}

/// Does this incident hold up a copy of this table? Its hop or table; an account its chains
/// pass through; native backups in its own account and Region.
fn concerns(incident: &Incident, table: &TableFacts, accounts: &BTreeSet<&str>) -> bool {
    let a = &incident.alert;
    if let Some(rest) = incident.id.strip_prefix("native#") {
        return rest.split_once('#') == Some((table.account.as_str(), table.region.as_str()));
    }
    a.hop
        .as_ref()
        .is_some_and(|h| h.original.resource_arn == table.arn)
        || a.resource.as_deref() == Some(table.arn.as_str())
        || a.account
            .as_deref()
            .is_some_and(|acc| accounts.contains(acc))
}
