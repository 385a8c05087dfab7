// Test support: a failed helper is meant to fail the test that called it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Shared pieces of the integration tests: a moto server each test starts and stops itself, and
//! the ledger contract that the simulator and the DynamoDB adapter must both honour.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod ledger_contract;

/// Property-test settings: `cases` cases from a fixed seed, so a CI run is reproducible and a
/// failure is the code's, not the draw's. `PROPTEST_CASES` and `PROPTEST_RNG_SEED` explore further
/// (`scripts/explore` runs many seeds).
pub fn property_config(cases: u32) -> proptest::test_runner::Config {
    use proptest::test_runner::{Config, RngSeed};
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(20_261_122);
    }
    // Failing inputs are printed, and pinned as named tests (see promise.rs).
    config.failure_persistence = None;
    config
}

/// Simulation options for a scenario: these days and tables, this seed and these faults.
pub fn sim_options(
    days: u32,
    tables: u32,
    seed: u64,
    faults: relay_sim::Faults,
) -> relay_sim::SimOptions {
    relay_sim::SimOptions {
        days,
        tables,
        seed,
        faults,
        ..relay_sim::SimOptions::default()
    }
}

/// A world file of the example organisation's OU with its two members, and `tables` gold tables
/// in us-east-1, alternating between them (for `infra/examples/organization-policy.yaml`).
pub fn two_member_world(tables: usize, extra: &str) -> String {
    let tables: String = (0..tables)
        .map(|i| {
            let account = if i % 2 == 0 { "100000000001" } else { "100000000002" };
            format!("  - {{ name: table-{i}, account: \"{account}\", region: us-east-1, tags: {{ backup-tier: gold }} }}\n")
        })
        .collect();
    format!(
        "organization:\n  organizational_units:\n    ou-ab12-cdef3456: [\"100000000001\", \"100000000002\"]\n{extra}tables:\n{tables}"
    )
}

/// ListTags calls the simulated AWS has answered (or refused) so far.
pub fn list_tags_calls(sim: &relay_sim::Simulation) -> u64 {
    let w = sim.sim.world();
    w.counters
        .calls_by_operation
        .get("ListTags")
        .copied()
        .unwrap_or(0)
}

/// A moto server on a free loopback port, stopped (by its own process id) when dropped.
pub struct MotoServer {
    child: Child,
    pub endpoint: String,
}

impl MotoServer {
    /// moto's server app, one request at a time (see `tests/moto_serial_server.py` for why), run by
    /// `$MOTO_PYTHON`, else the `python3` on PATH (the test command puts its venv first).
    pub fn start() -> Result<Self, String> {
        Self::launch(None)
    }

    /// moto with `account` as its default account (`MOTO_ACCOUNT_ID`): resources made with
    /// plain test credentials carry that account in their ARNs. (With it set, moto no longer
    /// tells assumed roles' accounts apart: multi-account tests use [`start`](Self::start).)
    pub fn start_as(account: &str) -> Result<Self, String> {
        Self::launch(Some(account))
    }

    fn launch(account: Option<&str>) -> Result<Self, String> {
        let program = std::env::var("MOTO_PYTHON").unwrap_or_else(|_| "python3".to_string());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/moto_serial_server.py");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let mut command = Command::new(&program);
        if let Some(account) = account {
            command.env("MOTO_ACCOUNT_ID", account);
        }
        let child = command
            .args([script, "127.0.0.1", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {program} (run the README's test command, which installs moto): {e}"))?;
        let mut server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "{program} {script} exited at start ({status}): is moto installed for it? \
                     scripts/test installs it into .venv and sets MOTO_PYTHON"
                ));
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = server.child.kill();
        Err(format!(
            "{program} did not listen on port {port} within 60 s"
        ))
    }

    /// An SDK configuration pointed at this server, with dummy credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_credential_types::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await
    }
}

/// moto's account for the credentials [`MotoServer::sdk_config`] signs with.
pub const MOTO_ACCOUNT: &str = "123456789012";

impl MotoServer {
    /// moto's account in us-east-1, where the tests make their resources.
    pub fn location(&self) -> relay_core::arn::Location {
        relay_core::arn::Location {
            partition: "aws".into(),
            account: MOTO_ACCOUNT.into(),
            region: "us-east-1".into(),
        }
    }

    /// The ports as the functions build them, single-account (no role to assume), against moto.
    pub async fn aws_ports(&self) -> relay_aws::AwsPorts {
        let config = self.sdk_config().await;
        relay_aws::AwsPorts {
            ledger: relay_aws::DynamoLedger::new(aws_sdk_dynamodb::Client::new(&config), "unused"),
            pieces: None,
            change_events: None,
            findings_sessions: None,
            alerts: relay_aws::SnsAlerts::new(aws_sdk_sns::Client::new(&config), "unused"),
            sessions: relay_aws::Sessions::new(config, relay_aws::SessionConfig::default()),
        }
    }
}

/// A bus `bus` and a rule on it with `pattern` whose target is a new queue `queue`: as a team
/// routes Backup Relay's change events. Returns the queue's URL.
pub async fn route_bus_to_queue(
    config: &aws_config::SdkConfig,
    account: &str,
    bus: &str,
    pattern: &str,
    queue: &str,
) -> String {
    let events = aws_sdk_eventbridge::Client::new(config);
    let sqs = aws_sdk_sqs::Client::new(config);
    events.create_event_bus().name(bus).send().await.unwrap();
    let url = sqs
        .create_queue()
        .queue_name(queue)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    events
        .put_rule()
        .event_bus_name(bus)
        .name(queue)
        .event_pattern(pattern)
        .send()
        .await
        .unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id(queue)
        .arn(format!("arn:aws:sqs:us-east-1:{account}:{queue}"))
        .build()
        .unwrap();
    events
        .put_targets()
        .event_bus_name(bus)
        .rule(queue)
        .targets(target)
        .send()
        .await
        .unwrap();
    url
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ledger table as infra/template.yaml makes it (`pk` and `sk`, strings), in moto.
pub async fn create_ledger_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("a complete attribute definition")
    };
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .expect("a complete key element")
    };
    client
        .create_table()
        .table_name(name)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("moto creates the ledger table");
}
