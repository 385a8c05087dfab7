//! `relay doctor --world`: the simulated organisation answers the doctor's reads from the same
//! state that makes its copy jobs fail, so a misconfiguration the world file plants is found
//! before the simulation shows what it breaks.

use relay_compliance::inventory::PlanFacts;
use relay_compliance::InventoryPort;
use relay_core::arn::{Location, VaultArn};
use relay_core::ports::PortResult;
use relay_doctor::{Admission, DoctorPort, Forwarding, KeyFacts, RoleFacts, VaultState};

use crate::world::{vault_key_arn, vault_of_key, Sim};

/// The simulated organisation's id.
pub const SIM_ORGANIZATION: &str = "o-simulated0";

impl DoctorPort for Sim {
    async fn reach(&self, at: &Location) -> PortResult<()> {
        self.world().call_in(&at.account, &at.region, "AssumeRole")
    }

    async fn role(&self, at: &Location, _role_arn: &str) -> PortResult<Option<RoleFacts>> {
        let mut w = self.world();
        w.call_in(&at.account, &at.region, "GetRole")?;
        Ok(
            (!w.copy_role_missing.contains(&at.account)).then_some(RoleFacts {
                trusts_backup: true,
            }),
        )
    }

    async fn vault_state(&self, vault: &VaultArn) -> PortResult<Option<VaultState>> {
        let mut w = self.world();
        w.call_in(&vault.account, &vault.region, "DescribeBackupVault")?;
        Ok(w.vaults.get(vault).map(|v| VaultState {
            lock: v.lock,
            encryption_key_arn: Some(vault_key_arn(vault)),
        }))
    }

    async fn vault_admission(&self, vault: &VaultArn) -> PortResult<Admission> {
        let mut w = self.world();
        w.call_in(&vault.account, &vault.region, "GetBackupVaultAccessPolicy")?;
        let accounts = w
            .vaults
            .get(vault)
            .map(|v| w.copy_admits(v))
            .unwrap_or_default();
        Ok(Admission {
            accounts,
            ..Admission::default()
        })
    }

    async fn key(&self, at: &Location, key_arn_asked: &str) -> PortResult<KeyFacts> {
        let mut w = self.world();
        w.call_in(&at.account, &at.region, "GetKeyPolicy")?;
        // Looked up by the vault the key names, not by every vault's key in turn.
        let vault = vault_of_key(key_arn_asked).and_then(|arn| w.vaults.get(&arn));
        // Unrestricted (`None`): any account may use it, as the simulated copies allow.
        let admission = match vault.and_then(|v| v.kms_shared_with.clone()) {
            None => Admission {
                everyone: true,
                ..Admission::default()
            },
            Some(accounts) => Admission {
                accounts,
                ..Admission::default()
            },
        };
        Ok(KeyFacts::Customer(admission))
    }

    async fn backup_plans(&self, at: &Location) -> PortResult<Vec<PlanFacts>> {
        InventoryPort::backup_plans(self, at).await
    }

    async fn advanced_features(&self, at: &Location) -> PortResult<Option<bool>> {
        InventoryPort::advanced_features(self, at).await
    }

    async fn cross_account_backup(&self) -> PortResult<Option<bool>> {
        let mut w = self.world();
        w.throttled("DescribeGlobalSettings")?;
        Ok(Some(!w.cross_account_backup_disabled))
    }

    async fn organization_of(&self, at: &Location) -> PortResult<Option<String>> {
        let mut w = self.world();
        w.call_in(&at.account, &at.region, "DescribeOrganization")?;
        Ok(w.organization
            .contains(&at.account)
            .then(|| SIM_ORGANIZATION.to_string()))
    }

    async fn forwards_backup_events(&self, at: &Location) -> PortResult<Forwarding> {
        let mut w = self.world();
        w.call_in(&at.account, &at.region, "ListRules")?;
        let unforwarded = w
            .unforwarded
            .contains(&(at.account.clone(), at.region.clone()));
        Ok(if unforwarded {
            Forwarding::Nowhere
        } else {
            Forwarding::ToHub
        })
    }
}

impl crate::Simulation {
    /// `relay doctor --world`: the checks over the simulated organisation as it stands on the
    /// last of the run's days (`--days`): every account that has joined by then, with its
    /// spoke, and none that has left, so a late joiner the hub would refuse fails here first.
    /// Nothing else runs. Transient throttling is no misconfiguration: off for it.
    pub async fn doctor(&mut self) -> relay_doctor::DoctorReport {
        let mut unused = self.backup_queue();
        for day in 1..self.options.days {
            self.refresh_members(day, &mut unused).await;
        }
        let throttle = std::mem::replace(&mut self.sim.world().faults.throttle, 0.0);
        let report = relay_doctor::run(&self.sim, &self.policy).await;
        self.sim.world().faults.throttle = throttle;
        report
    }
}
