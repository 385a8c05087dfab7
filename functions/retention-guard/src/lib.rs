//! Lambda: keeps every recovery point in a never_expire vault for 36500 days, or reports why it cannot.

pub mod handler;
