//! Domain rules: CEM reader, institution rules, transform, loader file, rollover report.

pub mod alma_course;

pub use alma_course::AlmaCourse;
