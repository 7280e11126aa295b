//! Lambda `leganto-cache-courses`: Cache one year's Alma courses into S3 for the rollover report.
//! Input, output and error names: infra/CONTRACT.md; the work: `leganto_shared::steps::cache_courses`.

use leganto_shared::steps::{self, cache_courses};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steps::serve("cache-courses", cache_courses::run).await
}
