//! The daily run's steps, one module per state of the state machine (infra/CONTRACT.md):
//! typed input and output, and a plain async `run(ctx, input)` doing the work.
//!
//! Each Lambda in `functions/<step>` serves one of them with [`serve`]; tests and the local
//! Lambda host call [`handle`] with the same `run`. Both parse the JSON payload, run the
//! step inside a span carrying the run date and execution name (so every log line has
//! them), log the outcome and return the output as JSON or a [`StepError`] whose
//! [`ErrorName`](crate::error::ErrorName) is the stable error name.

pub mod cache_courses;
pub mod check_hold;
pub mod check_job;
mod context;
pub mod email_report;
mod error;
mod lambda;
mod logging;
pub mod notify_slack;
pub mod plan;
pub mod preflight;
pub mod pull;
pub mod push;
pub mod release;
pub mod resume;
pub mod rollover_report;
#[cfg(test)]
mod state_size;
pub mod transform;

pub use context::{Clock, StepContext};
pub use error::StepError;
pub use lambda::{handle, serve, step_stop, within_deadline};
pub use logging::{init_json_logs, json_logs};
// The run's identity lives in the run layer; the steps name it as before.
pub use crate::run::{RunInfo, Stage};
