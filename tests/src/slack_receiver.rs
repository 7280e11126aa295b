//! A loopback stand-in for a Slack incoming webhook: records every JSON post, refuses one
//! that breaks Slack's documented Block Kit limits with 400 `invalid_blocks` and one without
//! text with 400 `no_text` as Slack does, and can be switched to answer 500 to play "Slack
//! is down" or 403 to play a revoked webhook.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Router;
use tokio::task::JoinHandle;

#[derive(Default)]
struct Shared {
    posts: Mutex<Vec<serde_json::Value>>,
    failing: AtomicBool,
    revoked: AtomicBool,
}

/// A running receiver; the server task stops when this is dropped.
pub struct SlackReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl SlackReceiver {
    /// Starts a receiver that answers `200 ok` like Slack does.
    pub async fn start() -> SlackReceiver {
        Self::start_in_mode(false).await
    }

    /// Starts a receiver that answers every post with 500 (posts are still recorded).
    pub async fn start_failing() -> SlackReceiver {
        Self::start_in_mode(true).await
    }

    async fn start_in_mode(failing: bool) -> SlackReceiver {
        let shared = Arc::new(Shared::default());
        shared.failing.store(failing, Ordering::SeqCst);
        let app = Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&shared));
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(err) => panic!("slack receiver could not bind 127.0.0.1:0: {err}"),
        };
        let addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(err) => panic!("slack receiver has no local address: {err}"),
        };
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SlackReceiver { addr, shared, task }
    }

    /// The webhook URL to configure (a path like Slack's, any path is accepted).
    pub fn url(&self) -> String {
        format!("http://{}/services/T000/B000/XXXXXXXX", self.addr)
    }

    /// Switches between answering 200 and 500.
    pub fn set_failing(&self, failing: bool) {
        self.shared.failing.store(failing, Ordering::SeqCst);
    }

    /// Answers every post with 403 `invalid_token`, as Slack does for a revoked webhook.
    pub fn set_revoked(&self, revoked: bool) {
        self.shared.revoked.store(revoked, Ordering::SeqCst);
    }

    /// Every JSON body posted so far, oldest first (bodies that are not JSON are kept as strings).
    pub fn posts(&self) -> Vec<serde_json::Value> {
        match self.shared.posts.lock() {
            Ok(posts) => posts.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl Drop for SlackReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(shared): State<Arc<Shared>>, body: Bytes) -> (StatusCode, &'static str) {
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into_owned()));
    let problems = violations(&value);
    let empty = value.as_object().is_some_and(|o| {
        o.get("text").is_none() && o.get("blocks").is_none() && o.get("attachments").is_none()
    });
    match shared.posts.lock() {
        Ok(mut posts) => posts.push(value),
        Err(poisoned) => poisoned.into_inner().push(value),
    }
    if shared.revoked.load(Ordering::SeqCst) {
        (StatusCode::FORBIDDEN, "invalid_token")
    } else if shared.failing.load(Ordering::SeqCst) {
        (StatusCode::INTERNAL_SERVER_ERROR, "receiver down")
    } else if empty {
        // Slack posts nothing without text and says so.
        (StatusCode::BAD_REQUEST, "no_text")
    } else if !problems.is_empty() {
        (StatusCode::BAD_REQUEST, "invalid_blocks")
    } else {
        (StatusCode::OK, "ok")
    }
}

/// What Slack would refuse in a posted message (Block Kit's documented limits, in
/// characters), or a stray `<` that Slack would read as the start of a link.
pub fn violations(message: &serde_json::Value) -> Vec<String> {
    let mut found = Vec::new();
    let Some(object) = message.as_object() else {
        return vec!["the body is not a JSON object".into()];
    };
    if let Some(text) = object.get("text") {
        check_mrkdwn(&mut found, "text", text, 40_000);
    }
    let blocks = object
        .get("blocks")
        .and_then(|b| b.as_array())
        .cloned()
        .unwrap_or_default();
    if blocks.len() > 50 {
        found.push(format!("{} blocks (at most 50)", blocks.len()));
    }
    for (n, block) in blocks.iter().enumerate() {
        match block["type"].as_str() {
            Some("header") => {
                let count = chars(&block["text"]["text"]);
                if count > 150 || block["text"]["type"] != "plain_text" {
                    found.push(format!(
                        "header {n}: {count} characters of plain_text (at most 150)"
                    ));
                }
            }
            Some("section") => {
                let fields = block["fields"].as_array().cloned().unwrap_or_default();
                if block.get("text").is_none() && fields.is_empty() {
                    found.push(format!("section {n} has neither text nor fields"));
                }
                if block.get("text").is_some() {
                    check_mrkdwn(
                        &mut found,
                        &format!("section {n}"),
                        &block["text"]["text"],
                        3000,
                    );
                }
                if fields.len() > 10 {
                    found.push(format!(
                        "section {n} has {} fields (at most 10)",
                        fields.len()
                    ));
                }
                for (f, field) in fields.iter().enumerate() {
                    check_mrkdwn(
                        &mut found,
                        &format!("section {n} field {f}"),
                        &field["text"],
                        2000,
                    );
                }
            }
            Some("context") => {
                let elements = block["elements"].as_array().cloned().unwrap_or_default();
                if elements.is_empty() || elements.len() > 10 {
                    found.push(format!(
                        "context {n} has {} elements (1 to 10)",
                        elements.len()
                    ));
                }
                for (e, element) in elements.iter().enumerate() {
                    check_mrkdwn(
                        &mut found,
                        &format!("context {n} element {e}"),
                        &element["text"],
                        3000,
                    );
                }
            }
            Some("divider") => {}
            other => found.push(format!("block {n} has an unknown type {other:?}")),
        }
    }
    found
}

fn chars(text: &serde_json::Value) -> usize {
    text.as_str().map_or(0, |s| s.chars().count())
}

/// A mrkdwn text within `limit` characters, with every `<` opening a link or a mention.
fn check_mrkdwn(found: &mut Vec<String>, what: &str, text: &serde_json::Value, limit: usize) {
    let count = chars(text);
    if count > limit {
        found.push(format!("{what} has {count} characters (at most {limit})"));
    }
    let text = text.as_str().unwrap_or_default();
    for (i, _) in text.match_indices('<') {
        let rest = &text[i + 1..];
        if !(rest.starts_with("http") || rest.starts_with('!') || rest.starts_with('@')) {
            found.push(format!("{what} has an unescaped '<' at byte {i}"));
            break;
        }
    }
}
