//! Lambda `leganto-pull`: Pull the CEM export from the CEM SFTP server into S3, byte for byte.
//! Input, output and error names: infra/CONTRACT.md; the work: `leganto_shared::steps::pull`.

use leganto_shared::steps::{self, pull};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steps::serve("pull", pull::run).await
}
