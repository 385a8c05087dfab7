//! `report.html`: one self-contained page (inline CSS and a small inline script, no external
//! assets), read top-down: the verdict, what could not be inventoried, each control, each account,
//! each non-compliant table with its evidence, then every table in a filterable list.
//!
//! Every string from the report is input (table names, tags, AWS error messages) and goes through
//! [`Esc`]. Machine-checkable hooks: `#count-resources`, `#count-compliant`,
//! `#count-non-compliant`, `#count-gaps` (when there are gaps); `[data-control]` with
//! `data-compliant`, `data-non-compliant`, `data-not-applicable`; `[data-account]` with
//! `data-compliant`, `data-non-compliant`; one `tr[data-status]` per table in `#all-tables`.

use std::fmt::{self, Display, Write as _};

use chrono::{DateTime, Utc};

use super::super::tables::{positions_of_non_compliant, Tables};
use super::super::{
    ControlCounts, ControlId, ControlResult, Evidence, Report, ResourceReport, Status,
};
use super::Chunk;

mod cost;

/// Non-compliant tables shown unfolded; past this many the list would bury everything below it.
const OPEN_CARDS: usize = 25;

/// The page.
pub fn html(report: &Report) -> String {
    // One buffer, sized for the usual row, so 10,000 tables stay one linear pass.
    let mut out = String::with_capacity(16 * 1024 + report.resources.len() * 512);
    // A report's own tables are read from memory: no error.
    let non_compliant = positions_of_non_compliant(report.resources.iter().map(|r| r.status));
    let tables = Tables::Listed(&report.resources);
    for chunk in chunks_in(report, tables, non_compliant).flatten() {
        out.push_str(&chunk);
    }
    out
}

/// Writing into a String cannot fail; the Results only carry fmt's signature.
fn piece(write: impl FnOnce(&mut String) -> fmt::Result) -> String {
    let mut out = String::new();
    let _ = write(&mut out);
    out
}

/// The page in pieces, in order: everything above the tables, each non-compliant table's card,
/// the list's head, each table's row, the rest. Joined, they are [`html`]: the merge writes them
/// as they come and never holds the page. `frame` gives everything but the tables (its own are
/// not read); the non-compliant tables (at `non_compliant`) are read for their cards, then every
/// table for its row.
pub(super) fn chunks_in<'a>(
    frame: &'a Report,
    tables: Tables<'a>,
    non_compliant: Vec<usize>,
) -> impl Iterator<Item = Chunk> + 'a {
    let any_failing = !non_compliant.is_empty();
    let cards = tables
        .pick(non_compliant.clone())
        .zip(non_compliant)
        .enumerate()
        .map(move |(before, (r, i))| {
            let r = r?;
            let (first, open) = (before == 0, before < OPEN_CARDS);
            Ok(piece(|out| {
                if first {
                    failing_head(out, frame)?;
                }
                card(out, i, &r, open)
            }))
        });
    let rows = tables.iter().enumerate().map(|(i, r)| {
        let r = r?;
        Ok(piece(|out| table_row(out, i, &r)))
    });
    let count = tables.len();
    std::iter::once(Ok(piece(|out| above_tables(out, frame))))
        .chain(cards)
        .chain(std::iter::once(()).map(move |()| {
            Ok(piece(|out| {
                if any_failing {
                    out.push_str("</section>\n");
                }
                all_tables_head(out, count)
            }))
        }))
        .chain(rows)
        .chain(std::iter::once(Ok(piece(|out| below_tables(out, frame)))))
}

fn above_tables(out: &mut String, report: &Report) -> fmt::Result {
    head(out, report)?;
    out.push_str("<body><main>\n");
    masthead(out, report)?;
    verdict(out, report)?;
    gaps(out, report)?;
    controls(out, report)?;
    accounts(out, report)?;
    cost::cost(out, report)
}

fn below_tables(out: &mut String, report: &Report) -> fmt::Result {
    out.push_str("</tbody></table></section>\n");
    footer(out, report)?;
    out.push_str("</main>\n<script>");
    out.push_str(SCRIPT);
    out.push_str("</script>\n</body></html>\n");
    Ok(())
}

/// HTML-escapes a string as it is written: no copy of the input is made.
struct Esc<'a>(&'a str);

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let mut from = 0;
        for (i, b) in s.bytes().enumerate() {
            let entity = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            // `i` is at an ASCII byte, so both slices end on character boundaries.
            f.write_str(&s[from..i])?;
            f.write_str(entity)?;
            from = i + 1;
        }
        f.write_str(&s[from..])
    }
}

fn date(d: DateTime<Utc>) -> impl Display {
    d.format("%Y-%m-%d %H:%M UTC")
}

fn head(out: &mut String, report: &Report) -> fmt::Result {
    let s = &report.summary;
    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\
         <title>Backup compliance: {} of {} tables compliant</title>\n<style>{STYLE}</style></head>",
        s.compliant, s.resources
    )
}

fn masthead(out: &mut String, report: &Report) -> fmt::Result {
    write!(
        out,
        "<header class=\"top\"><span class=\"brand\">Backup Relay · compliance report</span>\
         <span>generated {}</span></header>\n<nav>",
        date(report.generated_at)
    )?;
    // Links only to the sections this report has.
    let s = &report.summary;
    for (shown, id, label) in [
        (!report.gaps.is_empty(), "gaps", "Not inventoried"),
        (true, "controls", "Controls"),
        (!s.accounts.is_empty(), "accounts", "Accounts"),
        (report.cost.is_some(), "cost", "Cost"),
        (s.non_compliant > 0, "non-compliant", "Non-compliant tables"),
        (true, "tables", "All tables"),
    ] {
        if shown {
            write!(out, "<a href=\"#{id}\">{label}</a>")?;
        }
    }
    out.push_str("</nav>\n");
    Ok(())
}

/// How the page colours the verdict: any failure is red; no failure but an incomplete
/// or empty inventory is amber, since "all compliant" would then claim too much.
fn tone(report: &Report) -> &'static str {
    let s = &report.summary;
    if s.non_compliant > 0 {
        "bad"
    } else if !report.gaps.is_empty() || s.resources == 0 {
        "warn"
    } else {
        "ok"
    }
}

fn verdict(out: &mut String, report: &Report) -> fmt::Result {
    let s = &report.summary;
    let accounts_failing = s.accounts.values().filter(|a| a.non_compliant > 0).count();
    write!(
        out,
        "<section class=\"verdict {}\" id=\"verdict\"><h1><span id=\"count-compliant\">{}</span> \
         of <span id=\"count-resources\">{}</span> tables compliant</h1>\n<p class=\"sub\">\
         <span id=\"count-non-compliant\">{}</span> non-compliant",
        tone(report),
        s.compliant,
        s.resources,
        s.non_compliant
    )?;
    if s.non_compliant > 0 {
        write!(
            out,
            ", in {accounts_failing} of {} accounts",
            s.accounts.len()
        )?;
    }
    out.push_str(". ");
    if s.resources == 0 {
        out.push_str("No DynamoDB table was found where the policy reaches. ");
    }
    if !report.gaps.is_empty() {
        write!(
            out,
            "<a href=\"#gaps\" class=\"gapnote\"><span id=\"count-gaps\">{}</span> \
             {} failed: the report is incomplete.</a>",
            report.gaps.len(),
            if report.gaps.len() == 1 {
                "read"
            } else {
                "reads"
            }
        )?;
    }
    out.push_str("</p>\n");
    bar(out, s.compliant, s.non_compliant, 0)?;
    out.push_str("</section>\n");
    Ok(())
}

/// A stacked bar of compliant / non-compliant / not applicable, each segment its share.
fn bar(out: &mut String, compliant: u64, non_compliant: u64, not_applicable: u64) -> fmt::Result {
    out.push_str("<div class=\"bar\" aria-hidden=\"true\">");
    let total = compliant + non_compliant + not_applicable;
    if total > 0 {
        for (class, n) in [
            ("c", compliant),
            ("n", non_compliant),
            ("a", not_applicable),
        ] {
            if n > 0 {
                // Precision loss past 2^53 tables is of no concern for a bar's width.
                let pct = n as f64 * 100.0 / total as f64;
                write!(
                    out,
                    "<span class=\"{class}\" style=\"width:{pct:.3}%\"></span>"
                )?;
            }
        }
    }
    out.push_str("</div>");
    Ok(())
}

fn gaps(out: &mut String, report: &Report) -> fmt::Result {
    if report.gaps.is_empty() {
        return Ok(());
    }
    out.push_str(
        "<section class=\"gaps\" id=\"gaps\"><h2>Not inventoried</h2>\
         <p>These reads failed. Tables behind them are missing from every count on this page.</p>\
         <table><thead><tr><th>Account</th><th>Region</th><th>What</th><th>Error</th></tr>\
         </thead><tbody>\n",
    );
    for g in &report.gaps {
        writeln!(
            out,
            "<tr><td class=\"mono nowrap\">{}</td><td class=\"nowrap\">{}</td><td>{}</td>\
             <td>{}</td></tr>",
            Esc(&g.account),
            Esc(&g.region),
            Esc(&g.what),
            Esc(&g.error)
        )?;
    }
    out.push_str("</tbody></table></section>\n");
    Ok(())
}

const LEGEND: &str = "<p class=\"legend\"><i class=\"c\"></i>compliant <i class=\"n\"></i>\
                      non-compliant <i class=\"a\"></i>not applicable</p>\n";

fn controls(out: &mut String, report: &Report) -> fmt::Result {
    out.push_str("<section id=\"controls\"><h2>Controls</h2>\n");
    out.push_str(LEGEND);
    for id in ControlId::ALL {
        let c = report
            .summary
            .controls
            .get(id.as_str())
            .copied()
            .unwrap_or_default();
        control(out, id, c)?;
    }
    out.push_str("</section>\n");
    Ok(())
}

fn control(out: &mut String, id: ControlId, c: ControlCounts) -> fmt::Result {
    let failing = if c.non_compliant > 0 { " failing" } else { "" };
    write!(
        out,
        "<div class=\"control{failing}\" data-control=\"{id}\" data-compliant=\"{c}\" \
         data-non-compliant=\"{n}\" data-not-applicable=\"{a}\"><div><div class=\"q\">{q}</div>\
         <div class=\"id\">{id}</div></div><div>",
        id = id.as_str(),
        q = Esc(id.question()),
        c = c.compliant,
        n = c.non_compliant,
        a = c.not_applicable,
    )?;
    bar(out, c.compliant, c.non_compliant, c.not_applicable)?;
    writeln!(
        out,
        "<div class=\"counts\"><b>{}</b> compliant · <b{}>{}</b> non-compliant · {} n/a\
         </div></div></div>",
        c.compliant,
        // Red only where there is something to fix.
        if c.non_compliant > 0 {
            " class=\"n\""
        } else {
            ""
        },
        c.non_compliant,
        c.not_applicable
    )
}

fn accounts(out: &mut String, report: &Report) -> fmt::Result {
    let accounts = &report.summary.accounts;
    if accounts.is_empty() {
        return Ok(());
    }
    // The worst account first: that is where someone has work to do.
    let mut rows: Vec<(&String, &ControlCounts)> = accounts.iter().collect();
    rows.sort_by(|a, b| b.1.non_compliant.cmp(&a.1.non_compliant).then(a.0.cmp(b.0)));
    out.push_str(
        "<section id=\"accounts\"><h2>Accounts</h2><table class=\"accounts\"><thead><tr>\
         <th>Account</th><th class=\"num\">Compliant</th><th class=\"num\">Non-compliant</th>\
         <th class=\"wide\"></th></tr></thead><tbody>\n",
    );
    for (account, c) in rows {
        write!(
            out,
            "<tr data-account=\"{a}\" data-compliant=\"{c}\" data-non-compliant=\"{n}\">\
             <td class=\"mono\">{a}</td><td class=\"num\">{c}</td><td class=\"num{bad}\">{n}</td>\
             <td>",
            a = Esc(account),
            c = c.compliant,
            n = c.non_compliant,
            bad = if c.non_compliant > 0 { " bad" } else { "" },
        )?;
        bar(out, c.compliant, c.non_compliant, 0)?;
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody></table></section>\n");
    Ok(())
}

fn failing_head(out: &mut String, report: &Report) -> fmt::Result {
    writeln!(
        out,
        "<section id=\"non-compliant\"><h2>Non-compliant tables \
         <span class=\"muted\">({})</span></h2>",
        report.summary.non_compliant
    )
}

/// One non-compliant table: where it is, then each failing control with reason and evidence.
fn card(out: &mut String, index: usize, r: &ResourceReport, open: bool) -> fmt::Result {
    let failures = r
        .controls
        .iter()
        .filter(|c| c.status == Status::NonCompliant);
    writeln!(
        out,
        "<details class=\"card\" id=\"t-{index}\"{open}><summary><span class=\"name\">{name}</span> \
         <span class=\"where\">{account} · {region}</span> <span class=\"pill bad\">{n} failing</span>\
         </summary><div class=\"arn mono\">{arn}</div>",
        open = if open { " open" } else { "" },
        name = Esc(&r.name),
        account = Esc(&r.account),
        region = Esc(&r.region),
        n = failures.clone().count(),
        arn = Esc(&r.resource_arn),
    )?;
    for c in failures {
        failure(out, c)?;
    }
    out.push_str("</details>\n");
    Ok(())
}

fn failure(out: &mut String, c: &ControlResult) -> fmt::Result {
    write!(
        out,
        "<div class=\"failure\"><div class=\"q\">{q}</div><div class=\"id\">{id}</div>\
         <p class=\"reason\">{reason}</p>",
        q = Esc(c.id.question()),
        id = c.id.as_str(),
        reason = Esc(&c.reason),
    )?;
    if !c.evidence.is_empty() {
        out.push_str(
            "<table class=\"evidence\"><thead><tr><th>Evidence</th><th>Recovery point</th>\
             <th>Vault</th><th>Created</th><th>Deleted at</th></tr></thead><tbody>",
        );
        for e in &c.evidence {
            evidence(out, e)?;
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</div>\n");
    Ok(())
}

fn text(v: &Option<String>) -> Esc<'_> {
    Esc(v.as_deref().unwrap_or("—"))
}

fn evidence(out: &mut String, e: &Evidence) -> fmt::Result {
    out.push_str("<tr>");
    write!(out, "<td>{}</td>", text(&e.detail))?;
    write!(
        out,
        "<td class=\"mono\">{}</td>",
        text(&e.recovery_point_arn)
    )?;
    write!(out, "<td class=\"mono\">{}</td>", text(&e.vault))?;
    for d in [e.creation_date, e.delete_at] {
        match d {
            Some(d) => write!(out, "<td class=\"nowrap\">{}</td>", date(d))?,
            None => out.push_str("<td>—</td>"),
        }
    }
    out.push_str("</tr>");
    Ok(())
}

fn all_tables_head(out: &mut String, count: usize) -> fmt::Result {
    writeln!(
        out,
        "<section id=\"tables\"><h2>All tables <span class=\"muted\">({})</span></h2>\n\
         <div class=\"filter\" id=\"filter-box\" hidden><input id=\"filter\" type=\"search\" \
         placeholder=\"Filter by name, account, Region, status or control\" \
         aria-label=\"Filter tables\"><label><input type=\"checkbox\" id=\"only-bad\"> \
         non-compliant only</label><span id=\"shown\" class=\"muted\"></span></div>\n\
         <table id=\"all-tables\"><colgroup><col class=\"w-name\"><col class=\"w-account\">\
         <col class=\"w-region\"><col class=\"w-status\"><col></colgroup><thead><tr><th>Table\
         </th><th>Account</th><th>Region</th><th>Status</th><th>Failing controls</th></tr></thead>\
         <tbody>",
        count
    )
}

fn table_row(out: &mut String, index: usize, r: &ResourceReport) -> fmt::Result {
    write!(
        out,
        "<tr data-status=\"{status}\" data-arn=\"{arn}\"><td class=\"name\" title=\"{arn}\">{name}\
         </td><td class=\"mono\">{account}</td><td>{region}</td>",
        status = r.status.as_str(),
        arn = Esc(&r.resource_arn),
        name = Esc(&r.name),
        account = Esc(&r.account),
        region = Esc(&r.region),
    )?;
    match r.status {
        Status::NonCompliant => write!(
            out,
            "<td><a class=\"pill bad\" href=\"#t-{index}\">Non-compliant</a></td>"
        )?,
        Status::Compliant => out.push_str("<td><span class=\"pill ok\">Compliant</span></td>"),
        Status::NotApplicable => {
            out.push_str("<td><span class=\"pill\">Not applicable</span></td>")
        }
    }
    out.push_str("<td class=\"ids\">");
    let mut first = true;
    for c in r
        .controls
        .iter()
        .filter(|c| c.status == Status::NonCompliant)
    {
        if !first {
            out.push_str(", ");
        }
        out.push_str(c.id.as_str());
        first = false;
    }
    out.push_str("</td></tr>\n");
    Ok(())
}

fn footer(out: &mut String, report: &Report) -> fmt::Result {
    let p = &report.parameters;
    let opt = |v: Option<u32>| v.map_or("not set".to_string(), |d| d.to_string());
    let list = |v: &[String]| {
        if v.is_empty() {
            "any other".to_string()
        } else {
            v.join(", ")
        }
    };
    writeln!(
        out,
        "<footer><dl>\
         <dt>Generated</dt><dd>{generated}</dd>\
         <dt>Policy digest</dt><dd class=\"mono\">{digest}</dd>\
         <dt>Schema</dt><dd class=\"mono\">{schema}</dd>\
         <dt>Parameters</dt><dd>retention ≥ {ret} days · backup every ≤ {freq} h · newest point \
         ≤ {age} h old · chain deadline {chain} h · Regions: {regions} · accounts: {accts} · \
         vault lock days {lmin}..{lmax} · restore target (minutes): {restore}</dd></dl></footer>",
        generated = date(report.generated_at),
        digest = Esc(&report.policy_digest),
        schema = Esc(&report.schema),
        ret = p.required_retention_days,
        freq = p.required_frequency_hours,
        age = p.recovery_point_max_age_hours,
        chain = p.chain_deadline_hours,
        regions = Esc(&list(&p.cross_region_list)),
        accts = Esc(&list(&p.cross_account_list)),
        lmin = opt(p.vault_lock_min_retention_days),
        lmax = opt(p.vault_lock_max_retention_days),
        restore = opt(p.max_restore_time_minutes),
    )
}

const STYLE: &str = r#"
:root{--ok:#1a7f37;--okbg:#dafbe1;--bad:#cf222e;--badbg:#ffebe9;--warn:#9a6700;--warnbg:#fff8c5;
--na:#c3cbd3;--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;color:var(--ink);background:#fff;
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:20px 28px 64px}
.mono,.id,.ids{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace}
.muted{color:var(--muted);font-weight:400}
header.top{display:flex;justify-content:space-between;color:var(--muted);font-size:13px;
border-bottom:1px solid var(--line);padding-bottom:8px}
header.top .brand{font-weight:600;color:var(--ink)}
nav{font-size:13px;margin-top:6px}nav a{color:var(--muted);margin-right:16px}
.verdict{margin:24px 0 8px;padding:22px 28px;border-radius:12px;border-left:10px solid}
.verdict.ok{background:var(--okbg);border-color:var(--ok)}
.verdict.bad{background:var(--badbg);border-color:var(--bad)}
.verdict.warn{background:var(--warnbg);border-color:var(--warn)}
.verdict h1{margin:0;font-size:42px;line-height:1.15;letter-spacing:-.5px}
.verdict.ok h1{color:var(--ok)}.verdict.bad h1{color:var(--bad)}.verdict.warn h1{color:var(--warn)}
.verdict .sub{margin:6px 0 14px;font-size:18px}
.verdict .bar{height:14px;background:rgba(255,255,255,.7)}
.gapnote{color:var(--warn);font-weight:600}
h2{font-size:20px;margin:36px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
.bar{display:flex;height:10px;border-radius:5px;overflow:hidden;background:#eaeef2}
.bar span{display:block;height:100%}
.c{color:var(--ok)}.n{color:var(--bad)}
.bar .c,.legend .c{background:var(--ok)}.bar .n,.legend .n{background:var(--bad)}
.bar .a,.legend .a{background:var(--na)}
.legend{font-size:13px;color:var(--muted);margin:0 0 4px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 12px}
.legend i:first-child{margin-left:0}
.control{display:grid;grid-template-columns:minmax(0,1fr) 300px;gap:24px;align-items:center;
padding:9px 0 9px 12px;border-bottom:1px solid #eaeef2;border-left:3px solid transparent}
.control.failing{border-left-color:var(--bad)}
.q{font-weight:600}
.id{font-size:12px;color:var(--muted);word-break:break-all}
.counts{font-size:13px;color:var(--muted);margin-top:3px}
table{border-collapse:collapse;width:100%}
th{white-space:nowrap;text-align:left;font-size:12px;text-transform:uppercase;letter-spacing:.4px;color:var(--muted);
font-weight:600;border-bottom:1px solid var(--line);padding:6px 10px}
td{padding:6px 10px;border-bottom:1px solid #eaeef2;vertical-align:top}
.num{text-align:right;font-variant-numeric:tabular-nums;width:9em}
td.bad{color:var(--bad);font-weight:600}
table.accounts td{vertical-align:middle}
th.wide{width:45%}
.gaps{margin:16px 0;padding:4px 22px 16px;background:var(--warnbg);border:1px solid #d4a72c;
border-radius:10px}
.gaps h2{border:0;color:var(--warn);margin-top:14px}
.gaps td{border-color:#eed888}
.card{border:1px solid var(--line);border-left:4px solid var(--bad);border-radius:8px;
margin:10px 0;padding:0 16px}
.card summary{cursor:pointer;padding:10px 0;font-size:16px}
.card .name{font-weight:600}
.where{color:var(--muted);font-size:14px}
.arn{font-size:12px;color:var(--muted);word-break:break-all;margin:-4px 0 6px}
.failure{border-top:1px solid #eaeef2;padding:10px 0}
.reason{margin:4px 0}
table.evidence{font-size:13px;margin:6px 0 4px;background:var(--soft)}
table.evidence td.mono{font-size:12px;word-break:break-all}
table.evidence td:first-child{min-width:11em}
.nowrap{white-space:nowrap}
.pill{display:inline-block;padding:1px 9px;border-radius:10px;font-size:12px;font-weight:600;
background:#eaeef2;color:var(--muted);text-decoration:none;white-space:nowrap}
.pill.ok{background:var(--okbg);color:var(--ok)}.pill.bad{background:var(--badbg);color:var(--bad)}
.filter{display:flex;gap:16px;align-items:center;margin:0 0 10px;font-size:14px}
.filter input[type=search]{flex:1;font:inherit;padding:7px 12px;border:1px solid var(--line);
border-radius:6px}
#all-tables{table-layout:fixed}
#all-tables td{overflow-wrap:anywhere}
#all-tables .w-name{width:26%}#all-tables .w-account{width:9.5em}#all-tables .w-region{width:8em}
#all-tables .w-status{width:8.5em}
#all-tables td.name{font-weight:600}
#all-tables .ids{font-size:12px;color:var(--bad)}
#all-tables tbody tr:hover{background:var(--soft)}
footer{margin-top:40px;padding-top:10px;border-top:1px solid var(--line);font-size:13px;
color:var(--muted)}
footer dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}
footer dt{font-weight:600}footer dd{margin:0;word-break:break-all}
@media print{.filter{display:none}.card{break-inside:avoid}}
"#;

/// The filter of the all-tables list. Without script every row stays visible and the filter box
/// stays hidden, so the page is complete either way.
const SCRIPT: &str = r#"
(function(){
var box=document.getElementById('filter-box'),q=document.getElementById('filter'),
bad=document.getElementById('only-bad'),shown=document.getElementById('shown');
var rows=Array.prototype.map.call(document.querySelectorAll('#all-tables tbody tr'),function(r){
return [r,(r.textContent+' '+r.getAttribute('data-arn')).toLowerCase()];});
function apply(){
var terms=q.value.toLowerCase().split(/\s+/).filter(Boolean),only=bad.checked,n=0;
rows.forEach(function(x){
var show=(!only||x[0].getAttribute('data-status')==='NON_COMPLIANT')&&
terms.every(function(t){return x[1].indexOf(t)>=0;});
x[0].hidden=!show;if(show)n++;});
shown.textContent=n+' of '+rows.length+' shown';}
q.addEventListener('input',apply);bad.addEventListener('change',apply);
box.hidden=false;apply();
})();
"#;

#[cfg(test)]
mod tests;
