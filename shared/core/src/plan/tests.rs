use super::*;
use crate::retention::NEVER_EXPIRE_DAYS;

const EXAMPLE: &str = include_str!("../../../../infra/examples/policy.yaml");

fn fixture(name: &str) -> ParsedEvent {
    let path = format!("{}/../../tests/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    ParsedEvent::parse_str(&text).unwrap()
}

fn gold() -> Observed {
    Observed {
        resource_tags: [("backup-tier".to_string(), "gold".to_string())].into(),
        vault_locks: BTreeMap::new(),
        ..Observed::default()
    }
}

fn example() -> Policy {
    Policy::parse(EXAMPLE).unwrap()
}

/// The one copy job of a plan (a landed copy's tagging beside it is not a copy).
fn only_copy(plan: &Plan) -> &StartCopyJob {
    let starts: Vec<&Action> = plan
        .actions
        .iter()
        .filter(|a| !matches!(a, Action::TagRecoveryPoint(_)))
        .collect();
    assert_eq!(starts.len(), 1, "{plan:#?}");
    match starts[0] {
        Action::StartCopyJob(s) => s,
        other => panic!("expected start_copy_job, got {other:?}"),
    }
}

fn tagging(plan: &Plan) -> Option<&TagRecoveryPoint> {
    plan.actions.iter().find_map(|a| match a {
        Action::TagRecoveryPoint(t) => Some(t),
        _ => None,
    })
}

#[test]
fn a_landed_copy_is_tagged_where_it_landed_even_at_the_chains_end() {
    let mut observed = gold();
    observed
        .resource_tags
        .insert("team".into(), "payments".into());
    let plan = plan_event(
        &fixture("copy-job-completed-primary-to-central.json"),
        &example(),
        &observed,
    );
    assert!(matches!(
        plan.actions.last(),
        Some(Action::TagRecoveryPoint(_))
    ));
    let t = tagging(&plan).unwrap();
    assert_eq!(
        (t.account.as_str(), t.route.as_str()),
        ("222222222222", "primary->central")
    );
    assert_eq!(t.tags["team"], "payments");
    // Straight from the root vault: the copy job's source is the original.
    assert!(t.tags[crate::copy_tags::ORIGINAL_TAG].contains(":111111111111:recovery-point:"));
    assert!(t.note.is_none());
    // The last hop: nothing onward, the tagging all the same; its original is the router's to find.
    let plan = plan_event(
        &fixture("copy-job-completed-dr-to-bunker.json"),
        &example(),
        &observed,
    );
    assert_eq!(plan.actions.len(), 1, "{plan:#?}");
    let t = tagging(&plan).unwrap();
    assert_eq!(t.account, "333333333333");
    assert!(!t.tags.contains_key(crate::copy_tags::ORIGINAL_TAG));
    assert!(t.note.is_some());
    // What the router found of the original wins over what stands in for it.
    observed.original = Some(OriginalPoint {
        arn: Some("arn:aws:backup:us-east-1:111111111111:recovery-point:orig".into()),
        tags: [("cost-center".to_string(), "cc-9".to_string())].into(),
    });
    let plan = plan_event(
        &fixture("copy-job-completed-dr-to-bunker.json"),
        &example(),
        &observed,
    );
    let t = tagging(&plan).unwrap();
    assert_eq!(t.tags["cost-center"], "cc-9");
    assert!(!t.tags.contains_key("team"));
    assert!(t.note.is_none());
}

#[test]
fn no_tagging_of_originals_or_when_the_policy_asks_for_no_tags() {
    let plan = plan_event(&fixture("backup-job-completed.json"), &example(), &gold());
    assert!(tagging(&plan).is_none());
    let quiet = Policy::parse(&format!(
        "{EXAMPLE}\ntags: {{ copy: [], lineage: false }}\n"
    ))
    .unwrap();
    let plan = plan_event(
        &fixture("copy-job-completed-primary-to-central.json"),
        &quiet,
        &gold(),
    );
    assert!(tagging(&plan).is_none());
}

#[test]
fn backup_completed_in_primary_copies_to_central_with_its_retention() {
    let plan = plan_event(&fixture("backup-job-completed.json"), &example(), &gold());
    let a = only_copy(&plan);
    assert_eq!(a.route, "primary->central");
    assert_eq!(
        (a.account.as_str(), a.region.as_str()),
        ("111111111111", "us-east-1")
    );
    assert_eq!(a.source_backup_vault_name, "primary");
    assert_eq!(
        a.destination_backup_vault_arn,
        "arn:aws:backup:us-east-1:222222222222:backup-vault:central"
    );
    assert_eq!(
        a.iam_role_arn,
        "arn:aws:iam::111111111111:role/backup-relay-copy"
    );
    assert_eq!(
        a.lifecycle,
        Some(Lifecycle {
            delete_after_days: Some(35),
            move_to_cold_storage_after_days: None
        })
    );
    assert_eq!(
        a.idempotency_token,
        copy_token(
            &a.original,
            &a.recovery_point_arn,
            &a.destination_backup_vault_arn,
            1
        )
    );
    assert_eq!(plan.ignored, None);
}

#[test]
fn copy_completed_chains_from_the_destination_vault_in_its_account_and_region() {
    let p = example();
    // central -> dr: acts in central's account and Region, dr's retention keeps cold storage.
    let plan = plan_event(
        &fixture("copy-job-completed-primary-to-central.json"),
        &p,
        &gold(),
    );
    let a = only_copy(&plan);
    assert_eq!(a.route, "central->dr");
    assert_eq!(
        (a.account.as_str(), a.region.as_str()),
        ("222222222222", "us-east-1")
    );
    assert_eq!(
        a.lifecycle,
        Some(Lifecycle {
            delete_after_days: Some(365),
            move_to_cold_storage_after_days: Some(30)
        })
    );
    // dr -> bunker: never expire is 36500 days, acting in us-west-2.
    let plan = plan_event(
        &fixture("copy-job-completed-central-to-dr.json"),
        &p,
        &Observed::default(),
    );
    let a = only_copy(&plan);
    assert_eq!(a.route, "dr->bunker");
    assert_eq!(
        (a.account.as_str(), a.region.as_str()),
        ("222222222222", "us-west-2")
    );
    assert_eq!(
        a.iam_role_arn,
        "arn:aws:iam::222222222222:role/backup-relay-copy"
    );
    assert_eq!(
        a.lifecycle,
        Some(Lifecycle {
            delete_after_days: Some(NEVER_EXPIRE_DAYS),
            move_to_cold_storage_after_days: None
        })
    );
    // bunker: the chain ends.
    let plan = plan_event(
        &fixture("copy-job-completed-dr-to-bunker.json"),
        &p,
        &Observed::default(),
    );
    // Nothing onward; only the landed copy's tags.
    assert_eq!(plan.actions.len(), 1);
    assert!(tagging(&plan).is_some());
    let untagged = Policy::parse(&format!(
        "{EXAMPLE}\ntags: {{ copy: [], lineage: false }}\n"
    ))
    .unwrap();
    let plan = plan_event(
        &fixture("copy-job-completed-dr-to-bunker.json"),
        &untagged,
        &Observed::default(),
    );
    assert!(plan.actions.is_empty());
    assert!(plan.ignored.unwrap().contains("chain ends"));
}

#[test]
fn tags_must_match_the_route_selector() {
    let plan = plan_event(
        &fixture("backup-job-completed.json"),
        &example(),
        &Observed::default(),
    );
    assert!(plan.actions.is_empty());
    assert!(plan
        .ignored
        .unwrap()
        .contains("no route out of vault 'primary' selects this resource"));
    let silver = Observed {
        resource_tags: [("backup-tier".to_string(), "silver".to_string())].into(),
        ..Default::default()
    };
    assert!(
        plan_event(&fixture("backup-job-completed.json"), &example(), &silver)
            .actions
            .is_empty()
    );
}

#[test]
fn plan_needs_asks_for_tags_and_destination_locks() {
    let p = example();
    let needs = plan_needs(&fixture("backup-job-completed.json"), &p);
    assert_eq!(
        needs.tags_of.as_deref(),
        Some("arn:aws:dynamodb:us-east-1:111111111111:table/orders")
    );
    assert_eq!(
        needs.locks_of,
        vec![p.vault("central").unwrap().arn.clone()]
    );
    let needs = plan_needs(&fixture("copy-job-completed-central-to-dr.json"), &p);
    assert_eq!(needs.tags_of, None);
    assert_eq!(needs.locks_of, vec![p.vault("bunker").unwrap().arn.clone()]);
    assert_eq!(
        plan_needs(&fixture("backup-job-running.json"), &p),
        PlanNeeds::default()
    );
}

#[test]
fn inherit_sends_no_lifecycle() {
    let p = Policy::parse(
        &EXAMPLE.replace("retention: { delete_after_days: 35 }", "retention: inherit"),
    )
    .unwrap();
    let plan = plan_event(&fixture("backup-job-completed.json"), &p, &gold());
    assert_eq!(only_copy(&plan).lifecycle, None);
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["actions"][0]["lifecycle"], serde_json::Value::Null);
    assert_eq!(json["actions"][0]["type"], "start_copy_job");
}

#[test]
fn several_routes_out_of_one_vault_give_one_action_each() {
    let text = EXAMPLE.replace(
        "  - { from: dr, to: bunker }",
        "  - { from: dr, to: bunker }\n  - { from: central, to: bunker }",
    );
    let plan = plan_event(
        &fixture("copy-job-completed-primary-to-central.json"),
        &Policy::parse(&text).unwrap(),
        &gold(),
    );
    let routes: Vec<_> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::StartCopyJob(s) => Some(s.route.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        routes,
        vec!["central->dr".to_string(), "central->bunker".to_string()]
    );
}

#[test]
fn dynamodb_native_backups_are_reported_not_copied() {
    let plan = plan_event(
        &fixture("backup-job-completed-dynamodb-native.json"),
        &example(),
        &gold(),
    );
    assert!(plan.actions.is_empty());
    assert!(plan
        .ignored
        .unwrap()
        .contains("DynamoDB-native backup: it cannot be copied"));
}

#[test]
fn every_non_completed_state_is_ignored_with_a_reason() {
    for name in [
        "backup-job-created.json",
        "backup-job-pending.json",
        "backup-job-running.json",
        "backup-job-aborting.json",
        "backup-job-partial.json",
        "copy-job-created.json",
        "copy-job-running.json",
        "recovery-point-creating.json",
        "recovery-point-partial.json",
        "recovery-point-stopped.json",
        "recovery-point-deleting.json",
        "recovery-point-expired.json",
        "restore-job-completed.json",
        "region-setting-state-change.json",
        "backup-vault-state-change.json",
        "unknown-detail-type.json",
        "backup-job-completed-aws-sample-account.json",
    ] {
        let plan = plan_event(&fixture(name), &example(), &gold());
        assert!(plan.actions.is_empty(), "{name}: {plan:#?}");
        let why = plan.ignored.unwrap_or_default();
        assert!(!why.is_empty(), "{name} has no reason");
    }
}

#[test]
fn a_partial_copy_is_recorded_as_a_failure_to_retry_not_chained() {
    let plan = plan_event(&fixture("copy-job-partial.json"), &example(), &gold());
    match plan.actions.as_slice() {
        [Action::RecordCopyFailure(f)] => assert_eq!(f.class, FailureClass::Retryable),
        other => panic!("expected one record_copy_failure, got {other:?}"),
    }
}

#[test]
fn completed_with_issues_still_copies() {
    let plan = plan_event(
        &fixture("backup-job-completed-with-issues.json"),
        &example(),
        &gold(),
    );
    assert_eq!(only_copy(&plan).route, "primary->central");
}

#[test]
fn copy_failures_are_recorded_and_classified() {
    let p = example();
    let cases = [
        (
            "copy-job-failed-transient.json",
            FailureClass::Retryable,
            Some("central->dr"),
        ),
        (
            "copy-job-failed-access-denied.json",
            FailureClass::NeedsPerson,
            Some("dr->bunker"),
        ),
        (
            "copy-job-failed-organization.json",
            FailureClass::NeedsPerson,
            Some("primary->central"),
        ),
    ];
    for (name, class, route) in cases {
        let plan = plan_event(&fixture(name), &p, &Observed::default());
        let [Action::RecordCopyFailure(f)] = plan.actions.as_slice() else {
            panic!("{name}: {plan:#?}")
        };
        assert_eq!(f.class, class, "{name}");
        assert_eq!(f.route.as_deref(), route, "{name}");
        assert!(!f.status_message.is_empty());
        assert!(!f.likely_fix.is_empty());
    }
    let plan = plan_event(
        &fixture("copy-job-failed-access-denied.json"),
        &p,
        &Observed::default(),
    );
    let Action::RecordCopyFailure(f) = &plan.actions[0] else {
        unreachable!()
    };
    assert!(f.likely_fix.contains("backup:CopyIntoBackupVault"));
}

#[test]
fn lock_conflicts_clamp_or_skip() {
    let p = example();
    let bunker = p.vault("bunker").unwrap().arn.clone();
    let locked = Observed {
        vault_locks: [(
            bunker,
            VaultLock {
                min_retention_days: Some(1),
                max_retention_days: Some(3650),
            },
        )]
        .into(),
        ..Default::default()
    };
    let plan = plan_event(
        &fixture("copy-job-completed-central-to-dr.json"),
        &p,
        &locked,
    );
    let a = only_copy(&plan);
    assert_eq!(a.lifecycle.unwrap().delete_after_days, Some(3650));
    assert!(a
        .lock_adjustment
        .as_deref()
        .unwrap()
        .contains("clamped from 36500 to 3650"));

    let skip = Policy::parse(&EXAMPLE.replace("on_lock_conflict: clamp", "on_lock_conflict: skip"))
        .unwrap();
    let plan = plan_event(
        &fixture("copy-job-completed-central-to-dr.json"),
        &skip,
        &locked,
    );
    // Only the landed copy's tags: the route out is skipped.
    assert_eq!(plan.actions.len(), 1);
    assert!(tagging(&plan).is_some());
    assert_eq!(plan.skipped_routes.len(), 1);
    assert!(plan.skipped_routes[0].reason.contains("at most 3650 days"));
}

#[test]
fn retention_below_the_lock_minimum_is_raised() {
    let p = example();
    let central = p.vault("central").unwrap().arn.clone();
    let mut observed = gold();
    observed.vault_locks.insert(
        central,
        VaultLock {
            min_retention_days: Some(90),
            max_retention_days: None,
        },
    );
    let plan = plan_event(&fixture("backup-job-completed.json"), &p, &observed);
    let a = only_copy(&plan);
    assert_eq!(a.lifecycle.unwrap().delete_after_days, Some(90));
    assert!(a
        .lock_adjustment
        .as_deref()
        .unwrap()
        .contains("raised from 35 to 90"));
}

#[test]
fn tokens_are_deterministic_and_distinct_per_attempt_and_hop() {
    let o = |r: &str| {
        Original::new(
            r,
            chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        )
    };
    let t1 = copy_token(&o("rp"), "point", "vault", 1);
    assert_eq!(t1, copy_token(&o("rp"), "point", "vault", 1));
    assert_ne!(t1, copy_token(&o("rp"), "other-point", "vault", 1));
    assert_eq!(t1.len(), 32);
    assert_ne!(t1, copy_token(&o("rp"), "point", "vault", 2));
    assert_ne!(t1, copy_token(&o("rp"), "point", "vault2", 1));
    assert_ne!(
        copy_token(&o("a\nb"), "p", "c", 1),
        copy_token(&o("a"), "p", "b\nc", 1)
    );
}

#[test]
fn a_hop_of_a_named_route_gets_the_attempts_token() {
    let p = example();
    let rp = "arn:aws:backup:us-east-1:222222222222:recovery-point:x";
    let o = Original::new(
        "table",
        chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
    );
    let hop = plan_hop(&p, "central->dr", rp, &o, 2, &Observed::default())
        .unwrap()
        .unwrap();
    assert_eq!(
        (hop.route.as_str(), hop.attempt, hop.account.as_str()),
        ("central->dr", 2, "222222222222")
    );
    assert_eq!(
        hop.idempotency_token,
        copy_token(&o, rp, &hop.destination_backup_vault_arn, 2)
    );
    assert!(plan_hop(&p, "central->nowhere", rp, &o, 1, &Observed::default()).is_none());
}

#[test]
fn a_recovery_point_in_the_bunker_with_an_inherited_expiry_is_repaired() {
    let plan = plan_event(
        &fixture("recovery-point-completed.json"),
        &example(),
        &Observed::default(),
    );
    let [Action::UpdateRecoveryPointLifecycle(u)] = plan.actions.as_slice() else {
        panic!("{plan:#?}")
    };
    assert_eq!(
        (
            u.account.as_str(),
            u.region.as_str(),
            u.backup_vault_name.as_str()
        ),
        ("333333333333", "eu-west-1", "bunker")
    );
    assert_eq!(
        u.lifecycle,
        Lifecycle {
            delete_after_days: Some(NEVER_EXPIRE_DAYS),
            move_to_cold_storage_after_days: None
        }
    );
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(
        json["actions"][0]["type"],
        "update_recovery_point_lifecycle"
    );
    // Available too; every other status is left alone.
    assert_eq!(
        plan_event(
            &fixture("recovery-point-available.json"),
            &example(),
            &Observed::default()
        )
        .actions
        .len(),
        1
    );
    assert!(plan_event(
        &fixture("recovery-point-creating.json"),
        &example(),
        &Observed::default()
    )
    .actions
    .is_empty());
}

#[test]
fn a_locked_bunker_point_is_a_violation_to_record() {
    let p = example();
    let locked = Observed {
        vault_locks: [(
            p.vault("bunker").unwrap().arn.clone(),
            VaultLock {
                min_retention_days: None,
                max_retention_days: Some(3650),
            },
        )]
        .into(),
        ..Default::default()
    };
    let plan = plan_event(&fixture("recovery-point-completed.json"), &p, &locked);
    let [Action::RecordRetentionViolation(v)] = plan.actions.as_slice() else {
        panic!("{plan:#?}")
    };
    assert!(v.reason.contains("locked"));
}

#[test]
fn recovery_points_outside_never_expire_vaults_are_not_the_guards() {
    let text = std::fs::read_to_string(format!(
        "{}/../../tests/events/recovery-point-completed.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("backup-vault:bunker", "backup-vault:dr")
    .replace("eu-west-1:333333333333", "us-west-2:222222222222")
    .replace("\"bunker\"", "\"dr\"");
    let plan = plan_event(
        &ParsedEvent::parse_str(&text).unwrap(),
        &example(),
        &Observed::default(),
    );
    assert!(plan.actions.is_empty());
    assert!(
        plan.ignored.unwrap().contains("not a never_expire vault"),
        "{text}"
    );
}

#[test]
fn other_partitions_are_kept() {
    // Every Region moves to aws-cn: validation refuses aws Regions in an aws-cn ARN.
    let text = EXAMPLE
        .replace("arn:aws:", "arn:aws-cn:")
        .replace("us-east-1", "cn-north-1")
        .replace("us-west-2", "cn-northwest-1")
        .replace("eu-west-1", "cn-northwest-1");
    let p = Policy::parse(&text).unwrap();
    let ev = std::fs::read_to_string(format!(
        "{}/../../tests/events/backup-job-completed.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("arn:aws:", "arn:aws-cn:")
    .replace("us-east-1", "cn-north-1");
    let plan = plan_event(&ParsedEvent::parse_str(&ev).unwrap(), &p, &gold());
    let a = only_copy(&plan);
    assert_eq!(
        a.iam_role_arn,
        "arn:aws-cn:iam::111111111111:role/backup-relay-copy"
    );
    assert!(a
        .destination_backup_vault_arn
        .starts_with("arn:aws-cn:backup:cn-north-1:"));
}

#[test]
fn an_event_whose_recovery_point_is_not_in_its_vaults_account_and_region_is_ignored() {
    let mut raw: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../../tests/events/backup-job-completed.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    // The vault is primary (111111111111, us-east-1); the point claims another account.
    raw["resources"][0] =
        serde_json::json!("arn:aws:backup:us-east-1:999999999999:recovery-point:elsewhere");
    let event = ParsedEvent::parse(&raw).unwrap();
    let plan = plan_event(&event, &example(), &gold());
    assert!(plan.actions.is_empty(), "{plan:#?}");
    assert!(plan
        .ignored
        .unwrap_or_default()
        .contains("contradicts itself"));
    // Garbage, or another partition, in the same place: ignored too, never planned.
    for bad in [
        serde_json::json!(0),
        serde_json::json!("\u{1F600}"),
        serde_json::json!("arn:aws-cn:backup:us-east-1:111111111111:recovery-point:cn"),
    ] {
        raw["resources"][0] = bad.clone();
        let plan = plan_event(&ParsedEvent::parse(&raw).unwrap(), &example(), &gold());
        assert!(plan.actions.is_empty(), "{bad}: {plan:#?}");
        assert!(plan.ignored.is_some(), "{bad}");
    }
}

#[test]
fn the_original_comes_from_the_described_point_not_the_copy_jobs_own_date() {
    let event = fixture("copy-job-completed-central-to-dr.json");
    let mut observed = gold();
    let created = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let EventDetail::CopyJob(c) = &event.detail else {
        panic!("copy job event")
    };
    let dr = VaultArn::parse(c.destination_backup_vault_arn.as_deref().unwrap()).unwrap();
    observed.point = Some(PointView {
        recovery_point_arn: c.destination_recovery_point_arn.clone().unwrap(),
        vault: dr,
        resource_arn: Some("arn:aws:dynamodb:us-east-1:111111111111:table/orders".into()),
        resource_type: Some("DynamoDB".into()),
        status: Some("COMPLETED".into()),
        creation_date: created,
        completion_date: None,
        lifecycle: Lifecycle::default(),
        delete_at: None,
        storage_class: Some("WARM".into()),
        encrypted: None,
        source_vault_arn: None,
        tags: None,
        backup_size_bytes: None,
    });
    let job = only_copy(&plan_event(&event, &example(), &observed)).clone();
    assert_eq!(job.original.creation_date, created);
    assert_eq!(
        job.idempotency_token,
        copy_token(
            &job.original,
            &job.recovery_point_arn,
            &job.destination_backup_vault_arn,
            1
        )
    );
    // A described point that is PARTIAL is not copied on.
    if let Some(p) = observed.point.as_mut() {
        p.status = Some("PARTIAL".into());
    }
    let plan = plan_event(&event, &example(), &observed);
    assert!(plan.actions.is_empty());
    assert!(plan.ignored.unwrap_or_default().contains("PARTIAL"));
}

#[test]
fn transient_messages_are_retried_whatever_service_they_name() {
    for m in [
        "Rate exceeded (Service: AWSKMS; Status Code: 400; Error Code: ThrottlingException)",
        "KMSInternalException: An internal error occurred",
        "An internal failure occurred while copying the recovery point. Please retry.",
        "Request timed out",
    ] {
        assert_eq!(classify_copy_failure(m).0, FailureClass::Retryable, "{m}");
    }
    for m in [
        "AccessDeniedException: Insufficient privileges to perform this action.",
        "Both source and destination account must be a member of the same organization.",
        "The KMS key is not shared with the destination account",
    ] {
        assert_eq!(classify_copy_failure(m).0, FailureClass::NeedsPerson, "{m}");
    }
    // Names in ARNs are not AWS's words: an unknown failure into a vault called "cold-kms-locked"
    // is retried, and its cause is not read from the name.
    let named = "Copy into arn:aws:backup:us-east-1:222222222222:backup-vault:cold-kms-locked failed: an unexpected condition";
    assert_eq!(classify_copy_failure(named).0, FailureClass::Retryable);
    assert_eq!(copy_failure_cause(named), "other");
}

#[test]
fn an_inherited_expiry_into_a_locked_vault_is_fitted_to_the_lock() {
    let text = r#"
version: 1
copy_role: "arn:aws:iam::{account}:role/backup-relay-copy"
vaults:
  a: { arn: "arn:aws:backup:us-east-1:111111111111:backup-vault:vault-a" }
  b: { arn: "arn:aws:backup:us-west-2:111111111111:backup-vault:vault-b", retention: inherit }
routes:
  - { from: a, to: b }
"#;
    let policy = Policy::parse(text).unwrap();
    let mut raw: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../../tests/events/backup-job-completed.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    raw["detail"]["backupVaultArn"] =
        serde_json::json!("arn:aws:backup:us-east-1:111111111111:backup-vault:vault-a");
    let event = ParsedEvent::parse(&raw).unwrap();
    let rp = raw["resources"][0].as_str().unwrap().to_string();
    let b = policy.vault("b").unwrap().arn.clone();
    let mut observed = Observed::default();
    observed.vault_locks.insert(
        b,
        VaultLock {
            min_retention_days: None,
            max_retention_days: Some(10),
        },
    );
    // Without the source's lifecycle, the inherited expiry is left to AWS.
    assert_eq!(
        only_copy(&plan_event(&event, &policy, &observed)).lifecycle,
        None
    );
    observed.point = Some(PointView {
        recovery_point_arn: rp,
        vault: policy.vault("a").unwrap().arn.clone(),
        resource_arn: Some("arn:aws:dynamodb:us-east-1:111111111111:table/orders".into()),
        resource_type: Some("DynamoDB".into()),
        status: Some("COMPLETED".into()),
        creation_date: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        completion_date: None,
        lifecycle: Lifecycle {
            delete_after_days: Some(35),
            move_to_cold_storage_after_days: None,
        },
        delete_at: None,
        storage_class: Some("WARM".into()),
        encrypted: None,
        source_vault_arn: None,
        tags: None,
        backup_size_bytes: None,
    });
    let job = only_copy(&plan_event(&event, &policy, &observed)).clone();
    assert_eq!(
        job.lifecycle.and_then(|l| l.delete_after_days),
        Some(10),
        "35 inherited days clamped to the lock's 10"
    );
    assert!(job.lock_adjustment.is_some());
}

#[test]
fn a_failed_aborted_or_expired_backup_into_a_policy_vault_is_recorded_with_aws_s_message() {
    for name in [
        "backup-job-aborted.json",
        "backup-job-failed.json",
        "backup-job-expired.json",
    ] {
        let plan = plan_event(&fixture(name), &example(), &gold());
        let [Action::RecordBackupFailure(f)] = plan.actions.as_slice() else {
            panic!("{name}: {plan:#?}");
        };
        assert!(
            f.backup_vault_arn.ends_with(":backup-vault:primary"),
            "{name}: {f:?}"
        );
        assert!(!f.status_message.is_empty());
    }
}

/// A genuine Copy Job COMPLETED event for a copy into `central` from a vault outside the policy.
fn planted_into_central(resource: &str) -> ParsedEvent {
    let text = std::fs::read_to_string(format!(
        "{}/../../tests/events/copy-job-completed-primary-to-central.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace(
        "arn:aws:backup:us-east-1:111111111111:backup-vault:primary",
        "arn:aws:backup:us-east-1:111111111111:backup-vault:attacker",
    )
    .replace(
        "arn:aws:dynamodb:us-east-1:111111111111:table/orders",
        resource,
    );
    ParsedEvent::parse_str(&text).unwrap()
}

#[test]
fn a_copy_planted_into_a_policy_vault_from_outside_the_routes_is_not_chained() {
    // Of a table no route brings into central (not gold): recorded, alerted, not copied on.
    let plan = plan_event(
        &planted_into_central("arn:aws:dynamodb:us-east-1:111111111111:table/planted"),
        &example(),
        &Observed::default(),
    );
    let [Action::RecordUnroutedCopy(u)] = plan.actions.as_slice() else {
        panic!("{plan:#?}");
    };
    assert!(u.source_vault_arn.ends_with(":backup-vault:attacker"));
    assert!(u.reason().contains("not copied on"), "{}", u.reason());
    assert!(u.incident_id().starts_with("unrouted#"));
}

#[test]
fn a_copy_from_outside_the_routes_of_a_table_the_policy_routes_there_is_chained_as_the_routes_own()
{
    // A gold table's backup: a backup plan's copy action beside the route serves the hop.
    let plan = plan_event(
        &planted_into_central("arn:aws:dynamodb:us-east-1:111111111111:table/orders"),
        &example(),
        &gold(),
    );
    assert_eq!(only_copy(&plan).route, "central->dr");
    // And one a route claimed or found held (the ledger knows its hop) is chained whatever its table.
    let known = Observed {
        landing_hop_known: true,
        ..Observed::default()
    };
    let plan = plan_event(
        &planted_into_central("arn:aws:dynamodb:us-east-1:111111111111:table/planted"),
        &example(),
        &known,
    );
    assert_eq!(only_copy(&plan).route, "central->dr");
}

#[test]
fn an_event_whose_account_or_region_is_not_the_jobs_is_not_acted_on() {
    for (from, to) in [
        (
            "\"account\": \"111111111111\"",
            "\"account\": \"999999999999\"",
        ),
        ("\"region\": \"us-east-1\"", "\"region\": \"eu-west-1\""),
    ] {
        for name in [
            "copy-job-completed-primary-to-central.json",
            "backup-job-completed.json",
        ] {
            let text = std::fs::read_to_string(format!(
                "{}/../../tests/events/{name}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
            .replacen(from, to, 1);
            let plan = plan_event(&ParsedEvent::parse_str(&text).unwrap(), &example(), &gold());
            assert!(plan.actions.is_empty(), "{name} {to}: {plan:#?}");
            let why = plan.ignored.unwrap_or_default();
            assert!(why.contains("not acted on"), "{name}: {why}");
        }
    }
}
