//! RELAY_COPY_TAGS: every copy the routes make carries the policy's tags (Tags on copies), read
//! off the copies themselves (ListTags) for those of the last days, settled.

use relay_core::copy_tags::{desired_tags, ORIGINAL_TAG, ROUTE_TAG};

use super::*;
use crate::inventory::{judges_tags, COPY_TAGS_DAYS};

pub(super) fn copy_tags(ix: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    if !ix.policy.tags.tags_anything() {
        return na("the policy asks no tags of copies");
    }
    if v.reached.is_empty() {
        return na("no route selects the table");
    }
    let judged: Vec<(&PointView, &relay_core::policy::Vault)> = v
        .points
        .iter()
        .filter(|p| judges_tags(p, ix.now))
        .filter_map(|p| Some((*p, *v.reached.iter().find(|r| r.arn == p.vault)?)))
        .collect();
    if judged.is_empty() {
        return na(format!(
            "no copy of the last {COPY_TAGS_DAYS} days to judge (copies are judged once settled)"
        ));
    }
    let (mut missing, mut unseen) = (Vec::new(), Vec::new());
    for (p, vault) in &judged {
        let lacks = match &p.tags {
            None => {
                unseen.push(evidence(
                    p,
                    "not verified: its tags could not be read".into(),
                ));
                continue;
            }
            Some(tags) => lacking(ix, v, vault, tags),
        };
        if !lacks.is_empty() {
            missing.push(evidence(p, format!("lacks {}", lacks.join(", "))));
        }
    }
    let n = judged.len();
    match (missing.len(), unseen.len()) {
        (0, 0) => ok(
            format!("all {n} copies of the last {COPY_TAGS_DAYS} days carry the policy's tags"),
            Vec::new(),
        ),
        (0, u) => bad(
            format!("{u} of {n} copies' tags could not be verified"),
            unseen,
        ),
        (m, _) => bad(
            format!("{m} of {n} copies lack the policy's tags"),
            missing.into_iter().chain(unseen).collect(),
        ),
    }
}

/// The tags a copy lacks: its lineage (when the policy keeps it) and the table's tags the policy
/// carries (the original inherited them; a tag added to the table later is not asked of older
/// copies' values, only of its presence where the table had it).
fn lacking(
    ix: &Index<'_>,
    v: &TableView<'_>,
    vault: &relay_core::policy::Vault,
    tags: &relay_core::policy::Tags,
) -> Vec<String> {
    let mut out = Vec::new();
    if ix.policy.tags.lineage() {
        let route_into_vault = tags.get(ROUTE_TAG).is_some_and(|r| {
            ix.policy
                .routes
                .iter()
                .any(|route| route.to == vault.alias && &route.name() == r)
        });
        if !route_into_vault {
            out.push(ROUTE_TAG.to_string());
        }
        if !tags.contains_key(ORIGINAL_TAG) {
            out.push(ORIGINAL_TAG.to_string());
        }
    }
    let wanted = desired_tags(&ix.policy.tags, &v.table.tags, "", "");
    out.extend(
        wanted
            .tags
            .keys()
            .filter(|k| k.as_str() != ROUTE_TAG && k.as_str() != ORIGINAL_TAG)
            .filter(|k| !tags.contains_key(*k))
            .cloned(),
    );
    out
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
