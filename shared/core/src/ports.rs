//! The small traits through which the core reaches AWS. Each has one SDK adapter (`relay-aws`) and
//! one simulator (`relay-sim`). Errors are classified by the adapter, never flattened to strings.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::arn::{Location, VaultArn};
use crate::guard::PointView;
use crate::ledger::FailureClass;
use crate::ledger::{ClaimOutcome, ClaimRequest, HopKey, HopRecord, Original};
use crate::plan::StartCopyJob;
use crate::policy::Tags;
use crate::retention::{Lifecycle, VaultLock};

/// How an AWS call failed, as far as the caller's next move is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Try again later (5xx, timeouts, InvalidResourceState, ServiceUnavailable).
    Retryable,
    /// Try again later, slower (throttling, LimitExceeded).
    Throttled,
    NotFound,
    AccessDenied,
    /// The request itself is wrong: retrying cannot help.
    Permanent,
    /// A conditional write lost (someone else got there first).
    ConditionFailed,
}

impl ErrorKind {
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Retryable | Self::Throttled)
    }

    /// Its name, for ids and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Retryable => "Retryable",
            Self::Throttled => "Throttled",
            Self::NotFound => "NotFound",
            Self::AccessDenied => "AccessDenied",
            Self::Permanent => "Permanent",
            Self::ConditionFailed => "ConditionFailed",
        }
    }
}

/// The operation name adapters give a refused AssumeRole into a member account: the whole account
/// is unreachable, which needs a person (one alert per account and incident, not per hop).
pub const ASSUME_ROLE: &str = "AssumeRole";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed ({kind:?}{}): {message}", code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
pub struct PortError {
    pub kind: ErrorKind,
    pub operation: &'static str,
    /// AWS's error code, when there was one.
    pub code: Option<String>,
    pub message: String,
    /// The account a refused AssumeRole was into (see [`PortError::account_denied`]).
    pub account: Option<String>,
}

impl PortError {
    pub fn new(
        kind: ErrorKind,
        operation: &'static str,
        code: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            operation,
            code: code.map(str::to_string),
            message: message.into(),
            account: None,
        }
    }

    /// AssumeRole into `account` was refused.
    pub fn account_denied(account: &str, code: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            account: Some(account.to_string()),
            ..Self::new(ErrorKind::AccessDenied, ASSUME_ROLE, code, message)
        }
    }
}

impl PortError {
    /// AssumeRole into the account was refused: nothing in that account can be done until a person
    /// fixes the executor role.
    pub fn is_account_denied(&self) -> bool {
        self.kind == ErrorKind::AccessDenied && self.operation == ASSUME_ROLE
    }
}

pub type PortResult<T> = Result<T, PortError>;

/// AWS Backup in the account and Region of a vault.
pub trait BackupPort: Send + Sync {
    /// StartCopyJob in `job.account`/`job.region`; returns the copy job id.
    fn start_copy_job(&self, job: &StartCopyJob)
        -> impl Future<Output = PortResult<String>> + Send;
    /// The vault's lock bounds, `None` when it is not locked.
    fn vault_lock(
        &self,
        vault: &VaultArn,
    ) -> impl Future<Output = PortResult<Option<VaultLock>>> + Send;
    /// One page of ListRecoveryPointsByBackupVault (DynamoDB only), in the vault's account and Region.
    fn list_recovery_points(
        &self,
        vault: &VaultArn,
        query: &ListQuery,
    ) -> impl Future<Output = PortResult<Page<PointView>>> + Send;
    /// One page of each listing, all in flight together, in their order. The simulator
    /// overrides it so that calls in flight together take as long as the longest of them, not
    /// their sum (the scale model).
    fn list_recovery_points_at_once(
        &self,
        wanted: &[(&VaultArn, &ListQuery)],
    ) -> impl Future<Output = Vec<PortResult<Page<PointView>>>> + Send {
        futures_util::future::join_all(
            wanted
                .iter()
                .map(|(vault, query)| self.list_recovery_points(vault, query)),
        )
    }
    fn describe_recovery_point(
        &self,
        vault: &VaultArn,
        recovery_point_arn: &str,
    ) -> impl Future<Output = PortResult<PointView>> + Send;
    /// UpdateRecoveryPointLifecycle with both fields of `lifecycle`.
    fn update_recovery_point_lifecycle(
        &self,
        vault: &VaultArn,
        recovery_point_arn: &str,
        lifecycle: &Lifecycle,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// DescribeCopyJob where the job runs (the source vault's account and Region).
    fn copy_job_status(
        &self,
        at: &Location,
        copy_job_id: &str,
    ) -> impl Future<Output = PortResult<CopyJobStatus>> + Send;
    /// ListCopyJobs where the jobs run: every job (all pages) of `resource_arn` into
    /// `destination_vault_arn` created after `created_after`. How long AWS remembers an idempotency
    /// token is undocumented, so a start that may already have reached AWS looks here first.
    fn find_copy_jobs(
        &self,
        at: &Location,
        query: &CopyJobQuery,
    ) -> impl Future<Output = PortResult<Vec<CopyJobSummary>>> + Send;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyJobQuery {
    pub resource_arn: String,
    pub destination_vault_arn: String,
    pub created_after: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyJobSummary {
    pub copy_job_id: String,
    pub source_recovery_point_arn: Option<String>,
    /// The vault the job copies from: where the source point can be described.
    pub source_backup_vault_arn: Option<String>,
    /// The copy it made, once COMPLETED.
    pub destination_recovery_point_arn: Option<String>,
    /// CREATED, RUNNING, COMPLETED, FAILED, PARTIAL.
    pub state: String,
}

impl CopyJobSummary {
    /// A job that is making the copy or made it: a FAILED, PARTIAL or ABORTED one did not.
    pub fn is_live(&self) -> bool {
        matches!(
            self.state.as_str(),
            "CREATED" | "PENDING" | "RUNNING" | "COMPLETED"
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// ByCreatedAfter: only points created after this.
    pub created_after: Option<DateTime<Utc>>,
    /// ByCreatedBefore: only points created before this.
    pub created_before: Option<DateTime<Utc>>,
    /// ByResourceArn: only points of this resource.
    pub resource_arn: Option<String>,
    pub page_token: Option<String>,
    /// At most 1000 (the API's maximum).
    pub page_size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyJobStatus {
    /// CREATED, RUNNING, COMPLETED, FAILED, PARTIAL.
    pub state: String,
    pub status_message: Option<String>,
    pub destination_recovery_point_arn: Option<String>,
}

/// StartRestoreJob for a DynamoDB recovery point: always a new table (facts §11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartRestore {
    pub account: String,
    pub region: String,
    pub partition: String,
    pub recovery_point_arn: String,
    /// The role AWS Backup assumes to restore, in `account`.
    pub iam_role_arn: String,
    /// DynamoDB's: `targetTableName`, `encryptionType`, `kmsMasterKeyArn`.
    pub metadata: std::collections::BTreeMap<String, String>,
    /// The same token for the same restore: a repeated start after a lost answer is a no-op
    /// while AWS remembers it; the target table's name guards it after that.
    pub idempotency_token: String,
    /// CopySourceTagsToRestoredResource.
    pub copy_source_tags: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreJobStatus {
    /// PENDING, RUNNING, COMPLETED, ABORTED, FAILED.
    pub state: String,
    pub status_message: Option<String>,
    pub created_resource_arn: Option<String>,
    pub creation_date: Option<DateTime<Utc>>,
    pub completion_date: Option<DateTime<Utc>>,
}

/// A DynamoDB table as DescribeTable and ListTagsOfResource show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableState {
    pub arn: String,
    /// CREATING, ACTIVE, DELETING, ...
    pub status: String,
    pub item_count: u64,
    pub size_bytes: u64,
    pub tags: Tags,
}

/// What a restore does not bring back (facts §11), read from the source table and put back on
/// the restored one by `relay restore --reapply`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableSettings {
    pub pitr: bool,
    /// The TTL attribute, when TTL is on.
    pub ttl_attribute: Option<String>,
    /// The stream's view type (NEW_IMAGE, ...), when a stream is on.
    pub stream_view_type: Option<String>,
    pub deletion_protection: bool,
    pub tags: Tags,
}

/// Restores and the tables they make, each call in the given account and Region.
pub trait RestorePort: Send + Sync {
    /// StartRestoreJob; the restore job's id.
    fn start_restore_job(
        &self,
        req: &StartRestore,
    ) -> impl Future<Output = PortResult<String>> + Send;
    /// DescribeRestoreJob.
    fn restore_job_status(
        &self,
        at: &Location,
        restore_job_id: &str,
    ) -> impl Future<Output = PortResult<RestoreJobStatus>> + Send;
    /// DescribeTable (and its tags); `None` when there is no such table.
    fn table_state(
        &self,
        at: &Location,
        table_name: &str,
    ) -> impl Future<Output = PortResult<Option<TableState>>> + Send;
    /// DeleteTable: only ever for a table a restore drill made (the caller checks its name).
    fn delete_table(
        &self,
        at: &Location,
        table_name: &str,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// DescribeTable, DescribeContinuousBackups, DescribeTimeToLive and the tags; `None` when
    /// there is no such table.
    fn table_settings(
        &self,
        at: &Location,
        table_name: &str,
    ) -> impl Future<Output = PortResult<Option<TableSettings>>> + Send;
    /// Put the settings on a table: UpdateContinuousBackups, UpdateTimeToLive, UpdateTable
    /// (stream, deletion protection) and TagResource, each only where it differs.
    fn apply_table_settings(
        &self,
        at: &Location,
        table_name: &str,
        settings: &TableSettings,
    ) -> impl Future<Output = PortResult<()>> + Send;
}

/// A restore test of the table and how long it took (the restore drill keeps these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreTest {
    pub resource_arn: String,
    pub recovery_point_arn: String,
    /// The vault the point was restored from.
    pub vault: String,
    pub finished_at: DateTime<Utc>,
    /// From StartRestoreJob to COMPLETED (0 when it never completed).
    pub minutes: u32,
    /// The restore completed and the restored table checked out.
    pub passed: bool,
    /// What was checked, or what went wrong, in words.
    pub detail: String,
}

/// The restore drills' evidence, kept beside the ledger: what the report's restore-time control
/// reads.
pub trait RestoreEvidence: Send + Sync {
    fn record_restore_test(
        &self,
        test: &RestoreTest,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// Every restore test kept (they expire after a year).
    fn restore_tests(&self) -> impl Future<Output = PortResult<Vec<RestoreTest>>> + Send;
}

/// Tags of a protected resource (a DynamoDB table), read in the resource's own account and Region.
pub trait TagPort: Send + Sync {
    fn resource_tags(&self, resource_arn: &str) -> impl Future<Output = PortResult<Tags>> + Send;
}

/// Tags on recovery points (ListTags, TagResource), always in the account that owns the point's
/// vault: AWS refuses them across accounts whatever the vault's access policy (facts §13).
pub trait CopyTagPort: Send + Sync {
    /// Every tag of the point (every page), `aws:` ones included.
    fn recovery_point_tags(
        &self,
        vault: &VaultArn,
        recovery_point_arn: &str,
    ) -> impl Future<Output = PortResult<Tags>> + Send;
    /// The tags of many points, `in_flight` calls at a time (a sliding window), in their order.
    /// The simulator overrides it so that calls in flight together take as long as the longest
    /// of them, not their sum (the scale model).
    fn recovery_point_tags_at_once(
        &self,
        wanted: &[(&VaultArn, &str)],
        in_flight: usize,
    ) -> impl Future<Output = Vec<PortResult<Tags>>> + Send {
        use futures_util::stream::{self, StreamExt};
        stream::iter(wanted)
            .map(|(vault, arn)| self.recovery_point_tags(vault, arn))
            .buffered(in_flight.max(1))
            .collect()
    }
    /// TagResource: adds or overwrites these tags, leaving the others.
    fn tag_recovery_point(
        &self,
        vault: &VaultArn,
        recovery_point_arn: &str,
        tags: &Tags,
    ) -> impl Future<Output = PortResult<()>> + Send;
}

/// The hop ledger: one record per (source recovery point, destination vault), changed only by
/// conditional writes whose rules live in [`crate::ledger`].
pub trait LedgerPort: Send + Sync {
    fn claim(
        &self,
        hop: &HopKey,
        req: &ClaimRequest,
    ) -> impl Future<Output = PortResult<ClaimOutcome>> + Send;
    /// CLAIMED (this attempt) -> STARTED with the copy job and where it runs. `false` when the
    /// condition failed.
    fn mark_started(
        &self,
        hop: &HopKey,
        attempt: u32,
        job: &StartedJob,
        now: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<bool>> + Send;
    /// CLAIMED (this attempt) -> RELEASED: the start failed transiently; the same attempt may be claimed again.
    fn release(
        &self,
        hop: &HopKey,
        attempt: u32,
        reason: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<bool>> + Send;
    /// Any existing record -> COMPLETED. `false` when the hop has no record (a copy Backup Relay did not start).
    fn mark_completed(
        &self,
        hop: &HopKey,
        destination_recovery_point_arn: Option<&str>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<bool>> + Send;
    /// STARTED with this copy job id (or CLAIMED, for a start that failed outright) -> FAILED.
    /// Returns the new record when the transition happened, `None` for a stale or repeated event.
    fn mark_failed(
        &self,
        hop: &HopKey,
        failure: &HopFailure,
        now: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<Option<HopRecord>>> + Send;
    /// Record a hop that will not be copied (a vault lock and `skip`). `false` when already recorded.
    fn record_skipped(
        &self,
        hop: &HopKey,
        route: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<bool>> + Send;
    fn get(&self, hop: &HopKey) -> impl Future<Output = PortResult<Option<HopRecord>>> + Send;
    /// The records of many hops, in their order, as consistent as [`Self::get`]: DynamoDB's
    /// BatchGetItem reads 100 a call (one GetItem each by default).
    fn get_many(
        &self,
        hops: &[HopKey],
    ) -> impl Future<Output = PortResult<Vec<Option<HopRecord>>>> + Send {
        async move {
            let mut out = Vec::with_capacity(hops.len());
            for hop in hops {
                out.push(self.get(hop).await?);
            }
            Ok(out)
        }
    }
    /// The hop's copy carries the policy's tags (see [`crate::ledger::tagged`]): one
    /// unconditional upsert, so it holds whoever wrote the record first.
    fn mark_tagged(
        &self,
        hop: &HopKey,
        route: &str,
        copy_arn: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// FAILED, retryable, this attempt -> FAILED, needs a person. `true` once: the caller alerts.
    fn escalate(
        &self,
        hop: &HopKey,
        attempt: u32,
        reason: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<bool>> + Send;
    /// Open an incident (a put that fails if it exists). `true` when it is new: the caller alerts.
    fn open_incident(&self, incident: &Incident) -> impl Future<Output = PortResult<bool>> + Send;
    /// The incident's alert was sent: only now is it marked so (an unsent one is sent again).
    fn incident_alerted(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// Every open incident, alerted or not.
    fn open_incidents(&self) -> impl Future<Output = PortResult<Vec<Incident>>> + Send;
    /// The condition is gone (an account reachable again): a new breakage is a new incident.
    fn close_incident(&self, id: &str) -> impl Future<Output = PortResult<()>> + Send;
    /// Where the reconciler stopped in `piece` (an account and Region, or "" for a run over the
    /// whole policy), so the next run resumes there (`None`: start a new pass).
    fn load_cursor(&self, piece: &str) -> impl Future<Output = PortResult<Option<String>>> + Send;
    fn save_cursor(
        &self,
        piece: &str,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// Hold `piece` for `holder` (an invocation's request id) until `until`: `true` when it was
    /// free, its lease had ended, or `holder` held it already; `false` when another holds it.
    /// One invocation walks a piece at a time, whatever the queue delivers twice.
    fn take_lease(
        &self,
        piece: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<bool>> + Send;
    /// Let the piece go, if `holder` still holds it.
    fn release_lease(
        &self,
        piece: &str,
        holder: &str,
    ) -> impl Future<Output = PortResult<()>> + Send;
}

/// A copy job of a hop and where it runs: the recovery point it copies and that point's vault
/// (an adopted job may run where another route's claim started it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedJob {
    pub copy_job_id: String,
    pub source_recovery_point_arn: String,
    pub source_vault_arn: String,
}

impl StartedJob {
    pub fn new(copy_job_id: &str, source_recovery_point_arn: &str, source_vault_arn: &str) -> Self {
        Self {
            copy_job_id: copy_job_id.to_string(),
            source_recovery_point_arn: source_recovery_point_arn.to_string(),
            source_vault_arn: source_vault_arn.to_string(),
        }
    }
}

/// Why a hop failed, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HopFailure {
    /// The failed copy job; `None` when StartCopyJob itself was refused (then the attempt is given).
    pub copy_job_id: Option<String>,
    pub attempt: Option<u32>,
    pub class: FailureClass,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub subject: String,
    pub message: String,
    /// What the alert is about, so an operator can find it in the ledger.
    pub hop: Option<HopKey>,
    /// An account-wide incident (its executor role cannot be assumed).
    pub account: Option<String>,
    /// A table-wide incident (its copies queue for longer than a day): every chain of it.
    pub resource: Option<String>,
    /// A route the reconciler cannot walk (`from->to`): every copy it should make.
    pub route: Option<String>,
    /// The repair engine itself cannot do its work (the reconciler is failing or behind): every
    /// chain may be left incomplete until it can.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_chains: bool,
    /// Copies into this vault (its ARN) that fail for one cause: every copy into it not made
    /// while the incident is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<String>,
}

impl Alert {
    /// An alert about nothing the simulator's coverage can place (a hop, an account, a table, a
    /// route, a vault): fill those in with struct update syntax where they are known.
    pub fn plain(subject: String, message: String) -> Self {
        Self {
            subject,
            message,
            hop: None,
            account: None,
            resource: None,
            route: None,
            all_chains: false,
            vault: None,
        }
    }

    /// An alert about a hop that is not made, standing for every hop into its vault that fails
    /// for the same cause ([`HopKey::vault_incident`]).
    pub fn about_hop(subject: String, message: String, hop: HopKey) -> Self {
        Self {
            subject,
            message,
            vault: Some(hop.destination_vault_arn.clone()),
            hop: Some(hop),
            account: None,
            resource: None,
            route: None,
            all_chains: false,
        }
    }
}

/// Something a person must act on, alerted exactly once: an outbox entry until its alert is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// `hop#...` (one per hop), `account#...` (one per account and breakage), `retention#...`.
    pub id: String,
    pub alert: Alert,
    pub opened_at: DateTime<Utc>,
    pub alerted_at: Option<DateTime<Utc>>,
}

impl Incident {
    pub fn new(id: String, alert: Alert, now: DateTime<Utc>) -> Self {
        Self {
            id,
            alert,
            opened_at: now,
            alerted_at: None,
        }
    }

    pub fn account_id(account: &str) -> String {
        format!("account#{account}")
    }

    pub fn retention_id(recovery_point_arn: &str) -> String {
        format!("retention#{recovery_point_arn}")
    }

    /// The original a hop incident is about (for reports).
    pub fn original(&self) -> Option<&Original> {
        self.alert.hop.as_ref().map(|h| &h.original)
    }
}

/// Where the deployed policy lives: a Parameter Store parameter, an S3 object, or the environment.
pub trait PolicyStore: Send + Sync {
    /// The current version. A document over `MAX_POLICY_BYTES` is refused before it is read whole.
    fn fetch(
        &self,
    ) -> impl Future<Output = PortResult<crate::policy::keeper::PolicyDocument>> + Send;
    /// The version published just before `version` (`None`: there is none, or the store keeps
    /// no history). A process that starts while the current version is invalid goes back
    /// through these to the last valid one.
    fn fetch_before(
        &self,
        version: &str,
    ) -> impl Future<Output = PortResult<Option<crate::policy::keeper::PolicyDocument>>> + Send;
    /// Who wrote `version`, where the store records it (Parameter Store's LastModifiedUser; S3
    /// does not, CloudTrail's data events do). `None` when it does not say.
    fn author(&self, _version: &str) -> impl Future<Output = PortResult<Option<String>>> + Send {
        async { Ok(None) }
    }
}

pub trait AlertPort: Send + Sync {
    fn send(&self, alert: &Alert) -> impl Future<Output = PortResult<()>> + Send;
}

/// Time, as the ports see it: the wall clock of AWS (or of the simulated world), the monotonic
/// clock deadlines are measured on, and the pauses between tries. Every deadline and pause goes
/// through here, so a test can run them on tokio's paused clock instead of waiting.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    /// The monotonic time deadlines are measured on: tokio's clock, which tests can pause.
    fn instant(&self) -> std::time::Instant {
        tokio::time::Instant::now().into_std()
    }
    /// Wait before trying a throttled or failed call again. The simulator's time does not pass
    /// inside a run, so its pause is nothing; the SDK adapter sleeps.
    fn pause(&self, _wait: std::time::Duration) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// The pause actually taken for a backoff of `wait`: the SDK adapter draws it from
    /// `[wait/2, wait]` so that calls throttled together do not all try again together; the
    /// simulator keeps `wait` (its runs repeat exactly for a seed).
    fn jitter(&self, wait: std::time::Duration) -> std::time::Duration {
        wait
    }
}

/// Everything the copy router needs. The ledger is reached through `ledger()` so an adapter can
/// keep it as its own value instead of forwarding every method.
pub trait RouterPorts: BackupPort + TagPort + CopyTagPort + AlertPort + Clock {
    type Ledger: LedgerPort;
    fn ledger(&self) -> &Self::Ledger;
}

/// Where a call is made, for adapters that keep one client per account and Region.
pub fn job_location(job: &StartCopyJob) -> Location {
    Location {
        partition: job.partition.clone(),
        account: job.account.clone(),
        region: job.region.clone(),
    }
}

/// AWS Organizations, read through a role in the management or delegated administrator account:
/// what vault sets and the report's scope expand with.
pub trait OrganizationsPort: Send + Sync {
    /// Every ACTIVE account of the organisation (ListAccounts).
    fn active_accounts(
        &self,
    ) -> impl Future<Output = PortResult<std::collections::BTreeSet<String>>> + Send;
    /// One OU's ACTIVE accounts (ListAccountsForParent) and child OUs
    /// (ListOrganizationalUnitsForParent).
    fn unit(&self, ou: &str) -> impl Future<Output = PortResult<crate::policy::OrgUnit>> + Send;
}

/// The queue the reconciler's pieces go through (SQS, read by an event source mapping): each
/// message one piece. The coordinator sends the pieces; a piece cut by its deadline sends itself.
pub trait PieceQueue: Send + Sync {
    fn send_pieces(&self, messages: &[String]) -> impl Future<Output = PortResult<()>> + Send;
}
