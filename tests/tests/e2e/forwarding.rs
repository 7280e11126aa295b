//! The Lambda host on its own: AWS's Invoke API for our steps, moto for everything else.

use std::sync::Arc;

use leganto_shared::config::Config;
use leganto_shared::steps::StepContext;
use leganto_tests::lambda_host::BoundHost;
use leganto_tests::moto::{Moto, REGION};
use leganto_tests::support::RUN_DATE;
use serde_json::{json, Value};

async fn host_in_front_of_moto() -> (
    Moto,
    leganto_tests::lambda_host::LambdaHost,
    aws_config::SdkConfig,
) {
    let bound = BoundHost::bind().await.unwrap();
    let port = bound.port().to_string();
    let moto =
        tokio::task::spawn_blocking(move || Moto::start_with_env(&[("MOTO_PORT", port.as_str())]))
            .await
            .unwrap();
    let sdk = moto.sdk_config().await;
    let config = Config::from_lookup(|name| {
        let value = match name {
            "BUCKET" => "host-bucket",
            "ALMA_BASE_URL" => "http://127.0.0.1:9",
            "EMAIL_FROM" => "a@example.edu",
            "EMAIL_TO" => "b@example.edu",
            "POLL_INTERVAL_SECONDS" => "2",
            // At most 360 checks of Alma's job fit the execution's history (config.rs).
            "WAIT_LIMIT_SECONDS" => "120",
            "AWS_REGION" => REGION,
            _ => return None,
        };
        Some(value.to_string())
    })
    .unwrap();
    let host = bound.serve(Arc::new(StepContext::new(config, &sdk)), moto.endpoint());
    (moto, host, sdk)
}

async fn invoke(host: &str, function: &str, body: &str) -> (u16, Option<String>, Value) {
    let name = function.replace(':', "%3A");
    let response = reqwest::Client::new()
        .post(format!("{host}/2015-03-31/functions/{name}/invocations"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let error = response
        .headers()
        .get("x-amz-function-error")
        .map(|v| v.to_str().unwrap().to_string());
    (status, error, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_runs_steps_by_arn_and_reports_errors_as_lambda_does() {
    let (_moto, host, sdk) = host_in_front_of_moto().await;
    // The plan takes the day's lease in the bucket.
    leganto_shared::store::s3_client(&sdk)
        .create_bucket()
        .bucket("host-bucket")
        .send()
        .await
        .unwrap();
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:leganto-plan";
    let payload = json!({
        "input": {"run_date": RUN_DATE},
        "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:leganto-daily:x",
        "execution_name": "x",
        "execution_started_at": "2026-11-28T16:20:00.123456+00:00"
    });
    let (status, error, out) = invoke(&host.endpoint(), arn, &payload.to_string()).await;
    assert_eq!((status, error), (200, None), "{out}");
    assert_eq!(out["run"]["run_date"], RUN_DATE);
    assert_eq!(out["run"]["poll_interval_seconds"], 2);

    let bad = json!({"input": {"run_date": "28/11/2026"}, "execution_arn": "a",
                     "execution_name": "x", "execution_started_at": "2026-11-28T16:20:00Z"});
    let (status, error, out) = invoke(&host.endpoint(), arn, &bad.to_string()).await;
    assert_eq!((status, error.as_deref()), (200, Some("Unhandled")));
    assert_eq!(out["errorType"], "InvalidInput", "{out}");
    assert!(out["errorMessage"].as_str().unwrap().len() > 5);

    let (status, error, out) = invoke(&host.endpoint(), "leganto-deploy", "{}").await;
    assert_eq!((status, error.as_deref()), (404, None));
    assert!(
        out["Message"].as_str().unwrap().contains("leganto-deploy"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_other_request_reaches_moto_unchanged() {
    let (_moto, host, sdk) = host_in_front_of_moto().await;
    let through_host = aws_sdk_s3::config::Builder::from(&sdk)
        .endpoint_url(host.endpoint())
        .force_path_style(true)
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(through_host);
    s3.create_bucket().bucket("via-host").send().await.unwrap();
    s3.put_object()
        .bucket("via-host")
        .key("a/b.txt")
        .body(b"twelve bytes".to_vec().into())
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket("via-host")
        .key("a/b.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(12));
    let got = s3
        .get_object()
        .bucket("via-host")
        .key("a/b.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"twelve bytes"
    );
    let missing = s3.get_object().bucket("via-host").key("nope").send().await;
    assert!(missing.unwrap_err().into_service_error().is_no_such_key());

    // The same object straight from moto: the host stored nothing of its own.
    let direct = leganto_shared::store::s3_client(&sdk);
    let listed = direct
        .list_objects_v2()
        .bucket("via-host")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invocation_past_its_timeout_is_stopped_and_reported_as_lambda_reports_it() {
    use std::collections::HashMap;
    use std::time::Duration;

    use leganto_tests::dispatch::Step;
    use leganto_tests::iam::Scope;
    use leganto_tests::lambda_host::{Function, Functions};

    // S3 that accepts connections and never answers: the plan's recall hangs on it.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_endpoint = format!("http://{}", silent.local_addr().unwrap());
    let (moto, _host, _sdk) = host_in_front_of_moto().await;
    let sdk = moto
        .sdk_config_as(
            aws_sdk_s3::config::Credentials::new("k", "s", None, None, "test"),
            &silent_endpoint,
        )
        .await;
    let config = Config::from_lookup(|name| match name {
        "BUCKET" => Some("b".into()),
        "SECRET_ID" => Some("s".into()),
        "ALMA_BASE_URL" => Some("http://127.0.0.1:9".into()),
        "EMAIL_FROM" => Some("a@example.edu".into()),
        "EMAIL_TO" => Some("b@example.edu".into()),
        "AWS_REGION" => Some(REGION.into()),
        _ => None,
    })
    .unwrap();
    let plan = Function {
        ctx: Arc::new(StepContext::new(config, &sdk)),
        timeout: Some(Duration::from_secs(1)),
    };
    let scope = Scope {
        region: REGION.into(),
        account: "123456789012".into(),
        secrets: Vec::new(),
    };
    let bound = BoundHost::bind().await.unwrap();
    let host = bound.serve(
        Functions::deployed(HashMap::from([(Step::Plan, plan)]), scope),
        moto.endpoint(),
    );

    let payload = json!({
        "input": {"run_date": RUN_DATE, "start_at": "push"},
        "execution_arn": "a", "execution_name": "x",
        "execution_started_at": "2026-11-28T16:20:00Z"
    });
    let (status, error, out) = invoke(&host.endpoint(), "leganto-plan", &payload.to_string()).await;
    assert_eq!(
        (status, error.as_deref()),
        (200, Some("Unhandled")),
        "{out}"
    );
    assert_eq!(out["errorType"], "Sandbox.Timedout", "{out}");
    let message = out["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("Task timed out after 1.00 seconds"),
        "{message}"
    );
    drop(silent);
}
