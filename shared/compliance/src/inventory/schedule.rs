//! How often a backup plan rule runs, from its AWS Backup schedule expression.
//!
//! AWS Backup schedules are EventBridge-style `cron(MIN HOUR DOM MONTH DOW YEAR)` (or `rate(...)`).
//! The period is the **longest** gap between two runs, rounded up to whole hours: a rule that runs
//! at 01:00 and 05:00 leaves 20 hours uncovered, and that is what a minimum-frequency control asks.
//! Months count as 31 days (the worst case), so a monthly rule is 744 hours.

use std::collections::BTreeSet;

const MINUTES_A_DAY: u64 = 24 * 60;

/// Hours between runs of `expr`; `None` when it is not a schedule this can read as a period.
pub fn schedule_every_hours(expr: &str) -> Option<u32> {
    let expr = expr.trim();
    let minutes = if let Some(body) = inner(expr, "rate(") {
        rate_minutes(body)?
    } else if let Some(body) = inner(expr, "cron(") {
        cron_longest_gap(body)?
    } else {
        return None;
    };
    u32::try_from(minutes.div_ceil(60).max(1)).ok()
}

/// The text between `prefix` and the closing parenthesis.
fn inner<'a>(expr: &'a str, prefix: &str) -> Option<&'a str> {
    let head = expr.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    expr.get(prefix.len()..)?.strip_suffix(')')
}

fn rate_minutes(body: &str) -> Option<u64> {
    let mut words = body.split_whitespace();
    let (Some(n), Some(unit), None) = (words.next(), words.next(), words.next()) else {
        return None;
    };
    let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
    let per = match unit.to_ascii_lowercase().trim_end_matches('s') {
        "minute" => 1,
        "hour" => 60,
        "day" => MINUTES_A_DAY,
        _ => return None,
    };
    n.checked_mul(per)
}

/// The six fields, and the longest gap between two runs in minutes.
fn cron_longest_gap(body: &str) -> Option<u64> {
    let f: Vec<&str> = body.split_whitespace().collect();
    let [minute, hour, dom, month, dow, year] = f.as_slice() else {
        return None;
    };
    if !is_any(year) {
        return None; // specific years: the schedule stops, it has no period
    }
    let minutes = expand(minute, 0, 59, &[])?;
    let hours = expand(hour, 0, 23, &[])?;
    let months = expand(month, 1, 12, &MONTHS)?;
    let all_months = months.len() == 12;
    let times_of_day: Vec<u64> = hours
        .iter()
        .flat_map(|h| {
            minutes
                .iter()
                .map(move |m| u64::from(*h) * 60 + u64::from(*m))
        })
        .collect();
    let every_day: BTreeSet<u32> = (1..=31).collect();
    match (is_any(dom), is_any(dow)) {
        (true, true) if all_months => longest_gap(&[0], &times_of_day, 1),
        (true, true) => in_year(&months, &every_day, &times_of_day),
        (true, false) if all_months => {
            let days: Vec<u64> = expand(dow, 1, 7, &DAYS)?
                .iter()
                .map(|d| u64::from(d - 1))
                .collect();
            longest_gap(&days, &times_of_day, 7)
        }
        (false, true) => {
            let days = if *dom == "L" {
                BTreeSet::from([31])
            } else {
                expand(dom, 1, 31, &[])?
            };
            in_year(&months, &days, &times_of_day)
        }
        // Weekdays in some months only, or both day fields set (AWS refuses that): no period.
        _ => None,
    }
}

/// Days of the month in the months given: on one 31-day month when every month is, else on a
/// year of twelve 31-day months.
fn in_year(months: &BTreeSet<u32>, days: &BTreeSet<u32>, times: &[u64]) -> Option<u64> {
    let day = |d: &u32| u64::from(d - 1);
    if months.len() == 12 {
        let month: Vec<u64> = days.iter().map(day).collect();
        return longest_gap(&month, times, 31);
    }
    let in_year: Vec<u64> = months
        .iter()
        .flat_map(|m| days.iter().map(move |d| u64::from(m - 1) * 31 + day(d)))
        .collect();
    longest_gap(&in_year, times, 12 * 31)
}

/// The longest gap, in minutes, between runs on `days` (sorted, 0-based, of a cycle of `cycle_days`) at
/// `times` (sorted minutes of the day), the gap from the last run round to the first included.
fn longest_gap(days: &[u64], times: &[u64], cycle_days: u64) -> Option<u64> {
    let runs: Vec<u64> = days
        .iter()
        .flat_map(|d| times.iter().map(move |t| d * MINUTES_A_DAY + t))
        .collect();
    let (first, last) = (*runs.first()?, *runs.last()?);
    let wrap = cycle_days * MINUTES_A_DAY - last + first;
    runs.windows(2)
        .map(|w| w[1] - w[0])
        .chain(std::iter::once(wrap))
        .max()
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
/// AWS's day-of-week numbering: 1 is Sunday.
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn is_any(field: &str) -> bool {
    field == "*" || field == "?"
}

/// The values a cron field names (`*`, `N`, `A-B`, `X/STEP`, lists of these, names), within `lo..=hi`.
fn expand(field: &str, lo: u32, hi: u32, names: &[&str]) -> Option<BTreeSet<u32>> {
    let mut out = BTreeSet::new();
    for part in field.split(',') {
        let (base, step) = match part.split_once('/') {
            Some((b, s)) => (b, Some(s.parse::<u32>().ok().filter(|s| *s > 0)?)),
            None => (part, None),
        };
        let (from, to) = match base.split_once('-') {
            _ if base == "*" => (lo, hi),
            Some((a, b)) => (value(a, lo, names)?, value(b, lo, names)?),
            None => {
                let v = value(base, lo, names)?;
                (v, if step.is_some() { hi } else { v })
            }
        };
        if from > to || from < lo || to > hi {
            return None;
        }
        out.extend((from..=to).step_by(usize::try_from(step.unwrap_or(1)).ok()?));
    }
    Some(out).filter(|s| !s.is_empty())
}

fn value(text: &str, first: u32, names: &[&str]) -> Option<u32> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return u32::try_from(i).ok().map(|i| i + first);
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::schedule_every_hours as every;

    #[test]
    fn aws_backup_console_schedules() {
        assert_eq!(every("cron(0 5 ? * * *)"), Some(24), "daily");
        assert_eq!(every("cron(0 */12 * * ? *)"), Some(12));
        assert_eq!(every("cron(0 0/12 * * ? *)"), Some(12));
        assert_eq!(every("cron(0 * * * ? *)"), Some(1), "hourly");
        assert_eq!(every("cron(0 5 ? * 1 *)"), Some(168), "weekly");
        assert_eq!(every("cron(0 5 ? * SUN *)"), Some(168), "weekly by name");
        assert_eq!(every("cron(0 5 1 * ? *)"), Some(744), "monthly");
        assert_eq!(
            every("cron(0 5 L * ? *)"),
            Some(744),
            "last day of the month"
        );
        assert_eq!(every(" CRON(0 5 ? * * *) "), Some(24));
    }

    #[test]
    fn the_longest_gap_is_the_period() {
        assert_eq!(every("cron(0 1,5 ? * * *)"), Some(20));
        assert_eq!(every("cron(0 9-17 ? * * *)"), Some(16));
        assert_eq!(
            every("cron(0 5 ? * MON-FRI *)"),
            Some(72),
            "Friday to Monday"
        );
        assert_eq!(every("cron(0 5 ? * 2,4,6 *)"), Some(72));
        assert_eq!(every("cron(0 5 1,15 * ? *)"), Some(17 * 24));
        assert_eq!(every("cron(0 5 1 */3 ? *)"), Some(3 * 744), "quarterly");
        assert_eq!(every("cron(0 5 1 JAN ? *)"), Some(12 * 744), "yearly");
        assert_eq!(every("cron(30 */6 * * ? *)"), Some(6));
        assert_eq!(
            every("cron(0/30 * * * ? *)"),
            Some(1),
            "under an hour rounds up to one"
        );
    }

    #[test]
    fn rates() {
        assert_eq!(every("rate(1 hour)"), Some(1));
        assert_eq!(every("rate(12 hours)"), Some(12));
        assert_eq!(every("rate(1 day)"), Some(24));
        assert_eq!(every("rate(7 days)"), Some(168));
        assert_eq!(every("rate(90 minutes)"), Some(2));
        assert_eq!(every("rate(0 hours)"), None);
        assert_eq!(
            every("rate(4294967295 days)"),
            None,
            "too long for u32 hours"
        );
        assert_eq!(every("rate(1 fortnight)"), None);
    }

    #[test]
    fn what_is_not_a_period_is_none() {
        for expr in [
            "",
            "cron()",
            "cron(0 5 ? * * 2027)",
            "cron(0 5 1 * 1 *)",
            "cron(0 5 ? * 2#1 *)",
            "cron(0 5 15W * ? *)",
            "cron(0 24 ? * * *)",
            "cron(0 5 ? * 0 *)",
            "cron(0 */0 ? * * *)",
            "cron(0 10-5 ? * * *)",
            "cron(0 5 ? JAN 1 *)",
            "cron(0 5 ? * * *",
            "at(2026-01-01T00:00:00)",
            "daily",
        ] {
            assert_eq!(every(expr), None, "{expr}");
        }
    }

    mod properties {
        use super::every;
        use proptest::prelude::*;

        /// Cron fields as people write them, and as nobody should.
        fn field() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("*".to_string()),
                Just("?".to_string()),
                Just("L".to_string()),
                "[0-9]{1,3}",
                "[0-9]{1,2}-[0-9]{1,2}",
                "[*0-9]{1,2}/[0-9]{1,10}",
                "[0-9]{1,2}(,[0-9]{1,2}){0,4}",
                "(SUN|MON|JAN|DEC|sat)(-(FRI|NOV))?",
                "[-*?/,#LW0-9A-Z]{0,6}",
            ]
        }

        fn config() -> ProptestConfig {
            ProptestConfig {
                cases: 512,
                rng_seed: proptest::test_runner::RngSeed::Fixed(20_261_122),
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_text_gives_a_value_or_none(expr in any::<String>()) {
                let _ = every(&expr);
                let _ = every(&format!("cron({expr})"));
                let _ = every(&format!("rate({expr})"));
            }

            #[test]
            fn any_cron_is_at_most_a_year_and_a_bit_and_at_least_an_hour(
                f in proptest::collection::vec(field(), 6),
            ) {
                let expr = format!("cron({})", f.join(" "));
                if let Some(h) = every(&expr) {
                    prop_assert!((1..=12 * 744).contains(&h), "{expr}: {h}");
                }
            }

            #[test]
            fn any_rate_in_hours_is_exact(n in 1u32..100_000) {
                prop_assert_eq!(every(&format!("rate({n} hours)")), Some(n));
            }
        }
    }
}
