//! A loopback stand-in for a Slack incoming webhook: records every JSON post, and can be
//! switched to answer 500 to play "Slack is down".

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
    match shared.posts.lock() {
        Ok(mut posts) => posts.push(value),
        Err(poisoned) => poisoned.into_inner().push(value),
    }
    if shared.failing.load(Ordering::SeqCst) {
        (StatusCode::INTERNAL_SERVER_ERROR, "receiver down")
    } else {
        (StatusCode::OK, "ok")
    }
}
