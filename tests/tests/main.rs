//! The integration tests: one binary (one link) with a module per area. Every test starts
//! its own peers (simulator, sshd, moto, Slack receiver, stack) on free loopback ports and
//! names its own buckets, secrets and recipients, so tests of all areas run side by side.
//!
//! - `sample_day`, `alma_sim`, `alma_client`: no external services.
//! - `sftp`, `adapters`, `steps`, `infra`, `e2e`: need root (sshd creates system users),
//!   `/usr/sbin/sshd` and `make setup` (`.venv` with moto and cfn-lint, `node_modules` with
//!   asl-validator).
//!
//! One area: `cargo test -p leganto-tests --test integration -- sftp::`.

// Test code: a failed unwrap is a failed test, with the value shown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod adapters;
mod alma_client;
mod alma_sim;
mod e2e;
mod infra;
mod sample_day;
mod sftp;
mod steps;

use leganto_tests::alma_sim::{FixtureCourse, SimOptions};
use leganto_tests::support::sample;

/// One file of the sample day, whole.
pub fn read_sample(name: &str) -> Vec<u8> {
    let path = sample(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The sample day's Alma courses (`alma_courses.json`).
pub fn sample_courses() -> Vec<FixtureCourse> {
    let path = sample("alma_courses.json");
    SimOptions::with_fixture(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .courses
}
