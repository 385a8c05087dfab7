//! Lambda (daily and on demand): inventories every account and Region the policy reaches,
//! writes the compliance report to S3, prints its counts as CloudWatch metrics (EMF), and alerts
//! when a table's compliance changed since the previous report.

pub mod handler;
pub mod settings;
