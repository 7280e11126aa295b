//! The local Lambda host: answers the Lambda Invoke API by running the product's step
//! handlers, and forwards every other request to moto.
//!
//! moto sends a state machine's Lambda invokes to `http://localhost:$MOTO_PORT`. With moto on
//! port A and `MOTO_PORT` = B, this host on B answers
//! `POST /2015-03-31/functions/{name or ARN}/invocations` through
//! [`crate::dispatch::Step::run`] — 200 with the output, or, as AWS does, 200 with
//! `X-Amz-Function-Error: Unhandled` and `{"errorType", "errorMessage"}` — and passes any
//! other request (method, path, query, headers, body) to moto on A unchanged.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use leganto_shared::error::ErrorName as _;
use leganto_shared::steps::{StepContext, StepError};

use crate::dispatch::Step;
use tokio::sync::watch;

/// The Invoke API path (`{name}` is percent-decoded by the router).
pub const INVOKE_PATH: &str = "/2015-03-31/functions/{name}/invocations";

/// A request body larger than this is refused (Lambda's own payload limit is 6 MB; moto's
/// S3 uploads through the host are small in tests).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// Hop-by-hop headers (RFC 9110 §7.6.1) and those the HTTP client recomputes.
const NOT_FORWARDED: [HeaderName; 5] = [
    header::CONNECTION,
    header::HOST,
    header::TRANSFER_ENCODING,
    header::CONTENT_LENGTH,
    header::UPGRADE,
];

struct HostState {
    ctx: Arc<StepContext>,
    forward_to: String,
    http: reqwest::Client,
}

/// The host's routes: invokes run the steps in `ctx`; the rest goes to `forward_to`
/// (moto's own endpoint, e.g. `http://127.0.0.1:5000`).
pub fn router(ctx: Arc<StepContext>, forward_to: impl Into<String>) -> Router {
    let state = Arc::new(HostState {
        ctx,
        forward_to: forward_to.into().trim_end_matches('/').to_string(),
        // No redirects, no decompression: moto's answers pass through as they are.
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default(),
    });
    Router::new()
        .route(INVOKE_PATH, post(invoke).fallback(forward))
        .fallback(forward)
        .with_state(state)
}

/// A port taken for the host before moto starts (moto must know it as `MOTO_PORT`).
pub struct BoundHost {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
}

impl BoundHost {
    /// Binds a free loopback port.
    pub async fn bind() -> std::io::Result<BoundHost> {
        Self::bind_to(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn bind_to(addr: SocketAddr) -> std::io::Result<BoundHost> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        Ok(BoundHost { listener, addr })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Starts serving on the bound port.
    pub fn serve(self, ctx: Arc<StepContext>, forward_to: impl Into<String>) -> LambdaHost {
        let app = router(ctx, forward_to);
        let (shutdown, mut stop) = watch::channel(false);
        let task = tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(self.listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(error = %e, "lambda host stopped");
            }
        });
        LambdaHost {
            addr: self.addr,
            shutdown,
            task,
        }
    }
}

/// A running host; stops when dropped.
pub struct LambdaHost {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl LambdaHost {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:<port>`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for LambdaHost {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.task.abort();
    }
}

/// Lambda's answer for a function error: what the Lambda runtime reports, so Step Functions
/// (and moto) take `errorType` as the error name.
pub fn function_error_body(error_type: &str, error_message: &str) -> serde_json::Value {
    serde_json::json!({ "errorType": error_type, "errorMessage": error_message })
}

async fn invoke(
    State(state): State<Arc<HostState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    // moto sends the payload without a JSON content type; an empty body is `{}` as in AWS.
    let payload = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(serde_json::json!({}))
    } else {
        serde_json::from_slice::<serde_json::Value>(&body)
    };
    // Lambda answers a name it does not know with 404, not with a function error.
    let Some(step) = Step::from_function_name(&name) else {
        return function_not_found(&name);
    };
    let result = match payload {
        Ok(payload) => run_step(Arc::clone(&state.ctx), step, payload)
            .await
            .map_err(|e| (e.error_name().to_string(), e.message())),
        Err(e) => Err((
            "InvalidRequestContentException".to_string(),
            format!("the payload is not JSON: {e}"),
        )),
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    match result {
        Ok(output) => (StatusCode::OK, headers, output.to_string()).into_response(),
        Err((error_type, message)) => {
            tracing::info!(function = %name, error_type = %error_type, "invocation failed");
            headers.insert(
                "x-amz-function-error",
                HeaderValue::from_static("Unhandled"),
            );
            let body = function_error_body(&error_type, &message);
            (StatusCode::OK, headers, body.to_string()).into_response()
        }
    }
}

/// The step's future with owned inputs, boxed as `Send`: axum needs a handler future that is
/// `Send` for every lifetime, which the compiler cannot prove through the borrowed form.
fn run_step(
    ctx: Arc<StepContext>,
    step: Step,
    payload: serde_json::Value,
) -> Pin<Box<dyn Future<Output = Result<serde_json::Value, StepError>> + Send>> {
    Box::pin(async move { step.run(&ctx, payload).await })
}

/// Lambda's answer to an Invoke of a function that does not exist.
fn function_not_found(name: &str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        "x-amzn-errortype",
        HeaderValue::from_static("ResourceNotFoundException"),
    );
    let body = serde_json::json!({
        "Type": "User",
        "Message": format!("Function not found: {name}"),
    });
    (StatusCode::NOT_FOUND, headers, body.to_string()).into_response()
}

async fn forward(State(state): State<Arc<HostState>>, request: Request) -> Response {
    match forward_request(&state, request).await {
        Ok(response) => response,
        Err(message) => {
            tracing::warn!(error = %message, "forwarding to moto failed");
            (StatusCode::BAD_GATEWAY, message).into_response()
        }
    }
}

async fn forward_request(state: &HostState, request: Request) -> Result<Response, String> {
    let (parts, body) = request.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let url = format!("{}{}", state.forward_to, path_and_query);
    let body = to_bytes(body, MAX_BODY)
        .await
        .map_err(|e| format!("reading the request body: {e}"))?;
    let mut headers = parts.headers;
    for name in &NOT_FORWARDED {
        headers.remove(name);
    }
    let upstream = state
        .http
        .request(parts.method, &url)
        .headers(headers)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("moto did not answer {}: {e}", parts.uri.path()))?;
    let status = upstream.status();
    let mut headers = upstream.headers().clone();
    // Content-Length stays: it is the body's length, and the only length a HEAD answer has.
    for name in NOT_FORWARDED
        .iter()
        .filter(|n| **n != header::CONTENT_LENGTH)
    {
        headers.remove(name);
    }
    let bytes = upstream
        .bytes()
        .await
        .map_err(|e| format!("reading moto's answer: {e}"))?;
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}
