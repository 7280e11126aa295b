//! The sample day as Windows tools write it (issue 17): saved as UTF-16 with a byte order
//! mark it gives the same loader file byte for byte, and one corrupt row costs that row.

use std::io::Cursor;

use leganto_shared::domain::{
    transform, DeleteGuard, ExportProfile, Role, Rules, RunSummary, TextEncoding,
};

use super::fixture::fixture_facts;
use crate::read_sample;

fn transformed(input: &[u8]) -> (Vec<u8>, RunSummary) {
    let rules = Rules::asu().unwrap();
    let facts = fixture_facts();
    let mut out = Vec::new();
    let summary = transform(
        &mut Cursor::new(input),
        &rules,
        DeleteGuard::Alma(&facts),
        &mut out,
    )
    .unwrap();
    (out, summary)
}

/// The sample export's text (it is Windows-1252).
fn sample_text() -> String {
    let bytes = read_sample("cem.csv");
    let (text, had_errors) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&bytes);
    assert!(!had_errors);
    text.into_owned()
}

#[test]
fn the_sample_day_saved_as_utf16_le_or_be_with_a_bom_gives_the_expected_loader_file() {
    let want = read_sample("expected_alma.txt");
    let text = sample_text();
    assert!(!text.is_ascii(), "the sample has accented titles to carry");
    for (bom, encoding, unit) in [
        (
            [0xFF, 0xFE],
            TextEncoding::Utf16Le,
            u16::to_le_bytes as fn(u16) -> [u8; 2],
        ),
        ([0xFE, 0xFF], TextEncoding::Utf16Be, u16::to_be_bytes),
    ] {
        let mut input = bom.to_vec();
        input.extend(text.encode_utf16().flat_map(unit));
        let (out, summary) = transformed(&input);
        assert!(out == want, "{encoding:?}: the loader file differs");
        assert_eq!(summary.input_encoding, Some(encoding));
        assert_eq!(summary.rows_read, 3000);
    }
}

#[test]
fn a_nul_in_one_row_of_the_sample_costs_that_row_and_its_reject_names_the_line() {
    let bytes = read_sample("cem.csv");
    let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
    // Line 2,501 of the file: data row 2,500.
    let target = 2500;
    let line = lines[target];
    let mut record = csv::ByteRecord::new();
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line)
        .read_byte_record(&mut record)
        .unwrap();
    let header: Vec<&[u8]> = lines[0].trim_ascii_end().split(|&b| b == b',').collect();
    // The sample is a CEM export: its columns by the default profile's names.
    let cem = ExportProfile::default();
    let column = |role: Role| {
        header
            .iter()
            .position(|h| *h == cem.header(role).as_bytes())
            .unwrap()
    };
    let name_col = column(Role::Title);
    let name = &record[name_col];
    assert!(name.len() > 2, "{:?}", String::from_utf8_lossy(name));
    let at = line.windows(name.len()).position(|w| w == name).unwrap() + 2;
    let mut broken_line = line.to_vec();
    broken_line.insert(at, 0);
    let with_nul: Vec<u8> = lines
        .iter()
        .enumerate()
        .flat_map(|(i, l)| if i == target { &broken_line[..] } else { *l })
        .copied()
        .collect();
    let without: Vec<u8> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != target)
        .flat_map(|(_, l)| l.iter().copied())
        .collect();

    let (got, s) = transformed(&with_nul);
    let (want, w) = transformed(&without);
    assert!(
        got == want,
        "the loader file is not the sample's without that row"
    );
    assert_eq!(s.rows_read, w.rows_read + 1);
    assert_eq!(s.rows_rejected, w.rows_rejected + 1);
    let reject = s
        .rejects
        .iter()
        .find(|r| r.reason.contains("control character"))
        .expect("a reject for the row");
    assert_eq!(reject.line, target as u64 + 1);
    assert_eq!(reject.column, Some("title"));
    assert_eq!(reject.reason, "control character in title");
    let code = String::from_utf8_lossy(&record[column(Role::CourseCode)])
        .trim()
        .to_string();
    assert_eq!(reject.course_code, code);
}
