use super::*;

const POLICY: &str = include_str!("../../../../infra/examples/policy.yaml");

fn policy() -> Policy {
    Policy::parse(POLICY).unwrap()
}

/// design.md's example world file, as written there.
const CONTRACT_EXAMPLE: &str = r#"
tables:
  - { name: orders, account: "111111111111", region: us-east-1, tags: { backup-tier: gold },
      pitr: true, size_gb: 20, native_backups: 0 }
backup_plans:
  - { vault: primary, every_hours: 24, delete_after_days: 35, select_tags: {}, copy_to: null }
accounts:
  "333333333333": { executor_role: true, copy_role: true }
regions:
  - { account: "111111111111", region: us-east-1, advanced_features: true }
organization: { cross_account_backup: true }
vaults:
  bunker: { exists: true, lock: { min_retention_days: 1, max_retention_days: 3650 },
            access_policy_allows_copy_from: [org], kms_key_shared_with: [org], deny_manual_deletion: true }
faults: { lose: 0.1, duplicate: 0.3, reorder_minutes: 45, fail: 0.05, throttle: 0.005, deny_account: [] }
"#;

#[test]
fn the_contracts_example_reads_as_written() {
    let w = WorldFile::parse(CONTRACT_EXAMPLE, &policy()).unwrap();
    let tables = w.tables.unwrap();
    assert_eq!(tables.len(), 1);
    let t = &tables[0];
    assert_eq!(
        (t.name.as_str(), t.account.as_str(), t.region.as_str()),
        ("orders", "111111111111", "us-east-1")
    );
    assert_eq!((t.pitr, t.size_gb, t.native_backups), (true, 20, 0));
    assert_eq!(t.tags.get("backup-tier").map(String::as_str), Some("gold"));
    let plan = &w.backup_plans.unwrap()[0];
    assert_eq!(
        (
            plan.vault.as_str(),
            plan.every_hours,
            plan.delete_after_days,
            plan.copy_to.as_deref()
        ),
        ("primary", 24, 35, None)
    );
    assert_eq!(w.accounts["333333333333"], AccountSpec::default());
    assert!(w.regions[&("111111111111".into(), "us-east-1".into())].advanced_features);
    let bunker = &w.vaults["bunker"];
    assert_eq!(bunker.lock.and_then(|l| l.max_retention_days), Some(3650));
    assert_eq!(
        bunker.access_policy_allows_copy_from,
        Principals::Organization
    );
    assert!(bunker.deny_manual_deletion);
    let faults = w.faults.unwrap();
    assert_eq!((faults.lose, faults.reorder_minutes), (Some(0.1), Some(45)));
}

#[test]
fn an_empty_world_is_every_default() {
    let w = WorldFile::parse("{}", &policy()).unwrap();
    assert_eq!(w, WorldFile::default());
}

#[test]
fn every_error_is_reported_at_once_naming_where_and_the_field() {
    let text = r#"
tables:
  - { name: "x", account: "12345", region: mars, pitr: maybe }
  - { name: orders, account: 111111111111, region: us-east-1, size_gb: -1 }
  - { name: orders, account: "111111111111", region: us-east-1 }
backup_plans:
  - { vault: nowhere, every_hours: 0, delete_after_days: 40000, copy_to: elsewhere }
accounts:
  "42": { executor_role: "yes" }
vaults:
  bunker: { lock: { min_retention_days: 100, max_retention_days: 10 }, kms_key_shared_with: [org, "111111111111"] }
  ghost: { exists: false }
faults: { lose: 2, reorder_minutes: 9999, deny_account: [nobody] }
surprise: 1
"#;
    let errors = WorldFile::parse(text, &policy()).unwrap_err();
    let said: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
    for expected in [
        "world: surprise: unknown field",
        "table 1: name: 'x' is not a DynamoDB table name",
        "table 1: account: '12345' is not a 12-digit account id",
        "table 1: region: 'mars' is not a Region name",
        "table 1: pitr: must be true or false",
        "table 2 (orders): size_gb: -1 is outside 0..=1000000",
        "table 3 (orders): name: a table 'orders' is already listed in 111111111111/us-east-1",
        "backup_plan 1: vault: 'nowhere' is not a vault of the policy",
        "backup_plan 1: every_hours: 0 is outside 1..=744",
        "backup_plan 1: delete_after_days: 40000 is outside 1..=36500 days",
        "backup_plan 1: copy_to: 'elsewhere' is not a vault of the policy",
        "account '42': (key): not a 12-digit account id",
        "account '42': executor_role: must be true or false",
        "vault 'bunker': lock: min_retention_days 100 is over max_retention_days 10",
        "vault 'bunker': kms_key_shared_with: 'org' stands alone",
        "vault 'ghost': (key): not a vault of the policy",
        "faults: lose: 2 is not a probability within 0..=1",
        "faults: reorder_minutes: 9999 is outside 0..=1440",
        "faults: deny_account: 'nobody' is not a 12-digit account id",
    ] {
        assert!(
            said.iter().any(|s| s.starts_with(expected)),
            "missing {expected:?} in:\n{}",
            said.join("\n")
        );
    }
    assert!(errors.to_string().starts_with("invalid world file ("));
}

#[test]
fn access_lists_read_as_the_organisation_accounts_or_nobody() {
    let text = r#"
vaults:
  central: { access_policy_allows_copy_from: ["111111111111"], kms_key_shared_with: [] }
"#;
    let w = WorldFile::parse(text, &policy()).unwrap();
    let central = &w.vaults["central"];
    assert!(central
        .access_policy_allows_copy_from
        .admits("111111111111", true));
    assert!(!central
        .access_policy_allows_copy_from
        .admits("333333333333", true));
    assert!(!central.kms_key_shared_with.admits("111111111111", true));
    assert!(Principals::Organization.admits("333333333333", true));
    assert!(!Principals::Organization.admits("999999999999", false));
}

#[test]
fn an_empty_file_is_a_world_of_defaults_and_plans_are_one_per_vault() {
    assert_eq!(
        WorldFile::parse("", &policy()).unwrap(),
        WorldFile::default()
    );
    assert_eq!(
        WorldFile::parse("---\n", &policy()).unwrap(),
        WorldFile::default()
    );
    let text = "backup_plans:\n  - { vault: primary }\n  - { vault: primary, copy_to: primary }\n";
    let said = WorldFile::parse(text, &policy()).unwrap_err().to_string();
    assert!(
        said.contains("backup_plan 2: vault: another plan already backs up into 'primary'"),
        "{said}"
    );
    assert!(
        said.contains("backup_plan 2: copy_to: copies into the plan's own vault"),
        "{said}"
    );
}
