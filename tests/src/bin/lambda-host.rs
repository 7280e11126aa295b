//! `lambda-host`: the local Lambda host as a process, for a moto started by hand.
//!
//! Start moto with `MOTO_PORT=<this port> moto_server -p <moto port>`, then run
//! `lambda-host --port <this port> --moto http://127.0.0.1:<moto port>` with the functions'
//! settings in the environment (BUCKET, the four `*_SECRET_ID`s, ALMA_BASE_URL, EMAIL_FROM,
//! EMAIL_TO, ...; `AWS_ENDPOINT_URL` pointing at moto). `make sandbox` and the end-to-end
//! tests do all this in one process (`leganto_tests::stack`).

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Parser;
use leganto_shared::steps::{self, StepContext};
use leganto_tests::lambda_host::BoundHost;

#[derive(Parser)]
#[command(
    about = "Answers the Lambda Invoke API with the product's steps; forwards the rest to moto"
)]
struct Args {
    /// Port to listen on (moto's MOTO_PORT).
    #[arg(long, default_value_t = 5001)]
    port: u16,
    /// moto's own endpoint, where every other request goes.
    #[arg(long, default_value = "http://127.0.0.1:5000")]
    moto: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    steps::init_json_logs();
    let args = Args::parse();
    let ctx = Arc::new(StepContext::from_env().await?);
    let bound = BoundHost::bind_to(SocketAddr::from(([127, 0, 0, 1], args.port))).await?;
    let host = bound.serve(ctx, args.moto.clone());
    tracing::info!(endpoint = %host.endpoint(), moto = %args.moto, "lambda host listening");
    tokio::signal::ctrl_c().await?;
    drop(host);
    Ok(())
}
