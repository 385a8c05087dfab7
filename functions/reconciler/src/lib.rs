//! Lambda (scheduled): repairs what lost events and failed copies left undone.

pub mod handler;
