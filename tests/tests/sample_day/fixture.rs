//! The sample day's fixtures and the Alma facts they describe.

use std::collections::HashMap;

use leganto_shared::domain::{AlmaCourse, AlmaFacts, CourseIndex};
use serde::Deserialize;

pub use leganto_tests::support::sample;

pub fn read(name: &str) -> Vec<u8> {
    std::fs::read(sample(name)).expect("sample fixture")
}

#[derive(Debug, Deserialize)]
pub struct FixtureCourse {
    pub id: String,
    pub code: String,
    pub section: String,
    pub year: String,
    #[serde(default)]
    pub searchable_id: Vec<String>,
    pub reading_lists: bool,
}

pub fn fixture_courses() -> Vec<FixtureCourse> {
    serde_json::from_slice(&read("alma_courses.json")).expect("courses fixture")
}

/// Every fact Alma could give for the sample day, straight from the fixture.
pub fn fixture_facts() -> AlmaFacts {
    let fixture = fixture_courses();
    let reading_lists: HashMap<String, bool> = fixture
        .iter()
        .map(|c| (c.id.clone(), c.reading_lists))
        .collect();
    let courses = fixture
        .into_iter()
        .map(|c| AlmaCourse {
            id: c.id,
            code: c.code,
            section: c.section,
            year: c.year,
            searchable_ids: c.searchable_id,
        })
        .collect();
    AlmaFacts {
        courses: CourseIndex::from_courses(courses),
        reading_lists,
    }
}
