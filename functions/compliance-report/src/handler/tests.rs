//! The handler on in-memory fakes: an organisation of a few tables and no backups (every table
//! non-compliant), a store that can fail a chosen write or read, an alert topic that can refuse.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use relay_compliance::change_events::{ChangeDetail, ChangeEventsPort};
use relay_compliance::findings::import::{FailedFinding, FindingsPort};
use relay_compliance::findings::Finding;
use relay_compliance::inventory::{PlanFacts, TableFacts, VaultFacts};
use relay_compliance::pieces::MemoryParts;
use relay_compliance::publish::PublishError;
use relay_compliance::store::{self, write_order, ObjectLinks, BASELINE_KEY};
use relay_compliance::{InventoryPort, Report, Status};
use relay_core::arn::{Location, VaultArn};
use relay_core::guard::PointView;
use relay_core::plan::{StartCopyJob, Tags};
use relay_core::ports::{
    Alert, AlertPort, BackupPort, Clock, CopyJobQuery, CopyJobStatus, CopyJobSummary, ErrorKind,
    ListQuery, Page, PortError, PortResult, RouterPorts, TagPort,
};
use relay_core::retention::{Lifecycle, VaultLock};
use relay_sim::{Faults, Sim, World};

use serde_json::json;

use super::*;

const POLICY: &str = include_str!("../../../../infra/examples/policy.yaml");

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T06:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// AWS as the report reads it: tables per account and Region, no vaults, no plans.
struct FakeAws {
    /// The ledger (open incidents): the simulator's, empty.
    ledger: Sim,
    tables: Mutex<Vec<TableFacts>>,
    alerts: Mutex<Vec<Alert>>,
    refuse_alerts: Mutex<bool>,
}

fn table(name: &str, account: &str) -> TableFacts {
    TableFacts {
        arn: format!("arn:aws:dynamodb:us-east-1:{account}:table/{name}"),
        name: name.to_string(),
        account: account.to_string(),
        region: "us-east-1".to_string(),
        tags: [("backup-tier".to_string(), "gold".to_string())].into(),
        pitr: Some(true),
        native_backups: 0,
    }
}

impl FakeAws {
    fn new() -> Self {
        Self {
            ledger: Sim::new(World::new(now(), 1, Faults::none())),
            tables: Mutex::new(vec![
                table("orders", "111111111111"),
                table("users", "111111111111"),
            ]),
            alerts: Mutex::new(Vec::new()),
            refuse_alerts: Mutex::new(false),
        }
    }

    fn alerts(&self) -> Vec<Alert> {
        self.alerts.lock().unwrap().clone()
    }
}

fn unused<T>(operation: &'static str) -> PortResult<T> {
    Err(PortError::new(
        ErrorKind::Permanent,
        operation,
        None,
        "not used by the report",
    ))
}

impl InventoryPort for FakeAws {
    async fn tables(&self, at: &Location) -> PortResult<Vec<TableFacts>> {
        Ok(self
            .tables
            .lock()
            .unwrap()
            .iter()
            .filter(|t| (t.account.as_str(), t.region.as_str()) == (&at.account, &at.region))
            .cloned()
            .collect())
    }
    async fn advanced_features(&self, _: &Location) -> PortResult<Option<bool>> {
        Ok(Some(true))
    }
    async fn vaults(&self, _: &Location) -> PortResult<Vec<VaultFacts>> {
        Ok(Vec::new())
    }
    async fn backup_plans(&self, _: &Location) -> PortResult<Vec<PlanFacts>> {
        Ok(Vec::new())
    }
}

impl BackupPort for FakeAws {
    async fn start_copy_job(&self, _: &StartCopyJob) -> PortResult<String> {
        unused("StartCopyJob")
    }
    async fn vault_lock(&self, _: &VaultArn) -> PortResult<Option<VaultLock>> {
        unused("DescribeBackupVault")
    }
    async fn list_recovery_points(
        &self,
        _: &VaultArn,
        _: &ListQuery,
    ) -> PortResult<Page<PointView>> {
        Ok(Page {
            items: Vec::new(),
            next_token: None,
        })
    }
    async fn describe_recovery_point(&self, _: &VaultArn, _: &str) -> PortResult<PointView> {
        unused("DescribeRecoveryPoint")
    }
    async fn update_recovery_point_lifecycle(
        &self,
        _: &VaultArn,
        _: &str,
        _: &Lifecycle,
    ) -> PortResult<()> {
        unused("UpdateRecoveryPointLifecycle")
    }
    async fn copy_job_status(&self, _: &Location, _: &str) -> PortResult<CopyJobStatus> {
        unused("DescribeCopyJob")
    }
    async fn find_copy_jobs(
        &self,
        _: &Location,
        _: &CopyJobQuery,
    ) -> PortResult<Vec<CopyJobSummary>> {
        unused("ListCopyJobs")
    }
}

impl AlertPort for FakeAws {
    async fn send(&self, alert: &Alert) -> PortResult<()> {
        if *self.refuse_alerts.lock().unwrap() {
            return Err(PortError::new(
                ErrorKind::Throttled,
                "Publish",
                Some("Throttling"),
                "slow down",
            ));
        }
        self.alerts.lock().unwrap().push(alert.clone());
        Ok(())
    }
}

impl Clock for FakeAws {
    fn now(&self) -> DateTime<Utc> {
        now()
    }
}

impl TagPort for FakeAws {
    async fn resource_tags(&self, _: &str) -> PortResult<Tags> {
        unused("ListTagsOfResource")
    }
}

impl relay_core::ports::CopyTagPort for FakeAws {
    async fn recovery_point_tags(&self, _: &VaultArn, _: &str) -> PortResult<Tags> {
        unused("ListTags")
    }
    async fn tag_recovery_point(&self, _: &VaultArn, _: &str, _: &Tags) -> PortResult<()> {
        unused("TagResource")
    }
}

/// Security Hub and the event bus: the simulator's, which answers as AWS does.
impl FindingsPort for FakeAws {
    async fn import_findings(
        &self,
        at: &Location,
        findings: &[Finding],
    ) -> PortResult<Vec<FailedFinding>> {
        self.ledger.import_findings(at, findings).await
    }
}

impl ChangeEventsPort for FakeAws {
    async fn put_change_events(&self, details: &[ChangeDetail]) -> PortResult<Vec<usize>> {
        self.ledger.put_change_events(details).await
    }
}

/// Through the same blanket impl of `ReportPorts` as `AwsPorts`.
impl RouterPorts for FakeAws {
    type Ledger = Sim;
    fn ledger(&self) -> &Sim {
        &self.ledger
    }
}

/// A bucket in memory that records every put, and fails the ones it is told to.
#[derive(Default)]
struct MemStore {
    objects: Mutex<BTreeMap<String, (String, String)>>,
    puts: Mutex<Vec<String>>,
    fail_put: Mutex<Option<String>>,
    fail_get: Mutex<Option<PortError>>,
}

impl MemStore {
    fn body(&self, key: &str) -> Option<String> {
        self.objects
            .lock()
            .unwrap()
            .get(key)
            .map(|(b, _)| b.clone())
    }
    fn puts(&self) -> Vec<String> {
        self.puts.lock().unwrap().clone()
    }
}

impl ReportStore for MemStore {
    async fn get_baseline(&self) -> PortResult<Option<String>> {
        if let Some(e) = self.fail_get.lock().unwrap().clone() {
            return Err(e);
        }
        Ok(self.body(BASELINE_KEY))
    }
    async fn put(&self, key: &str, body: &str, content_type: &str) -> PortResult<()> {
        if self.fail_put.lock().unwrap().as_deref() == Some(key) {
            return Err(PortError::new(
                ErrorKind::Retryable,
                "PutObject",
                Some("InternalError"),
                "try again",
            ));
        }
        self.puts.lock().unwrap().push(key.to_string());
        self.objects.lock().unwrap().insert(
            key.to_string(),
            (body.to_string(), content_type.to_string()),
        );
        Ok(())
    }
    fn links(&self, key: &str) -> ObjectLinks {
        ObjectLinks {
            uri: format!("s3://reports/{key}"),
            console: None,
        }
    }
}

fn function() -> ReportFunction<FakeAws, MemStore, MemoryParts> {
    ReportFunction::new(
        FakeAws::new(),
        MemStore::default(),
        MemoryParts::default(),
        LoadedPolicy::parse(POLICY),
        8,
    )
}

fn policy() -> Policy {
    Policy::parse(POLICY).unwrap()
}

fn all_keys() -> Vec<String> {
    write_order(now()).into_iter().map(|(k, _)| k).collect()
}

fn invoke(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

#[tokio::test]
async fn a_first_run_writes_dated_then_latest_and_alerts_the_non_compliant_tables() {
    let f = function();
    let out = f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    assert_eq!(f.store().puts(), all_keys());
    assert_eq!(out.written, all_keys());
    let latest: Report = serde_json::from_str(
        &f.store()
            .body(&store::latest_key(store::ReportFile::Json))
            .unwrap(),
    )
    .unwrap();
    let baseline: relay_compliance::Verdicts =
        serde_json::from_str(&f.store().body(BASELINE_KEY).unwrap()).unwrap();
    assert_eq!(
        baseline.tables,
        relay_compliance::Verdicts::of(&out.report.load().unwrap()).tables
    );
    assert_eq!(latest, out.report.load().unwrap());
    assert_eq!(latest.policy_digest, policy_digest(POLICY));
    assert_eq!(latest.summary.resources, 2);
    assert!(latest
        .resources
        .iter()
        .all(|r| r.status == Status::NonCompliant));
    let csv = f.store().objects.lock().unwrap()["reports/2026/11/20/report.csv"].clone();
    assert!(csv.0.starts_with("Account Id,Region,Resource ARN"));
    assert_eq!(csv.1, "text/csv; charset=utf-8");

    let alerts = f.ports().alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0].subject,
        "Backup Relay: 2 tables now non-compliant"
    );
    assert!(alerts[0]
        .message
        .contains("- orders (111111111111/us-east-1, was new)"));
    assert!(alerts[0]
        .message
        .contains("s3://reports/reports/2026/11/20/report.html"));
    assert_eq!(
        out.metrics.len(),
        1 + 17 + 1,
        "totals, each control, one account"
    );
}

#[tokio::test]
async fn an_unchanged_day_writes_the_report_and_sends_nothing() {
    let f = function();
    f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    let again = f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    assert_eq!((again.changes, again.alert.is_none()), (0, true));
    assert_eq!(f.ports().alerts().len(), 1, "only the first run's");
    assert_eq!(f.store().puts().len(), 20);
}

#[tokio::test]
async fn a_failed_dated_write_leaves_latest_alone_and_alerts_nothing() {
    let f = function();
    *f.store().fail_put.lock().unwrap() = Some("reports/2026/11/20/report.csv".into());
    let err = f.run(&policy(), &policy_digest(POLICY)).await.unwrap_err();
    assert!(
        matches!(&err, HandlerError::Report(PublishError::Write { key, .. }) if key.ends_with("20/report.csv")),
        "{err}"
    );
    assert_eq!(err.error_type(), "ReportWriteFailed");
    assert_eq!(f.store().puts(), ["reports/2026/11/20/report.json"]);
    assert!(f.ports().alerts().is_empty());
}

#[tokio::test]
async fn a_refused_alert_keeps_latest_unmoved_so_the_next_run_sends_it() {
    let f = function();
    *f.ports().refuse_alerts.lock().unwrap() = true;
    let err = f.run(&policy(), &policy_digest(POLICY)).await.unwrap_err();
    assert_eq!(err.error_type(), "AlertFailed");
    assert_eq!(f.store().body(BASELINE_KEY), None);
    assert_eq!(f.store().puts(), all_keys()[..5]);

    *f.ports().refuse_alerts.lock().unwrap() = false;
    let out = f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    assert!(out.alert.is_some());
    assert_eq!(f.ports().alerts().len(), 1);
}

#[tokio::test]
async fn an_unreadable_previous_report_is_noted_and_a_transient_read_writes_nothing() {
    let f = function();
    f.store()
        .put(BASELINE_KEY, "{\"not\": \"a report\"}", "application/json")
        .await
        .unwrap();
    let out = f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    let alert = out.alert.unwrap();
    assert!(
        alert
            .message
            .contains("Note: the previous report could not be read"),
        "{}",
        alert.message
    );

    let f = function();
    *f.store().fail_get.lock().unwrap() = Some(PortError::new(
        ErrorKind::Throttled,
        "GetObject",
        Some("SlowDown"),
        "slow down",
    ));
    let err = f.run(&policy(), &policy_digest(POLICY)).await.unwrap_err();
    assert_eq!(err.error_type(), "PreviousReportUnreadable");
    assert!(f.store().puts().is_empty());
}

#[tokio::test]
async fn a_too_large_previous_report_is_compared_as_none_not_a_failed_run() {
    let f = function();
    *f.store().fail_get.lock().unwrap() = Some(store::too_large(
        "GetObject",
        BASELINE_KEY,
        70_000_000,
        67_108_864,
    ));
    let out = f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    assert!(out
        .alert
        .unwrap()
        .message
        .contains("over the 67108864-byte limit"));
    assert_eq!(out.written.len(), 10);
}

#[tokio::test]
async fn an_on_demand_invoke_answers_with_counts_and_keys() {
    let f = function();
    let Answer::Published(answer) = f.handle(invoke(json!({}))).await.unwrap() else {
        panic!("a whole run publishes")
    };
    assert_eq!((answer.resources, answer.non_compliant), (2, 2));
    assert!(answer.alerted);
    assert_eq!(answer.written[9], BASELINE_KEY);
    assert!(answer.findings.imported > 0 && answer.events == 2);
    // As the invoker reads it: counts and keys, never the tables or their tags.
    let json = serde_json::to_value(&answer).unwrap();
    assert!(json.get("resources_detail").is_none() && !json.to_string().contains("backup-tier"));
}

#[tokio::test]
async fn an_invalid_policy_fails_every_invocation_as_invalid_policy() {
    let f = ReportFunction::new(
        FakeAws::new(),
        MemStore::default(),
        MemoryParts::default(),
        LoadedPolicy::parse("version: 99"),
        8,
    );
    let err = f
        .handle(invoke(json!({"id": "sched-1"})))
        .await
        .unwrap_err();
    let d = Diagnostic::from(err);
    assert_eq!(d.error_type, "InvalidPolicy");
    assert!(d.error_message.contains("sched-1"), "{}", d.error_message);
    assert!(f.store().puts().is_empty());
}

#[test]
fn diagnostics_name_the_failure() {
    let e = PublishError::Alert(PortError::new(ErrorKind::Throttled, "Publish", None, "x"));
    let d = Diagnostic::from(HandlerError::from(e));
    assert_eq!(d.error_type, "AlertFailed");
    assert!(
        d.error_message.contains("sent again"),
        "{}",
        d.error_message
    );
    assert!(policy_digest("a").starts_with("sha256:ca978112"));
}

/// The state machine's steps, one invocation each, as its definition sends them: the same
/// report as a whole run, and the same answer shapes the definition reads (`pieces_key`).
#[tokio::test]
async fn the_state_machines_steps_give_the_whole_runs_report() {
    let whole = function();
    let Answer::Published(expected) = whole.handle(invoke(json!({}))).await.unwrap() else {
        panic!("a whole run publishes")
    };
    let f = function();
    let Answer::Started(answer) = f.handle(invoke(json!({"phase": "start"}))).await.unwrap() else {
        panic!("start answers with the run")
    };
    let started = answer.started.clone();
    let answer = serde_json::to_value(&answer).unwrap();
    // What the definition's ResultSelector reads.
    assert_eq!(answer["concurrency"], 8);
    assert!(answer["run"]["run"].is_string() && answer["run"]["at"].is_string());
    assert!(answer["pieces_key"]
        .as_str()
        .unwrap()
        .ends_with("/pieces.json"));
    let items: Vec<Value> = serde_json::from_str(
        &f.parts()
            .get_part(&started.pieces_key)
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(items.len(), started.pieces);
    for phase in ["inventory", "evaluate"] {
        for item in &items {
            f.handle(invoke(json!({"phase": phase, "piece": item})))
                .await
                .unwrap();
        }
    }
    let merge = json!({"phase": "merge", "run": answer["run"]});
    let Answer::Published(merged) = f.handle(invoke(merge)).await.unwrap() else {
        panic!("the merge publishes")
    };
    assert_eq!(merged, expected);
    assert_eq!(
        f.store().body(BASELINE_KEY),
        whole.store().body(BASELINE_KEY)
    );
}

#[tokio::test]
async fn a_step_that_is_not_one_is_refused_and_nothing_is_written() {
    let f = function();
    for payload in [
        json!({"phase": "shuffle"}),
        json!({"phase": "inventory"}),
        json!({"phase": "merge", "run": {"run": "x"}}),
        json!({"phase": "start", "extra": 1}),
    ] {
        let err = f.handle(invoke(payload.clone())).await.unwrap_err();
        assert_eq!(
            Diagnostic::from(err).error_type,
            "InvalidPayload",
            "{payload}"
        );
    }
    assert!(f.store().puts().is_empty());
    assert!(f.parts().keys().is_empty());
}

#[tokio::test]
async fn a_merge_of_a_run_never_started_is_named() {
    let f = function();
    let merge = json!({"phase": "merge", "run": {"run": "20260101T000000.000Z", "at": "2026-01-01T00:00:00Z"}});
    let err = f.handle(invoke(merge)).await.unwrap_err();
    let d = Diagnostic::from(err);
    assert_eq!(d.error_type, "RunNotStarted");
    assert!(f.store().puts().is_empty());
}

mod security_hub;
