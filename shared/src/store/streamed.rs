//! Objects written and read a part at a time, so a file of any size passes through a few
//! parts of memory: S3 multipart upload for writing, the GetObject body for reading.
//!
//! A multipart upload shows nothing under its key until CompleteMultipartUpload succeeds;
//! on any failure it is aborted, so no half-written object and no orphaned parts remain.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;

use super::{Store, StoreError};

/// How much a streamed copy holds per part: S3 takes parts of 5 MB and more (all but the
/// last), and a few of these in flight keep a copy far inside a 256 MB function.
pub const PART_BYTES: usize = 8 * 1024 * 1024;

/// What a streamed write left in S3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenObject {
    pub bytes: u64,
    /// 1 for a plain PutObject (a file of one part), else the multipart upload's parts.
    pub parts: u32,
    pub etag: String,
}

/// An object being written part by part; see [`Store::streamed`]. Nothing is under the key
/// until [`StreamedObject::finish`]; drop it unfinished only through
/// [`StreamedObject::abandon`].
pub struct StreamedObject<'a> {
    store: &'a Store,
    key: String,
    content_type: String,
    /// The first part, held back: a file of one part goes up as one PutObject.
    first: Option<Bytes>,
    upload: Option<Multipart>,
    bytes: u64,
}

struct Multipart {
    upload_id: String,
    parts: Vec<CompletedPart>,
}

impl Store {
    /// Starts writing `key` part by part (parts of [`PART_BYTES`], the last may be
    /// shorter).
    pub fn streamed(&self, key: &str, content_type: &str) -> StreamedObject<'_> {
        StreamedObject {
            store: self,
            key: key.to_string(),
            content_type: content_type.to_string(),
            first: None,
            upload: None,
            bytes: 0,
        }
    }

    /// The object's body, read chunk by chunk; a missing key is [`StoreError::NotFound`].
    pub async fn reader(&self, key: &str) -> Result<ObjectReader<'_>, StoreError> {
        let Some(output) = self.get_object(key).await? else {
            return Err(StoreError::NotFound {
                bucket: self.bucket.clone(),
                key: key.to_string(),
            });
        };
        Ok(ObjectReader {
            store: self,
            key: key.to_string(),
            body: output.body,
        })
    }
}

/// An object's body as it arrives.
pub struct ObjectReader<'a> {
    store: &'a Store,
    key: String,
    body: ByteStream,
}

impl ObjectReader<'_> {
    /// The next chunk (of whatever size the connection delivers); `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, StoreError> {
        self.body
            .try_next()
            .await
            .map_err(|e| self.store.unavailable("GetObject", &self.key, e))
    }
}

impl StreamedObject<'_> {
    /// Adds the next part. Parts before the last must be at least 5 MB (S3's rule);
    /// [`PART_BYTES`] is.
    pub async fn write_part(&mut self, part: Bytes) -> Result<(), StoreError> {
        self.bytes += part.len() as u64;
        if self.upload.is_none() {
            let Some(first) = self.first.take() else {
                self.first = Some(part);
                return Ok(());
            };
            self.upload = Some(self.create().await?);
            self.upload_part(first).await?;
        }
        self.upload_part(part).await
    }

    /// Makes the object appear under its key: one PutObject for a file of one part, else
    /// CompleteMultipartUpload. A failure aborts the upload.
    pub async fn finish(mut self) -> Result<WrittenObject, StoreError> {
        let Some(upload) = self.upload.take() else {
            let bytes = self.first.take().unwrap_or_default();
            let output = self
                .store
                .put_request(&self.key, bytes, &self.content_type)
                .send()
                .await
                .map_err(|e| self.store.unavailable("PutObject", &self.key, e))?;
            return Ok(WrittenObject {
                bytes: self.bytes,
                parts: 1,
                etag: output.e_tag.unwrap_or_default(),
            });
        };
        let parts = upload.parts.len() as u32;
        let completed = self
            .store
            .client
            .complete_multipart_upload()
            .bucket(&self.store.bucket)
            .key(&self.key)
            .upload_id(&upload.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(upload.parts.clone()))
                    .build(),
            )
            .send()
            .await;
        match completed {
            Ok(output) => Ok(WrittenObject {
                bytes: self.bytes,
                parts,
                etag: output.e_tag.unwrap_or_default(),
            }),
            Err(e) => {
                let error = self
                    .store
                    .unavailable("CompleteMultipartUpload", &self.key, e);
                self.upload = Some(upload);
                self.abandon().await;
                Err(error)
            }
        }
    }

    /// Aborts the multipart upload, if one was started, so S3 keeps none of its parts.
    /// Best effort, and logged: the bucket's lifecycle rule removes what an abort missed.
    pub async fn abandon(self) {
        let Some(upload) = self.upload else {
            return;
        };
        let aborted = self
            .store
            .client
            .abort_multipart_upload()
            .bucket(&self.store.bucket)
            .key(&self.key)
            .upload_id(&upload.upload_id)
            .send()
            .await;
        match aborted {
            Ok(_) => {
                tracing::info!(key = %self.key, parts = upload.parts.len(), "aborted an unfinished multipart upload")
            }
            Err(e) => {
                tracing::warn!(key = %self.key, error = %e, "could not abort an unfinished multipart upload")
            }
        }
    }

    async fn create(&self) -> Result<Multipart, StoreError> {
        let output = self
            .store
            .client
            .create_multipart_upload()
            .bucket(&self.store.bucket)
            .key(&self.key)
            .content_type(&self.content_type)
            .send()
            .await
            .map_err(|e| {
                self.store
                    .unavailable("CreateMultipartUpload", &self.key, e)
            })?;
        let upload_id = output.upload_id.ok_or_else(|| {
            self.store.unavailable(
                "CreateMultipartUpload",
                &self.key,
                "S3 answered without an upload id",
            )
        })?;
        Ok(Multipart {
            upload_id,
            parts: Vec::new(),
        })
    }

    async fn upload_part(&mut self, part: Bytes) -> Result<(), StoreError> {
        let Some(upload) = self.upload.as_mut() else {
            return Err(self.store.unavailable(
                "UploadPart",
                &self.key,
                "no multipart upload started",
            ));
        };
        let number = upload.parts.len() as i32 + 1;
        let output = self
            .store
            .client
            .upload_part()
            .bucket(&self.store.bucket)
            .key(&self.key)
            .upload_id(&upload.upload_id)
            .part_number(number)
            .body(ByteStream::from(part))
            .send()
            .await
            .map_err(|e| self.store.unavailable("UploadPart", &self.key, e))?;
        upload.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(output.e_tag)
                .build(),
        );
        Ok(())
    }
}

/// Cuts a stream of chunks of any size into parts of exactly `part_bytes` (the last may be
/// shorter), copying each byte once.
#[derive(Debug)]
pub struct Parts {
    part_bytes: usize,
    pending: Vec<u8>,
}

impl Parts {
    pub fn new(part_bytes: usize) -> Parts {
        Parts {
            part_bytes,
            pending: Vec::with_capacity(part_bytes),
        }
    }

    /// Adds `chunk`; returns the parts it completed.
    pub fn push(&mut self, mut chunk: &[u8]) -> Vec<Bytes> {
        let mut full = Vec::new();
        while !chunk.is_empty() {
            let room = self.part_bytes - self.pending.len();
            let (now, later) = chunk.split_at(room.min(chunk.len()));
            self.pending.extend_from_slice(now);
            chunk = later;
            if self.pending.len() == self.part_bytes {
                let part =
                    std::mem::replace(&mut self.pending, Vec::with_capacity(self.part_bytes));
                full.push(Bytes::from(part));
            }
        }
        full
    }

    /// The last, shorter part, if anything is left.
    pub fn finish(self) -> Option<Bytes> {
        (!self.pending.is_empty()).then(|| Bytes::from(self.pending))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_of_any_size_become_whole_parts_and_a_shorter_last() {
        let mut parts = Parts::new(4);
        assert!(parts.push(b"ab").is_empty());
        assert_eq!(parts.push(b"cdefghij"), [&b"abcd"[..], b"efgh"]);
        assert_eq!(parts.finish().as_deref(), Some(&b"ij"[..]));
        let mut exact = Parts::new(2);
        assert_eq!(exact.push(b"xy"), [&b"xy"[..]]);
        assert!(exact.finish().is_none());
    }
}
