//! DynamoDB tables of one account and Region, as the compliance inventory needs them.
//!
//! Calls: ListTables (100 a page) + per table ListTagsOfResource (every page) and
//! DescribeContinuousBackups, several tables at once, + ListBackups once (every page). No DescribeTable: the table ARN is
//! built from the partition, Region, account and name, which is all it is made of.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{BackupStatus, BackupTypeFilter, PointInTimeRecoveryStatus};
use aws_sdk_dynamodb::Client;
use relay_compliance::inventory::{TableFacts, TABLE_READS_AT_ONCE};
use relay_core::arn::Location;
use relay_core::ports::{ErrorKind, PortResult};

use crate::errors::classify;
use crate::tags::table_tags;

/// ListTables' largest page.
const TABLES_PAGE: i32 = 100;

pub struct DynamoApi {
    pub(crate) client: Client,
}

impl DynamoApi {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Every table in the client's account and Region (`at`), with tags, PITR and native backups.
    pub async fn tables(&self, at: &Location) -> PortResult<Vec<TableFacts>> {
        use futures_util::stream::{self, TryStreamExt};
        let names = self.table_names().await?;
        let backups = self.native_backups_by_table().await?;
        // In order, and the first error stops the reads not yet started.
        let read: Vec<Option<TableFacts>> = stream::iter(names.into_iter().map(Ok))
            .map_ok(|name| {
                let arn = table_arn(at, &name);
                self.table(at, name, arn, &backups)
            })
            .try_buffered(TABLE_READS_AT_ONCE)
            .try_collect()
            .await?;
        Ok(read.into_iter().flatten().collect())
    }

    async fn table_names(&self) -> PortResult<Vec<String>> {
        let pages = self
            .client
            .list_tables()
            .limit(TABLES_PAGE)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify("ListTables", &e))?;
        Ok(pages
            .into_iter()
            .flat_map(|p| p.table_names.unwrap_or_default())
            .collect())
    }

    /// One table's facts; `None` when it was deleted since ListTables named it.
    async fn table(
        &self,
        at: &Location,
        name: String,
        arn: String,
        backups: &HashMap<String, u32>,
    ) -> PortResult<Option<TableFacts>> {
        let tags = match table_tags(&self.client, &arn).await {
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
            other => other?,
        };
        let pitr = match self.pitr(&name).await {
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
            other => other?,
        };
        Ok(Some(TableFacts {
            native_backups: backups.get(&arn).copied().unwrap_or(0),
            arn,
            name,
            account: at.account.clone(),
            region: at.region.clone(),
            tags: tags.into_iter().collect(),
            pitr,
        }))
    }

    /// PITR as DescribeContinuousBackups reports it. Not being allowed to read it leaves it
    /// unknown (`None`, which the report shows) rather than hiding every other table's facts.
    pub(crate) async fn pitr(&self, name: &str) -> PortResult<Option<bool>> {
        let out = match self
            .client
            .describe_continuous_backups()
            .table_name(name)
            .send()
            .await
            .map_err(|e| classify("DescribeContinuousBackups", &e))
        {
            Err(e) if e.kind == ErrorKind::AccessDenied => {
                tracing::warn!(table = name, error = %e, "PITR unreadable");
                return Ok(None);
            }
            other => other?,
        };
        let status = out
            .continuous_backups_description()
            .and_then(|d| d.point_in_time_recovery_description())
            .and_then(|p| p.point_in_time_recovery_status());
        Ok(match status {
            Some(PointInTimeRecoveryStatus::Enabled) => Some(true),
            Some(PointInTimeRecoveryStatus::Disabled) => Some(false),
            _ => None,
        })
    }

    /// ListBackups once for the account and Region (every page), counted per table ARN: one call
    /// a page instead of one per table. ALL is USER and SYSTEM (AWS's API reference): backups
    /// AWS Backup cannot copy. The native ones AWS Backup itself made without advanced features
    /// show in the vaults as `arn:...:dynamodb:...:table/T/backup/B` points, counted from there.
    /// Deleted backups protect nothing and are not counted.
    async fn native_backups_by_table(&self) -> PortResult<HashMap<String, u32>> {
        let mut counts = HashMap::new();
        let mut start: Option<String> = None;
        loop {
            let out = self
                .client
                .list_backups()
                .backup_type(BackupTypeFilter::All)
                .set_exclusive_start_backup_arn(start.take())
                .send()
                .await
                .map_err(|e| classify("ListBackups", &e))?;
            for b in out.backup_summaries() {
                if b.backup_status() == Some(&BackupStatus::Deleted) {
                    continue;
                }
                if let Some(arn) = b.table_arn() {
                    *counts.entry(arn.to_string()).or_insert(0) += 1;
                }
            }
            match out.last_evaluated_backup_arn {
                Some(last) if !last.is_empty() => start = Some(last),
                _ => return Ok(counts),
            }
        }
    }
}

/// `arn:{partition}:dynamodb:{region}:{account}:table/{name}`.
pub fn table_arn(at: &Location, name: &str) -> String {
    format!(
        "arn:{}:dynamodb:{}:{}:table/{name}",
        at.partition, at.region, at.account
    )
}
