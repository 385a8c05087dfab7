//! `relay doctor`: the preflight of every account and Region the policy reaches, over the
//! simulated organisation (`--world`) or live AWS (`--live`).

use std::fmt::Write as _;
use std::path::Path;

use relay_doctor::{DoctorReport, Status};

use crate::{out, runtime, Failure, Prepared, SimArgs};

mod live;

#[derive(clap::Args)]
pub(crate) struct DoctorArgs {
    #[command(flatten)]
    pub(crate) sim: SimArgs,
    /// The checks as the contract's JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Check live AWS instead of the simulated organisation: the caller's credentials at home
    /// and the executor role in other accounts.
    #[arg(long, conflicts_with = "world")]
    pub(crate) live: bool,
    /// With --live: the role assumed in member accounts (the spoke's read-only one: the
    /// doctor only reads).
    #[arg(long, default_value = "backup-relay-reader")]
    pub(crate) executor_role: String,
    /// With --live: the hub's event bus ARN the spokes forward to (default: any rule that
    /// sends aws.backup events to an event bus or a Lambda function counts).
    #[arg(long)]
    pub(crate) hub_bus: Option<String>,
    /// With --live: accounts checked at once, one piece each (its calls in series, within the
    /// account's request rates).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) concurrency: u16,
}

pub(crate) fn run(args: DoctorArgs) -> Result<(), Failure> {
    if args.live {
        let hub_bus = args.hub_bus.filter(|b| !b.trim().is_empty());
        return live(
            args.sim.policy.as_deref(),
            &args.executor_role,
            hub_bus,
            usize::from(args.concurrency),
            args.json,
        );
    }
    simulated(args.sim.prepare()?, args.json)
}

/// The checks over live AWS, with the caller's credentials at home and `executor_role` in other
/// accounts.
pub(crate) fn live(
    policy_path: Option<&Path>,
    executor_role: &str,
    hub_bus: Option<String>,
    concurrency: usize,
    json: bool,
) -> Result<(), Failure> {
    let (_, policy) = crate::live::policy(policy_path)?;
    let report = runtime()?.block_on(async {
        // The doctor reads no ledger: the table name is never used.
        let ports = crate::live::ports(executor_role, "").await?;
        let policy = crate::live::expanded(policy, &ports).await?;
        let doctor = live::AwsDoctor { ports, hub_bus };
        Ok::<_, Failure>(relay_doctor::run_with(&doctor, &policy, concurrency).await)
    })?;
    finish(&report, json)
}

pub(crate) fn simulated(prepared: Prepared, json: bool) -> Result<(), Failure> {
    let mut simulation = prepared.simulation;
    let report = runtime()?.block_on(simulation.doctor());
    finish(&report, json)
}

/// Print the checks (the contract's JSON, or a line each), then exit 1 when one failed.
pub(crate) fn finish(report: &DoctorReport, json: bool) -> Result<(), Failure> {
    let text = if json {
        serde_json::to_string_pretty(report)
            .map(|s| s + "\n")
            .map_err(|e| Failure::Found(format!("cannot render the checks: {e}")))?
    } else {
        render(report)
    };
    out(&text)?;
    if report.failed() {
        return Err(Failure::Found(format!(
            "{} check(s) failed",
            report.summary.fail
        )));
    }
    Ok(())
}

fn render(report: &DoctorReport) -> String {
    let mut text = String::new();
    for c in &report.checks {
        let status = match c.status {
            Status::Pass => "pass",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        };
        let place = [c.account.as_str(), c.region.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(
            text,
            "{status}  {:<20} {place} {}: {}",
            c.id, c.subject, c.message
        );
        if !c.fix.is_empty() {
            let _ = writeln!(text, "      fix: {}", c.fix);
        }
    }
    let s = &report.summary;
    let _ = writeln!(
        text,
        "{} passed, {} warnings, {} failed",
        s.pass, s.warn, s.fail
    );
    text
}
