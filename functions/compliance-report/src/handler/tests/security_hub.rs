//! Findings imported into (the simulator's) Security Hub and change events put on the bus, run
//! after run: what AWS holds is read back from the simulated side, not from our own counts.

use relay_compliance::findings::outcome::INCIDENT_PREFIX;
use relay_compliance::inventory::GapKind;
use relay_sim::world::security_hub::SecurityHub;

use super::*;

const HOME: &str = "111111111111";

fn hub<T>(
    f: &ReportFunction<FakeAws, MemStore, MemoryParts>,
    read: impl FnOnce(&mut SecurityHub) -> T,
) -> T {
    read(&mut f.ports().ledger.world().security_hub)
}

/// The findings Security Hub holds for the home account: (id, compliance, workflow).
fn held(f: &ReportFunction<FakeAws, MemStore, MemoryParts>) -> Vec<(String, String, String)> {
    hub(f, |h| {
        h.held(HOME, "us-east-1", now())
            .into_iter()
            .map(|x| {
                (
                    x.id.clone(),
                    x.compliance.status.clone(),
                    x.workflow.status.clone(),
                )
            })
            .collect()
    })
}

/// Alerts sent whose subject says `about`.
fn alerts_about(f: &ReportFunction<FakeAws, MemStore, MemoryParts>, about: &str) -> usize {
    f.ports()
        .alerts()
        .iter()
        .filter(|a| a.subject.contains(about))
        .count()
}

fn events(f: &ReportFunction<FakeAws, MemStore, MemoryParts>) -> Vec<ChangeDetail> {
    f.ports().ledger.world().change_events.clone()
}

#[tokio::test]
async fn a_first_run_imports_every_finding_in_its_account_and_a_quiet_day_none() {
    let f = function();
    let out = f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    let findings = relay_compliance::findings::findings(&out.report.load().unwrap());
    assert_eq!(out.findings.imported, findings.len());
    assert_eq!(out.findings.calls, findings.len().div_ceil(100));
    assert_eq!(held(&f).len(), findings.len());
    assert!(findings.iter().all(|x| x.aws_account_id == HOME));
    let file: Vec<Finding> = serde_json::from_str(
        &f.store()
            .body("reports/2026/11/20/findings.asff.json")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(file, findings);
    let baseline: relay_compliance::Verdicts =
        serde_json::from_str(&f.store().body(BASELINE_KEY).unwrap()).unwrap();
    assert_eq!(
        baseline.findings_synced.get("111111111111/us-east-1"),
        Some(&now())
    );
    // Two tables new and non-compliant: two events, naming their failing controls.
    let put = events(&f);
    assert_eq!(put.len(), 2);
    assert!(put.iter().all(|e| e.now == Status::NonCompliant
        && e.was.is_none()
        && !e.controls.is_empty()
        && e.report_key == "reports/2026/11/20/report.json"));

    let again = f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    assert_eq!((again.findings.imported, again.findings.calls), (0, 0));
    assert_eq!(events(&f).len(), 2, "no change, no event");
}

#[tokio::test]
async fn a_recovered_control_resolves_its_finding_and_is_one_event() {
    let f = function();
    f.ports().tables.lock().unwrap()[0].pitr = Some(false);
    f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    let pitr =
        "backup-relay/RELAY_PITR_ENABLED/arn:aws:dynamodb:us-east-1:111111111111:table/orders";
    let status = |f: &ReportFunction<FakeAws, MemStore, MemoryParts>| {
        held(f)
            .into_iter()
            .find(|h| h.0 == pitr)
            .map(|h| (h.1, h.2))
    };
    assert_eq!(status(&f), Some(("FAILED".into(), "NEW".into())));

    f.ports().tables.lock().unwrap()[0].pitr = Some(true);
    let out = f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    assert_eq!(status(&f), Some(("PASSED".into(), "RESOLVED".into())));
    let orders =
        relay_compliance::findings::table_findings(&out.report.load().unwrap().resources[0], now());
    assert_eq!(out.report.load().unwrap().resources[0].name, "orders");
    assert_eq!(
        out.findings.imported,
        orders.len(),
        "the changed table's findings only"
    );
    let last = events(&f).pop().unwrap();
    assert_eq!(last.table, "orders");
    assert_eq!(last.controls.len(), 1);
    assert_eq!(last.controls[0].control, "RELAY_PITR_ENABLED");
    assert_eq!(
        (last.controls[0].was, last.controls[0].now),
        (Status::NonCompliant, Status::Compliant)
    );
}

#[tokio::test]
async fn security_hub_off_is_a_gap_and_one_alert_until_it_works_then_the_incident_closes() {
    let f = function();
    hub(&f, |h| h.disabled.insert((HOME.into(), "us-east-1".into())));
    let out = f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    let gap = out
        .report
        .frame
        .gaps
        .iter()
        .find(|g| g.kind == GapKind::SecurityHub)
        .unwrap();
    assert!(gap.error.contains("not enabled"), "{}", gap.error);
    assert_eq!(out.findings.failed_sites, 1);
    let told = |f: &ReportFunction<FakeAws, MemStore, MemoryParts>| {
        alerts_about(f, "findings not imported")
    };
    assert_eq!(told(&f), 1);
    let latest: Report = serde_json::from_str(
        &f.store()
            .body(&store::latest_key(store::ReportFile::Json))
            .unwrap(),
    )
    .unwrap();
    assert!(latest.gaps.iter().any(|g| g.kind == GapKind::SecurityHub));

    let again = f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    assert_eq!(again.findings.failed_sites, 1);
    assert_eq!(told(&f), 1, "one alert, not one a day");
    // The incident is about Security Hub, not about any table's protection.
    assert!(again
        .report
        .load()
        .unwrap()
        .resources
        .iter()
        .all(|r| r
            .controls
            .iter()
            .all(|c| c.id.as_str() != "RELAY_OPEN_INCIDENTS" || c.status != Status::NonCompliant)));

    hub(&f, |h| h.disabled.clear());
    let fixed = f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    assert!(
        fixed.findings.imported > 0,
        "a full import where the last failed"
    );
    assert!(fixed
        .report
        .frame
        .gaps
        .iter()
        .all(|g| g.kind != GapKind::SecurityHub));
    let open = f.ports().ledger.world().incidents.clone();
    assert!(
        open.keys().all(|id| !id.starts_with(INCIDENT_PREFIX)),
        "{open:?}"
    );
}

#[tokio::test]
async fn refused_findings_are_tried_again_and_what_stays_refused_is_imported_by_the_next_run() {
    let f = function();
    hub(&f, |h| h.refuse_next_findings = 5);
    let out = f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    assert_eq!(out.findings.failed_sites, 0, "tried once more and taken");
    assert_eq!(held(&f).len(), out.findings.imported);

    let f = function();
    hub(&f, |h| h.refuse_next_findings = 10_000);
    let out = f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    assert_eq!(out.findings.failed_sites, 1);
    assert!(out
        .report
        .frame
        .gaps
        .iter()
        .any(|g| g.error.contains("refused twice")));
    hub(&f, |h| h.refuse_next_findings = 0);
    let next = f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    assert_eq!(
        held(&f).len(),
        relay_compliance::findings::findings(&next.report.load().unwrap()).len()
    );
}

#[tokio::test]
async fn change_events_refused_twice_fail_the_run_before_the_baseline_so_they_are_put_again() {
    let f = function();
    hub(&f, |h| h.refuse_next_events = 4);
    let err = f.run(&policy(), &policy_digest(POLICY)).await.unwrap_err();
    assert_eq!(err.error_type(), "ChangeEventsFailed");
    assert_eq!(f.store().body(BASELINE_KEY), None);
    let out = f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    assert_eq!(out.events, 2);
    assert_eq!(events(&f).len(), 2);
}

#[tokio::test]
async fn a_bus_that_refuses_for_good_is_one_incident_and_the_report_goes_on() {
    let f = function();
    hub(&f, |h| h.events_denied = true);
    let out = f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    assert!(
        f.store().body(BASELINE_KEY).is_some(),
        "the report moved on"
    );
    assert!(out.findings.imported > 0);
    let refused = |f: &ReportFunction<FakeAws, MemStore, MemoryParts>| {
        alerts_about(f, "change events are refused")
    };
    assert_eq!(refused(&f), 1);
    f.ports().tables.lock().unwrap()[0].pitr = Some(false);
    f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    assert_eq!(refused(&f), 1, "one alert while it lasts");
    hub(&f, |h| h.events_denied = false);
    f.ports().tables.lock().unwrap()[0].pitr = Some(true);
    f.run(&policy(), &policy_digest(POLICY)).await.unwrap();
    let open = f.ports().ledger.world().incidents.clone();
    assert!(
        !open.contains_key("change-events#refused"),
        "closed once events go through"
    );
}
