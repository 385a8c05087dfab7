//! `relay cost` without `--json`: the projection as tables a person reads.

use std::fmt::Write;

use super::{Advice, Comparison, MonthCost, Projection};

/// Tables listed in the text (the JSON has every one).
const TABLES_SHOWN: usize = 10;

impl Projection {
    pub fn render(&self) -> String {
        let mut out = self.heading();
        out.push_str(&months_table(&self.months, &self.currency));
        let n = self.months.len();
        let _ = writeln!(out, "\nMonth {n} by vault:");
        let w = self
            .by_vault
            .iter()
            .map(|v| v.vault.len())
            .max()
            .unwrap_or(0)
            .max(8);
        let _ = writeln!(
            out,
            "{:<w$} {:<12} {:<14} {:>12} {:>12} {:>12}",
            "vault", "account", "region", "warm GB", "cold GB", "cost"
        );
        for v in &self.by_vault {
            let _ = writeln!(
                out,
                "{:<w$} {:<12} {:<14} {:>12.1} {:>12.1} {:>12.2}",
                v.vault, v.account, v.region, v.warm_gb, v.cold_gb, v.monthly_cost
            );
        }
        let _ = writeln!(out, "\nMonth {n} by Region:");
        for r in &self.by_region {
            let _ = writeln!(
                out,
                "  {:<14} {:>12.1} GB warm {:>12.1} GB cold {:>12.2} {}",
                r.region, r.warm_gb, r.cold_gb, r.monthly_cost, self.currency
            );
        }
        out.push_str(&self.tables_text());
        out.push_str(&advice_text(&self.cold_tiering_advice, n, &self.currency));
        out
    }

    fn heading(&self) -> String {
        let m = &self.model;
        let n = self.months.len();
        format!(
            "What protection costs over {n} month{} ({}; prices as of {}: {}).\n\
             {} tables ({} GB), {} of them backed up by {} backup plan{}; a month is {} hours.\n\n",
            if n == 1 { "" } else { "s" },
            self.currency,
            self.prices.as_of,
            self.prices.source,
            m.tables,
            m.total_gb,
            m.tables_backed_up,
            m.backup_plans,
            if m.backup_plans == 1 { "" } else { "s" },
            m.hours_per_month,
        )
    }

    fn tables_text(&self) -> String {
        let n = self.months.len();
        let shown = self.by_table.len().min(TABLES_SHOWN);
        let mut out = format!(
            "\nMonth {n}, the costliest tables ({shown} of {}):\n",
            self.by_table.len()
        );
        for t in self.by_table.iter().take(TABLES_SHOWN) {
            let _ = writeln!(
                out,
                "  {:>12.2} {}  {} ({} GB)",
                t.monthly_cost, self.currency, t.resource_arn, t.size_gb
            );
        }
        out
    }
}

/// Of `n` months, those listed: every one up to 24; past that the first year, every twelfth
/// month, and the last.
fn shown(month: u32, n: usize) -> bool {
    n <= 24 || month <= 12 || month.checked_rem(12) == Some(0) || month as usize == n
}

fn months_table(months: &[MonthCost], currency: &str) -> String {
    let mut out = format!(
        "{:>5} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}\n",
        "month", "warm GB", "cold GB", "moved GB", "storage", "transfer", "total"
    );
    let n = months.len();
    for m in months {
        if !shown(m.month, n) {
            continue;
        }
        let _ = writeln!(
            out,
            "{:>5} {:>12.1} {:>12.1} {:>12.1} {:>12.2} {:>12.2} {:>12.2}",
            m.month,
            m.warm_gb,
            m.cold_gb,
            m.transfer_gb,
            m.storage_cost,
            m.transfer_cost,
            m.total_cost
        );
    }
    let total: f64 = months.iter().map(|m| m.total_cost).sum();
    let _ = writeln!(out, "Total over {n} months: {total:.2} {currency}.");
    out
}

fn advice_text(advice: &[Advice], month: usize, currency: &str) -> String {
    if advice.is_empty() {
        return "\nCold tiering: every vault that holds copies moves them to cold storage already.\n"
            .to_string();
    }
    let mut out = format!("\nCold tiering (what a cold transition saves in month {month}):\n");
    for a in advice {
        let at = format!("{} ({}/{})", a.vault, a.account, a.region);
        if let Some(why) = &a.refused {
            let _ = writeln!(out, "  {at}: not advised: {why}.");
            continue;
        }
        let _ = writeln!(out, "  {at}, now {:.2} {currency} a month:", a.monthly_cost);
        for o in &a.options {
            match (&o.refused, o.saves_per_month) {
                (Some(why), _) => {
                    let _ = writeln!(
                        out,
                        "    cold after {} days: not advised: {why}.",
                        o.cold_after_days
                    );
                }
                (None, Some(saves)) => {
                    let _ = writeln!(
                        out,
                        "    cold after {} days: saves {saves:.2} {currency} a month.",
                        o.cold_after_days
                    );
                }
                (None, None) => {}
            }
        }
        if let Some(note) = &a.note {
            let _ = writeln!(out, "    Note: {note}.");
        }
    }
    out
}

impl Comparison {
    pub fn render(&self) -> String {
        let d = &self.difference;
        let mut out = String::from("This policy:\n");
        out.push_str(&self.policy.render());
        out.push_str("\nThe other policy (--vs):\n");
        out.push_str(&self.vs.render());
        let _ = writeln!(
            out,
            "\nDifference (the other policy minus this one; negative: it costs less):\n{:>5} {:>12} {:>12} {:>12} {:>12}",
            "month", "warm GB", "cold GB", "moved GB", "total"
        );
        let n = d.months.len();
        for m in &d.months {
            if !shown(m.month, n) {
                continue;
            }
            let _ = writeln!(
                out,
                "{:>5} {:>+12.1} {:>+12.1} {:>+12.1} {:>+12.2}",
                m.month, m.warm_gb, m.cold_gb, m.transfer_gb, m.total_cost
            );
        }
        let _ = writeln!(
            out,
            "Over {n} months: {:+.2} {}.",
            d.total_cost, self.policy.currency
        );
        out
    }
}
