//! `report.html`: one self-contained page (no external assets).

use super::super::Report;

/// The page. (Placeholder layout; the full page is built in its own change.)
pub fn html(report: &Report) -> String {
    let _ = report;
    String::new()
}
