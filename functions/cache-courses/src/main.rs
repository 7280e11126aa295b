//! Lambda `leganto-cache-courses`: Cache one year's Alma courses into S3 for the rollover report.
//! Input, output and error names: infra/CONTRACT.md; the work: `leganto_shared::steps`.

use leganto_shared::steps::{self, Step};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steps::run_lambda(Step::CacheCourses).await
}
