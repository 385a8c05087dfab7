use super::*;

const ORG: &str = include_str!("../../../../../infra/examples/organization-policy.yaml");

fn errors_of(text: &str) -> Vec<String> {
    match Policy::parse(text) {
        Ok(_) => Vec::new(),
        Err(PolicyErrors(errors)) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn policy(vaults: &str, routes: &str) -> String {
    format!(
        "version: 1\ncopy_role: \"arn:aws:iam::{{account}}:role/backup-relay-copy\"\nvaults:\n{vaults}\nroutes:\n{routes}\n"
    )
}

const CENTRAL: &str = "  central: { arn: \"arn:aws:backup:us-east-1:222222222222:backup-vault:central\", retention: { delete_after_days: 35 } }";

fn tree() -> OrgTree {
    let unit = |accounts: &[&str], children: &[&str]| OrgUnit {
        accounts: accounts.iter().map(|a| a.to_string()).collect(),
        children: children.iter().map(|c| c.to_string()).collect(),
    };
    OrgTree {
        active: BTreeSet::new(),
        units: BTreeMap::from([
            (
                "ou-ab12-cdef3456".to_string(),
                unit(&["100000000001", "999999999999"], &["ou-ab12-aaaa1111"]),
            ),
            (
                "ou-ab12-aaaa1111".to_string(),
                unit(&["100000000002"], &["ou-ab12-bbbb2222"]),
            ),
            ("ou-ab12-bbbb2222".to_string(), unit(&["100000000003"], &[])),
            ("ou-ab12-other000".to_string(), unit(&["100000000009"], &[])),
        ]),
        ..OrgTree::default()
    }
}

#[test]
fn the_organisation_example_is_valid_and_small() {
    let p = Policy::parse(ORG).unwrap();
    assert_eq!(p.sets.len(), 2);
    assert_eq!(p.vaults.len(), 3, "central, dr, bunker");
    assert_eq!(p.set_routes.len(), 2);
    assert_eq!(p.routes.len(), 2);
    assert!(ORG.lines().count() < 50);
    assert!(p.reads_organization());
    assert_eq!(
        p.sets[0].describe(),
        "set primary: vault 'primary' in every account of OUs ou-ab12-cdef3456 minus 1 excluded, \
         in us-east-1, eu-west-1"
    );
}

#[test]
fn nested_ous_minus_exclusions_expand_into_member_vaults_and_routes() {
    let p = Policy::parse(ORG).unwrap();
    let members = p.membership(&tree());
    let expected: BTreeSet<String> = ["100000000001", "100000000002", "100000000003"]
        .map(String::from)
        .into();
    assert_eq!(members["primary"], expected);
    let e = p.expand(&members);
    // 3 accounts x 2 Regions of primary, 3 x 1 of local-dr, and the three concrete vaults.
    assert_eq!(e.vaults.len(), 6 + 3 + 3);
    let member = e.vault("primary[100000000002/eu-west-1]").unwrap();
    assert_eq!(
        member.arn.to_string(),
        "arn:aws:backup:eu-west-1:100000000002:backup-vault:primary"
    );
    assert_eq!(member.member_of.as_deref(), Some("primary"));
    // set -> vault: each member into central; set -> set: into the same account's local-dr.
    let outs: Vec<String> = e
        .routes_from("primary[100000000002/eu-west-1]")
        .map(Route::name)
        .collect();
    assert_eq!(
        outs,
        [
            "primary[100000000002/eu-west-1]->central",
            "primary[100000000002/eu-west-1]->local-dr[100000000002/us-west-2]"
        ]
    );
    // The chain from a member root reaches every vault, as with a single primary.
    let reached: Vec<&str> = e
        .vaults_reached(
            "primary[100000000003/us-east-1]",
            Some("DynamoDB"),
            &BTreeMap::from([("backup-tier".into(), "gold".into())]),
        )
        .iter()
        .map(|v| v.alias.as_str())
        .collect();
    assert_eq!(
        reached,
        [
            "central",
            "local-dr[100000000003/us-west-2]",
            "dr",
            "bunker"
        ]
    );
    assert_eq!(e.root_vaults().len(), 6);
    assert!(e.vault("primary[999999999999/us-east-1]").is_none());
}

#[test]
fn expanding_again_replaces_members_so_a_join_and_a_leave_are_one_refresh() {
    let p = Policy::parse(ORG).unwrap();
    let mut t = tree();
    let first = p.expand(&p.membership(&t));
    // 100000000003 leaves, 100000000004 joins the nested OU.
    let nested = t.units.get_mut("ou-ab12-bbbb2222").unwrap();
    nested.accounts = BTreeSet::from(["100000000004".to_string()]);
    let second = first.expand(&first.membership(&t));
    assert_eq!(second.vaults.len(), first.vaults.len());
    assert!(second.vault("primary[100000000004/us-east-1]").is_some());
    assert!(second.vault("primary[100000000003/us-east-1]").is_none());
    assert_eq!(second.routes.len(), first.routes.len());
    assert_eq!(second, p.expand(&p.membership(&t)));
}

#[test]
fn a_cyclic_or_deep_ou_answer_is_walked_once() {
    let mut t = tree();
    t.units
        .get_mut("ou-ab12-bbbb2222")
        .unwrap()
        .children
        .push("ou-ab12-cdef3456".into());
    let scope = AccountScope::OrganizationalUnits(vec!["ou-ab12-cdef3456".into()]);
    assert_eq!(t.accounts(&scope).len(), 4);
    // 10,000 accounts in a chain of OUs five deep.
    let mut big = OrgTree::default();
    for level in 0..5 {
        let ou = format!("ou-ab12-level{level:03}");
        let child = format!("ou-ab12-level{:03}", level + 1);
        let accounts = (0..2000).map(|i| format!("{:012}", 100_000_000_000u64 + level * 2000 + i));
        big.units.insert(
            ou,
            OrgUnit {
                accounts: accounts.collect(),
                children: vec![child],
            },
        );
    }
    let scope = AccountScope::OrganizationalUnits(vec!["ou-ab12-level000".into()]);
    assert_eq!(big.accounts(&scope).len(), 10_000);
}

#[test]
fn organization_scope_is_every_active_account_and_a_list_is_as_written() {
    let text = policy(
        &format!(
            "  p: {{ name: primary, accounts: organization, regions: [us-east-1] }}\n  q: {{ name: q1, accounts: [\"100000000001\", 100000000002], regions: [eu-west-1] }}\n{CENTRAL}"
        ),
        "  - { from: p, to: central }\n  - { from: q, to: central }",
    );
    let p = Policy::parse(&text).unwrap();
    let t = OrgTree {
        active: ["100000000007".to_string()].into(),
        units: BTreeMap::new(),
        ..OrgTree::default()
    };
    let m = p.membership(&t);
    assert_eq!(m["p"].len(), 1);
    assert_eq!(m["q"].len(), 2);
    let e = p.expand(&m);
    assert_eq!(e.routes.len(), 3);
}

#[test]
fn every_bad_set_is_reported_at_once() {
    let text = policy(
        &format!(
            "  nore: {{ name: primary, accounts: organization, regions: [] }}\n\
             \x20 badou: {{ name: primary, accounts: {{ organizational_units: [\"ou-XY\", r-ab12] }}, regions: [us-east-1] }}\n\
             \x20 both: {{ name: primary, arn: \"arn:aws:backup:us-east-1:111111111111:backup-vault:x\", accounts: organization, regions: [us-east-1] }}\n\
             \x20 gov: {{ name: primary, accounts: organization, regions: [us-gov-west-1, mars-1] }}\n\
             \x20 a1: {{ name: primary, accounts: [\"111111111111\"], regions: [us-east-1] }}\n\
             \x20 a2: {{ name: primary, accounts: [\"222222222222\"], regions: [us-west-2], retention: {{ delete_after_days: 7 }} }}\n\
             \x20 two: {{ name: two, accounts: [\"111111111111\"], regions: [us-west-2, us-east-2], retention: {{ delete_after_days: 7 }} }}\n\
             {CENTRAL}"
        ),
        "  - { from: a1, to: a2 }\n  - { from: a1, to: two }\n  - { from: central, to: a2 }\n  - { from: nore, to: central }",
    );
    let errors = errors_of(&text);
    for needle in [
        "vault 'nore': regions: must not be empty",
        "'ou-XY' is not an OU id",
        "'r-ab12' is not an OU id",
        "name and arn are exclusive",
        "Region 'us-gov-west-1' is in partition 'aws-us-gov', not 'aws'",
        "'mars-1' is not a Region",
        "sets 'a1' and 'a2' cover different accounts",
        "set 'two' has 2 Regions",
        "a route from one vault into a set is refused",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(needle)),
            "expected {needle:?} in {errors:#?}"
        );
    }
}

#[test]
fn a_set_copies_with_its_members_own_role_and_into_no_cross_account_cold_tier() {
    let text = "version: 1\ncopy_role: \"arn:aws:iam::222222222222:role/copy\"\nvaults:\n  p: { name: primary, accounts: organization, regions: [us-east-1] }\n  c: { arn: \"arn:aws:backup:us-east-1:222222222222:backup-vault:cv\", retention: { move_to_cold_storage_after_days: 1, delete_after_days: 91 } }\nroutes:\n  - { from: p, to: c }\n";
    let errors = errors_of(text);
    assert!(
        errors.iter().any(|e| e.contains("write {account}")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("do not support the cold tier")),
        "{errors:#?}"
    );
}

#[test]
fn ou_ids_follow_organizations_pattern() {
    assert!(is_ou_id("ou-ab12-cdef3456"));
    assert!(is_ou_id("ou-abcd-12345678901234567890123456789012"));
    for bad in [
        "ou-ab1-cdef3456",
        "ou-ab12-cdef345",
        "OU-ab12-cdef3456",
        "ou-AB12-cdef3456",
        "r-ab12",
        "ou-ab12cdef3456",
        "",
    ] {
        assert!(!is_ou_id(bad), "{bad}");
    }
}

#[test]
fn review_cases_set_to_set_order_a_vault_into_itself_the_roles_partition_and_shared_arns() {
    // The same accounts in another order pair; the same vault name in a shared Region is a
    // member copying into itself; a role of another partition cannot serve a set.
    let text = policy(
        "  a: { name: primary, accounts: [\"111111111111\", \"222222222222\"], regions: [us-east-1] }\n  b: { name: other, accounts: [\"222222222222\", \"111111111111\"], regions: [us-west-2], retention: { delete_after_days: 7 } }\n  c: { name: primary, accounts: [\"111111111111\", \"222222222222\"], regions: [us-east-1], retention: { delete_after_days: 7 } }",
        "  - { from: a, to: b }\n  - { from: a, to: c }",
    );
    let errors = errors_of(&text);
    assert!(
        !errors
            .iter()
            .any(|e| e.contains("cover different accounts")),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("would copy into itself"))
            || errors.iter().any(|e| e.contains("same vault")),
        "{errors:#?}"
    );
    let gov = policy(
        &format!("  p: {{ name: primary, accounts: organization, regions: [us-gov-west-1], partition: aws-us-gov }}\n{CENTRAL}"),
        "  - { from: p, to: central }",
    );
    assert!(errors_of(&gov)
        .iter()
        .any(|e| e.contains("the role is in partition 'aws'")));
}

#[test]
fn a_member_that_is_a_concrete_vault_is_that_vault_and_not_twice() {
    // The central account is a member too: its `central` vault is the policy's concrete one.
    let text = policy(
        &format!("  p: {{ name: primary, accounts: organization, regions: [us-east-1] }}\n  q: {{ name: central, accounts: organization, regions: [us-east-1], retention: {{ delete_after_days: 7 }} }}\n{CENTRAL}"),
        "  - { from: p, to: central }\n  - { from: p, to: q }",
    );
    let p = Policy::parse(&text).unwrap();
    let tree = OrgTree {
        active: ["222222222222".to_string(), "100000000001".to_string()].into(),
        units: BTreeMap::new(),
        ..OrgTree::default()
    };
    let e = p.expand(&p.membership(&tree));
    let arns: BTreeSet<String> = e.vaults.iter().map(|v| v.arn.to_string()).collect();
    assert_eq!(arns.len(), e.vaults.len(), "one entry per vault");
    for r in &e.routes {
        assert!(
            e.vault(&r.from).is_some() && e.vault(&r.to).is_some(),
            "{}",
            r.name()
        );
    }
}

#[test]
fn a_set_with_no_member_of_its_own_is_refused() {
    let all_excluded = policy(
        &format!("  ex: {{ name: ex, accounts: [\"111111111111\"], exclude_accounts: [\"111111111111\"], regions: [us-east-1] }}\n{CENTRAL}"),
        "  - { from: ex, to: central }",
    );
    let errors = errors_of(&all_excluded);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains("excludes every account the set lists"),
        "{errors:#?}"
    );
    // The set's only member, 222222222222/us-east-1, is the central vault itself: a member that
    // is another entry's vault is that entry's, so the set has none of its own.
    let only_itself = policy(
        &format!("  c: {{ name: central, accounts: [\"222222222222\"], regions: [us-east-1] }}\n{CENTRAL}"),
        "  - { from: c, to: central }",
    );
    let errors = errors_of(&only_itself);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains("no members of its own"), "{errors:#?}");
    assert!(errors[0].contains("'central'"), "{errors:#?}");
    // With another member, or over an OU (known only when expanded), it is fine: the member
    // that is the central vault has no routes of its own, the others copy in.
    for fine in [
        only_itself.replace("[\"222222222222\"]", "[\"111111111111\", \"222222222222\"]"),
        only_itself.replace("name: central, accounts", "name: primary, accounts"),
        only_itself.replace(
            "accounts: [\"222222222222\"]",
            "accounts: { organizational_units: [ou-ab12-cdef3456] }",
        ),
    ] {
        assert_eq!(errors_of(&fine), Vec::<String>::new(), "{fine}");
    }
}

#[test]
fn a_long_exclusion_list_is_read_and_its_repeats_named() {
    let ids: Vec<String> = (0..60_000u64)
        .map(|i| format!("\"{:012}\"", 100_000_000_000 + i))
        .collect();
    let text = policy(
        &format!("  p: {{ name: primary, accounts: organization, exclude_accounts: [{}, \"100000000007\"], regions: [us-east-1] }}\n{CENTRAL}", ids.join(", ")),
        "  - { from: p, to: central }",
    );
    let errors = errors_of(&text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains("account 100000000007 given more than once"),
        "{errors:#?}"
    );
}

#[test]
fn sets_that_certainly_share_a_member_vault_are_refused_and_those_that_may_not_are_fine() {
    let two = |a: &str, b: &str| {
        errors_of(&policy(
            &format!("  x: {{ name: primary, {a} }}\n  y: {{ name: primary, {b} }}\n{CENTRAL}\n  d: {{ arn: \"arn:aws:backup:us-east-1:333333333333:backup-vault:dr\", retention: {{ delete_after_days: 35 }} }}"),
            "  - { from: x, to: central }\n  - { from: y, to: d }",
        ))
    };
    let org = "accounts: organization, regions: [us-east-1]";
    let ou =
        |id: &str| format!("accounts: {{ organizational_units: [{id}] }}, regions: [us-east-1]");
    let list = |ids: &str| format!("accounts: [{ids}], regions: [us-east-1]");
    for (a, b, whom) in [
        (
            org.to_string(),
            org.to_string(),
            "every account of the organisation",
        ),
        (
            org.to_string(),
            list("\"111111111111\""),
            "account 111111111111",
        ),
        (
            list("\"111111111111\""),
            org.to_string(),
            "account 111111111111",
        ),
        (
            list("\"111111111111\", \"444444444444\""),
            list("\"444444444444\""),
            "account 444444444444",
        ),
        (
            ou("ou-ab12-cdef3456"),
            ou("ou-ab12-cdef3456"),
            "OU ou-ab12-cdef3456",
        ),
    ] {
        let errors = two(&a, &b);
        assert_eq!(errors.len(), 1, "{a} / {b}: {errors:#?}");
        assert!(errors[0].contains("vault 'y'"), "{errors:#?}");
        assert!(
            errors[0].contains(&format!("for {whom} too")),
            "{errors:#?}"
        );
        assert!(errors[0].contains("set 'x'"), "{errors:#?}");
    }
    let org_but =
        "accounts: organization, exclude_accounts: [\"111111111111\"], regions: [us-east-1]";
    for (a, b) in [
        // The organisation minus the accounts a list takes for itself.
        (org_but.to_string(), list("\"111111111111\"")),
        (list("\"111111111111\""), org_but.to_string()),
        // Disjoint lists, another Region, OUs that only Organizations can tell apart.
        (list("\"111111111111\""), list("\"444444444444\"")),
        (org.to_string(), org.replace("us-east-1", "eu-west-1")),
        (ou("ou-ab12-cdef3456"), ou("ou-ab12-aaaa1111")),
        (org.to_string(), ou("ou-ab12-cdef3456")),
    ] {
        assert_eq!(two(&a, &b), Vec::<String>::new(), "{a} / {b}");
    }
}

#[test]
fn a_sets_errors_are_all_said_whatever_else_is_wrong_with_it() {
    // An unknown partition: its Regions and accounts are still read, and their errors said.
    let bad_partition = policy(
        &format!("  s: {{ name: s1v, partition: foo, accounts: [\"11111111111\"], exclude_accounts: [x], regions: [us-east-1, us-east-1, mars-1] }}\n{CENTRAL}"),
        "  - { from: s, to: central }",
    );
    let errors = errors_of(&bad_partition);
    for needle in [
        "partition",
        "11111111111",
        "'x'",
        "'us-east-1' given more than once",
        "'mars-1' is not a Region",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(needle)),
            "expected {needle:?} in {errors:#?}"
        );
    }
    // No name: said so, by the set's alias.
    let no_name = policy(
        &format!("  s: {{ accounts: organization, regions: [us-east-1] }}\n{CENTRAL}"),
        "  - { from: s, to: central }",
    );
    let errors = errors_of(&no_name);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("vault 's'") && e.contains("name: required")),
        "{errors:#?}"
    );
    // A destination set whose only Region was refused: said once, where the set is read, not
    // again as a route into a set of no Regions.
    let refused_region = policy(
        "  a: { name: aa, accounts: organization, regions: [us-east-1] }\n  b: { name: bb, accounts: organization, regions: [cn-north-1], retention: { delete_after_days: 35 } }",
        "  - { from: a, to: b }",
    );
    let errors = errors_of(&refused_region);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains("cn-north-1"), "{errors:#?}");
}

#[test]
fn a_report_scope_in_another_partition_than_the_copy_roles_is_refused() {
    let with_scope = |regions: &str| {
        policy(
            &format!(
                "  p: {{ name: primary, accounts: organization, regions: [us-east-1] }}\n{CENTRAL}"
            ),
            "  - { from: p, to: central }",
        ) + &format!("compliance:\n  scope: {{ accounts: organization, regions: [{regions}] }}\n")
    };
    assert_eq!(
        errors_of(&with_scope("us-east-1, eu-west-1")),
        Vec::<String>::new()
    );
    let errors = errors_of(&with_scope("cn-north-1, cn-northwest-1"));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains("cn-north-1, cn-northwest-1 not in partition 'aws'"),
        "{errors:#?}"
    );
}
