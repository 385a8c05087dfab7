//! Which copies' tags a report run reads (`RELAY_COPY_TAGS`), within AWS's request rates.
//!
//! Each copy is one ListTags in its vault's account and Region, and AWS Backup answers 20 of
//! those a second there. A central vault or a bunker receiving a day's copies of an organisation
//! holds more copies to judge than a run could read in its 15 minutes (100,000 tables copied
//! there over the report's three days are 300,000 reads: over four hours). Where an account and
//! Region holds more copies to judge than the policy's `compliance.tag_reads_per_site` (4,800,
//! four minutes of the rate), the run reads the copies of a sample of tables there instead: one
//! table in 2^k, chosen by a hash of the table's ARN, so the same tables every run and in every
//! piece (a table's verdict does not come and go with a draw; the sample halves or doubles only
//! when the count of copies crosses the budget times a power of two). A table outside the sample
//! is not judged there, and its report says so. Originals are read for the sampled copies only.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use relay_core::guard::PointView;
use relay_core::stable_hash::fnv1a;

use relay_core::arn::site_key;

/// The sample is never thinner than one table in 2^20.
const MAX_SHIFT: u32 = 20;

/// Copies completed more than this long ago have had their tags put on (the router tags a copy
/// as it lands, the reconciler's hourly pass repairs what it missed): the report judges them.
pub const COPY_TAGS_SETTLE_HOURS: i64 = 3;
/// ... and those completed within this many days are the ones it reads (one ListTags each): the
/// daily report reads each copy on its first days, so the whole history is judged once, not daily.
pub const COPY_TAGS_DAYS: i64 = 3;
/// Is this a recovery point whose tags the report reads: a copy it judges (RELAY_COPY_TAGS), or
/// an original of the same days, whose tags its copies are held to?
pub fn judges_tags(p: &PointView, now: DateTime<Utc>) -> bool {
    // An original is read for copies made up to two days after it; a copy once settled.
    let (settle, days) = match p.source_vault_arn {
        Some(_) => (COPY_TAGS_SETTLE_HOURS, COPY_TAGS_DAYS),
        None => (0, COPY_TAGS_DAYS + 2),
    };
    let window = p.completion_date.is_some_and(|c| {
        c <= now - chrono::Duration::hours(settle) && c > now - chrono::Duration::days(days)
    });
    p.recovery_point_arn.contains(":backup:")
        && matches!(p.status.as_deref(), None | Some("COMPLETED" | "AVAILABLE"))
        && window
}

/// Per account and Region (`ACCOUNT/REGION`) of a vault: its copies are read for one table in
/// 2^k. Absent: every table (k = 0).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagSample {
    shifts: BTreeMap<String, u32>,
}

/// The key of the account and Region a point's vault is in.
fn site_of(point: &PointView) -> String {
    site_key(&point.vault.account, &point.vault.region)
}

/// Is this a copy whose tags the report judges (not an original, which is read for its copies)?
pub fn is_judged_copy(point: &PointView, now: DateTime<Utc>) -> bool {
    point.source_vault_arn.is_some() && judges_tags(point, now)
}

/// The smallest k with `copies / 2^k` within `budget` reads.
pub fn shift_for(copies: u64, budget: u32) -> u32 {
    (0..MAX_SHIFT)
        .find(|&k| copies >> k <= u64::from(budget))
        .unwrap_or(MAX_SHIFT)
}

impl TagSample {
    /// The sample for the copies listed: each account and Region's judged copies counted against
    /// `budget` reads.
    pub fn of<'a>(
        points: impl IntoIterator<Item = &'a PointView>,
        now: DateTime<Utc>,
        budget: u32,
    ) -> Self {
        let mut copies: BTreeMap<String, u64> = BTreeMap::new();
        for p in points.into_iter().filter(|p| is_judged_copy(p, now)) {
            *copies.entry(site_of(p)).or_default() += 1;
        }
        let mut sample = Self::default();
        for (site, n) in copies {
            sample.set(site, shift_for(n, budget));
        }
        sample
    }

    /// One account and Region's shift, as its inventory piece counted it.
    pub fn set(&mut self, site: String, shift: u32) {
        if shift > 0 {
            self.shifts.insert(site, shift.min(MAX_SHIFT));
        }
    }

    /// The shift of `account`/`region` (0: every table).
    pub fn shift(&self, account: &str, region: &str) -> u32 {
        self.shifts
            .get(&site_key(account, region))
            .copied()
            .unwrap_or(0)
    }

    /// Are this copy's tags read: is its table in the sample of its vault's account and Region?
    pub fn takes(&self, copy: &PointView) -> bool {
        let shift = self.shifts.get(&site_of(copy)).copied().unwrap_or(0);
        let Some(resource) = copy.resource_arn.as_deref() else {
            return true;
        };
        // The hash's high bits: the reconciler's slices take its low ones (hash % slices), and a
        // sample of the low bits would audit one slice's tag repairs only.
        shift == 0 || fnv1a(resource) >> (64 - shift) == 0
    }
}
