//! `leganto full-load next|show|cancel` against moto's S3: the request is written once
//! (a second `next` keeps the first), shown with who and when, and taken back.

use leganto_shared::store::FULL_LOAD_REQUEST;

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn next_records_who_asked_once_show_tells_and_cancel_takes_it_back() {
    let aws = Aws::start().await;
    let bucket = ["--bucket", BUCKET, "--time-zone", "America/Phoenix"];
    let full_load = |args: &[&str]| -> Vec<String> {
        ["full-load"]
            .iter()
            .chain(args)
            .chain(&bucket)
            .map(|a| a.to_string())
            .collect()
    };
    let run = |args: Vec<String>| {
        let aws = &aws;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            aws.leganto(&args).await
        }
    };

    let o = run(full_load(&["show"])).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("No full load is asked for"),
        "{}",
        stdout(&o)
    );

    let o = run(full_load(&["next", "--by", "pat@example.edu"])).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("Asked for a full load on the next scheduled day\n"),
        "{out}"
    );
    assert_eq!(field(&out, "by").as_deref(), Some("pat@example.edu"));
    assert!(
        out.contains(&format!("s3://{BUCKET}/{FULL_LOAD_REQUEST}")),
        "{out}"
    );
    assert!(
        out.contains("a full load was asked for by pat@example.edu on "),
        "{out}"
    );
    let written: serde_json::Value = aws.store().get_json(FULL_LOAD_REQUEST).await.unwrap();
    assert_eq!(written["by"], "pat@example.edu");

    // A second request keeps the first: the day is full either way.
    let o = run(full_load(&["next", "--by", "sam@example.edu"])).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("already asked"), "{}", stdout(&o));
    assert_eq!(field(&stdout(&o), "by").as_deref(), Some("pat@example.edu"));

    let o = run(full_load(&["show"])).await;
    assert!(
        stdout(&o).starts_with("A full load is asked for"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("MST"),
        "times in the library's zone: {}",
        stdout(&o)
    );

    let o = run(full_load(&["cancel"])).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("Cancelled the full load"),
        "{}",
        stdout(&o)
    );
    assert!(!aws.store().exists(FULL_LOAD_REQUEST).await.unwrap());
    let o = run(full_load(&["cancel"])).await;
    assert!(stdout(&o).starts_with("No full load is asked for: nothing to cancel"));
}
