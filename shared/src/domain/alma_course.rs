//! A course as Alma holds it, reduced to what the delete guard and rollover matching need.

use serde::{Deserialize, Serialize};

/// One Alma course. `searchable_ids` is empty when Alma sends none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlmaCourse {
    pub id: String,
    pub code: String,
    pub section: String,
    pub year: String,
    #[serde(default)]
    pub searchable_ids: Vec<String>,
}
