//! Lambda: chains the next copy when a backup or copy job completes, records failed copies.

pub mod handler;
