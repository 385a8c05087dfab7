//! Restores (AWS Backup) and the tables they make (DynamoDB), in one account and Region.

use relay_core::arn::Location;
use relay_core::ports::{
    ErrorKind, PortError, PortResult, RestoreJobStatus, StartRestore, TableState,
};

use crate::backup::{chrono_of, BackupApi};
use crate::errors::classify;
use crate::tables::{table_arn, DynamoApi};
use crate::tags::table_tags;

/// StartRestoreJob's ResourceType for a DynamoDB recovery point.
const DYNAMODB: &str = "DynamoDB";

impl BackupApi {
    /// StartRestoreJob; the restore job's id.
    pub async fn start_restore_job(&self, req: &StartRestore) -> PortResult<String> {
        let metadata = req
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let out = self
            .client
            .start_restore_job()
            .recovery_point_arn(&req.recovery_point_arn)
            .iam_role_arn(&req.iam_role_arn)
            .set_metadata(Some(metadata))
            .idempotency_token(&req.idempotency_token)
            .resource_type(DYNAMODB)
            // Absent is AWS's default (no tags copied): only sent when asked for.
            .set_copy_source_tags_to_restored_resource(req.copy_source_tags.then_some(true))
            .send()
            .await
            .map_err(|e| classify("StartRestoreJob", &e))?;
        // Without an id the job cannot be followed; the same token makes a second start a no-op.
        out.restore_job_id.ok_or_else(|| {
            PortError::new(
                ErrorKind::Retryable,
                "StartRestoreJob",
                None,
                "response had no RestoreJobId",
            )
        })
    }

    /// DescribeRestoreJob. A missing Status reads as empty: not terminal, so the caller asks again.
    pub async fn restore_job_status(&self, restore_job_id: &str) -> PortResult<RestoreJobStatus> {
        let out = self
            .client
            .describe_restore_job()
            .restore_job_id(restore_job_id)
            .send()
            .await
            .map_err(|e| classify("DescribeRestoreJob", &e))?;
        Ok(RestoreJobStatus {
            state: out
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            status_message: out.status_message().map(str::to_string),
            created_resource_arn: out.created_resource_arn().map(str::to_string),
            creation_date: out.creation_date().and_then(chrono_of),
            completion_date: out.completion_date().and_then(chrono_of),
        })
    }
}

impl DynamoApi {
    /// DescribeTable and every page of its tags; `None` when the table does not exist (or went
    /// between the two calls). ItemCount and TableSizeBytes are DynamoDB's, refreshed about every
    /// six hours: a just-restored table may show 0.
    pub async fn table_state(&self, at: &Location, name: &str) -> PortResult<Option<TableState>> {
        let out = match self
            .client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| classify("DescribeTable", &e))
        {
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
            other => other?,
        };
        // An answer without the table is not proof there is none: ask again rather than guess.
        let table = out.table().ok_or_else(|| {
            PortError::new(
                ErrorKind::Retryable,
                "DescribeTable",
                None,
                "response had no Table",
            )
        })?;
        // The ARN is all the table is made of; built when (never in practice) it is not given.
        let arn = table
            .table_arn()
            .map_or_else(|| table_arn(at, name), str::to_string);
        let tags = match table_tags(&self.client, &arn).await {
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
            other => other?,
        };
        let count = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        Ok(Some(TableState {
            status: table
                .table_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            item_count: count(table.item_count()),
            size_bytes: count(table.table_size_bytes()),
            arn,
            tags,
        }))
    }

    /// DeleteTable. Already gone is done (a repeated delete succeeds); a table still CREATING or
    /// UPDATING answers ResourceInUseException, which passes once it is ACTIVE: retryable.
    pub async fn delete_table(&self, name: &str) -> PortResult<()> {
        match self.client.delete_table().table_name(name).send().await {
            Ok(_) => Ok(()),
            Err(e) => match classify("DeleteTable", &e) {
                e if e.kind == ErrorKind::NotFound => Ok(()),
                e if e.code.as_deref() == Some(RESOURCE_IN_USE) => Err(PortError {
                    kind: ErrorKind::Retryable,
                    ..e
                }),
                e => Err(e),
            },
        }
    }
}

/// DynamoDB's code for a table busy with another change. Not retryable everywhere (CreateTable
/// of an existing table says the same), so only DeleteTable maps it.
const RESOURCE_IN_USE: &str = "ResourceInUseException";
