//! The Alma client and course cache against the Alma simulator over loopback HTTP.

mod calls_under_the_limit;
mod courses;
mod failures;
mod jobs;
mod support;
