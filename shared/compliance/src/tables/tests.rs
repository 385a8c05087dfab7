use super::*;
use crate::findings::plan;
use crate::fixtures::{report, table};
use crate::{change_events, changes, changes_in, render, ControlId, ReportFile, Verdicts};

/// Sixty tables over three accounts, every fifth failing one control and every seventh two.
fn sixty() -> Report {
    let tables = (0..60)
        .map(|i| {
            let account = format!("{:012}", 111_111_111_111u64 * (1 + i % 3));
            let mut failed = Vec::new();
            if i % 5 == 0 {
                failed.push((
                    ControlId::BackupLastRecoveryPointCreated,
                    "no recovery point",
                ));
            }
            if i % 7 == 0 {
                failed.push((
                    ControlId::BackupResourcesProtectedByCrossRegion,
                    "no copy in dr",
                ));
            }
            table(&format!("t{i:02}"), &account, &failed)
        })
        .collect();
    report("2026-12-03T06:00:00Z", tables)
}

fn spooled(whole: &Report) -> MergedReport {
    let mut tables = MergedTables::new().unwrap();
    for r in &whole.resources {
        tables.push(r).unwrap();
    }
    tables.finish(whole.clone()).unwrap()
}

fn joined(chunks: impl Iterator<Item = render::Chunk>) -> Result<String, render::RenderError> {
    chunks.collect()
}

/// Reports of other shapes: none, none failing, more failing than the page opens.
fn others() -> Vec<Report> {
    let at = "2026-12-03T06:00:00Z";
    let failing = [(ControlId::RelayCopyTags, "1 copy untagged")];
    vec![
        report(at, Vec::new()),
        report(
            at,
            (0..5)
                .map(|i| table(&format!("ok{i}"), "111111111111", &[]))
                .collect(),
        ),
        report(
            at,
            (0..40)
                .map(|i| table(&format!("bad{i:02}"), "111111111111", &failing))
                .collect(),
        ),
    ]
}

#[test]
fn spooled_tables_render_as_listed_ones_whatever_the_report() {
    for whole in others() {
        let merged = spooled(&whole);
        assert_eq!(merged.load().unwrap(), whole);
        for file in ReportFile::ALL {
            let Some(from_spool) = render::merged_chunks(&merged, file) else {
                continue;
            };
            let from_report = render::chunks(&whole, file).unwrap();
            let text = joined(from_spool).unwrap();
            assert_eq!(text, joined(from_report).unwrap(), "{file:?}");
            if file == ReportFile::Json {
                let back: Report = serde_json::from_str(&text).unwrap();
                assert_eq!(back, whole);
            }
        }
    }
}

#[test]
fn spooled_tables_read_back_as_the_report_and_render_the_same_files() {
    let whole = sixty();
    let merged = spooled(&whole);
    assert_eq!(merged.frame.resources.len(), 0);
    assert_eq!(merged.frame.summary, whole.summary);
    assert_eq!(merged.verdicts, Verdicts::of(&whole).tables);
    assert_eq!(merged.load().unwrap(), whole);
    for file in ReportFile::ALL {
        let Some(from_spool) = render::merged_chunks(&merged, file) else {
            assert_eq!(file, ReportFile::Verdicts);
            continue;
        };
        let from_report = render::chunks(&whole, file).unwrap();
        assert_eq!(
            joined(from_spool).unwrap(),
            joined(from_report).unwrap(),
            "{file:?}"
        );
    }
}

#[test]
fn spooled_tables_plan_the_same_findings_and_the_same_changes() {
    let whole = sixty();
    let merged = spooled(&whole);
    let tables = (merged.tables(), merged.verdicts.as_slice());
    // A first run (every site in full, cut by a budget inside the second site), then a day
    // where some tables recovered and some broke.
    for budget in [10, 50, 1_000] {
        let full = plan::Budget {
            full: budget,
            ..Default::default()
        };
        let from_spool = plan::plan_in(&merged.frame, tables, None, full).unwrap();
        assert_eq!(
            from_spool,
            plan::plan_within(&whole, None, budget),
            "{budget}"
        );
    }
    let mut before = sixty();
    before.resources.retain(|r| r.name != "t14");
    before.resources[5] = table("t05", &before.resources[5].account, &[]);
    before.resources[4] = table(
        "t04",
        &before.resources[4].account,
        &[(
            ControlId::BackupLastRecoveryPointCreated,
            "no recovery point",
        )],
    );
    let previous = Verdicts::of(&before);
    let from_spool = changes_in(Some(&previous), merged.tables(), &merged.verdicts).unwrap();
    assert_eq!(from_spool, changes(Some(&previous), &whole));
    // t04 recovered, t05 broke, t14 is new and non-compliant.
    assert_eq!(from_spool.len(), 3, "{from_spool:?}");
    let planned =
        plan::plan_in(&merged.frame, tables, Some(&previous), Default::default()).unwrap();
    assert_eq!(planned, plan::plan_within(&whole, Some(&previous), 50_000));
    // A table that left the report since: a change of its own, and an event.
    let mut gone = previous.clone();
    gone.tables.push(Verdict::of(&table(
        "dropped",
        "111111111111",
        &[(ControlId::RelayCopyTags, "1 copy untagged")],
    )));
    let changed = changes_in(Some(&gone), merged.tables(), &merged.verdicts).unwrap();
    assert_eq!(changed, changes(Some(&gone), &whole));
    let at = (
        merged.frame.generated_at,
        merged.tables(),
        merged.verdicts.as_slice(),
    );
    let events = change_events::change_events_in(&changed, Some(&gone), at, "k").unwrap();
    assert_eq!(
        events,
        change_events::change_events(&changed, Some(&gone), &whole, "k")
    );
    assert_eq!(events.len(), 4);
    assert!(events.iter().any(|e| e.gone && e.controls.len() == 1));
}

#[test]
fn picked_tables_are_read_where_they_are() {
    let whole = sixty();
    let merged = spooled(&whole);
    for tables in [Tables::Listed(&whole.resources), merged.tables()] {
        let names = |at: &[usize]| -> Vec<String> {
            tables
                .pick(at.iter().copied())
                .map(|r| r.unwrap().name.clone())
                .collect()
        };
        assert_eq!(
            names(&[3, 4, 5, 9, 10, 59]),
            ["t03", "t04", "t05", "t09", "t10", "t59"]
        );
        assert_eq!(names(&[]), Vec::<String>::new());
        assert_eq!(tables.get(0).unwrap().name, "t00");
        let missing = tables.get(60).unwrap_err();
        assert!(
            matches!(missing, SpoolError::Missing { index: 60, len: 60 }),
            "{missing}"
        );
        let picked: Vec<_> = tables.pick([58, 59, 60]).collect();
        assert!(picked[1].is_ok() && picked[2].is_err());
        assert_eq!(tables.starting_at(58).count(), 2);
        assert_eq!(tables.starting_at(61).count(), 0);
    }
}

#[test]
fn a_spool_that_does_not_read_back_fails_the_rendering_once() {
    let whole = sixty();
    let merged = spooled(&whole);
    let path = merged_path(&merged);
    // The disk lost the file's end: the tables past it cannot be read.
    let text = std::fs::read(&path).unwrap();
    std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    let read: Vec<_> = merged.tables().iter().collect();
    assert!(read.len() < 60 && read.len() > 20, "{}", read.len());
    assert!(read.last().unwrap().is_err());
    assert!(read[..read.len() - 1].iter().all(Result::is_ok));
    assert!(merged.load().is_err());
    let chunks = render::merged_chunks(&merged, ReportFile::Json).unwrap();
    let err = joined(chunks).unwrap_err();
    assert!(err.to_string().contains("does not read back"), "{err}");
    let planned = plan::plan_in(
        &merged.frame,
        (merged.tables(), &merged.verdicts),
        None,
        Default::default(),
    );
    assert!(planned.is_err());
}

#[test]
fn the_spool_is_written_before_it_is_read_and_removed_with_the_report() {
    let mut unfinished = TableSpool::new().unwrap();
    unfinished.push(&table("t", "111111111111", &[])).unwrap();
    let err = Tables::Spooled(&unfinished)
        .iter()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("before it is finished"), "{err}");
    let merged = spooled(&sixty());
    let dir = merged_path(&merged).parent().unwrap().to_path_buf();
    assert!(dir.exists());
    drop(merged);
    assert!(!dir.exists());
}

fn merged_path(merged: &MergedReport) -> PathBuf {
    match merged.tables() {
        Tables::Spooled(spool) => spool.dir().join("tables.jsonl"),
        Tables::Listed(_) => panic!("the merge spools its tables"),
    }
}
