//! Domain rules: CEM reader, institution rules and export profile, transform, loader file,
//! rollover report, term coverage.
//! Plain synchronous functions over `io::Read`/`io::Write`; Alma facts come in as data.

pub mod alma_course;
pub mod cem;
pub mod course;
pub mod coverage;
pub mod delta;
pub mod facts;
pub mod loader;
pub mod profile;
pub mod rules;
pub mod run;
pub mod summary;

pub use alma_course::AlmaCourse;
pub use cem::{CemError, RowReject, TextEncoding};
pub use coverage::{coverage_warnings, ExpectedTerm, TermMissing, TermsSeen};
pub use facts::{AlmaFacts, CourseIndex, DeleteGuard};
pub use profile::{ExportProfile, ProfileProblem, Role, StatusMeaning};
pub use rules::{Rules, RulesError, RulesProblem};
pub use run::{rollover_report, scan, transform, RunError, Scan};
pub use summary::RunSummary;

#[cfg(test)]
mod tests;
