//! A vault's recovery points, listed whole. A vault of a million points is a thousand pages: one
//! after another that is minutes (the bunker's serial listing was most of the report's time at
//! 250 accounts). So a vault that ListBackupVaults says is large is listed in creation-date
//! ranges, a page of each in flight together.
//!
//! The ranges are half-open and cover all time: the first has no start, the last no end, so a
//! point is listed whatever the vault's count and creation date say (they are hints). Each range's
//! query is widened by a second on both sides, because AWS does not document whether
//! ByCreatedAfter and ByCreatedBefore include their instant; a point is kept only by the range
//! that holds its creation date, so none is counted twice.

use chrono::{DateTime, Duration, Utc};

use relay_core::guard::PointView;
use relay_core::ports::{BackupPort, ListQuery};

use super::{first_page, points_gap, InventoryGap, VaultFacts};

/// Points a range is cut for: a vault above this is listed in ranges.
pub const RANGE_POINTS: u64 = 100_000;
/// Ranges of one vault in flight at once: six pages of 400 ms are 15 calls a second, under
/// ListRecoveryPointsByBackupVault's 20 a second per account and Region, with room for the
/// account's other readers.
pub const MAX_RANGES: u64 = 6;

/// Creation dates `[from, to)`; `None` is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl Range {
    pub const ALL: Range = Range {
        from: None,
        to: None,
    };

    pub fn holds(&self, created: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| created >= f) && self.to.is_none_or(|t| created < t)
    }

    /// The first page's query: the range widened by a second each side (see the module).
    pub fn query(&self) -> ListQuery {
        let second = Duration::seconds(1);
        ListQuery {
            created_after: self.from.and_then(|f| f.checked_sub_signed(second)),
            created_before: self.to.and_then(|t| t.checked_add_signed(second)),
            ..first_page()
        }
    }
}

/// The ranges `vault` is listed in at `now`: one per `per_range` points it holds, at most
/// [`MAX_RANGES`], of equal spans from the oldest point it can hold to `now`: its creation, or
/// its lock's longest retention ago if later (a vault kept for ever fills about evenly; one far
/// older than its points lists mostly in its last span, slower but still whole). One range of
/// all time when it is small or its facts are missing or odd.
pub fn ranges(vault: &VaultFacts, now: DateTime<Utc>, per_range: u64) -> Vec<Range> {
    let (Some(points), Some(created)) = (vault.recovery_points, vault.created) else {
        return vec![Range::ALL];
    };
    let kept = vault.lock.and_then(|l| l.max_retention_days);
    let oldest = kept.and_then(|d| now.checked_sub_signed(Duration::days(i64::from(d))));
    let created = oldest.map_or(created, |o| o.max(created));
    let count = points.div_ceil(per_range.max(1)).min(MAX_RANGES);
    let span = (now - created).num_seconds();
    let Ok(count_i) = i32::try_from(count) else {
        return vec![Range::ALL];
    };
    if count < 2 || span < i64::from(count_i) {
        return vec![Range::ALL];
    }
    let cuts: Vec<DateTime<Utc>> = (1..count_i)
        .filter_map(|j| {
            let offset = span.checked_mul(i64::from(j))? / i64::from(count_i);
            created.checked_add_signed(Duration::seconds(offset))
        })
        .collect();
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut from = None;
    for cut in cuts {
        out.push(Range {
            from,
            to: Some(cut),
        });
        from = Some(cut);
    }
    out.push(Range { from, to: None });
    out
}

/// Every page of `vault`, its ranges in flight together; each page's points, once each, handed
/// to `take` as they come (so a piece that spills holds a page per range, not the vault). A
/// range that fails ends; the vault's gap says its points were not all listed.
pub async fn list_vault<P, E>(
    ports: &P,
    vault: &VaultFacts,
    now: DateTime<Utc>,
    per_range: u64,
    mut take: impl FnMut(Vec<PointView>) -> Result<(), E>,
) -> Result<Option<InventoryGap>, E>
where
    P: BackupPort,
{
    let mut open: Vec<(Range, ListQuery)> = ranges(vault, now, per_range)
        .into_iter()
        .map(|r| (r, r.query()))
        .collect();
    let mut gap = None;
    while !open.is_empty() {
        let wanted: Vec<_> = open.iter().map(|(_, q)| (&vault.arn, q)).collect();
        let pages = ports.list_recovery_points_at_once(&wanted).await;
        let mut still = Vec::with_capacity(open.len());
        for ((range, mut query), page) in open.into_iter().zip(pages) {
            match page {
                Ok(page) => {
                    take(
                        page.items
                            .into_iter()
                            .filter(|p| range.holds(p.creation_date))
                            .collect(),
                    )?;
                    if let Some(token) = page.next_token {
                        query.page_token = Some(token);
                        still.push((range, query));
                    }
                }
                Err(e) => {
                    gap.get_or_insert_with(|| points_gap(&vault.arn, e));
                }
            }
        }
        open = still;
    }
    Ok(gap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn vault(points: Option<u64>, created: Option<DateTime<Utc>>) -> VaultFacts {
        VaultFacts {
            arn: relay_core::arn::VaultArn::parse(
                "arn:aws:backup:us-east-1:111111111111:backup-vault:bunker",
            )
            .expect("an ARN"),
            lock: None,
            encryption_key_arn: None,
            deny_manual_deletion: false,
            recovery_points: points,
            created,
        }
    }

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0)
            .single()
            .expect("a date")
    }

    #[test]
    fn a_large_vault_is_cut_into_even_spans_that_cover_all_time() {
        let r = ranges(&vault(Some(1_000_000), Some(at(1))), at(25), RANGE_POINTS);
        assert_eq!(r.len(), MAX_RANGES as usize);
        assert_eq!(r[0].from, None);
        assert_eq!(r[0].to, Some(at(5)));
        assert_eq!(r[5].from, Some(at(21)));
        assert_eq!(r[5].to, None);
        for pair in r.windows(2) {
            assert_eq!(pair[0].to, pair[1].from, "no gap, no overlap");
        }
        // A point older than the vault says it is, or newer than now, is still listed once.
        for created in [at(1) - Duration::days(400), at(5), at(31)] {
            assert_eq!(r.iter().filter(|r| r.holds(created)).count(), 1);
        }
    }

    #[test]
    fn a_locked_vault_is_cut_over_what_its_lock_lets_it_keep() {
        let mut v = vault(Some(1_000_000), Some(at(1) - Duration::days(3650)));
        v.lock = Some(relay_core::retention::VaultLock {
            min_retention_days: Some(1),
            max_retention_days: Some(24),
        });
        let r = ranges(&v, at(25), RANGE_POINTS);
        assert_eq!(r.len(), MAX_RANGES as usize);
        assert_eq!(r[0].to, Some(at(5)), "{r:?}");
    }

    #[test]
    fn a_small_vault_or_one_without_facts_is_one_range() {
        for v in [
            vault(Some(RANGE_POINTS), Some(at(1))),
            vault(None, Some(at(1))),
            vault(Some(1_000_000), None),
            // Made in the future (a skewed clock): no span to cut.
            vault(Some(1_000_000), Some(at(30))),
        ] {
            assert_eq!(ranges(&v, at(25), RANGE_POINTS), vec![Range::ALL]);
        }
        let two = ranges(
            &vault(Some(RANGE_POINTS + 1), Some(at(1))),
            at(25),
            RANGE_POINTS,
        );
        assert_eq!(two.len(), 2);
    }

    #[test]
    fn a_range_asks_a_second_wider_than_it_keeps() {
        let r = Range {
            from: Some(at(2)),
            to: Some(at(3)),
        };
        let q = r.query();
        assert_eq!(q.created_after, Some(at(2) - Duration::seconds(1)));
        assert_eq!(q.created_before, Some(at(3) + Duration::seconds(1)));
        assert!(r.holds(at(2)) && !r.holds(at(3)));
        assert_eq!(Range::ALL.query(), first_page());
    }
}
