//! SDK adapters implementing the core's ports: AWS Backup (copies and restores), DynamoDB (tags,
//! restored tables and the ledger), SNS, S3 (the reports) and STS through the executor role of
//! each account.

pub mod alerts;
pub mod aws_clock;
pub mod backup;
pub mod backup_inventory;
pub mod errors;
pub mod findings;
pub mod ledger;
pub mod organizations;
pub mod policy_store;
pub mod queue;
pub mod reports;
pub mod restore;
pub mod sessions;
pub mod table_settings;
pub mod tables;
pub mod tags;

use chrono::{DateTime, Utc};
use relay_compliance::inventory::{InventoryPort, PlanFacts, TableFacts, VaultFacts};
use relay_core::arn::{Location, TableArn, VaultArn};
use relay_core::guard::PointView;
use relay_core::plan::{StartCopyJob, Tags};
use relay_core::ports::{
    job_location, Alert, AlertPort, BackupPort, Clock, CopyJobQuery, CopyJobStatus, CopyJobSummary,
    CopyTagPort, ErrorKind, ListQuery, Page, PortError, PortResult, RestoreJobStatus, RestorePort,
    RouterPorts, StartRestore, TableSettings, TableState, TagPort,
};

use errors::in_account;
use findings::SecurityHubApi;
use relay_compliance::change_events::{ChangeDetail, ChangeEventsPort};
use relay_compliance::findings::import::{FailedFinding, FindingsPort};
use relay_compliance::findings::Finding;
use relay_core::retention::{Lifecycle, VaultLock};

pub use alerts::SnsAlerts;
pub use backup::BackupApi;
pub use findings::EventBus;
pub use ledger::DynamoLedger;
pub use organizations::AwsOrganizations;
pub use policy_store::{AwsPolicyStore, S3Address};
pub use queue::SqsQueue;
pub use reports::{S3PartStore, S3ReportStore};
pub use sessions::{session_name, SessionConfig, Sessions};
pub use tables::DynamoApi;

/// The ports over real AWS.
pub struct AwsPorts {
    pub sessions: Sessions,
    pub ledger: DynamoLedger,
    pub alerts: SnsAlerts,
    /// The reconciler's pieces queue (`PIECES_QUEUE_URL`), where it has one.
    pub pieces: Option<SqsQueue>,
    /// The hub's event bus for compliance changes (the compliance-report function's
    /// `EVENT_BUS_NAME`), where it has one.
    pub change_events: Option<EventBus>,
    /// The sessions Security Hub's imports go through (the spoke's findings role, the
    /// compliance-report function's `FINDINGS_ROLE_NAME`); `None`: `sessions`'.
    pub findings_sessions: Option<Sessions>,
}

/// Security Hub in the table's own account and Region, through its executor role: Security Hub
/// takes findings only from the account they name.
impl FindingsPort for AwsPorts {
    async fn import_findings(
        &self,
        at: &Location,
        findings: &[Finding],
    ) -> PortResult<Vec<FailedFinding>> {
        let sessions = self.findings_sessions.as_ref().unwrap_or(&self.sessions);
        SecurityHubApi::new(sessions.securityhub(at).await)
            .import(findings)
            .await
            .map_err(|e| in_account(&at.account, e))
    }
}

impl ChangeEventsPort for AwsPorts {
    async fn put_change_events(&self, details: &[ChangeDetail]) -> PortResult<Vec<usize>> {
        match &self.change_events {
            Some(bus) => bus.put(details).await,
            None => Err(PortError::new(
                ErrorKind::Permanent,
                "PutEvents",
                None,
                "no event bus is configured (EVENT_BUS_NAME)",
            )),
        }
    }
}

impl relay_core::ports::PieceQueue for AwsPorts {
    async fn send_pieces(&self, messages: &[String]) -> PortResult<()> {
        match &self.pieces {
            Some(queue) => queue.send_pieces(messages).await,
            None => Err(PortError::new(
                ErrorKind::Permanent,
                "SendMessageBatch",
                None,
                "no pieces queue is configured (PIECES_QUEUE_URL)",
            )),
        }
    }
}

/// In the vault's own account, through its executor role: AWS refuses tagging across accounts.
impl CopyTagPort for AwsPorts {
    async fn recovery_point_tags(&self, vault: &VaultArn, arn: &str) -> PortResult<Tags> {
        self.backup_in(&vault.location())
            .await
            .recovery_point_tags(arn)
            .await
            .map_err(|e| in_account(&vault.account, e))
    }

    async fn tag_recovery_point(&self, vault: &VaultArn, arn: &str, tags: &Tags) -> PortResult<()> {
        self.backup_in(&vault.location())
            .await
            .tag_recovery_point(arn, tags)
            .await
            .map_err(|e| in_account(&vault.account, e))
    }
}

impl BackupPort for AwsPorts {
    async fn start_copy_job(&self, job: &StartCopyJob) -> PortResult<String> {
        BackupApi::new(self.sessions.backup(&job_location(job)).await)
            .start_copy_job(job)
            .await
            .map_err(|e| in_account(&job.account, e))
    }

    async fn vault_lock(&self, vault: &VaultArn) -> PortResult<Option<VaultLock>> {
        BackupApi::new(self.sessions.backup(&vault.location()).await)
            .vault_lock(&vault.name)
            .await
            .map_err(|e| in_account(&vault.account, e))
    }

    async fn list_recovery_points(
        &self,
        vault: &VaultArn,
        query: &ListQuery,
    ) -> PortResult<Page<PointView>> {
        self.backup_in(&vault.location())
            .await
            .list_recovery_points(vault, query)
            .await
            .map_err(|e| in_account(&vault.account, e))
    }

    async fn describe_recovery_point(&self, vault: &VaultArn, arn: &str) -> PortResult<PointView> {
        self.backup_in(&vault.location())
            .await
            .describe_recovery_point(vault, arn)
            .await
            .map_err(|e| in_account(&vault.account, e))
    }

    async fn update_recovery_point_lifecycle(
        &self,
        vault: &VaultArn,
        arn: &str,
        lifecycle: &Lifecycle,
    ) -> PortResult<()> {
        self.backup_in(&vault.location())
            .await
            .update_recovery_point_lifecycle(vault, arn, lifecycle)
            .await
            .map_err(|e| in_account(&vault.account, e))
    }

    async fn copy_job_status(&self, at: &Location, copy_job_id: &str) -> PortResult<CopyJobStatus> {
        self.backup_in(at)
            .await
            .copy_job_status(copy_job_id)
            .await
            .map_err(|e| in_account(&at.account, e))
    }

    async fn find_copy_jobs(
        &self,
        at: &Location,
        query: &CopyJobQuery,
    ) -> PortResult<Vec<CopyJobSummary>> {
        self.backup_in(at)
            .await
            .find_copy_jobs(query)
            .await
            .map_err(|e| in_account(&at.account, e))
    }
}

/// Restores and their tables, each call in its account and Region through the executor role.
impl RestorePort for AwsPorts {
    async fn start_restore_job(&self, req: &StartRestore) -> PortResult<String> {
        let at = Location {
            partition: req.partition.clone(),
            account: req.account.clone(),
            region: req.region.clone(),
        };
        self.backup_in(&at)
            .await
            .start_restore_job(req)
            .await
            .map_err(|e| in_account(&req.account, e))
    }

    async fn restore_job_status(
        &self,
        at: &Location,
        job_id: &str,
    ) -> PortResult<RestoreJobStatus> {
        self.backup_in(at)
            .await
            .restore_job_status(job_id)
            .await
            .map_err(|e| in_account(&at.account, e))
    }

    async fn table_state(&self, at: &Location, name: &str) -> PortResult<Option<TableState>> {
        DynamoApi::new(self.sessions.dynamodb(at).await)
            .table_state(at, name)
            .await
            .map_err(|e| in_account(&at.account, e))
    }

    async fn delete_table(&self, at: &Location, name: &str) -> PortResult<()> {
        DynamoApi::new(self.sessions.dynamodb(at).await)
            .delete_table(name)
            .await
            .map_err(|e| in_account(&at.account, e))
    }

    async fn table_settings(&self, at: &Location, name: &str) -> PortResult<Option<TableSettings>> {
        DynamoApi::new(self.sessions.dynamodb(at).await)
            .table_settings(at, name)
            .await
            .map_err(|e| in_account(&at.account, e))
    }

    async fn apply_table_settings(
        &self,
        at: &Location,
        name: &str,
        settings: &TableSettings,
    ) -> PortResult<()> {
        DynamoApi::new(self.sessions.dynamodb(at).await)
            .apply_table_settings(at, name, settings)
            .await
            .map_err(|e| in_account(&at.account, e))
    }
}

impl TagPort for AwsPorts {
    async fn resource_tags(&self, resource_arn: &str) -> PortResult<Tags> {
        let table = TableArn::parse(resource_arn).map_err(|e| {
            PortError::new(
                ErrorKind::NotFound,
                "ListTagsOfResource",
                None,
                format!("only DynamoDB tables are supported: {e}"),
            )
        })?;
        let client = self.sessions.dynamodb(&table.location()).await;
        tags::table_tags(&client, resource_arn)
            .await
            .map_err(|e| in_account(&table.account, e))
    }
}

impl AwsPorts {
    async fn backup_in(&self, at: &Location) -> BackupApi {
        BackupApi::new(self.sessions.backup(at).await)
    }
}

/// The compliance inventory's reads, each in its account and Region through the executor role.
impl InventoryPort for AwsPorts {
    async fn tables(&self, at: &Location) -> PortResult<Vec<TableFacts>> {
        DynamoApi::new(self.sessions.dynamodb(at).await)
            .tables(at)
            .await
            .map_err(|e| in_account(&at.account, e))
    }

    async fn advanced_features(&self, at: &Location) -> PortResult<Option<bool>> {
        self.backup_in(at)
            .await
            .advanced_features()
            .await
            .map_err(|e| in_account(&at.account, e))
    }

    async fn vaults(&self, at: &Location) -> PortResult<Vec<VaultFacts>> {
        self.backup_in(at)
            .await
            .vault_facts(at)
            .await
            .map_err(|e| in_account(&at.account, e))
    }

    async fn backup_plans(&self, at: &Location) -> PortResult<Vec<PlanFacts>> {
        self.backup_in(at)
            .await
            .plan_facts(at)
            .await
            .map_err(|e| in_account(&at.account, e))
    }
}

impl RouterPorts for AwsPorts {
    type Ledger = DynamoLedger;
    fn ledger(&self) -> &DynamoLedger {
        &self.ledger
    }
}

impl AlertPort for AwsPorts {
    async fn send(&self, alert: &Alert) -> PortResult<()> {
        self.alerts.send(alert).await
    }
}

impl Clock for AwsPorts {
    /// AWS Backup's time (see `aws_clock`): the real time, against AWS.
    fn now(&self) -> DateTime<Utc> {
        self.sessions.clock().now()
    }

    async fn pause(&self, wait: std::time::Duration) {
        tokio::time::sleep(wait).await
    }

    /// Equal jitter: half the wait, plus up to as much again at random.
    fn jitter(&self, wait: std::time::Duration) -> std::time::Duration {
        let half = wait / 2;
        half + half.mul_f64(fastrand::f64())
    }
}
