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
    let (mut judged, mut missing, mut unverified) = (0, Vec::new(), Vec::new());
    let copies = v
        .points
        .iter()
        .filter(|p| p.source_vault_arn.is_some() && judges_tags(p, ix.now))
        .filter_map(|p| Some((*p, *v.reached.iter().find(|r| r.arn == p.vault)?)));
    let (copies, unsampled): (Vec<_>, Vec<_>) =
        copies.partition(|(copy, _)| ix.tag_sample.takes(copy));
    for (copy, vault) in copies {
        match lacking(ix, v, copy, vault) {
            // Its tags, or its original's, were not read: a gap of the report, not a verdict.
            None => unverified.push(evidence(copy, "not verified: tags not read".into())),
            Some(lacks) if lacks.is_empty() => judged += 1,
            Some(lacks) => {
                judged += 1;
                missing.push(evidence(copy, format!("lacks {}", lacks.join(", "))));
            }
        }
    }
    let unread = match (unverified.len(), unsampled.len()) {
        (0, 0) => String::new(),
        (u, 0) => format!(" ({u} more could not be verified)"),
        (0, s) => format!(" ({s} more not in the tag sample)"),
        (u, s) => format!(" ({u} more could not be verified, {s} not in the tag sample)"),
    };
    match (judged, missing.len()) {
        (0, _) if unverified.is_empty() && !unsampled.is_empty() => na(not_sampled(ix, &unsampled)),
        (0, _) if unverified.is_empty() => na(format!(
            "no copy completed in the last {COPY_TAGS_DAYS} days to judge (copies are judged once settled)"
        )),
        (0, _) => na(format!(
            "{} copies of the last {COPY_TAGS_DAYS} days could not be verified (see the gaps){}",
            unverified.len(),
            match unsampled.len() {
                0 => String::new(),
                s => format!("; {s} more not in the tag sample"),
            }
        )),
        (n, 0) => ok(
            format!("all {n} copies of the last {COPY_TAGS_DAYS} days carry the policy's tags{unread}"),
            Vec::new(),
        ),
        (n, m) => bad(format!("{m} of {n} copies lack the policy's tags{unread}"), missing),
    }
}

/// Why a table's copies were not judged: their vaults' accounts and Regions hold more copies than
/// a run may read, and the table is not in their sample (the same tables every run).
fn not_sampled(ix: &Index<'_>, unsampled: &[(&PointView, &relay_core::policy::Vault)]) -> String {
    let sites: BTreeSet<String> = unsampled
        .iter()
        .map(|(copy, _)| {
            let shift = ix.tag_sample.shift(&copy.vault.account, &copy.vault.region);
            let one_in = 1_u64 << shift;
            format!(
                "{}/{} (one table in {one_in})",
                copy.vault.account, copy.vault.region
            )
        })
        .collect();
    format!(
        "{} copies of the last {COPY_TAGS_DAYS} days not in the tag sample: {} hold more copies than a run reads (compliance.tag_reads_per_site: {} an account and Region, within AWS's 20 ListTags a second), and their tags are read for a sample of tables, the same each run",
        unsampled.len(),
        sites.into_iter().collect::<Vec<_>>().join(", "),
        ix.params.tag_reads_per_site
    )
}

/// The tags a copy lacks (`None`: not judged, its tags or its original's unread): what the router
/// would have put on it from its original as the inventory read it, and the lineage of a route
/// into its vault. An original no longer held asks only the lineage.
fn lacking(
    ix: &Index<'_>,
    v: &TableView<'_>,
    copy: &PointView,
    vault: &relay_core::policy::Vault,
) -> Option<Vec<String>> {
    let tags = copy.tags.as_ref()?;
    let original = v.points.iter().find(|p| {
        p.source_vault_arn.is_none()
            && p.creation_date == copy.creation_date
            && relay_core::plan::is_root(ix.policy, &p.vault.to_string())
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
        Some(o) => (Some(o.recovery_point_arn.as_str()), o.tags.clone()?),
        None => (None, relay_core::policy::Tags::new()),
    };
    let wanted = desired_tags(&ix.policy.tags, &source_tags, arn, &route);
    if carries(&wanted.tags, tags) {
        return Some(Vec::new());
    }
    Some(
        wanted
            .tags
            .iter()
            .filter(|(k, val)| tags.get(*k) != Some(*val))
            .map(|(k, _)| k.clone())
            .collect(),
    )
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
