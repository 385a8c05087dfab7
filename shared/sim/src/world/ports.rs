//! The core's ports over the simulated AWS: the router and the reconciler run on these unchanged.

use super::*;

impl Clock for Sim {
    fn now(&self) -> DateTime<Utc> {
        self.world().now
    }

    /// Deadlines are measured in the time calls take (the scale model), not the host's.
    fn instant(&self) -> std::time::Instant {
        self.world().instant()
    }

    /// Inside a simulation run time passes only by the run's own steps. Outside one (a restore
    /// followed to its end), `time_flows` lets a pause move the clock and the jobs on.
    async fn pause(&self, wait: std::time::Duration) {
        let mut w = self.world();
        // The invocation waits: its time is spent (the scale model).
        w.spent += wait;
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

    /// Pages in flight together take their longest call's time, not their sum.
    async fn list_recovery_points_at_once(
        &self,
        wanted: &[(&VaultArn, &ListQuery)],
    ) -> Vec<PortResult<Page<PointView>>> {
        let mut w = self.world();
        in_flight_together(&mut w, wanted, |w, (vault, query)| w.list(vault, query))
    }

    async fn describe_recovery_point(
        &self,
        vault: &VaultArn,
        recovery_point_arn: &str,
    ) -> PortResult<PointView> {
        let mut w = self.world();
        w.call_in(&vault.account, &vault.region, "DescribeRecoveryPoint")?;
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
        w.call_in(&at.account, &at.region, "DescribeCopyJob")?;
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
        w.call_in(&at.account, &at.region, "ListCopyJobs")?;
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
        w.call_in(&vault.account, &vault.region, "DescribeBackupVault")?;
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
        let (account, region) = TableArn::parse(resource_arn)
            .map(|t| (t.account, t.region))
            .unwrap_or_default();
        w.call_in(&account, &region, "ListTagsOfResource")?;
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

impl CopyTagPort for Sim {
    async fn recovery_point_tags(&self, vault: &VaultArn, arn: &str) -> PortResult<Tags> {
        self.world().list_tags(vault, arn)
    }

    /// Calls in flight together: each `in_flight` of them take their longest call's time, not
    /// their sum.
    async fn recovery_point_tags_at_once(
        &self,
        wanted: &[(&VaultArn, &str)],
        in_flight: usize,
    ) -> Vec<PortResult<Tags>> {
        let mut w = self.world();
        let mut out = Vec::with_capacity(wanted.len());
        for wave in wanted.chunks(in_flight.max(1)) {
            let read = |w: &mut World, (vault, arn): &(&VaultArn, &str)| w.list_tags(vault, arn);
            out.extend(in_flight_together(&mut w, wave, read));
        }
        out
    }

    async fn tag_recovery_point(&self, vault: &VaultArn, arn: &str, tags: &Tags) -> PortResult<()> {
        self.world().tag_point(vault, arn, tags)
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

/// Organizations' reads are counted, never throttled or refused: the simulated organisation's
/// members are what the run is about, not a fault to inject.
impl OrganizationsPort for Sim {
    async fn active_accounts(&self) -> PortResult<BTreeSet<String>> {
        let mut w = self.world();
        w.counted("ListAccounts");
        Ok(w.org_tree.active.clone())
    }

    async fn unit(&self, ou: &str) -> PortResult<relay_core::policy::OrgUnit> {
        let mut w = self.world();
        w.counted("ListAccountsForParent");
        w.counted("ListOrganizationalUnitsForParent");
        // As AWS: an OU that is not in the organisation is ParentNotFoundException.
        w.org_tree.units.get(ou).cloned().ok_or_else(|| {
            PortError::new(
                ErrorKind::NotFound,
                "ListAccountsForParent",
                Some("ParentNotFoundException"),
                format!("the OU {ou} is not in the organisation"),
            )
        })
    }
}

/// The pieces queue: what is sent is kept, for the simulation (or a test) to deliver.
impl PieceQueue for Sim {
    async fn send_pieces(&self, messages: &[String]) -> PortResult<()> {
        let mut w = self.world();
        for chunk in messages.chunks(10) {
            w.throttled("SendMessageBatch")?;
            w.queued_pieces.extend(chunk.iter().cloned());
        }
        Ok(())
    }
}

/// Calls in flight together: they take as long as the longest of them, not their sum (the
/// scale model's clock).
pub(crate) fn in_flight_together<A, T>(
    w: &mut World,
    calls: &[A],
    call: impl Fn(&mut World, &A) -> T,
) -> Vec<T> {
    let start = w.spent;
    let mut longest = std::time::Duration::ZERO;
    let mut out = Vec::with_capacity(calls.len());
    for args in calls {
        w.spent = start;
        out.push(call(w, args));
        longest = longest.max(w.spent.saturating_sub(start));
    }
    w.spent = start + longest;
    out
}
