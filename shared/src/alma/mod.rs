//! Alma REST API client and course cache.
//!
//! One [`AlmaClient`] per run: header auth, JSON, typed errors, one shared token bucket,
//! bounded concurrency, retries on transient failures for GETs only, a stop when the daily
//! quota runs low, and a count of calls made. [`CourseCache`] sits on top and makes sure
//! each year's courses and each course's reading lists are fetched at most once. A client
//! may carry a [`Progress`] observer (the command line's bars); the Lambdas set none.

mod cache;
mod client;
mod error;
mod model;
pub(crate) mod progress;
mod retry;

pub use cache::{
    AnswerClock, CourseCache, SavedPage, SavedReadingList, SavedReadingLists, SavedYearPages,
    Unsaved,
};
pub(crate) use client::run_time;
pub use client::{
    year_query, AlmaClient, AlmaClientConfig, JobRuns, MAX_JOB_INSTANCE_PAGES, PAGE_SIZE,
};
pub use error::{AlmaError, TransientReason, TransportFailure};
pub use model::{
    AlmaCourseRecord, CoursePage, Instructor, JobInstance, JobStatus, JobSummary, MalformedBody,
    ReadingListsAnswer, ValueDesc,
};
pub use progress::{Phase, Progress};
