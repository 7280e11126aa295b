//! The fewest Alma calls the sample day needs, worked out from the fixtures alone (not
//! with the product's code): thin wrappers over `leganto_tests::minimum` for the sample day.

use leganto_shared::domain::ExportProfile;
use leganto_tests::minimum::{rollover_minimum, transform_minimum};

use crate::{read_sample, sample_courses};

/// The sample is a CEM export.
fn cem() -> ExportProfile {
    ExportProfile::default()
}

/// Calls for the transform on the sample day.
pub fn transform_calls() -> u64 {
    transform_minimum(&sample_courses(), &read_sample("cem.csv"), &cem()).expect("sample cem.csv")
}

/// Calls for the rollover report on the sample day.
pub fn rollover_calls() -> u64 {
    rollover_minimum(&sample_courses(), &read_sample("cem.csv"), &cem()).expect("sample cem.csv")
}
