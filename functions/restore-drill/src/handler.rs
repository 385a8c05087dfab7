//! The handler: a scheduled start or look, in; the drills started, waiting and finished, out.

use lambda_runtime::{Diagnostic, LambdaEvent};
use relay_compliance::inventory::{locations, TableFacts};
use relay_compliance::InventoryPort;
use relay_core::ports::{PortError, RestoreEvidence, RestorePort, RouterPorts};
use relay_lambda::{event_id, HandlerError, LoadedPolicy};
use relay_restore::drill::{self, DrillConfig, DrillStore};
use serde_json::{json, Value};

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
    #[error(transparent)]
    Handler(#[from] HandlerError),
    #[error("DRILL_FROM names no vault of the policy: '{0}'")]
    UnknownVault(String),
    /// The ledger could not be read or written: the next look tries again from where this stopped.
    #[error("restore drill look stopped: {0}")]
    Port(#[from] PortError),
}

impl DrillError {
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Handler(HandlerError::InvalidPolicy { .. }) => "InvalidPolicy",
            Self::Handler(_) => "HandlerError",
            Self::UnknownVault(_) => "InvalidConfiguration",
            Self::Port(p) if p.kind.is_transient() => "TransientAwsError",
            Self::Port(_) => "PermanentAwsError",
        }
    }
}

impl From<DrillError> for Diagnostic {
    fn from(e: DrillError) -> Self {
        Diagnostic {
            error_type: e.error_type().to_string(),
            error_message: e.to_string(),
        }
    }
}

pub struct DrillFunction<P> {
    ports: P,
    policy: LoadedPolicy,
    config: DrillConfig,
}

impl<P> DrillFunction<P>
where
    P: DrillPorts,
    P::Ledger: RestoreEvidence + DrillStore,
{
    pub fn new(ports: P, policy: LoadedPolicy, config: DrillConfig) -> Self {
        Self {
            ports,
            policy,
            config,
        }
    }

    pub fn ports(&self) -> &P {
        &self.ports
    }

    /// `{"start": true}` begins a run; anything else only looks at the drills under way.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, DrillError> {
        let id = event_id(&event.payload);
        let in_force = self.policy.get(&self.ports, &id).await?;
        let policy = &in_force.policy;
        if let Some(alias) = self
            .config
            .from
            .as_ref()
            .filter(|a| policy.vault(a).is_none())
        {
            return Err(DrillError::UnknownVault(alias.clone()));
        }
        let start = event.payload.get("start").and_then(Value::as_bool) == Some(true);
        let tables = if start {
            self.tables(policy).await
        } else {
            Vec::new()
        };
        let report = drill::tick(&self.ports, policy, &tables, &self.config, start)
            .await
            .inspect_err(
                |e| tracing::error!(event_id = %id, error = %e, "restore drill look stopped"),
            )?;
        let passed = report.finished.iter().filter(|t| t.passed).count();
        tracing::info!(event_id = %id, started = report.started.len(), waiting = report.waiting.len(),
            finished = report.finished.len(), passed, "restore drills looked at");
        Ok(json!({
            "started": report.started,
            "waiting": report.waiting,
            "finished": report.finished,
        }))
    }

    /// The tables of every account and Region the policy reaches; one that cannot be read is
    /// logged and skipped (its drills wait for the next run; the report shows the gap).
    async fn tables(&self, policy: &relay_core::Policy) -> Vec<TableFacts> {
        let mut out = Vec::new();
        for at in locations(policy) {
            match self.ports.tables(&at).await {
                Ok(t) => out.extend(t),
                Err(e) => {
                    tracing::warn!(account = %at.account, region = %at.region, error = %e, "tables not read: no drill there this run")
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
