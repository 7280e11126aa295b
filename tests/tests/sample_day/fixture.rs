//! The Alma facts the sample day's fixture describes.

use std::collections::HashMap;

use leganto_shared::domain::{AlmaCourse, AlmaFacts, CourseIndex};

use crate::sample_courses;

/// Every fact Alma could give for the sample day, straight from the fixture.
pub fn fixture_facts() -> AlmaFacts {
    let fixture = sample_courses();
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
        unclear_reading_lists: Default::default(),
    }
}
