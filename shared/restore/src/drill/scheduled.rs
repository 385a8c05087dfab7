//! The restore-drill function's invocation: a scheduled start or look. It checks the configured
//! vault, reads the tables to sample from (a start only), and takes one [`tick`].

use relay_compliance::inventory::{locations, TableFacts};
use relay_compliance::InventoryPort;
use relay_core::ports::{PortError, RestoreEvidence, RestorePort, RouterPorts};
use relay_core::Policy;

use super::{tick, DrillConfig, DrillStore, TickReport};

/// The ports a drill needs: the copy machinery's, restores, the tables to sample from, and a
/// ledger that keeps drills and their evidence. `AwsPorts` and the simulator are such.
pub trait DrillPorts: RouterPorts + RestorePort + InventoryPort + Sync
where
    Self::Ledger: RestoreEvidence + DrillStore,
{
}

impl<T> DrillPorts for T
where
    T: RouterPorts + RestorePort + InventoryPort + Sync,
    T::Ledger: RestoreEvidence + DrillStore,
{
}

#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error("DRILL_FROM names no vault of the policy: '{0}'")]
    UnknownVault(String),
    /// The ledger could not be read or written: the next look tries again from where this stopped.
    #[error("restore drill look stopped: {0}")]
    Port(#[from] PortError),
}

impl DrillError {
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::UnknownVault(_) => "InvalidConfiguration",
            Self::Port(p) if p.kind.is_transient() => "TransientAwsError",
            Self::Port(_) => "PermanentAwsError",
        }
    }
}

/// One invocation: `start` begins a run's drills besides looking at those under way.
pub async fn scheduled<P>(
    ports: &P,
    policy: &Policy,
    config: &DrillConfig,
    start: bool,
) -> Result<TickReport, DrillError>
where
    P: DrillPorts,
    P::Ledger: RestoreEvidence + DrillStore,
{
    if let Some(alias) = config.from.as_ref().filter(|a| policy.vault(a).is_none()) {
        return Err(DrillError::UnknownVault(alias.clone()));
    }
    let tables = if start {
        tables(ports, policy).await
    } else {
        Vec::new()
    };
    Ok(tick(ports, policy, &tables, config, start).await?)
}

/// The tables of every account and Region the policy reaches; one that cannot be read is
/// logged and skipped (its drills wait for the next run; the report shows the gap).
async fn tables<P: InventoryPort>(ports: &P, policy: &Policy) -> Vec<TableFacts> {
    let mut out = Vec::new();
    for at in locations(policy) {
        match ports.tables(&at).await {
            Ok(t) => out.extend(t),
            Err(e) => {
                tracing::warn!(account = %at.account, region = %at.region, error = %e, "tables not read: no drill there this run")
            }
        }
    }
    out
}
