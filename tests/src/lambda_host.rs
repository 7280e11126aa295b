//! The local Lambda host: answers the Lambda Invoke API by running the product's step
//! handlers, and forwards every other request to moto.
//!
//! moto sends a state machine's Lambda invokes to `http://localhost:$MOTO_PORT`. With moto on
//! port A and `MOTO_PORT` = B, this host on B answers
//! `POST /2015-03-31/functions/{name or ARN}/invocations` through
//! [`crate::dispatch::Step::run`] — 200 with the output, or, as AWS does, 200 with
//! `X-Amz-Function-Error: Unhandled` and `{"errorType", "errorMessage"}` — and passes any
//! other request (method, path, query, headers, body) to moto on A unchanged.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use leganto_shared::steps::{self, StepContext, StepError};

use crate::dispatch::Step;
use crate::iam::{
    access_denied, classify, passed_role, signer, Access, Decision, Policies,
    Request as IamRequest, Scope,
};
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

/// How the host runs one function: as its deployment would.
#[derive(Clone)]
pub struct Function {
    /// Its settings and AWS credentials (its own role's, in the local stack).
    pub ctx: Arc<StepContext>,
    /// The template's `Timeout`: past it the invocation is stopped as Lambda stops it.
    pub timeout: Option<Duration>,
}

/// The functions the host runs, and the IAM it applies to what they do.
#[derive(Clone)]
pub struct Functions {
    by_step: HashMap<Step, Function>,
    /// What each function's credentials may do: access key id → (role, policies).
    principals: HashMap<String, (String, Policies)>,
    /// The state machine role's policies: which functions it may invoke.
    invoker: Option<Policies>,
    scope: Option<Scope>,
}

impl Functions {
    /// Every step with the same context, no timeout and no IAM: for tests of the handlers.
    pub fn shared(ctx: Arc<StepContext>) -> Functions {
        Functions {
            by_step: Step::ALL
                .into_iter()
                .map(|step| {
                    let function = Function {
                        ctx: Arc::clone(&ctx),
                        timeout: None,
                    };
                    (step, function)
                })
                .collect(),
            principals: HashMap::new(),
            invoker: None,
            scope: None,
        }
    }

    /// Each step with its own function; `scope` says where resources live.
    pub fn deployed(by_step: HashMap<Step, Function>, scope: Scope) -> Functions {
        Functions {
            by_step,
            principals: HashMap::new(),
            invoker: None,
            scope: Some(scope),
        }
    }

    /// Calls signed with `access_key` are judged against `policies` (role `role`, or a
    /// user's ARN).
    pub fn with_principal(mut self, access_key: &str, role: &str, policies: Policies) -> Self {
        self.principals
            .insert(access_key.to_string(), (role.to_string(), policies));
        self
    }

    /// Invokes are judged against the state machine role's `policies`.
    pub fn with_invoker(mut self, policies: Policies) -> Self {
        self.invoker = Some(policies);
        self
    }
}

impl From<Arc<StepContext>> for Functions {
    fn from(ctx: Arc<StepContext>) -> Functions {
        Functions::shared(ctx)
    }
}

struct HostState {
    functions: Functions,
    forward_to: String,
    http: reqwest::Client,
    faults: Faults,
}

/// Failures a test plants in the host's forwarding: the next `times` requests with `method`
/// whose path ends with `path_suffix` get S3's `500 InternalError` instead of moto's answer,
/// as a real service fails now and then.
#[derive(Clone, Default)]
pub struct Faults(Arc<Mutex<Vec<Fault>>>);

struct Fault {
    method: axum::http::Method,
    path_suffix: String,
    times: u32,
}

impl Faults {
    pub fn fail_next(&self, method: axum::http::Method, path_suffix: &str, times: u32) {
        self.lock().push(Fault {
            method,
            path_suffix: path_suffix.to_string(),
            times,
        });
    }

    /// How many planted failures have not been answered yet.
    pub fn pending(&self) -> u32 {
        self.lock().iter().map(|f| f.times).sum()
    }

    /// Takes one planted failure matching this request, if any.
    fn take(&self, method: &axum::http::Method, path: &str) -> bool {
        let mut faults = self.lock();
        let Some(fault) = faults
            .iter_mut()
            .find(|f| f.times > 0 && f.method == method && path.ends_with(&f.path_suffix))
        else {
            return false;
        };
        fault.times -= 1;
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Fault>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// S3's answer to a request it failed on its side.
fn internal_error(path: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>\
         <Message>We encountered an internal error. Please try again.</Message>\
         <Resource>{path}</Resource><RequestId>FAULT</RequestId></Error>"
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    (StatusCode::INTERNAL_SERVER_ERROR, headers, body).into_response()
}

/// The host's routes: invokes run the steps of `functions`; the rest goes to `forward_to`
/// (moto's own endpoint, e.g. `http://127.0.0.1:5000`), judged by IAM first when a
/// function's credentials signed it.
pub fn router(
    functions: impl Into<Functions>,
    forward_to: impl Into<String>,
    faults: Faults,
) -> Router {
    let state = Arc::new(HostState {
        functions: functions.into(),
        forward_to: forward_to.into().trim_end_matches('/').to_string(),
        // No redirects, no decompression: moto's answers pass through as they are.
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default(),
        faults,
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
    pub fn serve(
        self,
        functions: impl Into<Functions>,
        forward_to: impl Into<String>,
    ) -> LambdaHost {
        let faults = Faults::default();
        let app = router(functions, forward_to, faults.clone());
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
            faults,
        }
    }
}

/// A running host; stops when dropped.
pub struct LambdaHost {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    /// Failures planted in the forwarding of the functions' AWS calls.
    pub faults: Faults,
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
    let Some((step, function)) = Step::from_function_name(&name)
        .and_then(|step| Some((step, state.functions.by_step.get(&step)?.clone())))
    else {
        return function_not_found(&name);
    };
    if let Some(refused) = refused_invoke(&state.functions, &name) {
        return refused;
    }
    let result = match payload {
        Ok(payload) => run_function(function, step, payload).await,
        Err(e) => Err((
            "InvalidRequestContentException".to_string(),
            format!("the payload is not JSON: {e}"),
        )),
    };
    let mut headers = json_headers();
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

/// Runs the step within its function's timeout; past it, the answer Lambda gives for a
/// timed-out invocation (`Sandbox.Timedout`), and the step's work is dropped.
async fn run_function(
    function: Function,
    step: Step,
    payload: serde_json::Value,
) -> Result<serde_json::Value, (String, String)> {
    let run = run_step(function.ctx, step, payload);
    let result = match function.timeout {
        None => run.await,
        // The step learns its deadline as Lambda's context tells it.
        Some(limit) => match tokio::time::timeout(
            limit,
            steps::within_deadline(std::time::Instant::now() + limit, run),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => {
                return Err((
                    "Sandbox.Timedout".to_string(),
                    format!(
                        "RequestId: {} Error: Task timed out after {:.2} seconds",
                        request_id(),
                        limit.as_secs_f64()
                    ),
                ))
            }
        },
    };
    // The same conversion the Lambda runtime applies (stable name, clipped message).
    result.map_err(|e| {
        let diagnostic = lambda_runtime::Diagnostic::from(e);
        (diagnostic.error_type, diagnostic.error_message)
    })
}

/// A request id as Lambda prints them (unique enough for one local stack).
fn request_id() -> String {
    let n: u128 = rand::random();
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The state machine's role must allow `lambda:InvokeFunction` on the function, as Step
/// Functions needs; moto's executor does not check it, so the host does.
fn refused_invoke(functions: &Functions, name: &str) -> Option<Response> {
    let (invoker, scope) = (functions.invoker.as_ref()?, functions.scope.as_ref()?);
    let arn = if name.starts_with("arn:") {
        name.to_string()
    } else {
        format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            scope.region, scope.account
        )
    };
    let access = Access {
        action: "lambda:InvokeFunction".into(),
        resource: arn,
        context: Vec::new(),
    };
    if invoker.decide(&access) == Decision::Allowed {
        return None;
    }
    tracing::warn!(function = %name, "the state machine role may not invoke this function");
    Some(denied_response("lambda", "the state machine role", &access))
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

fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers
}

/// Lambda's answer to an Invoke of a function that does not exist.
fn function_not_found(name: &str) -> Response {
    let mut headers = json_headers();
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

/// What IAM said of a call a function signed.
enum Judged<'a> {
    /// Not a function's call (the harness's own): moto alone judges it.
    Unjudged,
    Allowed {
        access: Access,
        policies: &'a Policies,
        principal: String,
        service: String,
    },
    Refused(Response),
}

fn judge<'a>(state: &'a HostState, parts: &axum::http::request::Parts, body: &[u8]) -> Judged<'a> {
    judge_call(state, parts, body).unwrap_or(Judged::Unjudged)
}

fn judge_call<'a>(
    state: &'a HostState,
    parts: &axum::http::request::Parts,
    body: &[u8],
) -> Option<Judged<'a>> {
    let scope = state.functions.scope.as_ref()?;
    let authorization = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (access_key, service) = signer(authorization)?;
    let (role, policies) = state.functions.principals.get(access_key)?;
    let request = IamRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        target: parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok()),
        service,
        body,
    };
    // A role's name, or a user's ARN as given.
    let principal = if role.starts_with("arn:") {
        role.clone()
    } else {
        format!("arn:aws:sts::{}:assumed-role/{role}/local", scope.account)
    };
    let access = match classify(&request, scope) {
        Ok(access) => access,
        Err(reason) => {
            // Unmodelled calls are refused so that a new kind of call is noticed here.
            Access {
                action: format!("{service}:{reason}"),
                resource: "*".into(),
                context: Vec::new(),
            }
        }
    };
    let passed = passed_role(&request).filter(|role| policies.decide(role) != Decision::Allowed);
    if let Some(role) = passed {
        tracing::warn!(role = %role.resource, "access denied: the caller may not pass the role");
        return Some(Judged::Refused(denied_response(service, &principal, &role)));
    }
    if policies.decide(&access) == Decision::Allowed {
        return Some(Judged::Allowed {
            access,
            policies,
            principal,
            service: service.to_string(),
        });
    }
    tracing::warn!(role = %role, action = %access.action, resource = %access.resource, "access denied");
    Some(Judged::Refused(denied_response(
        service, &principal, &access,
    )))
}

fn denied_response(service: &str, principal: &str, access: &Access) -> Response {
    let (status, content_type, body) = access_denied(service, principal, access);
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(
        "x-amzn-errortype",
        HeaderValue::from_static("AccessDeniedException"),
    );
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN),
        headers,
        body,
    )
        .into_response()
}

/// S3 tells a caller without `s3:ListBucket` that a missing object is AccessDenied (403),
/// not NoSuchKey (404), so such a caller cannot learn which keys exist; moto always says 404.
fn hidden_missing_object(judged: &Judged<'_>, status: reqwest::StatusCode) -> Option<Response> {
    let Judged::Allowed {
        access,
        policies,
        principal,
        service,
    } = judged
    else {
        return None;
    };
    if status != reqwest::StatusCode::NOT_FOUND || access.action != "s3:GetObject" {
        return None;
    }
    let (bucket, key) = access
        .resource
        .strip_prefix("arn:aws:s3:::")?
        .split_once('/')?;
    let list = Access {
        action: "s3:ListBucket".into(),
        resource: format!("arn:aws:s3:::{bucket}"),
        context: vec![("s3:prefix".into(), key.to_string())],
    };
    if policies.decide(&list) == Decision::Allowed {
        return None;
    }
    Some(denied_response(service, principal, access))
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
    let judged = judge(state, &parts, &body);
    if let Judged::Refused(response) = judged {
        return Ok(response);
    }
    if state.faults.take(&parts.method, parts.uri.path()) {
        tracing::info!(method = %parts.method, path = parts.uri.path(), "planted failure");
        return Ok(internal_error(parts.uri.path()));
    }
    let mut headers = parts.headers;
    // Host stays: it is signed, and moto checks the signature.
    for name in NOT_FORWARDED.iter().filter(|n| **n != header::HOST) {
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
    if let Some(denied) = hidden_missing_object(&judged, status) {
        return Ok(denied);
    }
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
