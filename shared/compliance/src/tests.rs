use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::inventory::{
    access_policy_denies_deletion, Inventory, PlanFacts, RegionFacts, TableFacts, VaultFacts,
};
use super::*;
use relay_core::arn::VaultArn;
use relay_core::guard::PointView;
use relay_core::retention::Lifecycle;

const POLICY: &str = include_str!("../../../infra/examples/policy.yaml");

fn at(hours: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::hours(hours)
}

fn table(name: &str) -> TableFacts {
    TableFacts {
        arn: format!("arn:aws:dynamodb:us-east-1:111111111111:table/{name}"),
        name: name.into(),
        account: "111111111111".into(),
        region: "us-east-1".into(),
        tags: BTreeMap::from([("backup-tier".into(), "gold".into())]),
        pitr: Some(true),
        native_backups: 0,
    }
}

fn point(table: &str, vault: &str, created: DateTime<Utc>, n: usize) -> PointView {
    let vault = VaultArn::parse(vault).unwrap();
    PointView {
        recovery_point_arn: format!(
            "arn:aws:backup:{}:{}:recovery-point:{table}-{n}",
            vault.region, vault.account
        ),
        vault,
        resource_arn: Some(format!(
            "arn:aws:dynamodb:us-east-1:111111111111:table/{table}"
        )),
        resource_type: Some("DynamoDB".into()),
        status: Some("COMPLETED".into()),
        creation_date: created,
        completion_date: Some(created),
        lifecycle: Lifecycle {
            delete_after_days: Some(35),
            move_to_cold_storage_after_days: None,
        },
        delete_at: Some(created + Duration::days(35)),
        storage_class: Some("WARM".into()),
        encrypted: Some(true),
        source_vault_arn: None,
        tags: None,
        backup_size_bytes: None,
    }
}

fn inventory(points: Vec<PointView>) -> Inventory {
    let policy = Policy::parse(POLICY).unwrap();
    Inventory {
        tables: vec![table("orders")],
        regions: vec![RegionFacts {
            account: "111111111111".into(),
            region: "us-east-1".into(),
            advanced_features: Some(true),
        }],
        vaults: policy
            .vaults
            .iter()
            .map(|v| VaultFacts {
                arn: v.arn.clone(),
                lock: None,
                encryption_key_arn: None,
                deny_manual_deletion: true,
                recovery_points: None,
                created: None,
            })
            .collect(),
        points,
        ..Inventory::default()
    }
}

#[test]
fn parameters_default_to_audit_managers_and_are_validated_together() {
    let p = Policy::parse(POLICY).unwrap();
    assert_eq!(p.compliance, Parameters::default());
    assert_eq!(
        (
            p.compliance.required_retention_days,
            p.compliance.recovery_point_max_age_hours
        ),
        (35, 24)
    );
    let text = format!(
        "{POLICY}compliance:\n  required_retention_days: 0\n  recovery_point_max_age_hours: 745\n  cross_region_list: [us-west-2, nowhere, us-west-2]\n  cross_account_list: [222222222222, \"12\"]\n  vault_lock_min_retention_days: 30\n  vault_lock_max_retention_days: 7\n  colour: blue\n"
    );
    let errors = Policy::parse(&text).unwrap_err().to_string();
    for needle in [
        "required_retention_days: 0 is outside 1..=36500",
        "recovery_point_max_age_hours: 745 is outside 1..=744",
        "cross_region_list[1]: 'nowhere' is not a Region AWS has",
        "cross_region_list[2]: 'us-west-2' is listed twice",
        "cross_account_list[1]: '12' is not a 12-digit account id",
        "vault_lock_min_retention_days: 30 is more than vault_lock_max_retention_days (7)",
        "colour: unknown field",
    ] {
        assert!(errors.contains(needle), "{needle} not in:\n{errors}");
    }
    let ok = format!("{POLICY}compliance: {{ cross_account_list: [222222222222], max_restore_time_minutes: 90 }}\n");
    let p = Policy::parse(&ok).unwrap();
    assert_eq!(p.compliance.cross_account_list, ["222222222222"]);
    assert_eq!(p.compliance.max_restore_time_minutes, Some(90));
}

#[test]
fn an_access_policy_denies_deletion_only_to_everyone_and_only_for_deletes() {
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":["backup:DeleteRecoveryPoint","backup:UpdateRecoveryPointLifecycle","backup:PutBackupVaultAccessPolicy"],"Resource":"*"}]}"#;
    assert!(access_policy_denies_deletion(deny));
    // AWS Config's rule wants all three actions denied, not only the delete.
    assert!(!access_policy_denies_deletion(
        &deny.replace(",\"backup:PutBackupVaultAccessPolicy\"", "")
    ));
    assert!(access_policy_denies_deletion(&deny.replace(
        "backup:UpdateRecoveryPointLifecycle\",\"backup:PutBackupVaultAccessPolicy",
        "backup:*"
    )));
    assert!(access_policy_denies_deletion(&deny.replace(
        "\"backup:UpdateRecoveryPointLifecycle\",\"backup:PutBackupVaultAccessPolicy\"",
        "\"BACKUP:update*\",\"backup:Put*\""
    )));
    assert!(access_policy_denies_deletion(
        &deny.replace(r#"{"AWS":"*"}"#, r#""*""#)
    ));
    assert!(!access_policy_denies_deletion(
        &deny.replace("Deny", "Allow")
    ));
    assert!(!access_policy_denies_deletion(
        &deny.replace(r#""*"}"#, r#""arn:aws:iam::1:root"}"#)
    ));
    assert!(!access_policy_denies_deletion(
        &deny.replace("DeleteRecoveryPoint", "StartCopyJob")
    ));
    assert!(!access_policy_denies_deletion("not json"));
    assert!(!access_policy_denies_deletion("{}"));
}

#[test]
fn a_plan_selects_by_tags_by_name_or_everything_in_its_own_account_and_region() {
    let plan = |tags: &[(&str, &str)], resources: &[&str]| PlanFacts {
        account: "111111111111".into(),
        region: "us-east-1".into(),
        name: "p".into(),
        vault_arn: "v".into(),
        every_hours: Some(24),
        delete_after_days: Some(35),
        select_tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        select_resources: resources.iter().map(|r| r.to_string()).collect(),
    };
    let t = table("orders");
    assert!(plan(&[], &[]).selects(&t));
    assert!(plan(&[("backup-tier", "gold")], &[]).selects(&t));
    assert!(!plan(&[("backup-tier", "silver")], &[]).selects(&t));
    assert!(plan(&[("x", "y")], &[&t.arn]).selects(&t));
    let mut elsewhere = plan(&[], &[]);
    elsewhere.region = "us-west-2".into();
    assert!(!elsewhere.selects(&t));
}

#[test]
fn evidence_is_capped_and_the_reason_says_how_much_more_there_was() {
    let primary = "arn:aws:backup:us-east-1:111111111111:backup-vault:primary";
    // 30 daily backups never copied anywhere: 30 x 3 missing copies.
    let points = (0..30)
        .map(|d| point("orders", primary, at(-24 * (d + 2)), d as usize))
        .collect();
    let policy = Policy::parse(POLICY).unwrap();
    let report = evaluate(&policy, &inventory(points), at(0), "d");
    let chain = report.resources[0]
        .controls
        .iter()
        .find(|c| c.id == ControlId::RelayChainComplete)
        .unwrap();
    assert_eq!(chain.status, Status::NonCompliant);
    assert_eq!(chain.evidence.len(), MAX_EVIDENCE);
    assert!(
        chain
            .reason
            .starts_with("90 copies missing over 30 backups"),
        "{}",
        chain.reason
    );
    assert!(
        chain.reason.ends_with("(evidence: the first 20, 70 more)"),
        "{}",
        chain.reason
    );
}

#[test]
fn a_young_backup_is_not_yet_due_in_the_chain_and_an_old_one_is() {
    let primary = "arn:aws:backup:us-east-1:111111111111:backup-vault:primary";
    let policy = Policy::parse(POLICY).unwrap();
    let young = evaluate(
        &policy,
        &inventory(vec![point("orders", primary, at(-23), 0)]),
        at(0),
        "d",
    );
    let c = young.resources[0]
        .controls
        .iter()
        .find(|c| c.id == ControlId::RelayChainComplete)
        .unwrap();
    assert_eq!(
        (c.status, c.reason.as_str()),
        (Status::Compliant, "no backup older than 24 h to check yet")
    );
    let old = evaluate(
        &policy,
        &inventory(vec![point("orders", primary, at(-25), 0)]),
        at(0),
        "d",
    );
    let c = old.resources[0]
        .controls
        .iter()
        .find(|c| c.id == ControlId::RelayChainComplete)
        .unwrap();
    assert_eq!(c.status, Status::NonCompliant);
}

#[test]
fn unknown_facts_are_not_called_compliant() {
    let mut inv = inventory(Vec::new());
    inv.tables[0].pitr = None;
    inv.regions.clear();
    let policy = Policy::parse(POLICY).unwrap();
    let r = evaluate(&policy, &inv, at(0), "d");
    let status = |id| {
        r.resources[0]
            .controls
            .iter()
            .find(|c| c.id == id)
            .unwrap()
            .status
    };
    assert_eq!(status(ControlId::RelayPitrEnabled), Status::NonCompliant);
    assert_eq!(
        status(ControlId::RelayAdvancedFeatures),
        Status::NonCompliant
    );
    assert_eq!(
        status(ControlId::BackupLastRecoveryPointCreated),
        Status::NonCompliant
    );
    assert_eq!(
        status(ControlId::BackupRecoveryPointEncrypted),
        Status::NotApplicable
    );
}

#[test]
fn a_new_table_is_a_change_only_when_non_compliant_and_a_table_that_left_is_one() {
    let policy = Policy::parse(POLICY).unwrap();
    let empty = evaluate(&policy, &Inventory::default(), at(0), "d");
    let with_table = evaluate(&policy, &inventory(Vec::new()), at(0), "d");
    assert_eq!(with_table.resources[0].status, Status::NonCompliant);
    assert_eq!(changes(Some(&Verdicts::of(&empty)), &with_table).len(), 1);
    assert_eq!(changes(None, &with_table).len(), 1);
    let left = changes(Some(&Verdicts::of(&with_table)), &empty);
    assert!(
        left.len() == 1 && left[0].gone,
        "a table that left is a change: it may be unreadable now"
    );
}

#[test]
fn the_digest_names_its_algorithm_and_changes_with_the_text() {
    assert!(policy_digest("a").starts_with("sha256:"));
    assert_ne!(policy_digest("a"), policy_digest("b"));
}

#[test]
fn an_incident_about_native_backups_concerns_only_tables_of_its_account_and_region() {
    let policy = Policy::parse(POLICY).unwrap();
    let incident = |region: &str| {
        relay_core::ports::Incident::new(
            format!("native#111111111111#{region}"),
            relay_core::ports::Alert {
                account: Some("111111111111".into()),
                ..relay_core::ports::Alert::plain(
                    format!("native backups in 111111111111/{region}"),
                    String::new(),
                )
            },
            at(-1),
        )
    };
    let status = |region: &str| {
        let mut inv = inventory(Vec::new());
        inv.incidents.push(incident(region));
        let r = evaluate(&policy, &inv, at(0), "d");
        let c = r.resources[0]
            .controls
            .iter()
            .find(|c| c.id == ControlId::RelayOpenIncidents)
            .unwrap();
        c.status
    };
    assert_eq!(status("us-west-2"), Status::Compliant);
    assert_eq!(status("us-east-1"), Status::NonCompliant);
}

#[test]
fn an_unreadable_ledger_is_not_no_incident() {
    let policy = Policy::parse(POLICY).unwrap();
    let mut inv = inventory(Vec::new());
    inv.gaps.push(InventoryGap {
        what: "open incidents (the ledger)".into(),
        error: "ResourceNotFoundException".into(),
        kind: inventory::GapKind::Incidents,
        ..Default::default()
    });
    let r = evaluate(&policy, &inv, at(0), "d");
    let c = r.resources[0]
        .controls
        .iter()
        .find(|c| c.id == ControlId::RelayOpenIncidents)
        .unwrap();
    assert_eq!(c.status, Status::NonCompliant);
    assert!(c.reason.contains("could not be read"), "{}", c.reason);
}

#[test]
fn a_retention_rounded_a_few_hours_short_is_kept_and_a_day_short_is_not() {
    let primary = "arn:aws:backup:us-east-1:111111111111:backup-vault:primary";
    let policy = Policy::parse(POLICY).unwrap();
    let mut p = point("orders", primary, at(-2), 0);
    p.delete_at = Some(p.creation_date + Duration::days(35) - Duration::hours(5));
    let r = evaluate(&policy, &inventory(vec![p.clone()]), at(0), "d");
    let status = |r: &Report| {
        r.resources[0]
            .controls
            .iter()
            .find(|c| c.id == ControlId::BackupRecoveryPointMinimumRetentionCheck)
            .unwrap()
            .status
    };
    assert_eq!(status(&r), Status::Compliant);
    p.delete_at = Some(p.creation_date + Duration::days(34));
    let r = evaluate(&policy, &inventory(vec![p]), at(0), "d");
    assert_eq!(status(&r), Status::NonCompliant);
}

#[test]
fn csv_cells_a_spreadsheet_would_run_as_formulas_are_made_inert() {
    for (cell, inert) in [
        ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("orders", "orders"),
        ("", ""),
    ] {
        assert_eq!(render::inert_cell(cell), inert);
    }
}

/// The copy-tag control takes a table's original from a root vault only, so a point with no
/// source in any other vault (a plan's own backup into the bunker, or a copy AWS did not say the
/// source of) is not read for its tags: reading it costs the vault's account a ListTags for
/// nothing.
#[tokio::test]
async fn only_originals_in_a_root_vault_are_read_for_their_copies_tags() {
    use relay_core::ports::{CopyTagPort, PortResult};
    use std::sync::Mutex;
    struct Recorded(Mutex<Vec<String>>);
    impl CopyTagPort for Recorded {
        async fn recovery_point_tags(
            &self,
            _: &VaultArn,
            arn: &str,
        ) -> PortResult<relay_core::plan::Tags> {
            self.0.lock().unwrap().push(arn.to_string());
            Ok(BTreeMap::new())
        }
        async fn tag_recovery_point(
            &self,
            _: &VaultArn,
            _: &str,
            _: &relay_core::plan::Tags,
        ) -> PortResult<()> {
            unreachable!("the report only reads")
        }
    }
    const PRIMARY: &str = "arn:aws:backup:us-east-1:111111111111:backup-vault:primary";
    const CENTRAL: &str = "arn:aws:backup:us-east-1:222222222222:backup-vault:central";
    const BUNKER: &str = "arn:aws:backup:eu-west-1:333333333333:backup-vault:bunker";
    let policy = Policy::parse(POLICY).unwrap();
    let made = at(-30);
    let original = point("orders", PRIMARY, made, 0);
    let mut copy = point("orders", CENTRAL, made, 1);
    copy.source_vault_arn = Some(PRIMARY.into());
    let in_bunker = point("orders", BUNKER, made, 2);
    let mut points = vec![original.clone(), copy.clone(), in_bunker];
    let ports = Recorded(Mutex::new(Vec::new()));
    let sample = tag_sample::TagSample::of(&points, at(0), 4_800);
    let gaps = inventory::read_copy_tags(&ports, &policy, &mut points, at(0), &sample, 4).await;
    assert!(gaps.is_empty(), "{gaps:?}");
    let mut read = ports.0.into_inner().unwrap();
    read.sort();
    let mut wanted = vec![copy.recovery_point_arn, original.recovery_point_arn];
    wanted.sort();
    assert_eq!(read, wanted);
    assert!(points[2].tags.is_none(), "the bunker's point is not read");
}
