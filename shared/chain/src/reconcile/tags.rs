//! The repair of copies left without their tags (a lost event, a failed TagResource): a held
//! copy of a recently completed source point whose hop is not marked tagged is tagged now.

use super::hop::selected;
use super::route::{is_held, Held, RouteCtx};
use super::*;
use crate::tagging::{self, Tagged};
use relay_core::plan::tag_action;

/// The hop the repair looks at for a source point, and its copy's ARN in the destination: a
/// held copy that landed recently, of a point of a selected type (its table's tags not read
/// yet). By the copy's landing, not the source's: a copy that waited days behind AWS's copy
/// quota, and whose event was lost, is repaired all the same.
fn candidate<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    point: &PointView,
    held: &Held,
    report: &ReconcileReport,
) -> Option<(Original, String)> {
    let now = ctx.ports.now();
    let resource = point.resource_arn.clone()?;
    let copy = held
        .get(&resource)?
        .get(&point.creation_date.timestamp_millis())?;
    let recent = copy
        .completed
        .is_some_and(|c| c > now - ctx.config.tag_check_within && c <= now - ctx.config.settle);
    let refused_here = report.tags_refused_in.contains(&ctx.to.arn.to_string());
    let type_selected = point
        .resource_type
        .as_deref()
        .is_none_or(|t| ctx.route.select.resource_types.iter().any(|rt| rt == t));
    if !ctx.policy.tags.tags_anything() || !recent || !is_held(point) || !type_selected {
        return None;
    }
    if refused_here {
        return None;
    }
    Some((
        Original::new(resource, point.creation_date),
        copy.arn.clone(),
    ))
}

/// The ledger records of a page's candidates, read in batches (BatchGetItem) rather than one
/// GetItem per point: a central vault's look-back is hundreds of thousands of points an hour.
/// A batch that fails leaves its records to be read one by one.
pub(super) async fn prefetch<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    points: &[PointView],
    held: &Held,
    report: &mut ReconcileReport,
) -> Records {
    let hops: Vec<HopKey> = points
        .iter()
        .filter(|p| ctx.takes(p))
        .filter_map(|p| candidate(ctx, p, held, &*report))
        .map(|(original, _)| HopKey::new(original, ctx.to.arn.to_string()))
        .collect();
    read_records(ctx, hops, report).await
}

/// The ledger records of every completed point of the page the piece takes: a fan-in route
/// reads them before it asks the destination anything (the hops the ledger accounts for need no
/// lookup), and the tag repair's candidates are among them.
pub(super) async fn prefetch_all<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    points: &[PointView],
    report: &mut ReconcileReport,
) -> Records {
    let hops: Vec<HopKey> = points
        .iter()
        .filter(|p| ctx.takes(p) && is_held(p))
        .filter_map(|p| {
            let resource = p.resource_arn.clone()?;
            let original = Original::new(resource, p.creation_date);
            Some(HopKey::new(original, ctx.to.arn.to_string()))
        })
        .collect();
    read_records(ctx, hops, report).await
}

async fn read_records<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    hops: Vec<HopKey>,
    report: &mut ReconcileReport,
) -> Records {
    if hops.is_empty() {
        return Records::new();
    }
    match ctx.ports.ledger().get_many(&hops).await {
        Ok(records) => hops.into_iter().zip(records).collect(),
        Err(e) => {
            // Not fatal (each record is read on its own), but never silent: a missing grant
            // would otherwise cost one GetItem per point for ever.
            tracing::warn!(error = %e, "batched ledger read failed; reading records one by one");
            report.errors.push(format!("BatchGetItem: {e}"));
            Records::new()
        }
    }
}

/// Ledger records read ahead for a page, by hop (`None`: no record).
pub(super) type Records = HashMap<HopKey, Option<HopRecord>>;

/// A source point whose copy the destination holds: if it completed recently and its hop is not
/// marked tagged, the copy gets its tags. Its record read ahead with the page's, ListTags and
/// TagResource only for an unmarked one.
pub(super) async fn check<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    point: &PointView,
    held: &Held,
    records: &Records,
    tags: &mut BTreeMap<String, Tags>,
    report: &mut ReconcileReport,
) -> Result<(), PortError> {
    let Some((original, held_copy)) = candidate(ctx, point, held, report) else {
        return Ok(());
    };
    if !selected(ctx, point, &original, tags).await? {
        return Ok(());
    }
    let hop = HopKey::new(original.clone(), ctx.to.arn.to_string());
    let record = match records.get(&hop) {
        Some(read) => read.clone(),
        None => ctx.ports.ledger().get(&hop).await?,
    };
    if record.as_ref().is_some_and(|r| r.tagged_at.is_some()) {
        return Ok(());
    }
    let copy = record
        .as_ref()
        .and_then(|r| r.destination_recovery_point_arn.clone())
        .unwrap_or(held_copy);
    if !copy.contains(":backup:") {
        return Ok(());
    }
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
