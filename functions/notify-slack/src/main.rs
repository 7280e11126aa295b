//! Lambda `leganto-notify-slack`: Post the day's summary or a failure to Slack; a Slack outage never fails the run.
//! Input, output and error names: infra/CONTRACT.md; the work: `leganto_shared::steps::notify_slack`.

use leganto_shared::steps::{self, notify_slack};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steps::serve("notify-slack", notify_slack::run_value).await
}
