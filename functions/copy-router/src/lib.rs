//! copy-router: chains the next copy when a backup or copy job completes, records failed copies.

pub mod config;
pub mod handler;
