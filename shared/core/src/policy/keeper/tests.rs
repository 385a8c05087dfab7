use super::*;
use chrono::TimeZone;

const EXAMPLE: &str = include_str!("../../../../../infra/examples/policy.yaml");

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap() + Duration::minutes(minute)
}

fn doc(version: &str, text: &str) -> PolicyDocument {
    PolicyDocument {
        version: version.into(),
        text: text.into(),
    }
}

fn with_dr_retention(days: u32) -> String {
    EXAMPLE.replace(
        "delete_after_days: 365",
        &format!("delete_after_days: {days}"),
    )
}

#[test]
fn a_valid_new_version_takes_effect() {
    let mut k = PolicyKeeper::new(Some("backup-relay-copy".into()));
    assert_eq!(k.current(), Err(NoPolicy::NotRead));
    assert_eq!(
        k.offer(doc("1", EXAMPLE), at(0)),
        Offer::Adopted {
            version: "1".into()
        }
    );
    assert_eq!(k.offer(doc("1", EXAMPLE), at(5)), Offer::Unchanged);
    let longer = with_dr_retention(400);
    assert_eq!(
        k.offer(doc("2", &longer), at(10)),
        Offer::Adopted {
            version: "2".into()
        }
    );
    let now = k.current().unwrap();
    assert_eq!(now.version, "2");
    assert_eq!(now.digest, policy_digest(&longer));
    let dr = now.policy.vault("dr").unwrap();
    assert!(matches!(
        dr.retention,
        Some(crate::retention::Retention::Days {
            delete_after_days: 400,
            ..
        })
    ));
}

#[test]
fn an_invalid_version_is_refused_once_and_the_last_valid_stays() {
    let mut k = PolicyKeeper::new(None);
    k.offer(doc("1", EXAMPLE), at(0));
    let typo = EXAMPLE.replace("resource_types: [DynamoDB]", "resource_types: [dynamodb]");
    let Offer::Refused {
        version,
        errors,
        incident_id,
        kept,
    } = k.offer(doc("2", &typo), at(5))
    else {
        panic!("a typo must be refused");
    };
    assert_eq!(version, "2");
    assert_eq!(kept.as_deref(), Some("1"));
    assert!(errors.to_string().contains("DynamoDB"), "{errors}");
    assert!(incident_id.starts_with("policy#"));
    assert_eq!(k.current().unwrap().version, "1");

    // Not announced yet (the alert failed): refused again, so the announcement is retried.
    assert!(matches!(
        k.offer(doc("2", &typo), at(10)),
        Offer::Refused { .. }
    ));
    k.announced(&incident_id);
    assert_eq!(k.offer(doc("2", &typo), at(15)), Offer::Unchanged);
    assert_eq!(k.current().unwrap().version, "1");

    // Back to the text in force: nothing changes. The same typo as a new version is a new
    // refusal with its own incident.
    assert_eq!(k.offer(doc("3", EXAMPLE), at(20)), Offer::Unchanged);
    let Offer::Refused {
        incident_id: again, ..
    } = k.offer(doc("4", &typo), at(25))
    else {
        panic!("a new version of the typo must be refused");
    };
    assert_ne!(again, incident_id);
}

#[test]
fn without_a_valid_version_nothing_is_in_force() {
    let mut k = PolicyKeeper::new(None);
    let Offer::Refused { kept, .. } = k.offer(doc("1", "version: 1"), at(0)) else {
        panic!("an empty policy must be refused");
    };
    assert_eq!(kept, None);
    assert!(matches!(k.current(), Err(NoPolicy::Invalid(_))));
}

#[test]
fn the_copy_role_must_be_the_passable_one() {
    let mut k = PolicyKeeper::new(Some("relay-copy".into()));
    let Offer::Refused { errors, .. } = k.offer(doc("1", EXAMPLE), at(0)) else {
        panic!("a copy role the functions cannot pass must be refused");
    };
    let text = errors.to_string();
    assert!(
        text.contains("'backup-relay-copy'") && text.contains("'relay-copy'"),
        "{text}"
    );
    let with_path = EXAMPLE.replace("role/backup-relay-copy", "role/ops/relay-copy");
    assert!(matches!(
        k.offer(doc("2", &with_path), at(1)),
        Offer::Refused { .. }
    ));
    let right = EXAMPLE.replace("role/backup-relay-copy", "role/relay-copy");
    assert!(matches!(
        k.offer(doc("3", &right), at(2)),
        Offer::Adopted { .. }
    ));
}

#[test]
fn rechecks_every_five_minutes_and_after_a_clock_going_back() {
    let mut k = PolicyKeeper::new(None);
    assert!(k.due(at(0)));
    k.read_failed(at(0));
    assert!(k.due(at(0)), "nothing in force: read again at once");
    k.offer(doc("1", EXAMPLE), at(0));
    assert!(!k.due(at(4)));
    assert!(k.due(at(5)));
    assert!(k.due(at(-1)));
    k.read_failed(at(5));
    assert!(!k.due(at(9)));
    assert!(k.due(at(10)));
}

#[test]
fn a_process_starting_on_an_invalid_version_falls_back_to_the_last_valid_one() {
    let mut k = PolicyKeeper::new(None);
    let typo = EXAMPLE.replace("resource_types: [DynamoDB]", "resource_types: [dynamodb]");
    let Offer::Refused { kept: None, .. } = k.offer(doc("3", &typo), at(0)) else {
        panic!("the typo must be refused with nothing in force");
    };
    assert!(k.wants_earlier());
    assert!(
        !k.fall_back(doc("2", "version: 1")),
        "an invalid earlier version is passed over"
    );
    assert!(k.fall_back(doc("1", EXAMPLE)));
    assert!(!k.wants_earlier());
    assert_eq!(k.current().unwrap().version, "1");
    assert_eq!(k.version_in_force().as_deref(), Some("1"));
    // The current version stays refused: offered again, nothing changes; fixed, it takes over.
    assert!(matches!(
        k.offer(doc("3", &typo), at(5)),
        Offer::Refused { .. }
    ));
    assert_eq!(k.current().unwrap().version, "1");
    assert!(matches!(
        k.offer(doc("4", &with_dr_retention(400)), at(10)),
        Offer::Adopted { .. }
    ));
    assert!(!k.fall_back(doc("1", EXAMPLE)), "nothing to fall back from");
    assert_eq!(k.current().unwrap().version, "4");
}

#[test]
fn what_changed_between_two_versions_is_said_in_words() {
    let before = Policy::parse(EXAMPLE).unwrap();
    let after = Policy::parse(
        &EXAMPLE
            .replace(
                "retention: { delete_after_days: 35 }",
                "retention: { delete_after_days: 40 }",
            )
            .replace("  - { from: dr, to: bunker }\n", ""),
    )
    .unwrap();
    let changes = changes(&before, &after);
    assert!(
        changes
            .iter()
            .any(|c| c.starts_with("vault 'central' retention:")),
        "{changes:?}"
    );
    assert!(
        changes.contains(&"route dr->bunker removed".to_string()),
        "{changes:?}"
    );
    assert!(super::changes(&before, &before).is_empty());
}
