use super::*;

const EXAMPLE: &str = include_str!("../../../../infra/examples/policy.yaml");

fn errors_of(text: &str) -> Vec<String> {
    match Policy::parse(text) {
        Ok(_) => Vec::new(),
        Err(PolicyErrors(errors)) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn assert_error(text: &str, needle: &str) {
    let errors = errors_of(text);
    assert!(
        errors.iter().any(|e| e.contains(needle)),
        "expected an error containing {needle:?}, got {errors:#?}"
    );
}

/// A valid base to break one thing at a time.
fn policy(vaults: &str, routes: &str) -> String {
    format!(
        "version: 1\ncopy_role: \"arn:aws:iam::{{account}}:role/backup-relay-copy\"\nvaults:\n{vaults}\nroutes:\n{routes}\n"
    )
}

const A: &str = "  a: { arn: \"arn:aws:backup:us-east-1:111111111111:backup-vault:va\" }";
const B_35: &str = "  b: { arn: \"arn:aws:backup:us-east-1:222222222222:backup-vault:vb\", retention: { delete_after_days: 35 } }";

#[test]
fn example_policy_is_valid() {
    let p = Policy::parse(EXAMPLE).unwrap();
    assert_eq!(p.vaults.len(), 4);
    assert_eq!(p.routes.len(), 3);
    assert_eq!(
        p.routes[0]
            .select
            .tags
            .get("backup-tier")
            .map(String::as_str),
        Some("gold")
    );
    assert_eq!(
        p.routes[1].select.resource_types,
        vec!["DynamoDB".to_string()]
    );
    assert_eq!(
        p.vault("bunker").unwrap().retention,
        Some(Retention::NeverExpire {
            move_to_cold_storage_after_days: None
        })
    );
    assert_eq!(
        p.copy_role_for("222222222222"),
        "arn:aws:iam::222222222222:role/backup-relay-copy"
    );
    assert_eq!(
        p.root_vaults()
            .iter()
            .map(|v| v.alias.as_str())
            .collect::<Vec<_>>(),
        vec!["primary"]
    );
}

#[test]
fn json_and_yaml_give_the_same_policy() {
    let json = r#"{"version": 1, "copy_role": "arn:aws:iam::{account}:role/backup-relay-copy",
      "vaults": {"a": {"arn": "arn:aws:backup:us-east-1:111111111111:backup-vault:va"},
                 "b": {"arn": "arn:aws:backup:us-east-1:222222222222:backup-vault:vb", "retention": {"delete_after_days": 35}}},
      "routes": [{"from": "a", "to": "b"}]}"#;
    assert_eq!(
        Policy::parse(json).unwrap(),
        Policy::parse(&policy(&format!("{A}\n{B_35}"), "  - { from: a, to: b }")).unwrap()
    );
}

#[test]
fn retention_forms() {
    let with = |r: &str| {
        policy(&format!("{A}\n  b: {{ arn: \"arn:aws:backup:us-west-2:111111111111:backup-vault:vb\", retention: {r} }}"), "  - { from: a, to: b }")
    };
    let parsed = |r: &str| {
        Policy::parse(&with(r))
            .unwrap()
            .vault("b")
            .unwrap()
            .retention
    };
    assert_eq!(parsed("inherit"), Some(Retention::Inherit));
    assert_eq!(
        parsed("never_expire"),
        Some(Retention::NeverExpire {
            move_to_cold_storage_after_days: None
        })
    );
    assert_eq!(
        parsed("{ never_expire: true, move_to_cold_storage_after_days: 10 }"),
        Some(Retention::NeverExpire {
            move_to_cold_storage_after_days: Some(10)
        })
    );
    assert_eq!(
        parsed("{ delete_after_days: 120, move_to_cold_storage_after_days: 30 }"),
        Some(Retention::Days {
            delete_after_days: 120,
            move_to_cold_storage_after_days: Some(30)
        })
    );
    assert_error(
        &with("forever"),
        "retention: must be never_expire, inherit or a mapping",
    );
}

#[test]
fn rejects_unknown_version_and_bad_copy_role() {
    assert_error(
        &policy(&format!("{A}\n{B_35}"), "  - { from: a, to: b }")
            .replace("version: 1", "version: 2"),
        "policy: version: unknown version 2",
    );
    assert_error(
        &policy(&format!("{A}\n{B_35}"), "  - { from: a, to: b }").replace(
            "arn:aws:iam::{account}:role/backup-relay-copy",
            "backup-relay-copy",
        ),
        "policy: copy_role",
    );
}

#[test]
fn rejects_duplicate_aliases_in_yaml_and_json() {
    assert_error(
        &policy(&format!("{A}\n{A}\n{B_35}"), "  - { from: a, to: b }"),
        "vault 'a': (alias): duplicate alias",
    );
    let json = r#"{"version": 1, "copy_role": "arn:aws:iam::{account}:role/r",
      "vaults": {"a": {"arn": "arn:aws:backup:us-east-1:111111111111:backup-vault:va"},
                 "a": {"arn": "arn:aws:backup:us-east-1:111111111111:backup-vault:va2"}}, "routes": []}"#;
    assert_error(json, "vault 'a': (alias): duplicate alias");
}

#[test]
fn rejects_duplicate_routes_self_routes_and_unknown_aliases() {
    let v = format!("{A}\n{B_35}");
    assert_error(
        &policy(&v, "  - { from: a, to: b }\n  - { from: a, to: b }"),
        "route 2 (a -> b): (route): duplicate route",
    );
    assert_error(
        &policy(&v, "  - { from: b, to: b }"),
        "route 1 (b -> b): to: a route cannot copy a vault into itself",
    );
    assert_error(
        &policy(&v, "  - { from: a, to: nowhere }"),
        "route 1 (a -> nowhere): to: unknown vault alias 'nowhere'",
    );
}

#[test]
fn rejects_unparseable_arns() {
    assert_error(
        &policy(
            "  a: { arn: \"arn:aws:backup:us-east-1:111111111111:vault:a\" }",
            "  []",
        ),
        "vault 'a': arn: unparseable",
    );
    assert_error(
        &policy(
            "  a: { arn: \"arn:aws:backup:us-east-1:111111111111:backup-vault:a b\" }",
            "  []",
        ),
        "vault 'a': arn: unparseable",
    );
}

#[test]
fn rejects_cycles() {
    let v = "  a: { arn: \"arn:aws:backup:us-east-1:111111111111:backup-vault:va\", retention: inherit }\n  b: { arn: \"arn:aws:backup:us-west-2:111111111111:backup-vault:vb\", retention: inherit }\n  c: { arn: \"arn:aws:backup:eu-west-1:111111111111:backup-vault:vc\", retention: inherit }";
    let errors = errors_of(&policy(
        v,
        "  - { from: a, to: b }\n  - { from: b, to: c }\n  - { from: c, to: a }",
    ));
    assert_eq!(
        errors,
        vec!["routes: (graph): cycle: a -> b -> c -> a".to_string()]
    );
}

#[test]
fn rejects_a_route_into_a_vault_without_retention() {
    let v =
        format!("{A}\n  b: {{ arn: \"arn:aws:backup:us-west-2:111111111111:backup-vault:vb\" }}");
    assert_error(
        &policy(&v, "  - { from: a, to: b }"),
        "route 1 (a -> b): to: vault 'b' has no retention",
    );
}

#[test]
fn rejects_days_outside_range_and_the_90_day_cold_rule() {
    let with = |r: &str| {
        policy(&format!("{A}\n  b: {{ arn: \"arn:aws:backup:us-west-2:111111111111:backup-vault:vb\", retention: {r} }}"), "  - { from: a, to: b }")
    };
    assert_error(
        &with("{ delete_after_days: 0 }"),
        "vault 'b': retention.delete_after_days: 0 is outside 1..=36500",
    );
    assert_error(
        &with("{ delete_after_days: 36501 }"),
        "36501 is outside 1..=36500",
    );
    assert_error(&with("{ delete_after_days: 100, move_to_cold_storage_after_days: 30 }"), "vault 'b': retention.delete_after_days: 100 is less than move_to_cold_storage_after_days (30) + 90");
    assert!(errors_of(&with(
        "{ delete_after_days: 120, move_to_cold_storage_after_days: 30 }"
    ))
    .is_empty());
    assert_error(
        &with("{ never_expire: true, move_to_cold_storage_after_days: 36450 }"),
        "leaves fewer than 90 days",
    );
}

#[test]
fn rejects_cold_storage_on_a_cross_account_destination() {
    let v = format!("{A}\n  b: {{ arn: \"arn:aws:backup:us-west-2:222222222222:backup-vault:vb\", retention: {{ delete_after_days: 365, move_to_cold_storage_after_days: 30 }} }}");
    assert_error(&policy(&v, "  - { from: a, to: b }"), "vault 'b': retention.move_to_cold_storage_after_days: cross-account copies (from 'a') do not support the cold tier");
    // The same vault in the same account is fine.
    let same = v.replace("222222222222", "111111111111");
    assert!(errors_of(&policy(&same, "  - { from: a, to: b }")).is_empty());
}

#[test]
fn rejects_a_cross_account_default_vault() {
    let v = format!("{A}\n  d: {{ arn: \"arn:aws:backup:us-east-1:222222222222:backup-vault:Default\", retention: inherit }}");
    assert_error(
        &policy(&v, "  - { from: a, to: d }"),
        "route 1 (a -> d): to: vault 'd' is a Default vault",
    );
}

#[test]
fn rejects_paths_longer_than_ten_hops() {
    let vaults: Vec<String> = (0..12)
        .map(|i| format!("  v{i}: {{ arn: \"arn:aws:backup:us-east-1:111111111111:backup-vault:v{i}\", retention: inherit }}"))
        .collect();
    let routes: Vec<String> = (0..11)
        .map(|i| format!("  - {{ from: v{i}, to: v{} }}", i + 1))
        .collect();
    let errors = errors_of(&policy(&vaults.join("\n"), &routes.join("\n")));
    assert_eq!(
        errors,
        vec![
            "vault 'v0': routes: a path of 11 hops starts here; at most 10 are allowed".to_string()
        ]
    );
    assert!(errors_of(&policy(&vaults[..11].join("\n"), &routes[..10].join("\n"))).is_empty());
}

#[test]
fn reports_every_error_at_once_and_unknown_fields() {
    let text = "version: 3\ncopy_role: 7\nvaults:\n  a: { arn: \"bad\", colour: blue }\nroutes:\n  - { from: a, to: zz, via: x }\n";
    let errors = errors_of(text);
    for needle in [
        "policy: version: unknown version 3",
        "policy: copy_role: must be a string",
        "vault 'a': arn: unparseable",
        "vault 'a': colour: unknown field",
        "route 1 (a -> zz): via: unknown field",
        "route 1 (a -> zz): to: unknown vault alias 'zz'",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(needle)),
            "missing {needle:?} in {errors:#?}"
        );
    }
}

#[test]
fn syntax_errors_are_reported_not_panicked() {
    assert_error("{ \"version\": ", "not valid JSON");
    assert_error("version: [1\n", "not valid YAML");
    assert_error("", "policy: (document): must be a mapping");
}

#[test]
fn selectors_match_type_and_every_tag() {
    let p = Policy::parse(EXAMPLE).unwrap();
    let gold: BTreeMap<String, String> = [("backup-tier".to_string(), "gold".to_string())].into();
    let sel = &p.routes[0].select;
    assert!(sel.matches(Some("DynamoDB"), &gold));
    assert!(!sel.matches(Some("EBS"), &gold));
    assert!(!sel.matches(Some("DynamoDB"), &BTreeMap::new()));
}
