//! What a run did, counted from the simulated AWS side (what the vaults hold, which jobs ran,
//! which alerts the topic really published), never from the functions' own bookkeeping; and
//! the summary in words.

use super::*;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub days: u32,
    pub tables: u32,
    pub seed: u64,
    pub backups: u64,
    pub chains_total: u64,
    pub chains_complete: u64,
    pub hops_required: u64,
    pub hops_complete: u64,
    pub copy_jobs_started: u64,
    /// AWS's concurrent-copy quota (100 from one account into one Region): the most running at
    /// once, the busiest hour's copies begun, and the job-minutes spent waiting for it.
    pub copy_concurrency_peak: u64,
    pub copies_started_peak_hour: u64,
    pub copy_job_minutes_queued: u64,
    pub duplicate_copy_jobs: u64,
    pub copy_failures: u64,
    /// Copy jobs started for a hop after every earlier one of it had failed (read off the jobs).
    pub retries: u64,
    pub events_emitted: u64,
    pub events_delivered: u64,
    pub events_duplicated: u64,
    pub events_lost: u64,
    /// Events emitted where no rule forwards them to the hub (never delivered).
    pub events_not_forwarded: u64,
    /// Events lost on the bus that would have started copies, whose copies exist all the same.
    pub events_lost_repaired: u64,
    /// Hops the reconciler started that had no ledger record (their event lost or dead-lettered).
    pub hops_redriven: u64,
    pub invocation_errors: u64,
    pub events_dead_lettered: u64,
    pub calls_throttled: u64,
    /// Calls refused because AssumeRole into their account is denied (`deny_account`).
    pub calls_denied: u64,
    pub alerts: u64,
    /// Backup jobs AWS failed (a vault lock that refuses the plan's retention, a missing vault).
    pub backups_failed: u64,
    /// Why, per vault: (vault ARN, AWS's message, how many).
    pub backup_failures: Vec<(String, String, u64)>,
    /// Vaults whose backups failed with no alert sent about them: must be 0.
    pub backups_failed_unalerted: u64,
    /// Alerts that the repair engine cannot do its work (the reconciler behind, or its runs
    /// dead-lettered): each covers every chain.
    pub all_chains_alerts: u64,
    /// Reconciler runs that failed three times (Lambda's retries) and went to the dead letters.
    pub reconciler_runs_dead_lettered: u64,
    /// Incomplete chains no alert was sent for (about the original or an account it needs): must be 0.
    pub chains_incomplete_unalerted: u64,
    /// Tables in the simulated organisation (a world file's, or `tables` per root vault).
    pub table_count: u64,
    /// Accounts holding a member vault of a vault set at the end (0: the policy has no sets).
    pub member_accounts: u64,
    /// The scale model: function invocations (events, reconciler runs), the longest in the
    /// time its calls took, those past their function's timeout (must be 0), and the longest
    /// reconciliation pass from its first run's start to its last run's end.
    pub lambda_invocations: u64,
    pub longest_invocation_seconds: f64,
    pub invocations_over_deadline: u64,
    pub reconcile_pass_minutes: f64,
    /// Reconciliation passes finished (0: `reconcile_pass_minutes` is of an unfinished pass, or
    /// there was none).
    pub reconcile_passes_complete: u64,
    /// The scheduled reconciliation (coordinator and pieces) whose calls into one account and
    /// Region take longest at AWS's published request rates, and that least time: past 60
    /// minutes a pass cannot finish within its hour on AWS, however it is cut.
    pub reconcile_rate_floor: Option<crate::world::rates::RateFloor>,
    /// Simulated minutes spent in calls, all invocations together.
    pub call_minutes: f64,
    /// Hours simulated after the last backups: the drain, longer while chains were still in progress.
    pub drained_hours: i64,
    /// Those chains: (original, the first vault missing its copy). Empty in every correct run.
    pub unalerted: Vec<(String, String)>,
    pub lock_adjustments: u64,
    pub plan_copy_jobs: u64,
    /// never_expire points whose delete date the retention guard moved to creation + 36500 days.
    pub lifecycles_repaired: u64,
    pub retention_violations: u64,
    pub reconciler_runs: u64,
    pub reconciler_pages: u64,
    /// COMPLETED copies in never_expire vaults.
    pub never_expire_copies: u64,
    pub never_expire_violations: u64,
    /// Recovery points a partial copy left (PARTIAL): not copies, in no other count.
    pub partial_copies: u64,
    /// COMPLETED copies the policy requires that lack its tags (Tags on copies), read off the
    /// simulated vaults: must be 0.
    pub copies_missing_tags: u64,
    /// TagResource calls that set tags (a copy that had them costs none).
    pub tag_calls: u64,
    /// Of the violations, those a vault lock makes unavoidable (MaxRetentionDays < 36500).
    pub never_expire_violations_by_lock: u64,
    /// Chains not complete, with the first missing hop: (original recovery point, what is missing).
    pub incomplete: Vec<(String, String)>,
}

impl Simulation {
    /// What happened, counted from the simulated AWS side: what the vaults hold, which jobs ran,
    /// which alerts were really published. Never from the functions' own bookkeeping.
    pub fn summary(&self) -> Summary {
        let w = self.sim.world();
        let backups_end = self.options.start + Duration::days(i64::from(self.options.days));
        let mut s = Summary {
            days: self.options.days,
            tables: self.options.tables,
            seed: self.options.seed,
            drained_hours: (w.now - backups_end).num_hours() + 1,
            table_count: w.tables.len() as u64,
            // On the run's last day (the drain after it adds no member).
            member_accounts: self
                .members
                .member_accounts_on(self.options.days.saturating_sub(1)),
            lambda_invocations: self.invocations.count,
            longest_invocation_seconds: round2(self.invocations.longest.as_secs_f64()),
            invocations_over_deadline: self.invocations.over_deadline,
            reconcile_pass_minutes: round2(self.passes.longest_minutes_with_open()),
            reconcile_passes_complete: self.passes.complete,
            reconcile_rate_floor: self.passes.rate_floor.clone(),
            call_minutes: round2(w.spent.as_secs_f64() / 60.0),
            ..Summary::default()
        };
        let held = held_copies(&w);
        self.count_chains(&w, &held, &mut s);
        (s.duplicate_copy_jobs, s.retries) = job_counts(&w);
        self.count_never_expire(&w, &mut s);
        s.events_lost_repaired = self.lost_events_repaired(&w, &held);
        let c = &w.counters;
        s.copy_jobs_started = c.copy_jobs_started;
        s.copy_concurrency_peak = c.copy_concurrency_peak;
        s.copies_started_peak_hour = c
            .copies_running_by_hour
            .values()
            .copied()
            .max()
            .unwrap_or(0);
        s.copy_job_minutes_queued = c.copy_job_minutes_queued;
        s.copy_failures = c.copy_failures;
        s.events_emitted = c.events_emitted;
        s.events_delivered = c.events_delivered;
        s.events_duplicated = c.events_duplicated;
        s.events_lost = c.events_lost;
        s.events_not_forwarded = c.events_not_forwarded;
        s.hops_redriven = self.redriven;
        s.invocation_errors = c.invocation_errors;
        s.events_dead_lettered = c.events_dead_lettered;
        s.calls_throttled = c.calls_throttled;
        s.calls_denied = c.calls_denied;
        s.alerts = w.alerts.len() as u64;
        s.backups_failed = c.backups_failed;
        s.backup_failures = w
            .backup_failures
            .iter()
            .map(|((v, why), n)| (v.to_string(), why.clone(), *n))
            .collect();
        let failing: BTreeSet<&VaultArn> = w.backup_failures.keys().map(|(v, _)| v).collect();
        s.backups_failed_unalerted = failing
            .iter()
            .filter(|v| {
                let subject = format!("backups into {v} fail");
                !w.alerts.iter().any(|a| a.subject.contains(&subject))
            })
            .count() as u64;
        s.all_chains_alerts = w.alerts.iter().filter(|a| a.all_chains).count() as u64;
        s.reconciler_runs_dead_lettered = c.reconciler_runs_dead_lettered;
        s.lock_adjustments = self.lock_adjustments;
        s.plan_copy_jobs = c.plan_copy_jobs;
        s.lifecycles_repaired = w.extended_points.len() as u64;
        s.retention_violations = w
            .incidents
            .keys()
            .filter(|id| id.starts_with("retention#"))
            .count() as u64;
        s.reconciler_runs = self.reconciler_runs;
        s.reconciler_pages = c.list_calls;
        s.tag_calls = c.tag_calls;
        s.copies_missing_tags = self.count_missing_tags(&w);
        s
    }

    /// The vaults an original in `root` must reach (the policy's rule, shared with the report).
    pub(super) fn required_vaults(&self, root: &str, tags: &Tags) -> Vec<(String, VaultArn)> {
        self.policy
            .vaults_reached(root, Some("DynamoDB"), tags)
            .into_iter()
            .map(|v| (v.alias.clone(), v.arn.clone()))
            .collect()
    }

    pub(super) fn count_chains(
        &self,
        w: &World,
        held: &HashSet<(VaultArn, Original)>,
        s: &mut Summary,
    ) {
        let alerts = SentAlerts::of(w);
        // Originals deleted on their delete date were made and chained all the same.
        let originals = w.recovery_points.values().chain(w.held.expired.values());
        for rp in originals.filter(|rp| rp.source.is_none()) {
            s.backups += 1;
            let Some(vault) = self.policy.vault_by_arn(&rp.vault) else {
                continue;
            };
            let original = Original::new(rp.resource_arn.clone(), rp.creation_date);
            let required = self.required_vaults(&vault.alias, &table_tags(w, &rp.resource_arn));
            if required.is_empty() {
                continue;
            }
            let missing: Vec<&(String, VaultArn)> = required
                .iter()
                .filter(|(_, arn)| !held.contains(&(arn.clone(), original.clone())))
                .collect();
            s.chains_total += 1;
            s.hops_required += required.len() as u64;
            s.hops_complete += (required.len() - missing.len()) as u64;
            let Some((first, _)) = missing.first() else {
                s.chains_complete += 1;
                continue;
            };
            s.incomplete
                .push((rp.arn.clone(), format!("copy into '{first}'")));
            if let Some((uncovered, _)) = missing
                .iter()
                .find(|m| !self.covered(&alerts, &original, m, &missing))
            {
                s.chains_incomplete_unalerted += 1;
                s.unalerted.push((original.key(), uncovered.clone()));
            }
        }
        // The points are held in no order: the lists read in ARN order, the same every run.
        s.incomplete.sort_unstable();
        s.unalerted.sort_unstable();
    }

    /// Is a missing copy announced: itself, or a missing copy upstream of it (the chain broke there)?
    pub(super) fn covered(
        &self,
        alerts: &SentAlerts,
        original: &Original,
        m: &(String, VaultArn),
        missing: &[&(String, VaultArn)],
    ) -> bool {
        self.announced(alerts, original, m)
            || missing.iter().any(|u| {
                u.0 != m.0 && self.reaches(&u.0, &m.0) && self.announced(alerts, original, u)
            })
    }

    /// A hop alert about this copy or about copies into its vault, or an account alert for its
    /// vault's account or an account copying into it.
    pub(super) fn announced(
        &self,
        alerts: &SentAlerts,
        original: &Original,
        (alias, arn): &(String, VaultArn),
    ) -> bool {
        let mut accounts = self
            .policy
            .routes
            .iter()
            .filter(|r| &r.to == alias)
            .filter_map(|r| self.policy.vault(&r.from))
            .map(|v| &v.arn.account)
            .chain(std::iter::once(&arn.account));
        let route_alerted = self
            .policy
            .routes
            .iter()
            .any(|r| &r.to == alias && alerts.routes.contains(&r.name()));
        alerts.all_chains
            || alerts.hops.contains(&(original.clone(), arn.to_string()))
            || alerts
                .vaults
                .get(&arn.to_string())
                .is_some_and(|until| original.creation_date < *until)
            || route_alerted
            || alerts.resources.contains(&original.resource_arn)
            || accounts.any(|a| alerts.accounts.contains(a))
    }

    /// Can a copy in vault `from` lead, route after route, to vault `to`?
    pub(super) fn reaches(&self, from: &str, to: &str) -> bool {
        let mut frontier = vec![from];
        let mut seen = BTreeSet::new();
        while let Some(v) = frontier.pop() {
            for r in self.policy.routes_from(v) {
                if r.to == to {
                    return true;
                }
                if seen.insert(r.to.as_str()) {
                    frontier.push(&r.to);
                }
            }
        }
        false
    }

    pub(super) fn count_never_expire(&self, w: &World, s: &mut Summary) {
        let never_vaults: BTreeSet<&VaultArn> = self
            .policy
            .vaults
            .iter()
            .filter(|v| matches!(v.retention, Some(Retention::NeverExpire { .. })))
            .map(|v| &v.arn)
            .collect();
        for rp in w.recovery_points.values() {
            // What a partial copy left is no copy: reported as such, never counted as held.
            if rp.status != "COMPLETED" {
                s.partial_copies += 1;
                continue;
            }
            if !never_vaults.contains(&rp.vault) {
                continue;
            }
            s.never_expire_copies += 1;
            // Judged by whole days, as the guard does; no delete date at all is the inherited trap.
            let days = rp.delete_at.map(|d| (d - rp.creation_date).num_days());
            if days.is_none_or(|d| d < i64::from(NEVER_EXPIRE_DAYS) - 1) {
                s.never_expire_violations += 1;
                let locked_below = w
                    .vaults
                    .get(&rp.vault)
                    .and_then(|v| v.lock)
                    .and_then(|l| l.max_retention_days)
                    .is_some_and(|m| m < NEVER_EXPIRE_DAYS);
                if locked_below {
                    s.never_expire_violations_by_lock += 1;
                }
            }
        }
    }

    /// Lost events that would have started copies, whose copies exist all the same.
    pub(super) fn lost_events_repaired(
        &self,
        w: &World,
        held: &HashSet<(VaultArn, Original)>,
    ) -> u64 {
        let mut repaired = 0;
        for (vault_arn, rp_arn) in &w.lost_landings {
            let (Some(rp), Some(vault)) = (
                w.recovery_points
                    .get(rp_arn)
                    .or_else(|| w.held.expired.get(rp_arn)),
                self.policy.vault_by_arn(vault_arn),
            ) else {
                continue;
            };
            let tags = table_tags(w, &rp.resource_arn);
            let next: Vec<VaultArn> = self
                .policy
                .routes_from(&vault.alias)
                .filter(|r| r.select.matches(Some("DynamoDB"), &tags))
                .filter_map(|r| self.policy.vault(&r.to).map(|v| v.arn.clone()))
                .collect();
            let original = Original::new(rp.resource_arn.clone(), rp.creation_date);
            if !next.is_empty()
                && next
                    .iter()
                    .all(|v| held.contains(&(v.clone(), original.clone())))
            {
                repaired += 1;
            }
        }
        repaired
    }
}

/// The alerts the topic really published: about which hops, and which accounts.
pub(super) struct SentAlerts {
    pub(super) hops: HashSet<(Original, String)>,
    pub(super) accounts: HashSet<String>,
    /// Tables whose every chain an alert covers (their copies are stuck).
    pub(super) resources: HashSet<String>,
    /// Routes the reconciler cannot walk: every copy they should make is announced.
    pub(super) routes: HashSet<String>,
    /// The repair engine cannot do its work (the reconciler behind or failing): every chain.
    pub(super) all_chains: bool,
    /// Vaults copies into which fail for a cause, and until when their alerts stand: for copies
    /// of backups made before an incident about the vault closed (or while one is open).
    pub(super) vaults: HashMap<String, DateTime<Utc>>,
}

impl SentAlerts {
    pub(super) fn of(w: &World) -> Self {
        Self {
            hops: w
                .alerts
                .iter()
                .filter_map(|a| a.hop.as_ref())
                .map(|h| (h.original.clone(), h.destination_vault_arn.clone()))
                .collect(),
            accounts: announced_accounts(w),
            resources: w.alerts.iter().filter_map(|a| a.resource.clone()).collect(),
            routes: w.alerts.iter().filter_map(|a| a.route.clone()).collect(),
            all_chains: w.alerts.iter().any(|a| a.all_chains),
            vaults: vault_alerts_stand_until(w),
        }
    }
}

/// Accounts an alert published is about: its own, or each whose incident was marked alerted
/// while the alert for many unreachable accounts was out (`World::unreachable_marked`).
fn announced_accounts(w: &World) -> HashSet<String> {
    let own = w.alerts.iter().filter_map(|a| a.account.clone());
    own.chain(w.unreachable_marked.iter().cloned()).collect()
}

/// For each vault with an alert about copies into it: until when its alerts stand (the latest
/// close of such an incident; an alerted one still open stands for good).
fn vault_alerts_stand_until(w: &World) -> HashMap<String, DateTime<Utc>> {
    let mut until: HashMap<String, DateTime<Utc>> = HashMap::new();
    // Incidents whose own alert went out: a member a family covers stands by the family's.
    let open = w
        .incidents
        .values()
        .filter(|i| i.alerted_at.is_some() && w.published(&i.alert))
        .filter_map(|i| Some((i.alert.vault.clone()?, DateTime::<Utc>::MAX_UTC)));
    for (vault, at) in w.vault_incidents_closed.iter().cloned().chain(open) {
        let t = until.entry(vault).or_insert(at);
        *t = (*t).max(at);
    }
    until
}

/// What every vault holds, by original: copies keep their source's resource and creation date.
/// Only a COMPLETED copy is held (a PARTIAL one is not); one deleted on its delete date was held
/// for as long as its lifecycle asked.
pub(super) fn held_copies(w: &World) -> HashSet<(VaultArn, Original)> {
    w.recovery_points
        .values()
        .chain(w.held.expired.values())
        .filter(|rp| rp.status == "COMPLETED")
        .map(|rp| {
            (
                rp.vault.clone(),
                Original::new(rp.resource_arn.clone(), rp.creation_date),
            )
        })
        .collect()
}

pub(super) fn table_tags(w: &World, resource_arn: &str) -> Tags {
    w.table(resource_arn)
        .map(|t| t.tags.clone())
        .unwrap_or_default()
}

/// Every copy job per hop, read off the jobs AWS ran, whoever started them (Backup Relay, a
/// backup plan's copy action): (duplicates, retries). A job started while an earlier one of its
/// hop had not failed (was under way, or had made the copy the vault holds) is a duplicate (a
/// failed duplicate too); one started after every earlier one had failed is a retry.
pub(super) fn job_counts(w: &World) -> (u64, u64) {
    let mut per_hop: BTreeMap<(Original, VaultArn), Vec<&SimCopyJob>> = BTreeMap::new();
    for job in &w.jobs {
        per_hop
            .entry((job.original.clone(), job.dest_vault.clone()))
            .or_default()
            .push(job);
    }
    let (mut duplicates, mut retries) = (0, 0);
    for jobs in per_hop.values() {
        for (k, job) in jobs.iter().enumerate().skip(1) {
            let overlaps = jobs[..k].iter().any(|earlier| {
                !(matches!(earlier.state, JobState::Failed | JobState::Partial)
                    && earlier.ended_at.is_some_and(|e| e <= job.created_at))
            });
            if overlaps {
                duplicates += 1;
            } else {
                retries += 1;
            }
        }
    }
    (duplicates, retries)
}

impl Summary {
    /// What the run found wrong, in words; empty when every chain is complete and every
    /// never-expire copy is kept 36500 days.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some((vault, why, _)) = self.backup_failures.first() {
            out.push(format!(
                "{} backup job(s) failed (in {vault}: {why})",
                self.backups_failed
            ));
        }
        if self.backups_failed_unalerted > 0 {
            out.push(format!(
                "{} vault(s) whose backups fail with no alert sent",
                self.backups_failed_unalerted
            ));
        }
        if self.backups == 0 && self.backups_failed == 0 {
            out.push("no backup was made: no backup plan covers any table".to_string());
        } else if self.backups == 0 {
            // Said above: every backup job failed.
        } else if self.chains_total == 0 {
            out.push("nothing to copy: no route selects any table".to_string());
        }
        let incomplete = self.chains_total - self.chains_complete;
        if incomplete > 0 {
            out.push(format!("{incomplete} chain(s) incomplete"));
        }
        if self.chains_incomplete_unalerted > 0 {
            out.push(format!(
                "{} incomplete chain(s) with no alert sent",
                self.chains_incomplete_unalerted
            ));
        }
        if self.copies_missing_tags > 0 {
            out.push(format!(
                "{} copies without the policy's tags",
                self.copies_missing_tags
            ));
        }
        if self.duplicate_copy_jobs > 0 {
            out.push(format!(
                "{} duplicate copy job(s)",
                self.duplicate_copy_jobs
            ));
        }
        if self.never_expire_violations > 0 {
            out.push(format!(
                "{} never-expire copies will not be kept 36500 days",
                self.never_expire_violations
            ));
        }
        out
    }

    /// The human-readable report of `relay simulate`.
    pub fn render(&self) -> String {
        let mut lines = vec![
            format!("Simulated {} days, {} tables, seed {}.", self.days, self.table_count, self.seed),
            format!("Backups made: {}; chains to build: {}.", self.backups, self.chains_total),
            format!("Chains complete: {} of {} ({} of {} hops).", self.chains_complete, self.chains_total, self.hops_complete, self.hops_required),
            format!("Copy jobs started: {}; duplicate copy jobs: {}; copy failures: {}; retries: {}.", self.copy_jobs_started, self.duplicate_copy_jobs, self.copy_failures, self.retries),
            format!("Events: {} emitted, {} lost, {} never forwarded to the hub, {} duplicated, {} deliveries to the functions, {} dead-lettered after Lambda's retries.", self.events_emitted, self.events_lost, self.events_not_forwarded, self.events_duplicated, self.events_delivered, self.events_dead_lettered),
            format!("Reconciler: {} runs, {} pages; hops re-driven: {}; lost events whose copies were made all the same: {}.", self.reconciler_runs, self.reconciler_pages, self.hops_redriven, self.events_lost_repaired),
            format!("Invocation errors (retried by Lambda): {}; throttled calls: {}; denied calls: {}; alerts: {}; lock adjustments: {}.", self.invocation_errors, self.calls_throttled, self.calls_denied, self.alerts, self.lock_adjustments),
            format!("Never-expire copies: {}; lifecycles repaired: {}; violations: {} ({} forced by a vault lock).", self.never_expire_copies, self.lifecycles_repaired, self.never_expire_violations, self.never_expire_violations_by_lock),
        ];
        if let Some(f) = &self.reconcile_rate_floor {
            lines.push(format!(
                "Longest reconciliation pass: {:.1} simulated minutes; at AWS's request rates its busiest run needs at least {:.1} ({} calls of {} into {}/{} at {}/s).",
                self.reconcile_pass_minutes, f.minutes, f.calls, f.operation, f.account, f.region, f.per_second
            ));
        }
        if self.partial_copies > 0 {
            lines.push(format!(
                "Partial copies left by copy jobs that ended PARTIAL (not counted as copies): {}.",
                self.partial_copies
            ));
        }
        if self.plan_copy_jobs > 0 {
            lines.push(format!(
                "Backup plan copy actions into the never-expire vault: {}.",
                self.plan_copy_jobs
            ));
        }
        for (vault, why, n) in &self.backup_failures {
            lines.push(format!("Backup jobs failed: {n} in {vault}: {why}"));
        }
        if self.backups == 0 && self.backups_failed > 0 {
            lines.push(format!(
                "Result: no backup was made: all {} backup jobs failed (see above).",
                self.backups_failed
            ));
        } else if self.backups == 0 {
            lines.push("Result: no backup was made: no backup plan covers any table.".to_string());
        } else if self.chains_total == 0 {
            lines.push("Result: nothing to copy: no route selects any table.".to_string());
        } else if self.chains_complete == self.chains_total && self.never_expire_violations > 0 {
            lines.push(format!(
                "Result: every chain is complete, but {} never-expire copies will not be kept 36500 days.",
                self.never_expire_violations
            ));
        } else if self.chains_complete == self.chains_total {
            lines.push("Result: every chain is complete.".to_string());
        } else {
            lines.push(format!(
                "Result: {} chain(s) incomplete, {} of them with no alert sent.",
                self.chains_total - self.chains_complete,
                self.chains_incomplete_unalerted
            ));
            for (rp, route) in self.incomplete.iter().take(5) {
                lines.push(format!("  missing {route} for {rp}"));
            }
        }
        lines.join("\n") + "\n"
    }
}

/// Two decimals: the summary's figures are read by people and compared by tests.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
