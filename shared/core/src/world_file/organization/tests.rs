use super::*;

const ORG: &str = include_str!("../../../../../infra/examples/organization-policy.yaml");

fn policy() -> Policy {
    Policy::parse(ORG).unwrap()
}

fn errors(text: &str) -> Vec<String> {
    match WorldFile::parse(text, &policy()) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn the_tree_on_a_day_leaves_out_accounts_that_join_later() {
    let w = WorldFile::parse(
        r#"
organization:
  organizational_units:
    ou-ab12-cdef3456: ["100000000001", ou-ab12-aaaa1111]
    ou-ab12-aaaa1111: ["100000000002"]
  joins: { "100000000002": 2 }
vaults:
  primary: { lock: { min_retention_days: 1 } }
"#,
        &policy(),
    )
    .unwrap();
    let named = BTreeSet::new();
    let day1 = w.org_tree(&named, Some(1));
    assert_eq!(day1.active.len(), 1);
    let scope = AccountScope::OrganizationalUnits(vec!["ou-ab12-cdef3456".into()]);
    assert_eq!(day1.accounts(&scope).len(), 1);
    assert_eq!(w.org_tree(&named, Some(2)).accounts(&scope).len(), 2);
    assert_eq!(w.org_tree(&named, None).accounts(&scope).len(), 2);
}

#[test]
fn generate_makes_accounts_in_an_ou_and_their_tables() {
    let w = WorldFile::parse(
        r#"
generate:
  accounts: 1000
  first_account: "100000000000"
  organizational_unit: ou-ab12-cdef3456
  regions: [us-east-1, eu-west-1]
  tables_per_account_region: 2
  tags: { backup-tier: gold }
"#,
        &policy(),
    )
    .unwrap();
    let g = w.generate.as_ref().unwrap();
    assert_eq!(g.tables().len(), 4000);
    let tree = w.org_tree(&BTreeSet::new(), Some(0));
    let p = policy();
    let m = p.membership(&tree);
    assert_eq!(m["primary"].len(), 1000);
    assert_eq!(p.expand(&m).vaults.len(), 3 + 1000 * 2 + 1000);
}

#[test]
fn bad_organisations_are_every_error_at_once() {
    let e = errors(
        r#"
organization:
  organizational_units:
    ou-bad: ["100000000001"]
    ou-ab12-cdef3456: ["12345", "100000000001", ou-ab12-aaaa1111]
    ou-ab12-aaaa1111: ["100000000001"]
  joins: { "1": 2, "100000000002": -1 }
generate: { accounts: 0, regions: [mars-1], organizational_unit: root, colour: blue }
"#,
    );
    for needle in [
        "'ou-bad' is not an OU id",
        "'12345' is not a 12-digit account id",
        "100000000001 is already under",
        "joins.1",
        "-1 is outside 0..=3650",
        "0 is outside 1..=10000",
        "'mars-1' is not a Region",
        "organizational_unit: must be an OU id",
        "colour: unknown field",
    ] {
        assert!(
            e.iter().any(|m| m.contains(needle)),
            "{needle:?} not in {e:#?}"
        );
    }
}

#[test]
fn a_world_may_name_a_set_for_its_members() {
    assert!(errors("vaults:\n  local-dr: { lock: { min_retention_days: 7 } }\nbackup_plans:\n  - { vault: primary }\n").is_empty());
    assert!(!errors("vaults:\n  nowhere: { exists: false }\n").is_empty());
}

#[test]
fn an_ou_tree_with_a_cycle_or_deeper_than_aws_allows_is_refused() {
    let cycle = errors(
        "organization:\n  organizational_units:\n    ou-ab12-cdef3456: [\"100000000001\", ou-ab12-aaaa1111]\n    ou-ab12-aaaa1111: [\"100000000002\", ou-ab12-cdef3456]\n",
    );
    assert_eq!(cycle.len(), 2, "each OU of the cycle once: {cycle:#?}");
    assert!(
        cycle[1].contains("ou-ab12-cdef3456 is in a cycle of OUs"),
        "{cycle:#?}"
    );
    // An OU below a cycle is the cycle's error, not one of its own.
    let below = errors(
        "organization:\n  organizational_units:\n    ou-ab12-cdef3456: [ou-ab12-aaaa1111]\n    ou-ab12-aaaa1111: [ou-ab12-cdef3456, ou-ab12-bbbb2222]\n    ou-ab12-bbbb2222: [\"100000000003\"]\n",
    );
    assert_eq!(below.len(), 2, "{below:#?}");
    assert!(
        below.iter().all(|m| !m.contains("bbbb2222 is")),
        "{below:#?}"
    );
    let chain = |n: usize| {
        let ous: Vec<String> = (0..n).map(|i| format!("ou-ab12-{i:08}")).collect();
        let mut text = String::from("organization:\n  organizational_units:\n");
        for (i, ou) in ous.iter().enumerate() {
            let child = ous.get(i + 1).map_or(String::new(), |c| format!(", {c}"));
            text.push_str(&format!(
                "    {ou}: [\"{:012}\"{child}]\n",
                100_000_000_001 + i
            ));
        }
        errors(&text)
    };
    assert_eq!(chain(5), Vec::<String>::new(), "five deep is AWS's limit");
    let deep = chain(7);
    assert_eq!(deep.len(), 2, "the sixth and seventh: {deep:#?}");
    assert!(deep[0].contains("nested 6 OUs deep"), "{deep:#?}");
    // A third mention of an account names its first parent, not the second that was refused.
    let thrice = errors(
        "organization:\n  organizational_units:\n    ou-ab12-aaaa1111: [\"100000000001\"]\n    ou-ab12-bbbb2222: [\"100000000001\"]\n    ou-ab12-cccc3333: [\"100000000001\"]\n",
    );
    assert_eq!(thrice.len(), 2, "{thrice:#?}");
    assert!(
        thrice
            .iter()
            .all(|m| m.contains("already under ou-ab12-aaaa1111")),
        "{thrice:#?}"
    );
}
