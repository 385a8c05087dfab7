//! One schedule and lifecycle, per GB of table: the average GB it holds warm and cold in a month,
//! and the backups it makes in a month (each a full copy; moved again where a hop crosses Regions).
//!
//! Exact, in closed form: backup k is made at hour `k * every_hours` (k = 0, 1, ...), held warm
//! from then until its cold transition (or its deletion), cold until its deletion. The number of
//! points of an age within [A, B) at time s is `made(s - A) - made(s - B)`, where `made(x)` is the
//! number of backups made by hour x; its integral over a month is a difference of
//! [`made_integral`], a sum of whole hours computed without a loop over the backups.

use super::HOURS_PER_MONTH;

const HOURS_PER_DAY: i64 = 24;

/// A holding's schedule and lifecycle. Days count from the original backup's creation, which every
/// copy keeps (facts §3); `delete_days: None` keeps it for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Life {
    pub(crate) every_hours: u32,
    pub(crate) delete_days: Option<u32>,
    pub(crate) cold_days: Option<u32>,
}

/// What one GB of table costs a holding in one month: GB held warm and cold on average.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Held {
    pub(crate) warm: f64,
    pub(crate) cold: f64,
}

impl Life {
    /// The least in `Life`'s order: the start of a range over a vault's holdings.
    pub(crate) const MIN: Life = Life {
        every_hours: 0,
        delete_days: None,
        cold_days: None,
    };

    fn every(&self) -> i64 {
        i64::from(self.every_hours.max(1))
    }

    fn delete_hours(&self) -> Option<i64> {
        self.delete_days.map(|d| i64::from(d) * HOURS_PER_DAY)
    }

    /// When a point goes cold, if it does before it is deleted.
    fn cold_hours(&self) -> Option<i64> {
        let delete = self.delete_hours();
        self.cold_days
            .map(|c| i64::from(c) * HOURS_PER_DAY)
            .filter(|c| delete.is_none_or(|d| *c < d))
    }

    /// The average GB held warm and cold in month `month` (1-based), per GB of table.
    pub(crate) fn month(&self, month: u32) -> Held {
        let (a, b) = window(month);
        let p = self.every();
        let cold = self.cold_hours();
        let delete = self.delete_hours();
        let warm_hours = aged_hours(a, b, 0, cold.or(delete), p);
        let cold_hours = cold.map_or(0, |c| aged_hours(a, b, c, delete, p));
        Held {
            warm: warm_hours as f64 / HOURS_PER_MONTH as f64,
            cold: cold_hours as f64 / HOURS_PER_MONTH as f64,
        }
    }
}

/// Backups made in month `month` (1-based) every `every_hours`: each moves its table's size once
/// per cross-Region hop.
pub(crate) fn backups(every_hours: u32, month: u32) -> f64 {
    let (a, b) = window(month);
    let p = i64::from(every_hours.max(1));
    (ceil_div(b, p) - ceil_div(a, p)) as f64
}

/// The hours month `month` (1-based) spans, from hour 0: [a, b).
fn window(month: u32) -> (i64, i64) {
    let m = i64::from(month.max(1));
    ((m - 1) * HOURS_PER_MONTH, m * HOURS_PER_MONTH)
}

fn ceil_div(x: i64, p: i64) -> i64 {
    (x + p - 1).div_euclid(p)
}

/// Point-hours within [a, b) of points aged within [from, to) (`to: None`: no end).
fn aged_hours(a: i64, b: i64, from: i64, to: Option<i64>, p: i64) -> i64 {
    let younger = made_integral(b - from, p) - made_integral(a - from, p);
    let older = to.map_or(0, |t| made_integral(b - t, p) - made_integral(a - t, p));
    younger - older
}

/// The integral from hour 0 to hour x of the number of backups made by then (backups at 0, p,
/// 2p, ...: `floor(s / p) + 1` at hour s); 0 for x <= 0. Whole hours, so exact in integers:
/// with x at most 1200 months (876,000 hours), the value stays below 4e11.
fn made_integral(x: i64, p: i64) -> i64 {
    if x <= 0 {
        return 0;
    }
    let q = x / p;
    let r = x - q * p;
    p * q * (q - 1) / 2 + q * r + x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn life(every_hours: u32, delete_days: Option<u32>, cold_days: Option<u32>) -> Life {
        Life {
            every_hours,
            delete_days,
            cold_days,
        }
    }

    /// The same figure by brute force: every backup, its overlap with the month, hour by hour.
    fn brute(l: Life, month: u32) -> Held {
        let (a, b) = window(month);
        let (mut warm, mut cold) = (0i64, 0i64);
        let mut made = 0;
        while made < b {
            let cold_at = l.cold_hours().map(|c| made + c);
            let gone_at = l.delete_hours().map(|d| made + d);
            for h in a.max(made)..b {
                if gone_at.is_some_and(|g| h >= g) {
                    break;
                }
                if cold_at.is_some_and(|c| h >= c) {
                    cold += 1;
                } else {
                    warm += 1;
                }
            }
            made += l.every();
        }
        let per = HOURS_PER_MONTH as f64;
        Held {
            warm: warm as f64 / per,
            cold: cold as f64 / per,
        }
    }

    #[test]
    fn the_closed_form_is_the_sum_over_every_backup() {
        for l in [
            life(24, Some(35), None),
            life(24, Some(365), Some(30)),
            life(12, None, None),
            life(7, Some(200), Some(100)),
            life(24, Some(10), Some(30)), // cold after deletion: never cold
        ] {
            for month in [1, 2, 5, 13] {
                let (fast, slow) = (l.month(month), brute(l, month));
                assert!((fast.warm - slow.warm).abs() < 1e-9, "{l:?} {month}");
                assert!((fast.cold - slow.cold).abs() < 1e-9, "{l:?} {month}");
            }
        }
    }

    #[test]
    fn backups_per_month_add_up_to_the_schedule() {
        let year: f64 = (1..=12).map(|m| backups(24, m)).sum();
        assert_eq!(year, 365.0);
        assert_eq!(backups(24, 1), 31.0); // hours 0, 24, ..., 720
        assert_eq!(backups(730, 3), 1.0);
    }
}
