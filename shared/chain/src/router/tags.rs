//! The router's side of tags on copies: what a landed copy's tags are made of, and tagging it
//! (or a copy a route found held) without ever holding up its chain.

use relay_core::arn::VaultArn;
use relay_core::event::{EventDetail, JobState, ParsedEvent};
use relay_core::ledger::Original;
use relay_core::plan::{self, Observed};
use relay_core::policy::Policy;
use relay_core::ports::{PortError, RouterPorts};

use super::{HeldCopy, RouteOutcome};
use crate::tagging::{apply, find_original, Tagged};

/// A copy job COMPLETED into a vault a route reaches from its source (tagging is asked of it).
pub(super) fn lands_by_route(policy: &Policy, event: &ParsedEvent) -> bool {
    let EventDetail::CopyJob(c) = &event.detail else {
        return false;
    };
    let (JobState::Completed, Some(dst), Some(src)) = (
        &c.state,
        &c.destination_backup_vault_arn,
        &c.source_backup_vault_arn,
    ) else {
        return false;
    };
    VaultArn::parse(dst)
        .ok()
        .and_then(|v| policy.vault_by_arn(&v))
        .and_then(|v| plan::route_into(policy, src, v))
        .is_some()
}

/// The original of a copy that landed by a route, when the policy tags copies: what its tags
/// are made of.
pub(super) async fn observe_original<P: RouterPorts>(
    ports: &P,
    policy: &Policy,
    event: &ParsedEvent,
    observed: &Observed,
) -> Result<Option<plan::OriginalPoint>, PortError> {
    let (EventDetail::CopyJob(c), Some(point)) = (&event.detail, &observed.point) else {
        return Ok(None);
    };
    let (Some(src_vault), Some(resource)) = (&c.source_backup_vault_arn, &point.resource_arn)
    else {
        return Ok(None);
    };
    if !lands_by_route(policy, event) || !policy.tags.tags_anything() {
        return Ok(None);
    }
    let original = Original::new(resource.clone(), point.creation_date);
    let source = c
        .source_recovery_point_arn
        .as_deref()
        .map(|p| (src_vault.as_str(), p));
    find_original(ports, policy, &original, source)
        .await
        .map(Some)
}

/// The policy's tags on a landed copy.
pub(super) async fn tag_copy<P: RouterPorts>(
    ports: &P,
    tag: &plan::TagRecoveryPoint,
    out: &mut RouteOutcome,
) -> Result<(), PortError> {
    match apply(ports, tag).await {
        Ok(Tagged::Added) => out.copies_tagged += 1,
        Ok(_) => {}
        // Retried with the event (every side effect of it is idempotent), or the account's one
        // incident; anything else is the repair's, never the chain's.
        Err(e) if e.kind.is_transient() || e.is_account_denied() => return Err(e),
        Err(e) => {
            tracing::warn!(route = %tag.route, error = %e, "copy not tagged; left to the repair")
        }
    }
    Ok(())
}

/// A copy someone else made, found held by a route: tagged as the route's own would be.
pub(super) async fn tag_held<P: RouterPorts>(
    ports: &P,
    policy: &Policy,
    copy: &HeldCopy,
    out: &mut RouteOutcome,
) -> Result<(), PortError> {
    if !policy.tags.tags_anything() || !copy.recovery_point_arn.contains(":backup:") {
        return Ok(());
    }
    let found = match find_original(ports, policy, &copy.original, None).await {
        Ok(found) => found,
        Err(e) if e.kind.is_transient() => return Err(e),
        Err(e) => {
            tracing::warn!(route = %copy.route, error = %e, "held copy's original unreadable; its tags wait for the repair");
            return Ok(());
        }
    };
    let action = plan::tag_action(
        policy,
        &copy.vault,
        &copy.recovery_point_arn,
        &copy.route,
        &copy.original,
        &found,
    );
    tag_copy(ports, &action, out).await
}
