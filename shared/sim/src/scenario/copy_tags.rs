//! `copies_missing_tags`: COMPLETED copies without the policy's tags, read off the simulated
//! vaults (the tags AWS holds on each point), never from the functions' bookkeeping.

use std::collections::HashMap;

use relay_core::copy_tags::{carries, desired_tags, route_value, ROUTE_TAG};

use super::summary::table_tags;
use super::*;
use crate::world::SimRecoveryPoint;

impl Simulation {
    pub(super) fn count_missing_tags(&self, w: &World) -> u64 {
        if !self.policy.tags.tags_anything() {
            return 0;
        }
        // By (table, creation date), for copies whose line back is broken; two originals of one
        // table made at once (two root vaults, two plans) keep the least ARN, whatever the
        // map's order.
        let mut originals: HashMap<Original, &SimRecoveryPoint> = HashMap::new();
        for rp in w.recovery_points.values().filter(|rp| rp.source.is_none()) {
            let key = Original::new(rp.resource_arn.clone(), rp.creation_date);
            let kept = originals.entry(key).or_insert(rp);
            if rp.arn < kept.arn {
                *kept = rp;
            }
        }
        let copies = w.recovery_points.values().filter(|rp| {
            rp.source.is_some() && rp.status == "COMPLETED" && rp.arn.contains(":backup:")
        });
        copies
            .filter(|copy| !self.copy_tagged(w, copy, &originals))
            .count() as u64
    }

    /// Does this copy, if the policy requires it, carry what the policy asks?
    fn copy_tagged(
        &self,
        w: &World,
        copy: &SimRecoveryPoint,
        originals: &HashMap<Original, &SimRecoveryPoint>,
    ) -> bool {
        let original = Original::new(copy.resource_arn.clone(), copy.creation_date);
        let found = original_of(w, copy).or_else(|| originals.get(&original).copied());
        let table = table_tags(w, &copy.resource_arn);
        // The original's vault; once it has expired, the root vault of its table's account
        // and Region (where the backup plan put it).
        let table_at = TableArn::parse(&copy.resource_arn).ok();
        let root = found
            .and_then(|o| self.policy.vault_by_arn(&o.vault))
            .or_else(|| {
                let t = table_at.as_ref()?;
                self.policy
                    .root_vaults()
                    .into_iter()
                    .find(|v| v.arn.account == t.account && v.arn.region == t.region)
            });
        let Some(vault) = self.policy.vault_by_arn(&copy.vault) else {
            return true;
        };
        let required = root.is_some_and(|r| {
            self.required_vaults(&r.alias, &table)
                .iter()
                .any(|(_, arn)| arn == &copy.vault)
        });
        if !required {
            return true;
        }
        let present = w.point_tags.get(&copy.arn).cloned().unwrap_or_default();
        // Any route into the vault may have made it: the lineage names which.
        let route = self.policy.routes.iter().find(|route| {
            route.to == vault.alias && present.get(ROUTE_TAG) == Some(&route_value(&route.name()))
        });
        let route = match (route, self.policy.tags.lineage()) {
            (Some(r), _) => r.name(),
            (None, true) => return false,
            (None, false) => String::new(),
        };
        let (arn, source_tags) = match found {
            Some(o) => (
                Some(o.arn.as_str()),
                w.point_tags.get(&o.arn).cloned().unwrap_or_default(),
            ),
            None => (None, table),
        };
        let desired = desired_tags(&self.policy.tags, &source_tags, arn, &route);
        carries(&desired.tags, &present)
    }
}

/// The original a copy was made from, followed back through the points still held (a copy of a
/// copy names its source, which names its own); `None` when a point on the way is gone.
fn original_of<'a>(w: &'a World, copy: &SimRecoveryPoint) -> Option<&'a SimRecoveryPoint> {
    let mut source = copy.source.as_ref()?;
    // A chain is as long as the policy's longest path; the bound only guards a cycle.
    for _ in 0..1_000 {
        let point = w.recovery_points.get(source)?;
        match &point.source {
            None => return Some(point),
            Some(next) => source = next,
        }
    }
    None
}
