//! The fixtures run through the real handler, on the simulator's ports.
// Helpers of a test may unwrap and panic: a failure is meant to stop it there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Utc};
use copy_router::handler::CopyRouter;
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use relay_chain::router::RouterConfig;
use relay_core::arn::{TableArn, VaultArn};
use relay_core::policy::Policy;
use relay_core::retention::Lifecycle;
use relay_lambda::{HandlerError, LoadedPolicy};
use relay_sim::world::{SimRecoveryPoint, SimTable};
use relay_sim::{Faults, Sim, World};
use serde_json::Value;

const POLICY: &str = include_str!("../../../infra/examples/policy.yaml");
const BACKUP_COMPLETED: &[u8] = include_bytes!("../../../tests/events/backup-job-completed.json");
const MALFORMED: &[u8] = include_bytes!("../../../tests/events/malformed-missing-detail.json");
const COPY_FAILED_ACCESS: &[u8] =
    include_bytes!("../../../tests/events/copy-job-failed-access-denied.json");

const TABLE: &str = "arn:aws:dynamodb:us-east-1:111111111111:table/orders";
const RP: &str =
    "arn:aws:backup:us-east-1:111111111111:recovery-point:0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";

fn event(bytes: &[u8]) -> LambdaEvent<Value> {
    LambdaEvent::new(serde_json::from_slice(bytes).unwrap(), Context::default())
}

/// The example organisation, with the fixtures' table and the recovery point of backup-job-completed.json.
fn world(policy: &Policy) -> Sim {
    let now = DateTime::parse_from_rfc3339("2026-11-20T05:45:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let mut w = World::new(now, 7, Faults::none());
    for v in &policy.vaults {
        w.add_vault(v.arn.clone());
    }
    w.tables.push(SimTable::new(
        TableArn::parse(TABLE).unwrap(),
        [("backup-tier".to_string(), "gold".to_string())].into(),
    ));
    w.recovery_points.insert(
        RP.to_string(),
        SimRecoveryPoint {
            arn: RP.to_string(),
            vault: VaultArn::parse("arn:aws:backup:us-east-1:111111111111:backup-vault:primary")
                .unwrap(),
            resource_arn: TABLE.to_string(),
            creation_date: now,
            lifecycle: Lifecycle {
                delete_after_days: Some(35),
                move_to_cold_storage_after_days: None,
            },
            delete_at: None,
            source: None,
            completed_at: now,
            status: "COMPLETED",
            source_vault: None,
        },
    );
    Sim::new(w)
}

fn router() -> CopyRouter<Sim> {
    let policy = Policy::parse(POLICY).unwrap();
    CopyRouter::new(
        world(&policy),
        LoadedPolicy::new(Ok(policy)),
        RouterConfig::default(),
    )
}

#[tokio::test]
async fn a_completed_backup_starts_one_copy_and_a_redelivery_starts_none() {
    let r = router();
    let first = answer(r.handle(event(BACKUP_COMPLETED)).await.unwrap());
    assert_eq!(first["started"].as_array().unwrap().len(), 1, "{first}");
    assert_eq!(first["started"][0][0], "primary->central");
    let again = answer(r.handle(event(BACKUP_COMPLETED)).await.unwrap());
    assert_eq!(again["started"].as_array().unwrap().len(), 0);
    assert_eq!(again["already_claimed"][0], "primary->central");
    let w = r.ports().world();
    assert_eq!(w.jobs.len(), 1);
    assert_eq!(w.jobs[0].lifecycle.unwrap().delete_after_days, Some(35));
}

#[tokio::test]
async fn an_unreadable_event_fails_with_its_id_for_the_dead_letter_queue() {
    let r = router();
    let err = r.handle(event(MALFORMED)).await.unwrap_err();
    assert!(matches!(err, HandlerError::Event(_)));
    let d: Diagnostic = err.into();
    assert_eq!(d.error_type, "UnreadableEvent");
    assert!(
        d.error_message
            .contains("6a7e8feb-b491-4cf7-a9f1-bf3703bad001"),
        "{}",
        d.error_message
    );
}

#[tokio::test]
async fn an_invalid_policy_takes_no_action_and_says_why() {
    let bad = POLICY.replace("delete_after_days: 35", "delete_after_days: 0");
    let errors = Policy::parse(&bad).unwrap_err();
    let r = CopyRouter::new(
        world(&Policy::parse(POLICY).unwrap()),
        LoadedPolicy::new(Err(errors)),
        RouterConfig::default(),
    );
    let err = r.handle(event(BACKUP_COMPLETED)).await.unwrap_err();
    let d: Diagnostic = err.into();
    assert_eq!(d.error_type, "InvalidPolicy");
    assert!(
        d.error_message
            .contains("delete_after_days: 0 is outside 1..=36500"),
        "{}",
        d.error_message
    );
    assert!(
        d.error_message
            .contains("6a7e8feb-b491-4cf7-a9f1-bf3703000006"),
        "{}",
        d.error_message
    );
    assert!(r.ports().world().jobs.is_empty());
    assert!(r.ports().world().ledger.is_empty());
}

#[tokio::test]
async fn a_failure_for_a_hop_we_never_started_is_not_ours() {
    // The ledger has no such hop: a stale or foreign failure is logged, not acted on.
    let r = router();
    let out = answer(r.handle(event(COPY_FAILED_ACCESS)).await.unwrap());
    assert_eq!(out["failures_recorded"], 0);
    assert!(r.ports().world().alerts.is_empty());
}

#[tokio::test]
async fn every_fixture_goes_through_the_handler_without_a_panic() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/events");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let result = router().handle(event(&bytes)).await;
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("malformed") {
            assert!(result.is_err(), "{name}");
        } else {
            assert!(result.is_ok(), "{name}: {:?}", result.err());
        }
        count += 1;
    }
    assert!(count >= 30, "only {count} fixtures");
}

mod policy_reload {
    use super::*;
    use chrono::Duration;
    use relay_sim::policy_store::SimPolicyStore;

    fn later(sim: &Sim, minutes: i64) {
        let mut w = sim.world();
        w.now += Duration::minutes(minutes);
    }

    #[tokio::test]
    async fn a_valid_version_takes_effect_and_an_invalid_one_is_alerted_once_and_ignored() {
        let store = SimPolicyStore::new(POLICY);
        let loaded = LoadedPolicy::from_store(store.clone(), Some("backup-relay-copy".into()));
        let sim = world(&Policy::parse(POLICY).unwrap());
        assert_eq!(loaded.get(&sim, "e1").await.unwrap().version, "1");

        let longer = POLICY.replace("delete_after_days: 35", "delete_after_days: 40");
        store.publish(&longer);
        later(&sim, 4);
        assert_eq!(
            loaded.get(&sim, "e2").await.unwrap().version,
            "1",
            "not looked at yet"
        );
        // The version and, to say what changed, the one before it (there is none).
        assert_eq!(store.reads(), 2);
        later(&sim, 1);
        let now = loaded.get(&sim, "e3").await.unwrap();
        assert_eq!(now.version, "2");
        assert_eq!(now.policy, Policy::parse(&longer).unwrap());

        let typo = longer.replace("resource_types: [DynamoDB]", "resource_types: [dynamodb]");
        store.publish(&typo);
        for minute in 0..4 {
            later(&sim, 5);
            let in_force = loaded.get(&sim, &format!("e{minute}")).await.unwrap();
            assert_eq!(in_force.version, "2", "the last valid version stays");
        }
        assert_eq!(store.reads(), 7);
        let w = sim.world();
        let subjects: Vec<&str> = w.alerts.iter().map(|a| a.subject.as_str()).collect();
        assert_eq!(
            subjects,
            [
                "Backup Relay: policy version 1 in force",
                "Backup Relay: policy version 2 in force",
                "Backup Relay: policy version 3 refused"
            ],
            "one alert each, however often a version is seen"
        );
        assert!(
            w.alerts[0].message.contains("this is the first"),
            "{}",
            w.alerts[0].message
        );
        assert!(
            w.alerts[1].message.contains("vault 'central' retention:"),
            "{}",
            w.alerts[1].message
        );
        let refused = &w.alerts[2];
        assert!(
            refused.message.contains("'DynamoDB'"),
            "{}",
            refused.message
        );
        assert!(refused.message.contains("version in force (2) stays"));
        assert_eq!(
            w.incidents
                .keys()
                .filter(|k| k.starts_with("policy#3#"))
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn a_process_starting_after_a_bad_publish_runs_on_the_last_valid_version() {
        let store = SimPolicyStore::new(POLICY);
        let longer = POLICY.replace("delete_after_days: 35", "delete_after_days: 40");
        store.publish(&longer);
        store.publish("version: 1");
        store.publish(&longer.replace("[DynamoDB]", "[dynamodb]"));
        let sim = world(&Policy::parse(POLICY).unwrap());
        for cold_start in 0..3 {
            let loaded = LoadedPolicy::from_store(store.clone(), None);
            let in_force = loaded.get(&sim, &format!("e{cold_start}")).await.unwrap();
            assert_eq!(
                in_force.version, "2",
                "the newest valid version before the bad ones"
            );
            assert_eq!(in_force.policy, Policy::parse(&longer).unwrap());
        }
        let w = sim.world();
        let refused: Vec<_> = w
            .alerts
            .iter()
            .filter(|a| a.subject.contains("refused"))
            .collect();
        assert_eq!(refused.len(), 1, "the refused version is announced once");
        assert!(refused[0].subject.contains("version 4 refused"));
        assert!(
            refused[0].message.contains("version in force (2) stays"),
            "{}",
            refused[0].message
        );
        // Going back to the last valid version is said by the refusal ("version 2 stays"),
        // not by an alert of its own.
        assert_eq!(w.alerts.len(), 1, "{:#?}", w.alerts);
    }

    #[tokio::test]
    async fn a_failed_look_back_is_tried_again_at_the_next_look() {
        let store = SimPolicyStore::new(POLICY);
        store.publish(&POLICY.replace("[DynamoDB]", "[dynamodb]"));
        store.fail_history_reads(1);
        let sim = world(&Policy::parse(POLICY).unwrap());
        let loaded = LoadedPolicy::from_store(store.clone(), None);
        assert!(
            loaded.get(&sim, "e1").await.is_err(),
            "nothing valid found yet"
        );
        later(&sim, 5);
        assert_eq!(loaded.get(&sim, "e2").await.unwrap().version, "1");
        assert_eq!(sim.world().alerts.len(), 1);
    }

    #[tokio::test]
    async fn a_policy_with_thousands_of_errors_is_alerted_in_a_message_that_fits() {
        let routes: String = (0..3000)
            .map(|i| format!("  - {{ from: primary, to: central, select: {{ resource_types: [dynamodb{i}] }} }}\n"))
            .collect();
        let bad = POLICY.replace("routes:\n", &format!("routes:\n{routes}"));
        let loaded = LoadedPolicy::from_store(SimPolicyStore::new(&bad), None);
        let sim = world(&Policy::parse(POLICY).unwrap());
        assert!(loaded.get(&sim, "e1").await.is_err());
        let w = sim.world();
        assert_eq!(w.alerts.len(), 1);
        assert!(
            w.alerts[0].message.len() < 16 * 1024,
            "{}",
            w.alerts[0].message.len()
        );
        assert!(w.alerts[0]
            .message
            .contains("more (`relay validate` lists them all)"));
    }

    #[tokio::test]
    async fn a_store_that_cannot_be_read_for_good_is_alerted_once() {
        let store = SimPolicyStore::default();
        let sim = world(&Policy::parse(POLICY).unwrap());
        let loaded = LoadedPolicy::from_store(store, None);
        for event in ["e1", "e2", "e3"] {
            let e = loaded.get(&sim, event).await.unwrap_err();
            assert_eq!(Diagnostic::from(e).error_type, "PolicyUnavailable");
            later(&sim, 5);
        }
        let w = sim.world();
        assert_eq!(w.alerts.len(), 1, "{:?}", w.alerts);
        assert!(w.alerts[0].subject.contains("cannot be read"));
    }

    #[tokio::test]
    async fn another_process_seeing_the_same_refused_version_sends_no_second_alert() {
        let store = SimPolicyStore::new("version: 1");
        let sim = world(&Policy::parse(POLICY).unwrap());
        for event in ["a", "b"] {
            let cold_start = LoadedPolicy::from_store(store.clone(), None);
            let e = cold_start.get(&sim, event).await.unwrap_err();
            assert_eq!(Diagnostic::from(e).error_type, "InvalidPolicy");
        }
        let w = sim.world();
        assert_eq!(w.alerts.len(), 1);
        assert!(w.alerts[0].message.contains("No valid version"));
    }

    #[tokio::test]
    async fn a_store_that_cannot_be_read_at_cold_start_fails_the_event_for_a_retry() {
        let store = SimPolicyStore::new(POLICY);
        store.fail_reads(1);
        let r = CopyRouter::new(
            world(&Policy::parse(POLICY).unwrap()),
            LoadedPolicy::from_store(store.clone(), None),
            RouterConfig::default(),
        );
        let d = Diagnostic::from(r.handle(event(BACKUP_COMPLETED)).await.unwrap_err());
        assert_eq!(d.error_type, "PolicyUnavailable");
        assert!(
            d.error_message.contains("SlowDown") || d.error_message.contains("reduce"),
            "{}",
            d.error_message
        );
        // The next delivery reads it again at once, and acts.
        let out = answer(r.handle(event(BACKUP_COMPLETED)).await.unwrap());
        assert_eq!(out["started"].as_array().unwrap().len(), 1);
        // A store that fails later leaves the version in force in force.
        store.fail_reads(10);
        later(r.ports(), 6);
        let again = answer(r.handle(event(BACKUP_COMPLETED)).await.unwrap());
        assert_eq!(again["already_claimed"][0], "primary->central");
    }

    #[tokio::test]
    async fn a_copy_role_the_functions_cannot_pass_refuses_the_policy() {
        let store = SimPolicyStore::new(POLICY);
        let loaded = LoadedPolicy::from_store(store, Some("relay-copy".into()));
        let sim = world(&Policy::parse(POLICY).unwrap());
        let e = loaded.get(&sim, "e1").await.unwrap_err();
        assert!(e.to_string().contains("may pass only 'relay-copy'"), "{e}");
        assert!(sim.world().jobs.is_empty());
    }
}

/// The answer as the Lambda runtime sends it to the invoker.
fn answer(out: impl serde::Serialize) -> Value {
    serde_json::to_value(out).unwrap()
}

/// Vault sets through the handler: the members come from an Organizations port that answers
/// (or not) as the test says.
mod vault_sets {
    use super::*;
    use relay_core::policy::OrgUnit;
    use relay_core::ports::{ErrorKind, OrganizationsPort, PortError, PortResult};
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};

    /// The organisation example's OU, holding what the test puts there; `None`: refused.
    #[derive(Clone, Default)]
    struct Org(Arc<Mutex<Option<BTreeSet<String>>>>);

    impl OrganizationsPort for Org {
        async fn active_accounts(&self) -> PortResult<BTreeSet<String>> {
            unreachable!("the example's sets name OUs")
        }

        async fn unit(&self, _ou: &str) -> PortResult<OrgUnit> {
            let denied = || {
                PortError::new(
                    ErrorKind::AccessDenied,
                    "ListAccountsForParent",
                    Some("AccessDeniedException"),
                    "not authorized",
                )
            };
            let accounts = self.0.lock().unwrap().clone().ok_or_else(denied)?;
            Ok(OrgUnit {
                accounts,
                children: Vec::new(),
            })
        }
    }

    const ORG_POLICY: &str = include_str!("../../../infra/examples/organization-policy.yaml");

    fn router(org: &Org) -> CopyRouter<Sim> {
        let policy = Policy::parse(ORG_POLICY).unwrap();
        // The fixture's account, 111111111111, holds the member vault `primary` in us-east-1.
        let expanded = policy.assuming_member("111111111111");
        CopyRouter::new(
            world(&expanded),
            LoadedPolicy::new(Ok(policy)).with_organizations(org.clone()),
            RouterConfig::default(),
        )
    }

    #[tokio::test]
    async fn a_member_is_chained_once_organizations_names_it() {
        let org = Org::default();
        *org.0.lock().unwrap() = Some(["111111111111".to_string()].into());
        let r = router(&org);
        let out = answer(r.handle(event(BACKUP_COMPLETED)).await.unwrap());
        let started = out["started"].as_array().unwrap();
        let routes: BTreeSet<&str> = started.iter().map(|s| s[0].as_str().unwrap()).collect();
        assert_eq!(
            routes,
            BTreeSet::from([
                "primary[111111111111/us-east-1]->central",
                "primary[111111111111/us-east-1]->local-dr[111111111111/us-west-2]"
            ]),
            "{out}"
        );
    }

    #[tokio::test]
    async fn no_membership_yet_fails_the_event_for_a_retry_with_one_alert_however_many_events() {
        let org = Org::default();
        let r = router(&org);
        for _ in 0..3 {
            let e: Diagnostic = r.handle(event(BACKUP_COMPLETED)).await.unwrap_err().into();
            assert_eq!(e.error_type, "PolicyUnavailable", "{}", e.error_message);
        }
        let w = r.ports().world();
        let subjects: Vec<&str> = w.alerts.iter().map(|a| a.subject.as_str()).collect();
        assert_eq!(
            subjects,
            ["Backup Relay: the organisation's members cannot be read"]
        );
        assert!(w.jobs.is_empty());
    }

    #[tokio::test]
    async fn sets_of_ous_without_the_read_role_are_refused_by_name_with_one_alert() {
        let policy = Policy::parse(ORG_POLICY).unwrap();
        let expanded = policy.assuming_member("111111111111");
        // No ORGANIZATIONS_ROLE_ARN: the functions start without an Organizations reader.
        let r = CopyRouter::new(
            world(&expanded),
            LoadedPolicy::new(Ok(policy)),
            RouterConfig::default(),
        );
        for _ in 0..3 {
            let e: Diagnostic = r.handle(event(BACKUP_COMPLETED)).await.unwrap_err().into();
            assert_eq!(e.error_type, "OrganizationsRoleNotConfigured");
            assert!(
                e.error_message.contains("ORGANIZATIONS_ROLE_ARN"),
                "{}",
                e.error_message
            );
        }
        let w = r.ports().world();
        assert_eq!(w.alerts.len(), 1, "one alert however many events");
        assert!(w.alerts[0].message.contains("ORGANIZATIONS_ROLE_ARN"));
        assert!(w.jobs.is_empty());
    }

    #[tokio::test]
    async fn a_refresh_that_fails_keeps_the_members_read_before() {
        let org = Org::default();
        *org.0.lock().unwrap() = Some(["111111111111".to_string()].into());
        let r = router(&org);
        answer(r.handle(event(BACKUP_COMPLETED)).await.unwrap());
        *org.0.lock().unwrap() = None;
        // Past the refresh interval: the read fails, the members stay, one alert.
        r.ports().world().now += chrono::Duration::minutes(16);
        let again = answer(r.handle(event(BACKUP_COMPLETED)).await.unwrap());
        assert!(again["started"].as_array().unwrap().is_empty(), "{again}");
        assert_eq!(
            again["already_claimed"].as_array().unwrap().len(),
            2,
            "{again}"
        );
        assert_eq!(r.ports().world().alerts.len(), 1);
    }
}
