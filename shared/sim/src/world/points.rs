//! Recovery points in their vaults: kept in listing order, moved to the cold tier on their
//! lifecycle, listed a page at a time and their lifecycles updated as AWS does.

use super::*;
use relay_core::arn::RecoveryPointArn;

/// Bytes in a GiB: AWS Backup bills and reports storage in GB of 2^30 bytes.
pub(super) const GIB: u64 = 1 << 30;

impl World {
    pub fn insert_point(&mut self, mut rp: SimRecoveryPoint) {
        if let Some(source) = rp.source.as_ref().and_then(|s| self.recovery_points.get(s)) {
            let vault = source.vault.to_string();
            self.source_vaults.insert(source.arn.clone(), vault);
        }
        rp.source_vault = rp
            .source
            .as_ref()
            .and_then(|s| self.source_vaults.get(s))
            .cloned();
        self.hold(rp);
    }

    /// A point whose `source_vault` is set, put in its vault's listings and lifecycles.
    fn hold(&mut self, rp: SimRecoveryPoint) {
        self.schedule_cold(&rp);
        self.schedule_expiry(&rp);
        self.held_gained(&rp);
        self.seq += 1;
        let at = (rp.creation_date.timestamp_millis(), self.seq);
        self.by_vault
            .entry(rp.vault.clone())
            .or_default()
            .insert(at, rp.arn.clone());
        self.by_resource
            .entry((rp.vault.clone(), rp.resource_arn.clone()))
            .or_default()
            .insert(at, rp.arn.clone());
        if is_native(&rp.arn) {
            self.native_points.insert(rp.arn.clone());
        }
        self.recovery_points.insert(rp.arn.clone(), rp);
    }

    /// Every point held, in ARN order: what a caller that picks among them needs to pick the
    /// same one every run.
    pub fn points_by_arn(&self) -> Vec<&SimRecoveryPoint> {
        let mut points: Vec<_> = self.recovery_points.values().collect();
        points.sort_unstable_by(|a, b| a.arn.cmp(&b.arn));
        points
    }

    /// How many of DynamoDB's own backups of `table_arn` are held.
    pub(crate) fn native_points_of(&self, table_arn: &str) -> usize {
        let prefix = format!("{table_arn}/backup/");
        self.native_points
            .range(prefix.clone()..)
            .take_while(|k| k.starts_with(&prefix))
            .count()
    }

    /// The point of `resource` in `vault` made at `created`, if the vault holds one.
    pub fn point_made_at(
        &self,
        vault: &VaultArn,
        resource: &str,
        created: DateTime<Utc>,
    ) -> Option<&SimRecoveryPoint> {
        let ms = created.timestamp_millis();
        let listing = self
            .by_resource
            .get(&(vault.clone(), resource.to_string()))?;
        let (_, arn) = listing.range((ms, 0)..=(ms, u64::MAX)).next()?;
        self.recovery_points.get(arn)
    }

    /// A copy whose source point is gone (a world's history): it names `source_vault` as AWS
    /// names a copy's SourceBackupVaultArn, and carries `tags`.
    pub fn insert_held_copy(
        &mut self,
        mut rp: SimRecoveryPoint,
        source_vault: &VaultArn,
        tags: Tags,
    ) {
        rp.source = Some(format!("{}-source", rp.arn));
        rp.source_vault = Some(source_vault.to_string());
        if !tags.is_empty() {
            self.point_tags.insert(rp.arn.clone(), tags);
        }
        self.hold(rp);
    }

    /// When the point's lifecycle moves it to the cold tier, it is due there (a lifecycle
    /// changed later schedules again; a stale entry is checked against the point when due).
    pub(super) fn schedule_cold(&mut self, rp: &SimRecoveryPoint) {
        let Some(days) = rp.lifecycle.move_to_cold_storage_after_days else {
            return;
        };
        let Some(at) = rp
            .creation_date
            .checked_add_signed(Duration::days(i64::from(days)))
        else {
            return;
        };
        self.seq += 1;
        self.cold_due.insert((at, self.seq), rp.arn.clone());
    }

    /// AWS Backup moves points to the cold tier on their lifecycle: from then on they cannot be
    /// copied, restores from them are slower, and their cold setting cannot change. Points whose
    /// delete date has come are deleted first.
    pub fn step_lifecycles(&mut self) {
        self.expire_due_points();
        while let Some(entry) = self.cold_due.first_entry() {
            if entry.key().0 > self.now {
                return;
            }
            let arn = entry.remove();
            let due = self.recovery_points.get(&arn).and_then(|rp| {
                let at = rp
                    .lifecycle
                    .move_to_cold_storage_after_days
                    .and_then(|d| {
                        rp.creation_date
                            .checked_add_signed(Duration::days(i64::from(d)))
                    })
                    .filter(|at| *at <= self.now);
                at.filter(|_| rp.status == "COMPLETED")
            });
            if let Some(at) = due.filter(|_| !self.cold_points.contains(&arn)) {
                self.held_moved_cold(&arn, at);
                self.cold_points.insert(arn);
            }
        }
    }

    /// A recovery point deleted (by hand, or expired): gone from its vault's listing too.
    pub fn remove_point(&mut self, arn: &str) -> Option<SimRecoveryPoint> {
        let now = self.now;
        self.remove_point_at(arn, now)
    }

    /// A recovery point deleted at `at` (its delete date, when it expired).
    pub(super) fn remove_point_at(
        &mut self,
        arn: &str,
        at: DateTime<Utc>,
    ) -> Option<SimRecoveryPoint> {
        let rp = self.recovery_points.remove(arn)?;
        self.native_points.remove(arn);
        self.held_lost(&rp, at);
        self.point_tags.remove(arn);
        let ms = rp.creation_date.timestamp_millis();
        if let Some(listing) = self.by_vault.get_mut(&rp.vault) {
            unlist(listing, ms, arn);
        }
        let key = (rp.vault.clone(), rp.resource_arn.clone());
        if let Some(listing) = self.by_resource.get_mut(&key) {
            unlist(listing, ms, arn);
        }
        Some(rp)
    }

    pub fn points_in(&self, vault: &VaultArn) -> impl Iterator<Item = &SimRecoveryPoint> {
        self.by_vault
            .get(vault)
            .into_iter()
            .flat_map(|m| m.values())
            .filter_map(|arn| self.recovery_points.get(arn))
    }

    /// A point as AWS describes it: in the cold tier if it moved there.
    pub fn view_of(&self, rp: &SimRecoveryPoint) -> PointView {
        let mut view = rp.view();
        // SourceBackupVaultArn: the vault of the point it was copied from.
        view.source_vault_arn.clone_from(&rp.source_vault);
        if self.cold_points.contains(&rp.arn) {
            view.storage_class = Some("COLD".into());
        }
        // A DynamoDB backup is a full copy of its table.
        view.backup_size_bytes = self
            .table(&rp.resource_arn)
            .map(|t| u64::from(t.size_gb) * GIB);
        view
    }

    pub fn new_recovery_point_arn(&mut self, vault: &VaultArn) -> String {
        format!(
            "arn:{}:backup:{}:{}:recovery-point:{}",
            vault.partition,
            vault.region,
            vault.account,
            self.rng.uuid()
        )
    }

    pub(super) fn list(
        &mut self,
        vault: &VaultArn,
        query: &ListQuery,
    ) -> PortResult<Page<PointView>> {
        const OP: &str = "ListRecoveryPointsByBackupVault";
        self.counters.list_calls += 1;
        self.call_in(&vault.account, &vault.region, OP)?;
        if !self.vaults.contains_key(vault) {
            return Err(PortError::new(
                ErrorKind::NotFound,
                OP,
                Some("ResourceNotFoundException"),
                format!("{vault} not found"),
            ));
        }
        let invalid = || {
            PortError::new(
                ErrorKind::Permanent,
                OP,
                Some("InvalidParameterValueException"),
                "invalid NextToken",
            )
        };
        // The token is the position of the next point: (creation ms, sequence).
        let from = match &query.page_token {
            None => (
                query
                    .created_after
                    .map_or(i64::MIN, |a| a.timestamp_millis()),
                0,
            ),
            Some(t) => {
                let (ms, seq) = t.split_once(':').ok_or_else(invalid)?;
                (
                    ms.parse().map_err(|_| invalid())?,
                    seq.parse().map_err(|_| invalid())?,
                )
            }
        };
        let index = match &query.resource_arn {
            Some(r) => self.by_resource.get(&(vault.clone(), r.clone())),
            None => self.by_vault.get(vault),
        };
        let Some(index) = index else {
            return Ok(Page {
                items: Vec::new(),
                next_token: None,
            });
        };
        let size = query.page_size.clamp(1, 1000) as usize;
        let mut items = Vec::new();
        let mut next_token = None;
        for (&(ms, seq), arn) in index.range(from..) {
            if query
                .created_before
                .is_some_and(|b| ms > b.timestamp_millis())
            {
                break;
            }
            if items.len() == size {
                next_token = Some(format!("{ms}:{seq}"));
                break;
            }
            if let Some(rp) = self.recovery_points.get(arn) {
                let after = query.created_after.is_none_or(|a| rp.creation_date > a);
                let before = query.created_before.is_none_or(|b| rp.creation_date < b);
                let resource = query
                    .resource_arn
                    .as_ref()
                    .is_none_or(|r| *r == rp.resource_arn);
                if after && before && resource {
                    items.push(self.view_of(rp));
                }
            }
        }
        Ok(Page { items, next_token })
    }

    pub(super) fn update_lifecycle(
        &mut self,
        vault: &VaultArn,
        arn: &str,
        lifecycle: &Lifecycle,
    ) -> PortResult<()> {
        const OP: &str = "UpdateRecoveryPointLifecycle";
        self.call_in(&vault.account, &vault.region, OP)?;
        if self.vaults.get(vault).is_some_and(|v| v.lock.is_some()) {
            return Err(PortError::new(ErrorKind::Permanent, OP, Some("InvalidRequestException"),
                "Lifecycle settings cannot be changed for a recovery point in a backup vault with Vault Lock"));
        }
        if let (Some(d), Some(c)) = (
            lifecycle.delete_after_days,
            lifecycle.move_to_cold_storage_after_days,
        ) {
            if d < c + COLD_MIN_DAYS {
                return Err(PortError::new(
                    ErrorKind::Permanent,
                    OP,
                    Some("InvalidParameterValueException"),
                    "DeleteAfterDays must be at least 90 days after MoveToColdStorageAfterDays",
                ));
            }
        }
        let Some(rp) = self
            .recovery_points
            .get_mut(arn)
            .filter(|rp| &rp.vault == vault)
        else {
            return Err(PortError::new(
                ErrorKind::NotFound,
                OP,
                Some("ResourceNotFoundException"),
                format!("{arn} not found"),
            ));
        };
        if self.cold_points.contains(arn)
            && rp.lifecycle.move_to_cold_storage_after_days
                != lifecycle.move_to_cold_storage_after_days
        {
            return Err(PortError::new(
                ErrorKind::Permanent,
                OP,
                Some("InvalidParameterValueException"),
                "The cold storage transition of a recovery point already in cold storage cannot be changed",
            ));
        }
        let before = rp.delete_at;
        rp.lifecycle = *lifecycle;
        rp.delete_at = delete_at(rp.creation_date, lifecycle);
        let extended = match (before, rp.delete_at) {
            (Some(b), Some(a)) => a > b,
            (Some(_), None) => true,
            _ => false,
        };
        if matches!((before, rp.delete_at), (Some(b), Some(a)) if a < b) {
            self.retentions_shortened += 1;
        }
        let arn = rp.arn.clone();
        let changed = rp.clone();
        self.schedule_cold(&changed);
        self.schedule_expiry(&changed);
        self.counters.lifecycle_updates += 1;
        if extended {
            self.extended_points.insert(arn);
        }
        Ok(())
    }
}

/// A backup DynamoDB made itself (its ARN is the table's, then `/backup/`), not AWS Backup.
fn is_native(arn: &str) -> bool {
    RecoveryPointArn::parse(arn).is_ok_and(|a| a.is_dynamodb_native())
}

/// Takes `arn` out of a listing, where it is filed under its creation date: a look among the
/// points of that millisecond, not a pass over a vault of a million.
fn unlist(listing: &mut BTreeMap<(i64, u64), String>, creation_ms: i64, arn: &str) {
    let key = listing
        .range((creation_ms, 0)..=(creation_ms, u64::MAX))
        .find(|(_, a)| a.as_str() == arn)
        .map(|(k, _)| *k);
    if let Some(k) = key {
        listing.remove(&k);
    }
}
