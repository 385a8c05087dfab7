use chrono::{TimeZone, Utc};

use super::super::super::{
    summarize, ControlId, ControlResult, Evidence, InventoryGap, Parameters, Report,
    ResourceReport, Status, SCHEMA,
};
use super::{html, Esc};

fn at(day: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, day, 6, 0, 0).unwrap()
}

/// A table whose controls are all compliant except those in `failing`.
fn table(name: &str, account: &str, failing: &[ControlId]) -> ResourceReport {
    let controls: Vec<ControlResult> = ControlId::ALL
        .iter()
        .map(|&id| {
            let bad = failing.contains(&id);
            ControlResult {
                id,
                status: if bad {
                    Status::NonCompliant
                } else if id == ControlId::RestoreTimeForResourcesMeetTarget {
                    Status::NotApplicable
                } else {
                    Status::Compliant
                },
                reason: if bad {
                    "it <b>failed</b> & \"why\""
                } else {
                    "fine"
                }
                .into(),
                evidence: if bad {
                    vec![Evidence {
                        recovery_point_arn: Some(format!(
                            "arn:aws:backup:us-east-1:{account}:recovery-point:rp-{name}"
                        )),
                        vault: Some("vault-a".into()),
                        creation_date: Some(at(1)),
                        delete_at: Some(at(20)),
                        detail: Some("kept 19 days".into()),
                    }]
                } else {
                    Vec::new()
                },
            }
        })
        .collect();
    let status = if failing.is_empty() {
        Status::Compliant
    } else {
        Status::NonCompliant
    };
    ResourceReport {
        resource_arn: format!("arn:aws:dynamodb:us-east-1:{account}:table/{name}"),
        name: name.into(),
        account: account.into(),
        region: "us-east-1".into(),
        status,
        controls,
    }
}

fn report(resources: Vec<ResourceReport>, gaps: Vec<InventoryGap>) -> Report {
    Report {
        schema: SCHEMA.into(),
        generated_at: at(21),
        policy_digest: "sha256:abc".into(),
        parameters: Parameters::default(),
        summary: summarize(&resources),
        resources,
        gaps,
        cost: None,
    }
}

fn sample() -> Report {
    report(
        vec![
            table("orders", "111111111111", &[]),
            table("users", "111111111111", &[]),
            table(
                "<script>alert(1)</script>",
                "222222222222",
                &[ControlId::RelayPitrEnabled],
            ),
            table(
                "payments",
                "222222222222",
                &[
                    ControlId::BackupRecoveryPointMinimumRetentionCheck,
                    ControlId::RelayChainComplete,
                ],
            ),
        ],
        Vec::new(),
    )
}

fn between<'a>(page: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = page.find(start)? + start.len();
    let len = page[from..].find(end)?;
    Some(&page[from..from + len])
}

#[test]
fn escapes_every_special_character() {
    assert_eq!(
        Esc("a&b<c>d\"e'f é").to_string(),
        "a&amp;b&lt;c&gt;d&quot;e&#39;f é"
    );
}

#[test]
fn a_hostile_table_name_is_escaped() {
    let page = html(&sample());
    assert!(!page.contains("<script>alert(1)"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // Only the page's own script opens or closes a script element.
    assert_eq!(page.matches("<script").count(), 1);
    assert_eq!(page.matches("</script").count(), 1);
    assert!(!page.contains("<b>failed</b>"));
    assert!(page.contains("it &lt;b&gt;failed&lt;/b&gt; &amp; &quot;why&quot;"));
}

#[test]
fn the_counts_are_in_their_hooks() {
    let r = sample();
    let page = html(&r);
    let hook = |id: &str| between(&page, &format!("id=\"{id}\">"), "<").map(str::to_string);
    assert_eq!(hook("count-resources").as_deref(), Some("4"));
    assert_eq!(hook("count-compliant").as_deref(), Some("2"));
    assert_eq!(hook("count-non-compliant").as_deref(), Some("2"));
    for id in ControlId::ALL {
        let c = r.summary.controls[id.as_str()];
        let expected = format!(
            "data-control=\"{}\" data-compliant=\"{}\" data-non-compliant=\"{}\" \
             data-not-applicable=\"{}\"",
            id.as_str(),
            c.compliant,
            c.non_compliant,
            c.not_applicable
        );
        assert!(page.contains(&expected), "{expected}");
        assert!(page.contains(&Esc(id.question()).to_string()));
    }
    assert!(page
        .contains("data-account=\"222222222222\" data-compliant=\"0\" data-non-compliant=\"2\""));
    assert_eq!(page.matches("<tr data-status=\"COMPLIANT\"").count(), 2);
    assert_eq!(page.matches("<tr data-status=\"NON_COMPLIANT\"").count(), 2);
}

#[test]
fn failing_tables_show_reasons_and_evidence() {
    let page = html(&sample());
    let cards = between(&page, "id=\"non-compliant\"", "</section>").unwrap_or_default();
    assert_eq!(cards.matches("<details class=\"card\"").count(), 2);
    assert!(cards.contains("arn:aws:backup:us-east-1:222222222222:recovery-point:rp-payments"));
    assert!(cards.contains("2025-03-01 06:00 UTC"));
    assert!(cards.contains("2025-03-20 06:00 UTC"));
    assert!(cards.contains("kept 19 days"));
    assert!(cards.contains("RELAY_CHAIN_COMPLETE"));
    assert!(!cards.contains("orders"));
}

#[test]
fn no_external_assets() {
    let page = html(&sample());
    for needle in [
        "http://", "https://", "src=", "<link", "@import", "url(", "//cdn",
    ] {
        assert!(!page.contains(needle), "{needle}");
    }
}

#[test]
fn gaps_are_listed_and_escaped() {
    let gap = InventoryGap {
        account: "333333333333".into(),
        region: "eu-west-1".into(),
        what: "tables".into(),
        error: "AccessDenied: <not authorized>".into(),
        ..InventoryGap::default()
    };
    let page = html(&report(
        vec![table("orders", "111111111111", &[])],
        vec![gap],
    ));
    assert!(page.contains("id=\"gaps\""));
    assert!(page.contains("<span id=\"count-gaps\">1</span>"));
    assert!(page.contains("AccessDenied: &lt;not authorized&gt;"));
    // Everything read is compliant, but the inventory is incomplete: amber, not green.
    assert!(page.contains("class=\"verdict warn\""));
}

#[test]
fn a_report_with_no_tables_renders() {
    let page = html(&report(Vec::new(), Vec::new()));
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.trim_end().ends_with("</html>"));
    assert!(page.contains("<span id=\"count-resources\">0</span>"));
    assert!(page.contains("<span id=\"count-non-compliant\">0</span>"));
    assert!(!page.contains("id=\"non-compliant\""));
    assert!(!page.contains("<tr data-status"));
    assert_eq!(page.matches("data-control=").count(), ControlId::ALL.len());
}

#[test]
fn ten_thousand_tables_render_in_one_pass() {
    let resources: Vec<ResourceReport> = (0..10_000)
        .map(|i| {
            let failing: &[ControlId] = if i % 10 == 0 {
                &[ControlId::RelayPitrEnabled]
            } else {
                &[]
            };
            table(&format!("table-{i}"), "111111111111", failing)
        })
        .collect();
    // Its speed is the benchmarks' (docs/benchmarks.md), not a timed assertion here.
    let page = html(&report(resources, Vec::new()));
    assert_eq!(page.matches("<tr data-status=").count(), 10_000);
    assert_eq!(page.matches("<details class=\"card\"").count(), 1_000);
    // Past the first few, the cards start folded.
    assert_eq!(
        page.matches("<details class=\"card\" id=\"t-").count(),
        1_000
    );
    assert_eq!(page.matches("\" open><summary>").count(), super::OPEN_CARDS);
}
