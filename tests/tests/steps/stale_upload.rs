//! A push that died between writing its temporary file and the rename leaves a file Alma
//! never loads; the next push removes it.

use std::time::{Duration, SystemTime};

use leganto_shared::sftp::temporary_name;
use leganto_tests::support::RUN_DATE;
use serde_json::json;

use super::{World, ALMA, EXPORT_NAME};
use crate::read_sample;

#[tokio::test]
async fn the_next_push_removes_the_temporary_file_an_interrupted_push_left() {
    let world = World::start("stale-upload").await;
    let stale = temporary_name("20261127092514.txt");
    let path = world
        .sshd
        .put_file(ALMA, &stale, b"COURSE_CODE\tSECTION\r\nPHY10")
        .unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(20 * 3600))
        .unwrap();
    world.put_export(EXPORT_NAME, &read_sample("cem.csv"));
    let mut state = world.plan(json!({"run_date": RUN_DATE})).await.unwrap();
    world.step("pull", &mut state, "pull").await;
    world.step("transform", &mut state, "transform").await;

    let push = world.step("push", &mut state, "push").await;
    assert_eq!(
        world.alma_files(),
        [push["file_name"].as_str().unwrap()],
        "the stale temporary file is gone and the day's file is there"
    );
}
