//! `relay emulate` (contract): the simulated organisation served over HTTP on 127.0.0.1 as AWS
//! Backup's REST-JSON API, for the local loop. It first simulates the history (the functions'
//! code in-process, as `relay simulate` does), then serves with its clock running `speed` times
//! real time: backup plans go on backing up, copy jobs take their time, faults stay on, and the
//! events AWS Backup would emit are delivered to the functions that run outside (a URL each,
//! e.g. `cargo lambda watch`'s invoke endpoint), one at a time, each awaited before the clock
//! moves on.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use relay_sim::world::{Delivery, Target};
use tokio::sync::Mutex;

use crate::{input, runtime, Failure, Prepared, SimArgs};

mod api;
mod copy_jobs;
mod error;
mod request;
mod restores;
mod shapes;
mod tags;
mod tokens;
mod vaults;

#[derive(clap::Args)]
pub(crate) struct EmulateArgs {
    #[command(flatten)]
    pub(crate) sim: SimArgs,
    /// Simulated seconds per real second, 1..=86400.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=86400))]
    pub(crate) speed: u32,
    /// Port on 127.0.0.1 (0: any free port; the first line printed names it).
    #[arg(long, default_value_t = 9566)]
    pub(crate) port: u16,
    /// Where the copy router's events go (POST, JSON): an http:// or https:// URL.
    #[arg(long, value_parser = http_url)]
    pub(crate) router_url: Option<String>,
    /// Where the retention guard's events go.
    #[arg(long, value_parser = http_url)]
    pub(crate) guard_url: Option<String>,
    /// Where the reconciler's hourly scheduled event goes.
    #[arg(long, value_parser = http_url)]
    pub(crate) reconciler_url: Option<String>,
    /// No history: every backup, and every event, happens on the running clock.
    #[arg(long)]
    pub(crate) no_history: bool,
    /// Plans stop backing up this many simulated hours after the clock starts.
    #[arg(long)]
    pub(crate) backups_for_hours: Option<u32>,
}

pub(crate) fn run(args: EmulateArgs) -> Result<(), Failure> {
    let prepared = args.sim.prepare_days(1, Some(chrono::Utc::now()))?;
    let options = Options {
        port: args.port,
        speed: args.speed,
        router_url: args.router_url,
        guard_url: args.guard_url,
        reconciler_url: args.reconciler_url,
        no_history: args.no_history,
        backups_for_hours: args.backups_for_hours,
    };
    serve(prepared, options)
}

/// An http:// or https:// URL with a host: where `relay emulate` delivers events.
fn http_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|e| format!("'{text}' is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "'{text}' is not an http:// or https:// URL with a host"
        ));
    }
    Ok(text.to_string())
}

pub(crate) struct Options {
    pub port: u16,
    /// Simulated seconds per real second.
    pub speed: u32,
    /// Where each target's events go (`None`: nowhere, they are counted as undelivered).
    pub router_url: Option<String>,
    pub guard_url: Option<String>,
    /// Scheduled events for the reconciler, every simulated hour.
    pub reconciler_url: Option<String>,
    /// Skip the in-process history: every event goes to the functions from the first backup.
    pub no_history: bool,
    /// Plans stop backing up this many simulated hours after the clock starts.
    pub backups_for_hours: Option<u32>,
}

pub(crate) fn serve(prepared: Prepared, options: Options) -> Result<(), Failure> {
    let mut simulation = prepared.simulation;
    let rt = runtime()?;
    rt.block_on(async move {
        if !options.no_history {
            simulation.run().await;
        }
        // From here the simulated clock starts at the real time (or where the history ended, if
        // later): the functions read the real clock, and at --speed 1 the two agree.
        let start = chrono::Utc::now();
        let mut running = simulation.keep_running(start);
        if let Some(hours) = options.backups_for_hours {
            let now = simulation.now();
            running = running.backups_until(now + Duration::hours(i64::from(hours)));
        }
        let state = Arc::new(Mutex::new(simulation));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
            .await
            .map_err(|e| input(format!("cannot listen on 127.0.0.1:{}: {e}", options.port)))?;
        let address = listener
            .local_addr()
            .map_err(|e| input(format!("no local address: {e}")))?;
        let now = state.lock().await.now();
        announce(&format!(
            "relay emulate: AWS Backup on http://{address} (simulated clock at {now}, x{})",
            options.speed
        ))?;
        let clock = tokio::spawn(tick(Arc::clone(&state), running, options));
        let served = axum::serve(listener, api::router(state)).await;
        clock.abort();
        served.map_err(|e| Failure::Found(format!("the server stopped: {e}")))
    })
}

/// The first line a wrapper script or test reads: where to send requests.
fn announce(line: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(Failure::Output)
}

/// Once a real second: the clock moves `speed` simulated seconds, and what fell due is delivered
/// in order, each awaited (the functions' calls back into the API are served meanwhile).
async fn tick(
    state: Arc<Mutex<relay_sim::Simulation>>,
    mut running: relay_sim::running::Running,
    options: Options,
) {
    let mut every = tokio::time::interval(StdDuration::from_secs(1));
    let step = Duration::seconds(i64::from(options.speed.max(1)));
    let mut next_hour = state.lock().await.now() + Duration::hours(1);
    loop {
        every.tick().await;
        let (due, now) = {
            let mut sim = state.lock().await;
            let to = sim.now() + step;
            (sim.advance(&mut running, to).await, to)
        };
        for delivery in due {
            deliver(&options, &delivery).await;
        }
        // One scheduled event per simulated hour passed, however fast the clock runs.
        while now >= next_hour {
            next_hour += Duration::hours(1);
            if let Some(url) = &options.reconciler_url {
                let event = serde_json::json!({"version": "0", "id": format!("emulate-{}", now.timestamp()),
                    "detail-type": "Scheduled Event", "source": "aws.events", "time": now.to_rfc3339(),
                    "resources": [], "detail": {}});
                post(url, &event).await;
            }
        }
    }
}

async fn deliver(options: &Options, delivery: &Delivery) {
    let url = match delivery.target {
        Target::CopyRouter => &options.router_url,
        Target::RetentionGuard => &options.guard_url,
    };
    if let Some(url) = url {
        post(url, &delivery.event).await;
    }
}

/// One event to a function. A failed invocation is tried twice more, as Lambda does with an
/// asynchronous one; then it is logged (the reconciler repairs what is lost).
async fn post(url: &str, event: &serde_json::Value) {
    for attempt in 1..=3 {
        if post_once(url, event).await {
            return;
        }
        if attempt == 3 {
            eprintln!("relay emulate: the event went undelivered after 3 attempts");
        }
    }
}

async fn post_once(url: &str, event: &serde_json::Value) -> bool {
    let (url, body) = (url.to_string(), event.to_string());
    let sent = tokio::task::spawn_blocking(move || {
        // Lambda's own limit: a function that never answers must not stop the clock for good.
        ureq::AgentBuilder::new()
            .timeout(StdDuration::from_secs(900))
            .build()
            .post(&url)
            .set("content-type", "application/json")
            .send_string(&body)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await;
    match sent {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            eprintln!("relay emulate: delivery failed: {e}");
            false
        }
        Err(e) => {
            eprintln!("relay emulate: delivery failed: {e}");
            false
        }
    }
}
