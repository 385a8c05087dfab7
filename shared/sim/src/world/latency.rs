//! The scale model's clock (design.md): every call takes time, a mean latency per operation, so a
//! run that could not finish on AWS does not finish here either. AWS publishes no latency figures
//! per API; these are conservative means of what its SDKs see from a Lambda function in the same
//! Region (control-plane reads 100-300 ms, list pages of up to 1000 items longer, DynamoDB item
//! calls single-digit milliseconds, as DynamoDB documents), and what a cross-account session
//! costs (one STS AssumeRole per account and invocation). Change them here: every figure the
//! simulator reports in minutes follows.

use std::time::Duration;

/// The mean time one call of `operation` takes.
pub fn latency(operation: &str) -> Duration {
    let ms = match operation {
        // AWS Backup: a page of up to 1000 recovery points or jobs.
        "ListRecoveryPointsByBackupVault" | "ListCopyJobs" | "ListBackupJobs" => 400,
        "ListBackupVaults" | "ListBackupPlans" | "ListBackupSelections" => 200,
        "StartCopyJob" | "StartRestoreJob" | "UpdateRecoveryPointLifecycle" => 250,
        "DescribeRecoveryPoint"
        | "DescribeCopyJob"
        | "DescribeRestoreJob"
        | "DescribeBackupVault"
        | "DescribeRegionSettings"
        | "GetBackupPlan"
        | "GetBackupSelection"
        | "GetBackupVaultAccessPolicy"
        | "DescribeGlobalSettings" => 120,
        // DynamoDB: the ledger's item calls and queries, and the tables' reads.
        "GetItem" | "PutItem" | "UpdateItem" | "DeleteItem" => 8,
        "Query" => 15,
        // Up to 100 items, read in parallel by DynamoDB.
        "BatchGetItem" => 20,
        "ListTables"
        | "ListTagsOfResource"
        | "DescribeContinuousBackups"
        | "DescribeTable"
        | "ListBackups" => 60,
        // Organizations answers from us-east-1 whatever the caller's Region, 20 accounts a page.
        "ListAccounts"
        | "ListAccountsForParent"
        | "ListOrganizationalUnitsForParent"
        | "DescribeOrganization" => 250,
        "AssumeRole" => 150,
        // S3, the report run's parts (objects of a few KB to a few MB).
        "GetObject" | "PutObject" | "ListObjectsV2" => 40,
        "Publish" | "SendMessageBatch" => 50,
        _ => 150,
    };
    Duration::from_millis(ms)
}
