//! `relay cost`: what the policy's protection costs on the organisation a world file describes
//! (its tables' sizes, its backup plans), month by month, at the prices of a prices file; with
//! `--vs`, another policy's cost on the same organisation and the difference. Touches nothing and
//! simulates nothing: the organisation is made as `relay simulate` makes it, then projected.

use std::path::{Path, PathBuf};

use relay_compliance::cost::{
    self, Comparison, Organisation, Prices, DEFAULT_MONTHS, MAX_MONTHS, MAX_PRICES_BYTES,
};
use relay_core::world_file::WorldFile;
use relay_core::Policy;
use relay_sim::scenario::cost_organisation;
use relay_sim::SimOptions;

use crate::simulate::MAX_TABLES;
use crate::{input, load_policy, out, read_limited, Failure, Limit, WORLD_LIMIT};

const PRICES_LIMIT: Limit = Limit {
    what: "prices file",
    bytes: MAX_PRICES_BYTES,
    human: "1 MB",
};

#[derive(clap::Args)]
pub(crate) struct CostArgs {
    /// Policy file (at most 1 MB).
    #[arg(long)]
    policy: PathBuf,
    /// World file (at most 1 MB): the tables (and their sizes) and backup plans; what it leaves
    /// out is made as `relay simulate` makes it.
    #[arg(long)]
    world: Option<PathBuf>,
    /// Prices file (YAML, at most 1 MB); default: the prices that ship (infra/prices.yaml).
    #[arg(long)]
    prices: Option<PathBuf>,
    /// Months to project, 1..=1200.
    #[arg(long, default_value_t = DEFAULT_MONTHS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_MONTHS)))]
    months: u32,
    /// Another policy (at most 1 MB) to project on the same organisation and prices: both are
    /// printed, and the difference (the other minus this one).
    #[arg(long)]
    vs: Option<PathBuf>,
    /// Tables per root vault when the world file lists none (as `simulate --tables`), 1..=10000.
    #[arg(long, default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_TABLES)))]
    tables: u32,
    /// Print one JSON object instead of the tables.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: CostArgs) -> Result<(), Failure> {
    let prices = load_prices(args.prices.as_deref())?;
    let world_text = match &args.world {
        Some(path) => Some((path, read_limited(path, &WORLD_LIMIT)?)),
        None => None,
    };
    let options = SimOptions {
        tables: args.tables,
        ..SimOptions::default()
    };
    // Every input is read and checked before anything is printed.
    let organise = |path: &Path| -> Result<(Policy, Organisation), Failure> {
        let policy = load_policy(path)?;
        let world = match &world_text {
            Some((world_path, text)) => Some(WorldFile::parse(text, &policy).map_err(|e| {
                input(format!(
                    "{} (with {}): {e}",
                    world_path.display(),
                    path.display()
                ))
            })?),
            None => None,
        };
        Ok(cost_organisation(&policy, world.as_ref(), &options))
    };
    let (policy, org) = organise(&args.policy)?;
    let projection = cost::project(&policy, &org, &prices, args.months);
    let text = match &args.vs {
        None if args.json => json(&projection)?,
        None => projection.render(),
        Some(other) => {
            // The what-if is the other policy on the same organisation: the tables and plans
            // the first one found (or generated), not those generated for the other.
            let (other, _) = organise(other)?;
            let org = org.for_policy(&policy, &other);
            let vs = cost::project(&other, &org, &prices, args.months);
            let comparison = Comparison::of(projection, vs);
            if args.json {
                json(&comparison)?
            } else {
                comparison.render()
            }
        }
    };
    out(&text)
}

fn load_prices(path: Option<&Path>) -> Result<Prices, Failure> {
    match path {
        Some(path) => {
            let text = read_limited(path, &PRICES_LIMIT)?;
            Prices::parse(&text).map_err(|e| input(format!("{}: {e}", path.display())))
        }
        None => Prices::shipped().map_err(|e| input(format!("the shipped prices: {e}"))),
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string(value)
        .map(|s| s + "\n")
        .map_err(|e| input(format!("cannot render the projection: {e}")))
}
