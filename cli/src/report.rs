//! `relay report`: the compliance report of the simulated organisation after the simulation.
//! The same evaluation and renderings as the compliance-report function.

use std::fs;
use std::path::{Path, PathBuf};

use relay_compliance::{self as compliance, render, Report, Status};

use crate::{input, out, runtime, Failure, Prepared, SimArgs};

/// Account-Regions inventoried at once over live AWS (each with its own session).
#[derive(clap::Args)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    pub(crate) sim: SimArgs,
    /// Directory for report.json, report.csv, report.html and findings.asff.json (Security Hub's
    /// findings format, ASFF) (created when missing).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Exit 1 when a table is non-compliant or part of the organisation could not be read.
    #[arg(long)]
    pub(crate) fail_on_noncompliant: bool,
    /// Report on live AWS instead: every account and Region of the policy's vaults, with the
    /// caller's credentials at home and the executor role in member accounts. The simulation
    /// options are then not used.
    #[arg(long, requires = "ledger_table")]
    pub(crate) live: bool,
    /// With --live: the hub's ledger table, for the open incidents.
    #[arg(long)]
    pub(crate) ledger_table: Option<String>,
    /// With --live: the role assumed in member accounts (the spoke's read-only one: a
    /// report only reads).
    #[arg(long, default_value = "backup-relay-reader")]
    pub(crate) executor_role: String,
    /// Over the simulation: the report in pieces, as the hub's state machine runs it, this
    /// many at once (1..=64); the run's figures (invocations, the longest, minutes, list pages)
    /// and the simulation's summary go to run.json beside the report.
    #[arg(long, conflicts_with = "live", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) pieces: Option<u16>,
}

pub(crate) fn run(args: ReportArgs) -> Result<(), Failure> {
    match (args.live, args.ledger_table) {
        (true, Some(ledger_table)) => live(
            args.sim.policy.as_deref(),
            &args.out,
            args.fail_on_noncompliant,
            LiveOptions {
                ledger_table,
                executor_role: args.executor_role,
            },
        ),
        _ => simulated(
            args.sim.prepare()?,
            &args.out,
            args.fail_on_noncompliant,
            args.pieces.map(usize::from),
        ),
    }
}

/// Account-Regions inventoried at once over live AWS (each with its own session).
const LIVE_CONCURRENCY: usize = 8;

pub(crate) struct LiveOptions {
    pub ledger_table: String,
    pub executor_role: String,
}

/// The report of live AWS: the same inventory and evaluation as the compliance-report function,
/// with the caller's credentials (and the executor role in other accounts).
pub(crate) fn live(
    policy_path: Option<&Path>,
    dir: &Path,
    fail_on_noncompliant: bool,
    options: LiveOptions,
) -> Result<(), Failure> {
    let (policy_text, policy) = crate::live::policy(policy_path)?;
    let rt = runtime()?;
    let report = rt.block_on(async {
        let ports = crate::live::ports(&options.executor_role, &options.ledger_table).await?;
        let policy = crate::live::expanded(policy, &ports).await?;
        let now = chrono::Utc::now();
        let inv = compliance::inventory::take_inventory(
            &ports,
            &ports.ledger,
            &policy,
            LIVE_CONCURRENCY,
            now,
        )
        .await;
        Ok::<_, Failure>(compliance::evaluate(
            &policy,
            &inv,
            now,
            &compliance::policy_digest(&policy_text),
        ))
    })?;
    write_files(&report, dir)?;
    let mut text = render::summary(&report, SUMMARY_TABLES);
    text.push_str(&format!(
        "Wrote {0}/report.json, {0}/report.csv, {0}/report.html, {0}/findings.asff.json\n",
        dir.display()
    ));
    out(&text)?;
    verdict(&report, fail_on_noncompliant)
}

/// Non-compliant tables the terminal summary lists (the files hold them all).
const SUMMARY_TABLES: usize = 20;

pub(crate) fn simulated(
    prepared: Prepared,
    dir: &Path,
    fail_on_noncompliant: bool,
    pieces: Option<usize>,
) -> Result<(), Failure> {
    let Prepared {
        mut simulation,
        policy_text,
    } = prepared;
    let rt = runtime()?;
    let summary = rt.block_on(simulation.run());
    let digest = compliance::policy_digest(&policy_text);
    let (report, run) = match pieces {
        None => (rt.block_on(simulation.compliance_report(&digest)), None),
        Some(concurrency) => {
            let scratch = Scratch::new()?;
            let parts = relay_compliance::pieces::DirParts::new(&scratch.0);
            let options = relay_sim::report::PieceOptions {
                concurrency,
                heap: Some(crate::heap_meter()),
                ..Default::default()
            };
            let (report, run) =
                rt.block_on(simulation.compliance_report_in_pieces(&digest, &parts, options));
            (report, Some(run))
        }
    };
    write_files(&report, dir)?;
    let mut text = format!(
        "Simulated {} days: {} of {} chains complete.\n",
        summary.days, summary.chains_complete, summary.chains_total
    );
    if let Some(run) = run {
        let both = serde_json::json!({"simulation": &summary, "report": &run});
        let json = serde_json::to_string_pretty(&both)
            .map_err(|e| input(format!("cannot render run.json: {e}")))?;
        let path = dir.join("run.json");
        fs::write(&path, json + "\n")
            .map_err(|e| input(format!("cannot write {}: {e}", path.display())))?;
        text.push_str(&format!(
            "In {} pieces: {} invocations, the longest {:.1} s, {:.1} minutes in all.\n",
            run.pieces, run.invocations, run.longest_invocation_seconds, run.minutes
        ));
        if run.minutes_at_quotas > run.minutes {
            text.push_str(&format!(
                "At AWS's request rates per account and Region, at least {:.1} minutes.\n",
                run.minutes_at_quotas
            ));
        }
    }
    text.push_str(&render::summary(&report, SUMMARY_TABLES));
    text.push_str(&format!(
        "Wrote {0}/report.json, {0}/report.csv, {0}/report.html, {0}/findings.asff.json\n",
        dir.display()
    ));
    out(&text)?;
    verdict(&report, fail_on_noncompliant)
}

/// The parts of a run in pieces, on local disk as S3 keeps them on AWS (an organisation's are
/// gigabytes); removed when the run ends, however it ends.
struct Scratch(PathBuf);

impl Scratch {
    /// A directory no one else made: named by the process and the time, and created, never
    /// reused (a run must not merge another run's parts).
    fn new() -> Result<Self, Failure> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!("relay-parts-{}-{nanos}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        fs::create_dir(&dir).map_err(|e| cannot_write(&dir, e))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort: a leftover directory under the system's temporary one is all it costs.
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Exit 1 for pipelines when asked: a non-compliant table, or a part that could not be read; and
/// always when nothing could be read.
fn verdict(report: &Report, fail_on_noncompliant: bool) -> Result<(), Failure> {
    // A report that read nothing at all is no report: "0 of 0 compliant" is not a pass.
    if report.resources.is_empty() && !report.gaps.is_empty() {
        return Err(Failure::Found(format!(
            "no table could be read: {} parts of the organisation could not be read (see the report's gaps)",
            report.gaps.len()
        )));
    }
    if !fail_on_noncompliant {
        return Ok(());
    }
    let bad = report
        .resources
        .iter()
        .filter(|r| r.status == Status::NonCompliant)
        .count();
    match (bad, report.gaps.len()) {
        (0, 0) => Ok(()),
        (bad, 0) => Err(Failure::Found(format!("{bad} tables are non-compliant"))),
        (bad, gaps) => Err(Failure::Found(format!(
            "{bad} tables are non-compliant and {gaps} parts of the organisation could not be read"
        ))),
    }
}

/// The four files, each rendered, written whole to a temporary name and renamed into place (so a
/// reader never sees half a report), and dropped before the next is rendered.
fn write_files(report: &Report, dir: &Path) -> Result<(), Failure> {
    type Render = fn(&Report) -> Result<String, Failure>;
    let files: [(&str, Render); 4] = [
        ("report.json", |r| {
            render::json(r).map_err(|e| input(format!("cannot render JSON: {e}")))
        }),
        ("report.csv", |r| {
            render::csv(r).map_err(|e| input(format!("cannot render CSV: {e}")))
        }),
        ("report.html", |r| Ok(render::html(r))),
        ("findings.asff.json", |r| {
            serde_json::to_string_pretty(&compliance::findings::findings(r))
                .map(|text| text + "\n")
                .map_err(|e| input(format!("cannot render the findings: {e}")))
        }),
    ];
    fs::create_dir_all(dir).map_err(|e| cannot_write(dir, e))?;
    for (name, rendered) in files {
        let body = rendered(report)?;
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        fs::write(&tmp, body)
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(|e| cannot_write(&path, e))?;
    }
    Ok(())
}

fn cannot_write(path: &Path, e: std::io::Error) -> Failure {
    Failure::Found(format!("cannot write {}: {e}", path.display()))
}
