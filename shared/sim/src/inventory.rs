//! The inventory reads (ListTables and friends) over the simulated organisation, with the pages
//! and per-item calls the real APIs would need, so the benchmark's call counts mean something.

use relay_compliance::inventory::{PlanFacts, TableFacts, VaultFacts, TABLE_READS_AT_ONCE};
use relay_compliance::InventoryPort;
use relay_core::arn::Location;
use relay_core::ports::PortResult;

use crate::world::{in_flight_together, Sim, World};

/// ListTables' page (its maximum Limit).
pub const TABLES_PAGE: usize = 100;
/// ListBackups' page.
pub const BACKUPS_PAGE: usize = 100;
/// ListBackupVaults' page (its maximum MaxResults).
pub const VAULTS_PAGE: usize = 1000;

fn pages(items: usize, page: usize) -> usize {
    items.div_ceil(page).max(1)
}

impl World {
    fn tables_in(&mut self, at: &Location) -> PortResult<Vec<TableFacts>> {
        let here: Vec<usize> = (0..self.tables.len())
            .filter(|&i| {
                let t = &self.tables[i].arn;
                t.account == at.account && t.region == at.region
            })
            .collect();
        for _ in 0..pages(here.len(), TABLES_PAGE) {
            self.call_in(&at.account, &at.region, "ListTables")?;
        }
        let mut native_total = 0;
        let mut out = Vec::with_capacity(here.len());
        // The tables' tags and PITR, several tables in flight together, as the adapter reads them.
        for window in here.chunks(TABLE_READS_AT_ONCE) {
            let read = in_flight_together(self, window, |w, _| {
                w.call_in(&at.account, &at.region, "ListTagsOfResource")?;
                w.call_in(&at.account, &at.region, "DescribeContinuousBackups")
            });
            read.into_iter().collect::<PortResult<Vec<()>>>()?;
        }
        for i in here {
            let t = &self.tables[i];
            let arn = t.arn.to_string();
            // What ListBackups shows: the table's own native backups, and those AWS Backup made
            // where advanced features are off.
            let native = t.native_backups as usize + self.native_points_of(&arn);
            native_total += native;
            out.push(TableFacts {
                name: t.arn.table.clone(),
                account: t.arn.account.clone(),
                region: t.arn.region.clone(),
                tags: t.tags.clone(),
                pitr: Some(t.pitr),
                native_backups: u32::try_from(native).unwrap_or(u32::MAX),
                arn,
            });
        }
        for _ in 0..pages(native_total, BACKUPS_PAGE) {
            self.call_in(&at.account, &at.region, "ListBackups")?;
        }
        Ok(out)
    }

    fn vaults_in(&mut self, at: &Location) -> PortResult<Vec<VaultFacts>> {
        let here: Vec<VaultFacts> = self
            .vaults
            .values()
            .filter(|v| v.arn.account == at.account && v.arn.region == at.region)
            .map(|v| VaultFacts {
                arn: v.arn.clone(),
                lock: v.lock,
                encryption_key_arn: Some(crate::world::vault_key_arn(&v.arn)),
                deny_manual_deletion: v.deny_manual_deletion,
                recovery_points: Some(self.points_in(&v.arn).count() as u64),
                created: Some(v.created),
            })
            .collect();
        for _ in 0..pages(here.len(), VAULTS_PAGE) {
            self.call_in(&at.account, &at.region, "ListBackupVaults")?;
        }
        for _ in &here {
            self.call_in(&at.account, &at.region, "GetBackupVaultAccessPolicy")?;
        }
        Ok(here)
    }

    fn plans_in(&mut self, at: &Location) -> PortResult<Vec<PlanFacts>> {
        let here: Vec<PlanFacts> = self
            .backup_plans
            .iter()
            .filter(|p| p.account == at.account && p.region == at.region)
            .cloned()
            .collect();
        self.call_in(&at.account, &at.region, "ListBackupPlans")?;
        // One rule and one selection per simulated plan.
        for _ in &here {
            self.call_in(&at.account, &at.region, "GetBackupPlan")?;
            self.call_in(&at.account, &at.region, "ListBackupSelections")?;
            self.call_in(&at.account, &at.region, "GetBackupSelection")?;
        }
        Ok(here)
    }
}

impl InventoryPort for Sim {
    async fn tables(&self, at: &Location) -> PortResult<Vec<TableFacts>> {
        self.world().tables_in(at)
    }

    async fn advanced_features(&self, at: &Location) -> PortResult<Option<bool>> {
        let mut w = self.world();
        w.call_in(&at.account, &at.region, "DescribeRegionSettings")?;
        let native = w
            .native_regions
            .contains(&(at.account.clone(), at.region.clone()));
        Ok(Some(!native))
    }

    async fn vaults(&self, at: &Location) -> PortResult<Vec<VaultFacts>> {
        self.world().vaults_in(at)
    }

    async fn backup_plans(&self, at: &Location) -> PortResult<Vec<PlanFacts>> {
        self.world().plans_in(at)
    }
}
