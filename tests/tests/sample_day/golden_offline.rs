//! The sample day with Alma facts built from the fixture: byte-exact expected files.

use std::io::Cursor;

use leganto_shared::domain::{rollover_report, transform, DeleteGuard, Rules};

use super::fixture::fixture_facts;
use crate::read_sample;

fn first_difference(got: &[u8], want: &[u8]) -> String {
    let got = String::from_utf8_lossy(got);
    let want = String::from_utf8_lossy(want);
    for (i, (g, w)) in got.split("\r\n").zip(want.split("\r\n")).enumerate() {
        if g != w {
            return format!("line {}:\n got: {g:?}\nwant: {w:?}", i + 1);
        }
    }
    format!(
        "lengths differ: got {} lines, want {}",
        got.split("\r\n").count(),
        want.split("\r\n").count()
    )
}

#[test]
fn sample_day_transform_with_fixture_facts_matches_expected_loader_file() {
    let rules = Rules::asu().unwrap();
    let facts = fixture_facts();
    let mut out = Vec::new();
    let summary = transform(
        &mut Cursor::new(read_sample("cem.csv")),
        &rules,
        DeleteGuard::Alma(&facts),
        &mut out,
    )
    .unwrap();
    let want = read_sample("expected_alma.txt");
    assert!(out == want, "{}", first_difference(&out, &want));
    assert_eq!(summary.rows_read, 3000);
    assert_eq!(
        summary.courses_written as usize + 1,
        want.split(|&b| b == b'\n').count() - 1
    );
}

#[test]
fn sample_day_rollover_report_with_fixture_facts_matches_expected_report() {
    let rules = Rules::asu().unwrap();
    let facts = fixture_facts();
    let mut out = Vec::new();
    let summary = rollover_report(
        &mut Cursor::new(read_sample("cem.csv")),
        &rules,
        &facts,
        &mut out,
    )
    .unwrap();
    let want = read_sample("expected_rollover.txt");
    assert!(out == want, "{}", first_difference(&out, &want));
    let counts = summary.rollovers.unwrap();
    assert_eq!(
        counts.found as usize + 1,
        want.split(|&b| b == b'\n').count() - 1
    );
}
