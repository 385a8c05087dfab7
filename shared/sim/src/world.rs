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
    Alert, AlertPort, BackupPort, Clock, CopyJobQuery, CopyJobStatus, CopyJobSummary, CopyTagPort,
    ErrorKind, HopFailure, Incident, LedgerPort, ListQuery, OrganizationsPort, Page, PieceQueue,
    PortError, PortResult, RouterPorts, StartedJob, TagPort,
};
use relay_core::retention::{delete_at, Lifecycle, VaultLock, COLD_MIN_DAYS};
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::{json, Value};

use crate::rng::Rng;

mod events;
mod held;
mod hops;
mod jobs;
pub mod latency;
mod model;
mod points;
mod ports;
pub mod rates;
pub mod security_hub;
mod tags;

pub use events::{Delivery, Target};
pub use held::{Held, Tier};
pub use model::*;
pub(crate) use ports::in_flight_together;

pub struct World {
    pub now: DateTime<Utc>,
    pub rng: Rng,
    pub faults: Faults,
    pub organization: BTreeSet<String>,
    /// What AWS Organizations answers: the ACTIVE accounts and the OU tree, today.
    pub org_tree: relay_core::policy::OrgTree,
    pub vaults: BTreeMap<VaultArn, SimVault>,
    /// Its tables (set them with [`World::set_tables`], which indexes them by ARN).
    pub tables: Vec<SimTable>,
    /// Table ARN -> index in `tables`: lookups by ARN at 10,000 tables.
    table_index: FxHashMap<String, usize>,
    /// A copied point -> its vault's ARN: the SourceBackupVaultArn of its copies, written once
    /// (read as each copy is inserted, so a copy that lands after its source is gone names it).
    source_vaults: FxHashMap<String, String>,
    /// Every point held, by ARN, in no order: a vault's listing order is `by_vault`'s, and
    /// [`World::points_by_arn`] gives them in ARN order.
    pub recovery_points: FxHashMap<String, SimRecoveryPoint>,
    /// The ARNs of DynamoDB's own backups held (`TABLE_ARN/backup/...`), ordered, so a table's
    /// are a range (ListBackups).
    native_points: BTreeSet<String>,
    /// Recovery points per vault by (creation date in ms, sequence): the listing order, so a
    /// creation-date window is a range and a page token is a position.
    by_vault: BTreeMap<VaultArn, BTreeMap<(i64, u64), String>>,
    /// The same listing per (vault, resource): AWS's ByResourceArn filter, at organisation scale.
    by_resource: FxHashMap<(VaultArn, String), BTreeMap<(i64, u64), String>>,
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
    pub restore_jobs: Vec<SimRestoreJob>,
    pub restore_tokens: HashMap<(String, String), usize>,
    /// A pause moves the clock (outside a simulation run: see `Clock for Sim`).
    pub time_flows: bool,
    /// The backup plans, as ListBackupPlans and GetBackupPlan describe them.
    pub backup_plans: Vec<relay_compliance::inventory::PlanFacts>,
    /// Events lost on the bus that would have started copies: (vault, recovery point).
    pub lost_landings: Vec<(VaultArn, String)>,
    /// Points whose delete date UpdateRecoveryPointLifecycle moved later.
    pub extended_points: BTreeSet<String>,
    /// The reconciler's cursors, by piece ("": the whole-policy run).
    pub reconciler_cursors: BTreeMap<String, String>,
    /// Reconciler pieces held: (holder, until).
    pub reconciler_leases: BTreeMap<String, (String, DateTime<Utc>)>,
    /// AWS Backup's concurrent copy jobs from one account into one destination Region (facts
    /// §7: 100, adjustable on request): past it a copy job waits in CREATED.
    pub copy_concurrency: u64,
    /// Messages sent to the reconciler's pieces queue, not yet received.
    pub queued_pieces: Vec<String>,
    /// Idempotency tokens per account, with when they were used.
    tokens: HashMap<(String, String), (usize, DateTime<Utc>)>,
    /// Copy jobs to fail on purpose, per destination vault: (count left, status message).
    forced_failures: BTreeMap<VaultArn, (u32, String)>,
    pub ledger: BTreeMap<HopKey, HopRecord>,
    pub incidents: BTreeMap<String, Incident>,
    /// Incidents about copies into a vault, as they were closed: (the vault's ARN, when). What
    /// failed into the vault after its incident closed needed an alert of its own.
    pub vault_incidents_closed: Vec<(String, DateTime<Utc>)>,
    /// Accounts whose unreachable-account incident the ledger marked alerted (by its own alert,
    /// or by the one for many accounts), open or closed since.
    pub unreachable_marked: BTreeSet<String>,
    /// How long idempotency tokens are remembered.
    pub token_memory: Duration,
    /// The next this many StartCopyJob calls start their job but the answer is lost (a time-out
    /// after the request reached AWS).
    pub lost_start_answers: u32,
    /// TagResource calls still to be applied with their answer lost (a test's fault).
    pub lost_tag_answers: u32,
    /// Accounts that refuse TagResource on recovery points (an SCP, a role without it).
    pub tagging_refused: BTreeSet<String>,
    /// Accounts whose ListTags AWS refuses (an SCP): the report cannot judge their copies' tags.
    pub tag_reads_refused: BTreeSet<String>,
    /// Recovery points that moved to the cold tier (they cannot be copied).
    pub cold_points: FxHashSet<String>,
    /// Tags on recovery points (ListTags, TagResource), by point ARN: none for most.
    pub point_tags: FxHashMap<String, Tags>,
    /// When points are due in the cold tier, by their lifecycle: (time, sequence) -> point.
    cold_due: BTreeMap<(DateTime<Utc>, u64), String>,
    /// GB held per vault and tier over time, points due to expire, and those that did.
    pub held: Held,
    /// Copy jobs into these vaults start and never finish (stuck at AWS).
    pub stalled_into: BTreeSet<VaultArn>,
    /// Publishing alerts fails (as a transient error) until this time.
    pub publish_down_until: Option<DateTime<Utc>>,
    /// Lifecycle updates that moved a delete date earlier: must stay 0.
    pub retentions_shortened: u64,
    /// Alerts really published (the alert topic's side).
    pub alerts: Vec<Alert>,
    /// Security Hub in every account and Region, and the events put on the hub's bus.
    pub security_hub: security_hub::SecurityHub,
    pub change_events: Vec<relay_compliance::change_events::ChangeDetail>,
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
    /// Simulated time spent in calls since the world began (the scale model): the functions'
    /// monotonic clock (`Clock::instant`) moves by it.
    pub spent: std::time::Duration,
    /// Accounts the current invocation holds a session in (one AssumeRole each).
    pub sessions: HashSet<String>,
    instant_base: std::time::Instant,
    /// Calls into each account and Region per operation, for the scale model's rate floor: the
    /// simulation takes it at the start and end of each phase it times.
    pub rate_tally: rates::RateTally,
}

impl World {
    /// Pages a listing of every vault in these account-Regions needs at least: one per 1,000
    /// points of each vault (an empty vault is one page).
    pub fn list_floor(&self, at: &[Location]) -> u64 {
        self.vaults
            .keys()
            .filter(|v| {
                at.iter()
                    .any(|l| l.account == v.account && l.region == v.region)
            })
            .map(|v| {
                let points = self.by_vault.get(v).map_or(0, |p| p.len() as u64);
                points.div_ceil(1000).max(1)
            })
            .sum()
    }

    pub fn new(start: DateTime<Utc>, seed: u64, faults: Faults) -> Self {
        Self {
            now: start,
            rng: Rng::new(seed),
            faults,
            organization: BTreeSet::new(),
            org_tree: relay_core::policy::OrgTree::default(),
            vaults: BTreeMap::new(),
            tables: Vec::new(),
            table_index: FxHashMap::default(),
            source_vaults: FxHashMap::default(),
            recovery_points: FxHashMap::default(),
            native_points: BTreeSet::new(),
            by_vault: BTreeMap::new(),
            by_resource: FxHashMap::default(),
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
            reconciler_cursors: BTreeMap::new(),
            reconciler_leases: BTreeMap::new(),
            copy_concurrency: 100,
            queued_pieces: Vec::new(),
            tokens: HashMap::new(),
            forced_failures: BTreeMap::new(),
            ledger: BTreeMap::new(),
            incidents: BTreeMap::new(),
            vault_incidents_closed: Vec::new(),
            unreachable_marked: BTreeSet::new(),
            token_memory: Duration::hours(TOKEN_MEMORY_HOURS),
            lost_start_answers: 0,
            lost_tag_answers: 0,
            tagging_refused: BTreeSet::new(),
            tag_reads_refused: BTreeSet::new(),
            stalled_into: BTreeSet::new(),
            cold_points: FxHashSet::default(),
            point_tags: FxHashMap::default(),
            cold_due: BTreeMap::new(),
            security_hub: Default::default(),
            change_events: Vec::new(),
            held: Held::default(),
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
            spent: std::time::Duration::ZERO,
            sessions: HashSet::new(),
            instant_base: std::time::Instant::now(),
            rate_tally: rates::RateTally::default(),
        }
    }

    /// A vault whose access policy allows the whole organisation (aws:PrincipalOrgID), as the
    /// spoke stack sets it; its account becomes a member.
    pub fn add_vault(&mut self, arn: VaultArn) {
        self.organization.insert(arn.account.clone());
        self.vaults.insert(
            arn.clone(),
            SimVault {
                arn,
                lock: None,
                allow_copy_from: None,
                kms_shared_with: None,
                deny_manual_deletion: false,
                created: self.now,
            },
        );
    }

    /// The accounts `vault`'s access policy lets copy in.
    pub fn copy_admits(&self, vault: &SimVault) -> BTreeSet<String> {
        vault
            .allow_copy_from
            .clone()
            .unwrap_or_else(|| self.organization.clone())
    }

    /// Take `account` out of `vault`'s access policy (a person narrowing it).
    pub fn deny_copies_from(&mut self, vault: &VaultArn, account: &str) {
        let org = self.organization.clone();
        if let Some(v) = self.vaults.get_mut(vault) {
            v.allow_copy_from.get_or_insert(org).remove(account);
        }
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

    /// Was this alert really published (on the alert topic)?
    pub fn published(&self, alert: &Alert) -> bool {
        self.alerts
            .iter()
            .any(|a| a.subject == alert.subject && a.message == alert.message)
    }

    /// An incident marked alerted: an unreachable account is covered once the alert for many
    /// such accounts went out (its own alert, if any, is counted from the topic already); that
    /// alert going out covers every member marked before it.
    pub(crate) fn mark_unreachable_covered(&mut self, id: &str) {
        let family = format!("{}account", relay_core::incident::FAMILY_PREFIX);
        if id != family && !id.starts_with("account#") {
            return;
        }
        let family_out = self
            .incidents
            .get(&family)
            .is_some_and(|f| f.alerted_at.is_some() && self.published(&f.alert));
        if !family_out {
            return;
        }
        let marked = self
            .incidents
            .values()
            .filter(|i| i.alerted_at.is_some())
            .filter_map(|i| i.id.strip_prefix("account#"))
            .map(str::to_string)
            .collect::<Vec<_>>();
        self.unreachable_marked.extend(marked);
    }

    /// The table with this ARN: from the index, else (a list changed without reindexing) a scan.
    /// A table that is not there (deleted, never made) is not scanned for while the index covers
    /// the list: its points are listed every pass, and 100,000 tables made each a long walk.
    pub fn table(&self, arn: &str) -> Option<&SimTable> {
        let indexed = self
            .table_index
            .get(arn)
            .and_then(|&i| self.tables.get(i))
            .filter(|t| t.arn.is(arn));
        let stale = self.table_index.len() != self.tables.len();
        indexed.or_else(|| {
            stale
                .then(|| self.tables.iter().find(|t| t.arn.is(arn)))
                .flatten()
        })
    }

    pub fn vault_mut(&mut self, arn: &VaultArn) -> Option<&mut SimVault> {
        self.vaults.get_mut(arn)
    }

    /// The next `count` copy jobs into `vault` fail with `message`.
    pub fn force_copy_failures(&mut self, vault: &VaultArn, count: u32, message: &str) {
        self.forced_failures
            .insert(vault.clone(), (count, message.to_string()));
    }

    /// A call into `account`: refused when AssumeRole into it is denied, else maybe throttled.
    /// Public for `relay emulate`, which answers some calls from the world's state directly.
    pub fn call_in(
        &mut self,
        account: &str,
        region: &str,
        operation: &'static str,
    ) -> PortResult<()> {
        self.rate_tally.record(account, region, operation);
        if self.unavailable.contains(operation) {
            self.counted(operation);
            return Err(PortError::new(
                ErrorKind::Retryable,
                operation,
                Some("ServiceUnavailableException"),
                "The service is unavailable. Please try again later.",
            ));
        }
        if self.sessions.insert(account.to_string()) {
            self.spent += latency::latency("AssumeRole");
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

    /// The functions' monotonic clock: it moves by the time calls take, not by the host's.
    pub fn instant(&self) -> std::time::Instant {
        self.instant_base + self.spent
    }

    /// A call counted, never throttled; its time spent.
    pub(crate) fn counted(&mut self, operation: &'static str) {
        self.spent += latency::latency(operation);
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
