//! One module per subcommand.

pub mod decide;
pub mod delete_empty;
pub mod doctor;
pub mod full_load;
pub mod rerun;
pub mod rollover;
pub mod rollovers;
pub mod rules;
pub mod schedule;
pub mod status;
pub mod status_json;
pub mod transform;
