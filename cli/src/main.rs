//! `relay`: validate a policy, plan what the functions would do with an event, or run the
//! simulated organisation.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use relay_core::plan::Observed;
use relay_core::policy::Policy;
use relay_core::retention::VaultLock;
use relay_core::router;
use relay_sim::{Faults, SimOptions, Simulation};

/// The example policy, embedded so `relay simulate` runs with no file at all.
const EXAMPLE_POLICY: &str = include_str!("../../infra/examples/policy.yaml");

#[derive(Parser)]
#[command(
    name = "relay",
    version,
    about = "Backup Relay: chained AWS Backup copies for DynamoDB"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a policy: one line per route, or every error (exit 2).
    Validate { policy: PathBuf },
    /// Show, as JSON, what the functions would do with an event. Touches nothing.
    Plan {
        #[arg(long)]
        policy: PathBuf,
        #[arg(long)]
        event: PathBuf,
        /// A tag of the backed-up resource, KEY=VALUE (repeatable).
        #[arg(long = "resource-tag", value_name = "KEY=VALUE")]
        resource_tags: Vec<String>,
        /// An observed vault lock, ALIAS=MIN:MAX (either side may be empty; repeatable).
        #[arg(long = "vault-lock", value_name = "ALIAS=MIN:MAX")]
        vault_locks: Vec<String>,
    },
    /// Run a simulated organisation in which the real handler code reacts to AWS Backup's events.
    Simulate {
        /// Policy file; the embedded example policy when omitted.
        #[arg(long)]
        policy: Option<PathBuf>,
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Tables per root vault.
        #[arg(long, default_value_t = 8)]
        tables: u32,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Faults, e.g. "lose=0.1,duplicate=0.3,reorder=45,fail=0.05,throttle=0.005", or "none".
        /// Unnamed faults keep their defaults.
        #[arg(long)]
        faults: Option<String>,
        /// A backup plan copy action also copies every backup into the first never_expire vault
        /// with lifecycle "never" (which inherits the source's expiry): work for the retention guard.
        #[arg(long)]
        plan_copy_actions: bool,
        /// Print one JSON object instead of the report.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("relay: {message}");
            ExitCode::from(2)
        }
    }
}

fn read(path: &PathBuf) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn load_policy(path: &PathBuf) -> Result<Policy, String> {
    Policy::parse(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Validate { policy } => {
            let p = load_policy(&policy)?;
            for r in &p.routes {
                let (Some(from), Some(to)) = (p.vault(&r.from), p.vault(&r.to)) else {
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
                println!(
                    "{}: {}/{} -> {}/{} ({kind}), {retention}, selects {}{tags}",
                    r.name(),
                    from.arn.account,
                    from.arn.region,
                    to.arn.account,
                    to.arn.region,
                    r.select.resource_types.join("|")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan {
            policy,
            event,
            resource_tags,
            vault_locks,
        } => {
            let p = load_policy(&policy)?;
            let text = read(&event)?;
            let raw: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("{}: not valid JSON: {e}", event.display()))?;
            let mut observed = Observed::default();
            for tag in resource_tags {
                let (k, v) = tag
                    .split_once('=')
                    .ok_or_else(|| format!("--resource-tag {tag}: expected KEY=VALUE"))?;
                observed.resource_tags.insert(k.to_string(), v.to_string());
            }
            for lock in vault_locks {
                let (alias, lock) = parse_lock(&lock)?;
                let vault = p
                    .vault(&alias)
                    .ok_or_else(|| format!("--vault-lock: no vault '{alias}' in the policy"))?;
                observed.vault_locks.insert(vault.arn.clone(), lock);
            }
            let plan = router::plan_only(&raw, &p, &observed)
                .map_err(|e| format!("{}: {e}", event.display()))?;
            let json = serde_json::to_string_pretty(&plan).map_err(|e| e.to_string())?;
            println!("{json}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate {
            policy,
            days,
            tables,
            seed,
            faults,
            plan_copy_actions,
            json,
        } => {
            let p = match &policy {
                Some(path) => load_policy(path)?,
                None => Policy::parse(EXAMPLE_POLICY)
                    .map_err(|e| format!("embedded example policy: {e}"))?,
            };
            let mut options = SimOptions {
                days,
                tables,
                seed,
                plan_copy_actions,
                ..SimOptions::default()
            };
            if let Some(spec) = faults {
                options.faults = parse_faults(&spec, options.faults)?;
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the runtime: {e}"))?;
            let mut sim = Simulation::new(p, options);
            let summary = runtime.block_on(sim.run());
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&summary).map_err(|e| e.to_string())?
                );
            } else {
                print!("{}", summary.render());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse_lock(spec: &str) -> Result<(String, VaultLock), String> {
    let bad = || format!("--vault-lock {spec}: expected ALIAS=MIN:MAX, e.g. bunker=1:3650");
    let (alias, range) = spec.split_once('=').ok_or_else(bad)?;
    let (min, max) = range.split_once(':').ok_or_else(bad)?;
    let days = |s: &str| -> Result<Option<u32>, String> {
        if s.is_empty() {
            Ok(None)
        } else {
            s.parse().map(Some).map_err(|_| bad())
        }
    };
    Ok((
        alias.to_string(),
        VaultLock {
            min_retention_days: days(min)?,
            max_retention_days: days(max)?,
        },
    ))
}

fn parse_faults(spec: &str, mut faults: Faults) -> Result<Faults, String> {
    if spec.trim() == "none" {
        return Ok(Faults::none());
    }
    let mut seen = BTreeMap::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("--faults {part}: expected NAME=VALUE"))?;
        let number: f64 = v
            .parse()
            .map_err(|_| format!("--faults {part}: {v} is not a number"))?;
        let probability = |n: f64| {
            if (0.0..=1.0).contains(&n) {
                Ok(n)
            } else {
                Err(format!(
                    "--faults {part}: a probability must be within 0..=1"
                ))
            }
        };
        match k {
            "lose" => faults.lose = probability(number)?,
            "duplicate" => faults.duplicate = probability(number)?,
            "fail" => faults.copy_failure = probability(number)?,
            "throttle" => faults.throttle = probability(number)?,
            "reorder" if number >= 0.0 => faults.reorder_minutes = number as i64,
            "reorder" => return Err(format!("--faults {part}: minutes cannot be negative")),
            other => {
                return Err(format!(
                    "--faults: unknown fault '{other}' (lose, duplicate, reorder, fail, throttle)"
                ))
            }
        }
        if seen.insert(k.to_string(), ()).is_some() {
            return Err(format!("--faults: '{k}' given twice"));
        }
    }
    Ok(faults)
}
