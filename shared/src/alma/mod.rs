//! Alma REST API client and course cache.
//!
//! One [`AlmaClient`] per run: header auth, JSON, typed errors, one shared token bucket,
//! bounded concurrency, retries on transient failures for GETs only, a stop when the daily
//! quota runs low, and a count of calls made. [`CourseCache`] sits on top and makes sure
//! each year's courses and each course's reading lists are fetched at most once.

mod cache;
mod client;
mod error;
mod model;
mod retry;

pub use cache::{
    AnswerClock, CourseCache, SavedPage, SavedReadingList, SavedReadingLists, SavedYearPages,
    Unsaved,
};
pub use client::{AlmaClient, AlmaClientConfig, JobRuns, MAX_JOB_INSTANCE_PAGES};
pub use error::AlmaError;
pub use model::{
    AlmaCourseRecord, CoursePage, Instructor, JobInstance, JobStatus, JobSummary, MalformedBody,
    ValueDesc,
};
pub use retry::{TransientReason, TransportFailure};
