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
