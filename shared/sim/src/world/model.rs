//! The simulated AWS's nouns: faults, vaults, tables, recovery points, copy and restore jobs,
//! the counters read off them, and AWS's failure messages.

use super::*;

/// The faults the simulated AWS injects. Probabilities are per event, per copy job or per call.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// An emitted event is never delivered.
    pub lose: f64,
    /// An emitted event is delivered once or twice more.
    pub duplicate: f64,
    /// Every event is delivered at least this many times (1 = once).
    pub deliveries: u32,
    /// Extra delivery delay, uniform up to this many minutes: events overtake each other.
    pub reorder_minutes: i64,
    /// A copy job fails with a transient internal error.
    pub copy_failure: f64,
    /// An API call is throttled.
    pub throttle: f64,
    /// Accounts whose executor role cannot be assumed: every call into them is refused.
    pub deny_account: BTreeSet<String>,
}

impl Faults {
    /// These faults with those a world file names in their place; the rest are kept.
    pub fn with_spec(self, spec: &relay_core::world_file::FaultSpec) -> Self {
        Self {
            lose: spec.lose.unwrap_or(self.lose),
            duplicate: spec.duplicate.unwrap_or(self.duplicate),
            reorder_minutes: spec.reorder_minutes.unwrap_or(self.reorder_minutes),
            copy_failure: spec.fail.unwrap_or(self.copy_failure),
            throttle: spec.throttle.unwrap_or(self.throttle),
            deny_account: spec.deny_account.clone().unwrap_or(self.deny_account),
            ..self
        }
    }

    pub fn none() -> Self {
        Self {
            lose: 0.0,
            duplicate: 0.0,
            deliveries: 1,
            reorder_minutes: 0,
            copy_failure: 0.0,
            throttle: 0.0,
            deny_account: BTreeSet::new(),
        }
    }
}

/// How long the simulated AWS Backup remembers an idempotency token by default. AWS does not
/// document it; the simulator forgets soon, so a late repeat of a start would make a duplicate.
pub const TOKEN_MEMORY_HOURS: i64 = 2;

pub const TRANSIENT_COPY_FAILURE: &str =
    "An internal failure occurred while copying the recovery point. Please retry.";

pub const ACCESS_DENIED_FAILURE: &str =
    "Access Denied trying to call AWS Backup service on the destination backup vault.";

pub const ORGANIZATION_FAILURE: &str =
    "Both source and destination account must be a member of the same organization.";

pub const KMS_FAILURE: &str =
    "The source recovery point's KMS key is not shared with the destination account (kms:CreateGrant denied).";

pub const COPY_ROLE_FAILURE: &str =
    "AWS Backup could not assume the IAM role given for the copy: access denied (is the copy role missing?).";

pub const CROSS_ACCOUNT_DISABLED: &str =
    "Cross-account backup is not enabled for the organization: enable it in the management account.";

pub const PARTIAL_COPY: &str = "The copy job completed partially: some data was not copied.";

pub const LOCK_FAILURE: &str =
    "Copy job failed because the retention period is outside the range allowed by the destination vault lock.";

/// The simulated vault's key: one customer-managed key per vault.
pub fn vault_key_arn(vault: &VaultArn) -> String {
    format!(
        "arn:{}:kms:{}:{}:key/{}",
        vault.partition, vault.region, vault.account, vault.name
    )
}

/// The vault whose simulated key this is (the inverse of [`vault_key_arn`]).
pub fn vault_of_key(key_arn: &str) -> Option<VaultArn> {
    let parts: Vec<&str> = key_arn.splitn(6, ':').collect();
    let [_, partition, "kms", region, account, key] = parts.as_slice() else {
        return None;
    };
    let name = key.strip_prefix("key/")?;
    VaultArn::parse(&format!(
        "arn:{partition}:backup:{region}:{account}:backup-vault:{name}"
    ))
    .ok()
}

#[derive(Debug, Clone)]
pub struct SimVault {
    pub arn: VaultArn,
    pub lock: Option<VaultLock>,
    /// Accounts the access policy lets copy in (`None`: the organisation's members); the
    /// vault's own account always may.
    pub allow_copy_from: Option<BTreeSet<String>>,
    /// Accounts its KMS key is shared with (`None`: the whole organisation): copies out of the
    /// vault into any other account fail.
    pub kms_shared_with: Option<BTreeSet<String>>,
    /// Its access policy denies backup:DeleteRecoveryPoint to everyone.
    pub deny_manual_deletion: bool,
    /// CreationDate: when it was added, or before the oldest point a world file says it holds.
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct SimTable {
    pub arn: TableArn,
    pub tags: Tags,
    /// Its size: a restore of it takes longer the larger it is.
    pub size_gb: u32,
    /// Point-in-time recovery on.
    pub pitr: bool,
    /// DynamoDB-native backups made outside AWS Backup (on-demand, by hand).
    pub native_backups: u32,
    /// Settings a restore does not bring back (facts §11).
    pub ttl_attribute: Option<String>,
    pub stream_view_type: Option<String>,
    pub deletion_protection: bool,
}

impl SimTable {
    /// A table with PITR on and no native backups of its own.
    pub fn new(arn: TableArn, tags: Tags) -> Self {
        Self {
            arn,
            tags,
            size_gb: 1,
            pitr: true,
            native_backups: 0,
            ttl_attribute: None,
            stream_view_type: None,
            deletion_protection: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SimRecoveryPoint {
    pub arn: String,
    pub vault: VaultArn,
    pub resource_arn: String,
    /// Copies keep their source's creation date.
    pub creation_date: DateTime<Utc>,
    pub lifecycle: Lifecycle,
    pub delete_at: Option<DateTime<Utc>>,
    /// The recovery point this one was copied from.
    pub source: Option<String>,
    /// When it landed in this vault.
    pub completed_at: DateTime<Utc>,
    /// COMPLETED, or PARTIAL for what a partial copy left.
    pub status: &'static str,
    /// The vault of the point it was copied from (its SourceBackupVaultArn): set by
    /// [`World::insert_point`](crate::world::World::insert_point), not read from a map a million
    /// points long each time it is listed.
    pub source_vault: Option<String>,
}

impl SimRecoveryPoint {
    pub fn view(&self) -> PointView {
        PointView {
            recovery_point_arn: self.arn.clone(),
            vault: self.vault.clone(),
            resource_arn: Some(self.resource_arn.clone()),
            resource_type: Some("DynamoDB".into()),
            status: Some(self.status.into()),
            creation_date: self.creation_date,
            completion_date: Some(self.completed_at),
            lifecycle: self.lifecycle,
            delete_at: self.delete_at,
            storage_class: Some("WARM".into()),
            encrypted: Some(true),
            source_vault_arn: None,
            tags: None,
            backup_size_bytes: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Created,
    Running,
    Completed,
    Failed,
    /// Ended with part of the data copied: its recovery point is PARTIAL, not a held copy.
    Partial,
}

#[derive(Debug, Clone)]
pub struct SimCopyJob {
    pub id: String,
    /// The original the copied point descends from: the hop is (original, dest_vault).
    pub original: Original,
    pub source_rp: String,
    pub source_vault: VaultArn,
    pub dest_vault: VaultArn,
    pub resource_arn: String,
    pub iam_role_arn: String,
    pub lifecycle: Option<Lifecycle>,
    pub state: JobState,
    pub created_at: DateTime<Utc>,
    pub finish_at: Option<DateTime<Utc>>,
    /// When it ended COMPLETED or FAILED.
    pub ended_at: Option<DateTime<Utc>>,
    pub dest_rp: Option<String>,
    pub status_message: Option<String>,
    /// Made by a backup plan's copy action, not by Backup Relay.
    pub created_by_plan: bool,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Counters {
    /// TagResource calls that set tags on a recovery point.
    pub tag_calls: u64,
    pub events_emitted: u64,
    pub events_lost: u64,
    /// Emitted where no rule forwards aws.backup events to the hub (world file `event_forwarding`).
    pub events_not_forwarded: u64,
    pub events_duplicated: u64,
    pub events_delivered: u64,
    pub invocation_errors: u64,
    pub invocation_retries: u64,
    pub events_dead_lettered: u64,
    pub reconciler_runs_dead_lettered: u64,
    pub copy_jobs_started: u64,
    pub copy_job_token_replays: u64,
    pub copy_failures: u64,
    pub plan_copy_jobs: u64,
    pub lifecycle_updates: u64,
    pub calls_throttled: u64,
    pub calls_denied: u64,
    /// Backup jobs AWS refused (a missing vault, a lock that refuses the retention).
    pub backups_failed: u64,
    pub api_calls: u64,
    /// Every call by operation name, answered or not (the inventory benchmark counts these).
    pub calls_by_operation: BTreeMap<&'static str, u64>,
    /// ListRecoveryPointsByBackupVault calls, answered or not: the reconciler's pages.
    pub list_calls: u64,
    /// Minutes copy jobs waited in CREATED for AWS's concurrent-copy quota (one per job-minute).
    pub copy_job_minutes_queued: u64,
    /// The most copy jobs running at once from one account into one Region.
    pub copy_concurrency_peak: u64,
    /// Copy jobs that began running, per hour since the world began (the busiest is reported).
    pub copies_running_by_hour: BTreeMap<i64, u64>,
}

/// A copy job state as AWS names it.
pub fn job_state(state: JobState) -> &'static str {
    match state {
        JobState::Created => "CREATED",
        JobState::Running => "RUNNING",
        JobState::Completed => "COMPLETED",
        JobState::Failed => "FAILED",
        JobState::Partial => "PARTIAL",
    }
}

#[derive(Debug, Clone)]
pub struct SimRestoreJob {
    pub id: String,
    pub account: String,
    pub region: String,
    pub recovery_point_arn: String,
    pub target: TableArn,
    pub source_table: String,
    pub copy_source_tags: bool,
    pub state: &'static str,
    pub status_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finish_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub size_gb: u32,
    /// The request's role and metadata: a replayed token must come with the same.
    pub iam_role_arn: String,
    pub metadata: BTreeMap<String, String>,
}
