//! Property tests: whatever bytes or JSON arrive, the event parser, the planner behind it and the
//! policy parser and validator return a value or a typed error, never a panic.

use proptest::prelude::*;
use relay_core::event::{ParsedEvent, BACKUP_JOB, COPY_JOB, MAX_EVENT_BYTES, RECOVERY_POINT};
use relay_core::plan::{plan_event, Observed};
use relay_core::policy::Policy;
use relay_core::retention::VaultLock;
use relay_core::world_file::WorldFile;
use serde_json::{Map, Number, Value};

const EXAMPLE: &str = include_str!("../../../infra/examples/policy.yaml");

/// 256 cases from a fixed seed, so the suite stays fast and a CI run reproducible;
/// `PROPTEST_CASES=100000` and `PROPTEST_RNG_SEED=N` for a deeper search (`scripts/explore`).
fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 256;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = proptest::test_runner::RngSeed::Fixed(20_261_122);
    }
    config
}

/// Strings AWS sends, and the odd ones next to them.
fn aws_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("COMPLETED".to_string()),
        Just("FAILED".to_string()),
        Just("DynamoDB".to_string()),
        Just("2026-11-20T05:00:09.461Z".to_string()),
        Just("Jul 15, 2020 9:39:07 PM".to_string()),
        Just("+262143-12-31T23:59:59Z".to_string()),
        Just("arn:aws:backup:us-east-1:111111111111:backup-vault:primary".to_string()),
        Just("arn:aws:backup:us-west-2:222222222222:backup-vault:dr".to_string()),
        Just("arn:aws:backup:eu-west-1:333333333333:backup-vault:bunker".to_string()),
        Just("arn:aws:backup:us-east-1:111111111111:recovery-point:rp-1".to_string()),
        Just("arn:aws:dynamodb:us-east-1:111111111111:table/orders/backup/01".to_string()),
        Just("arn:aws:dynamodb:us-east-1:111111111111:table/orders".to_string()),
        Just("1112233445566".to_string()),
        Just("18446744073709551616".to_string()),
        "[a-zA-Z0-9:/_. -]{0,40}",
        any::<String>(),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        prop_oneof![
            Just(1e300),
            Just(-1e300),
            Just(8.21e12),
            Just(9.2e18),
            Just(4294967295.0)
        ]
        .prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        aws_text().prop_map(Value::String),
    ]
}

/// Any JSON value: nested objects and arrays of strings, numbers, booleans and nulls.
fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(aws_text(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Fields the parser reads, each with a value that is sometimes right and often not.
const DETAIL_FIELDS: [&str; 20] = [
    "state",
    "status",
    "backupJobId",
    "copyJobId",
    "backupVaultArn",
    "backupVaultName",
    "sourceBackupVaultArn",
    "destinationBackupVaultArn",
    "destinationRecoveryPointArn",
    "resourceArn",
    "resourceType",
    "creationDate",
    "completionDate",
    "backupSizeInBytes",
    "isEncrypted",
    "storageClass",
    "statusMessage",
    "lifecycle",
    "calculatedLifeCycle",
    "createdBy",
];

fn detail() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        json(),
        aws_text().prop_map(Value::String),
        number(),
        (number(), number()).prop_map(|(d, c)| {
            serde_json::json!({"deleteAfterDays": d, "moveToColdStorageAfterDays": c,
                               "deleteAt": c, "backupPlanId": d})
        }),
    ];
    prop::collection::vec((prop::sample::select(&DETAIL_FIELDS[..]), field), 0..12).prop_map(
        |fields| {
            let mut detail = Map::new();
            for (k, v) in fields {
                detail.insert(k.to_string(), v);
            }
            Value::Object(detail)
        },
    )
}

/// An EventBridge envelope of aws.backup (mostly), with random detail.
fn envelope() -> impl Strategy<Value = Value> {
    let detail_type = prop_oneof![
        Just(Value::from(BACKUP_JOB)),
        Just(Value::from(COPY_JOB)),
        Just(Value::from(RECOVERY_POINT)),
        Just(Value::from("Restore Job State Change")),
        leaf(),
    ];
    let source = prop_oneof![4 => Just(Value::from("aws.backup")), 1 => leaf()];
    let resources = prop_oneof![
        prop::collection::vec(aws_text().prop_map(Value::String), 0..3).prop_map(Value::Array),
        json(),
    ];
    (
        detail_type,
        source,
        leaf(),
        leaf(),
        resources,
        detail(),
        leaf(),
    )
        .prop_map(
            |(detail_type, source, account, region, resources, detail, time)| {
                serde_json::json!({
                    "version": "0", "id": "evt", "detail-type": detail_type, "source": source,
                    "account": account, "region": region, "time": time,
                    "resources": resources, "detail": detail
                })
            },
        )
}

/// Parse, and when the event parses, plan it against the example policy: the planner is where
/// dates and days from the event meet arithmetic.
fn parse_and_plan(value: &Value, policy: &Policy) {
    if let Ok(event) = ParsedEvent::parse(value) {
        let mut observed = Observed::default();
        observed
            .resource_tags
            .insert("backup-tier".into(), "gold".into());
        let _ = plan_event(&event, policy, &observed);
        let _ = plan_event(&event, policy, &Observed::default());
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_bytes_never_panic_any_parser(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = ParsedEvent::parse_str(&text);
        let _ = Policy::parse(&text);
        let _ = WorldFile::parse(&text, &Policy::parse(EXAMPLE).unwrap());
    }

    #[test]
    fn random_json_and_yaml_never_panic_the_world_file_reader(value in json()) {
        let policy = Policy::parse(EXAMPLE).unwrap();
        let _ = WorldFile::parse(&value.to_string(), &policy);
        if let Ok(yaml) = serde_norway::to_string(&value) {
            let _ = WorldFile::parse(&yaml, &policy);
        }
    }

    #[test]
    fn random_json_never_panics_the_event_parser(value in json()) {
        let policy = Policy::parse(EXAMPLE).unwrap();
        parse_and_plan(&value, &policy);
        let text = value.to_string();
        if text.len() <= MAX_EVENT_BYTES {
            let _ = ParsedEvent::parse_str(&text);
        }
    }

    #[test]
    fn envelopes_with_random_details_never_panic_the_parser_or_planner(value in envelope()) {
        let policy = Policy::parse(EXAMPLE).unwrap();
        parse_and_plan(&value, &policy);
        let _ = ParsedEvent::parse_str(&value.to_string());
    }

    #[test]
    fn random_json_and_yaml_never_panic_the_policy_validator(value in json()) {
        let _ = Policy::parse(&value.to_string());
        if let Ok(yaml) = serde_norway::to_string(&value) {
            let _ = Policy::parse(&yaml);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Real events with random dates and days: every decision of the router and the guard is reached.

const FIXTURES: [&str; 4] = [
    include_str!("../../../tests/events/backup-job-completed.json"),
    include_str!("../../../tests/events/copy-job-completed-central-to-dr.json"),
    include_str!("../../../tests/events/copy-job-completed-dr-to-bunker.json"),
    include_str!("../../../tests/events/recovery-point-completed.json"),
];

/// Weighted towards values that get past the parser: plausible days and dates, and the edges.
fn date_or_days() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => (0u32..=40_000).prop_map(Value::from),
        2 => Just(Value::from(u32::MAX)),
        2 => Just(Value::from("2026-11-20T05:00:09.461Z")),
        1 => Just(Value::from("9999-12-31T23:59:59Z")),
        1 => number(),
        1 => aws_text().prop_map(Value::String),
        1 => Just(Value::Null),
    ]
}

fn fixture_event() -> impl Strategy<Value = Value> {
    let fixture = prop::sample::select(&FIXTURES[..]);
    (fixture, prop::collection::vec(date_or_days(), 6)).prop_map(|(text, v)| {
        let mut event: Value = serde_json::from_str(text).unwrap_or_default();
        event["time"] = v[0].clone();
        event["detail"]["creationDate"] = v[1].clone();
        event["detail"]["completionDate"] = v[2].clone();
        event["detail"]["lifecycle"] =
            serde_json::json!({"deleteAfterDays": v[3], "moveToColdStorageAfterDays": v[4]});
        event["detail"]["calculatedLifeCycle"] = serde_json::json!({"deleteAt": v[5]});
        event
    })
}

fn lock() -> impl Strategy<Value = Option<VaultLock>> {
    prop::option::of(
        (
            prop::option::of(any::<u32>()),
            prop::option::of(any::<u32>()),
        )
            .prop_map(|(min, max)| VaultLock {
                min_retention_days: min,
                max_retention_days: max,
            }),
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn real_events_with_random_dates_and_days_never_panic_the_planner(
        event in fixture_event(),
        lock in lock(),
    ) {
        let policy = Policy::parse(EXAMPLE).unwrap();
        let Ok(parsed) = ParsedEvent::parse(&event) else {
            return Ok(());
        };
        let mut observed = Observed::default();
        observed.resource_tags.insert("backup-tier".into(), "gold".into());
        if let Some(lock) = lock {
            for v in &policy.vaults {
                observed.vault_locks.insert(v.arn.clone(), lock);
            }
        }
        let _ = plan_event(&parsed, &policy, &observed);
    }
}

// ---------------------------------------------------------------------------------------------
// Policy-shaped documents: random vaults and routes, so the rules past the syntax run too.

fn vault_arn() -> impl Strategy<Value = Value> {
    let partition = prop::sample::select(vec!["aws", "aws-cn", "aws-us-gov", "aws-x", ""]);
    let region = prop::sample::select(vec![
        "us-east-1",
        "us-west-2",
        "cn-north-1",
        "us-gov-west-1",
        "eu-west-1",
        "bad",
        "",
    ]);
    let account = prop::sample::select(vec![
        "111111111111",
        "222222222222",
        "333333333333",
        "1112233445566",
        "12ab",
        "",
    ]);
    let name = prop::sample::select(vec!["primary", "dr", "Default", "x", "a b", "vault_1"]);
    prop_oneof![
        6 => (partition, region, account, name).prop_map(|(p, r, a, n)| {
            Value::from(format!("arn:{p}:backup:{r}:{a}:backup-vault:{n}"))
        }),
        1 => leaf(),
    ]
}

fn retention() -> impl Strategy<Value = Value> {
    let days = prop_oneof![(0i64..40_000).prop_map(Value::from), leaf(),];
    prop_oneof![
        Just(Value::from("inherit")),
        Just(Value::from("never_expire")),
        (days.clone(), prop::option::of(days.clone())).prop_map(|(d, c)| {
            let mut m = Map::new();
            m.insert("delete_after_days".into(), d);
            if let Some(c) = c {
                m.insert("move_to_cold_storage_after_days".into(), c);
            }
            Value::Object(m)
        }),
        (any::<bool>(), days).prop_map(|(n, c)| {
            serde_json::json!({"never_expire": n, "move_to_cold_storage_after_days": c})
        }),
        json(),
    ]
}

const ALIASES: [&str; 8] = ["a", "b", "c", "d", "e", "f", "g h", "dr.1"];

fn policy_document() -> impl Strategy<Value = Value> {
    let vault = (vault_arn(), prop::option::of(retention()), any::<bool>()).prop_map(
        |(arn, retention, skip)| {
            let mut m = Map::new();
            m.insert("arn".into(), arn);
            if let Some(r) = retention {
                m.insert("retention".into(), r);
            }
            if skip {
                m.insert("on_lock_conflict".into(), Value::from("skip"));
            }
            Value::Object(m)
        },
    );
    let vaults = prop::collection::btree_map(prop::sample::select(&ALIASES[..]), vault, 0..8);
    let types = prop::collection::vec(
        prop::sample::select(vec!["DynamoDB", "dynamodb", "EBS", "Gremlin", ""]),
        0..3,
    );
    let alias = prop::sample::select(&ALIASES[..]);
    let route = (alias.clone(), alias, prop::option::of(types)).prop_map(|(from, to, types)| {
        let mut m = Map::new();
        m.insert("from".into(), Value::from(from));
        m.insert("to".into(), Value::from(to));
        if let Some(types) = types {
            m.insert(
                "select".into(),
                serde_json::json!({"resource_types": types}),
            );
        }
        Value::Object(m)
    });
    let role = prop_oneof![
        Just(Value::from("arn:aws:iam::{account}:role/backup-relay-copy")),
        Just(Value::from("arn:aws-cn:iam::111111111111:role/r")),
        Just(Value::from("arn:aws:iam::1112233445566:role/r")),
        leaf(),
    ];
    let version = prop_oneof![4 => Just(Value::from(1)), 1 => leaf()];
    (version, role, vaults, prop::collection::vec(route, 0..16)).prop_map(
        |(version, role, vaults, routes)| {
            let vaults: Map<String, Value> = vaults
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            serde_json::json!({"version": version, "copy_role": role, "vaults": vaults,
                               "routes": routes})
        },
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_policies_validate_or_list_errors_never_panic(doc in policy_document()) {
        match Policy::parse(&doc.to_string()) {
            // A valid policy names every route's vaults.
            Ok(p) => {
                for r in &p.routes {
                    prop_assert!(p.vault(&r.from).is_some() && p.vault(&r.to).is_some());
                }
            }
            Err(errors) => prop_assert!(!errors.0.is_empty()),
        }
        if let Ok(yaml) = serde_norway::to_string(&doc) {
            let _ = Policy::parse(&yaml);
        }
    }
}
