//! report.html in a real browser: a report evaluated from a hand-built inventory is rendered by
//! headless Chromium to a PNG (kept under target/test-artifacts/) and its DOM, as the browser
//! built it, is checked against the report's summary. scripts/test installs Chromium; without it
//! this test fails rather than pass unchecked.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use relay_compliance::inventory::{PlanFacts, RegionFacts, TableFacts, VaultFacts};
use relay_compliance::{evaluate, render, ControlId, Inventory, InventoryGap, Report};
use relay_core::arn::VaultArn;
use relay_core::guard::PointView;
use relay_core::retention::{Lifecycle, VaultLock};
use relay_core::Policy;

const HOSTILE: &str = "<script>alert(1)</script>";
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(60);

const POLICY: &str = r#"
version: 1
copy_role: "arn:aws:iam::{account}:role/backup-relay-copy"
vaults:
  primary: { arn: "arn:aws:backup:us-east-1:111111111111:backup-vault:primary" }
  primary-eu: { arn: "arn:aws:backup:eu-west-1:333333333333:backup-vault:primary-eu" }
  dr: { arn: "arn:aws:backup:us-west-2:222222222222:backup-vault:dr", retention: { delete_after_days: 35 } }
routes:
  - { from: primary, to: dr }
  - { from: primary-eu, to: dr }
"#;

const PRIMARY: &str = "arn:aws:backup:us-east-1:111111111111:backup-vault:primary";
const PRIMARY_EU: &str = "arn:aws:backup:eu-west-1:333333333333:backup-vault:primary-eu";
const DR: &str = "arn:aws:backup:us-west-2:222222222222:backup-vault:dr";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 2, 9, 30, 0).unwrap()
}

fn vault(arn: &str) -> VaultArn {
    VaultArn::parse(arn).unwrap()
}

/// A COMPLETED, encrypted recovery point of `table` in `vault`, `hours` old, kept `days`.
fn point(table: &TableFacts, vault_arn: &str, hours: i64, days: u32) -> PointView {
    let v = vault(vault_arn);
    let created = now() - chrono::Duration::hours(hours);
    PointView {
        recovery_point_arn: format!(
            "arn:aws:backup:{}:{}:recovery-point:{}-{hours}h",
            v.region, v.account, table.name
        ),
        vault: v,
        resource_arn: Some(table.arn.clone()),
        resource_type: Some("DynamoDB".into()),
        status: Some("COMPLETED".into()),
        creation_date: created,
        completion_date: Some(created + chrono::Duration::minutes(12)),
        lifecycle: Lifecycle {
            delete_after_days: Some(days),
            move_to_cold_storage_after_days: None,
        },
        delete_at: Some(created + chrono::Duration::days(i64::from(days))),
        storage_class: Some("WARM".into()),
        encrypted: Some(true),
        source_vault_arn: None,
        tags: None,
        backup_size_bytes: Some(5 << 30),
    }
}

fn table(name: &str, account: &str, region: &str) -> TableFacts {
    TableFacts {
        arn: format!("arn:aws:dynamodb:{region}:{account}:table/{name}"),
        name: name.into(),
        account: account.into(),
        region: region.into(),
        tags: BTreeMap::from([("backup".to_string(), "daily".to_string())]),
        pitr: Some(true),
        native_backups: 0,
    }
}

/// A backup 30 h old copied to dr, and one 6 h old not yet due there: every control passes.
fn healthy_points(t: &TableFacts, root: &str) -> Vec<PointView> {
    vec![
        point(t, root, 30, 35),
        point(t, DR, 30, 35),
        point(t, root, 6, 35),
    ]
}

fn plan(account: &str, region: &str, vault_arn: &str) -> PlanFacts {
    PlanFacts {
        account: account.into(),
        region: region.into(),
        name: "daily-35d".into(),
        vault_arn: vault_arn.into(),
        every_hours: Some(24),
        delete_after_days: Some(35),
        select_tags: BTreeMap::from([("backup".to_string(), "daily".to_string())]),
        select_resources: Vec::new(),
    }
}

fn vault_facts(arn: &str, locked: bool) -> VaultFacts {
    VaultFacts {
        arn: vault(arn),
        lock: locked.then_some(VaultLock {
            min_retention_days: Some(7),
            max_retention_days: None,
        }),
        encryption_key_arn: Some(format!("{arn}-key")),
        deny_manual_deletion: true,
        recovery_points: None,
        created: None,
    }
}

const NAMES: [&str; 16] = [
    "orders",
    "customers",
    "invoices",
    "carts",
    "inventory",
    "shipments",
    "returns",
    "catalog",
    "prices",
    "reviews",
    "audit-log",
    "feature-flags",
    "sessions-archive",
    "loyalty",
    "gift-cards",
    "refunds",
];

/// 36 tables in two accounts; four fail, each differently, one of them named like an attack.
fn inventory() -> Inventory {
    let mut inv = Inventory {
        taken_at: Some(now()),
        ..Inventory::default()
    };
    for (account, region, root, envs, count) in [
        (
            "111111111111",
            "us-east-1",
            PRIMARY,
            ["prod", "staging"].as_slice(),
            10,
        ),
        (
            "333333333333",
            "eu-west-1",
            PRIMARY_EU,
            ["eu"].as_slice(),
            12,
        ),
    ] {
        inv.plans.push(plan(account, region, root));
        inv.regions.push(RegionFacts {
            account: account.into(),
            region: region.into(),
            advanced_features: Some(true),
        });
        inv.vaults.push(vault_facts(root, false));
        for env in envs {
            for name in NAMES.iter().take(count) {
                let t = table(&format!("{env}-{name}"), account, region);
                inv.points.extend(healthy_points(&t, root));
                inv.tables.push(t);
            }
        }
    }
    inv.vaults.push(vault_facts(DR, true));
    add_failures(&mut inv);
    inv
}

fn add_failures(inv: &mut Inventory) {
    // Point-in-time recovery off, and a name that must stay text.
    let mut hostile = table(HOSTILE, "111111111111", "us-east-1");
    hostile.pitr = Some(false);
    inv.points.extend(healthy_points(&hostile, PRIMARY));
    inv.tables.push(hostile);
    // A backup 30 h old that never reached dr (the one 50 h old did).
    let payments = table("prod-payments", "111111111111", "us-east-1");
    inv.points.extend([
        point(&payments, PRIMARY, 50, 35),
        point(&payments, DR, 50, 35),
        point(&payments, PRIMARY, 30, 35),
        point(&payments, PRIMARY, 6, 35),
    ]);
    inv.tables.push(payments);
    // Kept a week, and one point not encrypted.
    let sessions = table("eu-sessions", "333333333333", "eu-west-1");
    let mut plain = point(&sessions, PRIMARY_EU, 6, 7);
    plain.encrypted = Some(false);
    inv.points.extend([
        point(&sessions, PRIMARY_EU, 30, 7),
        point(&sessions, DR, 30, 35),
        plain,
    ]);
    inv.tables.push(sessions);
    // Untagged, so no plan: only DynamoDB-native backups.
    let mut legacy = table("eu-legacy-reports", "333333333333", "eu-west-1");
    legacy.tags.clear();
    legacy.native_backups = 4;
    inv.tables.push(legacy);
    inv.gaps.push(InventoryGap {
        account: "444444444444".into(),
        region: "us-east-1".into(),
        what: "tables".into(),
        error: "AccessDenied: User: arn:aws:sts::444444444444:assumed-role/relay-inventory/relay \
                is not authorized to perform: dynamodb:ListTables <no identity-based policy>"
            .into(),
        ..InventoryGap::default()
    });
}

fn report() -> Report {
    let policy = Policy::parse(POLICY).unwrap();
    evaluate(&policy, &inventory(), now(), "sha256:5f2c0e7a9b")
}

/// target/test-artifacts: CARGO_TARGET_DIR when set (relative to the workspace, where
/// scripts/test runs cargo), else the workspace's target/.
fn artifacts_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace.join(dir),
        None => workspace.join("target"),
    };
    let dir = target.join("test-artifacts");
    fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn chromium() -> PathBuf {
    if let Some(c) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(c);
    }
    on_path("chromium")
        .or_else(|| on_path("chromium-browser"))
        .unwrap_or_else(|| {
            panic!(
                "Chromium not found (CHROMIUM, or chromium / chromium-browser on PATH). \
                 Run scripts/test, which installs Debian's chromium, or set CHROMIUM."
            )
        })
}

/// Runs headless Chromium on `page` with `extra` flags, stdout into `stdout`; killed after
/// CHROMIUM_TIMEOUT. No remote-debugging flag, so it listens on no port.
fn run_chromium(dir: &Path, extra: &[String], page: &Path, stdout: &Path) -> ExitStatus {
    let profile = dir.join("chromium-profile");
    let _ = fs::remove_dir_all(&profile);
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-sync",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-breakpad",
            "--hide-scrollbars",
            "--window-size=1280,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(File::create(stdout).unwrap())
        .stderr(File::create(dir.join("chromium.log")).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium().display()));
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium took over {CHROMIUM_TIMEOUT:?}; see {}",
                dir.join("chromium.log").display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The value of attribute `name` in the start tag `tag` (as Chromium serializes it: "…").
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let from = tag.find(&key)? + key.len();
    Some(&tag[from..from + tag[from..].find('"')?])
}

/// Every start tag of the DOM that has attribute `name`.
fn tags_with<'a>(dom: &'a str, name: &str) -> Vec<&'a str> {
    let key = format!(" {name}=\"");
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(at) = rest.find(&key) {
        let open = rest[..at].rfind('<').unwrap();
        let close = at + rest[at..].find('>').unwrap();
        out.push(&rest[open..=close]);
        rest = &rest[close..];
    }
    out
}

/// The text of the element whose id is `id`, up to its first child or end tag.
fn text_of<'a>(dom: &'a str, id: &str) -> &'a str {
    let key = format!(" id=\"{id}\"");
    let at = dom.find(&key).unwrap_or_else(|| panic!("no #{id}"));
    let from = at + dom[at..].find('>').unwrap() + 1;
    &dom[from..from + dom[from..].find('<').unwrap()]
}

fn check_dom(dom: &str, report: &Report) {
    let s = &report.summary;
    assert_eq!(text_of(dom, "count-resources"), s.resources.to_string());
    assert_eq!(text_of(dom, "count-compliant"), s.compliant.to_string());
    assert_eq!(
        text_of(dom, "count-non-compliant"),
        s.non_compliant.to_string()
    );
    assert_eq!(text_of(dom, "count-gaps"), report.gaps.len().to_string());
    let controls = tags_with(dom, "data-control");
    assert_eq!(controls.len(), ControlId::ALL.len());
    for (tag, id) in controls.iter().zip(ControlId::ALL) {
        let c = s.controls[id.as_str()];
        assert_eq!(attr(tag, "data-control"), Some(id.as_str()));
        assert_eq!(
            attr(tag, "data-compliant"),
            Some(c.compliant.to_string().as_str())
        );
        let n = c.non_compliant.to_string();
        assert_eq!(attr(tag, "data-non-compliant"), Some(n.as_str()));
        let a = c.not_applicable.to_string();
        assert_eq!(attr(tag, "data-not-applicable"), Some(a.as_str()));
    }
    let rows = tags_with(dom, "data-status");
    let count = |status: &str| {
        rows.iter()
            .filter(|r| attr(r, "data-status") == Some(status))
            .count() as u64
    };
    assert_eq!(rows.len() as u64, s.resources);
    assert_eq!(count("COMPLIANT"), s.compliant);
    assert_eq!(count("NON_COMPLIANT"), s.non_compliant);
    for (account, c) in &s.accounts {
        let tag = tags_with(dom, "data-account")
            .into_iter()
            .find(|t| attr(t, "data-account") == Some(account.as_str()))
            .unwrap_or_else(|| panic!("no row for account {account}"));
        let n = c.non_compliant.to_string();
        assert_eq!(attr(tag, "data-non-compliant"), Some(n.as_str()));
    }
}

/// The cost section: a row per vault with its month, the total, and the 12-month chart whose
/// bars carry the projection's figures, each the taller the costlier.
fn check_cost(dom: &str, report: &Report) {
    let cost = report.cost.as_ref().expect("a cost section");
    let total: f64 = cost.by_account.iter().map(|a| a.monthly_cost).sum();
    assert!(total > 0.0);
    assert_eq!(text_of(dom, "cost-total"), format!("{total:.2}"));
    let rows = tags_with(dom, "data-vault");
    assert_eq!(rows.len(), cost.this_month.len());
    assert!(dom.contains("<svg id=\"cost-chart\""), "no chart");
    let bars = tags_with(dom, "data-month");
    assert_eq!(bars.len(), 12);
    let top = cost
        .projection
        .iter()
        .map(|m| m.total_cost)
        .fold(0.0, f64::max);
    for (bar, month) in bars.iter().zip(&cost.projection) {
        assert_eq!(
            attr(bar, "data-total"),
            Some(format!("{:.2}", month.total_cost).as_str())
        );
        let height: f64 = attr(bar, "height").unwrap().parse().unwrap();
        // Drawn to scale: the costliest month fills the chart's 180 px.
        let expected = (month.total_cost / top * 180.0).max(1.0);
        assert!((height - expected).abs() < 0.11, "{height} for {expected}");
    }
}

fn check_browser_behaviour(dom: &str) {
    // The hostile name stayed text: the only script element is the page's own.
    assert_eq!(dom.matches("<script").count(), 1);
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // The inline script ran under the page's CSP: it revealed the filter and counted the rows.
    let filter = tags_with(dom, "id")
        .into_iter()
        .find(|t| attr(t, "id") == Some("filter-box"))
        .unwrap();
    assert!(!filter.contains(" hidden"), "{filter}");
    let shown = text_of(dom, "shown");
    assert!(shown.ends_with(" shown"), "{shown}");
    assert!(tags_with(dom, "data-status")
        .iter()
        .all(|r| !r.contains(" hidden")));
}

/// Types into the filter (a script appended to a copy of the page) and checks that only the
/// matching rows stay visible: the filter works in a browser, not only on paper.
fn check_filter(dir: &Path, html: &str) {
    let typed = "<script>var q=document.getElementById('filter');q.value='EU- sess';\
                 q.dispatchEvent(new Event('input'));</script></body>";
    let page = dir.join("report.filtered.html");
    fs::write(&page, html.replacen("</body>", typed, 1)).unwrap();
    let dom_path = dir.join("report.filtered.dom.html");
    let status = run_chromium(dir, &["--dump-dom".into()], &page, &dom_path);
    assert!(status.success(), "chromium --dump-dom (filtered): {status}");
    let dom = fs::read_to_string(&dom_path).unwrap();
    let visible: Vec<&str> = tags_with(&dom, "data-status")
        .into_iter()
        .filter(|r| !r.contains(" hidden"))
        .filter_map(|r| attr(r, "data-arn"))
        .collect();
    assert_eq!(
        visible,
        ["arn:aws:dynamodb:eu-west-1:333333333333:table/eu-sessions"]
    );
    assert!(text_of(&dom, "shown").starts_with("1 of "));
}

fn check_png(path: &Path) {
    let png = fs::read(path).unwrap_or_else(|e| panic!("no screenshot {}: {e}", path.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        png.len() > 30_000,
        "a {}-byte screenshot is blank",
        png.len()
    );
    // IHDR: width and height, big-endian, at bytes 16..24.
    let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
    assert_eq!(width, 1280);
}

#[test]
fn chromium_renders_the_report_and_its_dom_carries_the_summary() {
    let report = report();
    assert!(report.summary.compliant > 0 && report.summary.non_compliant > 0);
    let dir = artifacts_dir();
    let page = dir.join("report.html");
    let html = render::html(&report);
    fs::write(&page, &html).unwrap();

    let png = dir.join("report.png");
    let _ = fs::remove_file(&png);
    let shot = format!("--screenshot={}", png.display());
    let status = run_chromium(&dir, &[shot], &page, &dir.join("screenshot.out"));
    assert!(status.success(), "chromium --screenshot: {status}");
    check_png(&png);

    let dom_path = dir.join("report.dom.html");
    let status = run_chromium(&dir, &["--dump-dom".into()], &page, &dom_path);
    assert!(status.success(), "chromium --dump-dom: {status}");
    let dom = fs::read_to_string(&dom_path).unwrap();
    check_dom(&dom, &report);
    check_cost(&dom, &report);
    check_browser_behaviour(&dom);
    check_filter(&dir, &html);
    eprintln!("screenshot: {}", png.display());
}
