//! `relay cost --vs OTHER`: two projections of the same organisation and prices, and what the
//! other policy costs more or less, month by month.

use serde::Serialize;

use super::{money, MonthCost, Projection};

/// `--json` with `--vs`: `{"policy": {...}, "vs": {...}, "difference": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub policy: Projection,
    pub vs: Projection,
    pub difference: Difference,
}

/// `vs` minus `policy`: negative where the other policy costs less.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    pub months: Vec<MonthDelta>,
    /// Over every projected month.
    #[serde(serialize_with = "money")]
    pub total_cost: f64,
}

/// A month's difference: the same fields as a month's cost, each `vs` minus `policy`.
pub type MonthDelta = MonthCost;

impl Comparison {
    /// Both projections must cover the same months (the same `--months`).
    pub fn of(policy: Projection, vs: Projection) -> Self {
        let months: Vec<MonthDelta> = policy
            .months
            .iter()
            .zip(&vs.months)
            .map(|(a, b)| MonthDelta {
                month: a.month,
                warm_gb: b.warm_gb - a.warm_gb,
                cold_gb: b.cold_gb - a.cold_gb,
                transfer_gb: b.transfer_gb - a.transfer_gb,
                storage_cost: b.storage_cost - a.storage_cost,
                transfer_cost: b.transfer_cost - a.transfer_cost,
                total_cost: b.total_cost - a.total_cost,
            })
            .collect();
        let total_cost = months.iter().map(|m| m.total_cost).sum();
        Self {
            policy,
            vs,
            difference: Difference { months, total_cost },
        }
    }
}
