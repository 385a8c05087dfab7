//! Live AWS for `report --live` and `restore --live`: the policy file, and the ports the
//! functions use, with the caller's credentials at home and the executor role in other accounts.

use std::path::Path;

use relay_aws::{AwsPorts, DynamoLedger, SessionConfig, Sessions, SnsAlerts};
use relay_core::Policy;

use crate::{input, read_limited, Failure, EXAMPLE_POLICY, POLICY_LIMIT};

/// The policy's text (for the report's digest) and the policy.
pub(crate) fn policy(path: Option<&Path>) -> Result<(String, Policy), Failure> {
    let text = match path {
        Some(path) => read_limited(path, &POLICY_LIMIT)?,
        None => EXAMPLE_POLICY.to_string(),
    };
    let shown = path.map_or("embedded example policy".into(), |p| {
        p.display().to_string()
    });
    let policy = Policy::parse(&text).map_err(|e| input(format!("{shown}: {e}")))?;
    Ok((text, policy))
}

/// The ports over AWS. `ledger_table` is read only by what needs the ledger; the alert topic is
/// never used from the command line.
pub(crate) async fn ports(executor_role: &str, ledger_table: &str) -> Result<AwsPorts, Failure> {
    let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let caller = aws_sdk_sts::Client::new(&base)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            Failure::Found(format!(
                "cannot reach AWS with these credentials: {}",
                aws_sdk_sts::error::DisplayErrorContext(&e)
            ))
        })?;
    Ok(AwsPorts {
        ledger: DynamoLedger::new(aws_sdk_dynamodb::Client::new(&base), ledger_table),
        pieces: None,
        change_events: None,
        findings_sessions: None,
        alerts: SnsAlerts::new(aws_sdk_sns::Client::new(&base), ""),
        sessions: Sessions::new(
            base,
            SessionConfig {
                home_account: caller.account().map(str::to_string),
                executor_role_name: Some(executor_role.to_string()),
                session_name: relay_aws::session_name("cli"),
            },
        ),
    })
}

/// `policy` with its vault sets (and the report's scope) expanded with what AWS Organizations
/// answers, read through `ORGANIZATIONS_ROLE_ARN` when set (else the caller's own credentials,
/// as in the management account). A policy without sets is returned as it is.
pub(crate) async fn expanded(policy: Policy, ports: &AwsPorts) -> Result<Policy, Failure> {
    if policy.sets.is_empty() && !policy.reads_organization() {
        return Ok(policy);
    }
    let role = std::env::var("ORGANIZATIONS_ROLE_ARN")
        .ok()
        .filter(|r| !r.trim().is_empty());
    let org = relay_aws::AwsOrganizations::through_role(
        ports.sessions.base(),
        role.as_deref(),
        &relay_aws::session_name("cli"),
    )
    .await;
    let tree = relay_core::organization::read_tree(&org, &policy)
        .await
        .map_err(|e| Failure::Found(format!("cannot read the organisation's members: {e}")))?;
    Ok(policy.expand(&policy.membership(&tree)))
}
