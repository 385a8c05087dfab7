//! End to end: the functions' real binaries (copy-router, retention-guard, reconciler), with
//! their real SDK adapters, under a local Lambda Runtime API served here, against moto (the
//! ledger in DynamoDB, the alert topic, the tables' tags) and `relay emulate` (AWS Backup and
//! STS). The emulator's plans back up for two days with lost, duplicated and reordered events and
//! failed copies; every event goes over HTTP to a function and is awaited before its clock moves
//! on, and the hourly reconciler (on the emulator's time, which the functions take from the
//! `Date` of its answers) re-drives what was lost and retries what failed. It ends with every
//! chain complete and no duplicate copy job, as `relay simulate` says for the same world and seed.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use relay_tests::MotoServer;
use serde_json::Value;
use tokio::sync::{oneshot, Mutex, Notify};

const RELAY: &str = env!("CARGO_BIN_EXE_relay");
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const HOME: &str = "111111111111";
const TABLES: [&str; 3] = ["orders", "carts", "users"];
const FAULTS: &str = "lose=0.3,duplicate=0.3,reorder=45,fail=0.1,throttle=0";
const SEED: &str = "11";

fn world() -> String {
    let tables: String = TABLES
        .iter()
        .map(|t| {
            format!("  - {{ name: {t}, account: \"{HOME}\", region: us-east-1, tags: {{ backup-tier: gold }} }}\n")
        })
        .collect();
    format!("tables:\n{tables}")
}

type Answer = oneshot::Sender<Result<String, String>>;

/// The Lambda Runtime API for one function, one invocation at a time, and `POST /invoke` for the
/// emulator: the event is handed to the function and the call returns when it has answered.
#[derive(Default)]
struct Runtime {
    queue: Mutex<VecDeque<(String, String, Answer)>>,
    waiting: Mutex<HashMap<String, Answer>>,
    ready: Notify,
    invocations: std::sync::atomic::AtomicU64,
}

async fn next(State(rt): State<Arc<Runtime>>) -> Response {
    loop {
        let item = rt.queue.lock().await.pop_front();
        if let Some((id, body, answer)) = item {
            rt.waiting.lock().await.insert(id.clone(), answer);
            let mut headers = HeaderMap::new();
            let deadline = (chrono::Utc::now() + chrono::Duration::minutes(15)).timestamp_millis();
            let set = |h: &mut HeaderMap, k: &'static str, v: String| {
                h.insert(k, HeaderValue::from_str(&v).unwrap());
            };
            set(&mut headers, "lambda-runtime-aws-request-id", id);
            set(
                &mut headers,
                "lambda-runtime-deadline-ms",
                deadline.to_string(),
            );
            set(
                &mut headers,
                "lambda-runtime-invoked-function-arn",
                format!("arn:aws:lambda:us-east-1:{HOME}:function:e2e"),
            );
            set(&mut headers, "lambda-runtime-trace-id", "Root=1-0-0".into());
            return (StatusCode::OK, headers, body).into_response();
        }
        rt.ready.notified().await;
    }
}

async fn answered(
    State(rt): State<Arc<Runtime>>,
    Path((id, kind)): Path<(String, String)>,
    body: Bytes,
) -> StatusCode {
    let text = String::from_utf8_lossy(&body).to_string();
    if let Some(answer) = rt.waiting.lock().await.remove(&id) {
        let _ = answer.send(if kind == "response" {
            Ok(text)
        } else {
            Err(text)
        });
    }
    StatusCode::ACCEPTED
}

async fn invoke(State(rt): State<Arc<Runtime>>, body: Bytes) -> Response {
    let (tx, rx) = oneshot::channel();
    let n = rt
        .invocations
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let id = format!("e2e-{n}");
    rt.queue
        .lock()
        .await
        .push_back((id, String::from_utf8_lossy(&body).to_string(), tx));
    rt.ready.notify_one();
    match tokio::time::timeout(Duration::from_secs(120), rx).await {
        Ok(Ok(Ok(out))) => (StatusCode::OK, out).into_response(),
        Ok(Ok(Err(error))) => (StatusCode::INTERNAL_SERVER_ERROR, error).into_response(),
        _ => (StatusCode::GATEWAY_TIMEOUT, "no answer").into_response(),
    }
}

async fn runtime_api() -> (u16, Arc<Runtime>) {
    let rt = Arc::new(Runtime::default());
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answered))
        .route("/invoke", post(invoke))
        .with_state(Arc::clone(&rt));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, rt)
}

/// A process stopped by its own pid when the test ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The workspace's debug binary of a function (`cargo build --workspace`, as scripts/test runs
/// before the tests, builds it; `cargo test` alone builds only those of crates with integration
/// tests, not compliance-report's).
fn function_binary(name: &str) -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map_or_else(|_| PathBuf::from(ROOT).join("target"), PathBuf::from);
    let path = target.join("debug").join(name);
    assert!(
        path.exists(),
        "{} is missing: run cargo build --workspace first (scripts/test does)",
        path.display()
    );
    path
}

fn start_function(
    name: &str,
    runtime_port: u16,
    moto: &str,
    emulator: &str,
    topic: &str,
) -> Killed {
    start_function_with(name, runtime_port, moto, emulator, topic, &[])
}

fn start_function_with(
    name: &str,
    runtime_port: u16,
    moto: &str,
    emulator: &str,
    topic: &str,
    extra: &[(&str, &str)],
) -> Killed {
    let policy = std::fs::read_to_string(format!("{ROOT}/infra/examples/policy.yaml")).unwrap();
    let child = Command::new(function_binary(name))
        .env_clear()
        .envs(extra.iter().copied())
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("127.0.0.1:{runtime_port}"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "e2e")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", HOME)
        .env("AWS_SECRET_ACCESS_KEY", "e2e")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_ENDPOINT_URL", moto)
        .env("AWS_ENDPOINT_URL_BACKUP", emulator)
        .env("AWS_ENDPOINT_URL_STS", emulator)
        .env("RELAY_POLICY", policy)
        .env("LEDGER_TABLE", "relay-ledger")
        .env("ALERT_TOPIC_ARN", topic)
        .env("EXECUTOR_ROLE_NAME", "backup-relay-executor")
        .env("HOME_ACCOUNT_ID", HOME)
        .env("COPY_ROLE_NAME", "backup-relay-copy")
        // This test asks every chain to complete. At the default 3 attempts, a hop whose copy
        // job fails three times (fail=0.1: about one run in fifty, more often as load changes
        // the emulator's draws) is given up on and alerted through moto's SNS, as designed and
        // tested elsewhere, and the chain stays incomplete.
        .env("MAX_ATTEMPTS", "20")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    Killed(child)
}

async fn moto_account(moto: &MotoServer) -> String {
    let config = moto.sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, Tag,
    };
    relay_tests::create_ledger_table(&ddb, "relay-ledger").await;
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    // The tables the world file backs up, with the tag the first route selects.
    for t in TABLES {
        ddb.create_table()
            .table_name(t)
            .attribute_definitions(attr("id"))
            .key_schema(key("id", KeyType::Hash))
            .billing_mode(BillingMode::PayPerRequest)
            .tags(
                Tag::builder()
                    .key("backup-tier")
                    .value("gold")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    aws_sdk_sns::Client::new(&config)
        .create_topic()
        .name("relay-alerts")
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_string()
}

async fn summary(endpoint: &str) -> Value {
    let url = format!("{endpoint}/_relay/summary");
    tokio::task::spawn_blocking(move || {
        ureq::get(&url)
            .call()
            .ok()
            .and_then(|r| r.into_string().ok())
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Value::Null)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_functions_complete_every_chain_through_the_emulator_and_moto() {
    let moto = MotoServer::start_as(HOME).unwrap();
    let topic = moto_account(&moto).await;
    let dir = std::env::temp_dir().join(format!("relay-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let world_path = dir.join("world.yaml");
    std::fs::write(&world_path, world()).unwrap();

    let (router_port, router_rt) = runtime_api().await;
    let (guard_port, _guard_rt) = runtime_api().await;
    let (reconciler_port, _reconciler_rt) = runtime_api().await;
    let invoke_url = |port: u16| format!("http://127.0.0.1:{port}/invoke");
    let mut emulator = Command::new(RELAY)
        .args([
            "emulate",
            "--port",
            "0",
            "--no-history",
            "--backups-for-hours",
            "48",
        ])
        .args([
            "--speed", "3600", "--seed", SEED, "--faults", FAULTS, "--world",
        ])
        .arg(&world_path)
        .args(["--router-url", &invoke_url(router_port)])
        .args(["--guard-url", &invoke_url(guard_port)])
        .args(["--reconciler-url", &invoke_url(reconciler_port)])
        .current_dir(ROOT)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(emulator.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _emulator = Killed(emulator);
    let endpoint = format!(
        "http://{}",
        line.split("http://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap()
    );
    let _functions = [
        start_function(
            "copy-router",
            router_port,
            &moto.endpoint,
            &endpoint,
            &topic,
        ),
        start_function(
            "retention-guard",
            guard_port,
            &moto.endpoint,
            &endpoint,
            &topic,
        ),
        start_function(
            "reconciler",
            reconciler_port,
            &moto.endpoint,
            &endpoint,
            &topic,
        ),
    ];

    // Two days of backups, then until every chain is complete (about a real minute; the loop
    // ends as soon as it is, so the room left for a loaded machine costs a passing run nothing).
    let started = Instant::now();
    let start = summary(&endpoint).await["now"]
        .as_str()
        .map(str::to_string)
        .unwrap();
    let start = chrono::DateTime::parse_from_rfc3339(&start).unwrap();
    let mut last = Value::Null;
    while started.elapsed() < Duration::from_secs(300) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        last = summary(&endpoint).await;
        let now = chrono::DateTime::parse_from_rfc3339(last["now"].as_str().unwrap_or_default());
        let s = &last["summary"];
        let after_backups = now.is_ok_and(|n| n > start + chrono::Duration::hours(54));
        if after_backups
            && s["chains_total"].as_u64() > Some(0)
            && s["chains_complete"] == s["chains_total"]
            && s["copies_missing_tags"] == 0
        {
            break;
        }
    }
    let s = &last["summary"];
    eprintln!("end to end, after {:?}: {last}", started.elapsed());
    assert!(
        s["chains_total"].as_u64() >= Some(2 * TABLES.len() as u64),
        "{last:#}"
    );
    assert_eq!(s["chains_complete"], s["chains_total"], "{last:#}");
    assert_eq!(s["duplicate_copy_jobs"], 0, "{last:#}");
    assert_eq!(s["chains_incomplete_unalerted"], 0, "{last:#}");
    assert_eq!(s["never_expire_violations"], 0, "{last:#}");
    // Tagged by the real router binary through the SDK: TagResource in each copy's account.
    assert_eq!(s["copies_missing_tags"], 0, "{last:#}");
    assert!(s["tag_calls"].as_u64() > Some(0), "{last:#}");
    assert!(
        s["events_duplicated"].as_u64() > Some(0),
        "the faults were on: {last:#}"
    );
    assert!(
        router_rt
            .invocations
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0
    );

    // What the simulator says of the same world, seed and faults in-process.
    let simulated = Command::new(RELAY)
        .args([
            "simulate", "--days", "2", "--seed", SEED, "--faults", FAULTS, "--json", "--world",
        ])
        .arg(&world_path)
        .current_dir(ROOT)
        .output()
        .unwrap();
    let simulated: Value = serde_json::from_slice(&simulated.stdout).unwrap();
    for key in [
        "chains_total",
        "chains_complete",
        "hops_required",
        "hops_complete",
        "duplicate_copy_jobs",
    ] {
        assert_eq!(
            s[key], simulated[key],
            "{key}: emulated {last:#} simulated {simulated:#}"
        );
    }
    compliance_report_imports_findings_and_puts_change_events(&moto, &endpoint, &topic).await;
    std::fs::remove_dir_all(&dir).ok();
}

/// The real compliance-report binary over the same organisation: its findings land in Security
/// Hub (moto's, the home account's tables) as the report's findings.asff.json holds them, and
/// each change reaches the queue a rule on the bus routes it to.
async fn compliance_report_imports_findings_and_puts_change_events(
    moto: &MotoServer,
    emulator: &str,
    topic: &str,
) {
    let config = moto.sdk_config().await;
    let s3 = aws_sdk_s3::Client::new(&config);
    for bucket in ["relay-reports", "relay-work"] {
        s3.create_bucket().bucket(bucket).send().await.unwrap();
    }
    let hub = aws_sdk_securityhub::Client::new(&config);
    hub.enable_security_hub().send().await.unwrap();
    let url = relay_tests::route_bus_to_queue(
        &config,
        HOME,
        "relay-hub",
        r#"{"source": ["backup-relay"]}"#,
        "changes",
    )
    .await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let (port, _rt) = runtime_api().await;
    let _report = start_function_with(
        "compliance-report",
        port,
        &moto.endpoint,
        emulator,
        topic,
        &[
            ("REPORT_BUCKET", "relay-reports"),
            ("WORK_BUCKET", "relay-work"),
            ("EVENT_BUS_NAME", "relay-hub"),
        ],
    );
    let answer = tokio::task::spawn_blocking(move || {
        ureq::post(&format!("http://127.0.0.1:{port}/invoke"))
            .send_string("{}")
            .map_err(|e| format!("{e:?}"))
            .and_then(|r| r.into_string().map_err(|e| e.to_string()))
    })
    .await
    .unwrap()
    .expect("the report function answers");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    eprintln!("compliance report: {answer}");
    assert!(
        answer["events"].as_u64() > Some(0),
        "a first report has changes: {answer}"
    );
    let file = s3
        .get_object()
        .bucket("relay-reports")
        .key("reports/latest/findings.asff.json")
        .send()
        .await
        .unwrap();
    let body = file.body.collect().await.unwrap().into_bytes();
    let findings: Vec<Value> = serde_json::from_slice(&body).unwrap();
    let home: Vec<&Value> = findings
        .iter()
        .filter(|f| f["AwsAccountId"] == HOME)
        .collect();
    assert!(!home.is_empty(), "{answer}");
    assert_eq!(answer["findings"]["imported"], findings.len(), "{answer}");
    let mut held = Vec::new();
    let mut pages = hub.get_findings().max_results(100).into_paginator().send();
    while let Some(page) = pages.next().await {
        held.extend(
            page.unwrap()
                .findings()
                .iter()
                .map(|f| f.id().unwrap_or_default().to_string()),
        );
    }
    held.sort();
    let mut ids: Vec<String> = home
        .iter()
        .map(|f| f["Id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(held, ids);

    let mut changes = 0;
    for _ in 0..5 {
        let got = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        changes += got.messages().len();
        if changes as u64 >= answer["events"].as_u64().unwrap_or(0) {
            break;
        }
    }
    assert_eq!(answer["events"], changes, "{answer}");
}
