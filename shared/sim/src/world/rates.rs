//! AWS's request-rate quotas in the scale model (design.md): calls per second per account and
//! Region, past which AWS answers ThrottlingException. The figures are AWS's published defaults
//! ("AWS Backup endpoints and quotas", the table "API name | Default calls/second"); AWS Backup
//! also caps the sum of all its API calls. The table names no StartCopyJob or ListCopyJobs
//! figure: those count in the sum only. AWS does not say whether the figures are per Region;
//! they are taken per account and Region here. (Organizations' reads, 5-8 a second in the
//! management account, are not tallied: the simulator answers a membership in one call.)
//!
//! The simulator tallies the calls of a phase (a reconcile pass, a report's map) per account,
//! Region and operation; the least time those calls can take at the quotas is the phase's
//! **rate floor**: however the work is cut and paced, AWS admits it no faster.

use std::collections::HashMap;

use serde::Serialize;

/// AWS Backup's cap on the sum of all its API calls, per second.
pub const BACKUP_ALL_CALLS_PER_SECOND: f64 = 50.0;
/// What the floor names when the sum of an account's Backup calls binds.
pub const ALL_BACKUP_CALLS: &str = "all AWS Backup calls";

/// The published calls per second of `operation`, where AWS publishes one.
pub fn quota(operation: &str) -> Option<f64> {
    let per_second = match operation {
        "DescribeBackupVault"
        | "TagResource"
        | "UpdateRecoveryPointLifecycle"
        | "StartRestoreJob"
        | "StartBackupJob" => 5.0,
        "DescribeRecoveryPoint" => 15.0,
        "ListBackupJobs" | "ListBackupVaults" | "ListRecoveryPointsByBackupVault" | "ListTags" => {
            20.0
        }
        _ => return None,
    };
    Some(per_second)
}

/// An AWS Backup operation: its calls count against the sum of all Backup calls.
pub fn is_backup(operation: &str) -> bool {
    matches!(
        operation,
        "ListRecoveryPointsByBackupVault"
            | "ListCopyJobs"
            | "ListBackupJobs"
            | "ListBackupVaults"
            | "ListBackupPlans"
            | "ListBackupSelections"
            | "StartCopyJob"
            | "StartRestoreJob"
            | "StartBackupJob"
            | "UpdateRecoveryPointLifecycle"
            | "DescribeRecoveryPoint"
            | "DescribeCopyJob"
            | "DescribeRestoreJob"
            | "DescribeBackupVault"
            | "DescribeRegionSettings"
            | "DescribeGlobalSettings"
            | "GetBackupPlan"
            | "GetBackupSelection"
            | "GetBackupVaultAccessPolicy"
            | "ListTags"
            | "TagResource"
            | "UntagResource"
    )
}

/// Calls per account, Region and operation since the tally began.
#[derive(Debug, Clone, Default)]
pub struct RateTally {
    calls: HashMap<(String, String, &'static str), u64>,
}

/// The least time a phase's calls take at AWS's quotas, and the account, Region and operation
/// that bind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateFloor {
    pub minutes: f64,
    pub account: String,
    pub region: String,
    pub operation: String,
    pub calls: u64,
    pub per_second: f64,
}

impl RateTally {
    pub fn record(&mut self, account: &str, region: &str, operation: &'static str) {
        *self
            .calls
            .entry((account.to_string(), region.to_string(), operation))
            .or_default() += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The binding quota: the longest of each operation's calls at its own rate and each
    /// account-Region's Backup calls at their sum's rate. `None` for no call under a quota.
    pub fn floor(&self) -> Option<RateFloor> {
        let mut backup: HashMap<(&str, &str), u64> = HashMap::new();
        let mut longest: Option<RateFloor> = None;
        // The longest; of equals, the first by account, Region and operation (the tally is a
        // hash map: without this the same run could name another account each time).
        let mut consider = |candidate: RateFloor| {
            let key = |f: &RateFloor| (f.account.clone(), f.region.clone(), f.operation.clone());
            let better = longest.as_ref().is_none_or(|l| {
                candidate.minutes > l.minutes
                    || (candidate.minutes == l.minutes && key(&candidate) < key(l))
            });
            if better {
                longest = Some(candidate);
            }
        };
        for ((account, region, operation), &calls) in &self.calls {
            if is_backup(operation) {
                *backup.entry((account, region)).or_default() += calls;
            }
            if let Some(per_second) = quota(operation) {
                consider(floor_of(account, region, operation, calls, per_second));
            }
        }
        for ((account, region), calls) in backup {
            consider(floor_of(
                account,
                region,
                ALL_BACKUP_CALLS,
                calls,
                BACKUP_ALL_CALLS_PER_SECOND,
            ));
        }
        longest
    }
}

fn floor_of(
    account: &str,
    region: &str,
    operation: &str,
    calls: u64,
    per_second: f64,
) -> RateFloor {
    RateFloor {
        // Whole calls over a rate: exact in f64 for any count a run makes.
        minutes: calls as f64 / per_second / 60.0,
        account: account.to_string(),
        region: region.to_string(),
        operation: operation.to_string(),
        calls,
        per_second,
    }
}
