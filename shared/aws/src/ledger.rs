//! The hop ledger in DynamoDB: partition key `pk` = the original backup (resource ARN and creation
//! date, `Original::key`), sort key `sk` = destination vault ARN: the hop identity. Every change is one conditional UpdateItem whose condition encodes the
//! matching rule of `relay_core::ledger` (the same contract tests run against both).

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, SecondsFormat, Utc};
use relay_compliance::inventory::RestoreTest;
use relay_core::ledger::{self, ClaimOutcome, ClaimRequest, HopKey, HopRecord, HopState, Original};
use relay_core::plan::FailureClass;
use relay_core::ports::{
    Alert, ErrorKind, HopFailure, Incident, LedgerPort, PortError, PortResult, RestoreEvidence,
    StartedJob,
};
use relay_restore::drill::{DrillInFlight, DrillStore};

use crate::errors::classify;

mod batch;

pub struct DynamoLedger {
    client: Client,
    table: String,
}

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u32) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Every attribute goes by a placeholder, so no DynamoDB reserved word (STATE, CURSOR, ...) can
/// break an expression; only the placeholders an expression uses are sent (unused ones are an error).
const NAMES: [(&str, &str); 21] = [
    ("#pk", "pk"),
    ("#s", "state"),
    ("#att", "attempt"),
    ("#tok", "idempotency_token"),
    ("#cla", "claimed_at"),
    ("#upd", "updated_at"),
    ("#rt", "route"),
    ("#job", "copy_job_id"),
    ("#drp", "destination_recovery_point_arn"),
    ("#fc", "failure_class"),
    ("#msg", "status_message"),
    ("#vlt", "vault"),
    ("#c", "cursor"),
    ("#srp", "source_recovery_point_arn"),
    ("#svt", "source_vault_arn"),
    ("#alt", "alerted_at"),
    ("#res", "resource"),
    ("#ts", "tried_sources"),
    ("#lh", "lease_holder"),
    ("#lu", "lease_until"),
    ("#tg", "tagged_at"),
];

/// Does `expression` use `placeholder` as a whole token (`#c` is not used by `#cla`)?
fn uses(expression: &str, placeholder: &str) -> bool {
    expression.match_indices(placeholder).any(|(i, _)| {
        !expression[i + placeholder.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

fn named(b: UpdateItemFluentBuilder) -> UpdateItemFluentBuilder {
    let text = format!(
        "{} {}",
        b.get_update_expression().as_deref().unwrap_or(""),
        b.get_condition_expression().as_deref().unwrap_or("")
    );
    NAMES
        .iter()
        .filter(|(placeholder, _)| uses(&text, placeholder))
        .fold(b, |b, (placeholder, name)| {
            b.expression_attribute_names(*placeholder, *name)
        })
}

/// Fixed-width UTC timestamps compare correctly as strings, which the stale-claim condition needs.
fn ts(t: DateTime<Utc>) -> AttributeValue {
    s(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

impl DynamoLedger {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn update(&self, hop: &HopKey) -> UpdateItemFluentBuilder {
        self.update_key(hop.original.key(), &hop.destination_vault_arn)
    }

    fn update_key(&self, pk: impl Into<String>, sk: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
    }

    /// Run a conditional update: `Ok(Some(new item))` when it applied, `Ok(None)` when the condition failed.
    /// Every item of one partition (incidents, restore tests, drills), every page, through the
    /// SDK's paginator.
    async fn partition(
        &self,
        pk: &str,
        consistent: bool,
        operation: &'static str,
    ) -> PortResult<Vec<Item>> {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
            .consistent_read(consistent)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(operation, &e))
    }

    async fn apply(
        &self,
        op: &'static str,
        builder: UpdateItemFluentBuilder,
    ) -> PortResult<Option<Item>> {
        self.apply_returning(op, builder, ReturnValue::AllNew).await
    }

    async fn apply_returning(
        &self,
        op: &'static str,
        builder: UpdateItemFluentBuilder,
        returning: ReturnValue,
    ) -> PortResult<Option<Item>> {
        match named(builder).return_values(returning).send().await {
            Ok(out) => Ok(Some(out.attributes.unwrap_or_default())),
            Err(e) => {
                let err = classify(op, &e);
                if err.kind == ErrorKind::ConditionFailed {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }
}

impl LedgerPort for DynamoLedger {
    async fn claim(&self, hop: &HopKey, req: &ClaimRequest) -> PortResult<ClaimOutcome> {
        let mut condition = vec![
            "(#s = :released AND #att = :a)",
            "(#s = :claimed AND #att = :a AND #cla < :stale)",
        ];
        let mut b = self
            .update(hop)
            .update_expression(
                "SET #s = :claimed, #att = :a, #tok = :tok, #cla = :now, #upd = :now, #rt = :route, \
                 #srp = :srp, #svt = :svt REMOVE #job, #drp ADD #ts :ts",
            )
            .expression_attribute_values(
                ":ts",
                source_set(&req.source_vault_arn, &req.source_recovery_point_arn),
            )
            .expression_attribute_values(":srp", s(&req.source_recovery_point_arn))
            .expression_attribute_values(":svt", s(&req.source_vault_arn))
            .expression_attribute_values(":claimed", s(HopState::Claimed.as_str()))
            .expression_attribute_values(":released", s(HopState::Released.as_str()))
            .expression_attribute_values(":a", n(req.attempt))
            .expression_attribute_values(":tok", s(&req.idempotency_token))
            .expression_attribute_values(":now", ts(req.now))
            .expression_attribute_values(":stale", ts(req.stale_before))
            .expression_attribute_values(":route", s(&req.route));
        if req.attempt == 1 {
            condition.insert(0, "attribute_not_exists(#pk)");
        } else {
            condition.push("(#s = :failed AND #att = :prev AND #fc = :retryable)");
            b = b
                .expression_attribute_values(":failed", s(HopState::Failed.as_str()))
                .expression_attribute_values(":prev", n(req.attempt.saturating_sub(1)))
                .expression_attribute_values(":retryable", s(FailureClass::Retryable.as_str()));
        }
        // The record as it was: a takeover must know what the earlier try did.
        match self
            .apply_returning(
                "UpdateItem(claim)",
                b.condition_expression(condition.join(" OR ")),
                ReturnValue::AllOld,
            )
            .await?
        {
            Some(old) if old.is_empty() => Ok(ClaimOutcome::Claimed { previous: None }),
            Some(old) => Ok(ClaimOutcome::Claimed {
                previous: Some(Box::new(record_from_item(&old)?)),
            }),
            None => Ok(ClaimOutcome::AlreadyTaken(
                self.get(hop).await?.map(Box::new),
            )),
        }
    }

    async fn mark_started(
        &self,
        hop: &HopKey,
        attempt: u32,
        job: &StartedJob,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        let b = self
            .update(hop)
            .update_expression(
                "SET #s = :started, #job = :job, #srp = :srp, #svt = :svt, #upd = :now ADD #ts :ts",
            )
            .expression_attribute_values(
                ":ts",
                source_set(&job.source_vault_arn, &job.source_recovery_point_arn),
            )
            .expression_attribute_values(":srp", s(&job.source_recovery_point_arn))
            .expression_attribute_values(":svt", s(&job.source_vault_arn))
            .condition_expression("#s = :claimed AND attempt = :a")
            .expression_attribute_values(":started", s(HopState::Started.as_str()))
            .expression_attribute_values(":claimed", s(HopState::Claimed.as_str()))
            .expression_attribute_values(":job", s(&job.copy_job_id))
            .expression_attribute_values(":a", n(attempt))
            .expression_attribute_values(":now", ts(now));
        Ok(self.apply("UpdateItem(started)", b).await?.is_some())
    }

    async fn release(
        &self,
        hop: &HopKey,
        attempt: u32,
        reason: &str,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        let b = self
            .update(hop)
            .update_expression("SET #s = :released, #msg = :msg, #upd = :now")
            .condition_expression("#s = :claimed AND attempt = :a")
            .expression_attribute_values(":released", s(HopState::Released.as_str()))
            .expression_attribute_values(":claimed", s(HopState::Claimed.as_str()))
            .expression_attribute_values(":msg", s(reason))
            .expression_attribute_values(":a", n(attempt))
            .expression_attribute_values(":now", ts(now));
        Ok(self.apply("UpdateItem(release)", b).await?.is_some())
    }

    async fn mark_completed(
        &self,
        hop: &HopKey,
        destination_rp: Option<&str>,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        let mut b = self
            .update(hop)
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_values(":completed", s(HopState::Completed.as_str()))
            .expression_attribute_values(":now", ts(now));
        b = match destination_rp {
            Some(rp) => b
                .update_expression("SET #s = :completed, #drp = :rp, #upd = :now")
                .expression_attribute_values(":rp", s(rp)),
            None => b.update_expression("SET #s = :completed, #upd = :now"),
        };
        Ok(self.apply("UpdateItem(completed)", b).await?.is_some())
    }

    async fn mark_failed(
        &self,
        hop: &HopKey,
        failure: &HopFailure,
        now: DateTime<Utc>,
    ) -> PortResult<Option<HopRecord>> {
        let b = self
            .update(hop)
            .update_expression("SET #s = :failed, #fc = :class, #msg = :msg, #upd = :now")
            .expression_attribute_values(":failed", s(HopState::Failed.as_str()))
            .expression_attribute_values(":class", s(failure.class.as_str()))
            .expression_attribute_values(":msg", s(&failure.message))
            .expression_attribute_values(":now", ts(now));
        let b = match (&failure.copy_job_id, failure.attempt) {
            (Some(job), _) => b
                .condition_expression("#s = :started AND #job = :job")
                .expression_attribute_values(":started", s(HopState::Started.as_str()))
                .expression_attribute_values(":job", s(job)),
            (None, Some(a)) => b
                .condition_expression("#s = :claimed AND attempt = :a")
                .expression_attribute_values(":claimed", s(HopState::Claimed.as_str()))
                .expression_attribute_values(":a", n(a)),
            (None, None) => return Ok(None),
        };
        match self.apply("UpdateItem(failed)", b).await? {
            Some(item) => Ok(Some(record_from_item(&item)?)),
            None => Ok(None),
        }
    }

    async fn record_skipped(
        &self,
        hop: &HopKey,
        route: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        let b = self
            .update(hop)
            .update_expression(
                "SET #s = :skipped, #rt = :route, #att = :zero, #msg = :msg, #upd = :now",
            )
            .condition_expression("attribute_not_exists(pk)")
            .expression_attribute_values(":skipped", s(HopState::Skipped.as_str()))
            .expression_attribute_values(":route", s(route))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":msg", s(reason))
            .expression_attribute_values(":now", ts(now));
        Ok(self.apply("UpdateItem(skipped)", b).await?.is_some())
    }

    async fn get(&self, hop: &HopKey) -> PortResult<Option<HopRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(hop.original.key()))
            .key("sk", s(&hop.destination_vault_arn))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", &e))?;
        out.item.as_ref().map(record_from_item).transpose()
    }

    async fn get_many(&self, hops: &[HopKey]) -> PortResult<Vec<Option<HopRecord>>> {
        self.records(hops).await
    }

    async fn mark_tagged(
        &self,
        hop: &HopKey,
        route: &str,
        copy_arn: &str,
        now: DateTime<Utc>,
    ) -> PortResult<()> {
        // `ledger::tagged` as one upsert: a missing record becomes a COMPLETED one.
        let b = self
            .update(hop)
            .update_expression(
                "SET #tg = :now, #upd = :now, #s = if_not_exists(#s, :completed), \
                 #rt = if_not_exists(#rt, :route), #att = if_not_exists(#att, :zero), \
                 #drp = if_not_exists(#drp, :rp)",
            )
            .expression_attribute_values(":now", ts(now))
            .expression_attribute_values(":completed", s(HopState::Completed.as_str()))
            .expression_attribute_values(":route", s(route))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":rp", s(copy_arn));
        self.apply("UpdateItem(tagged)", b).await.map(|_| ())
    }

    async fn escalate(
        &self,
        hop: &HopKey,
        attempt: u32,
        _reason: &str,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        let b = self
            .update(hop)
            .update_expression("SET #fc = :person, #upd = :now")
            .condition_expression("#s = :failed AND #att = :a AND #fc = :retryable")
            .expression_attribute_values(":person", s(FailureClass::NeedsPerson.as_str()))
            .expression_attribute_values(":retryable", s(FailureClass::Retryable.as_str()))
            .expression_attribute_values(":failed", s(HopState::Failed.as_str()))
            .expression_attribute_values(":a", n(attempt))
            .expression_attribute_values(":now", ts(now));
        Ok(self.apply("UpdateItem(escalate)", b).await?.is_some())
    }

    async fn open_incident(&self, incident: &Incident) -> PortResult<bool> {
        let alert = &incident.alert;
        // Incidents expire (DynamoDB TTL) after 90 days, so the outbox query stays small.
        let expires = incident.opened_at + chrono::Duration::days(INCIDENT_DAYS);
        let mut set = vec![
            "subject = :sub",
            "message = :msg",
            "opened_at = :now",
            "expires_at = :exp",
        ];
        let mut b = self
            .update_key(INCIDENT_KEY, &incident.id)
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_values(":sub", s(&alert.subject))
            .expression_attribute_values(":msg", s(&alert.message))
            .expression_attribute_values(":now", ts(incident.opened_at))
            .expression_attribute_values(
                ":exp",
                AttributeValue::N(expires.timestamp().to_string()),
            );
        if let Some(account) = &alert.account {
            set.push("account = :acc");
            b = b.expression_attribute_values(":acc", s(account));
        }
        if let Some(resource) = &alert.resource {
            set.push("#res = :res");
            b = b.expression_attribute_values(":res", s(resource));
        }
        if let Some(route) = &alert.route {
            set.push("#rt = :route");
            b = b.expression_attribute_values(":route", s(route));
        }
        if alert.all_chains {
            set.push("all_chains = :all");
            b = b.expression_attribute_values(":all", AttributeValue::Bool(true));
        }
        if let Some(vault) = &alert.vault {
            set.push("copies_into = :ci");
            b = b.expression_attribute_values(":ci", s(vault));
        }
        if let Some(hop) = &alert.hop {
            set.extend(["hop_original = :ho", "hop_vault = :hv"]);
            b = b
                .expression_attribute_values(":ho", s(hop.original.key()))
                .expression_attribute_values(":hv", s(&hop.destination_vault_arn));
        }
        let b = b.update_expression(format!("SET {}", set.join(", ")));
        Ok(self.apply("UpdateItem(incident)", b).await?.is_some())
    }

    async fn incident_alerted(&self, id: &str, now: DateTime<Utc>) -> PortResult<()> {
        let b = self
            .update_key(INCIDENT_KEY, id)
            .update_expression("SET #alt = :now")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_values(":now", ts(now));
        self.apply("UpdateItem(alerted)", b).await?;
        Ok(())
    }

    async fn open_incidents(&self) -> PortResult<Vec<Incident>> {
        let items = self
            .partition(INCIDENT_KEY, true, "Query(incidents)")
            .await?;
        Ok(items.iter().filter_map(incident_from_item).collect())
    }

    async fn close_incident(&self, id: &str) -> PortResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(INCIDENT_KEY))
            .key("sk", s(id))
            .send()
            .await
            .map_err(|e| classify("DeleteItem(incident)", &e))?;
        Ok(())
    }

    async fn load_cursor(&self, piece: &str) -> PortResult<Option<String>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(CURSOR_KEY))
            .key("sk", s(cursor_sk(piece)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem(cursor)", &e))?;
        Ok(out.item.as_ref().and_then(|i| text(i, "cursor")))
    }

    async fn save_cursor(
        &self,
        piece: &str,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> PortResult<()> {
        let b = self
            .update_key(CURSOR_KEY, &cursor_sk(piece))
            .expression_attribute_values(":now", ts(now));
        let b = match cursor {
            Some(c) => b
                .update_expression("SET #c = :c, #upd = :now")
                .expression_attribute_values(":c", s(c)),
            None => b.update_expression("SET #upd = :now REMOVE #c"),
        };
        // No condition: the piece's lease keeps a second invocation out.
        named(b)
            .send()
            .await
            .map_err(|e| classify("UpdateItem(cursor)", &e))?;
        Ok(())
    }

    async fn take_lease(
        &self,
        piece: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        let b = self
            .update_key(LEASE_KEY, piece)
            .update_expression("SET #lh = :h, #lu = :u")
            .condition_expression("attribute_not_exists(#lu) OR #lu < :now OR #lh = :h")
            .expression_attribute_values(":h", s(holder))
            .expression_attribute_values(":u", ts(until))
            .expression_attribute_values(":now", ts(now));
        Ok(self.apply("UpdateItem(lease)", b).await?.is_some())
    }

    async fn release_lease(&self, piece: &str, holder: &str) -> PortResult<()> {
        let b = self
            .update_key(LEASE_KEY, piece)
            .update_expression("REMOVE #lh, #lu")
            .condition_expression("#lh = :h")
            .expression_attribute_values(":h", s(holder));
        // Not ours any more (ended, and taken by another): nothing to let go.
        self.apply("UpdateItem(release)", b).await?;
        Ok(())
    }
}

/// The reconciler's pieces' leases: one item per piece.
const LEASE_KEY: &str = "#reconciler-lease";

/// Restore drills' evidence: one item per test under one partition, the test as JSON, expiring
/// after a year (the report reads the latest per table).
const RESTORE_TEST_KEY: &str = "#restore-test";
const RESTORE_TEST_DAYS: i64 = 400;

impl RestoreEvidence for DynamoLedger {
    async fn record_restore_test(&self, test: &RestoreTest) -> PortResult<()> {
        let body = serde_json::to_string(test).map_err(|e| {
            PortError::new(
                ErrorKind::Permanent,
                "PutItem(restore test)",
                None,
                e.to_string(),
            )
        })?;
        let expires = test.finished_at + chrono::Duration::days(RESTORE_TEST_DAYS);
        let sk = format!(
            "{}#{}",
            test.resource_arn,
            test.finished_at
                .to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(RESTORE_TEST_KEY))
            .item("sk", s(&sk))
            .item("test", s(&body))
            .item(
                "expires_at",
                AttributeValue::N(expires.timestamp().to_string()),
            )
            .send()
            .await
            .map_err(|e| classify("PutItem(restore test)", &e))?;
        Ok(())
    }

    async fn restore_tests(&self) -> PortResult<Vec<RestoreTest>> {
        let items = self
            .partition(RESTORE_TEST_KEY, false, "Query(restore tests)")
            .await?;
        // An item that does not read back is skipped, not fatal: one bad write must not hide
        // every other drill.
        Ok(items
            .iter()
            .filter_map(|i| text(i, "test"))
            .filter_map(|t| serde_json::from_str::<RestoreTest>(&t).ok())
            .collect())
    }
}

/// Restore drills under way: one item per table drilled, the drill as JSON.
const DRILL_KEY: &str = "#drill-in-flight";

impl DrillStore for DynamoLedger {
    async fn drills_in_flight(&self) -> PortResult<Vec<DrillInFlight>> {
        let items = self.partition(DRILL_KEY, true, "Query(drills)").await?;
        items
            .iter()
            .map(|item| {
                let body = text(item, "drill").unwrap_or_default();
                serde_json::from_str(&body).map_err(|e| {
                    PortError::new(
                        ErrorKind::Permanent,
                        "Query(drills)",
                        None,
                        format!("a drill item does not read back: {e}"),
                    )
                })
            })
            .collect()
    }

    async fn save_drill(&self, drill: &DrillInFlight) -> PortResult<()> {
        let body = serde_json::to_string(drill).map_err(|e| {
            PortError::new(ErrorKind::Permanent, "PutItem(drill)", None, e.to_string())
        })?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(DRILL_KEY))
            .item("sk", s(&drill.table_arn))
            .item("drill", s(&body))
            .send()
            .await
            .map_err(|e| classify("PutItem(drill)", &e))?;
        Ok(())
    }

    async fn end_drill(&self, table_arn: &str) -> PortResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(DRILL_KEY))
            .key("sk", s(table_arn))
            .send()
            .await
            .map_err(|e| classify("DeleteItem(drill)", &e))?;
        Ok(())
    }
}

/// Items that are not hops share the table under keys no ARN can take.
const CURSOR_KEY: &str = "#reconciler-cursor";

/// The whole-policy run keeps the key it always had; each piece has its own item beside it.
fn cursor_sk(piece: &str) -> String {
    match piece {
        "" => CURSOR_KEY.to_string(),
        p => format!("{CURSOR_KEY}#{p}"),
    }
}
/// Incidents share one partition: few, and read whole by the reconciler's outbox.
const INCIDENT_KEY: &str = "#incident";
/// How long an incident is kept (the table's TTL attribute `expires_at`).
const INCIDENT_DAYS: i64 = 90;

fn text(item: &Item, key: &str) -> Option<String> {
    item.get(key).and_then(|v| v.as_s().ok()).cloned()
}

fn time(item: &Item, key: &str) -> Option<DateTime<Utc>> {
    text(item, key)
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn record_from_item(item: &Item) -> PortResult<HopRecord> {
    let bad = |field: &str| {
        PortError::new(
            ErrorKind::Permanent,
            "ledger item",
            None,
            format!("ledger item has no valid '{field}'"),
        )
    };
    let original = text(item, "pk")
        .as_deref()
        .and_then(Original::from_key)
        .ok_or_else(|| bad("pk"))?;
    let key = HopKey::new(original, text(item, "sk").ok_or_else(|| bad("sk"))?);
    let state = text(item, "state")
        .and_then(|s| HopState::parse(&s))
        .ok_or_else(|| bad("state"))?;
    let attempt = item
        .get("attempt")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| bad("attempt"))?;
    let failure_class = match text(item, "failure_class").as_deref() {
        Some("retryable") => Some(FailureClass::Retryable),
        Some("needs_person") => Some(FailureClass::NeedsPerson),
        _ => None,
    };
    Ok(HopRecord {
        key,
        route: text(item, "route").unwrap_or_default(),
        state,
        attempt,
        idempotency_token: text(item, "idempotency_token"),
        copy_job_id: text(item, "copy_job_id"),
        claimed_at: time(item, "claimed_at"),
        updated_at: time(item, "updated_at").ok_or_else(|| bad("updated_at"))?,
        failure_class,
        status_message: text(item, "status_message"),
        destination_recovery_point_arn: text(item, "destination_recovery_point_arn"),
        source_recovery_point_arn: text(item, "source_recovery_point_arn"),
        source_vault_arn: text(item, "source_vault_arn"),
        tried_sources: item
            .get("tried_sources")
            .and_then(|v| v.as_ss().ok())
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default(),
        tagged_at: time(item, "tagged_at"),
    })
}

/// A one-element string set of a tried source: `ADD` keeps every source a claim used.
fn source_set(vault_arn: &str, recovery_point_arn: &str) -> AttributeValue {
    AttributeValue::Ss(vec![ledger::source_entry(vault_arn, recovery_point_arn)])
}

fn incident_from_item(item: &Item) -> Option<Incident> {
    let hop = match (text(item, "hop_original"), text(item, "hop_vault")) {
        (Some(o), Some(v)) => Some(HopKey::new(Original::from_key(&o)?, v)),
        _ => None,
    };
    Some(Incident {
        id: text(item, "sk")?,
        alert: Alert {
            subject: text(item, "subject")?,
            message: text(item, "message")?,
            hop,
            account: text(item, "account"),
            resource: text(item, "resource"),
            route: text(item, "route"),
            all_chains: matches!(item.get("all_chains"), Some(AttributeValue::Bool(true))),
            vault: text(item, "copies_into"),
        },
        opened_at: time(item, "opened_at")?,
        alerted_at: time(item, "alerted_at"),
    })
}

#[cfg(test)]
mod tests {
    use super::uses;

    #[test]
    fn placeholders_match_whole_tokens_only() {
        assert!(uses("SET #c = :c", "#c"));
        assert!(!uses("SET #cla = :now", "#c"));
        assert!(uses("#s = :x AND #att = :a)", "#att"));
        assert!(!uses("attribute_not_exists(#pk)", "#p"));
    }
}
