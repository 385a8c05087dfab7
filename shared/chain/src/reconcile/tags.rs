//! The repair of copies left without their tags (a lost event, a failed TagResource): a held
//! copy of a recently completed source point whose hop is not marked tagged is tagged now.

use super::hop::selected;
use super::route::{is_held, Held, RouteCtx};
use super::*;
use crate::tagging::{self, Tagged};
use relay_core::plan::tag_action;

/// A source point whose copy the destination holds: if it completed recently and its hop is not
/// marked tagged, the copy gets its tags. One GetItem per recent point; ListTags and TagResource
/// only for an unmarked one.
pub(super) async fn check<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    point: &PointView,
    held: &Held,
    tags: &mut BTreeMap<String, Tags>,
    report: &mut ReconcileReport,
) -> Result<(), PortError> {
    let now = ctx.ports.now();
    let recent = point
        .completion_date
        .is_some_and(|c| c > now - ctx.config.tag_check_within && c <= now - ctx.config.settle);
    let Some(resource) = point.resource_arn.clone() else {
        return Ok(());
    };
    let is_copied = held
        .get(&resource)
        .is_some_and(|s| s.contains(&point.creation_date.timestamp_millis()));
    let refused_here = report.tags_refused_in.contains(&ctx.to.arn.to_string());
    let type_selected = point
        .resource_type
        .as_deref()
        .is_none_or(|t| ctx.route.select.resource_types.iter().any(|rt| rt == t));
    if !ctx.policy.tags.tags_anything()
        || !recent
        || !is_held(point)
        || !is_copied
        || !type_selected
        || refused_here
    {
        return Ok(());
    }
    let original = Original::new(resource, point.creation_date);
    if !selected(ctx, point, &original, tags).await? {
        return Ok(());
    }
    let hop = HopKey::new(original.clone(), ctx.to.arn.to_string());
    let record = ctx.ports.ledger().get(&hop).await?;
    if record.as_ref().is_some_and(|r| r.tagged_at.is_some()) {
        return Ok(());
    }
    let copy = match record
        .as_ref()
        .and_then(|r| r.destination_recovery_point_arn.clone())
    {
        Some(arn) => Some(arn),
        None => copy_in_destination(ctx, &original).await?,
    };
    let Some(copy) = copy.filter(|c| c.contains(":backup:")) else {
        return Ok(());
    };
    let route = record
        .map(|r| r.route)
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| ctx.route.name());
    let source = (ctx.from.arn.to_string(), point.recovery_point_arn.clone());
    let found = tagging::find_original(
        ctx.ports,
        ctx.policy,
        &original,
        Some((&source.0, &source.1)),
    )
    .await?;
    let action = tag_action(ctx.policy, &ctx.to.arn, &copy, &route, &original, &found);
    match tagging::apply(ctx.ports, &action).await? {
        Tagged::Added => report.copies_tagged += 1,
        Tagged::Already | Tagged::Gone => {}
        // Refused (alerted once): the vault's other copies wait for the next pass, not each
        // its own refusal.
        Tagged::NotTagged => {
            report.tags_refused_in.insert(ctx.to.arn.to_string());
        }
    }
    Ok(())
}

/// The destination's copy of `original`, listed by resource and creation date.
async fn copy_in_destination<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    original: &Original,
) -> Result<Option<String>, PortError> {
    let query = tagging::points_of(original);
    let page = ctx.ports.list_recovery_points(&ctx.to.arn, &query).await?;
    Ok(page
        .items
        .into_iter()
        .find(|p| p.creation_date == original.creation_date && is_held(p))
        .map(|p| p.recovery_point_arn))
}
