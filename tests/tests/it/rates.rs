//! The scale model's request rates (`relay_sim::world::rates`): the least time a phase's calls
//! take at AWS's published quotas, per account, Region and operation, and AWS Backup's sum.

use relay_sim::world::rates::{RateTally, ALL_BACKUP_CALLS};

#[test]
fn the_slowest_quota_binds() {
    let mut t = RateTally::default();
    for _ in 0..1200 {
        t.record("111111111111", "us-east-1", "ListTags");
    }
    for _ in 0..600 {
        t.record("111111111111", "us-east-1", "TagResource");
    }
    let f = t.floor().unwrap();
    // 600 TagResource at 5/s (2 min) outlast 1200 ListTags at 20/s (1 min) and the 1800
    // Backup calls at 50/s (0.6 min).
    assert_eq!(f.operation, "TagResource");
    assert!((f.minutes - 2.0).abs() < 1e-9);
    assert_eq!(f.calls, 600);
}

#[test]
fn the_sum_of_backup_calls_binds_when_no_one_operation_does() {
    let mut t = RateTally::default();
    for op in ["StartCopyJob", "ListCopyJobs", "DescribeCopyJob"] {
        for _ in 0..1000 {
            t.record("222222222222", "eu-west-1", op);
        }
    }
    // A call AWS sets no quota on elsewhere (DynamoDB) counts for nothing.
    t.record("222222222222", "eu-west-1", "GetItem");
    let f = t.floor().unwrap();
    assert_eq!(f.operation, ALL_BACKUP_CALLS);
    assert_eq!(f.calls, 3000);
    assert!((f.minutes - 1.0).abs() < 1e-9);
}

#[test]
fn accounts_and_regions_have_their_own_quotas() {
    let mut t = RateTally::default();
    for region in ["us-east-1", "us-west-2"] {
        for _ in 0..600 {
            t.record("333333333333", region, "TagResource");
        }
    }
    assert!((t.floor().unwrap().minutes - 2.0).abs() < 1e-9);
    assert!(RateTally::default().floor().is_none());
}

#[test]
fn of_equal_floors_the_first_account_is_named_whatever_the_order() {
    for accounts in [
        ["111111111111", "222222222222"],
        ["222222222222", "111111111111"],
    ] {
        let mut t = RateTally::default();
        for account in accounts {
            for _ in 0..100 {
                t.record(account, "us-east-1", "ListTags");
            }
        }
        assert_eq!(t.floor().unwrap().account, "111111111111");
    }
}

/// A pass is timed from the run that starts it to the end of the run that ends it; one still
/// open when the simulation stops counts as long as it has gone on, not as nothing.
#[test]
fn a_pass_left_open_counts_as_long_as_it_has_run() {
    use chrono::{TimeZone, Utc};
    use relay_sim::scenario::Passes;
    use std::time::Duration;
    let at = |h: u32, m: u32| Utc.with_ymd_and_hms(2026, 1, 1, h, m, 0).unwrap();
    let mut p = Passes::default();
    p.run(at(1, 0), Duration::from_secs(300), false, false);
    p.run(at(1, 10), Duration::from_secs(300), true, true);
    assert!((p.longest_minutes_with_open() - 15.0).abs() < 1e-9);
    assert_eq!(p.complete, 1);
    // The next pass never finishes: three runs, two hours on, still going.
    p.run(at(2, 0), Duration::from_secs(600), false, false);
    p.run(at(3, 0), Duration::from_secs(600), true, false);
    p.run(at(4, 0), Duration::from_secs(600), true, false);
    assert!((p.longest_minutes_with_open() - 130.0).abs() < 1e-9);
    assert_eq!(p.complete, 1);
    // A fresh pass (not resumed) starts the clock again; the one given up still counts.
    p.run(at(5, 0), Duration::from_secs(60), false, true);
    assert!((p.longest_minutes_with_open() - 130.0).abs() < 1e-9);
    assert_eq!(p.complete, 2);
}
