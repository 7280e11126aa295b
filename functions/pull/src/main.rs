//! Lambda `leganto-pull`: Pull the CEM export from the CEM SFTP server into S3, byte for byte.
//! Input, output and error names: infra/CONTRACT.md; the work: `leganto_shared::steps`.

use lambda_runtime::{service_fn, LambdaEvent};
use leganto_shared::steps::{self, Step, StepContext};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steps::init_json_logs();
    // Built once per cold start; a missing setting fails here, named.
    let ctx = StepContext::from_env().await?;
    let ctx = &ctx;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Err carries its stable name as the Lambda errorType (From<StepError> for Diagnostic).
        steps::handle(ctx, Step::Pull, event.payload).await
    }))
    .await
}
