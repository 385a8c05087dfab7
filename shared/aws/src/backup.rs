//! AWS Backup in one account and Region.

use aws_sdk_backup::operation::describe_recovery_point::DescribeRecoveryPointOutput;
use aws_sdk_backup::primitives::DateTime as SdkDateTime;
use aws_sdk_backup::types::{
    CalculatedLifecycle, Lifecycle as SdkLifecycle, RecoveryPointByBackupVault,
    RecoveryPointStatus, StorageClass,
};
use chrono::{DateTime, Utc};
use relay_core::arn::VaultArn;
use relay_core::guard::PointView;
use relay_core::plan::StartCopyJob;
use relay_core::ports::{
    CopyJobQuery, CopyJobStatus, CopyJobSummary, ErrorKind, ListQuery, Page, PortError, PortResult,
};
use relay_core::retention::{Lifecycle, VaultLock};

use crate::errors::classify;

pub struct BackupApi {
    pub(crate) client: aws_sdk_backup::Client,
}

impl BackupApi {
    pub fn new(client: aws_sdk_backup::Client) -> Self {
        Self { client }
    }

    pub async fn start_copy_job(&self, job: &StartCopyJob) -> PortResult<String> {
        let lifecycle = job.lifecycle.as_ref().map(sdk_lifecycle);
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
        Ok(lock_of(
            out.locked,
            out.min_retention_days,
            out.max_retention_days,
        ))
    }
}

/// A vault's lock from DescribeBackupVault's or ListBackupVaults' fields; `None` when unlocked.
pub(crate) fn lock_of(
    locked: Option<bool>,
    min: Option<i64>,
    max: Option<i64>,
) -> Option<VaultLock> {
    let days = |d: Option<i64>| d.and_then(|d| u32::try_from(d).ok());
    let lock = VaultLock {
        min_retention_days: days(min),
        max_retention_days: days(max),
    };
    (locked == Some(true) || lock != VaultLock::default()).then_some(lock)
}

fn sdk_lifecycle(l: &Lifecycle) -> SdkLifecycle {
    SdkLifecycle::builder()
        .set_delete_after_days(l.delete_after_days.map(i64::from))
        .set_move_to_cold_storage_after_days(l.move_to_cold_storage_after_days.map(i64::from))
        .build()
}

fn lifecycle_of(l: Option<&SdkLifecycle>) -> Lifecycle {
    let days = |d: Option<i64>| d.and_then(|d| u32::try_from(d).ok());
    Lifecycle {
        delete_after_days: l.and_then(|l| days(l.delete_after_days())),
        move_to_cold_storage_after_days: l.and_then(|l| days(l.move_to_cold_storage_after_days())),
    }
}

pub(crate) fn chrono_of(d: &SdkDateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(d.secs(), d.subsec_nanos())
}

/// What a recovery point's view is read from: an item of a listing or a description alike.
trait PointFields {
    fn point_arn(&self) -> Option<&str>;
    fn point_resource_arn(&self) -> Option<&str>;
    fn point_resource_type(&self) -> Option<&str>;
    fn point_status(&self) -> Option<&RecoveryPointStatus>;
    fn point_creation(&self) -> Option<&SdkDateTime>;
    fn point_completion(&self) -> Option<&SdkDateTime>;
    fn point_lifecycle(&self) -> Option<&SdkLifecycle>;
    fn point_calculated(&self) -> Option<&CalculatedLifecycle>;
    /// A listing does not say (`None`); a description does.
    fn point_storage(&self) -> Option<&StorageClass>;
    fn point_encrypted(&self) -> bool;
    fn point_source_vault_arn(&self) -> Option<&str>;
    fn point_size(&self) -> Option<i64>;
}

/// The accessors both SDK shapes share, by the same names.
macro_rules! point_fields {
    ($shape:ty, |$p:ident| $storage:expr) => {
        impl PointFields for $shape {
            fn point_arn(&self) -> Option<&str> {
                self.recovery_point_arn()
            }
            fn point_resource_arn(&self) -> Option<&str> {
                self.resource_arn()
            }
            fn point_size(&self) -> Option<i64> {
                self.backup_size_in_bytes()
            }
            fn point_resource_type(&self) -> Option<&str> {
                self.resource_type()
            }
            fn point_status(&self) -> Option<&RecoveryPointStatus> {
                self.status()
            }
            fn point_creation(&self) -> Option<&SdkDateTime> {
                self.creation_date()
            }
            fn point_completion(&self) -> Option<&SdkDateTime> {
                self.completion_date()
            }
            fn point_lifecycle(&self) -> Option<&SdkLifecycle> {
                self.lifecycle()
            }
            fn point_calculated(&self) -> Option<&CalculatedLifecycle> {
                self.calculated_lifecycle()
            }
            fn point_storage(&self) -> Option<&StorageClass> {
                let $p = self;
                $storage
            }
            fn point_encrypted(&self) -> bool {
                self.is_encrypted()
            }
            fn point_source_vault_arn(&self) -> Option<&str> {
                self.source_backup_vault_arn()
            }
        }
    };
}

point_fields!(RecoveryPointByBackupVault, |_p| None);
point_fields!(DescribeRecoveryPointOutput, |p| p.storage_class());

/// The fields the guard and the reconciler read; `None` without an ARN or a creation date.
fn point_view(vault: &VaultArn, p: &impl PointFields) -> Option<PointView> {
    Some(PointView {
        recovery_point_arn: p.point_arn()?.to_string(),
        vault: vault.clone(),
        resource_arn: p.point_resource_arn().map(str::to_string),
        resource_type: p.point_resource_type().map(str::to_string),
        status: p.point_status().map(|s| s.as_str().to_string()),
        creation_date: p.point_creation().and_then(chrono_of)?,
        completion_date: p.point_completion().and_then(chrono_of),
        lifecycle: lifecycle_of(p.point_lifecycle()),
        delete_at: p
            .point_calculated()
            .and_then(|c| c.delete_at())
            .and_then(chrono_of),
        storage_class: p.point_storage().map(|s| s.as_str().to_string()),
        encrypted: Some(p.point_encrypted()),
        source_vault_arn: p.point_source_vault_arn().map(str::to_string),
        tags: None,
        backup_size_bytes: p.point_size().and_then(|b| u64::try_from(b).ok()),
    })
}

impl BackupApi {
    /// One page of ListRecoveryPointsByBackupVault, DynamoDB only.
    pub async fn list_recovery_points(
        &self,
        vault: &VaultArn,
        query: &ListQuery,
    ) -> PortResult<Page<PointView>> {
        let out = self
            .client
            .list_recovery_points_by_backup_vault()
            .backup_vault_name(&vault.name)
            .by_resource_type("DynamoDB")
            .set_by_resource_arn(query.resource_arn.clone())
            .set_by_created_after(
                query
                    .created_after
                    .map(|t| SdkDateTime::from_secs(t.timestamp())),
            )
            .set_by_created_before(
                query
                    .created_before
                    .map(|t| SdkDateTime::from_secs(t.timestamp())),
            )
            .max_results(i32::try_from(query.page_size.clamp(1, 1000)).unwrap_or(1000))
            .set_next_token(query.page_token.clone())
            .send()
            .await
            .map_err(|e| classify("ListRecoveryPointsByBackupVault", &e))?;
        let items = out
            .recovery_points()
            .iter()
            .filter_map(|p| point_view(vault, p))
            .collect();
        Ok(Page {
            items,
            next_token: out.next_token.filter(|t| !t.is_empty()),
        })
    }

    pub async fn describe_recovery_point(
        &self,
        vault: &VaultArn,
        arn: &str,
    ) -> PortResult<PointView> {
        let p = self
            .client
            .describe_recovery_point()
            .backup_vault_name(&vault.name)
            .recovery_point_arn(arn)
            .send()
            .await
            .map_err(|e| classify("DescribeRecoveryPoint", &e))?;
        point_view(vault, &p).ok_or_else(|| {
            PortError::new(
                ErrorKind::Retryable,
                "DescribeRecoveryPoint",
                None,
                "response lacked the ARN or creation date",
            )
        })
    }

    /// ListTags, every page.
    pub async fn recovery_point_tags(&self, arn: &str) -> PortResult<relay_core::plan::Tags> {
        let mut tags = relay_core::plan::Tags::new();
        let mut next: Option<String> = None;
        loop {
            let out = self
                .client
                .list_tags()
                .resource_arn(arn)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| classify("ListTags", &e))?;
            tags.extend(out.tags.unwrap_or_default());
            match out.next_token {
                Some(token) if !token.is_empty() => next = Some(token),
                _ => return Ok(tags),
            }
        }
    }

    /// TagResource. Its LimitExceededException is the 50-tag limit, not a rate: retrying cannot
    /// help, so it is permanent here (elsewhere it means "slow down").
    pub async fn tag_recovery_point(
        &self,
        arn: &str,
        tags: &relay_core::plan::Tags,
    ) -> PortResult<()> {
        self.client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(
                tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            ))
            .send()
            .await
            .map_err(|e| {
                let mut err = classify("TagResource", &e);
                if err.code.as_deref() == Some("LimitExceededException") {
                    err.kind = ErrorKind::Permanent;
                }
                err
            })?;
        Ok(())
    }

    /// Both lifecycle fields are sent: omitting one may null it.
    pub async fn update_recovery_point_lifecycle(
        &self,
        vault: &VaultArn,
        arn: &str,
        lifecycle: &Lifecycle,
    ) -> PortResult<()> {
        self.client
            .update_recovery_point_lifecycle()
            .backup_vault_name(&vault.name)
            .recovery_point_arn(arn)
            .lifecycle(sdk_lifecycle(lifecycle))
            .send()
            .await
            .map_err(|e| classify("UpdateRecoveryPointLifecycle", &e))?;
        Ok(())
    }

    pub async fn copy_job_status(&self, copy_job_id: &str) -> PortResult<CopyJobStatus> {
        let out = self
            .client
            .describe_copy_job()
            .copy_job_id(copy_job_id)
            .send()
            .await
            .map_err(|e| classify("DescribeCopyJob", &e))?;
        let job = out.copy_job().ok_or_else(|| {
            PortError::new(
                ErrorKind::NotFound,
                "DescribeCopyJob",
                None,
                format!("no copy job {copy_job_id}"),
            )
        })?;
        Ok(CopyJobStatus {
            state: job
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            status_message: job.status_message().map(str::to_string),
            destination_recovery_point_arn: job
                .destination_recovery_point_arn()
                .map(str::to_string),
        })
    }

    /// ListCopyJobs of one resource into one vault since a time, every page (at most 1000 a page).
    pub async fn find_copy_jobs(&self, query: &CopyJobQuery) -> PortResult<Vec<CopyJobSummary>> {
        let jobs: Vec<aws_sdk_backup::types::CopyJob> = self
            .client
            .list_copy_jobs()
            .by_resource_arn(&query.resource_arn)
            .by_destination_vault_arn(&query.destination_vault_arn)
            .by_created_after(SdkDateTime::from_millis(
                query.created_after.timestamp_millis(),
            ))
            .max_results(1000)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify("ListCopyJobs", &e))?;
        Ok(jobs
            .iter()
            .filter_map(|j| {
                Some(CopyJobSummary {
                    copy_job_id: j.copy_job_id()?.to_string(),
                    source_recovery_point_arn: j.source_recovery_point_arn().map(str::to_string),
                    source_backup_vault_arn: j.source_backup_vault_arn().map(str::to_string),
                    destination_recovery_point_arn: j
                        .destination_recovery_point_arn()
                        .map(str::to_string),
                    state: j
                        .state()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                })
            })
            .collect())
    }
}
