//! One module per subcommand.

pub mod decide;
pub mod delete_empty;
pub mod doctor;
pub mod full_load;
pub mod rerun;
pub mod rollover;
pub mod rules;
pub mod status;
pub mod status_json;
pub mod transform;
