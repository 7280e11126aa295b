//! Starting the simulator and building clients for it.

use std::collections::HashMap;
use std::time::Duration;

use leganto_shared::alma::{AlmaClient, AlmaClientConfig};
use leganto_tests::alma_sim::{AlmaSim, CallRecord, SimOptions};
use secrecy::SecretString;

use crate::sample_courses;

/// The sample day's courses, no per-second limit, no faults.
pub fn sample_options() -> SimOptions {
    SimOptions {
        courses: sample_courses(),
        per_second_limit: None,
        ..SimOptions::default()
    }
}

pub async fn start(opts: SimOptions) -> AlmaSim {
    AlmaSim::start(opts).await.unwrap()
}

/// A fast client for functional tests: the rate is not what is under test.
pub fn config(sim: &AlmaSim) -> AlmaClientConfig {
    let mut cfg = AlmaClientConfig::new(
        sim.base_url(),
        SecretString::from(sim.api_key().to_string()),
    );
    cfg.rate_per_second = 200;
    cfg.timeout = Duration::from_secs(10);
    cfg
}

pub fn client(sim: &AlmaSim) -> AlmaClient {
    AlmaClient::new(config(sim)).unwrap()
}

/// Ids of the fixture's courses of `year`, in fixture order.
pub fn ids_of_year(year: &str) -> Vec<String> {
    sample_courses()
        .into_iter()
        .filter(|c| c.year == year)
        .map(|c| c.id)
        .collect()
}

/// Fixture course id → has reading lists.
pub fn reading_list_truth() -> HashMap<String, bool> {
    sample_courses()
        .into_iter()
        .map(|c| (c.id, c.reading_lists))
        .collect()
}

pub fn count_status(calls: &[CallRecord], status: u16) -> usize {
    calls.iter().filter(|c| c.status == status).count()
}
