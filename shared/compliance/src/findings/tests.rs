use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use relay_core::arn::Location;
use relay_core::ports::{Clock, ErrorKind, PortError, PortResult};

use super::import::{batches, import_all, FailedFinding, FindingsPort, SiteResult, NOT_ENABLED};
use super::plan::{plan, plan_within, site_key, Mode, REFRESH_DAYS};
use super::*;
use crate::fixtures::{at, report, table};
use crate::{InventoryGap, Verdicts};

fn two_tables(generated_at: &str) -> Report {
    report(
        generated_at,
        vec![
            table(
                "orders",
                "111111111111",
                &[(ControlId::RelayChainComplete, "the copy into dr is missing")],
            ),
            table("users", "222222222222", &[]),
        ],
    )
}

#[test]
fn one_finding_per_table_and_applicable_control_agreeing_with_the_report() {
    let mut r = two_tables("2026-11-20T06:00:00Z");
    r.resources[1].controls[0].status = Status::NotApplicable;
    let all = findings(&r);
    assert_eq!(all.len(), 17 + 16);
    // The file the merge writes table by table is the same text.
    assert_eq!(
        crate::render::findings_json(&r).unwrap(),
        serde_json::to_string(&all).unwrap()
    );
    for f in &all {
        let table = r
            .resources
            .iter()
            .find(|t| t.resource_arn == f.resources[0].id)
            .unwrap();
        let control = table
            .controls
            .iter()
            .find(|c| c.id.as_str() == f.generator_id)
            .unwrap();
        assert_ne!(control.status, Status::NotApplicable);
        let failed = control.status == Status::NonCompliant;
        assert_eq!(f.is_failed(), failed, "{}", f.id);
        assert_eq!(f.workflow.status, if failed { "NEW" } else { "RESOLVED" });
        assert_eq!(f.record_state, "ACTIVE");
        assert_eq!(f.description, control.reason);
        assert_eq!(f.aws_account_id, table.account);
        assert_eq!(
            f.product_arn,
            format!(
                "arn:aws:securityhub:us-east-1:{0}:product/{0}/default",
                table.account
            )
        );
        assert_eq!(f.resources[0].kind, "AwsDynamoDbTable");
        assert_eq!(f.created_at, "2026-11-20T06:00:00.000Z");
        assert_eq!(f.schema_version, "2018-10-08");
        assert_eq!(f.finding_provider_fields.severity, f.severity);
        assert_eq!(f.finding_provider_fields.types, f.types);
    }
    let failed: Vec<&Finding> = all.iter().filter(|f| f.is_failed()).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].severity.label, "HIGH");
    assert_eq!(
        failed[0].id,
        "backup-relay/RELAY_CHAIN_COMPLETE/arn:aws:dynamodb:us-east-1:111111111111:table/orders"
    );
    let json = serde_json::to_value(failed[0]).unwrap();
    assert_eq!(json["Compliance"]["Status"], "FAILED");
    assert_eq!(json["Resources"][0]["Type"], "AwsDynamoDbTable");
    assert_eq!(json["Severity"]["Label"], "HIGH");
}

#[test]
fn ids_are_stable_across_runs_and_updated_at_grows() {
    let first = findings(&two_tables("2026-11-20T06:00:00Z"));
    let second = findings(&two_tables("2026-11-21T06:00:00Z"));
    let ids = |f: &[Finding]| f.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&first), ids(&second));
    assert!(first
        .iter()
        .zip(&second)
        .all(|(a, b)| a.updated_at < b.updated_at));
    let unique: std::collections::BTreeSet<_> = ids(&first).into_iter().collect();
    assert_eq!(unique.len(), first.len());
}

#[test]
fn long_texts_are_cut_to_asffs_limits_and_other_partitions_kept() {
    let mut r = two_tables("2026-11-20T06:00:00Z");
    r.resources[0].controls[10].reason = "é".repeat(5000);
    r.resources[0].name = "t".repeat(255);
    r.resources[0].resource_arn = "arn:aws-cn:dynamodb:cn-north-1:111111111111:table/orders".into();
    r.resources[0].region = "cn-north-1".into();
    let f = table_findings(&r.resources[0], r.generated_at);
    assert!(f.iter().all(|f| f.title.chars().count() <= MAX_TITLE_CHARS));
    assert!(f
        .iter()
        .all(|f| f.description.chars().count() <= MAX_DESCRIPTION_CHARS));
    assert!(f[10].description.ends_with('…'));
    assert_eq!(
        f[0].product_arn,
        "arn:aws-cn:securityhub:cn-north-1:111111111111:product/111111111111/default"
    );
    assert_eq!(f[0].resources[0].partition, "aws-cn");
}

fn synced_verdicts(r: &Report, when: &str) -> Verdicts {
    let mut v = Verdicts::of(r);
    for t in &r.resources {
        v.findings_synced
            .insert(site_key(&t.account, &t.region), at(when));
    }
    v
}

#[test]
fn a_first_run_imports_everything_and_an_unchanged_day_nothing() {
    let r = two_tables("2026-11-20T06:00:00Z");
    let sites = plan(&r, None);
    assert_eq!(sites.len(), 2);
    assert!(sites.iter().all(|s| s.mode == Mode::Full));
    assert_eq!(
        sites.iter().map(|s| s.findings.len()).sum::<usize>(),
        findings(&r).len()
    );
    let next = two_tables("2026-11-21T06:00:00Z");
    let sites = plan(&next, Some(&synced_verdicts(&r, "2026-11-20T06:00:00Z")));
    assert!(sites
        .iter()
        .all(|s| s.mode == Mode::Delta && s.findings.is_empty()));
}

#[test]
fn a_changed_table_is_imported_whole_so_a_recovered_control_is_resolved() {
    let before = two_tables("2026-11-20T06:00:00Z");
    let mut now = two_tables("2026-11-21T06:00:00Z");
    now.resources[0] = table("orders", "111111111111", &[]);
    let sites = plan(
        &now,
        Some(&synced_verdicts(&before, "2026-11-20T06:00:00Z")),
    );
    let orders = sites.iter().find(|s| s.account == "111111111111").unwrap();
    assert_eq!(orders.findings.len(), 17);
    let chain = orders
        .findings
        .iter()
        .find(|f| f.generator_id == "RELAY_CHAIN_COMPLETE")
        .unwrap();
    assert_eq!(
        (
            chain.compliance.status.as_str(),
            chain.workflow.status.as_str()
        ),
        ("PASSED", "RESOLVED")
    );
    let users = sites.iter().find(|s| s.account == "222222222222").unwrap();
    assert!(users.findings.is_empty());
}

#[test]
fn a_full_import_comes_back_well_within_security_hubs_ninety_days() {
    let before = two_tables("2026-11-20T06:00:00Z");
    let later = two_tables("2026-12-20T06:00:00Z");
    let sites = plan(
        &later,
        Some(&synced_verdicts(&before, "2026-11-20T06:00:00Z")),
    );
    const { assert!(REFRESH_DAYS < 90 / 2) };
    assert!(sites
        .iter()
        .all(|s| s.mode == Mode::Full && !s.findings.is_empty()));
}

#[test]
fn a_table_that_left_has_its_open_findings_archived_unless_its_site_was_unread() {
    let before = two_tables("2026-11-20T06:00:00Z");
    let mut now = two_tables("2026-11-21T06:00:00Z");
    now.resources.remove(0);
    let previous = synced_verdicts(&before, "2026-11-20T06:00:00Z");
    let sites = plan(&now, Some(&previous));
    let gone = sites.iter().find(|s| s.account == "111111111111").unwrap();
    assert_eq!(gone.findings.len(), 1);
    assert_eq!(gone.findings[0].record_state, "ARCHIVED");
    assert_eq!(gone.findings[0].generator_id, "RELAY_CHAIN_COMPLETE");
    now.gaps.push(InventoryGap {
        account: "111111111111".into(),
        region: "us-east-1".into(),
        what: "tables".into(),
        error: "AccessDenied".into(),
        kind: crate::inventory::GapKind::Tables,
        vault: None,
    });
    let sites = plan(&now, Some(&previous));
    assert!(sites.iter().all(|s| s.account != "111111111111"));
    // Unread today: it waits in the verdicts, and is archived once its site is read.
    let planned = |k: &str| sites.iter().any(|s| s.key() == k);
    let waiting = plan::pending_archives(&Verdicts::of(&now).tables, Some(&previous), planned);
    assert_eq!(waiting.len(), 1);
    let mut next_verdicts = after(&now, &sites);
    next_verdicts.findings_to_archive = waiting;
    let mut readable = two_tables("2026-11-22T06:00:00Z");
    readable.resources.remove(0);
    let sites = plan(&readable, Some(&next_verdicts));
    let gone = sites.iter().find(|s| s.account == "111111111111").unwrap();
    assert_eq!(gone.findings.len(), 1);
    assert_eq!(gone.findings[0].record_state, "ARCHIVED");
    assert!(plan::pending_archives(
        &Verdicts::of(&readable).tables,
        Some(&next_verdicts),
        |_| true
    )
    .is_empty());
    assert_eq!(
        plan::pending_archives(
            &Verdicts::of(&readable).tables,
            Some(&next_verdicts),
            |_| false
        )
        .len(),
        1,
        "a failed import keeps it waiting"
    );
}

/// The verdicts a run leaves when every import went through.
fn after(r: &Report, sites: &[plan::Site]) -> Verdicts {
    let mut v = Verdicts::of(r);
    v.findings_synced = plan::synced_after(sites, |_| true, r.generated_at);
    v.findings_cursor = plan::cursors_after(sites, |_| true);
    v
}

#[test]
fn full_imports_past_the_budget_go_on_from_their_cursor_until_every_finding_is_in() {
    let mut resources = Vec::new();
    for i in 0..7 {
        resources.push(table(&format!("t{i}"), "111111111111", &[]));
        resources.push(table(&format!("t{i}"), "222222222222", &[]));
    }
    let r = report("2026-11-20T06:00:00Z", resources);
    let every = findings(&r).len();
    let (mut previous, mut imported, mut runs) = (None, Vec::new(), 0);
    loop {
        let sites = plan_within(&r, previous.as_ref(), 40);
        let this: usize = sites.iter().map(|s| s.findings.len()).sum();
        assert!(this <= 40, "the budget holds: {this}");
        imported.extend(
            sites
                .iter()
                .flat_map(|s| s.findings.iter().map(|f| f.id.clone())),
        );
        let v = after(&r, &sites);
        runs += 1;
        let done = v.findings_synced.len() == 2;
        previous = Some(v);
        if done {
            break;
        }
        assert!(runs < 10, "it moves on every run");
    }
    assert_eq!(runs, every.div_ceil(40));
    imported.sort();
    let before = imported.len();
    imported.dedup();
    assert_eq!(
        (before, imported.len()),
        (every, every),
        "each finding once"
    );
}

#[test]
fn a_site_without_room_still_sends_what_changed_and_waits_its_turn() {
    let before = two_tables("2026-11-20T06:00:00Z");
    let mut now = two_tables("2026-11-21T06:00:00Z");
    now.resources[0] = table("orders", "111111111111", &[]);
    // Neither site was ever imported in full: with no budget, both wait, and the changed
    // table's findings go all the same.
    let sites = plan_within(&now, Some(&Verdicts::of(&before)), 0);
    assert!(sites.iter().all(|s| s.mode == Mode::Deferred));
    let orders = sites.iter().find(|s| s.account == "111111111111").unwrap();
    assert_eq!(orders.findings.len(), 17);
    assert!(sites
        .iter()
        .find(|s| s.account == "222222222222")
        .unwrap()
        .findings
        .is_empty());
}

#[test]
fn a_control_that_no_longer_applies_has_its_open_finding_archived() {
    let before = two_tables("2026-11-20T06:00:00Z");
    let mut now = two_tables("2026-11-21T06:00:00Z");
    now.resources[0] = table("orders", "111111111111", &[]);
    let chain = now.resources[0]
        .controls
        .iter_mut()
        .find(|c| c.id == ControlId::RelayChainComplete)
        .unwrap();
    chain.status = Status::NotApplicable;
    let sites = plan(
        &now,
        Some(&synced_verdicts(&before, "2026-11-20T06:00:00Z")),
    );
    let orders = sites.iter().find(|s| s.account == "111111111111").unwrap();
    let retired: Vec<&Finding> = orders
        .findings
        .iter()
        .filter(|f| f.generator_id == "RELAY_CHAIN_COMPLETE")
        .collect();
    assert_eq!(retired.len(), 1);
    assert_eq!(retired[0].record_state, "ARCHIVED");
}

#[test]
fn two_hundred_and_fifty_findings_are_three_calls() {
    let mut resources = Vec::new();
    for i in 0..15 {
        resources.push(table(&format!("t{i}"), "111111111111", &[]));
    }
    let r = report("2026-11-20T06:00:00Z", resources);
    let all: Vec<Finding> = findings(&r).into_iter().take(250).collect();
    let sizes: Vec<usize> = batches(&all).iter().map(|b| b.len()).collect();
    assert_eq!(sizes, [100, 100, 50]);
    assert!(batches(&[]).is_empty());
}

/// Security Hub in one account: refuses the first `refuse` findings it is sent, or every call.
struct FakeHub {
    refuse: Mutex<usize>,
    code: &'static str,
    error: Option<PortError>,
    calls: Mutex<Vec<(tokio::time::Instant, usize)>>,
}

impl FakeHub {
    fn new(refuse: usize, error: Option<PortError>) -> Self {
        Self {
            refuse: Mutex::new(refuse),
            code: "InternalException",
            error,
            calls: Mutex::new(Vec::new()),
        }
    }
}

impl FindingsPort for FakeHub {
    async fn import_findings(
        &self,
        _: &Location,
        findings: &[Finding],
    ) -> PortResult<Vec<FailedFinding>> {
        self.calls
            .lock()
            .unwrap()
            .push((tokio::time::Instant::now(), findings.len()));
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let mut refuse = self.refuse.lock().unwrap();
        let mut failed = Vec::new();
        for f in findings {
            if *refuse > 0 {
                *refuse -= 1;
                failed.push(FailedFinding {
                    id: f.id.clone(),
                    code: self.code.into(),
                    message: "try later".into(),
                });
            }
        }
        Ok(failed)
    }
}

impl Clock for FakeHub {
    fn now(&self) -> DateTime<Utc> {
        at("2026-11-20T06:00:00Z")
    }
    async fn pause(&self, wait: Duration) {
        tokio::time::sleep(wait).await
    }
}

fn one_site(n: usize) -> Vec<plan::Site> {
    let resources = (0..n.div_ceil(17))
        .map(|i| table(&format!("t{i}"), "111111111111", &[]))
        .collect();
    let r = report("2026-11-20T06:00:00Z", resources);
    let mut sites = plan(&r, None);
    sites[0].findings.truncate(n);
    sites
}

#[tokio::test(start_paused = true)]
async fn calls_into_one_site_keep_to_ten_a_second_and_refused_findings_are_tried_once_more() {
    let hub = FakeHub::new(30, None);
    let results = import_all(&hub, &one_site(250), 8).await;
    assert_eq!(
        results,
        [SiteResult::Imported {
            findings: 250,
            calls: 3
        }]
    );
    let calls = hub.calls.lock().unwrap().clone();
    assert_eq!(
        calls.iter().map(|c| c.1).collect::<Vec<_>>(),
        [100, 100, 50, 30]
    );
    for pair in calls.windows(2) {
        assert!(pair[1].0 - pair[0].0 >= Duration::from_millis(100));
    }
}

#[tokio::test(start_paused = true)]
async fn findings_refused_twice_disabled_hubs_and_refusals_are_told_apart() {
    let hub = FakeHub::new(1000, None);
    match &import_all(&hub, &one_site(40), 8).await[0] {
        SiteResult::FindingsFailed(failed) => assert_eq!(failed.len(), 40),
        other => panic!("{other:?}"),
    }
    let off = PortError::new(
        ErrorKind::Permanent,
        "BatchImportFindings",
        Some(NOT_ENABLED),
        "Account 111111111111 is not subscribed to AWS Security Hub",
    );
    let hub = FakeHub::new(0, Some(off));
    assert!(matches!(
        import_all(&hub, &one_site(40), 8).await[0],
        SiteResult::NotEnabled(_)
    ));
    assert_eq!(
        hub.calls.lock().unwrap().len(),
        1,
        "no second call after a refusal"
    );
    let denied = PortError::new(
        ErrorKind::AccessDenied,
        "BatchImportFindings",
        Some("AccessDeniedException"),
        "not authorized",
    );
    let hub = FakeHub::new(0, Some(denied));
    let result = &import_all(&hub, &one_site(40), 8).await[0];
    assert!(matches!(result, SiteResult::Refused(_)));
    assert!(!result.went_through());
}

#[tokio::test(start_paused = true)]
async fn security_hub_off_told_finding_by_finding_is_not_enabled_and_not_tried_again() {
    let mut hub = FakeHub::new(1000, None);
    hub.code = "InvalidAccess";
    assert!(matches!(
        import_all(&hub, &one_site(40), 8).await[0],
        SiteResult::NotEnabled(_)
    ));
    assert_eq!(hub.calls.lock().unwrap().len(), 1);
}

#[test]
fn a_day_when_everything_changes_holds_its_budget_and_the_rest_goes_in_full_next() {
    let tables = |failing: bool, generated_at: &str| {
        let failed = [(ControlId::RelayChainComplete, "the copy into dr is missing")];
        let failed: &[_] = if failing { &failed } else { &[] };
        let all = ["111111111111", "222222222222"]
            .iter()
            .flat_map(|a| (0..20).map(move |i| table(&format!("t{i:02}"), a, failed)))
            .collect();
        report(generated_at, all)
    };
    let before = tables(false, "2026-11-20T06:00:00Z");
    let mut previous = Verdicts::of(&before);
    for account in ["111111111111", "222222222222"] {
        let key = site_key(account, "us-east-1");
        previous.findings_synced.insert(key, before.generated_at);
    }
    // Every table breaks: 40 x 17 findings, with room for 400.
    let now = tables(true, "2026-11-21T06:00:00Z");
    let budget = plan::Budget {
        full: 1_000,
        changed: 400,
    };
    let verdicts = Verdicts::of(&now).tables;
    let listed = crate::tables::Tables::Listed(&now.resources);
    let sites = plan::plan_in(&now, (listed, &verdicts), Some(&previous), budget).unwrap();
    let held: usize = sites.iter().map(|s| s.findings.len()).sum();
    assert!(held <= 400, "{held}");
    let [first, second] = sites.as_slice() else {
        panic!("{sites:?}")
    };
    assert_eq!((first.mode, first.findings.len()), (Mode::Delta, 20 * 17));
    assert_eq!((second.mode, second.findings.len()), (Mode::Overflow, 0));
    // Its full import is no longer kept, so the next run imports it all.
    let synced = plan::synced_after(&sites, |_| true, now.generated_at);
    assert!(synced.contains_key(&first.key()));
    assert!(!synced.contains_key(&second.key()));
    assert!(plan::cursors_after(&sites, |_| true).is_empty());
    let mut after = Verdicts::of(&now);
    after.findings_synced = synced;
    let next = tables(true, "2026-11-22T06:00:00Z");
    let sites = plan_within(&next, Some(&after), 1_000);
    let full = sites.iter().find(|s| s.key() == second.key()).unwrap();
    assert_eq!((full.mode, full.findings.len()), (Mode::Full, 20 * 17));
    assert!(full.completes);
}
