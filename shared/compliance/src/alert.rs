//! The alert sent when compliance changed since the previous report: which tables became
//! non-compliant (and why), which recovered, and where the report is. An unchanged day sends
//! nothing.

use std::fmt::Write as _;

use super::store::ObjectLinks;
use super::{Change, Report, Status};
use relay_core::ports::Alert;

/// Tables listed per section; the report has the rest. Keeps the message far below SNS's 256 KB.
pub const MAX_TABLES_LISTED: usize = 25;
/// A reason longer than this is cut (evidence lists can be long; the report has them whole).
const MAX_REASON_CHARS: usize = 300;

/// The change alert, or `None` when no table became non-compliant and none recovered.
/// `note` says something about the comparison itself (e.g. an unreadable previous report).
pub fn change_alert(
    changes: &[Change],
    current: &Report,
    links: &[ObjectLinks],
    note: Option<&str>,
) -> Option<Alert> {
    let worse: Vec<&Change> = changes
        .iter()
        .filter(|c| !c.gone && c.now == Status::NonCompliant)
        .collect();
    let recovered: Vec<&Change> = changes
        .iter()
        .filter(|c| !c.gone && c.was == Some(Status::NonCompliant) && c.now != Status::NonCompliant)
        .collect();
    let gone: Vec<&Change> = changes.iter().filter(|c| c.gone).collect();
    if worse.is_empty() && recovered.is_empty() && gone.is_empty() {
        return None;
    }
    let mut message = headline(current);
    section(
        &mut message,
        "Became non-compliant, or fails other controls",
        &worse,
    );
    section(&mut message, "Recovered", &recovered);
    section(&mut message, "No longer in the report", &gone);
    if let Some(note) = note {
        let _ = writeln!(message, "\nNote: {note}");
    }
    let _ = writeln!(message, "\nReport:");
    for l in links {
        let _ = writeln!(message, "  {}", l.uri);
        if let Some(console) = &l.console {
            let _ = writeln!(message, "  {console}");
        }
    }
    Some(Alert::plain(
        subject(worse.len(), recovered.len() + gone.len()),
        message,
    ))
}

fn subject(worse: usize, recovered: usize) -> String {
    let tables = |n: usize| {
        if n == 1 {
            "1 table".into()
        } else {
            format!("{n} tables")
        }
    };
    match (worse, recovered) {
        (w, 0) => format!("Backup Relay: {} now non-compliant", tables(w)),
        (0, r) => format!("Backup Relay: {} compliant again", tables(r)),
        (w, r) => format!(
            "Backup Relay: {} now non-compliant, {r} recovered",
            tables(w)
        ),
    }
}

fn headline(r: &Report) -> String {
    format!(
        "Backup Relay compliance report of {}: {} of {} tables compliant, {} non-compliant{}.\n",
        r.generated_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        r.summary.compliant,
        r.summary.resources,
        r.summary.non_compliant,
        match r.gaps.len() {
            0 => String::new(),
            n => format!(" ({n} inventory gaps: the report lists what could not be read)"),
        }
    )
}

fn section(out: &mut String, title: &str, changes: &[&Change]) {
    if changes.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{title} ({}):", changes.len());
    for c in changes.iter().take(MAX_TABLES_LISTED) {
        let was = match c.was {
            None => "new",
            Some(s) => s.as_str(),
        };
        let _ = writeln!(
            out,
            "- {} ({}/{}, was {was}) {}",
            c.name, c.account, c.region, c.resource_arn
        );
        for reason in &c.reasons {
            let _ = writeln!(out, "    {}", cut(reason));
        }
    }
    if changes.len() > MAX_TABLES_LISTED {
        let more = changes.len() - MAX_TABLES_LISTED;
        let _ = writeln!(out, "- ... and {more} more (see the report)");
    }
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_REASON_CHARS) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{report, table};
    use super::super::ControlId;
    use super::super::{changes, Verdicts};
    use super::*;

    fn links() -> Vec<ObjectLinks> {
        vec![ObjectLinks {
            uri: "s3://reports-bucket/reports/2026/11/21/report.html".into(),
            console: Some("https://console.aws.amazon.com/s3/object/reports-bucket?region=us-east-1&prefix=reports/2026/11/21/report.html".into()),
        }]
    }

    const CHAIN: (ControlId, &str) = (ControlId::RelayChainComplete, "no COMPLETED copy in bunker");

    #[test]
    fn an_unchanged_day_sends_nothing() {
        let day1 = report(
            "2026-11-20T06:00:00Z",
            vec![table("users", "111111111111", &[CHAIN])],
        );
        let day2 = report(
            "2026-11-21T06:00:00Z",
            vec![table("users", "111111111111", &[CHAIN])],
        );
        assert_eq!(
            change_alert(
                &changes(Some(&Verdicts::of(&day1)), &day2),
                &day2,
                &links(),
                None
            ),
            None
        );
    }

    #[test]
    fn names_what_broke_with_its_reasons_what_recovered_and_where_the_report_is() {
        let day1 = report(
            "2026-11-20T06:00:00Z",
            vec![
                table("orders", "111111111111", &[]),
                table(
                    "carts",
                    "111111111111",
                    &[(ControlId::RelayPitrEnabled, "PITR is off")],
                ),
            ],
        );
        let day2 = report(
            "2026-11-21T06:00:00Z",
            vec![
                table("orders", "111111111111", &[CHAIN]),
                table("carts", "111111111111", &[]),
                table(
                    "users",
                    "222222222222",
                    &[(ControlId::RelayPitrEnabled, "PITR is off")],
                ),
            ],
        );
        let alert = change_alert(
            &changes(Some(&Verdicts::of(&day1)), &day2),
            &day2,
            &links(),
            None,
        )
        .unwrap();
        assert_eq!(
            alert.subject,
            "Backup Relay: 2 tables now non-compliant, 1 recovered"
        );
        let m = &alert.message;
        assert!(m.starts_with("Backup Relay compliance report of 2026-11-21T06:00:00Z: 1 of 3 tables compliant, 2 non-compliant."), "{m}");
        assert!(m.contains("Became non-compliant, or fails other controls (2):\n- orders (111111111111/us-east-1, was COMPLIANT) arn:aws:dynamodb:us-east-1:111111111111:table/orders\n    RELAY_CHAIN_COMPLETE: no COMPLETED copy in bunker\n"), "{m}");
        assert!(
            m.contains("- users (222222222222/us-east-1, was new)"),
            "{m}"
        );
        assert!(
            m.contains("Recovered (1):\n- carts (111111111111/us-east-1, was NON_COMPLIANT)"),
            "{m}"
        );
        assert!(m.contains("  s3://reports-bucket/reports/2026/11/21/report.html\n  https://console.aws.amazon.com/s3/object/reports-bucket?"), "{m}");
        assert_eq!(
            (alert.hop, alert.account, alert.resource, alert.route),
            (None, None, None, None)
        );
    }

    #[test]
    fn a_first_report_alerts_its_non_compliant_tables_and_many_changes_are_cut() {
        let tables: Vec<_> = (0..30)
            .map(|i| table(&format!("t{i:02}"), "111111111111", &[CHAIN]))
            .collect();
        let first = report("2026-11-20T06:00:00Z", tables);
        let note = "the previous report could not be read";
        let alert = change_alert(&changes(None, &first), &first, &links(), Some(note)).unwrap();
        assert_eq!(alert.subject, "Backup Relay: 30 tables now non-compliant");
        assert_eq!(alert.message.matches("\n- t").count(), MAX_TABLES_LISTED);
        assert!(alert.message.contains("- ... and 5 more (see the report)"));
        assert!(alert
            .message
            .contains("Note: the previous report could not be read"));
        assert!(alert.subject.len() <= 100 && alert.subject.is_ascii());
    }

    #[test]
    fn recovery_alone_has_its_own_subject_and_long_reasons_are_cut() {
        assert_eq!(subject(0, 1), "Backup Relay: 1 table compliant again");
        assert_eq!(subject(1, 0), "Backup Relay: 1 table now non-compliant");
        let long = "é".repeat(MAX_REASON_CHARS + 10);
        assert_eq!(cut(&long).chars().count(), MAX_REASON_CHARS + 3);
    }
}
