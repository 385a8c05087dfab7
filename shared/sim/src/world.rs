//! The simulated AWS: accounts, Regions, vaults (locks, access policies), DynamoDB tables with tags,
//! recovery points, copy jobs and an event bus with faults. `Sim` implements every port of the core,
//! so the real router code runs against it unchanged.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use relay_core::arn::{Location, TableArn, VaultArn};
use relay_core::guard::PointView;
use relay_core::ledger::{self, ClaimOutcome, ClaimRequest, HopKey, HopRecord, HopState, Original};
use relay_core::plan::{StartCopyJob, Tags};
use relay_core::ports::{
    Alert, AlertPort, BackupPort, Clock, CopyJobQuery, CopyJobStatus, CopyJobSummary, ErrorKind,
    HopFailure, Incident, LedgerPort, ListQuery, Page, PortError, PortResult, RouterPorts,
    StartedJob, TagPort,
};
use relay_core::retention::{delete_at, Lifecycle, VaultLock, COLD_MIN_DAYS};
use serde_json::{json, Value};

use crate::rng::Rng;

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

#[derive(Debug, Clone)]
pub struct SimVault {
    pub arn: VaultArn,
    pub lock: Option<VaultLock>,
    /// Accounts the access policy lets copy in; the vault's own account always may.
    pub allow_copy_from: BTreeSet<String>,
    /// Accounts its KMS key is shared with (`None`: the whole organisation): copies out of the
    /// vault into any other account fail.
    pub kms_shared_with: Option<BTreeSet<String>>,
    /// Its access policy denies backup:DeleteRecoveryPoint to everyone.
    pub deny_manual_deletion: bool,
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

/// The functions an event can be delivered to, as the SAM template's rules select them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    CopyRouter,
    RetentionGuard,
}

impl Target {
    /// The rules' patterns: copy-router takes finished backup and copy jobs; retention-guard takes
    /// completed copies and completed or available recovery points.
    pub fn for_event(event: &Value) -> Vec<Target> {
        let detail_type = event
            .get("detail-type")
            .and_then(Value::as_str)
            .unwrap_or("");
        let detail = event.get("detail");
        let field = |k: &str| {
            detail
                .and_then(|d| d.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        let mut out = Vec::new();
        match detail_type {
            "Backup Job State Change"
                if matches!(
                    field("state"),
                    "COMPLETED" | "FAILED" | "ABORTED" | "EXPIRED"
                ) =>
            {
                out.push(Target::CopyRouter)
            }
            "Copy Job State Change" if field("state") == "FAILED" => out.push(Target::CopyRouter),
            "Copy Job State Change" if field("state") == "COMPLETED" => {
                out.push(Target::CopyRouter);
                out.push(Target::RetentionGuard);
            }
            "Recovery Point State Change"
                if matches!(field("status"), "COMPLETED" | "AVAILABLE") =>
            {
                out.push(Target::RetentionGuard)
            }
            _ => {}
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub at: DateTime<Utc>,
    pub seq: u64,
    pub target: Target,
    pub event: Value,
    /// 0 for the first invocation; Lambda retries a failed asynchronous invocation twice.
    pub retry: u32,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Counters {
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
}

pub struct World {
    pub now: DateTime<Utc>,
    pub rng: Rng,
    pub faults: Faults,
    pub organization: BTreeSet<String>,
    pub vaults: BTreeMap<VaultArn, SimVault>,
    /// Its tables (set them with [`World::set_tables`], which indexes them by ARN).
    pub tables: Vec<SimTable>,
    /// Table ARN -> index in `tables`: lookups by ARN at 10,000 tables.
    table_index: HashMap<String, usize>,
    /// A copied point -> its vault's ARN: the SourceBackupVaultArn of its copies, written once.
    source_vaults: HashMap<String, String>,
    pub recovery_points: BTreeMap<String, SimRecoveryPoint>,
    /// Recovery points per vault by (creation date in ms, sequence): the listing order, so a
    /// creation-date window is a range and a page token is a position.
    by_vault: BTreeMap<VaultArn, BTreeMap<(i64, u64), String>>,
    pub jobs: Vec<SimCopyJob>,
    /// Jobs not yet ended, and every job by id and by (resource, destination): so a long run
    /// costs time in proportion to what happens, not to all that ever happened.
    active_jobs: BTreeSet<usize>,
    job_by_id: HashMap<String, usize>,
    jobs_by_hop: HashMap<(String, VaultArn), Vec<usize>>,
    /// Accounts whose copy role AWS Backup cannot assume: their copy jobs fail.
    pub copy_role_missing: BTreeSet<String>,
    /// The management account has not enabled cross-account backup.
    pub cross_account_backup_disabled: bool,
    /// (account, Region) without DynamoDB advanced features: the backups made there are
    /// DynamoDB-native and cannot be copied.
    pub native_regions: BTreeSet<(String, String)>,
    /// (account, Region) whose aws.backup events no rule forwards to the hub: never delivered.
    pub unforwarded: BTreeSet<(String, String)>,
    /// Restore drills under way (the ledger's `#drill-in-flight` items).
    pub drills: BTreeMap<String, relay_restore::drill::DrillInFlight>,
    /// The restore drills' evidence (the ledger's `#restore-test` items).
    pub restore_tests: Vec<relay_compliance::inventory::RestoreTest>,
    /// Restore jobs, and restores by (account, idempotency token).
    pub restore_jobs: Vec<crate::restore::SimRestoreJob>,
    pub restore_tokens: HashMap<(String, String), usize>,
    /// A pause moves the clock (outside a simulation run: see `Clock for Sim`).
    pub time_flows: bool,
    /// The backup plans, as ListBackupPlans and GetBackupPlan describe them.
    pub backup_plans: Vec<relay_compliance::inventory::PlanFacts>,
    /// Events lost on the bus that would have started copies: (vault, recovery point).
    pub lost_landings: Vec<(VaultArn, String)>,
    /// Points whose delete date UpdateRecoveryPointLifecycle moved later.
    pub extended_points: BTreeSet<String>,
    pub reconciler_cursor: Option<String>,
    /// Idempotency tokens per account, with when they were used.
    tokens: HashMap<(String, String), (usize, DateTime<Utc>)>,
    /// Copy jobs to fail on purpose, per destination vault: (count left, status message).
    forced_failures: BTreeMap<VaultArn, (u32, String)>,
    pub ledger: BTreeMap<HopKey, HopRecord>,
    pub incidents: BTreeMap<String, Incident>,
    /// How long idempotency tokens are remembered.
    pub token_memory: Duration,
    /// The next this many StartCopyJob calls start their job but the answer is lost (a time-out
    /// after the request reached AWS).
    pub lost_start_answers: u32,
    /// Recovery points that moved to the cold tier (they cannot be copied).
    pub cold_points: BTreeSet<String>,
    /// When points are due in the cold tier, by their lifecycle: (time, sequence) -> point.
    cold_due: BTreeMap<(DateTime<Utc>, u64), String>,
    /// Copy jobs into these vaults start and never finish (stuck at AWS).
    pub stalled_into: BTreeSet<VaultArn>,
    /// Publishing alerts fails (as a transient error) until this time.
    pub publish_down_until: Option<DateTime<Utc>>,
    /// Lifecycle updates that moved a delete date earlier: must stay 0.
    pub retentions_shortened: u64,
    /// Alerts really published (the alert topic's side).
    pub alerts: Vec<Alert>,
    /// Operations AWS answers ServiceUnavailableException to, every time, until removed.
    pub unavailable: BTreeSet<&'static str>,
    /// Backup jobs AWS failed, by vault and AWS's message.
    pub backup_failures: BTreeMap<(VaultArn, String), u64>,
    /// Dead-letter queues whose CloudWatch alarm is in ALARM.
    pub alarms: BTreeSet<String>,
    /// Deliveries not yet due, in delivery order: (time, sequence).
    pub pending: BTreeMap<(DateTime<Utc>, u64), Delivery>,
    pub dead_letters: Vec<Value>,
    pub counters: Counters,
    seq: u64,
}

impl World {
    pub fn new(start: DateTime<Utc>, seed: u64, faults: Faults) -> Self {
        Self {
            now: start,
            rng: Rng::new(seed),
            faults,
            organization: BTreeSet::new(),
            vaults: BTreeMap::new(),
            tables: Vec::new(),
            table_index: HashMap::new(),
            source_vaults: HashMap::new(),
            recovery_points: BTreeMap::new(),
            by_vault: BTreeMap::new(),
            jobs: Vec::new(),
            active_jobs: BTreeSet::new(),
            job_by_id: HashMap::new(),
            jobs_by_hop: HashMap::new(),
            copy_role_missing: BTreeSet::new(),
            cross_account_backup_disabled: false,
            unforwarded: BTreeSet::new(),
            native_regions: BTreeSet::new(),
            backup_plans: Vec::new(),
            drills: BTreeMap::new(),
            restore_tests: Vec::new(),
            restore_jobs: Vec::new(),
            restore_tokens: HashMap::new(),
            time_flows: false,
            lost_landings: Vec::new(),
            extended_points: BTreeSet::new(),
            reconciler_cursor: None,
            tokens: HashMap::new(),
            forced_failures: BTreeMap::new(),
            ledger: BTreeMap::new(),
            incidents: BTreeMap::new(),
            token_memory: Duration::hours(TOKEN_MEMORY_HOURS),
            lost_start_answers: 0,
            stalled_into: BTreeSet::new(),
            cold_points: BTreeSet::new(),
            cold_due: BTreeMap::new(),
            publish_down_until: None,
            retentions_shortened: 0,
            alerts: Vec::new(),
            alarms: BTreeSet::new(),
            backup_failures: BTreeMap::new(),
            unavailable: BTreeSet::new(),
            pending: BTreeMap::new(),
            dead_letters: Vec::new(),
            counters: Counters::default(),
            seq: 0,
        }
    }

    pub fn add_vault(&mut self, arn: VaultArn) {
        self.organization.insert(arn.account.clone());
        let all = self.organization.clone();
        self.vaults.insert(
            arn.clone(),
            SimVault {
                arn,
                lock: None,
                allow_copy_from: all,
                kms_shared_with: None,
                deny_manual_deletion: false,
            },
        );
        // Access policies allow the whole organisation (aws:PrincipalOrgID), as the spoke stack sets.
        let org = self.organization.clone();
        for v in self.vaults.values_mut() {
            v.allow_copy_from = org.clone();
        }
    }

    /// A copy job by its id, wherever it ran.
    pub fn copy_job(&self, id: &str) -> Option<&SimCopyJob> {
        self.job_by_id.get(id).map(|&i| &self.jobs[i])
    }

    /// The tables of the organisation, indexed by ARN.
    pub fn set_tables(&mut self, tables: Vec<SimTable>) {
        self.tables = tables;
        self.reindex_tables();
    }

    /// Index `tables` again after it changed in place (a restore made one, a drill deleted one).
    pub fn reindex_tables(&mut self) {
        self.table_index = self
            .tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.arn.to_string(), i))
            .collect();
    }

    /// The table with this ARN: from the index, else (a list changed without reindexing) a scan.
    pub fn table(&self, arn: &str) -> Option<&SimTable> {
        let indexed = self
            .table_index
            .get(arn)
            .and_then(|&i| self.tables.get(i))
            .filter(|t| t.arn.to_string() == arn);
        indexed.or_else(|| self.tables.iter().find(|t| t.arn.to_string() == arn))
    }

    pub fn vault_mut(&mut self, arn: &VaultArn) -> Option<&mut SimVault> {
        self.vaults.get_mut(arn)
    }

    /// A CloudWatch alarm on a dead-letter queue (the hub template's): it goes to ALARM with the
    /// queue's first message and CloudWatch publishes to the alert topic once; it stays in ALARM
    /// while the message waits (nobody empties the queue in a simulation). `all_chains`: the
    /// reconciler's, whose failing runs leave every chain unrepaired.
    pub fn dead_letter_alarm(&mut self, queue: &str, all_chains: bool) {
        if !self.alarms.insert(queue.to_string()) {
            return;
        }
        self.alerts.push(Alert {
            subject: format!("ALARM: \"backup-relay-{queue}\" in ALARM"),
            message: format!(
                "Threshold Crossed: 1 datapoint was greater than or equal to the threshold (1.0) \
                 for the queue of {queue}."
            ),
            hop: None,
            account: None,
            resource: None,
            route: None,
            all_chains,
        });
    }

    /// The next `count` copy jobs into `vault` fail with `message`.
    pub fn force_copy_failures(&mut self, vault: &VaultArn, count: u32, message: &str) {
        self.forced_failures
            .insert(vault.clone(), (count, message.to_string()));
    }

    /// A call into `account`: refused when AssumeRole into it is denied, else maybe throttled.
    /// Public for `relay emulate`, which answers some calls from the world's state directly.
    pub fn call_in(&mut self, account: &str, operation: &'static str) -> PortResult<()> {
        if self.unavailable.contains(operation) {
            self.counted(operation);
            return Err(PortError::new(
                ErrorKind::Retryable,
                operation,
                Some("ServiceUnavailableException"),
                "The service is unavailable. Please try again later.",
            ));
        }
        if self.faults.deny_account.contains(account) {
            self.counters.api_calls += 1;
            self.counters.calls_denied += 1;
            return Err(PortError::account_denied(
                account,
                Some("AccessDenied"),
                format!("User is not authorized to perform: sts:AssumeRole on the executor role in {account} (for {operation})"),
            ));
        }
        self.throttled(operation)
    }

    /// A call counted, never throttled.
    pub(crate) fn counted(&mut self, operation: &'static str) {
        self.counters.api_calls += 1;
        *self
            .counters
            .calls_by_operation
            .entry(operation)
            .or_default() += 1;
    }

    pub(crate) fn throttled(&mut self, operation: &'static str) -> PortResult<()> {
        self.counted(operation);
        if self.rng.chance(self.faults.throttle) {
            self.counters.calls_throttled += 1;
            return Err(PortError::new(
                ErrorKind::Throttled,
                operation,
                Some("ThrottlingException"),
                "Rate exceeded",
            ));
        }
        Ok(())
    }

    /// Put an event on the bus, through the faults: lost, duplicated, delayed (so reordered).
    fn unforwarded_origin(&self, event: &Value) -> bool {
        let field = |k: &str| {
            event
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        !self.unforwarded.is_empty()
            && self
                .unforwarded
                .contains(&(field("account"), field("region")))
    }

    pub fn emit(&mut self, event: Value) {
        self.counters.events_emitted += 1;
        if self.unforwarded_origin(&event) {
            self.counters.events_not_forwarded += 1;
            return;
        }
        if self.rng.chance(self.faults.lose) {
            self.counters.events_lost += 1;
            if let Some(landing) = landing_of(&event) {
                self.lost_landings.push(landing);
            }
            return;
        }
        let base = self.faults.deliveries.max(1);
        let copies = if self.rng.chance(self.faults.duplicate) {
            base + self.rng.between(1, 2) as u32
        } else {
            base
        };
        self.counters.events_duplicated += u64::from(copies - 1);
        for target in Target::for_event(&event) {
            for _ in 0..copies {
                // AWS Backup batches events roughly every 5 minutes; reordering adds more.
                let delay =
                    self.rng.between(1, 5) + self.rng.between(0, self.faults.reorder_minutes);
                self.schedule(
                    target,
                    event.clone(),
                    self.now + Duration::minutes(delay),
                    0,
                );
            }
        }
    }

    pub fn schedule(&mut self, target: Target, event: Value, at: DateTime<Utc>, retry: u32) {
        self.seq += 1;
        self.pending.insert(
            (at, self.seq),
            Delivery {
                at,
                seq: self.seq,
                target,
                event,
                retry,
            },
        );
    }

    /// Deliveries due by now, in delivery order.
    pub fn take_due(&mut self) -> Vec<Delivery> {
        let now = self.now;
        let later = self.pending.split_off(&(now + Duration::nanoseconds(1), 0));
        std::mem::replace(&mut self.pending, later)
            .into_values()
            .collect()
    }

    pub fn insert_point(&mut self, rp: SimRecoveryPoint) {
        self.schedule_cold(&rp);
        if let Some(source) = rp.source.as_ref().and_then(|s| self.recovery_points.get(s)) {
            let vault = source.vault.to_string();
            self.source_vaults.insert(source.arn.clone(), vault);
        }
        self.seq += 1;
        self.by_vault.entry(rp.vault.clone()).or_default().insert(
            (rp.creation_date.timestamp_millis(), self.seq),
            rp.arn.clone(),
        );
        self.recovery_points.insert(rp.arn.clone(), rp);
    }

    /// When the point's lifecycle moves it to the cold tier, it is due there (a lifecycle
    /// changed later schedules again; a stale entry is checked against the point when due).
    fn schedule_cold(&mut self, rp: &SimRecoveryPoint) {
        let Some(days) = rp.lifecycle.move_to_cold_storage_after_days else {
            return;
        };
        let Some(at) = rp
            .creation_date
            .checked_add_signed(Duration::days(i64::from(days)))
        else {
            return;
        };
        self.seq += 1;
        self.cold_due.insert((at, self.seq), rp.arn.clone());
    }

    /// AWS Backup moves points to the cold tier on their lifecycle: from then on they cannot be
    /// copied, restores from them are slower, and their cold setting cannot change.
    pub fn step_lifecycles(&mut self) {
        while let Some(entry) = self.cold_due.first_entry() {
            if entry.key().0 > self.now {
                return;
            }
            let arn = entry.remove();
            let due = self.recovery_points.get(&arn).is_some_and(|rp| {
                rp.status == "COMPLETED"
                    && rp
                        .lifecycle
                        .move_to_cold_storage_after_days
                        .and_then(|d| {
                            rp.creation_date
                                .checked_add_signed(Duration::days(i64::from(d)))
                        })
                        .is_some_and(|at| at <= self.now)
            });
            if due {
                self.cold_points.insert(arn);
            }
        }
    }

    /// A recovery point deleted (by hand, or expired): gone from its vault's listing too.
    pub fn remove_point(&mut self, arn: &str) -> Option<SimRecoveryPoint> {
        let rp = self.recovery_points.remove(arn)?;
        if let Some(listing) = self.by_vault.get_mut(&rp.vault) {
            listing.retain(|_, a| a != arn);
        }
        Some(rp)
    }

    pub fn points_in(&self, vault: &VaultArn) -> impl Iterator<Item = &SimRecoveryPoint> {
        self.by_vault
            .get(vault)
            .into_iter()
            .flat_map(|m| m.values())
            .filter_map(|arn| self.recovery_points.get(arn))
    }

    /// A point as AWS describes it: in the cold tier if it moved there.
    pub fn view_of(&self, rp: &SimRecoveryPoint) -> PointView {
        let mut view = rp.view();
        // SourceBackupVaultArn: the vault of the point it was copied from.
        view.source_vault_arn = rp
            .source
            .as_ref()
            .and_then(|s| self.source_vaults.get(s))
            .cloned();
        if self.cold_points.contains(&rp.arn) {
            view.storage_class = Some("COLD".into());
        }
        view
    }

    /// Record a new copy job in every index; returns its index.
    fn push_job(&mut self, job: SimCopyJob) -> usize {
        let i = self.jobs.len();
        self.job_by_id.insert(job.id.clone(), i);
        self.jobs_by_hop
            .entry((job.resource_arn.clone(), job.dest_vault.clone()))
            .or_default()
            .push(i);
        self.active_jobs.insert(i);
        self.jobs.push(job);
        i
    }

    pub fn new_recovery_point_arn(&mut self, vault: &VaultArn) -> String {
        format!(
            "arn:{}:backup:{}:{}:recovery-point:{}",
            vault.partition,
            vault.region,
            vault.account,
            self.rng.uuid()
        )
    }

    /// A backup plan's job finished: a recovery point in `vault`, and the job's events.
    /// `copy_to`: the plan's copy action, lifecycle "never" (AWS keeps the source's expiry).
    pub fn complete_backup(
        &mut self,
        table: &TableArn,
        vault: &VaultArn,
        created: DateTime<Utc>,
        lifecycle: Lifecycle,
        copy_to: Option<&VaultArn>,
    ) -> Option<String> {
        if let Some(why) = self.backup_refused(vault, &lifecycle) {
            self.failed_backup(table, vault, created, why);
            return None;
        }
        let native = self
            .native_regions
            .contains(&(vault.account.clone(), vault.region.clone()));
        let rp = if native {
            // Without advanced features AWS Backup makes a DynamoDB-native backup.
            format!("{}/backup/{}", table, self.rng.uuid())
        } else {
            self.new_recovery_point_arn(vault)
        };
        self.insert_point(SimRecoveryPoint {
            arn: rp.clone(),
            vault: vault.clone(),
            resource_arn: table.to_string(),
            creation_date: created,
            lifecycle,
            delete_at: delete_at(created, &lifecycle),
            source: None,
            completed_at: self.now,
            status: "COMPLETED",
        });
        let job_id = self.rng.uuid();
        for state in ["CREATED", "RUNNING", "COMPLETED"] {
            let resources = if state == "COMPLETED" {
                vec![rp.clone()]
            } else {
                vec![]
            };
            let mut detail = json!({
                "backupJobId": job_id, "backupVaultArn": vault.to_string(), "backupVaultName": vault.name,
                "resourceArn": table.to_string(), "resourceType": "DynamoDB", "state": state,
                "creationDate": created.to_rfc3339(), "backupSizeInBytes": "52428800", "bytesTransferred": "52428800",
                "percentDone": if state == "COMPLETED" { "100.0" } else { "0.0" },
                "iamRoleArn": format!("arn:{}:iam::{}:role/service-role/AWSBackupDefaultServiceRole", vault.partition, vault.account),
                "expectedCompletionDate": created.format("%b %-d, %Y %-I:%M:%S %p").to_string(),
                "createdBy": {"backupPlanId": "sim-plan", "backupPlanArn": format!("arn:{}:backup:{}:{}:backup-plan:sim-plan", vault.partition, vault.region, vault.account)}
            });
            if state == "COMPLETED" {
                detail["completionDate"] = json!(self.now.to_rfc3339());
            }
            let ev = self.envelope(
                "Backup Job State Change",
                &vault.account,
                &vault.region,
                resources,
                detail,
            );
            self.emit(ev);
        }
        if let Some(dest) = copy_to.filter(|_| !native).cloned() {
            // A copy action whose lifecycle is "never": AWS keeps the source's expiry.
            let id = self.rng.uuid();
            let index = self.push_job(SimCopyJob {
                id,
                original: Original::new(table.to_string(), created),
                source_rp: rp.clone(),
                source_vault: vault.clone(),
                dest_vault: dest,
                resource_arn: table.to_string(),
                iam_role_arn: format!(
                    "arn:{}:iam::{}:role/service-role/AWSBackupDefaultServiceRole",
                    vault.partition, vault.account
                ),
                lifecycle: None,
                state: JobState::Created,
                created_at: self.now,
                finish_at: None,
                ended_at: None,
                dest_rp: None,
                status_message: None,
                created_by_plan: true,
            });
            self.counters.plan_copy_jobs += 1;
            let ev = self.copy_job_event(index);
            self.emit(ev);
        }
        Some(rp)
    }

    pub(crate) fn envelope(
        &mut self,
        detail_type: &str,
        account: &str,
        region: &str,
        resources: Vec<String>,
        detail: Value,
    ) -> Value {
        json!({
            "version": "0", "id": self.rng.uuid(), "detail-type": detail_type, "source": "aws.backup",
            "account": account, "time": self.now.to_rfc3339(), "region": region,
            "resources": resources, "detail": detail
        })
    }

    fn copy_job_event(&mut self, index: usize) -> Value {
        let job = &self.jobs[index];
        let state = match job.state {
            JobState::Created => "CREATED",
            JobState::Running => "RUNNING",
            JobState::Completed => "COMPLETED",
            JobState::Failed => "FAILED",
            JobState::Partial => "PARTIAL",
        };
        let mut detail = json!({
            "backupSizeInBytes": 52428800, "creationDate": job.created_at.to_rfc3339(),
            "destinationBackupVaultArn": job.dest_vault.to_string(),
            "destinationRecoveryPointArn": job.dest_rp.clone().map(Value::String).unwrap_or_else(|| json!({})),
            "iamRoleArn": job.iam_role_arn, "resourceArn": job.resource_arn, "resourceType": "DynamoDB",
            "sourceBackupVaultArn": job.source_vault.to_string(), "state": state,
        });
        // The CREATED event may have no copyJobId.
        if job.state != JobState::Created {
            detail["copyJobId"] = json!(job.id);
        }
        if let Some(m) = &job.status_message {
            detail["statusMessage"] = json!(m);
        }
        if job.created_by_plan {
            detail["createdBy"] =
                json!({"backupPlanId": "sim-plan", "backupPlanRuleId": "copy-to-bunker"});
        }
        if job.state == JobState::Completed {
            detail["completionDate"] = json!(self.now.to_rfc3339());
        }
        let (account, region, source) = (
            job.source_vault.account.clone(),
            job.source_vault.region.clone(),
            job.source_rp.clone(),
        );
        // Emitted where the job runs: the source vault's account and Region.
        self.envelope(
            "Copy Job State Change",
            &account,
            &region,
            vec![source],
            detail,
        )
    }

    /// Move copy jobs along: start waiting ones (one job per resource at a time), finish running ones.
    pub fn step_jobs(&mut self) {
        let now = self.now;
        // Decided first over borrowed state (no table's ARN copied each minute), then applied
        // in the jobs' order: the same history for the same seed.
        let mut busy: HashSet<&str> = self
            .active_jobs
            .iter()
            .map(|&i| &self.jobs[i])
            .filter(|j| j.state == JobState::Running)
            .map(|j| j.resource_arn.as_str())
            .collect();
        let mut moves: Vec<(usize, bool)> = Vec::new();
        for &i in &self.active_jobs {
            let job = &self.jobs[i];
            match job.state {
                JobState::Created
                    if !busy.contains(job.resource_arn.as_str()) && job.created_at < now =>
                {
                    busy.insert(job.resource_arn.as_str());
                    moves.push((i, true));
                }
                JobState::Running
                    if job.finish_at.is_some_and(|t| t <= now)
                        && !self.stalled_into.contains(&job.dest_vault) =>
                {
                    moves.push((i, false))
                }
                _ => {}
            }
        }
        for (i, start) in moves {
            if start {
                let minutes = self.rng.between(20, 90);
                self.jobs[i].state = JobState::Running;
                self.jobs[i].finish_at = Some(now + Duration::minutes(minutes));
                let ev = self.copy_job_event(i);
                self.emit(ev);
            } else {
                self.finish_job(i);
            }
        }
    }

    fn finish_job(&mut self, i: usize) {
        self.active_jobs.remove(&i);
        self.jobs[i].ended_at = Some(self.now);
        let job = self.jobs[i].clone();
        let failure = self.copy_failure(&job);
        // One transient failure in four leaves a partial copy behind instead of nothing.
        let partial = failure.as_deref() == Some(TRANSIENT_COPY_FAILURE) && self.rng.chance(0.25);
        match failure {
            Some(message) if !partial => {
                self.counters.copy_failures += 1;
                self.jobs[i].state = JobState::Failed;
                self.jobs[i].status_message = Some(message);
            }
            _ => {
                let Some(source) = self.recovery_points.get(&job.source_rp).cloned() else {
                    self.jobs[i].state = JobState::Failed;
                    self.jobs[i].status_message =
                        Some("The source recovery point no longer exists.".into());
                    let ev = self.copy_job_event(i);
                    self.emit(ev);
                    return;
                };
                let rp = self.new_recovery_point_arn(&job.dest_vault);
                // "Never" (no DeleteAfterDays) and inherit both keep the source's expiry.
                let lifecycle = job.lifecycle.unwrap_or(source.lifecycle);
                let delete = match lifecycle.delete_after_days {
                    Some(_) => delete_at(source.creation_date, &lifecycle),
                    None => source.delete_at,
                };
                self.insert_point(SimRecoveryPoint {
                    arn: rp.clone(),
                    vault: job.dest_vault.clone(),
                    resource_arn: job.resource_arn.clone(),
                    creation_date: source.creation_date,
                    lifecycle,
                    delete_at: delete,
                    source: Some(job.source_rp.clone()),
                    completed_at: self.now,
                    status: if partial { "PARTIAL" } else { "COMPLETED" },
                });
                self.jobs[i].state = if partial {
                    self.counters.copy_failures += 1;
                    self.jobs[i].status_message = Some(PARTIAL_COPY.into());
                    JobState::Partial
                } else {
                    JobState::Completed
                };
                self.jobs[i].dest_rp = Some(rp.clone());
                let detail = json!({
                    "backupVaultArn": job.dest_vault.to_string(), "backupVaultName": job.dest_vault.name,
                    "creationDate": source.creation_date.to_rfc3339(), "resourceArn": job.resource_arn,
                    "resourceType": "DynamoDB", "status": if partial { "PARTIAL" } else { "COMPLETED" }, "storageClass": "WARM", "isEncrypted": "true",
                    "lifecycle": {"deleteAfterDays": lifecycle.delete_after_days, "moveToColdStorageAfterDays": lifecycle.move_to_cold_storage_after_days},
                    "calculatedLifeCycle": {"deleteAt": delete.map(|d| d.to_rfc3339())}
                });
                let (account, region) = (
                    job.dest_vault.account.clone(),
                    job.dest_vault.region.clone(),
                );
                let ev = self.envelope(
                    "Recovery Point State Change",
                    &account,
                    &region,
                    vec![rp],
                    detail,
                );
                self.emit(ev);
            }
        }
        let ev = self.copy_job_event(i);
        self.emit(ev);
    }

    /// Why AWS would fail a backup job into `vault`: the vault is missing, or its lock does not
    /// allow the plan's retention.
    fn backup_refused(&self, vault: &VaultArn, lifecycle: &Lifecycle) -> Option<&'static str> {
        let Some(v) = self.vaults.get(vault) else {
            return Some("The backup vault does not exist.");
        };
        let lock = v.lock?;
        (!lock.admits(lifecycle.delete_after_days)).then_some(
            "The backup job failed: its retention is outside the range the vault lock allows.",
        )
    }

    /// A backup job AWS refused: its FAILED event, and no recovery point.
    fn failed_backup(
        &mut self,
        table: &TableArn,
        vault: &VaultArn,
        created: DateTime<Utc>,
        why: &str,
    ) {
        let detail = json!({
            "backupJobId": self.rng.uuid(), "backupVaultArn": vault.to_string(),
            "backupVaultName": vault.name, "resourceArn": table.to_string(),
            "resourceType": "DynamoDB", "state": "FAILED", "statusMessage": why,
            "creationDate": created.to_rfc3339(),
        });
        let ev = self.envelope(
            "Backup Job State Change",
            &vault.account,
            &vault.region,
            vec![],
            detail,
        );
        self.emit(ev);
        self.counters.backups_failed += 1;
        *self
            .backup_failures
            .entry((vault.clone(), why.to_string()))
            .or_default() += 1;
    }

    /// Why AWS would fail this copy job, if it would.
    fn copy_failure(&mut self, job: &SimCopyJob) -> Option<String> {
        let src_account = &job.source_vault.account;
        let dest_account = &job.dest_vault.account;
        if src_account != dest_account
            && !(self.organization.contains(src_account)
                && self.organization.contains(dest_account))
        {
            return Some(ORGANIZATION_FAILURE.into());
        }
        // A plan's own copy runs as the plan's role, not the policy's copy role.
        if self.copy_role_missing.contains(src_account) && !job.created_by_plan {
            return Some(COPY_ROLE_FAILURE.into());
        }
        if src_account != dest_account && self.cross_account_backup_disabled {
            return Some(CROSS_ACCOUNT_DISABLED.into());
        }
        let Some(dest) = self.vaults.get(&job.dest_vault).cloned() else {
            return Some("The destination backup vault does not exist.".into());
        };

        if src_account != dest_account && !dest.allow_copy_from.contains(src_account) {
            return Some(ACCESS_DENIED_FAILURE.into());
        }
        let key_shared = self
            .vaults
            .get(&job.source_vault)
            .and_then(|v| v.kms_shared_with.as_ref())
            .is_none_or(|shared| shared.contains(dest_account));
        if src_account != dest_account && !key_shared {
            return Some(KMS_FAILURE.into());
        }
        if let Some(lock) = dest.lock {
            let inherited = self
                .recovery_points
                .get(&job.source_rp)
                .map(|s| s.lifecycle);
            let days = job
                .lifecycle
                .and_then(|l| l.delete_after_days)
                .or_else(|| inherited.and_then(|l| l.delete_after_days));
            // Never expiring is more than any MaxRetentionDays.
            if !lock.admits(days) {
                return Some(LOCK_FAILURE.into());
            }
        }
        if job.created_by_plan {
            return None;
        }
        if let Some((left, message)) = self.forced_failures.get_mut(&job.dest_vault) {
            if *left > 0 {
                *left -= 1;
                return Some(message.clone());
            }
        }
        if self.rng.chance(self.faults.copy_failure) {
            return Some(TRANSIENT_COPY_FAILURE.into());
        }
        None
    }

    fn start_copy(&mut self, req: &StartCopyJob) -> PortResult<String> {
        const OP: &str = "StartCopyJob";
        self.call_in(&req.account, OP)?;
        if let Some(answer) = self.copy_replay(req) {
            return answer;
        }
        let invalid = |m: String| {
            PortError::new(
                ErrorKind::Permanent,
                OP,
                Some("InvalidParameterValueException"),
                m,
            )
        };
        let source_vault =
            VaultArn::parse(&req.source_backup_vault_arn).map_err(|e| invalid(e.to_string()))?;
        let dest_vault = VaultArn::parse(&req.destination_backup_vault_arn)
            .map_err(|e| invalid(e.to_string()))?;
        if !self.vaults.contains_key(&source_vault) {
            return Err(PortError::new(
                ErrorKind::NotFound,
                OP,
                Some("ResourceNotFoundException"),
                format!("backup vault {source_vault} not found"),
            ));
        }
        let Some(rp) = self.recovery_points.get(&req.recovery_point_arn).cloned() else {
            return Err(PortError::new(
                ErrorKind::NotFound,
                OP,
                Some("ResourceNotFoundException"),
                format!("recovery point {} not found", req.recovery_point_arn),
            ));
        };
        if self.cold_points.contains(&rp.arn) {
            return Err(PortError::new(
                ErrorKind::Permanent,
                OP,
                Some("InvalidRequestException"),
                format!(
                    "Recovery point {} is in cold storage: recovery points in the cold tier cannot be copied",
                    rp.arn
                ),
            ));
        }
        if rp.vault != source_vault
            || source_vault.account != req.account
            || source_vault.region != req.region
        {
            return Err(invalid(format!(
                "recovery point {} is not in vault {} in {}/{}",
                req.recovery_point_arn, req.source_backup_vault_name, req.account, req.region
            )));
        }
        if !self.vaults.contains_key(&dest_vault) {
            return Err(PortError::new(
                ErrorKind::NotFound,
                OP,
                Some("ResourceNotFoundException"),
                format!("backup vault {dest_vault} not found"),
            ));
        }
        if let Some(refusal) = copy_refusal(req, &source_vault, &dest_vault) {
            return Err(refusal);
        }
        if let Some(l) = req.lifecycle {
            let cross_account = source_vault.account != dest_vault.account;
            if cross_account && l.move_to_cold_storage_after_days.is_some() {
                return Err(invalid(
                    "cold storage is not supported for cross-account copies".into(),
                ));
            }
            if l.delete_after_days
                .is_some_and(|d| !(1..=36500).contains(&d))
            {
                return Err(invalid(
                    "DeleteAfterDays cannot be less than 1 or more than 36500".into(),
                ));
            }
        }
        let id = self.rng.uuid();
        let index = self.push_job(SimCopyJob {
            id: id.clone(),
            original: Original::new(rp.resource_arn.clone(), rp.creation_date),
            source_rp: req.recovery_point_arn.clone(),
            source_vault,
            dest_vault,
            resource_arn: rp.resource_arn.clone(),
            iam_role_arn: req.iam_role_arn.clone(),
            lifecycle: req.lifecycle,
            state: JobState::Created,
            created_at: self.now,
            finish_at: None,
            ended_at: None,
            dest_rp: None,
            status_message: None,
            created_by_plan: false,
        });
        if !req.idempotency_token.is_empty() {
            let token_key = (req.account.clone(), req.idempotency_token.clone());
            self.tokens.insert(token_key, (index, self.now));
        }
        self.counters.copy_jobs_started += 1;
        let ev = self.copy_job_event(index);
        self.emit(ev);
        Ok(id)
    }

    /// A start whose token AWS still remembers: that job again ("Retrying a successful request
    /// with the same idempotency token results in a success message with no action taken"), or
    /// a refusal when the request differs. No token (empty) is no idempotency.
    fn copy_replay(&mut self, req: &StartCopyJob) -> Option<PortResult<String>> {
        if req.idempotency_token.is_empty() {
            return None;
        }
        let key = (req.account.clone(), req.idempotency_token.clone());
        let &(i, at) = self.tokens.get(&key)?;
        if at < self.now - self.token_memory {
            return None;
        }
        if let Some(refusal) = token_mismatch(&self.jobs[i], req) {
            return Some(Err(refusal));
        }
        self.counters.copy_job_token_replays += 1;
        Some(Ok(self.jobs[i].id.clone()))
    }

    /// StartCopyJob as the caller sees it: a start (or a token replay) whose answer may be lost.
    fn start_copy_answered(&mut self, req: &StartCopyJob) -> PortResult<String> {
        let answer = self.start_copy(req)?;
        if self.lost_start_answers > 0 {
            self.lost_start_answers -= 1;
            return Err(PortError::new(
                ErrorKind::Retryable,
                "StartCopyJob",
                None,
                "timeout: the request was sent, no answer came",
            ));
        }
        Ok(answer)
    }
}

impl World {
    fn list(&mut self, vault: &VaultArn, query: &ListQuery) -> PortResult<Page<PointView>> {
        const OP: &str = "ListRecoveryPointsByBackupVault";
        self.counters.list_calls += 1;
        self.call_in(&vault.account, OP)?;
        if !self.vaults.contains_key(vault) {
            return Err(PortError::new(
                ErrorKind::NotFound,
                OP,
                Some("ResourceNotFoundException"),
                format!("{vault} not found"),
            ));
        }
        let invalid = || {
            PortError::new(
                ErrorKind::Permanent,
                OP,
                Some("InvalidParameterValueException"),
                "invalid NextToken",
            )
        };
        // The token is the position of the next point: (creation ms, sequence).
        let from = match &query.page_token {
            None => (
                query
                    .created_after
                    .map_or(i64::MIN, |a| a.timestamp_millis()),
                0,
            ),
            Some(t) => {
                let (ms, seq) = t.split_once(':').ok_or_else(invalid)?;
                (
                    ms.parse().map_err(|_| invalid())?,
                    seq.parse().map_err(|_| invalid())?,
                )
            }
        };
        let Some(index) = self.by_vault.get(vault) else {
            return Ok(Page {
                items: Vec::new(),
                next_token: None,
            });
        };
        let size = query.page_size.clamp(1, 1000) as usize;
        let mut items = Vec::new();
        let mut next_token = None;
        for (&(ms, seq), arn) in index.range(from..) {
            if query
                .created_before
                .is_some_and(|b| ms > b.timestamp_millis())
            {
                break;
            }
            if items.len() == size {
                next_token = Some(format!("{ms}:{seq}"));
                break;
            }
            if let Some(rp) = self.recovery_points.get(arn) {
                let after = query.created_after.is_none_or(|a| rp.creation_date > a);
                let before = query.created_before.is_none_or(|b| rp.creation_date < b);
                let resource = query
                    .resource_arn
                    .as_ref()
                    .is_none_or(|r| *r == rp.resource_arn);
                if after && before && resource {
                    items.push(self.view_of(rp));
                }
            }
        }
        Ok(Page { items, next_token })
    }

    fn update_lifecycle(
        &mut self,
        vault: &VaultArn,
        arn: &str,
        lifecycle: &Lifecycle,
    ) -> PortResult<()> {
        const OP: &str = "UpdateRecoveryPointLifecycle";
        self.call_in(&vault.account, OP)?;
        if self.vaults.get(vault).is_some_and(|v| v.lock.is_some()) {
            return Err(PortError::new(ErrorKind::Permanent, OP, Some("InvalidRequestException"),
                "Lifecycle settings cannot be changed for a recovery point in a backup vault with Vault Lock"));
        }
        if let (Some(d), Some(c)) = (
            lifecycle.delete_after_days,
            lifecycle.move_to_cold_storage_after_days,
        ) {
            if d < c + COLD_MIN_DAYS {
                return Err(PortError::new(
                    ErrorKind::Permanent,
                    OP,
                    Some("InvalidParameterValueException"),
                    "DeleteAfterDays must be at least 90 days after MoveToColdStorageAfterDays",
                ));
            }
        }
        let Some(rp) = self
            .recovery_points
            .get_mut(arn)
            .filter(|rp| &rp.vault == vault)
        else {
            return Err(PortError::new(
                ErrorKind::NotFound,
                OP,
                Some("ResourceNotFoundException"),
                format!("{arn} not found"),
            ));
        };
        if self.cold_points.contains(arn)
            && rp.lifecycle.move_to_cold_storage_after_days
                != lifecycle.move_to_cold_storage_after_days
        {
            return Err(PortError::new(
                ErrorKind::Permanent,
                OP,
                Some("InvalidParameterValueException"),
                "The cold storage transition of a recovery point already in cold storage cannot be changed",
            ));
        }
        let before = rp.delete_at;
        rp.lifecycle = *lifecycle;
        rp.delete_at = delete_at(rp.creation_date, lifecycle);
        let extended = match (before, rp.delete_at) {
            (Some(b), Some(a)) => a > b,
            (Some(_), None) => true,
            _ => false,
        };
        if matches!((before, rp.delete_at), (Some(b), Some(a)) if a < b) {
            self.retentions_shortened += 1;
        }
        let arn = rp.arn.clone();
        let changed = rp.clone();
        self.schedule_cold(&changed);
        self.counters.lifecycle_updates += 1;
        if extended {
            self.extended_points.insert(arn);
        }
        Ok(())
    }
}

/// The simulated AWS, shared by the ports. One lock; no port holds it across an await.
pub struct Sim {
    world: Mutex<World>,
}

impl Sim {
    pub fn new(world: World) -> Self {
        Self {
            world: Mutex::new(world),
        }
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        // A panic elsewhere must not hide the world from the report.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Sim {
    /// One conditional update of a hop, as DynamoDB applies it: the rule decides, the change and
    /// the timestamp apply together. The new record when it applied.
    fn update_hop(
        &self,
        hop: &HopKey,
        now: DateTime<Utc>,
        allowed: impl FnOnce(&HopRecord) -> bool,
        change: impl FnOnce(&mut HopRecord),
    ) -> PortResult<Option<HopRecord>> {
        let mut w = self.world();
        w.throttled("UpdateItem")?;
        Ok(match w.ledger.get_mut(hop) {
            Some(r) if allowed(r) => {
                change(r);
                r.updated_at = now;
                Some(r.clone())
            }
            _ => None,
        })
    }
}

impl Clock for Sim {
    fn now(&self) -> DateTime<Utc> {
        self.world().now
    }

    /// Inside a simulation run time passes only by the run's own steps. Outside one (a restore
    /// followed to its end), `time_flows` lets a pause move the clock and the jobs on.
    async fn pause(&self, wait: std::time::Duration) {
        let mut w = self.world();
        if w.time_flows {
            let step = Duration::from_std(wait).unwrap_or(Duration::minutes(1));
            w.now += step;
            w.step_jobs();
            w.step_lifecycles();
            w.step_restores();
        }
    }
}

impl BackupPort for Sim {
    async fn start_copy_job(&self, job: &StartCopyJob) -> PortResult<String> {
        self.world().start_copy_answered(job)
    }

    async fn list_recovery_points(
        &self,
        vault: &VaultArn,
        query: &ListQuery,
    ) -> PortResult<Page<PointView>> {
        self.world().list(vault, query)
    }

    async fn describe_recovery_point(
        &self,
        vault: &VaultArn,
        recovery_point_arn: &str,
    ) -> PortResult<PointView> {
        let mut w = self.world();
        w.call_in(&vault.account, "DescribeRecoveryPoint")?;
        w.recovery_points
            .get(recovery_point_arn)
            .filter(|rp| &rp.vault == vault)
            .map(|rp| w.view_of(rp))
            .ok_or_else(|| {
                PortError::new(
                    ErrorKind::NotFound,
                    "DescribeRecoveryPoint",
                    Some("ResourceNotFoundException"),
                    format!("{recovery_point_arn} not found"),
                )
            })
    }

    async fn update_recovery_point_lifecycle(
        &self,
        vault: &VaultArn,
        recovery_point_arn: &str,
        lifecycle: &Lifecycle,
    ) -> PortResult<()> {
        self.world()
            .update_lifecycle(vault, recovery_point_arn, lifecycle)
    }

    async fn copy_job_status(&self, at: &Location, copy_job_id: &str) -> PortResult<CopyJobStatus> {
        let mut w = self.world();
        w.call_in(&at.account, "DescribeCopyJob")?;
        let found = w.job_by_id.get(copy_job_id).map(|&i| &w.jobs[i]);
        let job = found
            .filter(|j| j.source_vault.location() == *at)
            .ok_or_else(|| {
                PortError::new(
                    ErrorKind::NotFound,
                    "DescribeCopyJob",
                    Some("ResourceNotFoundException"),
                    format!("copy job {copy_job_id} not found"),
                )
            })?;
        Ok(CopyJobStatus {
            state: job_state(job.state).into(),
            status_message: job.status_message.clone(),
            destination_recovery_point_arn: job.dest_rp.clone(),
        })
    }

    async fn find_copy_jobs(
        &self,
        at: &Location,
        query: &CopyJobQuery,
    ) -> PortResult<Vec<CopyJobSummary>> {
        let mut w = self.world();
        w.call_in(&at.account, "ListCopyJobs")?;
        let Ok(dest) = VaultArn::parse(&query.destination_vault_arn) else {
            return Ok(Vec::new());
        };
        let key = (query.resource_arn.clone(), dest);
        Ok(w.jobs_by_hop
            .get(&key)
            .into_iter()
            .flatten()
            .map(|&i| &w.jobs[i])
            .filter(|j| j.source_vault.location() == *at && j.created_at > query.created_after)
            .map(|j| CopyJobSummary {
                copy_job_id: j.id.clone(),
                source_recovery_point_arn: Some(j.source_rp.clone()),
                source_backup_vault_arn: Some(j.source_vault.to_string()),
                destination_recovery_point_arn: j.dest_rp.clone(),
                state: job_state(j.state).to_string(),
            })
            .collect())
    }

    async fn vault_lock(&self, vault: &VaultArn) -> PortResult<Option<VaultLock>> {
        let mut w = self.world();
        w.call_in(&vault.account, "DescribeBackupVault")?;
        match w.vaults.get(vault) {
            Some(v) => Ok(v.lock),
            None => Err(PortError::new(
                ErrorKind::NotFound,
                "DescribeBackupVault",
                Some("ResourceNotFoundException"),
                format!("{vault} not found"),
            )),
        }
    }
}

impl TagPort for Sim {
    async fn resource_tags(&self, resource_arn: &str) -> PortResult<Tags> {
        let mut w = self.world();
        let account = TableArn::parse(resource_arn)
            .map(|t| t.account)
            .unwrap_or_default();
        w.call_in(&account, "ListTagsOfResource")?;
        w.table(resource_arn)
            .map(|t| t.tags.clone())
            .ok_or_else(|| {
                PortError::new(
                    ErrorKind::NotFound,
                    "ListTagsOfResource",
                    Some("ResourceNotFoundException"),
                    format!("{resource_arn} not found"),
                )
            })
    }
}

impl AlertPort for Sim {
    async fn send(&self, alert: &Alert) -> PortResult<()> {
        let mut w = self.world();
        // The `throttle` fault is AWS refusing the work's calls; the alert topic is how that is
        // told, and its own outages are `publish_down_until`.
        w.counted("Publish");
        if w.publish_down_until.is_some_and(|t| w.now < t) {
            return Err(PortError::new(
                ErrorKind::Retryable,
                "Publish",
                Some("InternalError"),
                "SNS is unavailable",
            ));
        }
        w.alerts.push(alert.clone());
        Ok(())
    }
}

impl RouterPorts for Sim {
    type Ledger = Sim;
    fn ledger(&self) -> &Sim {
        self
    }
}

/// The ledger, with the core's rules applied directly (the DynamoDB adapter encodes the same rules).
impl LedgerPort for Sim {
    async fn claim(&self, hop: &HopKey, req: &ClaimRequest) -> PortResult<ClaimOutcome> {
        let mut w = self.world();
        w.throttled("UpdateItem")?;
        let existing = w.ledger.get(hop);
        if ledger::may_claim(existing, req) {
            let record = ledger::claimed(existing, hop, req);
            let previous = w.ledger.insert(hop.clone(), record).map(Box::new);
            Ok(ClaimOutcome::Claimed { previous })
        } else {
            Ok(ClaimOutcome::AlreadyTaken(existing.cloned().map(Box::new)))
        }
    }

    async fn mark_started(
        &self,
        hop: &HopKey,
        attempt: u32,
        job: &StartedJob,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        Ok(self
            .update_hop(
                hop,
                now,
                |r| ledger::may_mark_started(Some(r), attempt),
                |r| {
                    r.state = HopState::Started;
                    r.copy_job_id = Some(job.copy_job_id.clone());
                    r.source_recovery_point_arn = Some(job.source_recovery_point_arn.clone());
                    r.source_vault_arn = Some(job.source_vault_arn.clone());
                    r.tried_sources.insert(ledger::source_entry(
                        &job.source_vault_arn,
                        &job.source_recovery_point_arn,
                    ));
                },
            )?
            .is_some())
    }

    async fn release(
        &self,
        hop: &HopKey,
        attempt: u32,
        reason: &str,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        Ok(self
            .update_hop(
                hop,
                now,
                |r| ledger::may_release(Some(r), attempt),
                |r| {
                    r.state = HopState::Released;
                    r.status_message = Some(reason.to_string());
                },
            )?
            .is_some())
    }

    async fn mark_completed(
        &self,
        hop: &HopKey,
        destination_recovery_point_arn: Option<&str>,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        Ok(self
            .update_hop(
                hop,
                now,
                |r| ledger::may_mark_completed(Some(r)),
                |r| {
                    r.state = HopState::Completed;
                    r.destination_recovery_point_arn =
                        destination_recovery_point_arn.map(str::to_string);
                },
            )?
            .is_some())
    }

    async fn mark_failed(
        &self,
        hop: &HopKey,
        failure: &HopFailure,
        now: DateTime<Utc>,
    ) -> PortResult<Option<HopRecord>> {
        let allowed = |r: &HopRecord| {
            ledger::may_mark_failed(Some(r), failure.copy_job_id.as_deref(), failure.attempt)
        };
        self.update_hop(hop, now, allowed, |r| {
            r.state = HopState::Failed;
            r.failure_class = Some(failure.class);
            r.status_message = Some(failure.message.clone());
        })
    }

    async fn record_skipped(
        &self,
        hop: &HopKey,
        route: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        let mut w = self.world();
        w.throttled("UpdateItem")?;
        if !ledger::may_record_skipped(w.ledger.get(hop)) {
            return Ok(false);
        }
        w.ledger.insert(
            hop.clone(),
            HopRecord {
                key: hop.clone(),
                route: route.to_string(),
                state: HopState::Skipped,
                attempt: 0,
                idempotency_token: None,
                copy_job_id: None,
                claimed_at: None,
                updated_at: now,
                failure_class: None,
                status_message: Some(reason.to_string()),
                destination_recovery_point_arn: None,
                source_recovery_point_arn: None,
                source_vault_arn: None,
                tried_sources: Default::default(),
            },
        );
        Ok(true)
    }

    async fn get(&self, hop: &HopKey) -> PortResult<Option<HopRecord>> {
        let mut w = self.world();
        w.throttled("GetItem")?;
        Ok(w.ledger.get(hop).cloned())
    }

    async fn escalate(
        &self,
        hop: &HopKey,
        attempt: u32,
        _reason: &str, // goes into the alert; the ledger keeps AWS's last message
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        Ok(self
            .update_hop(
                hop,
                now,
                |r| ledger::may_escalate(Some(r), attempt),
                |r| {
                    r.failure_class = Some(relay_core::plan::FailureClass::NeedsPerson);
                },
            )?
            .is_some())
    }

    async fn open_incident(&self, incident: &Incident) -> PortResult<bool> {
        let mut w = self.world();
        w.throttled("PutItem")?;
        if w.incidents.contains_key(&incident.id) {
            return Ok(false);
        }
        w.incidents.insert(incident.id.clone(), incident.clone());
        Ok(true)
    }

    async fn incident_alerted(&self, id: &str, now: DateTime<Utc>) -> PortResult<()> {
        let mut w = self.world();
        w.throttled("UpdateItem")?;
        if let Some(i) = w.incidents.get_mut(id) {
            i.alerted_at = Some(now);
        }
        Ok(())
    }

    async fn open_incidents(&self) -> PortResult<Vec<Incident>> {
        let mut w = self.world();
        w.throttled("Query")?;
        Ok(w.incidents.values().cloned().collect())
    }

    async fn close_incident(&self, id: &str) -> PortResult<()> {
        let mut w = self.world();
        w.throttled("DeleteItem")?;
        w.incidents.remove(id);
        Ok(())
    }

    async fn load_cursor(&self) -> PortResult<Option<String>> {
        let mut w = self.world();
        w.throttled("GetItem")?;
        Ok(w.reconciler_cursor.clone())
    }

    async fn save_cursor(&self, cursor: Option<&str>, _now: DateTime<Utc>) -> PortResult<()> {
        let mut w = self.world();
        w.throttled("UpdateItem")?;
        w.reconciler_cursor = cursor.map(str::to_string);
        Ok(())
    }
}

/// A token already used for another request: AWS keeps a token to one request.
fn token_mismatch(job: &SimCopyJob, req: &StartCopyJob) -> Option<PortError> {
    let same = job.source_rp == req.recovery_point_arn
        && VaultArn::parse(&req.source_backup_vault_arn).ok().as_ref() == Some(&job.source_vault)
        && VaultArn::parse(&req.destination_backup_vault_arn)
            .ok()
            .as_ref()
            == Some(&job.dest_vault)
        && job.iam_role_arn == req.iam_role_arn
        && job.lifecycle == req.lifecycle;
    (!same).then(|| {
        PortError::new(
            ErrorKind::Permanent,
            "StartCopyJob",
            Some("InvalidRequestException"),
            format!(
                "IdempotencyToken {} was already used for another request (copy job {}): a token may be reused only with the same parameters",
                req.idempotency_token, job.id
            ),
        )
    })
}

/// What AWS refuses at once about a copy's vaults and role: a copy into its own vault, and a
/// role that is not in the source vault's account (AWS Backup assumes it there).
fn copy_refusal(req: &StartCopyJob, source: &VaultArn, dest: &VaultArn) -> Option<PortError> {
    let invalid = |m: String| {
        PortError::new(
            ErrorKind::Permanent,
            "StartCopyJob",
            Some("InvalidParameterValueException"),
            m,
        )
    };
    if source == dest {
        return Some(invalid(format!(
            "The source and destination backup vaults are the same ({source}): a recovery point cannot be copied into its own vault"
        )));
    }
    match relay_core::arn::RoleArn::parse(&req.iam_role_arn) {
        Err(e) => Some(invalid(format!("IamRoleArn: {e}"))),
        Ok(role) if role.account != source.account || role.partition != source.partition => {
            Some(invalid(format!(
                "IamRoleArn {} is not a role of the source vault's account {}",
                req.iam_role_arn, source.account
            )))
        }
        Ok(_) => None,
    }
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

/// The (vault, recovery point) an event announces as newly landed, if it is one that starts copies.
fn landing_of(event: &Value) -> Option<(VaultArn, String)> {
    let detail = event.get("detail")?;
    let text = |k: &str| detail.get(k).and_then(Value::as_str);
    let (vault, rp) = match event.get("detail-type")?.as_str()? {
        "Backup Job State Change" if text("state") == Some("COMPLETED") => (
            text("backupVaultArn")?,
            event.get("resources")?.get(0)?.as_str()?,
        ),
        "Copy Job State Change" if text("state") == Some("COMPLETED") => (
            text("destinationBackupVaultArn")?,
            text("destinationRecoveryPointArn")?,
        ),
        _ => return None,
    };
    Some((VaultArn::parse(vault).ok()?, rp.to_string()))
}
