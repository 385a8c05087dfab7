use super::*;
use crate::policy::Policy;

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const ORIGINAL: &str = "arn:aws:backup:us-east-1:111111111111:recovery-point:abc";

#[test]
fn by_default_every_user_tag_and_the_lineage_are_carried() {
    let original = tags(&[
        ("team", "payments"),
        ("cost-center", "cc-42"),
        ("aws:backup:source-resource", "x"),
        ("backup-relay:route", "someone-else->elsewhere"),
    ]);
    let d = desired_tags(
        &CopyTagRules::default(),
        &original,
        Some(ORIGINAL),
        "central->dr",
    );
    assert_eq!(
        d.tags,
        tags(&[
            ("backup-relay:original", ORIGINAL),
            ("backup-relay:route", "central to dr"),
            ("cost-center", "cc-42"),
            ("team", "payments"),
        ])
    );
    assert!(
        d.dropped.is_empty(),
        "aws: tags are not ours to set, not a drop"
    );
}

#[test]
fn the_policy_names_which_tags_and_lineage_can_be_off() {
    let rules = CopyTagRules {
        copy: Some(vec!["team".into(), "absent".into()]),
        no_lineage: true,
    };
    let original = tags(&[("team", "payments"), ("cost-center", "cc-42")]);
    let d = desired_tags(&rules, &original, Some(ORIGINAL), "a->b");
    assert_eq!(d.tags, tags(&[("team", "payments")]));
    let none = CopyTagRules {
        copy: Some(vec![]),
        no_lineage: true,
    };
    assert!(!none.tags_anything());
    assert!(desired_tags(&none, &original, Some(ORIGINAL), "a->b")
        .tags
        .is_empty());
}

#[test]
fn past_fifty_the_last_keys_in_order_are_dropped_and_named() {
    let original: Tags = (0..60)
        .map(|i| (format!("k{i:02}"), "v".to_string()))
        .collect();
    let d = desired_tags(&CopyTagRules::default(), &original, Some(ORIGINAL), "a->b");
    assert_eq!(d.tags.len(), MAX_TAGS);
    assert!(d.tags.contains_key(ORIGINAL_TAG) && d.tags.contains_key(ROUTE_TAG));
    assert!(d.tags.contains_key("k47") && !d.tags.contains_key("k48"));
    let dropped: Vec<&str> = d.dropped.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(dropped.len(), 12);
    assert_eq!(dropped.first(), Some(&"k48"));
}

#[test]
fn overlong_keys_and_values_are_dropped_not_cut() {
    let long_key = "k".repeat(129);
    let long_value = "v".repeat(257);
    let original = tags(&[
        (long_key.as_str(), "v"),
        ("team", long_value.as_str()),
        ("ok", &"v".repeat(256)),
    ]);
    let d = desired_tags(&CopyTagRules::default(), &original, Some(ORIGINAL), "a->b");
    assert!(d.tags.contains_key("ok"));
    assert_eq!(d.dropped.len(), 2);
}

#[test]
fn nothing_is_added_when_the_copy_carries_it_already() {
    let desired = tags(&[("team", "payments"), (ROUTE_TAG, "a to b")]);
    let present = tags(&[("team", "payments"), (ROUTE_TAG, "a to b"), ("other", "x")]);
    let (add, dropped) = missing_tags(&desired, &present);
    assert!(add.is_empty() && dropped.is_empty());
    assert!(carries(&desired, &present));
    // A lineage value is corrected; a cost tag a person re-set on the copy is left as they set it.
    let present = tags(&[("team", "re-charged"), (ROUTE_TAG, "stale")]);
    let (add, _) = missing_tags(&desired, &present);
    assert_eq!(add, tags(&[(ROUTE_TAG, "a to b")]));
}

#[test]
fn tags_others_put_on_the_copy_count_toward_fifty_and_lineage_goes_first() {
    let present: Tags = (0..49)
        .map(|i| (format!("x{i:02}"), "v".to_string()))
        .collect();
    let mut present_with_aws = present.clone();
    present_with_aws.insert("aws:cloudformation:stack".into(), "s".into());
    let desired = tags(&[
        ("team", "p"),
        (ORIGINAL_TAG, ORIGINAL),
        (ROUTE_TAG, "a to b"),
    ]);
    let (add, dropped) = missing_tags(&desired, &present_with_aws);
    assert_eq!(add.len(), 1, "one slot left, aws: tags uncounted");
    assert!(add.contains_key(ORIGINAL_TAG));
    assert_eq!(dropped.len(), 2);
    assert!(!carries(&desired, &present));
}

fn policy_with(tags_section: &str) -> Result<Policy, crate::policy::PolicyErrors> {
    Policy::parse(&format!(
        r#"
version: 1
copy_role: "arn:aws:iam::{{account}}:role/backup-relay-copy"
vaults:
  a: {{ arn: "arn:aws:backup:us-east-1:111111111111:backup-vault:aa" }}
  b: {{ arn: "arn:aws:backup:us-west-2:111111111111:backup-vault:bb", retention: never_expire }}
routes:
  - {{ from: a, to: b }}
{tags_section}
"#
    ))
}

#[test]
fn the_policy_section_is_read_and_checked() {
    let p = policy_with("").unwrap();
    assert_eq!(p.tags, CopyTagRules::default());
    let p = policy_with("tags: { copy: [cost-center, team], lineage: false }").unwrap();
    assert_eq!(p.tags.copy, Some(vec!["cost-center".into(), "team".into()]));
    assert!(!p.tags.lineage());
    let errors = policy_with(
        "tags: { copy: ['aws:x', 'AWS:y', '', team, team, 'backup-relay:route', 'a>b', 3], lineage: 'yes', colour: red }",
    )
    .unwrap_err()
    .to_string();
    for needle in [
        "aws: prefix",
        "empty tag key",
        "more than once",
        "lineage tags",
        "must be a string",
        "must be true or false",
        "not a character AWS allows",
        "unknown field",
    ] {
        assert!(errors.contains(needle), "{needle} missing from: {errors}");
    }
}

#[test]
fn route_values_and_keys_keep_to_awss_tag_characters() {
    assert_eq!(route_value("central->dr"), "central to dr");
    assert_eq!(
        route_value("primary[111111111111/us-east-1]->central"),
        "primary.111111111111/us-east-1 to central"
    );
    assert!(bad_tag_char(&route_value("a[b]->c<d>")).is_none());
    assert!(is_aws_key("AWS:x") && is_aws_key("aws:x") && !is_aws_key("awsx"));
    let original = tags(&[
        ("AwS:stack", "s"),
        ("team<1>", "x"),
        ("ok", "v{1}"),
        ("fine", "a b"),
    ]);
    let d = desired_tags(&CopyTagRules::default(), &original, None, "a->b");
    assert_eq!(d.tags.get("fine").map(String::as_str), Some("a b"));
    assert!(
        !d.tags.contains_key(ORIGINAL_TAG),
        "no original, no original tag"
    );
    let dropped: Vec<&str> = d.dropped.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(dropped, ["ok", "team<1>"]);
}
