//! Days far beyond the usual keep the steps' outputs within Step Functions' limits
//! (`leganto_shared::run::limits`), while S3 keeps everything.

use leganto_shared::run::limits::{LIST_ITEMS, STATE_LIMIT, STEP_OUTPUT_BUDGET, YEARS};
use leganto_tests::support::RUN_DATE;
use serde_json::{json, Value};

use super::{World, EXPORT_NAME};

const HEADER: &str = "CEM_ID,MYASU_COURSE_IDSTRING,COURSE_STATUS,COURSE_NAME,SLN,ASURITEID,\
INSTRUCTOR_TYPE,COLLEGE_OR_DIVISION_CODE,CAMPUS,COURSE_ID,TERM,YEAR,START_SYNC_DATE,\
END_SYNC_DATE,COPY_COURSE_SLN,COPY_COURSE_SEMESTER_YEAR,COPY_COURSE_ID,COPY_COURSE_SEMESTER_TERM";

/// 10,000 rows at a campus no rule knows (a warning each, with a long campus name in it),
/// 60 of them asking for a copy from a year of their own, and 500 rows rejected (no TERM).
fn troubled_export() -> Vec<u8> {
    let campus = format!("NOWHERE{}", "Z".repeat(2000));
    let mut text = String::from(HEADER);
    text.push('\n');
    for i in 0..10_000u32 {
        let sln = 10_000 + i;
        let copy = if i < 60 {
            format!("\"69,154\",{},ECN 100,Summer", 1950 + i)
        } else {
            "0,,,".to_string()
        };
        text.push_str(&format!(
            "{},2026FallA-X-ENG{i}-{sln},APPROVED,ENG {i} Topics,{sln},gs22,Primary,LW,{campus},\
             ENG {i},7,2026,2026-08-20 00:00:00.000000000,2026-12-11 00:00:00.000000000,{copy}\n",
            200_000 + i
        ));
    }
    for i in 0..500u32 {
        text.push_str(&format!(
            "{},2026FallA-X-HST{i}-1,APPROVED,HST {i},1,gs22,Primary,LW,ASUONLI,\
             HST {i},,2026,2026-08-20 00:00:00.000000000,2026-12-11 00:00:00.000000000,0,,,\n",
            300_000 + i
        ));
    }
    text.into_bytes()
}

fn json_bytes(value: &Value) -> usize {
    value.to_string().len()
}

#[tokio::test]
async fn a_day_of_ten_thousand_warnings_keeps_the_state_small_and_the_summary_whole() {
    let world = World::start("many-warnings").await;
    world.put_export(EXPORT_NAME, &troubled_export());
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    world.step("leganto-pull", &mut state, "pull").await;
    let transform = world
        .step("TransformFunction", &mut state, "transform")
        .await;

    assert!(
        transform["counts"]["warnings"].as_u64().unwrap() >= 10_000,
        "{}",
        transform["counts"]
    );
    assert!(transform["counts"]["rejected"].as_u64().unwrap() >= 500);
    let warnings = transform["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), LIST_ITEMS + 1);
    let last = warnings[LIST_ITEMS].as_str().unwrap();
    assert!(
        last.contains("more") && last.contains("run-summary.json"),
        "{last}"
    );
    assert!(
        warnings[0].as_str().unwrap().contains("not cached ahead"),
        "the day's own notes come first: {}",
        warnings[0]
    );
    assert_eq!(transform["years_needed"].as_array().unwrap().len(), YEARS);
    let bytes = json_bytes(&transform);
    assert!(
        bytes < STEP_OUTPUT_BUDGET,
        "the transform's output: {bytes} bytes"
    );
    assert!(
        json_bytes(&state) < STATE_LIMIT / 2,
        "the state: {} bytes",
        json_bytes(&state)
    );

    // Everything is still in S3.
    let summary: Value =
        serde_json::from_slice(&world.s3_get("reports/2026/11/28/run-summary.json").await).unwrap();
    assert!(summary["details"]["warnings"].as_array().unwrap().len() >= 10_000);
    let rejects = world.s3_get("reports/2026/11/28/rejects.csv").await;
    assert!(rejects.iter().filter(|b| **b == b'\n').count() > 500);
}

#[tokio::test]
async fn five_hundred_export_files_for_the_day_keep_the_pull_output_small() {
    let world = World::start("many-exports").await;
    for i in 0..499 {
        world.put_export(&format!("leganto_export_20261128_{i:03}.csv"), b"old");
    }
    world.put_export(EXPORT_NAME, b"CEM_ID\n");
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    let pull = world.step("leganto-pull", &mut state, "pull").await;

    let candidates = pull["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), LIST_ITEMS + 1);
    assert!(
        candidates[LIST_ITEMS]
            .as_str()
            .unwrap()
            .starts_with("… and 475 more"),
        "{}",
        candidates[LIST_ITEMS]
    );
    let warning = pull["warnings"][0].as_str().unwrap();
    assert!(warning.starts_with("500 export files"), "{warning}");
    let bytes = json_bytes(&pull);
    assert!(
        bytes < STEP_OUTPUT_BUDGET,
        "the pull's output: {bytes} bytes"
    );
}
