//! The ledger's behaviour, as one suite: run against the simulator's ledger and against the
//! DynamoDB adapter on moto, so the two cannot drift apart.

use chrono::{DateTime, Duration, Utc};
use relay_core::ledger::{ClaimOutcome, ClaimRequest, HopKey, HopState, Original};
use relay_core::plan::FailureClass;
use relay_core::ports::{Alert, HopFailure, Incident, LedgerPort, StartedJob};

fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default() + Duration::minutes(minutes)
}

fn req(attempt: u32, minutes: i64) -> ClaimRequest {
    ClaimRequest::of(
        "central->dr",
        attempt,
        &format!("token-{attempt}"),
        at(minutes),
        Duration::minutes(15),
    )
}

fn hop(name: &str) -> HopKey {
    HopKey::new(
        Original::new(
            format!("arn:aws:dynamodb:us-east-1:111111111111:table/{name}"),
            at(-60),
        ),
        "arn:aws:backup:us-west-2:222222222222:backup-vault:dr",
    )
}

fn failure(job: Option<&str>, attempt: Option<u32>, class: FailureClass) -> HopFailure {
    HopFailure {
        copy_job_id: job.map(str::to_string),
        attempt,
        class,
        message: "An internal failure occurred".into(),
    }
}

fn started(job: &str) -> StartedJob {
    StartedJob::new(job, "rp-of-central->dr", "vault-of-central->dr")
}

fn claimed(o: ClaimOutcome) -> bool {
    matches!(o, ClaimOutcome::Claimed { .. })
}

/// Every rule of `relay_core::ledger`, through the port. Panics with the step that broke.
pub async fn run<L: LedgerPort>(ledger: &L) {
    // A hop is claimed once; a redelivery finds it taken.
    let h = hop("first");
    assert!(
        claimed(ledger.claim(&h, &req(1, 0)).await.unwrap()),
        "first claim"
    );
    match ledger.claim(&h, &req(1, 1)).await.unwrap() {
        ClaimOutcome::AlreadyTaken(Some(r)) => {
            assert_eq!(
                (r.state, r.attempt, r.route.as_str()),
                (HopState::Claimed, 1, "central->dr")
            );
            assert_eq!(r.idempotency_token.as_deref(), Some("token-1"));
        }
        other => panic!("second claim: {other:?}"),
    }
    assert!(
        !claimed(ledger.claim(&h, &req(2, 1)).await.unwrap()),
        "attempt 2 without a failure"
    );

    // Started with its job id, once.
    assert!(
        ledger
            .mark_started(&h, 1, &started("job-1"), at(2))
            .await
            .unwrap(),
        "started"
    );
    assert!(
        !ledger
            .mark_started(&h, 1, &started("job-1"), at(2))
            .await
            .unwrap(),
        "started twice"
    );
    assert!(
        !claimed(ledger.claim(&h, &req(1, 60)).await.unwrap()),
        "claim after start"
    );

    // A failure applies only to its own job, once.
    assert!(
        ledger
            .mark_failed(
                &h,
                &failure(Some("job-0"), None, FailureClass::Retryable),
                at(3)
            )
            .await
            .unwrap()
            .is_none(),
        "stale job"
    );
    let failed = ledger
        .mark_failed(
            &h,
            &failure(Some("job-1"), None, FailureClass::Retryable),
            at(3),
        )
        .await
        .unwrap();
    let failed = failed.expect("failure of job-1 recorded");
    assert_eq!(
        (failed.state, failed.attempt, failed.failure_class),
        (HopState::Failed, 1, Some(FailureClass::Retryable))
    );
    assert!(
        ledger
            .mark_failed(
                &h,
                &failure(Some("job-1"), None, FailureClass::Retryable),
                at(3)
            )
            .await
            .unwrap()
            .is_none(),
        "repeat"
    );

    // A retryable failure admits exactly the next attempt, once.
    assert!(
        !claimed(ledger.claim(&h, &req(3, 4)).await.unwrap()),
        "attempt 3 skips 2"
    );
    assert!(
        claimed(ledger.claim(&h, &req(2, 4)).await.unwrap()),
        "attempt 2"
    );
    assert!(
        !claimed(ledger.claim(&h, &req(2, 5)).await.unwrap()),
        "attempt 2 twice"
    );
    let r = ledger.get(&h).await.unwrap().expect("record");
    assert_eq!(
        (r.state, r.attempt, r.copy_job_id.as_deref()),
        (HopState::Claimed, 2, None)
    );
    assert_eq!(
        r.status_message.as_deref(),
        Some("An internal failure occurred"),
        "failure kept for the record"
    );

    // A released attempt may be claimed again, with the same attempt.
    assert!(
        ledger
            .release(&h, 2, "ThrottlingException", at(6))
            .await
            .unwrap(),
        "release"
    );
    assert!(
        !ledger.release(&h, 2, "again", at(6)).await.unwrap(),
        "release twice"
    );
    assert!(
        claimed(ledger.claim(&h, &req(2, 7)).await.unwrap()),
        "reclaim released"
    );
    assert!(ledger
        .mark_started(&h, 2, &started("job-2"), at(8))
        .await
        .unwrap());

    // Completion, and only for hops the ledger knows.
    assert!(ledger
        .mark_completed(
            &h,
            Some("arn:aws:backup:us-west-2:222222222222:recovery-point:copy"),
            at(9)
        )
        .await
        .unwrap());
    let r = ledger.get(&h).await.unwrap().expect("record");
    assert_eq!(
        (r.state, r.attempt, r.copy_job_id.as_deref()),
        (HopState::Completed, 2, Some("job-2"))
    );
    assert_eq!(
        r.destination_recovery_point_arn.as_deref(),
        Some("arn:aws:backup:us-west-2:222222222222:recovery-point:copy")
    );
    assert!(
        !ledger
            .mark_completed(&hop("unknown"), None, at(9))
            .await
            .unwrap(),
        "unknown hop"
    );
    assert!(ledger.get(&hop("unknown")).await.unwrap().is_none());

    // A claim left by a dead invocation is taken over after 15 minutes, not before.
    let s = hop("stale");
    assert!(claimed(ledger.claim(&s, &req(1, 0)).await.unwrap()));
    assert!(
        !claimed(ledger.claim(&s, &req(1, 14)).await.unwrap()),
        "live claim"
    );
    assert!(
        claimed(ledger.claim(&s, &req(1, 16)).await.unwrap()),
        "stale claim"
    );

    // A start refused outright fails the claimed attempt; needs_person admits no retry.
    let p = hop("refused");
    assert!(claimed(ledger.claim(&p, &req(1, 0)).await.unwrap()));
    assert!(
        ledger
            .mark_failed(
                &p,
                &failure(None, Some(2), FailureClass::NeedsPerson),
                at(1)
            )
            .await
            .unwrap()
            .is_none(),
        "wrong attempt"
    );
    assert!(ledger
        .mark_failed(
            &p,
            &failure(None, Some(1), FailureClass::NeedsPerson),
            at(1)
        )
        .await
        .unwrap()
        .is_some());
    assert!(
        !claimed(ledger.claim(&p, &req(2, 2)).await.unwrap()),
        "no retry for needs_person"
    );

    // A skipped hop is recorded once and never claimed.
    let k = hop("skipped");
    assert!(ledger
        .record_skipped(&k, "dr->bunker", "vault lock", at(0))
        .await
        .unwrap());
    assert!(!ledger
        .record_skipped(&k, "dr->bunker", "vault lock", at(1))
        .await
        .unwrap());
    assert!(!claimed(ledger.claim(&k, &req(1, 2)).await.unwrap()));
    assert_eq!(
        ledger.get(&k).await.unwrap().map(|r| r.state),
        Some(HopState::Skipped)
    );

    // A retryable failure that used up its attempts needs a person, once.
    let e = hop("escalate");
    assert!(claimed(ledger.claim(&e, &req(1, 0)).await.unwrap()));
    assert!(ledger
        .mark_started(&e, 1, &started("job-e"), at(1))
        .await
        .unwrap());
    assert!(ledger
        .mark_failed(
            &e,
            &failure(Some("job-e"), None, FailureClass::Retryable),
            at(2)
        )
        .await
        .unwrap()
        .is_some());
    assert!(
        !ledger.escalate(&e, 2, "gave up", at(3)).await.unwrap(),
        "wrong attempt"
    );
    assert!(
        ledger.escalate(&e, 1, "gave up", at(3)).await.unwrap(),
        "escalated"
    );
    assert!(
        !ledger.escalate(&e, 1, "gave up", at(4)).await.unwrap(),
        "escalated twice"
    );
    let r = ledger.get(&e).await.unwrap().expect("record");
    assert_eq!(
        (r.state, r.failure_class),
        (HopState::Failed, Some(FailureClass::NeedsPerson))
    );
    assert!(
        !claimed(ledger.claim(&e, &req(2, 5)).await.unwrap()),
        "no retry after escalation"
    );

    // An incident opens once; its alert is marked sent only when told; it reads back whole.
    let alert = Alert::about_hop("subject".into(), "message".into(), hop("incident"));
    let incident = Incident::new(hop("incident").incident_id(), alert, at(0));
    assert!(ledger.open_incident(&incident).await.unwrap());
    assert!(
        !ledger.open_incident(&incident).await.unwrap(),
        "opened twice"
    );
    let open = ledger.open_incidents().await.unwrap();
    assert_eq!(
        open,
        vec![incident.clone()],
        "unsent incidents are in the outbox"
    );
    ledger.incident_alerted(&incident.id, at(1)).await.unwrap();
    let open = ledger.open_incidents().await.unwrap();
    assert_eq!(open[0].alerted_at, Some(at(1)));
    let account = Incident::new(
        Incident::account_id("333333333333"),
        Alert {
            account: Some("333333333333".into()),
            ..Alert::plain("s".into(), "m".into())
        },
        at(2),
    );
    assert!(ledger.open_incident(&account).await.unwrap());
    ledger.close_incident(&account.id).await.unwrap();
    assert!(
        ledger.open_incident(&account).await.unwrap(),
        "a closed incident can open again"
    );
    assert!(
        ledger.get(&hop("incident")).await.unwrap().is_none(),
        "an incident is not a hop"
    );

    // A claim remembers where its copy job runs, and a takeover returns the record it replaced.
    let t = hop("takeover");
    assert!(claimed(ledger.claim(&t, &req(1, 0)).await.unwrap()));
    let r = ledger.get(&t).await.unwrap().expect("record");
    assert_eq!(r.source_vault_arn.as_deref(), Some("vault-of-central->dr"));
    // The takeover claims from another route's point (a diamond): both sources stay known.
    let mut other_route = req(1, 20);
    other_route.source_vault_arn = "vault-of-c".into();
    other_route.source_recovery_point_arn = "rp-of-c->d".into();
    let outcome = ledger.claim(&t, &other_route).await.unwrap();
    let previous = outcome.takeover().expect("a stale claim is taken over");
    assert_eq!(previous.claimed_at, Some(at(0)));
    let tried =
        |r: &relay_core::ledger::HopRecord| r.tried_sources.iter().cloned().collect::<Vec<_>>();
    assert_eq!(tried(previous), ["vault-of-central->dr rp-of-central->dr"]);
    let r = ledger.get(&t).await.unwrap().expect("record");
    assert_eq!(
        tried(&r),
        [
            "vault-of-c rp-of-c->d",
            "vault-of-central->dr rp-of-central->dr"
        ],
        "every source a claim used is kept"
    );
    // An adopted job runs where another route started it: the record says where.
    let adopted = StartedJob::new("job-t", "rp-of-b->d", "vault-of-b");
    assert!(ledger.mark_started(&t, 1, &adopted, at(21)).await.unwrap());
    let r = ledger.get(&t).await.unwrap().expect("record");
    assert_eq!(
        (r.copy_job_id.as_deref(), r.source_vault_arn.as_deref()),
        (Some("job-t"), Some("vault-of-b"))
    );

    // The reconciler's cursor round-trips and clears.
    assert_eq!(ledger.load_cursor("").await.unwrap(), None);
    // Pieces keep cursors of their own, beside the whole-policy run's.
    ledger
        .save_cursor("111111111111/us-east-1", Some("piece"), at(0))
        .await
        .unwrap();
    assert_eq!(ledger.load_cursor("").await.unwrap(), None);
    ledger
        .save_cursor("", Some(r#"{"phase":2,"token":"abc"}"#), at(0))
        .await
        .unwrap();
    assert_eq!(
        ledger.load_cursor("").await.unwrap().as_deref(),
        Some(r#"{"phase":2,"token":"abc"}"#)
    );
    ledger.save_cursor("", None, at(1)).await.unwrap();
    assert_eq!(ledger.load_cursor("").await.unwrap(), None);
    assert_eq!(
        ledger
            .load_cursor("111111111111/us-east-1")
            .await
            .unwrap()
            .as_deref(),
        Some("piece")
    );

    // A piece's lease: one holder at a time, until it ends or is let go.
    let p = "111111111111/us-east-1";
    let until = at(15);
    assert!(
        ledger.take_lease(p, "inv-a", until, at(0)).await.unwrap(),
        "free"
    );
    assert!(
        !ledger.take_lease(p, "inv-b", at(20), at(1)).await.unwrap(),
        "held by a"
    );
    assert!(
        ledger.take_lease(p, "inv-a", until, at(2)).await.unwrap(),
        "a again"
    );
    assert!(
        ledger
            .take_lease("222222222222/us-east-1", "inv-b", until, at(1))
            .await
            .unwrap(),
        "another piece is free"
    );
    // Letting go is the holder's only.
    ledger.release_lease(p, "inv-b").await.unwrap();
    assert!(
        !ledger.take_lease(p, "inv-b", at(20), at(3)).await.unwrap(),
        "still a's"
    );
    ledger.release_lease(p, "inv-a").await.unwrap();
    assert!(
        ledger.take_lease(p, "inv-b", at(20), at(4)).await.unwrap(),
        "let go"
    );
    // A lease that ended is taken by the next, and letting the old one go changes nothing.
    assert!(
        ledger.take_lease(p, "inv-c", at(40), at(21)).await.unwrap(),
        "ended"
    );
    ledger.release_lease(p, "inv-b").await.unwrap();
    assert!(
        !ledger.take_lease(p, "inv-d", at(50), at(22)).await.unwrap(),
        "c's"
    );
    // The cursor is untouched by all this.
    assert_eq!(
        ledger.load_cursor(p).await.unwrap().as_deref(),
        Some("piece")
    );

    // A copy's tags: marked on its record, which keeps everything else; a copy nobody claimed
    // (a backup plan's copy action made it) gets a COMPLETED record of its own.
    let h = hop("tagged");
    assert!(claimed(ledger.claim(&h, &req(1, 0)).await.unwrap()));
    assert!(ledger
        .mark_started(&h, 1, &started("job-t"), at(1))
        .await
        .unwrap());
    assert!(ledger
        .mark_completed(&h, Some("rp-copy"), at(2))
        .await
        .unwrap());
    assert_eq!(ledger.get(&h).await.unwrap().unwrap().tagged_at, None);
    ledger
        .mark_tagged(&h, "central->dr", "rp-copy", at(3))
        .await
        .unwrap();
    let r = ledger.get(&h).await.unwrap().unwrap();
    assert_eq!((r.state, r.tagged_at), (HopState::Completed, Some(at(3))));
    assert_eq!(r.copy_job_id.as_deref(), Some("job-t"));
    let h = hop("held-by-a-plan");
    ledger
        .mark_tagged(&h, "primary->central", "rp-plan", at(4))
        .await
        .unwrap();
    ledger
        .mark_tagged(&h, "primary->central", "rp-plan", at(5))
        .await
        .unwrap();
    let r = ledger.get(&h).await.unwrap().unwrap();
    assert_eq!(r.state, HopState::Completed);
    assert_eq!(r.destination_recovery_point_arn.as_deref(), Some("rp-plan"));
    assert_eq!(
        (r.route.as_str(), r.tagged_at),
        ("primary->central", Some(at(5)))
    );
    assert!(
        !claimed(ledger.claim(&h, &req(1, 6)).await.unwrap()),
        "a tagged copy's hop is done"
    );

    // Many records read at once equal their reads one by one: past one batch (100 keys), with a
    // key named twice and hops that have no record, in the order asked.
    let mut many: Vec<HopKey> = (0..120).map(|i| hop(&format!("many-{i:03}"))).collect();
    for h in many.iter().step_by(2) {
        assert!(claimed(ledger.claim(h, &req(1, 7)).await.unwrap()));
    }
    many.push(many[0].clone());
    many.push(hop("held-by-a-plan"));
    let read = ledger.get_many(&many).await.unwrap();
    assert_eq!(read.len(), many.len());
    for (h, r) in many.iter().zip(&read) {
        assert_eq!(r, &ledger.get(h).await.unwrap(), "{h:?}");
    }
    assert_eq!(read.iter().filter(|r| r.is_some()).count(), 62);
}
