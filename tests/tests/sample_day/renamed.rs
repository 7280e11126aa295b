//! The sample day under another institution's names (course-loading.md §9): every header
//! renamed, other status words, US dates, tab-separated, read with a rules file whose
//! `[export]` table maps those names. The same loader file and rollover report byte for
//! byte, and the same run summary (rejects, warnings, counts) as the CEM-named export: a
//! reject names its column by role, whatever the export calls it.

use std::io::Cursor;

use leganto_shared::domain::rules::ASU_RULES_TOML;
use leganto_shared::domain::{rollover_report, transform, DeleteGuard, Rules, RunSummary};
use leganto_shared::steps::transform::rejects_csv;

use super::fixture::fixture_facts;
use crate::read_sample;

/// CEM header → the other export's.
const NAMES: [(&str, &str); 18] = [
    ("CEM_ID", "ROW_ID"),
    ("MYASU_COURSE_IDSTRING", "Course Key"),
    ("COURSE_STATUS", "Request State"),
    ("COURSE_NAME", "Course Title"),
    ("SLN", "CRN"),
    ("ASURITEID", "Instructor ID"),
    ("INSTRUCTOR_TYPE", "Instructor Role"),
    ("COLLEGE_OR_DIVISION_CODE", "College"),
    ("CAMPUS", "Campus Code"),
    ("COURSE_ID", "Subject Number"),
    ("TERM", "Term Code"),
    ("YEAR", "Academic Year"),
    ("START_SYNC_DATE", "Starts On"),
    ("END_SYNC_DATE", "Ends On"),
    ("COPY_COURSE_SLN", "Copy CRN"),
    ("COPY_COURSE_SEMESTER_YEAR", "Copy Year"),
    ("COPY_COURSE_ID", "Copy Subject Number"),
    ("COPY_COURSE_SEMESTER_TERM", "Copy Term"),
];

/// CEM status → the other export's.
const STATUSES: [(&str, &str); 5] = [
    ("APPROVED", "Active"),
    ("COMPLETED", "Closed"),
    ("REQUESTED", "Pending"),
    ("DENIED", "Cancelled"),
    ("SUSPENDED", "On hold"),
];

const EXPORT: &str = r#"
[export]
delimiter = "\t"
date_format = "%m/%d/%Y"

[export.columns]
course_code = "Course Key"
status = "Request State"
title = "Course Title"
section = "CRN"
instructor = "Instructor ID"
college = "College"
campus = "Campus Code"
course_id = "Subject Number"
term = "Term Code"
year = "Academic Year"
start_date = "Starts On"
end_date = "Ends On"
copy_section = "Copy CRN"
copy_year = "Copy Year"
copy_course_id = "Copy Subject Number"
copy_term = "Copy Term"

[export.statuses]
skip = ["Pending"]
delete = ["Cancelled", "On hold"]
"#;

fn other_rules() -> Rules {
    let asu = ASU_RULES_TOML.split("\n[export]").next().unwrap();
    Rules::from_toml(&format!("{asu}\n{EXPORT}"), "other.toml").unwrap()
}

/// `2026-08-20 00:00:00.000000000` → `8/20/2026 12:00 AM`, the way US systems write it.
fn us_date(value: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(value);
    let date = chrono::NaiveDate::parse_from_str(&text[..10], "%Y-%m-%d").unwrap();
    format!("{} 12:00 AM", date.format("%-m/%-d/%Y")).into_bytes()
}

/// The CEM export `cem` as the other institution's system writes it; bytes outside the
/// changed cells (Windows-1252 titles) kept.
fn renamed(cem: &[u8]) -> Vec<u8> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(cem);
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b'\t')
        .flexible(true)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let mut records = reader.byte_records();
    let header = records.next().unwrap().unwrap();
    let at = |name: &str| header.iter().position(|h| h == name.as_bytes()).unwrap();
    let (status, start, end) = (
        at("COURSE_STATUS"),
        at("START_SYNC_DATE"),
        at("END_SYNC_DATE"),
    );
    let names: Vec<&str> = header
        .iter()
        .map(|h| NAMES.iter().find(|(cem, _)| cem.as_bytes() == h).unwrap().1)
        .collect();
    writer.write_record(&names).unwrap();
    for record in records {
        let record = record.unwrap();
        let fields: Vec<Vec<u8>> = record
            .iter()
            .enumerate()
            .map(|(i, f)| match i {
                _ if record.len() != header.len() => f.to_vec(),
                i if i == status => STATUSES
                    .iter()
                    .find(|(cem, _)| cem.as_bytes() == f)
                    .map_or(f.to_vec(), |(_, other)| other.as_bytes().to_vec()),
                i if (i == start || i == end) && f.len() >= 10 => us_date(f),
                _ => f.to_vec(),
            })
            .collect();
        writer.write_record(&fields).unwrap();
    }
    writer.into_inner().unwrap()
}

fn first_difference(got: &[u8], want: &[u8]) -> String {
    let (got, want) = (String::from_utf8_lossy(got), String::from_utf8_lossy(want));
    got.split("\r\n")
        .zip(want.split("\r\n"))
        .enumerate()
        .find(|(_, (g, w))| g != w)
        .map_or("the lengths differ".into(), |(i, (g, w))| {
            format!("line {}:\n got: {g:?}\nwant: {w:?}", i + 1)
        })
}

fn transformed(export: &[u8], rules: &Rules) -> (Vec<u8>, RunSummary) {
    let facts = fixture_facts();
    let mut out = Vec::new();
    let summary = transform(
        &mut Cursor::new(export),
        rules,
        DeleteGuard::Alma(&facts),
        &mut out,
    )
    .unwrap();
    (out, summary)
}

#[test]
fn the_sample_under_other_names_gives_the_expected_loader_file_byte_for_byte() {
    let other = renamed(&read_sample("cem.csv"));
    assert!(other.starts_with(b"ROW_ID\tCourse Key\tRequest State\t"));
    let (out, summary) = transformed(&other, &other_rules());
    let want = read_sample("expected_alma.txt");
    assert!(out == want, "{}", first_difference(&out, &want));
    let (_, cem) = transformed(&read_sample("cem.csv"), &Rules::asu().unwrap());
    assert_eq!(summary, cem, "the same counts, warnings and terms seen");
    assert_eq!(summary.rows_skipped, 134);
}

#[test]
fn the_sample_under_other_names_gives_the_expected_rollover_report_byte_for_byte() {
    let other = renamed(&read_sample("cem.csv"));
    let mut out = Vec::new();
    rollover_report(
        &mut Cursor::new(other),
        &other_rules(),
        &fixture_facts(),
        &mut out,
    )
    .unwrap();
    let want = read_sample("expected_rollover.txt");
    assert!(out == want, "{}", first_difference(&out, &want));
}

#[test]
fn bad_rows_under_other_names_are_the_same_rejects() {
    // Appended to the sample: an empty course code, an empty term, a bad date, a short row.
    let mut cem = read_sample("cem.csv");
    cem.extend_from_slice(
        b"1,,APPROVED,X 1 T,1,a,Primary,AS,TEMPE,X 1,7,2026,2026-08-20 00:00:00.000000000,2026-12-11 00:00:00.000000000,0,,,\r\n\
          2,2026Fall-X-X2-2,APPROVED,X 2 T,2,a,Primary,AS,TEMPE,X 2,,2026,2026-08-20 00:00:00.000000000,2026-12-11 00:00:00.000000000,0,,,\r\n\
          3,2026Fall-X-X3-3,DENIED,X 3 T,3,a,Primary,AS,TEMPE,X 3,7,2026,2026-08-20 00:00:00.000000000,soon,0,,,\r\n\
          4,2026Fall-X-X4-4,APPROVED\r\n",
    );
    let (cem_out, cem_summary) = transformed(&cem, &Rules::asu().unwrap());
    let (out, mut summary) = transformed(&renamed(&cem), &other_rules());
    assert!(out == cem_out, "{}", first_difference(&out, &cem_out));
    assert_eq!(summary.rows_rejected, 4);
    let columns: Vec<Option<&str>> = summary.rejects.iter().map(|r| r.column).collect();
    assert_eq!(
        columns,
        [Some("course_code"), Some("term"), Some("end_date"), None]
    );
    // A bad date's reject says the format the export is read by: the one difference.
    let date_reject = &mut summary.rejects[2].reason;
    assert_eq!(
        date_reject,
        "unparseable date \"soon\" (want MM/DD/YYYY ...)"
    );
    *date_reject = date_reject.replace("MM/DD/YYYY", "YYYY-MM-DD");
    assert_eq!(summary, cem_summary);
    assert_eq!(
        rejects_csv(&summary.rejects).unwrap(),
        rejects_csv(&cem_summary.rejects).unwrap()
    );
}
