//! The prices file (design.md's contract): a currency, where the prices come from and when they
//! were read, default prices and per-Region overrides field by field. A price that is missing,
//! not a number, negative or not finite, and a field the contract does not name, are refused,
//! each error naming its field.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The largest prices file read (1 MB), as for policies and world files.
pub const MAX_PRICES_BYTES: usize = 1_048_576;

/// The prices that ship (`infra/prices.yaml`): used when no prices file is given.
pub const DEFAULT_PRICES: &str = include_str!("../../../../infra/prices.yaml");

/// Prices per GB: warm and cold storage per GB-month, cross-Region transfer per GB moved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rates {
    pub warm_gb_month: f64,
    pub cold_gb_month: f64,
    pub transfer_gb: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Prices {
    pub currency: String,
    pub as_of: String,
    pub source: String,
    pub default: Rates,
    /// Per Region: the fields it names; the others are the default's.
    pub regions: BTreeMap<String, RegionRates>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionRates {
    pub warm_gb_month: Option<f64>,
    pub cold_gb_month: Option<f64>,
    pub transfer_gb: Option<f64>,
}

/// Every error found in one prices file, each naming its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PricesError(pub Vec<String>);

impl fmt::Display for PricesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid prices file: {}", self.0.join("; "))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    currency: String,
    as_of: String,
    source: String,
    default: DefaultRates,
    #[serde(default)]
    regions: BTreeMap<String, RegionRates>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultRates {
    warm_gb_month: f64,
    cold_gb_month: f64,
    transfer_gb: f64,
}

impl Prices {
    /// YAML or JSON, at most [`MAX_PRICES_BYTES`]. Errors name the field (`default.cold_gb_month`,
    /// `regions.eu-west-1.warm_gb_month`).
    pub fn parse(text: &str) -> Result<Self, PricesError> {
        if text.len() > MAX_PRICES_BYTES {
            return Err(PricesError(vec![format!(
                "{} bytes, over the {MAX_PRICES_BYTES}-byte (1 MB) limit",
                text.len()
            )]));
        }
        let doc: Document =
            serde_norway::from_str(text).map_err(|e| PricesError(vec![e.to_string()]))?;
        let mut errors = Vec::new();
        let default = Rates {
            warm_gb_month: price(
                "default.warm_gb_month",
                doc.default.warm_gb_month,
                &mut errors,
            ),
            cold_gb_month: price(
                "default.cold_gb_month",
                doc.default.cold_gb_month,
                &mut errors,
            ),
            transfer_gb: price("default.transfer_gb", doc.default.transfer_gb, &mut errors),
        };
        for (region, r) in &doc.regions {
            if let Some(problem) = relay_core::regions::region_problem(region) {
                errors.push(format!("regions.{region}: {problem}"));
            }
            let fields = [
                ("warm_gb_month", r.warm_gb_month),
                ("cold_gb_month", r.cold_gb_month),
                ("transfer_gb", r.transfer_gb),
            ];
            for (name, value) in fields {
                if let Some(v) = value {
                    price(&format!("regions.{region}.{name}"), v, &mut errors);
                }
            }
        }
        text_field("currency", &doc.currency, &mut errors);
        text_field("source", &doc.source, &mut errors);
        if chrono::NaiveDate::parse_from_str(&doc.as_of, "%Y-%m-%d").is_err() {
            let as_of = &doc.as_of;
            errors.push(format!("as_of: '{as_of}' is not a date (YYYY-MM-DD)"));
        }
        if !errors.is_empty() {
            return Err(PricesError(errors));
        }
        Ok(Self {
            currency: doc.currency,
            as_of: doc.as_of,
            source: doc.source,
            default,
            regions: doc.regions,
        })
    }

    /// The prices that ship with the binary.
    pub fn shipped() -> Result<Self, PricesError> {
        Self::parse(DEFAULT_PRICES)
    }

    /// The prices in `region`: its own where it names them, else the default's.
    pub fn rates(&self, region: &str) -> Rates {
        let r = self.regions.get(region).copied().unwrap_or_default();
        Rates {
            warm_gb_month: r.warm_gb_month.unwrap_or(self.default.warm_gb_month),
            cold_gb_month: r.cold_gb_month.unwrap_or(self.default.cold_gb_month),
            transfer_gb: r.transfer_gb.unwrap_or(self.default.transfer_gb),
        }
    }
}

/// The dearest price per GB read: far above any AWS price, low enough that a century of an
/// organisation's petabytes stays a finite number (1e308 would print as `null`).
const MAX_PRICE: f64 = 1_000.0;

fn price(field: &str, value: f64, errors: &mut Vec<String>) -> f64 {
    if !value.is_finite() {
        errors.push(format!("{field}: {value} is not a finite number"));
    } else if value < 0.0 {
        errors.push(format!("{field}: {value} is negative"));
    } else if value > MAX_PRICE {
        errors.push(format!("{field}: {value} is over {MAX_PRICE} a GB"));
    }
    value
}

/// Printed to terminals and pages: no control characters (escape sequences), one line.
fn text_field(field: &str, value: &str, errors: &mut Vec<String>) {
    if value.trim().is_empty() {
        errors.push(format!("{field}: must not be empty"));
    } else if value.chars().any(char::is_control) {
        errors.push(format!("{field}: must not hold control characters"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "currency: USD\nas_of: \"2026-11-01\"\nsource: test\n\
        default: { warm_gb_month: 0.10, cold_gb_month: 0.03, transfer_gb: 0.02 }\n\
        regions: { eu-west-1: { warm_gb_month: 0.11 } }\n";

    fn error(text: &str) -> String {
        Prices::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn absurd_prices_and_terminal_escapes_are_refused() {
        let huge = GOOD.replace("transfer_gb: 0.02", "transfer_gb: 1e308");
        let e = error(&huge);
        assert!(
            e.contains("default.transfer_gb:") && e.contains("is over 1000 a GB"),
            "{e}"
        );
        let escape = GOOD.replace("source: test", "source: \"\\e[2Jgone\"");
        assert!(error(&escape).contains("source: must not hold control characters"));
    }

    #[test]
    fn a_region_falls_back_to_the_default_field_by_field() {
        let p = Prices::parse(GOOD).unwrap();
        let eu = p.rates("eu-west-1");
        assert_eq!((eu.warm_gb_month, eu.cold_gb_month), (0.11, 0.03));
        assert_eq!(p.rates("us-east-1"), p.default);
    }

    #[test]
    fn the_shipped_prices_parse() {
        let p = Prices::shipped().unwrap();
        assert_eq!(p.rates("us-east-1").warm_gb_month, 0.10);
        assert!(p.source.starts_with("http"), "{}", p.source);
    }

    #[test]
    fn bad_prices_name_their_field() {
        let negative = GOOD.replace("cold_gb_month: 0.03", "cold_gb_month: -0.03");
        assert!(error(&negative).contains("default.cold_gb_month: -0.03 is negative"));
        let text = GOOD.replace("warm_gb_month: 0.11", "warm_gb_month: cheap");
        assert!(
            error(&text).contains("regions.eu-west-1.warm_gb_month"),
            "{}",
            error(&text)
        );
        let missing = GOOD.replace("transfer_gb: 0.02", "");
        assert!(error(&missing).contains("missing field `transfer_gb`"));
        let unknown = GOOD.replace("source: test", "source: test\ndiscount: 0.5");
        assert!(error(&unknown).contains("unknown field `discount`"));
        let nan = GOOD.replace("0.10", ".nan");
        assert!(error(&nan).contains("default.warm_gb_month: NaN is not a finite number"));
        let region = GOOD.replace("eu-west-1", "moon-base-1");
        assert!(error(&region).contains("regions.moon-base-1"));
        let date = GOOD.replace("2026-11-01", "November");
        assert!(error(&date).contains("as_of: 'November' is not a date"));
        let big = format!("{GOOD}#{}", "x".repeat(MAX_PRICES_BYTES));
        assert!(error(&big).contains("over the 1048576-byte (1 MB) limit"));
    }
}
