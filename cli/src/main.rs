//! `relay`: validate a policy, plan what the functions would do with an event, or run the
//! simulated organisation.
//!
//! Exit codes (contract): 0 success; 1 the command ran and found a problem; 2 unusable input
//! (unreadable, invalid, too large), with a message on stderr and nothing on stdout. Output that
//! cannot be written (a full disk, a closed pipe) is exit 1 with a message on stderr: the command
//! ran and could not deliver. A closed pipe is reported like any other write failure rather than
//! ignored, so a pipeline with `set -o pipefail` sees that the output was cut short. Never a panic.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Parser, Subcommand};
use relay_core::event::MAX_EVENT_BYTES;
use relay_core::policy::{Policy, MAX_POLICY_BYTES};

mod cost;
mod doctor;
mod emulate;
mod live;
mod plan;
mod report;
mod restore;
mod simulate;
mod validate;

use simulate::{Prepared, SimArgs};

/// The example policy, embedded so `relay simulate` runs with no file at all.
const EXAMPLE_POLICY: &str = include_str!("../../infra/examples/policy.yaml");

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
    Plan(plan::PlanArgs),
    /// Run a simulated organisation in which the real handler code reacts to AWS Backup's events.
    Simulate(simulate::SimulateArgs),
    /// The compliance report of the simulated organisation after the simulation (or of live AWS
    /// with --live): writes OUT/report.json, report.csv and report.html, prints a summary.
    Report(report::ReportArgs),
    /// Preflight every account and Region the policy reaches: roles, vaults, access policies,
    /// keys, locks, Region and organisation settings, event forwarding. Exit 1 when a check
    /// fails; a check that could not run is a warning, never a pass.
    Doctor(doctor::DoctorArgs),
    /// Serve the simulated organisation as AWS Backup's REST-JSON API on 127.0.0.1, for the
    /// local loop: first the history (--days, default 1), then the clock runs --speed times real
    /// time and the events AWS Backup emits go to the functions' URLs (e.g. `cargo lambda
    /// watch`'s invoke endpoints). A 12-digit access key id is the account; the Region is the one
    /// the request is signed for. Runs until stopped.
    Emulate(emulate::EmulateArgs),
    /// What the policy's protection costs on the organisation a world file describes (its
    /// tables' sizes, its backup plans), month by month, at a prices file's prices; with --vs,
    /// another policy's cost and the difference. Simulates nothing, touches nothing.
    Cost(cost::CostArgs),
    /// Restore a table from its best copy into a new table (copying it back first where it is in
    /// another account or Region), in the simulated organisation after the simulation.
    Restore(restore::RestoreArgs),
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
#[allow(unsafe_code)] // a constructor before main, and one fcntl(2): the only unsafe code we have
#[ctor::ctor(unsafe)]
fn look_whether_stdout_is_open() {
    // SAFETY: F_GETFD reads the descriptor table of this process; it touches no memory of ours.
    let flags = unsafe { libc::fcntl(libc::STDOUT_FILENO, libc::F_GETFD) };
    STDOUT_CLOSED.store(flags == -1, Ordering::Relaxed);
}

/// Every allocation counted, so that a simulated report run says how much heap each of its
/// invocations held (`relay report --pieces`, run.json). A few atomic operations an allocation.
/// Beneath the count, mimalloc: a simulation at organisation scale makes and drops tens of
/// millions of listed points, and glibc's allocator spent a third of its time on them.
#[global_allocator]
static HEAP: peakmem_alloc::PeakMemAlloc<mimalloc::MiMalloc> =
    peakmem_alloc::PeakMemAlloc::new(mimalloc::MiMalloc);

/// The heap meter of the simulated report run.
pub(crate) fn heap_meter() -> relay_sim::report::HeapMeter {
    use peakmem_alloc::PeakMemAllocTrait;
    relay_sim::report::HeapMeter {
        reset: || HEAP.reset_peak_memory(),
        peak: || HEAP.get_peak_memory(),
    }
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
        Command::Validate { policy } => validate::run(&policy),
        Command::Plan(args) => plan::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Report(args) => report::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Emulate(args) => emulate::run(args),
        Command::Restore(args) => restore::run(args),
        Command::Cost(args) => cost::run(args),
    }
}
