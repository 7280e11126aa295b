//! A moto server on loopback for tests: S3, Secrets Manager, SES v2 and Step Functions.
//!
//! `Moto::start()` spawns `<repo>/.venv/bin/moto_server` on a free port and kills it on drop,
//! so every test gets its own empty AWS. Sent e-mail is read back from `/moto-api/data.json`.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::Credentials;
use leganto_shared::error::error_chain;
use serde::Deserialize;

use crate::support::{free_port, repo_root};

/// Region every test client uses; moto keeps separate state per region.
pub const REGION: &str = "us-east-1";

/// How long moto may take to start listening (a busy machine imports moto slowly).
const START_TIMEOUT: Duration = Duration::from_secs(90);

#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error("moto_server not found at {path}: run `make setup` (infra/local/setup.sh) first")]
    NotInstalled { path: PathBuf },
    #[error("could not start moto_server")]
    Spawn(#[source] std::io::Error),
    #[error("moto_server exited before listening ({status}); log:\n{log}")]
    Exited { status: String, log: String },
    #[error("moto_server did not listen on {addr} within {secs} s; log:\n{log}")]
    NotReady {
        addr: SocketAddr,
        secs: u64,
        log: String,
    },
    #[error("moto API call {what} failed")]
    Api {
        what: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("moto's data.json holds a message of an unexpected shape")]
    Data(#[source] serde_json::Error),
    #[error("moto API call {what} answered {status}: {body}")]
    ApiStatus {
        what: &'static str,
        status: u16,
        body: String,
    },
}

/// One message sent through SES (v1 or v2) as moto recorded it.
#[derive(Debug, Clone, Deserialize)]
pub struct RawMessage {
    pub id: String,
    pub source: Option<String>,
    pub destinations: Vec<String>,
    /// The MIME message exactly as sent.
    pub raw_data: String,
}

/// A running moto server; killed when dropped.
pub struct Moto {
    child: Child,
    port: u16,
    log_path: PathBuf,
    http: reqwest::Client,
}

impl Moto {
    /// Starts moto or panics with the reason (test harness convenience).
    pub fn start() -> Moto {
        Self::start_with_env(&[])
    }

    /// Starts moto with extra environment variables for the server process
    /// (e.g. `MOTO_PORT` pointing at a local Lambda host).
    pub fn start_with_env(env: &[(&str, &str)]) -> Moto {
        match Self::try_start_with_env(env) {
            Ok(moto) => moto,
            Err(err) => panic!("{}", error_chain(&err)),
        }
    }

    pub fn try_start_with_env(env: &[(&str, &str)]) -> Result<Moto, MotoError> {
        let server = repo_root().join(".venv/bin/moto_server");
        if !server.is_file() {
            return Err(MotoError::NotInstalled { path: server });
        }
        let port = free_port().map_err(MotoError::Spawn)?;
        let log_path =
            std::env::temp_dir().join(format!("leganto-moto-{}-{port}.log", std::process::id()));
        let log = std::fs::File::create(&log_path).map_err(MotoError::Spawn)?;
        let mut command = Command::new(&server);
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(MotoError::Spawn)?)
            .stderr(log)
            // The server must never see real credentials or endpoints from the caller's shell.
            .env_remove("AWS_ENDPOINT_URL")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", REGION);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().map_err(MotoError::Spawn)?;
        let mut moto = Moto {
            child,
            port,
            log_path,
            http: reqwest::Client::new(),
        };
        moto.wait_until_listening()?;
        Ok(moto)
    }

    fn wait_until_listening(&mut self) -> Result<(), MotoError> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(MotoError::Exited {
                    status: status.to_string(),
                    log: self.log_tail(),
                });
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(MotoError::NotReady {
                    addr,
                    secs: START_TIMEOUT.as_secs(),
                    log: self.log_tail(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log_path) {
            let _ = file.read_to_string(&mut text);
        }
        let start = text.len().saturating_sub(4000);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        text[start..].to_string()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SDK configuration for this server: test credentials, [`REGION`], its endpoint.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .endpoint_url(self.endpoint())
            .load()
            .await
    }

    /// SDK configuration for this server with `credentials`, at `endpoint` (moto's own, or a
    /// relay in front of it such as the Lambda host).
    pub async fn sdk_config_as(
        &self,
        credentials: Credentials,
        endpoint: &str,
    ) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .credentials_provider(credentials)
            .endpoint_url(endpoint)
            .load()
            .await
    }

    /// From now on moto authenticates every AWS call and checks its action against the
    /// caller's IAM policies (`INITIAL_NO_AUTH_ACTION_COUNT` = 0).
    pub async fn enforce_iam(&self) -> Result<(), MotoError> {
        let response = self
            .http
            .post(format!("{}/moto-api/reset-auth", self.endpoint()))
            .body("0")
            .send()
            .await
            .map_err(|source| MotoError::Api {
                what: "reset-auth",
                source,
            })?;
        check_status("reset-auth", response).await.map(|_| ())
    }

    /// Lets moto run state machines (must be sent before creating them).
    pub async fn enable_stepfunctions_execution(&self) -> Result<(), MotoError> {
        let body = serde_json::json!({"stepfunctions": {"execute_state_machine": true}});
        let response = self
            .http
            .post(format!("{}/moto-api/config", self.endpoint()))
            .json(&body)
            .send()
            .await
            .map_err(|source| MotoError::Api {
                what: "config",
                source,
            })?;
        check_status("config", response).await.map(|_| ())
    }

    /// Every message sent through SES so far, oldest first.
    pub async fn sent_emails(&self) -> Result<Vec<RawMessage>, MotoError> {
        let response = self
            .http
            .get(format!("{}/moto-api/data.json", self.endpoint()))
            .send()
            .await
            .map_err(|source| MotoError::Api {
                what: "data.json",
                source,
            })?;
        let response = check_status("data.json", response).await?;
        let data: serde_json::Value = response.json().await.map_err(|source| MotoError::Api {
            what: "data.json",
            source,
        })?;
        // data.json: {"ses": {"RawMessage": [ {...}, ... ]}, ...} (sesv2 shares the SES backend).
        let messages = data
            .get("ses")
            .and_then(|ses| ses.get("RawMessage"))
            .and_then(|list| list.as_array())
            .cloned()
            .unwrap_or_default();
        messages
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<_, _>>()
            .map_err(MotoError::Data)
    }

    /// Empties every backend (POST /moto-api/reset).
    pub async fn reset(&self) -> Result<(), MotoError> {
        let response = self
            .http
            .post(format!("{}/moto-api/reset", self.endpoint()))
            .send()
            .await
            .map_err(|source| MotoError::Api {
                what: "reset",
                source,
            })?;
        check_status("reset", response).await.map(|_| ())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log_path);
    }
}

async fn check_status(
    what: &'static str,
    response: reqwest::Response,
) -> Result<reqwest::Response, MotoError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    Err(MotoError::ApiStatus {
        what,
        status: status.as_u16(),
        body,
    })
}
