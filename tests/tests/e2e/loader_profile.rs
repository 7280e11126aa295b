//! The course loader job found from its integration profile: a stack deployed with only
//! `AlmaLoaderProfileId` watches that profile's job and the day loads; a stack without it
//! fails the preflight's job check, saying where in Alma the id is.

use chrono::NaiveDate;
use leganto_shared::error::error_chain;
use leganto_shared::steps::preflight::checklist;
use leganto_tests::alma_sim::SimOptions;
use leganto_tests::stack::{LoaderIds, Stack, StackOptions};
use leganto_tests::support::RUN_DATE;
use serde_json::json;

use super::support::{assert_succeeded, run};

const JOB_CHECK: &str = "Alma course loader job";

async fn start_with(loader_ids: LoaderIds) -> Stack {
    match Stack::start(StackOptions {
        loader_ids,
        ..StackOptions::default()
    })
    .await
    {
        Ok(stack) => stack,
        Err(e) => panic!("the local stack did not start: {}", error_chain(&e)),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_with_only_the_profile_id_watches_that_profiles_job_and_the_day_loads() {
    let stack = start_with(LoaderIds::ProfileOnly).await;
    let sim = SimOptions::default();
    assert_eq!(
        stack
            .rendered
            .parameters
            .get("AlmaLoaderJobId")
            .map(String::as_str),
        Some("")
    );

    let (preflight, _) = run(&stack, "preflight-profile-only", json!({"preflight": true})).await;
    assert_succeeded(&preflight);
    let checks = checklist(preflight.output.as_ref().unwrap());
    let job = checks.iter().find(|c| c.check == JOB_CHECK).unwrap();
    assert!(job.ok, "{job:?}");
    assert!(job.detail.contains(&sim.loader_job_id), "{job:?}");

    let date = NaiveDate::parse_from_str(RUN_DATE, "%Y-%m-%d").unwrap();
    stack.put_sample_export(date).unwrap();
    let (day, _) = run(
        &stack,
        &format!("day-{RUN_DATE}"),
        json!({"run_date": RUN_DATE}),
    )
    .await;
    assert_succeeded(&day);
    let out = day.output.unwrap();
    let runs = stack.alma.job_instances();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    // Watched, not waited out: the job's own run of the day's file, as Alma reports it.
    assert_eq!(out["alma_job"]["done"], true, "{}", out["alma_job"]);
    assert_eq!(out["alma_job"]["job_instance_id"], runs[0].id.as_str());
    let status = out["alma_job"]["status"].as_str().unwrap_or_default();
    assert!(status.starts_with("COMPLETED"), "{}", out["alma_job"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_profile_id_the_preflight_fails_the_job_check_and_says_where_it_is_in_alma() {
    let stack = start_with(LoaderIds::Neither).await;
    let (preflight, _) = run(&stack, "preflight-no-profile", json!({"preflight": true})).await;
    assert_succeeded(&preflight);
    let checks = checklist(preflight.output.as_ref().unwrap());
    let job = checks.iter().find(|c| c.check == JOB_CHECK).unwrap();
    assert!(!job.ok, "{job:?}");
    assert!(
        job.detail.contains("AlmaLoaderProfileId is not set"),
        "{job:?}"
    );
    assert!(
        job.what_to_do.contains("Integration Profiles")
            && job.what_to_do.contains("leganto doctor"),
        "{job:?}"
    );
    let others_ok = checks.iter().filter(|c| c.check != JOB_CHECK).all(|c| c.ok);
    assert!(others_ok, "{checks:#?}");
}
