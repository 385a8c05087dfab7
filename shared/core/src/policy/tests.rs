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
fn routes_lead_downstream_only_whatever_they_select() {
    let p = Policy::parse(EXAMPLE).unwrap();
    // primary -> central selects gold tables only: the path is there all the same.
    assert!(p.leads("primary", "bunker"));
    assert!(p.leads("central", "dr"));
    assert!(p.leads("dr", "dr"));
    assert!(!p.leads("dr", "central"));
    assert!(!p.leads("bunker", "primary"));
    assert!(!p.leads("primary", "nowhere"));
}

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
    // The second definition's own errors are reported with it, every error at once.
    let bad_again = r#"{"version": 1, "copy_role": "arn:aws:iam::{account}:role/r",
      "vaults": {"a": {"arn": "arn:aws:backup:us-east-1:111111111111:backup-vault:va"},
                 "a": {"arn": "not an arn"}}, "routes": []}"#;
    let errors = errors_of(bad_again);
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("vault 'a' (again): arn")),
        "{errors:#?}"
    );
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

// ---------------------------------------------------------------------------------------------
// What AWS would refuse (issue 6).

fn vault(alias: &str, arn: &str, retention: &str) -> String {
    if retention.is_empty() {
        format!("  {alias}: {{ arn: \"{arn}\" }}")
    } else {
        format!("  {alias}: {{ arn: \"{arn}\", retention: {retention} }}")
    }
}

fn arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:backup:{region}:{account}:backup-vault:{name}")
}

#[test]
fn resource_types_use_aws_backups_spelling_with_a_suggestion() {
    let with = |types: &str| {
        policy(
            &format!("{A}\n{B_35}"),
            &format!("  - {{ from: a, to: b, select: {{ resource_types: [{types}] }} }}"),
        )
    };
    assert_error(
        &with("dynamodb"),
        "route 1 (a -> b): select.resource_types: unknown resource type 'dynamodb': AWS Backup spells it 'DynamoDB'",
    );
    assert_error(
        &with("storage_gateway"),
        "unknown resource type 'storage_gateway': AWS Backup spells it 'Storage Gateway'",
    );
    assert_error(
        &with("Gremlin"),
        "route 1 (a -> b): select.resource_types: unknown resource type 'Gremlin' (AWS Backup's are: Aurora,",
    );
    let p = Policy::parse(&with("DynamoDB, EBS, \"SAP HANA on Amazon EC2\"")).unwrap();
    assert_eq!(
        p.routes[0].select.resource_types,
        vec!["DynamoDB", "EBS", "SAP HANA on Amazon EC2"]
    );
}

#[test]
fn a_route_stays_in_one_partition_and_so_does_its_copy_role() {
    let cn = vault(
        "b",
        &arn("aws-cn", "cn-north-1", "111111111111", "vb"),
        "inherit",
    );
    let text = policy(&format!("{A}\n{cn}"), "  - { from: a, to: b }");
    assert_error(
        &text,
        "route 1 (a -> b): to: vault 'b' is in partition 'aws-cn' and 'a' in 'aws': AWS Backup cannot copy across partitions",
    );
    // All in aws-cn, the role in aws.
    let a_cn = vault(
        "a",
        &arn("aws-cn", "cn-northwest-1", "111111111111", "va"),
        "",
    );
    let errors = errors_of(&policy(&format!("{a_cn}\n{cn}"), "  - { from: a, to: b }"));
    assert_eq!(
        errors,
        vec!["route 1 (a -> b): copy_role: the role is in partition 'aws' but source vault 'a' is in 'aws-cn'"]
    );
    let role_cn = policy(&format!("{a_cn}\n{cn}"), "  - { from: a, to: b }")
        .replace("arn:aws:iam::", "arn:aws-cn:iam::");
    assert!(errors_of(&role_cn).is_empty());
}

#[test]
fn regions_must_belong_to_the_arns_partition() {
    let one = |partition: &str, region: &str| {
        errors_of(&policy(
            &vault("a", &arn(partition, region, "111111111111", "va"), ""),
            "  []",
        ))
    };
    assert_eq!(
        one("aws-cn", "us-east-1"),
        vec!["vault 'a': arn: Region 'us-east-1' is in partition 'aws', not 'aws-cn'"]
    );
    assert_eq!(
        one("aws", "cn-north-1"),
        vec!["vault 'a': arn: Region 'cn-north-1' is in partition 'aws-cn', not 'aws'"]
    );
    assert_eq!(
        one("aws", "us-gov-west-1"),
        vec!["vault 'a': arn: Region 'us-gov-west-1' is in partition 'aws-us-gov', not 'aws'"]
    );
    assert_eq!(
        one("aws", "useast1"),
        vec!["vault 'a': arn: 'useast1' is not a Region name (like us-east-1)"]
    );
    // The shape of a Region, but not one AWS has.
    assert!(one("aws", "mars-east-1")[0]
        .starts_with("vault 'a': arn: 'mars-east-1' is not a Region AWS has"));
    assert!(one("aws-mars", "us-east-1")[0]
        .starts_with("vault 'a': arn: unknown partition 'aws-mars' (AWS's are aws, aws-cn, "));
    for (partition, region) in [
        ("aws", "ap-southeast-4"),
        ("aws", "eu-central-2"),
        ("aws-us-gov", "us-gov-east-1"),
        ("aws-cn", "cn-northwest-1"),
    ] {
        assert!(one(partition, region).is_empty(), "{partition} {region}");
    }
}

#[test]
fn a_copy_role_without_account_must_be_in_every_source_vaults_account() {
    let fixed = |account: &str| {
        policy(&format!("{A}\n{B_35}"), "  - { from: a, to: b }").replace(
            "arn:aws:iam::{account}:",
            &format!("arn:aws:iam::{account}:"),
        )
    };
    // a is in 111111111111: a role there is fine for a route out of a.
    assert!(errors_of(&fixed("111111111111")).is_empty());
    assert_eq!(
        errors_of(&fixed("222222222222")),
        vec!["route 1 (a -> b): copy_role: the role is in account 222222222222 but the copy runs in source vault 'a''s account 111111111111: write {account} for the account"]
    );
    assert_error(
        &fixed("1112233445566"),
        "policy: copy_role: account id '1112233445566' must be exactly 12 digits (or {account})",
    );
}

#[test]
fn inherit_into_another_account_from_a_cold_vault_is_refused() {
    let v = [
        A.to_string(),
        vault(
            "cold",
            &arn("aws", "us-west-2", "111111111111", "cold"),
            "{ delete_after_days: 365, move_to_cold_storage_after_days: 30 }",
        ),
        vault(
            "far",
            &arn("aws", "us-west-2", "222222222222", "far"),
            "inherit",
        ),
        vault(
            "near",
            &arn("aws", "eu-west-1", "111111111111", "near"),
            "inherit",
        ),
        vault(
            "farther",
            &arn("aws", "eu-west-1", "333333333333", "farther"),
            "inherit",
        ),
    ]
    .join("\n");
    let routes = "  - { from: a, to: cold }\n  - { from: cold, to: far }\n  - { from: cold, to: near }\n  - { from: near, to: farther }";
    assert_eq!(
        errors_of(&policy(&v, routes)),
        vec![
            "vault 'far': retention: inherit would carry the cold-storage setting of vault 'cold' (cold after 30 days) into another account by route 2 (cold -> far), and cross-account copies do not support the cold tier: state delete_after_days instead",
            // Through an inherit vault in the same account (where cold storage is fine).
            "vault 'farther': retention: inherit would carry the cold-storage setting of vault 'cold' (cold after 30 days) into another account by route 4 (near -> farther), and cross-account copies do not support the cold tier: state delete_after_days instead",
        ]
    );
    // Without cold storage upstream, inherit across accounts is fine.
    let warm = v.replace(", move_to_cold_storage_after_days: 30", "");
    assert!(errors_of(&policy(&warm, routes)).is_empty());
}

#[test]
fn policy_accounts_are_exactly_twelve_digits() {
    let v = vault("a", &arn("aws", "us-east-1", "1112233445566", "va"), "");
    assert_eq!(
        errors_of(&policy(&v, "  []")),
        vec!["vault 'a': arn: account id '1112233445566' must be exactly 12 digits"]
    );
    let short = vault("a", &arn("aws", "us-east-1", "11111", "va"), "");
    assert_error(
        &policy(&short, "  []"),
        "vault 'a': arn: account id '11111' must be exactly 12 digits",
    );
}

#[test]
fn aliases_are_letters_digits_underscore_and_dash() {
    let v = |alias: &str| vault(alias, &arn("aws", "us-east-1", "111111111111", "va"), "");
    assert!(errors_of(&policy(&v("Primary_vault-2"), "  []")).is_empty());
    for alias in ["\"a b\"", "a.b", "\"dr/1\"", "\"\""] {
        let errors = errors_of(&policy(&v(alias), "  []"));
        let name = alias.trim_matches('"');
        assert_eq!(
            errors,
            vec![format!(
                "vault '{name}': (alias): an alias is one or more of A-Z a-z 0-9 _ -"
            )],
            "{alias}"
        );
    }
}

#[test]
fn every_error_is_reported_even_past_an_unparseable_arn() {
    let v = [
        vault("a", "arn:aws:backup:us-east-1:111111111111:vault:a", ""),
        vault("b", &arn("aws", "us-west-2", "222222222222", "vb"), ""),
        vault(
            "c.1",
            &arn("aws-cn", "us-east-1", "1112233445566", "vc"),
            "{ delete_after_days: 0 }",
        ),
        vault(
            "d",
            &arn("aws", "us-east-1", "333333333333", "Default"),
            "inherit",
        ),
    ]
    .join("\n");
    let routes =
        "  - { from: a, to: b, select: { resource_types: [dynamodb] } }\n  - { from: b, to: d }";
    let text = policy(&v, routes).replace("{account}", "444444444444");
    let errors = errors_of(&text);
    for needle in [
        "vault 'a': arn: unparseable",
        "vault 'c.1': (alias): an alias is one or more of",
        "vault 'c.1': arn: account id '1112233445566' must be exactly 12 digits",
        "vault 'c.1': arn: Region 'us-east-1' is in partition 'aws', not 'aws-cn'",
        "vault 'c.1': retention.delete_after_days: 0 is outside 1..=36500",
        "route 1 (a -> b): select.resource_types: unknown resource type 'dynamodb'",
        // a's ARN is unreadable, and b's missing retention is still found.
        "route 1 (a -> b): to: vault 'b' has no retention",
        "route 2 (b -> d): copy_role: the role is in account 444444444444 but the copy runs in source vault 'b''s account 222222222222",
        "route 2 (b -> d): to: vault 'd' is a Default vault",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(needle)),
            "missing {needle:?} in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), 9, "{errors:#?}");
}

// ---------------------------------------------------------------------------------------------
// Size and shape of the graph: validation stays linear.

fn many_vaults(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            vault(
                &format!("v{i}"),
                &arn("aws", "us-east-1", "111111111111", &format!("v{i}")),
                // Not inherit: these graphs have vaults with two routes in.
                "{ delete_after_days: 35 }",
            )
        })
        .collect()
}

fn route_list(edges: &[(usize, usize)]) -> String {
    edges
        .iter()
        .map(|(f, t)| format!("  - {{ from: v{f}, to: v{t} }}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `f`, or a failure if it has not finished in a minute: a watchdog against work that explodes
/// (2^30 paths), not a measure of speed (that is the benchmarks').
fn finishes<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, answer) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(f()));
    answer
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("still running after a minute: the work explodes with the input")
}

fn timed_errors(text: &str) -> Vec<String> {
    let text = text.to_string();
    finishes(move || errors_of(&text))
}

#[test]
fn a_ladder_of_thirty_diamonds_validates_at_once() {
    // v(3k) -> v(3k+1), v(3k+2) -> v(3k+3): 2^30 paths, 60 hops long.
    let mut edges = Vec::new();
    for k in 0..30 {
        let top = 3 * k;
        edges.extend([
            (top, top + 1),
            (top, top + 2),
            (top + 1, top + 3),
            (top + 2, top + 3),
        ]);
    }
    let text = policy(&many_vaults(91).join("\n"), &route_list(&edges));
    assert_eq!(
        timed_errors(&text),
        vec!["vault 'v0': routes: a path of 60 hops starts here; at most 10 are allowed"]
    );
}

#[test]
fn three_hundred_vaults_validate_at_once() {
    // A fan-out of 299 routes from one root, each continuing one hop: valid.
    let fan: Vec<(usize, usize)> = (1..150).flat_map(|i| [(0, i), (i, i + 149)]).collect();
    let text = policy(&many_vaults(300).join("\n"), &route_list(&fan));
    assert_eq!(timed_errors(&text), Vec::<String>::new());
    // A chain through all 300: one error, at its root.
    let chain: Vec<(usize, usize)> = (0..299).map(|i| (i, i + 1)).collect();
    let text = policy(&many_vaults(300).join("\n"), &route_list(&chain));
    assert_eq!(
        timed_errors(&text),
        vec!["vault 'v0': routes: a path of 299 hops starts here; at most 10 are allowed"]
    );
    // The chain closed back to v0 from every vault: 299 cycles, 20 listed.
    let mut cycles = chain.clone();
    cycles.extend((1..300).map(|i| (i, 0)));
    let errors = timed_errors(&policy(&many_vaults(300).join("\n"), &route_list(&cycles)));
    assert_eq!(errors.len(), 21, "{errors:#?}");
    assert!(errors.contains(
        &"routes: (graph): cycle: v0 -> v1 -> v2 -> v3 -> v4 -> v5 -> v6 -> v7 -> v8 -> v9 -> (290 more vaults) -> v0".to_string()
    ), "{errors:#?}");
    assert!(errors[..20]
        .iter()
        .all(|e| e.starts_with("routes: (graph): cycle: v0 -> v1 -> ")));
    assert_eq!(errors[20], "routes: (graph): 279 more cycles not listed");
}

#[test]
fn oversized_and_alias_bomb_documents_are_refused() {
    let big = format!("# {}\n", "x".repeat(MAX_POLICY_BYTES));
    assert_eq!(
        errors_of(&big),
        vec![format!(
            "policy: (document): {} bytes is over the 1048576-byte (1 MB) limit",
            big.len()
        )]
    );
    // 1000 x 1000 x 1000 values from a few kilobytes of YAML.
    let row = vec!["x"; 1000].join(", ");
    let refs = |name: &str| vec![format!("*{name}"); 1000].join(", ");
    let bomb = format!("a: &a [{row}]\nb: &b [{}]\nc: [{}]\n", refs("a"), refs("b"));
    finishes(move || assert_error(&bomb, "the document expands to more than 16777216 bytes"));
}

#[test]
fn an_inherit_vault_with_two_routes_in_is_refused() {
    let text = r#"
version: 1
copy_role: "arn:aws:iam::{account}:role/backup-relay-copy"
vaults:
  a: { arn: "arn:aws:backup:us-east-1:111111111111:backup-vault:vault-a" }
  b: { arn: "arn:aws:backup:us-east-1:111111111111:backup-vault:vault-b", retention: { delete_after_days: 35 } }
  c: { arn: "arn:aws:backup:us-east-1:111111111111:backup-vault:vault-c", retention: { delete_after_days: 3650 } }
  d: { arn: "arn:aws:backup:us-east-1:111111111111:backup-vault:vault-d", retention: inherit }
routes:
  - { from: a, to: b }
  - { from: a, to: c }
  - { from: b, to: d }
  - { from: c, to: d }
"#;
    let errors = Policy::parse(text).unwrap_err();
    let e = errors
        .0
        .iter()
        .find(|e| e.location == "vault 'd'" && e.field == "retention")
        .unwrap_or_else(|| panic!("{errors}"));
    assert!(
        e.message.contains("2 routes copy into it (from b, c)"),
        "{e}"
    );
}

#[test]
fn deep_nesting_is_refused_at_once_and_flow_style_yaml_and_a_bom_are_read() {
    let deep = format!("x: {}", "[".repeat(200_000));
    let errors = finishes(move || Policy::parse(&deep).unwrap_err());
    assert!(errors.to_string().contains("levels deep"), "{errors}");
    let example = include_str!("../../../../infra/examples/policy.yaml");
    assert!(
        Policy::parse(&format!("\u{feff}{example}")).is_ok(),
        "a byte-order mark"
    );
    let flow = r#"{version: 1, copy_role: "arn:aws:iam::{account}:role/r", vaults: {a: {arn: "arn:aws:backup:us-east-1:111111111111:backup-vault:vault-a"}, b: {arn: "arn:aws:backup:us-east-1:111111111111:backup-vault:vault-b", retention: never_expire}}, routes: [{from: a, to: b}]}"#;
    assert!(Policy::parse(flow).is_ok(), "YAML flow style");
    let commented = format!("# {}\n{example}", "[".repeat(100));
    assert!(Policy::parse(&commented).is_ok(), "brackets in a comment");
}
