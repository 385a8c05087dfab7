//! Only routes are chained. A recovery point in a vault of the policy is copied on only when it
//! is a backup made there, came by a route of the policy, or is the copy a route found held (the
//! ledger knows its hop). Anything else (a backup plan's copy action, a person's copy, data
//! planted in the vault by anyone the vault lets copy in) stays where it is: a copy from outside
//! the policy must not become a hundred years of bunker data.

use serde::Serialize;

use crate::arn::{TableArn, VaultArn};
use crate::ledger::Original;
use crate::policy::{Policy, Tags, Vault};

/// How a point came into its vault, as far as chaining it on is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provenance {
    /// A backup made in the vault (no source vault), or a copy that came by a route.
    Chainable,
    /// A copy from a vault no route of the policy copies into this one.
    Outside { source_vault_arn: String },
}

/// Where the point in `vault` came from, judged by its SourceBackupVaultArn.
pub fn provenance(policy: &Policy, vault: &Vault, source_vault_arn: Option<&str>) -> Provenance {
    let Some(source) = source_vault_arn.filter(|s| !s.is_empty()) else {
        return Provenance::Chainable;
    };
    let by_route = VaultArn::parse(source)
        .ok()
        .and_then(|arn| policy.vault_by_arn(&arn))
        .is_some_and(|from| {
            policy
                .routes
                .iter()
                .any(|r| r.from == from.alias && r.to == vault.alias)
        });
    if by_route {
        Provenance::Chainable
    } else {
        Provenance::Outside {
            source_vault_arn: source.to_string(),
        }
    }
}

/// Do the policy's routes bring this original into `vault` (its table selected along a path
/// from a vault where its backups are made)? Then a copy of it from elsewhere (a backup plan's
/// own copy action beside the route) serves the policy's hop and is chained on like the route's
/// own would be. A copy of anything else is not the policy's.
pub fn expected_in(
    policy: &Policy,
    vault: &Vault,
    original: &Original,
    resource_type: Option<&str>,
    tags: &Tags,
) -> bool {
    let Ok(table) = TableArn::parse(&original.resource_arn) else {
        return false;
    };
    policy
        .root_vaults()
        .into_iter()
        .filter(|root| root.arn.account == table.account && root.arn.region == table.region)
        .any(|root| {
            policy
                .vaults_reached(&root.alias, resource_type, tags)
                .iter()
                .any(|v| v.alias == vault.alias)
        })
}

/// A copy that came into a vault of the policy from outside its routes, of a table the policy does
/// not route there, that no route claimed: not chained on, and alerted once per flow (source
/// vault into vault).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnroutedCopy {
    pub recovery_point_arn: String,
    pub backup_vault_arn: String,
    pub source_vault_arn: String,
    pub original: Original,
}

impl UnroutedCopy {
    /// One incident per flow: every copy from that vault into this one is the same finding.
    pub fn incident_id(&self) -> String {
        format!(
            "unrouted#{}#{}",
            self.source_vault_arn, self.backup_vault_arn
        )
    }

    pub fn reason(&self) -> String {
        format!(
            "{} came into {} from {}, which no route of the policy copies into it, and the policy \
             does not route backups of {} there: it is not copied on",
            self.recovery_point_arn,
            self.backup_vault_arn,
            self.source_vault_arn,
            self.original.resource_arn
        )
    }
}
