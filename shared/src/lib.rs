//! Course loading for Alma/Leganto.
//!
//! Takes a campus CEM export and Alma's current courses; returns Alma's course loader file,
//! the rollover report and a run summary. Touches Alma (REST API), SFTP servers, S3,
//! Secrets Manager, SES and Slack through the adapters here; the domain rules are plain
//! functions over `io::Read`/`io::Write`.

pub mod alma;
pub mod config;
pub mod csv_safe;
pub mod domain;
pub mod email;
pub mod error;
pub mod next_step;
pub mod ops;
pub mod page;
pub mod pipeline;
pub mod run;
pub mod secrets;
pub mod sftp;
pub mod slack;
pub mod steps;
pub mod store;
