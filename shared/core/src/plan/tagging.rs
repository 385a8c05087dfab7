//! The tags a landed copy must carry (Tags on copies, contract): planned with the copy's other
//! actions, applied by the router in the destination vault's account.

use serde::Serialize;

use super::find::Landing;
use super::Observed;
use crate::arn::VaultArn;
use crate::copy_tags::{desired_tags, DroppedTag};
use crate::ledger::Original;
use crate::policy::{Policy, Tags, Vault};

/// TagResource on a copy where it landed: the tags the policy asks of it (the router adds only
/// those it lacks, and calls nothing when it has them all).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagRecoveryPoint {
    pub account: String,
    pub region: String,
    pub recovery_point_arn: String,
    pub backup_vault_arn: String,
    pub route: String,
    pub original: Original,
    pub tags: Tags,
    /// Tags of the original left off the copy, with why (alerted once per route).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<DroppedTag>,
    /// What the plan could not know (`relay plan` reads nothing from AWS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The original recovery point a copy descends from, as the router found it: its ARN (`None`
/// when it is gone: expired, or never listed) and its tags (the table's when it is gone).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OriginalPoint {
    pub arn: Option<String>,
    pub tags: Tags,
}

/// The route that brought a copy from `source_vault` into `vault`, if a route did.
pub fn route_into(policy: &Policy, source_vault: &str, vault: &Vault) -> Option<String> {
    let from = policy.vault_by_arn(&VaultArn::parse(source_vault).ok()?)?;
    policy
        .routes_from(&from.alias)
        .find(|r| r.to == vault.alias)
        .map(|r| r.name())
}

/// The route by which a landed copy came into `vault`, if one did.
pub(super) fn route_into_of<'p>(
    policy: &'p Policy,
    landing: &Landing,
    vault: &Vault,
) -> Option<&'p crate::policy::Route> {
    let from = policy.vault_by_arn(&VaultArn::parse(landing.source_vault.as_deref()?).ok()?)?;
    policy
        .routes_from(&from.alias)
        .find(|r| r.to == vault.alias)
}

/// Is `vault_arn` where backup plans put originals (no route copies into it)?
pub fn is_root(policy: &Policy, vault_arn: &str) -> bool {
    let Ok(arn) = VaultArn::parse(vault_arn) else {
        return false;
    };
    policy
        .vault_by_arn(&arn)
        .is_some_and(|v| !policy.routes.iter().any(|r| r.to == v.alias))
}

/// The tag action of a copy built from what is known of its original.
pub fn tag_action(
    policy: &Policy,
    vault: &VaultArn,
    copy_arn: &str,
    route: &str,
    original: &Original,
    found: &OriginalPoint,
) -> TagRecoveryPoint {
    // Gone before its copy was tagged: no original tag (an ARN guessed would be a lie).
    let desired = desired_tags(&policy.tags, &found.tags, found.arn.as_deref(), route);
    TagRecoveryPoint {
        account: vault.account.clone(),
        region: vault.region.clone(),
        recovery_point_arn: copy_arn.to_string(),
        backup_vault_arn: vault.to_string(),
        route: route.to_string(),
        original: original.clone(),
        tags: desired.tags,
        dropped: desired.dropped,
        note: None,
    }
}

/// The tag action for a copy that landed by a route, if the policy asks for tags. Without what
/// the router found of the original (as in `relay plan`, which reads nothing), a copy straight
/// from a root vault names the event's source point, whose tags are the table's (AWS Backup's
/// tag inheritance); a copy of a copy names the source point it came from.
pub(super) fn for_landing(
    policy: &Policy,
    landing: &Landing,
    vault: &Vault,
    original: &Original,
    observed: &Observed,
) -> Option<TagRecoveryPoint> {
    if !policy.tags.tags_anything() || !landing.recovery_point.contains(":backup:") {
        return None;
    }
    let source_vault = landing.source_vault.as_deref()?;
    let into = route_into_of(policy, landing, vault)?;
    // Only what the route selects is the route's copy (not another resource type a plan copied
    // beside it, nor a table its tags leave out).
    if !into
        .select
        .matches(landing.resource_type.as_deref(), &observed.resource_tags)
    {
        return None;
    }
    let route = into.name();
    let from_root = is_root(policy, source_vault);
    let found = observed.original.clone().unwrap_or_else(|| OriginalPoint {
        arn: landing.source_point.clone().filter(|_| from_root),
        tags: observed.resource_tags.clone(),
    });
    let mut action = tag_action(
        policy,
        &vault.arn,
        &landing.recovery_point,
        &route,
        original,
        &found,
    );
    if found.arn.is_none() && policy.tags.lineage() {
        action.note = Some(format!(
            "{} names the original backup, which the router finds in the root vault of {} \
             (the original's tags, not the table's, are carried when it is there)",
            crate::copy_tags::ORIGINAL_TAG,
            original.resource_arn
        ));
    }
    Some(action)
}
