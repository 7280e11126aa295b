//! Lambda `leganto-email-report`: E-mail the rollover report (SES v2, raw MIME with the report attached).
//! Input, output and error names: infra/CONTRACT.md; the work: `leganto_shared::steps`.

use leganto_shared::steps::{self, Step};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steps::run_lambda(Step::EmailReport).await
}
