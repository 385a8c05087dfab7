//! AWS Backup in one account and Region.

use aws_sdk_backup::types::Lifecycle as SdkLifecycle;
use relay_core::plan::StartCopyJob;
use relay_core::ports::{ErrorKind, PortError, PortResult};
use relay_core::retention::VaultLock;

use crate::errors::classify;

pub struct BackupApi {
    client: aws_sdk_backup::Client,
}

impl BackupApi {
    pub fn new(client: aws_sdk_backup::Client) -> Self {
        Self { client }
    }

    pub async fn start_copy_job(&self, job: &StartCopyJob) -> PortResult<String> {
        let lifecycle = job.lifecycle.map(|l| {
            SdkLifecycle::builder()
                .set_delete_after_days(l.delete_after_days.map(i64::from))
                .set_move_to_cold_storage_after_days(
                    l.move_to_cold_storage_after_days.map(i64::from),
                )
                .build()
        });
        let out = self
            .client
            .start_copy_job()
            .recovery_point_arn(&job.recovery_point_arn)
            .source_backup_vault_name(&job.source_backup_vault_name)
            .destination_backup_vault_arn(&job.destination_backup_vault_arn)
            .iam_role_arn(&job.iam_role_arn)
            .idempotency_token(&job.idempotency_token)
            .set_lifecycle(lifecycle)
            .send()
            .await
            .map_err(|e| classify("StartCopyJob", &e))?;
        out.copy_job_id.ok_or_else(|| {
            PortError::new(
                ErrorKind::Retryable,
                "StartCopyJob",
                None,
                "response had no CopyJobId",
            )
        })
    }

    /// The vault's lock bounds; `None` when the vault has no lock.
    pub async fn vault_lock(&self, vault_name: &str) -> PortResult<Option<VaultLock>> {
        let out = self
            .client
            .describe_backup_vault()
            .backup_vault_name(vault_name)
            .send()
            .await
            .map_err(|e| classify("DescribeBackupVault", &e))?;
        let days = |d: Option<i64>| d.and_then(|d| u32::try_from(d).ok());
        let lock = VaultLock {
            min_retention_days: days(out.min_retention_days),
            max_retention_days: days(out.max_retention_days),
        };
        Ok((out.locked == Some(true) || lock != VaultLock::default()).then_some(lock))
    }
}
