//! `relay`: validate a policy, plan what the functions would do with an event, or run the
//! simulated organisation.
//!
//! Exit codes (contract): 0 success; 1 the command ran and found a problem; 2 unusable input
//! (unreadable, invalid, too large), with a message on stderr and nothing on stdout. Output that
//! cannot be written (a full disk, a closed pipe) is exit 1 with a message on stderr: the command
//! ran and could not deliver. A closed pipe is reported like any other write failure rather than
//! ignored, so a pipeline with `set -o pipefail` sees that the output was cut short. Never a panic.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Parser, Subcommand};
use relay_chain::router;
use relay_core::event::MAX_EVENT_BYTES;
use relay_core::plan::Observed;
use relay_core::policy::{Policy, MAX_POLICY_BYTES};
use relay_core::retention::{VaultLock, MIN_DAYS, NEVER_EXPIRE_DAYS};
use relay_core::world_file::WorldFile;
use relay_sim::{Faults, SimOptions, Simulation};

mod doctor;
mod emulate;
mod live;
mod report;
mod restore;

/// The example policy, embedded so `relay simulate` runs with no file at all.
const EXAMPLE_POLICY: &str = include_str!("../../infra/examples/policy.yaml");

/// Bounds of the simulation's size: beyond them a run takes hours or exhausts memory, and the
/// simulated clock leaves the calendar.
const MAX_DAYS: u32 = 3650;
const MAX_TABLES: u32 = 10_000;
/// Events are held back at most a day: longer says nothing more about ordering.
const MAX_REORDER_MINUTES: i64 = 1440;

#[derive(Parser)]
#[command(
    name = "relay",
    version,
    about = "Backup Relay: chained AWS Backup copies for DynamoDB",
    after_help = "Exit codes: 0 success; 1 a problem found, or the output could not be written \
                  (full disk, closed pipe); 2 unusable input (message on stderr, nothing on stdout)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a policy (at most 1 MB): one line per route, or every error (exit 2).
    Validate { policy: PathBuf },
    /// Show, as JSON, what the functions would do with an event. Touches nothing.
    Plan {
        /// Policy file, at most 1 MB.
        #[arg(long)]
        policy: PathBuf,
        /// Event file (EventBridge JSON), at most 256 KB.
        #[arg(long)]
        event: PathBuf,
        /// A tag of the backed-up resource, KEY=VALUE (repeatable).
        #[arg(long = "resource-tag", value_name = "KEY=VALUE")]
        resource_tags: Vec<String>,
        /// An observed vault lock, ALIAS=MIN:MAX in days, 1 <= MIN <= MAX <= 36500 (either side
        /// may be empty; repeatable).
        #[arg(long = "vault-lock", value_name = "ALIAS=MIN:MAX")]
        vault_locks: Vec<String>,
    },
    /// Run a simulated organisation in which the real handler code reacts to AWS Backup's events.
    Simulate {
        #[command(flatten)]
        sim: SimArgs,
        /// Print one JSON object instead of the report.
        #[arg(long)]
        json: bool,
    },
    /// The compliance report of the simulated organisation after the simulation (or of live AWS
    /// with --live): writes OUT/report.json, report.csv and report.html, prints a summary.
    Report {
        #[command(flatten)]
        sim: SimArgs,
        /// Directory for report.json, report.csv and report.html (created when missing).
        #[arg(long)]
        out: PathBuf,
        /// Exit 1 when a table is non-compliant or part of the organisation could not be read.
        #[arg(long)]
        fail_on_noncompliant: bool,
        /// Report on live AWS instead: every account and Region of the policy's vaults, with the
        /// caller's credentials at home and the executor role in member accounts. The simulation
        /// options are then not used.
        #[arg(long, requires = "ledger_table")]
        live: bool,
        /// With --live: the hub's ledger table, for the open incidents.
        #[arg(long)]
        ledger_table: Option<String>,
        /// With --live: the role assumed in member accounts (the spoke's read-only one: a
        /// report only reads).
        #[arg(long, default_value = "backup-relay-reader")]
        executor_role: String,
    },
    /// Preflight every account and Region the policy reaches: roles, vaults, access policies,
    /// keys, locks, Region and organisation settings, event forwarding. Exit 1 when a check
    /// fails; a check that could not run is a warning, never a pass.
    Doctor {
        #[command(flatten)]
        sim: SimArgs,
        /// The checks as the contract's JSON.
        #[arg(long)]
        json: bool,
        /// Check live AWS instead of the simulated organisation: the caller's credentials at home
        /// and the executor role in other accounts.
        #[arg(long, conflicts_with = "world")]
        live: bool,
        /// With --live: the role assumed in member accounts (the spoke's read-only one: the
        /// doctor only reads).
        #[arg(long, default_value = "backup-relay-reader")]
        executor_role: String,
        /// With --live: the hub's event bus ARN the spokes forward to (default: any rule that
        /// sends aws.backup events to an event bus or a Lambda function counts).
        #[arg(long)]
        hub_bus: Option<String>,
    },
    /// Serve the simulated organisation as AWS Backup's REST-JSON API on 127.0.0.1, for the
    /// local loop: first the history (--days, default 1), then the clock runs --speed times real
    /// time and the events AWS Backup emits go to the functions' URLs (e.g. `cargo lambda
    /// watch`'s invoke endpoints). A 12-digit access key id is the account; the Region is the one
    /// the request is signed for. Runs until stopped.
    Emulate {
        #[command(flatten)]
        sim: SimArgs,
        /// Simulated seconds per real second, 1..=86400.
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=86400))]
        speed: u32,
        /// Port on 127.0.0.1 (0: any free port; the first line printed names it).
        #[arg(long, default_value_t = 9566)]
        port: u16,
        /// Where the copy router's events go (POST, JSON): an http:// or https:// URL.
        #[arg(long, value_parser = http_url)]
        router_url: Option<String>,
        /// Where the retention guard's events go.
        #[arg(long, value_parser = http_url)]
        guard_url: Option<String>,
        /// Where the reconciler's hourly scheduled event goes.
        #[arg(long, value_parser = http_url)]
        reconciler_url: Option<String>,
        /// No history: every backup, and every event, happens on the running clock.
        #[arg(long)]
        no_history: bool,
        /// Plans stop backing up this many simulated hours after the clock starts.
        #[arg(long)]
        backups_for_hours: Option<u32>,
    },
    /// Restore a table from its best copy into a new table (copying it back first where it is in
    /// another account or Region), in the simulated organisation after the simulation.
    Restore {
        #[command(flatten)]
        sim: SimArgs,
        /// The table to restore (its ARN).
        #[arg(long)]
        table: String,
        /// The new table's name (never an existing table).
        #[arg(long)]
        target_table: String,
        /// Only copies in this policy vault (alias).
        #[arg(long)]
        from: Option<String>,
        /// The latest copy at or before this time (RFC 3339); the latest by default.
        #[arg(long)]
        at: Option<String>,
        /// Restore into this account (default: the table's own).
        #[arg(long)]
        to_account: Option<String>,
        /// Restore into this Region (default: the table's own).
        #[arg(long)]
        to_region: Option<String>,
        /// Encrypt the new table with this KMS key (default: AWS's default encryption).
        #[arg(long)]
        kms_key: Option<String>,
        /// Print the plan, touch nothing.
        #[arg(long)]
        dry_run: bool,
        /// After the restore, put back what it does not bring (PITR, TTL, the stream, deletion
        /// protection, tags), read from the source table when it still exists.
        #[arg(long)]
        reapply: bool,
        /// The plan as the contract's JSON.
        #[arg(long)]
        json: bool,
        /// Restore on live AWS instead (the caller's credentials, the executor role in other
        /// accounts): copies are looked for among the last 35 days' recovery points (before --at) first.
        #[arg(long)]
        live: bool,
        /// With --live: the role assumed in member accounts.
        #[arg(long, default_value = "backup-relay-executor")]
        executor_role: String,
    },
}

/// The simulated organisation: `simulate` and `report` take the same options.
#[derive(clap::Args)]
struct SimArgs {
    /// Policy file (at most 1 MB); the embedded example policy when omitted.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// World file (at most 1 MB): the organisation to simulate (tables, backup plans, roles,
    /// Regions, vault locks and access, faults); what it leaves out is generated.
    #[arg(long)]
    world: Option<PathBuf>,
    /// Days of backups, 1..=3650 (default 7; `emulate`: 1).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_DAYS)))]
    days: Option<u32>,
    /// Tables per root vault, 1..=10000.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_TABLES)))]
    tables: u32,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Faults, e.g. "lose=0.1,duplicate=0.3,reorder=45,fail=0.05,throttle=0.005", or "none".
    /// Probabilities within 0..=1, reorder in whole minutes within 0..=1440.
    /// Unnamed faults keep their defaults.
    #[arg(long)]
    faults: Option<String>,
    /// A backup plan copy action also copies every backup into the first never_expire vault
    /// with lifecycle "never" (which inherits the source's expiry): work for the retention guard.
    #[arg(long)]
    plan_copy_actions: bool,
}

/// A simulation ready to run, and the policy text it was read from (for the report's digest).
struct Prepared {
    simulation: Simulation,
    policy_text: String,
}

impl SimArgs {
    fn prepare(self) -> Result<Prepared, Failure> {
        self.prepare_days(7, None)
    }

    /// `history_ends`: start the simulated clock so the history ends on this day (the emulator:
    /// its clock then agrees with the functions', which read the real one).
    fn prepare_days(
        self,
        default_days: u32,
        history_ends: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Prepared, Failure> {
        let policy_text = match &self.policy {
            Some(path) => read_limited(path, &POLICY_LIMIT)?,
            None => EXAMPLE_POLICY.to_string(),
        };
        let shown = self
            .policy
            .as_ref()
            .map_or("embedded example policy".into(), |p| {
                p.display().to_string()
            });
        let p = Policy::parse(&policy_text).map_err(|e| input(format!("{shown}: {e}")))?;
        let mut options = SimOptions {
            days: self.days.unwrap_or(default_days),
            start: match history_ends {
                Some(end) => history_start(end, self.days.unwrap_or(default_days)),
                None => SimOptions::default().start,
            },
            tables: self.tables,
            seed: self.seed,
            plan_copy_actions: self.plan_copy_actions,
            ..SimOptions::default()
        };
        let world = match &self.world {
            Some(path) => Some(load_world(path, &p)?),
            None => None,
        };
        // Name by name: the defaults, then what the world file names, then what `--faults` names.
        if let Some(f) = world.as_ref().and_then(|w| w.faults.as_ref()) {
            options.faults = options.faults.with_spec(f);
        }
        if let Some(spec) = &self.faults {
            options.faults = parse_faults(spec, options.faults).map_err(input)?;
        }
        // A progress line only for a person watching: never in a pipe or a log.
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            options.progress = Some(show_progress);
        }
        let simulation = match world {
            // Its faults are in `options` already.
            Some(w) => Simulation::with_world(p, &WorldFile { faults: None, ..w }, options),
            None => Simulation::new(p, options),
        };
        Ok(Prepared {
            simulation,
            policy_text,
        })
    }
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

/// Midnight UTC `days` + 1 days before `end`'s day: a history run drains about a day past its
/// backups, so it ends near `end`.
fn history_start(end: chrono::DateTime<chrono::Utc>, days: u32) -> chrono::DateTime<chrono::Utc> {
    let midnight = end
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(end);
    midnight - chrono::Duration::days(i64::from(days) + 1)
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| input(format!("cannot start the runtime: {e}")))
}

/// Why a command stopped.
enum Failure {
    /// Unusable input: exit 2.
    Input(String),
    /// stdout refused the output: exit 1.
    Output(io::Error),
    /// The command ran and found a problem (its output says what): exit 1.
    Found(String),
}

fn input(message: impl Into<String>) -> Failure {
    Failure::Input(message.into())
}

impl Failure {
    fn report(self) -> ExitCode {
        let (message, code) = match self {
            Failure::Input(message) => (message, 2),
            Failure::Output(e) => (format!("cannot write the output: {e}"), 1),
            Failure::Found(problem) => (problem, 1),
        };
        // stderr may be closed too; then there is nobody left to tell, and no reason to panic.
        let _ = writeln!(io::stderr(), "relay: {message}");
        ExitCode::from(code)
    }
}

/// stdout was closed when the process started (`relay validate P >&-`). Rust's runtime reopens a
/// closed stdout on /dev/null before `main`, so every line would vanish and the command exit 0:
/// this looks first, from a constructor that runs before the runtime.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
#[ctor::ctor(unsafe)]
fn look_whether_stdout_is_open() {
    // SAFETY: F_GETFD reads the descriptor table of this process; it touches no memory of ours.
    let flags = unsafe { libc::fcntl(libc::STDOUT_FILENO, libc::F_GETFD) };
    STDOUT_CLOSED.store(flags == -1, Ordering::Relaxed);
}

fn main() -> ExitCode {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        let closed =
            io::Error::other("stdout is closed, so nothing this command says could be read");
        return Failure::Output(closed).report();
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage(&e),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

/// clap's own answers: --help and --version on stdout (exit 0), usage errors on stderr (exit 2).
/// Printed here rather than by `Cli::parse`, which ignores a failed write.
fn usage(e: &clap::Error) -> ExitCode {
    let printed = e.print().and_then(|()| io::stdout().flush());
    match printed {
        Err(io) if !e.use_stderr() => Failure::Output(io).report(),
        _ => ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2)),
    }
}

/// Everything a command prints goes through here, once, after every check has passed: so a
/// failed command prints nothing on stdout, and a write error is an error, not a panic.
fn out(text: &str) -> Result<(), Failure> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(Failure::Output)
}

/// A size limit on an input file.
struct Limit {
    what: &'static str,
    bytes: usize,
    human: &'static str,
}

const POLICY_LIMIT: Limit = Limit {
    what: "policy",
    bytes: MAX_POLICY_BYTES,
    human: "1 MB",
};

const WORLD_LIMIT: Limit = Limit {
    what: "world file",
    bytes: MAX_POLICY_BYTES,
    human: "1 MB",
};

const EVENT_LIMIT: Limit = Limit {
    what: "event",
    bytes: MAX_EVENT_BYTES,
    human: "256 KB",
};

/// Reads a file of at most `limit.bytes`: a larger regular file is refused from its size before
/// any of it is read, and anything else (a pipe, a device, a file still growing) is read only up
/// to one byte past the limit.
fn read_limited(path: &Path, limit: &Limit) -> Result<String, Failure> {
    let shown = path.display();
    let cannot = |e: io::Error| input(format!("cannot read {shown}: {e}"));
    let too_large = |size: Option<u64>| {
        let size = size.map(|n| format!(" {n} bytes,")).unwrap_or_default();
        input(format!(
            "{shown}: the {} is{size} over the {}-byte ({}) limit",
            limit.what, limit.bytes, limit.human
        ))
    };
    let file = File::open(path).map_err(cannot)?;
    let size = file.metadata().map_err(cannot)?.len();
    let max = u64::try_from(limit.bytes).unwrap_or(u64::MAX);
    if size > max {
        return Err(too_large(Some(size)));
    }
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() > limit.bytes {
        return Err(too_large(None));
    }
    String::from_utf8(bytes)
        .map_err(|e| input(format!("cannot read {shown}: not UTF-8 text ({e})")))
}

fn load_policy(path: &Path) -> Result<Policy, Failure> {
    let text = read_limited(path, &POLICY_LIMIT)?;
    Policy::parse(&text).map_err(|e| input(format!("{}: {e}", path.display())))
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Validate { policy } => validate(&policy),
        Command::Plan {
            policy,
            event,
            resource_tags,
            vault_locks,
        } => plan(&policy, &event, &resource_tags, &vault_locks),
        Command::Simulate { sim, json } => simulate(sim.prepare()?.simulation, json),
        Command::Report {
            sim,
            out,
            fail_on_noncompliant,
            live,
            ledger_table,
            executor_role,
        } => match (live, ledger_table) {
            (true, Some(ledger_table)) => report::live(
                sim.policy.as_deref(),
                &out,
                fail_on_noncompliant,
                report::LiveOptions {
                    ledger_table,
                    executor_role,
                },
            ),
            _ => report::simulated(sim.prepare()?, &out, fail_on_noncompliant),
        },
        Command::Emulate {
            sim,
            speed,
            port,
            router_url,
            guard_url,
            reconciler_url,
            no_history,
            backups_for_hours,
        } => emulate::run(
            sim.prepare_days(1, Some(chrono::Utc::now()))?,
            emulate::Options {
                port,
                speed,
                router_url,
                guard_url,
                reconciler_url,
                no_history,
                backups_for_hours,
            },
        ),
        Command::Doctor {
            sim,
            json,
            live,
            executor_role,
            hub_bus,
        } => {
            if live {
                let hub_bus = hub_bus.filter(|b| !b.trim().is_empty());
                return doctor::live(sim.policy.as_deref(), &executor_role, hub_bus, json);
            }
            doctor::simulated(sim.prepare()?, json)
        }
        Command::Restore {
            sim,
            table,
            target_table,
            from,
            at,
            to_account,
            to_region,
            kms_key,
            dry_run,
            reapply,
            json,
            live,
            executor_role,
        } => {
            let request = restore::request(restore::RequestArgs {
                table,
                target_table,
                from,
                at,
                to_account,
                to_region,
                kms_key,
            })?;
            if live {
                return restore::live(
                    sim.policy.as_deref(),
                    &request,
                    restore::Mode {
                        dry_run,
                        reapply,
                        json,
                    },
                    &executor_role,
                );
            }
            restore::simulated(
                sim.prepare()?,
                &request,
                restore::Mode {
                    dry_run,
                    reapply,
                    json,
                },
            )
        }
    }
}

fn validate(path: &Path) -> Result<(), Failure> {
    let p = load_policy(path)?;
    let by_alias: BTreeMap<&str, _> = p.vaults.iter().map(|v| (v.alias.as_str(), v)).collect();
    let mut text = String::new();
    for r in &p.routes {
        let (Some(from), Some(to)) = (by_alias.get(r.from.as_str()), by_alias.get(r.to.as_str()))
        else {
            continue;
        };
        let kind = match (
            from.arn.account == to.arn.account,
            from.arn.region == to.arn.region,
        ) {
            (true, true) => "same account and Region",
            (true, false) => "cross-Region",
            (false, true) => "cross-account",
            (false, false) => "cross-account, cross-Region",
        };
        let retention = to.retention.map(|r| r.describe()).unwrap_or_default();
        let tags = if r.select.tags.is_empty() {
            String::new()
        } else {
            format!(", tags {:?}", r.select.tags)
        };
        text.push_str(&format!(
            "{}: {}/{} -> {}/{} ({kind}), {retention}, selects {}{tags}\n",
            r.name(),
            from.arn.account,
            from.arn.region,
            to.arn.account,
            to.arn.region,
            r.select.resource_types.join("|")
        ));
    }
    if p.routes.is_empty() {
        // Valid (the retention guard alone keeps never_expire vaults), but worth saying.
        text.push_str(&format!(
            "no routes: nothing is copied; {} vault(s), the never_expire ones kept 36500 days\n",
            p.vaults.len()
        ));
    }
    out(&text)
}

fn plan(
    policy: &Path,
    event: &Path,
    resource_tags: &[String],
    vault_locks: &[String],
) -> Result<(), Failure> {
    let p = load_policy(policy)?;
    let text = read_limited(event, &EVENT_LIMIT)?;
    let raw: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| input(format!("{}: not valid JSON: {e}", event.display())))?;
    let mut observed = Observed::default();
    for tag in resource_tags {
        let (k, v) = tag
            .split_once('=')
            .ok_or_else(|| input(format!("--resource-tag {tag}: expected KEY=VALUE")))?;
        observed.resource_tags.insert(k.to_string(), v.to_string());
    }
    for lock in vault_locks {
        let (alias, lock) = parse_lock(lock).map_err(input)?;
        let vault = p
            .vault(&alias)
            .ok_or_else(|| input(format!("--vault-lock: no vault '{alias}' in the policy")))?;
        observed.vault_locks.insert(vault.arn.clone(), lock);
    }
    let plan = router::plan_only(&raw, &p, &observed)
        .map_err(|e| input(format!("{}: {e}", event.display())))?;
    let json = serde_json::to_string_pretty(&plan)
        .map_err(|e| input(format!("cannot render the plan: {e}")))?;
    out(&format!("{json}\n"))
}

/// One line on stderr, rewritten in place; cleared when the last day (or the drain) begins.
fn show_progress(day: u32, days: u32) {
    let line = if day < days {
        format!("\rsimulating day {} of {days}...", day + 1)
    } else {
        "\r\x1b[2K".to_string()
    };
    // Progress is a courtesy: a stderr that cannot be written is no reason to stop.
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

/// A world file, checked against the policy.
fn load_world(path: &Path, policy: &Policy) -> Result<WorldFile, Failure> {
    let text = read_limited(path, &WORLD_LIMIT)?;
    WorldFile::parse(&text, policy).map_err(|e| input(format!("{}: {e}", path.display())))
}

fn simulate(mut sim: Simulation, json: bool) -> Result<(), Failure> {
    let summary = runtime()?.block_on(sim.run());
    if json {
        let line = serde_json::to_string(&summary)
            .map_err(|e| input(format!("cannot render the summary: {e}")))?;
        out(&format!("{line}\n"))?;
    } else {
        out(&summary.render())?;
    }
    // A pipeline must be able to tell a run that found a problem from one that did not.
    match summary.problems().as_slice() {
        [] => Ok(()),
        problems => Err(Failure::Found(problems.join("; "))),
    }
}

/// `ALIAS=MIN:MAX`, days as a vault lock takes them: 1 <= MIN <= MAX <= 36500, either side may be
/// empty (no bound).
fn parse_lock(spec: &str) -> Result<(String, VaultLock), String> {
    let bad = |why: String| {
        format!("--vault-lock {spec}: {why} (expected ALIAS=MIN:MAX, e.g. bunker=1:3650)")
    };
    let (alias, range) = spec.split_once('=').ok_or_else(|| bad("no '='".into()))?;
    if alias.is_empty() {
        return Err(bad("no vault alias".into()));
    }
    let (min, max) = range
        .split_once(':')
        .ok_or_else(|| bad("no ':' between MIN and MAX".into()))?;
    let days = |s: &str| -> Result<Option<u32>, String> {
        if s.is_empty() {
            return Ok(None);
        }
        match s.parse::<u32>() {
            Ok(d) if (MIN_DAYS..=NEVER_EXPIRE_DAYS).contains(&d) => Ok(Some(d)),
            _ => Err(bad(format!(
                "'{s}' is not a whole number of days within {MIN_DAYS}..={NEVER_EXPIRE_DAYS}"
            ))),
        }
    };
    let (min, max) = (days(min)?, days(max)?);
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            return Err(bad(format!("MIN {lo} is greater than MAX {hi}")));
        }
    }
    let lock = VaultLock {
        min_retention_days: min,
        max_retention_days: max,
    };
    Ok((alias.to_string(), lock))
}

fn parse_faults(spec: &str, mut faults: Faults) -> Result<Faults, String> {
    if spec.trim() == "none" {
        return Ok(Faults::none());
    }
    let mut seen = BTreeSet::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("--faults {part}: expected NAME=VALUE"))?;
        // deny_account may name several accounts, one each time.
        if k != "deny_account" && !seen.insert(k) {
            return Err(format!("--faults: '{k}' given twice"));
        }
        match k {
            "lose" => faults.lose = probability(part, v)?,
            "duplicate" => faults.duplicate = probability(part, v)?,
            "fail" => faults.copy_failure = probability(part, v)?,
            "throttle" => faults.throttle = probability(part, v)?,
            "reorder" => faults.reorder_minutes = reorder_minutes(part, v)?,
            "deny_account" if relay_core::arn::is_account_id(v.trim()) && v.trim().len() == 12 => {
                faults.deny_account.insert(v.trim().to_string());
            }
            "deny_account" => {
                return Err(format!(
                    "--faults {part}: deny_account takes a 12-digit account id"
                ))
            }
            other => {
                return Err(format!(
                    "--faults: unknown fault '{other}' (lose, duplicate, reorder, fail, throttle, deny_account)"
                ))
            }
        }
    }
    Ok(faults)
}

fn probability(part: &str, v: &str) -> Result<f64, String> {
    match v.trim().parse::<f64>() {
        // NaN and infinities fail the range test too.
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        Ok(_) => Err(format!(
            "--faults {part}: a probability must be within 0..=1"
        )),
        Err(_) => Err(format!("--faults {part}: {v} is not a number")),
    }
}

fn reorder_minutes(part: &str, v: &str) -> Result<i64, String> {
    match v.trim().parse::<i64>() {
        Ok(m) if (0..=MAX_REORDER_MINUTES).contains(&m) => Ok(m),
        _ => Err(format!(
            "--faults {part}: reorder is whole minutes within 0..={MAX_REORDER_MINUTES}"
        )),
    }
}
