//! `relay simulate`, and the simulated organisation every simulating command builds: the policy,
//! the world file, the faults (the defaults, then what the world names, then `--faults`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use relay_core::policy::Policy;
use relay_core::world_file::WorldFile;
use relay_sim::{Faults, SimOptions, Simulation};

use crate::{
    input, out, read_limited, runtime, Failure, EXAMPLE_POLICY, POLICY_LIMIT, WORLD_LIMIT,
};

/// Bounds of the simulation's size: beyond them a run takes hours or exhausts memory, and the
/// simulated clock leaves the calendar.
pub(crate) const MAX_DAYS: u32 = 3650;

pub(crate) const MAX_TABLES: u32 = 10_000;

/// Events are held back at most a day: longer says nothing more about ordering.
pub(crate) const MAX_REORDER_MINUTES: i64 = 1440;

#[derive(clap::Args)]
pub(crate) struct SimulateArgs {
    #[command(flatten)]
    pub(crate) sim: SimArgs,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(args: SimulateArgs) -> Result<(), Failure> {
    simulate(args.sim.prepare()?.simulation, args.json)
}

/// The simulated organisation: `simulate` and `report` take the same options.
#[derive(clap::Args)]
pub(crate) struct SimArgs {
    /// Policy file (at most 1 MB); the embedded example policy when omitted.
    #[arg(long)]
    pub(crate) policy: Option<PathBuf>,
    /// World file (at most 1 MB): the organisation to simulate (tables, backup plans, roles,
    /// Regions, vault locks and access, faults); what it leaves out is generated.
    #[arg(long)]
    pub(crate) world: Option<PathBuf>,
    /// Days of backups, 1..=3650 (default 7; `emulate`: 1).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_DAYS)))]
    pub(crate) days: Option<u32>,
    /// Tables per root vault, 1..=10000.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_TABLES)))]
    pub(crate) tables: u32,
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Faults, e.g. "lose=0.1,duplicate=0.3,reorder=45,fail=0.05,throttle=0.005", or "none".
    /// Probabilities within 0..=1, reorder in whole minutes within 0..=1440.
    /// Unnamed faults keep their defaults.
    #[arg(long)]
    pub(crate) faults: Option<String>,
    /// Reconciler pieces (one per account and Region) run at once, as the hub's queue runs them
    /// (1..=1000); 0: one run over the whole policy. Default: 10 for a policy with vault sets, else 0.
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub(crate) reconcile_concurrency: Option<u32>,
    /// A backup plan copy action also copies every backup into the first never_expire vault
    /// with lifecycle "never" (which inherits the source's expiry): work for the retention guard.
    #[arg(long)]
    pub(crate) plan_copy_actions: bool,
}

/// The hub's reconciler queue runs this many pieces at once (its event source mapping's
/// MaximumConcurrency, infra/template.yaml).
const DEFAULT_RECONCILE_CONCURRENCY: usize = 10;

/// A simulation ready to run, and the policy text it was read from (for the report's digest).
pub(crate) struct Prepared {
    pub(crate) simulation: Simulation,
    pub(crate) policy_text: String,
}

impl SimArgs {
    pub(crate) fn prepare(self) -> Result<Prepared, Failure> {
        self.prepare_days(7, None)
    }

    /// `history_ends`: start the simulated clock so the history ends on this day (the emulator:
    /// its clock then agrees with the functions', which read the real one).
    pub(crate) fn prepare_days(
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
            reconcile_fan_out: match self.reconcile_concurrency {
                Some(0) => None,
                Some(n) => usize::try_from(n).ok(),
                None => (!p.sets.is_empty()).then_some(DEFAULT_RECONCILE_CONCURRENCY),
            },
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
        // Said, not refused: the run is still a run of the world, with fewer points held.
        for short in &simulation.held_short {
            eprintln!("{}", short.warning());
        }
        for ou in &simulation.missing_units {
            eprintln!("warning: the policy names OU {ou}, which the world's organisation does not have: AWS Organizations answers ParentNotFoundException, and the sets of it have no members there (the functions alert this once)");
        }
        Ok(Prepared {
            simulation,
            policy_text,
        })
    }
}

/// Midnight UTC `days` + 1 days before `end`'s day: a history run drains about a day past its
/// backups, so it ends near `end`.
pub(crate) fn history_start(
    end: chrono::DateTime<chrono::Utc>,
    days: u32,
) -> chrono::DateTime<chrono::Utc> {
    let midnight = end
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(end);
    midnight - chrono::Duration::days(i64::from(days) + 1)
}

/// One line on stderr, rewritten in place; cleared when the last day (or the drain) begins.
pub(crate) fn show_progress(day: u32, days: u32) {
    let line = if day < days {
        format!("\rsimulating day {} of {days}...", day + 1)
    } else {
        "\r\x1b[2K".to_string()
    };
    // Progress is a courtesy: a stderr that cannot be written is no reason to stop.
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

/// A world file, checked against the policy.
pub(crate) fn load_world(path: &Path, policy: &Policy) -> Result<WorldFile, Failure> {
    let text = read_limited(path, &WORLD_LIMIT)?;
    WorldFile::parse(&text, policy).map_err(|e| input(format!("{}: {e}", path.display())))
}

pub(crate) fn simulate(mut sim: Simulation, json: bool) -> Result<(), Failure> {
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

pub(crate) fn parse_faults(spec: &str, mut faults: Faults) -> Result<Faults, String> {
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

pub(crate) fn probability(part: &str, v: &str) -> Result<f64, String> {
    match v.trim().parse::<f64>() {
        // NaN and infinities fail the range test too.
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        Ok(_) => Err(format!(
            "--faults {part}: a probability must be within 0..=1"
        )),
        Err(_) => Err(format!("--faults {part}: {v} is not a number")),
    }
}

pub(crate) fn reorder_minutes(part: &str, v: &str) -> Result<i64, String> {
    match v.trim().parse::<i64>() {
        Ok(m) if (0..=MAX_REORDER_MINUTES).contains(&m) => Ok(m),
        _ => Err(format!(
            "--faults {part}: reorder is whole minutes within 0..={MAX_REORDER_MINUTES}"
        )),
    }
}
