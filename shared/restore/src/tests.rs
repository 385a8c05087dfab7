use super::*;
use relay_core::retention::Lifecycle;

const POLICY: &str = include_str!("../../../infra/examples/policy.yaml");
const TABLE: &str = "arn:aws:dynamodb:us-east-1:111111111111:table/orders";

fn at(days: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::days(days)
}

fn policy() -> Policy {
    Policy::parse(POLICY).unwrap()
}

fn vault(alias: &str) -> VaultArn {
    policy().vault(alias).unwrap().arn.clone()
}

fn point(alias: &str, created: DateTime<Utc>) -> PointView {
    let v = vault(alias);
    PointView {
        recovery_point_arn: format!(
            "arn:aws:backup:{}:{}:recovery-point:{alias}-{}",
            v.region,
            v.account,
            created.timestamp()
        ),
        vault: v,
        resource_arn: Some(TABLE.into()),
        resource_type: Some("DynamoDB".into()),
        status: Some("COMPLETED".into()),
        creation_date: created,
        completion_date: Some(created),
        lifecycle: Lifecycle::default(),
        delete_at: None,
        storage_class: Some("WARM".into()),
        encrypted: Some(true),
        source_vault_arn: None,
        tags: None,
        backup_size_bytes: None,
    }
}

fn request() -> RestoreRequest {
    RestoreRequest {
        table: TableArn::parse(TABLE).unwrap(),
        at: None,
        target_account: None,
        target_region: None,
        target_table: "orders-restored".into(),
        from: None,
        kms_key_arn: None,
        copy_source_tags: true,
    }
}

fn plan(points: &[PointView], req: &RestoreRequest) -> Result<RestorePlan, RestoreRefusal> {
    plan_restore(
        &policy(),
        points,
        &BTreeSet::new(),
        &BTreeMap::new(),
        req,
        at(10),
    )
}

#[test]
fn a_copy_in_the_target_is_restored_in_place() {
    let points = [point("primary", at(9)), point("bunker", at(9))];
    let p = plan(&points, &request()).unwrap();
    assert_eq!(p.recovery_point.vault, vault("primary").to_string());
    assert_eq!(p.steps.len(), 1);
    let RestoreStep::StartRestoreJob {
        account,
        recovery_point_arn,
        metadata,
        iam_role_arn,
        ..
    } = &p.steps[0]
    else {
        panic!("{:?}", p.steps)
    };
    assert_eq!(account, "111111111111");
    assert_eq!(
        recovery_point_arn.as_deref(),
        Some(points[0].recovery_point_arn.as_str())
    );
    assert_eq!(metadata["targetTableName"], "orders-restored");
    assert_eq!(metadata["encryptionType"], "Default");
    assert_eq!(
        iam_role_arn,
        "arn:aws:iam::111111111111:role/backup-relay-copy"
    );
}

#[test]
fn only_the_bunker_left_copies_back_across_account_and_region_for_35_days_from_now() {
    // A 40-day-old backup: days count from its creation, so 40 + 35 keep it 35 days from now.
    let points = [point("bunker", at(-30))];
    let p = plan(&points, &request()).unwrap();
    let RestoreStep::StartCopyJob {
        account,
        region,
        destination_backup_vault_arn,
        lifecycle,
        iam_role_arn,
        ..
    } = &p.steps[0]
    else {
        panic!("{:?}", p.steps)
    };
    assert_eq!(
        (account.as_str(), region.as_str()),
        ("333333333333", "eu-west-1"),
        "runs where the copy is"
    );
    assert_eq!(destination_backup_vault_arn, &vault("primary").to_string());
    assert_eq!(lifecycle.delete_after_days, Some(40 + 35));
    assert_eq!(
        iam_role_arn,
        "arn:aws:iam::333333333333:role/backup-relay-copy"
    );
    let RestoreStep::StartRestoreJob {
        backup_vault_arn,
        recovery_point_arn,
        ..
    } = &p.steps[1]
    else {
        panic!()
    };
    assert_eq!(backup_vault_arn, &vault("primary").to_string());
    assert_eq!(*recovery_point_arn, None, "known once the copy completes");
}

#[test]
fn the_latest_at_or_before_the_time_and_among_its_copies_the_nearest() {
    let points = [
        point("bunker", at(5)),
        point("dr", at(5)),
        point("central", at(5)),
        point("primary", at(2)),
        point("central", at(8)),
    ];
    let mut req = request();
    req.at = Some(at(6));
    // The backup of day 5; central is in the target Region (us-east-1), dr and bunker are not.
    assert_eq!(
        plan(&points, &req).unwrap().recovery_point.vault,
        vault("central").to_string()
    );
    req.target_region = Some("us-west-2".into());
    req.target_account = Some("222222222222".into());
    let p = plan(&points, &req).unwrap();
    assert_eq!(p.recovery_point.vault, vault("dr").to_string());
    assert_eq!(p.steps.len(), 1, "dr is the target: no copy back");
}

#[test]
fn a_time_before_any_copy_says_which_is_the_oldest() {
    let mut req = request();
    req.at = Some(at(1));
    let err = plan(&[point("primary", at(3))], &req).unwrap_err();
    assert!(matches!(err, RestoreRefusal::NoCopy { .. }));
    let text = err.to_string();
    assert!(
        text.contains("at or before") && text.contains("the oldest is of"),
        "{text}"
    );
}

#[test]
fn no_vault_in_the_target_says_to_add_one() {
    let mut req = request();
    req.target_region = Some("ap-south-1".into());
    let err = plan(&[point("primary", at(3))], &req).unwrap_err();
    assert!(
        err.to_string()
            .contains("no vault of the policy is in 111111111111/ap-south-1"),
        "{err}"
    );
    // Only the never_expire bunker in the target: refused, the guard would keep the copy 100 years.
    req.target_account = Some("333333333333".into());
    req.target_region = Some("eu-west-1".into());
    let err = plan(&[point("primary", at(3))], &req).unwrap_err();
    assert!(
        err.to_string().contains("'bunker' is never_expire"),
        "{err}"
    );
}

#[test]
fn a_name_that_exists_or_is_no_table_name_is_refused() {
    let existing = BTreeSet::from(["orders-restored".to_string()]);
    let err = plan_restore(
        &policy(),
        &[point("primary", at(3))],
        &existing,
        &BTreeMap::new(),
        &request(),
        at(10),
    )
    .unwrap_err();
    assert!(matches!(err, RestoreRefusal::TableExists { .. }), "{err}");
    let mut req = request();
    req.target_table = "no spaces".into();
    assert!(matches!(
        plan(&[], &req),
        Err(RestoreRefusal::BadTableName(_))
    ));
}

#[test]
fn from_names_the_vault_and_a_native_backup_is_restored_only_where_it_is() {
    let mut req = request();
    req.from = Some("dr".into());
    let points = [point("primary", at(9)), point("dr", at(3))];
    assert_eq!(
        plan(&points, &req).unwrap().recovery_point.vault,
        vault("dr").to_string()
    );
    req.from = Some("nowhere".into());
    assert!(matches!(
        plan(&points, &req),
        Err(RestoreRefusal::UnknownVault(_))
    ));
    let mut native = point("central", at(9));
    native.recovery_point_arn =
        "arn:aws:dynamodb:us-east-1:222222222222:table/orders/backup/01700000000000-abcdef01"
            .into();
    let p = plan(&[native, point("bunker", at(8))], &request()).unwrap();
    assert_eq!(
        p.recovery_point.vault,
        vault("bunker").to_string(),
        "the native one in central cannot be copied back"
    );
}

#[test]
fn a_lock_raises_the_copy_backs_life_to_its_minimum_and_refuses_past_its_maximum() {
    let points = [point("bunker", at(9))];
    let lock = |min, max| {
        BTreeMap::from([(
            vault("primary"),
            VaultLock {
                min_retention_days: min,
                max_retention_days: max,
            },
        )])
    };
    let p = plan_restore(
        &policy(),
        &points,
        &BTreeSet::new(),
        &lock(Some(90), None),
        &request(),
        at(10),
    )
    .unwrap();
    let RestoreStep::StartCopyJob { lifecycle, .. } = &p.steps[0] else {
        panic!()
    };
    assert_eq!(lifecycle.delete_after_days, Some(90));
    let err = plan_restore(
        &policy(),
        &points,
        &BTreeSet::new(),
        &lock(None, Some(30)),
        &request(),
        at(10),
    )
    .unwrap_err();
    assert!(
        matches!(err, RestoreRefusal::LockRefuses { days: 36, .. }),
        "{err}"
    );
}

#[test]
fn a_kms_key_is_named_in_the_metadata() {
    let mut req = request();
    req.kms_key_arn = Some("arn:aws:kms:us-east-1:111111111111:key/k".into());
    let p = plan(&[point("primary", at(9))], &req).unwrap();
    let RestoreStep::StartRestoreJob { metadata, .. } = &p.steps[0] else {
        panic!()
    };
    assert_eq!(
        (
            metadata["encryptionType"].as_str(),
            metadata["kmsMasterKeyArn"].as_str()
        ),
        ("KMS", "arn:aws:kms:us-east-1:111111111111:key/k")
    );
}

#[test]
fn a_cold_copy_is_not_copied_back_and_ties_do_not_depend_on_listing_order() {
    // A 40-day-old backup into dr's account and Region: dr's copy went cold after 30 days and
    // cannot be copied; it can be restored where it is.
    let mut cold = point("dr", at(-30));
    cold.storage_class = Some("COLD".into());
    let bunker = point("bunker", at(-30));
    let mut req = request();
    let into_central = || {
        let mut r = request();
        r.target_account = Some("222222222222".into());
        r.target_region = Some("us-east-1".into());
        r
    };
    let a = plan(&[cold.clone(), bunker.clone()], &into_central()).unwrap();
    let b = plan(&[bunker.clone(), cold.clone()], &into_central()).unwrap();
    assert_eq!(
        a.recovery_point, b.recovery_point,
        "the same choice in either order"
    );
    assert_eq!(a.recovery_point.vault, vault("bunker").to_string());
    // In its own place a cold point is restorable.
    req.target_account = Some("222222222222".into());
    req.target_region = Some("us-west-2".into());
    assert_eq!(
        plan(&[cold], &req).unwrap().recovery_point.vault,
        vault("dr").to_string()
    );
}

#[test]
fn only_cold_copies_elsewhere_at_that_time_says_why_none_can_be_copied_back() {
    let mut cold = point("dr", at(0));
    cold.storage_class = Some("COLD".into());
    let req = RestoreRequest {
        from: Some("dr".into()),
        at: Some(at(1)),
        ..request()
    };
    let err = plan(&[cold, point("dr", at(5))], &req).unwrap_err();
    let why = err.to_string();
    assert!(
        why.contains("1 copies of that time are in the cold tier"),
        "{why}"
    );
    assert!(why.contains("--to-account"), "{why}");
}
