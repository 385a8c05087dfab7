//! The cost section: this month's cost per account and vault (what the vaults hold, priced), and
//! the next twelve months projected, drawn as an inline SVG bar chart (no external assets).
//! Hooks: `#cost`, `#cost-total`, `tr[data-vault]` with `data-monthly-cost`, `svg#cost-chart`
//! with one `rect[data-month]` per month carrying `data-total`.

use std::fmt::{self, Write as _};

use super::Esc;
use crate::report_cost::ReportCost;
use crate::Report;

const CHART_WIDTH: f64 = 720.0;
const CHART_HEIGHT: f64 = 180.0;
const AXIS: f64 = 20.0;

pub(super) fn cost(out: &mut String, report: &Report) -> fmt::Result {
    let Some(c) = &report.cost else {
        return Ok(());
    };
    let total: f64 = c.by_account.iter().map(|a| a.monthly_cost).sum();
    writeln!(
        out,
        "<section id=\"cost\"><h2>Cost</h2><p>What the vaults hold costs \
         <b id=\"cost-total\">{total:.2}</b> {cur} a month at the prices of {src} (as of {asof}); \
         the backup plans running on, the next twelve months:</p>",
        cur = Esc(&c.currency),
        src = Esc(&c.prices_source),
        asof = Esc(&c.prices_as_of),
    )?;
    chart(out, c)?;
    vaults(out, c)?;
    out.push_str("</section>\n");
    Ok(())
}

fn vaults(out: &mut String, c: &ReportCost) -> fmt::Result {
    out.push_str(
        "<table class=\"cost\"><thead><tr><th>Account</th><th>Vault</th><th>Region</th>\
         <th class=\"num\">Warm GB</th><th class=\"num\">Cold GB</th>\
         <th class=\"num\">A month</th></tr></thead><tbody>\n",
    );
    let mut rows: Vec<_> = c.this_month.iter().collect();
    rows.sort_by(|a, b| (&a.account, &a.vault).cmp(&(&b.account, &b.vault)));
    for v in rows {
        writeln!(
            out,
            "<tr data-vault=\"{arn}\" data-monthly-cost=\"{cost:.2}\"><td class=\"mono\">{acct}</td>\
             <td>{alias}</td><td>{region}</td><td class=\"num\">{warm:.1}</td>\
             <td class=\"num\">{cold:.1}</td><td class=\"num\">{cost:.2}</td></tr>",
            arn = Esc(&v.vault_arn),
            acct = Esc(&v.account),
            alias = Esc(&v.vault),
            region = Esc(&v.region),
            warm = v.warm_gb,
            cold = v.cold_gb,
            cost = v.monthly_cost,
        )?;
    }
    out.push_str("</tbody></table>\n");
    Ok(())
}

/// One bar a month, scaled to the largest; its height is its cost, its title says it in words.
fn chart(out: &mut String, c: &ReportCost) -> fmt::Result {
    let months = &c.projection;
    if months.is_empty() {
        return Ok(());
    }
    let top = months
        .iter()
        .map(|m| m.total_cost)
        .fold(0.0_f64, f64::max)
        .max(0.01);
    let slot = CHART_WIDTH / months.len() as f64;
    writeln!(
        out,
        "<svg id=\"cost-chart\" role=\"img\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\">\
         <title>Projected monthly cost, months 1 to {n}</title>",
        w = CHART_WIDTH,
        h = CHART_HEIGHT + AXIS,
        n = months.len()
    )?;
    for (i, m) in months.iter().enumerate() {
        let height = (m.total_cost / top * CHART_HEIGHT).max(1.0);
        let x = i as f64 * slot;
        writeln!(
            out,
            "<rect data-month=\"{month}\" data-total=\"{total:.2}\" x=\"{x:.1}\" y=\"{y:.1}\" \
             width=\"{bw:.1}\" height=\"{height:.1}\" fill=\"#3b6ea5\"><title>month {month}: \
             {total:.2} {cur}</title></rect><text x=\"{tx:.1}\" y=\"{ty:.1}\" font-size=\"11\" \
             text-anchor=\"middle\">{month}</text>",
            month = m.month,
            total = m.total_cost,
            y = CHART_HEIGHT - height,
            bw = slot * 0.7,
            tx = x + slot * 0.35,
            ty = CHART_HEIGHT + AXIS - 5.0,
            cur = Esc(&c.currency),
        )?;
    }
    out.push_str("</svg>\n");
    Ok(())
}
