//! The REST API: auth, search, paging, views, reading lists, DELETE, formats.

use leganto_tests::alma_sim::{AlmaSim, BrokenAnswer, SimOptions};
use reqwest::StatusCode;

use super::common::*;
use crate::sample_courses;

#[tokio::test]
async fn key_in_the_header_is_accepted_and_logged_as_a_header_key() {
    let sim = start(small_store(), |_| {}).await;
    let r = get(&sim, "/almaws/v1/courses?q=year~2026").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let calls = sim.calls();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].key_in_header && !calls[0].key_in_query);
    assert_eq!(calls[0].path, "/almaws/v1/courses");
    assert_eq!(calls[0].status, 200);
}

#[tokio::test]
async fn key_in_the_query_is_accepted_but_kept_out_of_the_call_log() {
    let sim = start(small_store(), |o| o.api_key = "s3cret-key".into()).await;
    let r = send(client().get(format!(
        "{}/almaws/v1/courses?apikey=s3cret-key&format=json&limit=2",
        sim.base_url()
    )))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["total_record_count"], 4);
    let calls = sim.calls();
    assert!(calls[0].key_in_query && !calls[0].key_in_header);
    assert_eq!(calls[0].query, "format=json&limit=2");
    let log = serde_json::to_string(&calls).unwrap();
    assert!(!log.contains("s3cret"), "{log}");
}

#[tokio::test]
async fn a_missing_key_is_403_unauthorized_in_xml() {
    let sim = start(small_store(), |_| {}).await;
    let r = send(client().get(format!("{}/almaws/v1/courses", sim.base_url()))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.is_xml(), "{}", r.text);
    assert_eq!(r.error_code(), "UNAUTHORIZED");
    assert!(r.text.contains("<trackingId>E01-"), "{}", r.text);
    let call = &sim.calls()[0];
    assert!(!call.key_in_header && !call.key_in_query);
    assert_eq!(call.status, 403);
}

#[tokio::test]
async fn a_wrong_key_in_header_or_query_is_unauthorized_in_xml_even_when_json_is_asked_for() {
    let sim = start(small_store(), |_| {}).await;
    let r = send(
        client()
            .get(format!("{}/almaws/v1/courses", sim.base_url()))
            .header("Authorization", "apikey not-the-key")
            .header("Accept", "application/json"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.is_xml(), "{}", r.text);
    assert_eq!(r.error_code(), "UNAUTHORIZED");
    let r = send(client().get(format!(
        "{}/almaws/v1/courses?apikey=nope&format=json",
        sim.base_url()
    )))
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.is_xml(), "{}", r.text);
    assert_eq!(r.error_code(), "UNAUTHORIZED");

    // Alma answers some bad keys with 400 instead.
    let sim = start(small_store(), |o| o.bad_key_status = 400).await;
    let r = send(
        client()
            .get(format!("{}/almaws/v1/courses", sim.base_url()))
            .header("Authorization", "apikey not-the-key")
            .header("Accept", "application/json"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.is_xml(), "{}", r.text);
    assert_eq!(r.error_code(), "UNAUTHORIZED");
}

#[tokio::test]
async fn every_answer_carries_the_remaining_calls_counting_down() {
    let sim = start(small_store(), |o| o.daily_quota = Some(100)).await;
    let first = get(&sim, "/almaws/v1/courses").await.remaining();
    let second = get(&sim, "/almaws/v1/courses/nope").await.remaining();
    assert_eq!(first, 99);
    assert_eq!(second, 98);
}

#[tokio::test]
async fn code_search_is_a_prefix_match_that_also_finds_longer_codes() {
    let sim = start(small_store(), |_| {}).await;
    let v = get_json(&sim, "/almaws/v1/courses?q=code~2018Fall-X-SDO598-92898").await;
    let mut found = codes(&v);
    found.sort();
    assert_eq!(
        found,
        ["2018Fall-X-SDO598-92898", "2018Fall-X-SDO598-92898-3964"]
    );
    assert_eq!(v["total_record_count"], 2);
    // A prefix of a word matches too.
    let v = get_json(&sim, "/almaws/v1/courses?q=code~SDO5").await;
    assert_eq!(codes(&v).len(), 2);
}

#[tokio::test]
async fn exact_search_leaves_out_longer_codes() {
    let sim = start(small_store(), |_| {}).await;
    let v = get_json(
        &sim,
        "/almaws/v1/courses?q=code~2018Fall-X-SDO598-92898&exact_search=true",
    )
    .await;
    assert_eq!(codes(&v), ["2018Fall-X-SDO598-92898"]);
}

#[tokio::test]
async fn name_searchable_id_section_and_all_are_searched_by_word() {
    let sim = start(small_store(), |_| {}).await;
    let v = get_json(&sim, "/almaws/v1/courses?q=name~%C3%A9criture").await;
    assert_eq!(codes(&v), ["2026Fall-X-ENG101-12345"]);
    let v = get_json(&sim, "/almaws/v1/courses?q=searchable_ids~3964").await;
    assert_eq!(codes(&v), ["2018Fall-X-SDO598-92898-3964"]);
    let v = get_json(&sim, "/almaws/v1/courses?q=section~42318").await;
    assert_eq!(codes(&v), ["2026Spring-X-HST340-42318"]);
    let v = get_json(&sim, "/almaws/v1/courses?q=all~history").await;
    assert_eq!(codes(&v), ["2026Spring-X-HST340-42318"]);
    let v = get_json(&sim, "/almaws/v1/courses?q=name~seminar%20ii").await;
    assert_eq!(codes(&v), ["2018Fall-X-SDO598-92898-3964"]);
}

#[tokio::test]
async fn clauses_joined_by_and_must_all_match() {
    let sim = start(small_store(), |_| {}).await;
    let v = get_json(&sim, "/almaws/v1/courses?q=year~2026%20AND%20code~ENG101").await;
    assert_eq!(codes(&v), ["2026Fall-X-ENG101-12345"]);
    let v = get_json(&sim, "/almaws/v1/courses?q=year~2018%20AND%20code~ENG101").await;
    assert_eq!(v["total_record_count"], 0);
    assert!(v.get("course").is_none(), "{v}");
}

#[tokio::test]
async fn instructors_are_searchable_once_loaded() {
    let (sim, dir) = with_drop_dir(Vec::new()).await;
    drop_file(
        dir.path(),
        "20261128010000.txt",
        &loader_file(&[Row::new("2026Fall-X-LAW100-11111", "11111").instructor(1, "ab12")]),
    );
    sim.run_loader_now().await.unwrap();
    let v = get_json(&sim, "/almaws/v1/courses?q=instructors~ab12").await;
    assert_eq!(codes(&v), ["2026Fall-X-LAW100-11111"]);
    assert_eq!(v["course"][0]["instructor"][0]["primary_id"], "ab12");
    let v = get_json(&sim, "/almaws/v1/courses?q=instructors~zz99").await;
    assert_eq!(v["total_record_count"], 0);
}

#[tokio::test]
async fn malformed_q_is_400_with_a_numeric_error_code() {
    let sim = start(small_store(), |_| {}).await;
    for q in ["colour~red", "code=ENG101", "year~2026%20AND%20nonsense"] {
        let r = get(&sim, &format!("/almaws/v1/courses?q={q}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(r.error_code(), "40166410");
    }
}

#[tokio::test]
async fn limit_is_bounded_to_0_through_100() {
    let sim = start(small_store(), |_| {}).await;
    for bad in ["101", "-1", "ten", "99999999999999999999999"] {
        let r = get(&sim, &format!("/almaws/v1/courses?limit={bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "limit={bad}");
        assert_eq!(r.error_code(), "40166410");
    }
    let r = get(&sim, "/almaws/v1/courses?limit=100").await;
    assert_eq!(r.status, StatusCode::OK);
    let r = get(&sim, "/almaws/v1/courses?offset=-3").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn offset_pages_through_every_course_of_a_year_once() {
    let courses = sample_courses();
    let expected: Vec<String> = courses
        .iter()
        .filter(|c| c.year == "2025")
        .map(|c| c.code.clone())
        .collect();
    let sim = AlmaSim::start(SimOptions {
        courses,
        per_second_limit: None,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let v = get_json(
            &sim,
            &format!("/almaws/v1/courses?q=year~2025&limit=100&offset={offset}"),
        )
        .await;
        assert_eq!(v["total_record_count"], expected.len());
        let page = codes(&v);
        if page.is_empty() {
            assert!(v.get("course").is_none());
            break;
        }
        assert!(page.len() <= 100);
        offset += page.len();
        seen.extend(page);
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn default_limit_is_10_and_limit_0_gives_only_the_count() {
    let sim = start(sample_courses(), |_| {}).await;
    let v = get_json(&sim, "/almaws/v1/courses").await;
    assert_eq!(codes(&v).len(), 10);
    let v = get_json(&sim, "/almaws/v1/courses?limit=0").await;
    assert_eq!(v["total_record_count"], sample_courses().len());
    assert!(v.get("course").is_none());
}

#[tokio::test]
async fn empty_arrays_are_absent_from_course_objects() {
    let sim = start(small_store(), |_| {}).await;
    let v = get_json(&sim, "/almaws/v1/courses?q=code~HST340").await;
    let course = &v["course"][0];
    assert!(course.get("searchable_id").is_none(), "{course}");
    assert!(course.get("instructor").is_none(), "{course}");
    assert!(course.get("term").is_none(), "{course}");
    assert_eq!(course["id"], "6100000000004");
    assert!(course["link"]
        .as_str()
        .unwrap()
        .ends_with("/almaws/v1/courses/6100000000004"));
}

#[tokio::test]
async fn view_full_adds_the_reading_lists() {
    let sim = start(small_store(), |_| {}).await;
    let brief = get_json(&sim, "/almaws/v1/courses/6100000000003").await;
    assert_eq!(brief["code"], "2026Fall-X-ENG101-12345");
    assert!(brief.get("reading_lists").is_none());
    let full = get_json(&sim, "/almaws/v1/courses/6100000000003?view=full").await;
    let lists = full["reading_lists"]["reading_list"].as_array().unwrap();
    assert_eq!(lists.len(), 1);
    assert!(
        lists[0]["id"].is_string() && lists[0]["code"].is_string() && lists[0]["name"].is_string()
    );
    assert_eq!(lists[0]["status"]["value"], "Complete");
    let none = get_json(&sim, "/almaws/v1/courses/6100000000004?view=full").await;
    assert!(
        none["reading_lists"].get("reading_list").is_none(),
        "{none}"
    );
}

#[tokio::test]
async fn reading_lists_endpoint_counts_lists_and_omits_the_key_when_none() {
    let sim = start(small_store(), |_| {}).await;
    let v = get_json(&sim, "/almaws/v1/courses/6100000000002/reading-lists").await;
    assert_eq!(v["total_record_count"], 1);
    assert_eq!(v["reading_list"].as_array().unwrap().len(), 1);
    let v = get_json(&sim, "/almaws/v1/courses/6100000000001/reading-lists").await;
    assert_eq!(v["total_record_count"], 0);
    assert!(v.get("reading_list").is_none());
}

#[tokio::test]
async fn a_course_s_reading_list_answer_can_be_broken_and_mended() {
    let sim = start(small_store(), |_| {}).await;
    let path = "/almaws/v1/courses/6100000000002/reading-lists";
    sim.break_reading_lists("6100000000002", Some(BrokenAnswer::Empty));
    let r = get(&sim, path).await;
    assert_eq!((r.status, r.text.as_str()), (StatusCode::OK, ""));

    sim.break_reading_lists("6100000000002", Some(BrokenAnswer::NoCount));
    let v = get_json(&sim, path).await;
    assert!(v.get("total_record_count").is_none(), "{v}");
    assert_eq!(v["reading_list"].as_array().unwrap().len(), 1, "{v}");

    sim.break_reading_lists("6100000000002", Some(BrokenAnswer::Silent));
    assert_eq!(get_json(&sim, path).await, serde_json::json!({}));
    sim.break_reading_lists("6100000000002", Some(BrokenAnswer::EmptyList));
    assert_eq!(
        get_json(&sim, path).await,
        serde_json::json!({"reading_list": []})
    );

    // Through the simulator's own endpoint, as the sandbox does it.
    let base = sim.base_url();
    let broken = format!("{base}/sim/courses/6100000000002/broken-reading-lists");
    let r = send(client().post(format!("{broken}/not-parseable"))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = get(&sim, path).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        serde_json::from_str::<serde_json::Value>(&r.text).is_err(),
        "{}",
        r.text
    );
    let r = send(client().post(format!("{broken}/sometimes"))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    let r = send(client().delete(&broken)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let v = get_json(&sim, path).await;
    assert_eq!(v["total_record_count"], 1);
    // Other courses were never affected.
    let v = get_json(&sim, "/almaws/v1/courses/6100000000001/reading-lists").await;
    assert_eq!(v["total_record_count"], 0);
}

#[tokio::test]
async fn unknown_course_ids_are_400_with_a_numeric_error_code() {
    let sim = start(small_store(), |_| {}).await;
    for path in [
        "/almaws/v1/courses/123",
        "/almaws/v1/courses/123/reading-lists",
    ] {
        let r = get(&sim, path).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(r.error_code(), "401006");
    }
}

#[tokio::test]
async fn delete_removes_the_course_and_a_second_delete_is_an_error() {
    let sim = start(small_store(), |_| {}).await;
    let url = format!("{}/almaws/v1/courses/6100000000001", sim.base_url());
    let key = format!("apikey {}", sim.api_key());
    let r = send(client().delete(&url).header("Authorization", &key)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.text.is_empty());
    assert!(sim.courses().iter().all(|c| c.id != "6100000000001"));
    assert_eq!(sim.courses().len(), 3);
    let r = send(
        client()
            .delete(&url)
            .header("Authorization", &key)
            .header("Accept", "application/json"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(!r.is_xml(), "JSON was asked for: {}", r.text);
    assert_eq!(r.error_code(), "401006");
    let calls = sim.calls();
    assert_eq!(calls[0].method, "DELETE");
    assert_eq!((calls[0].status, calls[1].status), (204, 400));
}

#[tokio::test]
async fn xml_is_the_default_and_answers_accept_xml_or_format_xml() {
    let sim = start(small_store(), |_| {}).await;
    let key = format!("apikey {}", sim.api_key());
    let base = sim.base_url();
    let by_default = send(
        client()
            .get(format!("{base}/almaws/v1/courses?q=code~ENG101"))
            .header("Authorization", &key),
    )
    .await;
    let by_accept = send(
        client()
            .get(format!("{base}/almaws/v1/courses?q=code~ENG101"))
            .header("Authorization", &key)
            .header("Accept", "application/xml"),
    )
    .await;
    let by_format = send(
        client()
            .get(format!("{base}/almaws/v1/courses?q=code~ENG101&format=xml"))
            .header("Authorization", &key)
            .header("Accept", "application/json"),
    )
    .await;
    for r in [&by_default, &by_accept, &by_format] {
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml"));
        assert!(r.text.starts_with("<?xml"), "{}", r.text);
        assert!(
            r.text.contains("<courses total_record_count=\"1\">"),
            "{}",
            r.text
        );
        assert!(
            r.text.contains("<code>2026Fall-X-ENG101-12345</code>"),
            "{}",
            r.text
        );
        assert!(
            r.text.contains(
                "<searchable_ids><searchable_id>ENG 101</searchable_id></searchable_ids>"
            ),
            "{}",
            r.text
        );
    }
    let json = send(
        client()
            .get(format!(
                "{base}/almaws/v1/courses?q=code~ENG101&format=json"
            ))
            .header("Authorization", &key)
            .header("Accept", "application/xml"),
    )
    .await;
    assert_eq!(json.json()["course"][0]["code"], "2026Fall-X-ENG101-12345");
}

#[tokio::test]
async fn errors_are_xml_unless_json_is_asked_for() {
    let sim = start(small_store(), |_| {}).await;
    let key = format!("apikey {}", sim.api_key());
    let url = format!("{}/almaws/v1/courses/123", sim.base_url());
    let ask = |accept: Option<&str>, query: &str| {
        let mut req = client()
            .get(format!("{url}{query}"))
            .header("Authorization", &key);
        if let Some(accept) = accept {
            req = req.header("Accept", accept);
        }
        send(req)
    };
    for r in [
        ask(None, "").await,
        ask(Some("application/xml"), "").await,
        ask(Some("application/json"), "?format=xml").await,
    ] {
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.is_xml(), "{}", r.text);
        assert!(r.text.starts_with("<?xml"), "{}", r.text);
        assert!(r.text.contains("<web_service_result"), "{}", r.text);
        assert!(
            r.text.contains("<errorCode>401006</errorCode>"),
            "{}",
            r.text
        );
    }
    for r in [
        ask(Some("application/json"), "").await,
        ask(None, "?format=json").await,
    ] {
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(!r.is_xml(), "{}", r.text);
        assert_eq!(r.json()["errorList"]["error"][0]["errorCode"], "401006");
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_get_alma_errors() {
    let sim = start(small_store(), |_| {}).await;
    let r = get(&sim, "/almaws/v1/bibs").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), "402119");
    let r = send(
        client()
            .post(format!("{}/almaws/v1/courses", sim.base_url()))
            .header("Authorization", format!("apikey {}", sim.api_key()))
            .body("{not json"),
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.is_xml(), "no format asked for: {}", r.text);
    assert_eq!(r.error_code(), "402119");
    // Odd bytes in the query are decoded leniently, never a panic.
    let r = get(&sim, "/almaws/v1/courses?q=code~%FF%ZZ%&limit=%").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = get(&sim, "/almaws/v1/courses?q=code~%FF").await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn sim_endpoints_dump_courses_and_calls_without_a_key() {
    let sim = start(small_store(), |_| {}).await;
    get(&sim, "/almaws/v1/courses/6100000000003").await;
    let courses = sim_get(sim.base_url(), "/sim/courses").await;
    assert_eq!(courses.as_array().unwrap().len(), 4);
    assert_eq!(courses[2]["code"], "2026Fall-X-ENG101-12345");
    let calls = sim_get(sim.base_url(), "/sim/calls").await;
    assert_eq!(
        calls.as_array().unwrap().len(),
        1,
        "sim calls are not logged"
    );
    assert_eq!(calls[0]["path"], "/almaws/v1/courses/6100000000003");
    assert_eq!(calls[0]["key_in_header"], true);
}

#[tokio::test]
async fn dropping_the_simulator_stops_its_server() {
    let sim = start(small_store(), |_| {}).await;
    let base = sim.base_url().to_string();
    drop(sim);
    let mut refused = false;
    for _ in 0..100 {
        let fresh = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        if fresh
            .get(format!("{base}/sim/courses"))
            .send()
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refused, "server still answering after drop");
}
