use chrono::NaiveDate;
use leganto_shared::error::ErrorName as _;
use leganto_shared::store::{content_type, file_name, DayKeys, Store, StoreError};
use leganto_tests::moto::Moto;

const BUCKET: &str = "leganto-runs";

async fn store_in(moto: &Moto) -> Store {
    let sdk = moto.sdk_config().await;
    let store = Store::from_sdk_config(&sdk, BUCKET);
    store
        .client()
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    store
}

/// The content type S3 keeps for `key`.
async fn content_type_of(store: &Store, key: &str) -> Option<String> {
    let head = store
        .client()
        .head_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    head.content_type().map(str::to_string)
}

fn day() -> DayKeys {
    DayKeys::new(NaiveDate::from_ymd_opt(2026, 11, 28).unwrap())
}

#[tokio::test]
async fn put_then_get_returns_the_same_bytes_with_a_viewable_content_type() {
    let moto = Moto::start();
    let store = store_in(&moto).await;
    // Windows-1252 bytes as the CEM export arrives: not UTF-8, must survive untouched.
    let export: Vec<u8> = b"COURSE,TITLE\r\nSPA 337,Th\xe9orie\r\n".to_vec();
    let key = day().cem_export("leganto_export_20261128.csv");
    store
        .put(&key, export.clone(), content_type::CSV_WINDOWS_1252)
        .await
        .unwrap();

    assert_eq!(store.get(&key).await.unwrap().as_ref(), export.as_slice());
    assert_eq!(
        content_type_of(&store, &key).await.as_deref(),
        Some("text/csv; charset=windows-1252")
    );
    assert!(store.exists(&key).await.unwrap());
    assert!(!store.exists(&day().rejects()).await.unwrap());
}

#[tokio::test]
async fn a_missing_artefact_is_a_typed_error_naming_the_key() {
    let moto = Moto::start();
    let store = store_in(&moto).await;
    let key = day().run_summary();
    let err = store.get(&key).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { key: k, .. } if *k == key),
        "{err:?}"
    );
    assert_eq!(err.error_name(), "ArtefactMissing");
    assert!(
        err.to_string()
            .contains("reports/2026/11/28/run-summary.json"),
        "{err}"
    );

    let err = store.get_json::<serde_json::Value>(&key).await.unwrap_err();
    assert_eq!(err.error_name(), "ArtefactMissing");
}

#[tokio::test]
async fn list_and_latest_find_the_days_newest_file_by_its_stamp() {
    let moto = Moto::start();
    let store = store_in(&moto).await;
    let day = day();
    let at = |h, m, s| {
        NaiveDate::from_ymd_opt(2026, 11, 28)
            .unwrap()
            .and_hms_opt(h, m, s)
            .unwrap()
    };
    // Uploaded out of order: the stamp in the name decides, not the upload time.
    let newer = day.alma_loader_file(at(10, 0, 1));
    let older = day.alma_loader_file(at(9, 25, 14));
    store.put(&newer, "b\n", content_type::TEXT).await.unwrap();
    store.put(&older, "a\n", content_type::TEXT).await.unwrap();
    store
        .put(&day.rollover_report(at(11, 30, 2)), "r", content_type::TEXT)
        .await
        .unwrap();
    store
        .put(&day.rejects(), "x,y\n", content_type::CSV)
        .await
        .unwrap();
    // The next day's file must not leak into this day's listing.
    let next = DayKeys::new(NaiveDate::from_ymd_opt(2026, 11, 29).unwrap());
    store
        .put(
            &next.alma_loader_file(at(23, 0, 0)),
            "c",
            content_type::TEXT,
        )
        .await
        .unwrap();

    let listed = store.list(&day.alma_prefix()).await.unwrap();
    let keys: Vec<&str> = listed.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, vec![older.as_str(), newer.as_str()]);
    assert_eq!(listed[0].size, 2);
    assert!(listed[0].last_modified.is_some());

    assert_eq!(
        store.latest(&day.alma_prefix()).await.unwrap(),
        Some(newer.clone())
    );
    assert_eq!(file_name(&newer), "20261128100001.txt");
    assert_eq!(
        store
            .latest(&day.rollover_prefix())
            .await
            .unwrap()
            .as_deref(),
        Some("reports/2026/11/28/rollover_20261128113002.txt")
    );
    assert_eq!(store.latest(&day.cem_prefix()).await.unwrap(), None);
}

#[tokio::test]
async fn listing_pages_through_more_than_a_thousand_objects() {
    let moto = Moto::start();
    let store = store_in(&moto).await;
    // Spawned tasks also show the store's futures are Send, as Lambda handlers need.
    let tasks: Vec<_> = (0..1005)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = format!("cache/2026/11/28/part-{i:04}.json");
                store.put(&key, "{}", content_type::JSON).await?;
                store.get_json::<serde_json::Value>(&key).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let listed = store.list("cache/2026/11/28/").await.unwrap();
    assert_eq!(listed.len(), 1005);
    assert_eq!(
        store
            .latest("cache/2026/11/28/part-")
            .await
            .unwrap()
            .as_deref(),
        Some("cache/2026/11/28/part-1004.json")
    );
}

#[tokio::test]
async fn json_artefacts_round_trip_and_bad_json_is_a_typed_error() {
    let moto = Moto::start();
    let store = store_in(&moto).await;
    let key = day().course_cache(2025);
    let courses =
        serde_json::json!({"year": 2025, "courses": [{"code": "SPA 337", "title": "Théorie"}]});
    store.put_json(&key, &courses).await.unwrap();
    let back: serde_json::Value = store.get_json(&key).await.unwrap();
    assert_eq!(back, courses);
    assert_eq!(
        content_type_of(&store, &key).await.as_deref(),
        Some("application/json")
    );

    store
        .put(&key, "not json", content_type::JSON)
        .await
        .unwrap();
    let err = store.get_json::<serde_json::Value>(&key).await.unwrap_err();
    assert_eq!(err.error_name(), "ArtefactInvalid");
    assert!(err.to_string().contains("courses-2025.json"), "{err}");
}
