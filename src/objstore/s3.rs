//! An S3 bucket through aws-sdk-s3: path-style addressing, the standard
//! credential chain (with `profile`), bounded retries with backoff, and
//! multipart uploads streamed from disk for large objects.
//!
//! Errors name the bucket, the operation and the key, and never carry
//! credentials: only the S3 error code and message are kept.

use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::{RetryConfig, RetryPartition, TokenBucket};
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use futures::{StreamExt, TryStreamExt};

use std::sync::Arc;

use super::url::S3Location;
use super::{too_large, Body, Fetched, ObjectMeta, RequestCounts};
use crate::errors::{Error, Result, StoreErrorKind};

/// Objects at least this big go up in parts (when multipart is on).
const MULTIPART_THRESHOLD: u64 = 64 << 20;
/// The smallest part; parts grow to keep under 10 000 of them.
const MIN_PART: u64 = 16 << 20;
/// Parts in flight for one object. Parts stream from disk: no buffering.
const PARTS_IN_FLIGHT: usize = 4;
/// How much of a file body is read at a time. The SDK's default (4 KiB)
/// costs a read, a chunk and a write per 4 KiB.
const READ_BUFFER: usize = 256 << 10;
/// Attempts per request, first one included.
pub const MAX_ATTEMPTS: u32 = 5;
/// Keys per DeleteObjects request (the S3 maximum).
const DELETE_BATCH: usize = 1000;

/// An S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    endpoint: String,
    multipart: bool,
    requests: Arc<RequestCounts>,
}

impl S3Store {
    /// A client for `loc`. Credentials are resolved lazily, on the first request.
    pub async fn open(loc: &S3Location, requests: Arc<RequestCounts>) -> S3Store {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(Region::new(loc.region.clone()))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(MAX_ATTEMPTS)
                    .with_initial_backoff(Duration::from_millis(200))
                    .with_max_backoff(Duration::from_secs(5)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .read_timeout(Duration::from_secs(60))
                    .build(),
            );
        if let Some(profile) = &loc.profile {
            loader = loader.profile_name(profile);
        }
        let shared = loader.load().await;
        // The SDK's default retry quota (a bucket of 500 tokens shared by
        // every request of the client) stops retrying after about a hundred
        // failures, however far apart: a release of a few hundred objects
        // over a flaky link would then give up on requests that had attempts
        // left. Each request stays bounded by MAX_ATTEMPTS and the backoff,
        // and `-j` bounds how many are in flight.
        let partition = RetryPartition::custom(format!("release-dist-{}", loc.bucket))
            .token_bucket(TokenBucket::unlimited())
            .build();
        let mut conf = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(true)
            .retry_partition(partition);
        if let Some(url) = loc.endpoint_url() {
            conf = conf.endpoint_url(url);
        }
        if loc.checksums_when_required {
            conf = conf
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        }
        S3Store {
            client: Client::from_conf(conf.build()),
            bucket: loc.bucket.clone(),
            endpoint: loc.endpoint_url().unwrap_or_else(|| "AWS".into()),
            multipart: loc.multipart,
            requests,
        }
    }

    /// `s3://bucket (endpoint)`.
    pub fn describe(&self) -> String {
        format!("s3://{} at {}", self.bucket, self.endpoint)
    }

    fn error<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        op: &'static str,
        key: &str,
        err: SdkError<E, HttpResponse>,
    ) -> Error {
        let (kind, message) = classify(&err);
        Error::Store {
            store: self.describe(),
            op,
            key: if key.is_empty() {
                "/".into()
            } else {
                key.to_string()
            },
            kind,
            message,
        }
    }

    pub(super) async fn exists(&self, key: &str) -> Result<bool> {
        self.requests.head();
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if status(&e) == Some(404) => Ok(false),
            Err(e) => Err(self.error("HEAD", key, e)),
        }
    }

    /// Streams `key` into the file `to`, at most `cap` bytes, hashing it:
    /// `None` when it does not exist.
    pub(super) async fn download(
        &self,
        key: &str,
        to: Option<&std::path::Path>,
        cap: u64,
    ) -> Result<Option<Fetched>> {
        self.requests.get();
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if status(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(self.error("GET", key, e)),
        };
        if out.content_length.is_some_and(|n| n as u64 > cap) {
            return Err(too_large(&self.describe(), key, cap));
        }
        let reader = out.body.into_async_read();
        super::copy_hashed(reader, to, cap, &self.describe(), key)
            .await
            .map(Some)
    }

    /// Whether a server-side copy from `other` can work: the same endpoint.
    pub(super) fn same_endpoint(&self, other: &S3Store) -> bool {
        self.endpoint == other.endpoint
    }

    /// Copies `key` from bucket `from` (same endpoint) without the bytes
    /// passing through here (CopyObject).
    pub(super) async fn copy_from(&self, from: &S3Store, key: &str) -> Result<()> {
        self.requests.put();
        let source = format!(
            "{}/{}",
            from.bucket,
            url::form_urlencoded::byte_serialize(key.as_bytes())
                .collect::<String>()
                .replace("%2F", "/")
        );
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .key(key)
            .copy_source(source)
            .send()
            .await
            .map_err(|e| self.error("COPY", key, e))?;
        Ok(())
    }

    pub(super) async fn get(&self, key: &str, cap: u64) -> Result<Option<Vec<u8>>> {
        self.requests.get();
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => {
                if out.content_length.is_some_and(|n| n as u64 > cap) {
                    return Err(too_large(&self.describe(), key, cap));
                }
                let mut reader = out.body.into_async_read();
                super::read_capped(&mut reader, cap, &self.describe(), key)
                    .await
                    .map(Some)
            }
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(self.error("GET", key, e)),
        }
    }

    pub(super) async fn put(&self, key: &str, body: Body, content_type: &str) -> Result<()> {
        // Files (NARs, release files, blobs) go up without payload signing:
        // SigV4 would hash every byte once more on each side, and their
        // integrity is already in what names them (the narinfo's FileHash,
        // SHA256SUMS, a digest). Small documents stay signed.
        let (stream, unsigned) = match body {
            Body::Bytes(bytes) => (ByteStream::from(bytes), false),
            Body::Blob(bytes) => (ByteStream::from(bytes), true),
            Body::File(path) => {
                let size = tokio::fs::metadata(&path)
                    .await
                    .map_err(Error::io("cannot read", &path))?
                    .len();
                if self.multipart && size >= MULTIPART_THRESHOLD {
                    return self.put_multipart(key, &path, size, content_type).await;
                }
                let stream = ByteStream::read_from()
                    .path(&path)
                    .buffer_size(READ_BUFFER)
                    .build()
                    .await
                    .map_err(|e| Error::io("cannot read", &path)(std::io::Error::other(e)))?;
                (stream, true)
            }
        };
        self.requests.put();
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(stream);
        let sent = if unsigned {
            request.customize().disable_payload_signing().send().await
        } else {
            request.send().await
        };
        sent.map_err(|e| self.error("PUT", key, e))?;
        Ok(())
    }

    async fn put_multipart(
        &self,
        key: &str,
        path: &std::path::Path,
        size: u64,
        content_type: &str,
    ) -> Result<()> {
        self.requests.put();
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| self.error("CreateMultipartUpload", key, e))?;
        let upload_id = created.upload_id().unwrap_or_default().to_string();
        let part_size = MIN_PART.max(size.div_ceil(9_000));
        let parts = size.div_ceil(part_size);
        let result: Result<Vec<CompletedPart>> = futures::stream::iter(0..parts)
            .map(|i| {
                let upload_id = upload_id.clone();
                async move {
                    let offset = i * part_size;
                    let len = part_size.min(size - offset);
                    self.requests.put();
                    let body = ByteStream::read_from()
                        .path(path)
                        .buffer_size(READ_BUFFER)
                        .offset(offset)
                        .length(Length::Exact(len))
                        .build()
                        .await
                        .map_err(|e| Error::io("cannot read", path)(std::io::Error::other(e)))?;
                    let number = i as i32 + 1;
                    let out = self
                        .client
                        .upload_part()
                        .bucket(&self.bucket)
                        .key(key)
                        .upload_id(&upload_id)
                        .part_number(number)
                        .body(body)
                        .customize()
                        .disable_payload_signing()
                        .send()
                        .await
                        .map_err(|e| self.error("UploadPart", key, e))?;
                    Ok(CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(out.e_tag().map(str::to_string))
                        .build())
                }
            })
            .buffered(PARTS_IN_FLIGHT)
            .try_collect()
            .await;
        let completed = match result {
            Ok(parts) => parts,
            Err(e) => {
                let _ = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .send()
                    .await;
                return Err(e);
            }
        };
        self.requests.put();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| self.error("CompleteMultipartUpload", key, e))?;
        Ok(())
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let cap = crate::bounds::LISTING_CAP;
        let Some(mut objects) = self.list_pages(prefix, None, cap).await? else {
            return Err(Error::Untrusted {
                source_name: self.describe(),
                what: format!("{prefix}*"),
                message: format!("it lists more than {cap} keys, the most one listing reads"),
            });
        };
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    pub(super) async fn list_top_level(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Option<Vec<String>>> {
        Ok(self
            .list_pages(prefix, Some("/"), limit)
            .await?
            .map(|objects| objects.into_iter().map(|o| o.key).collect()))
    }

    /// Pages through a listing; `None` once more than `limit` objects came.
    async fn list_pages(
        &self,
        prefix: &str,
        delimiter: Option<&str>,
        limit: usize,
    ) -> Result<Option<Vec<ObjectMeta>>> {
        let mut objects = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .set_delimiter(delimiter.map(str::to_string))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            self.requests.list();
            let page = page.map_err(|e| self.error("LIST", prefix, e))?;
            objects.extend(page.contents().iter().filter_map(|o| {
                Some(ObjectMeta {
                    key: o.key()?.to_string(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    modified: o
                        .last_modified()
                        .and_then(|t| std::time::SystemTime::try_from(*t).ok()),
                })
            }));
            if objects.len() > limit {
                return Ok(None);
            }
        }
        Ok(Some(objects))
    }

    /// Deletes `keys`, up to 1,000 a request (DeleteObjects). A key that
    /// is already gone counts as deleted.
    pub(super) async fn delete_many(&self, keys: &[String]) -> Result<()> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        for batch in keys.chunks(DELETE_BATCH) {
            let objects: Vec<ObjectIdentifier> = batch
                .iter()
                .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
                .collect();
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| Error::Store {
                    store: self.describe(),
                    op: "DELETE",
                    key: batch[0].clone(),
                    kind: StoreErrorKind::Other,
                    message: e.to_string(),
                })?;
            self.requests.delete();
            let out = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| self.error("DELETE", &batch[0], e))?;
            if let Some(err) = out.errors().first() {
                return Err(Error::Store {
                    store: self.describe(),
                    op: "DELETE",
                    key: err.key().unwrap_or("").to_string(),
                    kind: match err.code() {
                        Some("AccessDenied") => StoreErrorKind::Auth,
                        _ => StoreErrorKind::Other,
                    },
                    message: format!(
                        "{}: {}",
                        err.code().unwrap_or("error"),
                        err.message().unwrap_or("")
                    ),
                });
            }
        }
        Ok(())
    }

    pub(super) async fn check_access(&self) -> Result<()> {
        self.requests.head();
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| self.error("HEAD bucket", "", e))?;
        Ok(())
    }
}

fn status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(
    err: &SdkError<E, HttpResponse>,
) -> (StoreErrorKind, String) {
    match err {
        SdkError::DispatchFailure(d) => {
            let what = if d.is_timeout() {
                "timed out connecting"
            } else if d.is_io() {
                "could not connect"
            } else {
                "could not send the request"
            };
            (
                StoreErrorKind::Unreachable,
                format!("{what} (after {MAX_ATTEMPTS} attempts)"),
            )
        }
        SdkError::TimeoutError(_) => (StoreErrorKind::Unreachable, "timed out".into()),
        SdkError::ResponseError(_) => {
            (StoreErrorKind::Unreachable, "the response broke off".into())
        }
        SdkError::ServiceError(_) => {
            let code = err.code().unwrap_or("");
            let message = err.message().unwrap_or("");
            let http = status(err);
            let kind = match (code, http) {
                ("NoSuchBucket" | "NotFound", _) => StoreErrorKind::NoBucket,
                (
                    "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AccessDenied" | "Forbidden",
                    _,
                )
                | (_, Some(401 | 403)) => StoreErrorKind::Auth,
                (_, Some(404)) if code.is_empty() => StoreErrorKind::NoBucket,
                ("ServiceUnavailable" | "SlowDown" | "InternalError", _) | (_, Some(500..=599)) => {
                    StoreErrorKind::Unavailable
                }
                _ => StoreErrorKind::Other,
            };
            let code = if code.is_empty() {
                http.map(|s| format!("HTTP {s}"))
                    .unwrap_or_else(|| "error".into())
            } else {
                code.to_string()
            };
            let mut text = if message.is_empty() {
                code
            } else {
                format!("{code}: {message}")
            };
            // The SDK retries these; say so, so that nobody re-runs at once.
            if kind == StoreErrorKind::Unavailable {
                text.push_str(&format!(" (after {MAX_ATTEMPTS} attempts)"));
            }
            (kind, text)
        }
        _ => (
            StoreErrorKind::Other,
            "the request could not be built".into(),
        ),
    }
}
