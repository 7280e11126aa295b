//! The jobs API: the loader job, its instances, filters, lifecycle and counters.

use std::time::Duration;

use chrono::{DateTime, Days, Utc};
use leganto_tests::alma_sim::{
    AlmaSim, SimOptions, COUNTER_CREATED, COUNTER_ERRORS, COUNTER_ROWS_READ,
};
use reqwest::StatusCode;
use serde_json::Value;

use super::common::*;

fn counter(instance: &Value, kind: &str) -> Option<String> {
    instance["counter"]
        .as_array()?
        .iter()
        .find(|c| c["type"]["value"] == kind)
        .map(|c| c["value"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn the_loader_job_is_found_by_type_and_profile() {
    let sim = start(Vec::new(), |_| {}).await;
    let defaults = SimOptions::default();
    let v = get_json(
        &sim,
        &format!(
            "/almaws/v1/conf/jobs?type=SCHEDULED&profile_id={}",
            defaults.loader_profile_id
        ),
    )
    .await;
    assert_eq!(v["total_record_count"], 1);
    assert_eq!(v["job"][0]["id"], defaults.loader_job_id.as_str());
    assert_eq!(v["job"][0]["type"]["value"], "SCHEDULED");
    for q in ["type=SCHEDULED&profile_id=999", "type=MANUAL"] {
        let v = get_json(&sim, &format!("/almaws/v1/conf/jobs?{q}")).await;
        assert_eq!(v["total_record_count"], 0, "{q}");
        assert!(v.get("job").is_none(), "{q}");
    }
    let v = get_json(
        &sim,
        &format!("/almaws/v1/conf/jobs/{}", defaults.loader_job_id),
    )
    .await;
    assert_eq!(v["id"], defaults.loader_job_id.as_str());
    let r = get(&sim, "/almaws/v1/conf/jobs/S999/instances").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "402216");
}

async fn two_runs() -> (AlmaSim, tempfile::TempDir) {
    let (sim, dir) = with_drop_dir(Vec::new()).await;
    drop_file(
        dir.path(),
        "20261128010000.txt",
        &loader_file(&[Row::new("2026Fall-X-LAW100-11111", "11111")]),
    );
    sim.run_loader_now().await.unwrap();
    let name = stamp_after_the_runs_so_far().await;
    drop_file(dir.path(), &name, b"not a loader file\n");
    sim.run_loader_now().await.unwrap();
    (sim, dir)
}

#[tokio::test]
async fn instances_are_filtered_by_submit_date_and_status_newest_first() {
    let (sim, _dir) = two_runs().await;
    let job = SimOptions::default().loader_job_id;
    let today = Utc::now().date_naive();
    let base = format!("/almaws/v1/conf/jobs/{job}/instances");

    let v = get_json(&sim, &format!("{base}?submit_date_from={today}&limit=10")).await;
    assert_eq!(v["total_record_count"], 2);
    let statuses: Vec<&str> = v["job_instance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"]["value"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["COMPLETED_FAILED", "COMPLETED_SUCCESS"]);

    let tomorrow = today.checked_add_days(Days::new(1)).unwrap();
    let v = get_json(&sim, &format!("{base}?submit_date_from={tomorrow}")).await;
    assert_eq!(v["total_record_count"], 0);
    assert!(v.get("job_instance").is_none());

    let yesterday = today.checked_sub_days(Days::new(1)).unwrap();
    let v = get_json(&sim, &format!("{base}?submit_date_to={yesterday}")).await;
    assert_eq!(v["total_record_count"], 0);

    let v = get_json(
        &sim,
        &format!("{base}?submit_date_from={today}&status=COMPLETED_SUCCESS"),
    )
    .await;
    assert_eq!(v["total_record_count"], 1);
    assert_eq!(v["job_instance"][0]["status"]["value"], "COMPLETED_SUCCESS");

    let v = get_json(&sim, &format!("{base}?limit=1&offset=1")).await;
    assert_eq!(v["total_record_count"], 2);
    assert_eq!(v["job_instance"][0]["status"]["value"], "COMPLETED_SUCCESS");

    // Documented as YYYY-MM-DD; anything else is 402217, "Invalid date format".
    for bad in [
        "yesterday".to_string(),
        format!("{today}Z"),
        today.format("%Y%m%d").to_string(),
        today.format("%d-%m-%Y").to_string(),
        "2026-1-05".to_string(),
        "2026-02-30".to_string(),
    ] {
        for name in ["submit_date_from", "submit_date_to"] {
            let r = get(&sim, &format!("{base}?{name}={bad}")).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name}={bad}");
            assert_eq!(r.error_code(), "402217", "{name}={bad}");
        }
    }
    let r = get(&sim, &format!("{base}?limit=101")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn one_instance_has_times_counters_and_alerts() {
    let (sim, _dir) = two_runs().await;
    let job = SimOptions::default().loader_job_id;
    let runs = sim.job_instances();
    let ok = get_json(
        &sim,
        &format!("/almaws/v1/conf/jobs/{job}/instances/{}", runs[0].id),
    )
    .await;
    assert_eq!(ok["status"]["value"], "COMPLETED_SUCCESS");
    assert_eq!(ok["progress"].as_f64(), Some(100.0));
    assert_eq!(counter(&ok, COUNTER_ROWS_READ).as_deref(), Some("1"));
    assert_eq!(counter(&ok, COUNTER_CREATED).as_deref(), Some("1"));
    assert_eq!(counter(&ok, COUNTER_ERRORS).as_deref(), Some("0"));
    let times: Vec<DateTime<Utc>> = ["submit_time", "start_time", "end_time"]
        .iter()
        .map(|k| {
            let s = ok[k].as_str().unwrap();
            assert!(s.ends_with('Z'), "{s}");
            DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
        })
        .collect();
    assert!(times[0] <= times[1] && times[1] <= times[2]);

    let failed = get_json(
        &sim,
        &format!("/almaws/v1/conf/jobs/{job}/instances/{}", runs[1].id),
    )
    .await;
    assert_eq!(failed["status"]["value"], "COMPLETED_FAILED");
    assert!(failed["alert"][0]["desc"].is_string());
    assert!(
        failed.get("counter").is_none(),
        "a failed run has no counters"
    );

    let r = get(&sim, &format!("/almaws/v1/conf/jobs/{job}/instances/42")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "402218");
}

#[tokio::test]
async fn an_instance_is_queued_then_running_then_completed_after_the_delay() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(Vec::new(), |o| {
        o.drop_dir = Some(dir.path().to_path_buf());
        o.watch_interval = Duration::from_secs(3600);
        o.loader_delay = Duration::from_millis(1200);
        o.per_second_limit = None;
    })
    .await;
    drop_file(
        dir.path(),
        "20261128010000.txt",
        &loader_file(&[Row::new("2026Fall-X-LAW100-11111", "11111")]),
    );
    let job = SimOptions::default().loader_job_id;
    let seen = {
        let run = sim.run_loader_now();
        let watch = async {
            let mut seen: Vec<String> = Vec::new();
            loop {
                let v = get_json(&sim, &format!("/almaws/v1/conf/jobs/{job}/instances")).await;
                if let Some(status) = v["job_instance"][0]["status"]["value"].as_str() {
                    if seen.last().map(String::as_str) != Some(status) {
                        seen.push(status.to_string());
                    }
                    if status.starts_with("COMPLETED") {
                        assert!(v["job_instance"][0]["end_time"].is_string());
                        return seen;
                    }
                    if status == "RUNNING" {
                        // A double, fractional while running.
                        assert_eq!(v["job_instance"][0]["progress"].as_f64(), Some(37.5));
                    }
                    if status == "QUEUED" {
                        assert!(v["job_instance"][0].get("end_time").is_none());
                        assert!(
                            sim.courses().is_empty(),
                            "nothing applied before completion"
                        );
                    }
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        };
        let (done, seen) = tokio::join!(run, watch);
        assert_eq!(done.unwrap().len(), 1);
        seen
    };
    // Each phase lasts half the loader's delay (600 ms) and the watch looks every 25 ms, so
    // it sees all three, in order.
    assert_eq!(seen, ["QUEUED", "RUNNING", "COMPLETED_SUCCESS"]);
}

/// The properties of `rest_job_instance` (`job_instance`) in Ex Libris' published OpenAPI
/// description of the conf API: developers.exlibrisgroup.com/wp-content/uploads/alma/
/// openapi/conf.json → schemas/rest_job_instance.json, as copied in
/// github.com/ugent-library/exlibris-alma-sdk, schema/refs/rest_job_instance.json. In JSON
/// `counter` and `alert` are arrays at the top level (only XML wraps them, `xml.wrapped`:
/// `<counters>`, `<alerts>`); `progress` is `number`/`double`; a counter is
/// `{type: {value, desc}, value: string}`, both required.
const JOB_INSTANCE_PROPERTIES: [&str; 15] = [
    "link",
    "id",
    "external_id",
    "name",
    "submitted_by",
    "submit_time",
    "start_time",
    "end_time",
    "progress",
    "status",
    "status_date",
    "alert",
    "counter",
    "action",
    "job_info",
];

fn assert_documented_shape(instance: &Value) {
    let fields = instance.as_object().expect("an object");
    for key in fields.keys() {
        assert!(
            JOB_INSTANCE_PROPERTIES.contains(&key.as_str()),
            "{key} is not a property of rest_job_instance: {instance}"
        );
    }
    assert!(instance["progress"].is_number(), "{instance}");
    for counter in instance["counter"].as_array().into_iter().flatten() {
        assert!(counter["type"]["value"].is_string(), "{counter}");
        assert!(counter["type"]["desc"].is_string(), "{counter}");
        assert!(counter["value"].is_string(), "{counter}");
    }
    for alert in instance["alert"].as_array().into_iter().flatten() {
        assert!(alert["value"].is_string(), "{alert}");
    }
}

#[tokio::test]
async fn instances_in_json_have_the_documented_properties_only() {
    let (sim, _dir) = two_runs().await;
    let job = SimOptions::default().loader_job_id;
    let list = get_json(&sim, &format!("/almaws/v1/conf/jobs/{job}/instances")).await;
    let listed = list["job_instance"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    for instance in listed {
        assert_documented_shape(instance);
    }
    let ok = listed
        .iter()
        .find(|i| i["status"]["value"] == "COMPLETED_SUCCESS")
        .unwrap();
    assert_eq!(ok["counter"].as_array().unwrap().len(), 6, "{ok}");
    let failed = listed
        .iter()
        .find(|i| i["status"]["value"] == "COMPLETED_FAILED")
        .unwrap();
    assert_eq!(failed["alert"].as_array().unwrap().len(), 1, "{failed}");
    let one = get_json(
        &sim,
        &format!(
            "/almaws/v1/conf/jobs/{job}/instances/{}",
            ok["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_documented_shape(&one);
    assert_eq!(&one, ok);
}

#[tokio::test]
async fn instances_in_xml_wrap_their_counters_and_alerts() {
    let (sim, _dir) = two_runs().await;
    let job = SimOptions::default().loader_job_id;
    let runs = sim.job_instances();
    let r = send(
        client()
            .get(format!(
                "{}/almaws/v1/conf/jobs/{job}/instances/{}",
                sim.base_url(),
                runs[0].id
            ))
            .header("Authorization", format!("apikey {}", sim.api_key()))
            .header("Accept", "application/xml"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rows_read = format!(
        "<counters><counter><type desc=\"Rows read\">{COUNTER_ROWS_READ}</type><value>1</value></counter>"
    );
    assert!(r.text.contains(&rows_read), "{}", r.text);
    assert!(r.text.contains("<progress>100.0</progress>"), "{}", r.text);
    let r = send(
        client()
            .get(format!(
                "{}/almaws/v1/conf/jobs/{job}/instances/{}",
                sim.base_url(),
                runs[1].id
            ))
            .header("Authorization", format!("apikey {}", sim.api_key())),
    )
    .await;
    assert!(
        r.text.contains("<alerts><alert desc=\""),
        "XML by default: {}",
        r.text
    );
    assert!(!r.text.contains("<counters>"), "{}", r.text);
}
