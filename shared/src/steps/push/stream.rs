//! The push's copies, a part at a time, so a loader file of any size passes through a few
//! parts of memory: reading it once for its digest and DELETE rows, writing the fresh
//! guard's copy without the rows it drops (S3 to S3), and sending it to Alma's server
//! (S3 to SFTP, the SFTP writes on the blocking pool behind a bounded channel).

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use super::{delete_row, DeleteRow, LineFilter, LineSplitter};
use crate::sftp::{Copied, SftpClient};
use crate::steps::{StepContext, StepError};
use crate::store::{content_type, Parts, StoreError, PART_BYTES};

/// Parts read from S3 waiting for the SFTP server: with the one being gathered and the
/// one being written, at most four parts (32 MB) are held whatever the file's size.
const PARTS_IN_FLIGHT: usize = 2;

/// A loader file read through once.
#[derive(Debug)]
pub(super) struct Scanned {
    pub sha256: String,
    pub deletes: Vec<DeleteRow>,
}

/// Reads `key` through once: its SHA-256 and its DELETE rows.
pub(super) async fn scan(ctx: &StepContext, key: &str) -> Result<Scanned, StepError> {
    let mut reader = ctx.store.reader(key).await?;
    let mut hasher = Sha256::new();
    let mut lines = LineSplitter::default();
    let mut deletes = Vec::new();
    while let Some(chunk) = reader.next_chunk().await? {
        hasher.update(&chunk);
        lines.push(&chunk, |i, line| deletes.extend(delete_row(i, line)));
    }
    lines.finish(|i, line| deletes.extend(delete_row(i, line)));
    Ok(Scanned {
        sha256: hex(&hasher.finalize()),
        deletes,
    })
}

/// A change made to a loader file as its bytes pass, a chunk at a time.
pub(super) trait Rewrite {
    /// Adds `chunk`; what it completes goes to `out`.
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>);
    /// The rest, once the file has ended.
    fn finish(self, out: &mut Vec<u8>);
}

impl Rewrite for LineFilter {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        LineFilter::push(self, chunk, out)
    }

    fn finish(self, out: &mut Vec<u8>) {
        LineFilter::finish(self, out)
    }
}

/// Writes `key` without the lines at `drop` under `new_key`; the SHA-256 of what it wrote.
pub(super) async fn write_without(
    ctx: &StepContext,
    key: &str,
    new_key: &str,
    drop: HashSet<usize>,
) -> Result<String, StepError> {
    rewrite(ctx, key, new_key, LineFilter::new(drop)).await
}

/// Writes `key` as `filter` changes it under `new_key`, a part at a time; the SHA-256 of
/// what it wrote. Nothing is left under `new_key` on a failure.
pub(super) async fn rewrite(
    ctx: &StepContext,
    key: &str,
    new_key: &str,
    filter: impl Rewrite,
) -> Result<String, StepError> {
    let mut reader = ctx.store.reader(key).await?;
    let mut object = ctx.store.streamed(new_key, content_type::TEXT);
    let copied = async {
        let (mut filter, mut parts) = (filter, Parts::new(PART_BYTES));
        let mut hasher = Sha256::new();
        let mut kept = Vec::new();
        while let Some(chunk) = reader.next_chunk().await? {
            filter.push(&chunk, &mut kept);
            hasher.update(&kept);
            for part in parts.push(&kept) {
                object.write_part(part).await?;
            }
            kept.clear();
        }
        filter.finish(&mut kept);
        hasher.update(&kept);
        for part in parts.push(&kept) {
            object.write_part(part).await?;
        }
        if let Some(last) = parts.finish() {
            object.write_part(last).await?;
        }
        Ok::<_, StoreError>(hex(&hasher.finalize()))
    }
    .await;
    match copied {
        Ok(sha256) => {
            object.finish().await?;
            Ok(sha256)
        }
        Err(e) => {
            object.abandon().await;
            Err(e.into())
        }
    }
}

/// Sends `key` to `temp_name` on Alma's server and checks that the server holds exactly
/// the bytes recorded (`sha256`); otherwise the temporary file is removed and nothing is
/// renamed.
pub(super) async fn send(
    ctx: &StepContext,
    sftp: &SftpClient,
    key: &str,
    temp_name: &str,
    sha256: &str,
) -> Result<Copied, StepError> {
    let (parts_tx, parts_rx) = tokio::sync::mpsc::channel(PARTS_IN_FLIGHT);
    let mut reader = ctx.store.reader(key).await?;
    let read = async {
        // Owned here, so the SFTP side sees the end (or the failure) when this ends.
        let parts_tx = parts_tx;
        let mut parts = Parts::new(PART_BYTES);
        while let Some(chunk) = reader.next_chunk().await? {
            for part in parts.push(&chunk) {
                if parts_tx.send(part).await.is_err() {
                    // The SFTP side failed; its error says why.
                    return Ok(());
                }
            }
        }
        if let Some(last) = parts.finish() {
            // As above: a closed channel is the SFTP side's failure, reported by it.
            let _ = parts_tx.send(last).await;
        }
        Ok::<(), StoreError>(())
    };
    let (read, written) = tokio::join!(read, sftp.upload_parts(temp_name, parts_rx));
    let checked = match (read, written) {
        (Err(store_error), _) => Err(store_error.into()),
        (Ok(()), Err(sftp_error)) => return Err(sftp_error.into()),
        (Ok(()), Ok(copied)) if copied.sha256 != sha256 => Err(StoreError::Changed {
            bucket: ctx.store.bucket().to_string(),
            key: key.to_string(),
            expected: sha256.to_string(),
            actual: copied.sha256,
        }
        .into()),
        (Ok(()), Ok(copied)) => Ok(copied),
    };
    if checked.is_err() {
        // A part of the file, or other bytes: never to be renamed.
        if let Err(e) = sftp.remove(temp_name).await {
            tracing::warn!(temp = %temp_name, error = %e, "could not remove an unfinished upload");
        }
    }
    checked
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::receipt::sha256_hex;

    #[test]
    fn the_digest_reads_as_the_receipt_records_it() {
        assert_eq!(hex(&Sha256::digest(b"abc")), sha256_hex(b"abc"));
    }
}
