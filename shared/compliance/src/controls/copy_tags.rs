//! RELAY_COPY_TAGS: every copy the routes make carries the policy's tags (Tags on copies), read
//! off the copies themselves (ListTags), for those that completed in the last days, settled.
//! Each copy is held to what its original carries (read the same way), so a tag added to the
//! table later is not asked of older copies; without its original's tags, to its lineage.

use relay_core::copy_tags::{carries, desired_tags, route_value, ROUTE_TAG};

use super::*;
use crate::inventory::{judges_tags, COPY_TAGS_DAYS};

pub(super) fn copy_tags(ix: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    if !ix.policy.tags.tags_anything() {
        return na("the policy asks no tags of copies");
    }
    if v.reached.is_empty() {
        return na("no route selects the table");
    }
    // Only copies whose tags were read are judged; a read that failed is a gap of the report.
    let judged: Vec<(
        &PointView,
        &relay_core::policy::Vault,
        &relay_core::policy::Tags,
    )> = v
        .points
        .iter()
        .filter(|p| p.source_vault_arn.is_some() && judges_tags(p, ix.now))
        .filter_map(|p| {
            let vault = *v.reached.iter().find(|r| r.arn == p.vault)?;
            Some((*p, vault, p.tags.as_ref()?))
        })
        .collect();
    if judged.is_empty() {
        return na(format!(
            "no copy completed in the last {COPY_TAGS_DAYS} days to judge (copies are judged once settled)"
        ));
    }
    let missing: Vec<Evidence> = judged
        .iter()
        .filter_map(|(p, vault, tags)| {
            let lacks = lacking(ix, v, p, vault, tags);
            (!lacks.is_empty()).then(|| evidence(p, format!("lacks {}", lacks.join(", "))))
        })
        .collect();
    let n = judged.len();
    match missing.len() {
        0 => ok(
            format!("all {n} copies of the last {COPY_TAGS_DAYS} days carry the policy's tags"),
            Vec::new(),
        ),
        m => bad(format!("{m} of {n} copies lack the policy's tags"), missing),
    }
}

/// The tags a copy lacks: what the router would have put on it, from its original as the
/// inventory read it (its ARN, its tags), and the lineage of any route into its vault.
fn lacking(
    ix: &Index<'_>,
    v: &TableView<'_>,
    copy: &PointView,
    vault: &relay_core::policy::Vault,
    tags: &relay_core::policy::Tags,
) -> Vec<String> {
    let original = v.points.iter().find(|p| {
        p.source_vault_arn.is_none()
            && p.creation_date == copy.creation_date
            && p.vault != copy.vault
    });
    let route = ix
        .policy
        .routes
        .iter()
        .filter(|r| r.to == vault.alias)
        .map(|r| r.name())
        .find(|name| tags.get(ROUTE_TAG) == Some(&route_value(name)))
        .unwrap_or_else(|| format!("(a route into {})", vault.alias));
    let (arn, source_tags) = match original {
        Some(o) => (
            Some(o.recovery_point_arn.as_str()),
            o.tags.clone().unwrap_or_default(),
        ),
        None => (None, relay_core::policy::Tags::new()),
    };
    let wanted = desired_tags(&ix.policy.tags, &source_tags, arn, &route);
    if carries(&wanted.tags, tags) {
        return Vec::new();
    }
    wanted
        .tags
        .iter()
        .filter(|(k, val)| tags.get(*k) != Some(*val))
        .map(|(k, _)| k.clone())
        .collect()
}

fn evidence(p: &PointView, detail: String) -> Evidence {
    Evidence {
        recovery_point_arn: Some(p.recovery_point_arn.clone()),
        vault: Some(p.vault.to_string()),
        creation_date: Some(p.creation_date),
        delete_at: p.delete_at,
        detail: Some(detail),
    }
}
