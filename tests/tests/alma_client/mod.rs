//! The Alma client and course cache against the Alma simulator over loopback HTTP.

mod courses;
mod failures;
mod jobs;
mod support;
mod throughput;
