//! Lambda `leganto-email-report`: E-mail the rollover report (SES v2, raw MIME with the report attached).
//! Input, output and error names: infra/CONTRACT.md; the work: `leganto_shared::steps::email_report`.

use leganto_shared::steps::{self, email_report};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steps::serve("email-report", email_report::run).await
}
