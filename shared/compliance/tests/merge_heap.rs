//! What the merge holds while it merges an organisation's parts and renders every file from
//! them. A binary of its own, so that its allocator counts this test alone.
// Helpers of a test may unwrap and panic: a failure is meant to stop it there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::System;

use chrono::{TimeZone, Utc};
use peakmem_alloc::{PeakMemAlloc, PeakMemAllocTrait, INSTRUMENTED_SYSTEM};

use relay_compliance::pieces::{self, MemoryParts, Part, PartStore, PieceRef, RunRef};
use relay_compliance::{
    render, ControlId, ControlResult, Evidence, ReportFile, ResourceReport, Status,
};
use relay_core::Policy;

#[global_allocator]
static HEAP: &PeakMemAlloc<System> = &INSTRUMENTED_SYSTEM;

/// A table as the evaluation leaves it: every control, two evidence items each (about 9 KB
/// of JSON, as the benchmarks' tables).
fn table(account: &str, region: &str, i: usize) -> ResourceReport {
    let arn = format!("arn:aws:dynamodb:{region}:{account}:table/orders-{i:03}");
    let evidence = |n: usize| {
        Evidence {
        recovery_point_arn: Some(format!(
            "arn:aws:backup:{region}:{account}:recovery-point:{i:03}-{n}-0f6e5d4c-3b2a-1908-7f6e-5d4c3b2a1908"
        )),
        vault: Some(format!("arn:aws:backup:{region}:{account}:backup-vault:primary")),
        creation_date: Some(Utc.with_ymd_and_hms(2026, 12, 2, 5, 0, 0).unwrap()),
        delete_at: None,
        detail: Some("the newest completed recovery point of the table".into()),
    }
    };
    let failing = i.is_multiple_of(4);
    ResourceReport {
        resource_arn: arn,
        name: format!("orders-{i:03}"),
        account: account.to_string(),
        region: region.to_string(),
        status: if failing {
            Status::NonCompliant
        } else {
            Status::Compliant
        },
        controls: ControlId::ALL
            .iter()
            .map(|id| ControlResult {
                id: *id,
                status: if failing && *id == ControlId::RelayChainComplete {
                    Status::NonCompliant
                } else {
                    Status::Compliant
                },
                reason: "every recovery point seen meets the control".into(),
                evidence: (0..2).map(evidence).collect(),
            })
            .collect(),
    }
}

/// A run's parts as its evaluation pieces leave them: `accounts` x 4 Regions, `tables` each.
/// Returns the run and the bytes of every table's JSON.
async fn organisation(parts: &MemoryParts, accounts: usize, tables: usize) -> (RunRef, usize) {
    let run = RunRef::at(Utc.with_ymd_and_hms(2026, 12, 3, 6, 0, 0).unwrap());
    let mut list = Vec::new();
    let mut bytes = 0;
    for a in 0..accounts {
        let account = format!("{:012}", 100_000_000_000u64 + a as u64);
        for region in ["us-east-1", "eu-west-1", "ap-southeast-2", "ca-central-1"] {
            let piece = PieceRef {
                run: run.clone(),
                account: account.clone(),
                region: region.to_string(),
                tag_reads_per_site: 100,
            };
            let part = Part {
                resources: (0..tables).map(|i| table(&account, region, i)).collect(),
                gaps: Vec::new(),
                cost_facts: Default::default(),
            };
            let body = serde_json::to_string(&part).unwrap();
            bytes += body.len();
            parts
                .put_part(&run.part_key(&piece.location()), &body)
                .await
                .unwrap();
            list.push(piece);
        }
    }
    let pieces = serde_json::to_string(&list).unwrap();
    parts.put_part(&run.pieces_key(), &pieces).await.unwrap();
    let ledger = serde_json::to_string(&pieces::LedgerFacts::default()).unwrap();
    parts.put_part(&run.ledger_key(), &ledger).await.unwrap();
    (run, bytes)
}

#[tokio::test(flavor = "current_thread")]
async fn the_merge_holds_a_window_of_parts_and_the_verdicts_never_every_table() {
    let policy = Policy::parse(include_str!("../../../infra/examples/policy.yaml")).unwrap();
    let parts = MemoryParts::default();
    // 320 pieces of 10 tables: 3,200 tables, about 40 MB of tables.
    let (run, bytes) = organisation(&parts, 80, 10).await;
    HEAP.reset_peak_memory();
    let merged = pieces::merge(&policy, &parts, &run, "sha256:test")
        .await
        .unwrap();
    let merged_at = HEAP.get_peak_memory();
    let mut rendered = 0;
    for file in ReportFile::ALL {
        for chunk in render::merged_chunks(&merged, file).into_iter().flatten() {
            rendered += chunk.unwrap().len();
        }
    }
    let held = HEAP.get_peak_memory();
    println!("merge {merged_at} B, with the renderings {held} B, tables {bytes} B");
    // Holding the report, as the merge did, is more than every table's JSON; a window of 16
    // parts and 3,200 verdicts are a few MB.
    assert!(
        held < bytes / 4,
        "the merge held {held} bytes (merging: {merged_at}) for {bytes} bytes of tables"
    );
    assert!(rendered > bytes, "{rendered}");
    assert_eq!(merged.frame.summary.resources, 3_200);
    assert_eq!(merged.frame.summary.non_compliant, 960);
    let whole = merged.load().unwrap();
    assert_eq!(whole.resources.len(), 3_200);
    assert_eq!(whole.resources[17], table("100000000000", "eu-west-1", 7));
}
