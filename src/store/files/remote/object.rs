//! S3-compatible object stores and read-only HTTP(S) servers behind
//! [`Remote`](super::Remote): compiled only with the `object-store` cargo
//! feature (the default). This is the one file of custody that names
//! `object_store`, and in `store` the only one that names `tokio`.
//!
//! object_store is async; each opened store has a small tokio runtime of its
//! own that the blocking methods here drive. Errors are classified into
//! [`RemoteFailure`]s (credentials, refusal, missing, network) with a
//! one-line detail, an S3 XML error body reduced to its code and message.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use super::{too_large, Location, RemoteError, RemoteFailure, S3Settings};
use crate::store::StoreError;

/// Multipart part size: S3's minimum is 5 MiB; two parts in flight keep an
/// upload's memory near 16 MiB whatever the object's size.
const PART_SIZE: usize = 8 << 20;
const PARTS_IN_FLIGHT: usize = 2;

/// An `s3://` bucket (and prefix) or an `http(s)://` server (read only).
pub(super) struct ObjectRemote {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    rt: Arc<tokio::runtime::Runtime>,
    writable: bool,
    /// The location as the user wrote it, for errors.
    label: String,
}

impl ObjectRemote {
    /// Opens `loc` (not a directory). For `s3://`, `settings` and then the
    /// environment and profile give endpoint, region and credentials.
    /// Nothing is contacted yet.
    pub(super) fn open(
        loc: &Location,
        label: &str,
        settings: &S3Settings,
    ) -> Result<ObjectRemote, StoreError> {
        let (store, prefix, writable): (Arc<dyn ObjectStore>, _, _) = match loc {
            Location::S3 { bucket, prefix } => {
                let store =
                    s3_store(bucket, settings).map_err(|e| remote_err(label, "open", "", e))?;
                (store, prefix.clone(), true)
            }
            Location::Http { url } => {
                let opts = object_store::ClientOptions::new().with_allow_http(true);
                let store = object_store::http::HttpBuilder::new()
                    .with_url(url.as_str())
                    .with_client_options(opts)
                    .build()
                    .map_err(|e| remote_err(label, "open", "", e))?;
                (Arc::new(store), String::new(), false)
            }
            Location::Dir(_) => {
                return Err(StoreError::Internal(format!(
                    "{label} is a directory, not an object store"
                )))
            }
        };
        Ok(ObjectRemote {
            store,
            prefix,
            rt: runtime()?,
            writable,
            label: label.to_string(),
        })
    }

    /// See [`Remote::get`](super::Remote::get).
    pub(super) fn get(&self, rel: &str, max_len: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let path = obj_path(&self.prefix, rel);
        self.rt.block_on(async {
            let got = match self.store.get(&path).await {
                Ok(g) => g,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(remote_err(&self.label, "get", rel, e)),
            };
            if got.meta.size > max_len {
                return Err(too_large(&self.label, "get", rel, max_len));
            }
            let mut out = Vec::with_capacity(got.meta.size as usize);
            let mut stream = got.into_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| remote_err(&self.label, "get", rel, e))?;
                if (out.len() + chunk.len()) as u64 > max_len {
                    return Err(too_large(&self.label, "get", rel, max_len));
                }
                out.extend_from_slice(&chunk);
            }
            Ok(Some(out))
        })
    }

    /// See [`Remote::head`](super::Remote::head).
    pub(super) fn head(&self, rel: &str) -> Result<Option<u64>, StoreError> {
        match self
            .rt
            .block_on(self.store.head(&obj_path(&self.prefix, rel)))
        {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(remote_err(&self.label, "head", rel, e)),
        }
    }

    /// One PUT, atomic by itself.
    pub(super) fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.check_writable("put", rel)?;
        self.rt
            .block_on(
                self.store
                    .put(&obj_path(&self.prefix, rel), PutPayload::from(bytes)),
            )
            .map(|_| ())
            .map_err(|e| remote_err(&self.label, "put", rel, e))
    }

    /// See [`Remote::delete`](super::Remote::delete).
    pub(super) fn delete(&self, rel: &str) -> Result<(), StoreError> {
        self.check_writable("delete", rel)?;
        match self
            .rt
            .block_on(self.store.delete(&obj_path(&self.prefix, rel)))
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(remote_err(&self.label, "delete", rel, e)),
        }
    }

    /// Server-side copy, then removal of `from`.
    pub(super) fn rename(&self, from: &str, to: &str) -> Result<(), StoreError> {
        self.check_writable("rename", from)?;
        self.rt
            .block_on(
                self.store
                    .rename(&obj_path(&self.prefix, from), &obj_path(&self.prefix, to)),
            )
            .map_err(|e| remote_err(&self.label, "rename", from, e))
    }

    /// Objects under `rel_prefix` as `(name, size)`, names relative to the
    /// location's prefix, in the store's order.
    pub(super) fn list(&self, rel_prefix: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let base = obj_path(&self.prefix, rel_prefix);
        let strip = if self.prefix.is_empty() {
            0
        } else {
            self.prefix.len() + 1
        };
        let mut out = Vec::new();
        self.rt.block_on(async {
            let mut s = self.store.list(Some(&base));
            while let Some(m) = s.next().await {
                let m = m.map_err(|e| remote_err(&self.label, "list", rel_prefix, e))?;
                let name = m.location.as_ref();
                out.push((name.get(strip..).unwrap_or(name).to_string(), m.size));
            }
            Ok::<_, StoreError>(())
        })?;
        Ok(out)
    }

    /// A reader of the object as it arrives, `None` if it does not exist.
    pub(super) fn reader(&self, rel: &str) -> Result<Option<ObjectReader>, StoreError> {
        let got = match self
            .rt
            .block_on(self.store.get(&obj_path(&self.prefix, rel)))
        {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(remote_err(&self.label, "get", rel, e)),
        };
        Ok(Some(ObjectReader {
            stream: got.into_stream(),
            rt: self.rt.clone(),
            pending: bytes::Bytes::new(),
            at: 0,
            label: self.label.clone(),
            rel: rel.to_string(),
        }))
    }

    /// A writer of the object: one PUT at [`ObjectWriter::finish`] for at
    /// most one part, else a multipart upload.
    pub(super) fn writer(&self, rel: &str) -> Result<ObjectWriter, StoreError> {
        self.check_writable("put", rel)?;
        // The multipart upload starts only once more than a part is
        // written; a smaller object is one PUT at `finish`.
        Ok(ObjectWriter {
            up: None,
            small: Vec::new(),
            store: self.store.clone(),
            path: obj_path(&self.prefix, rel),
            rt: self.rt.clone(),
            label: self.label.clone(),
            rel: rel.to_string(),
        })
    }

    fn check_writable(&self, op: &'static str, rel: &str) -> Result<(), StoreError> {
        if self.writable {
            return Ok(());
        }
        Err(StoreError::Remote(RemoteError {
            location: self.label.clone(),
            op,
            object: rel.to_string(),
            failure: RemoteFailure::Denied,
            detail: "an http(s) location is read only".into(),
        }))
    }
}

/// An object as it arrives; see [`Remote::reader`](super::Remote::reader).
pub(super) struct ObjectReader {
    stream: futures::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>,
    rt: Arc<tokio::runtime::Runtime>,
    pending: bytes::Bytes,
    at: usize,
    /// For errors: the location and object.
    label: String,
    rel: String,
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.at < self.pending.len() {
                let n = buf.len().min(self.pending.len() - self.at);
                buf[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
                self.at += n;
                return Ok(n);
            }
            match self.rt.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(Ok(b)) => {
                    self.pending = b;
                    self.at = 0;
                }
                // The classified error travels inside the io::Error
                // ([`RemoteError::from_io`] takes it out again).
                Some(Err(e)) => {
                    return Err(match remote_err(&self.label, "get", &self.rel, e) {
                        StoreError::Remote(r) => io::Error::other(r),
                        other => io::Error::other(other.to_string()),
                    })
                }
            }
        }
    }
}

/// An upload in progress; see [`Remote::writer`](super::Remote::writer).
/// Dropped without [`ObjectWriter::finish`], its multipart upload is aborted
/// (when that fails, the store expires the parts).
pub(super) struct ObjectWriter {
    /// The multipart upload, once started.
    up: Option<WriteMultipart>,
    /// What was written before it started (at most one part).
    small: Vec<u8>,
    store: Arc<dyn ObjectStore>,
    path: ObjPath,
    rt: Arc<tokio::runtime::Runtime>,
    /// For errors: the location and object.
    label: String,
    rel: String,
}

impl ObjectWriter {
    /// Takes all of `buf` (or fails): buffered until a part is full, then
    /// uploaded with at most [`PARTS_IN_FLIGHT`] parts in memory.
    pub(super) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let io_fail = |e| {
            // The classified error travels inside the io::Error
            // ([`RemoteError::from_io`] takes it out again).
            let StoreError::Remote(r) = remote_err(&self.label, "put", &self.rel, e) else {
                return io::Error::other("upload failed");
            };
            io::Error::other(r)
        };
        if self.up.is_none() {
            if self.small.len() + buf.len() <= PART_SIZE {
                self.small.extend_from_slice(buf);
                return Ok(buf.len());
            }
            let upload = self
                .rt
                .block_on(self.store.put_multipart(&self.path))
                .map_err(io_fail)?;
            let mut w = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            let _enter = self.rt.enter();
            w.write(&self.small);
            self.small = Vec::new();
            self.up = Some(w);
        }
        let Some(up) = self.up.as_mut() else {
            return Err(io::Error::other("upload not started"));
        };
        // Back-pressure first, so at most PARTS_IN_FLIGHT parts are in memory.
        self.rt
            .block_on(up.wait_for_capacity(PARTS_IN_FLIGHT))
            .map_err(io_fail)?;
        let _enter = self.rt.enter();
        up.write(buf);
        Ok(buf.len())
    }

    /// The multipart completion, or the one PUT of a small object: only
    /// then is the object visible.
    pub(super) fn finish(mut self) -> Result<(), StoreError> {
        let done = match self.up.take() {
            Some(up) => self.rt.block_on(up.finish()).map(|_| ()),
            None => self
                .rt
                .block_on(self.store.put(
                    &self.path,
                    PutPayload::from(std::mem::take(&mut self.small)),
                ))
                .map(|_| ()),
        };
        done.map_err(|e| remote_err(&self.label, "put", &self.rel, e))
    }
}

impl Drop for ObjectWriter {
    fn drop(&mut self) {
        if let Some(up) = self.up.take() {
            let _ = self.rt.block_on(up.abort());
        }
    }
}

fn obj_path(prefix: &str, rel: &str) -> ObjPath {
    if prefix.is_empty() {
        ObjPath::from(rel)
    } else {
        ObjPath::from(format!("{prefix}/{rel}"))
    }
}

fn runtime() -> Result<Arc<tokio::runtime::Runtime>, StoreError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("custody-remote")
        .enable_all()
        .build()
        .map(Arc::new)
        .map_err(|e| StoreError::Internal(format!("cannot start the network runtime: {e}")))
}

fn remote_err(label: &str, op: &'static str, rel: &str, e: object_store::Error) -> StoreError {
    use object_store::Error as E;
    let failure = match &e {
        E::NotFound { .. } => RemoteFailure::NotFound,
        // S3 answers a bad key or secret with 403 too (Garage: AccessDenied,
        // "Invalid signature"; AWS: SignatureDoesNotMatch, InvalidAccessKeyId).
        E::PermissionDenied { .. } if bad_key_text(&e.to_string()) => {
            RemoteFailure::Unauthenticated
        }
        E::PermissionDenied { .. } => RemoteFailure::Denied,
        E::Unauthenticated { .. } => RemoteFailure::Unauthenticated,
        _ => classify_text(&e.to_string()),
    };
    // One line, the innermost causes last; object_store's messages may span several.
    let mut detail = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        let t = s.to_string();
        if !detail.contains(&t) {
            detail.push_str(": ");
            detail.push_str(&t);
        }
        src = s.source();
    }
    let detail = short_detail(&detail);
    StoreError::Remote(RemoteError {
        location: label.to_string(),
        op,
        object: rel.to_string(),
        failure,
        detail,
    })
}

/// Whether a refusal's text says the key itself is wrong (not its rights).
fn bad_key_text(t: &str) -> bool {
    [
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "Invalid signature",
        "No such key",
        "InvalidToken",
        "ExpiredToken",
    ]
    .iter()
    .any(|c| t.contains(c))
}

/// One line: whitespace collapsed, and an S3 XML error body replaced by its
/// code and message.
fn short_detail(detail: &str) -> String {
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        let a = detail.find(&open)? + open.len();
        let b = detail[a..].find(&close)? + a;
        Some(detail[a..b].to_string())
    };
    let text = match (
        detail.find("<?xml").or_else(|| detail.find("<Error>")),
        tag("Code"),
    ) {
        (Some(at), Some(code)) => {
            let msg = tag("Message").unwrap_or_default();
            format!("{}{code}: {msg}", &detail[..at])
        }
        _ => detail.to_string(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// S3 servers answer bad keys with 403 and an XML code; object_store passes
/// some of them through as generic errors.
fn classify_text(t: &str) -> RemoteFailure {
    let creds = [
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "Forbidden",
        "403",
        "401",
        "credential",
        "No such key",
    ];
    if creds.iter().any(|c| t.contains(c)) {
        RemoteFailure::Unauthenticated
    } else if t.contains("NoSuchBucket") || t.contains("404") {
        RemoteFailure::NotFound
    } else {
        RemoteFailure::Unavailable
    }
}

fn s3_store(
    bucket: &str,
    settings: &S3Settings,
) -> Result<Arc<dyn ObjectStore>, object_store::Error> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey as K};
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
    // Endpoint and region: custody.toml, else environment, else profile.
    let profile = if env("AWS_ACCESS_KEY_ID").is_none() || env("AWS_PROFILE").is_some() {
        AwsProfile::load()
    } else {
        AwsProfile::default()
    };
    if let Some(ep) = settings
        .endpoint
        .clone()
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .or(profile.endpoint)
    {
        b = b
            .with_allow_http(ep.starts_with("http://"))
            .with_endpoint(ep);
    }
    if let Some(r) = settings
        .region
        .clone()
        .or_else(|| env("AWS_REGION"))
        .or(profile.region)
    {
        b = b.with_region(r);
    }
    if env("AWS_ACCESS_KEY_ID").is_none() {
        if let (Some(id), Some(secret)) = (profile.key_id, profile.secret) {
            b = b
                .with_config(K::AccessKeyId, id)
                .with_config(K::SecretAccessKey, secret);
            if let Some(t) = profile.token {
                b = b.with_config(K::Token, t);
            }
        }
    }
    Ok(Arc::new(b.build()?))
}

/// The parts of an AWS shared-file profile custody uses.
#[derive(Default)]
struct AwsProfile {
    key_id: Option<String>,
    secret: Option<String>,
    token: Option<String>,
    region: Option<String>,
    endpoint: Option<String>,
}

impl AwsProfile {
    fn load() -> AwsProfile {
        let name = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let file = |var: &str, rel: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(rel)))
        };
        let mut p = AwsProfile::default();
        let mut apply = |path: Option<PathBuf>, section: &str| {
            let Some(text) = path.and_then(|p| read_small(&p)) else {
                return;
            };
            for (k, v) in ini_section(&text, section) {
                let slot = match k.as_str() {
                    "aws_access_key_id" => &mut p.key_id,
                    "aws_secret_access_key" => &mut p.secret,
                    "aws_session_token" => &mut p.token,
                    "region" => &mut p.region,
                    "endpoint_url" => &mut p.endpoint,
                    _ => continue,
                };
                slot.get_or_insert(v);
            }
        };
        apply(
            file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"),
            &name,
        );
        let config_section = if name == "default" {
            name.clone()
        } else {
            format!("profile {name}")
        };
        apply(file("AWS_CONFIG_FILE", ".aws/config"), &config_section);
        p
    }
}

/// An AWS credentials or config file: at most 1 MiB, never waited on
/// (src/store/files/input.rs); unreadable is as absent.
fn read_small(p: &Path) -> Option<String> {
    let bytes = crate::store::files::input::read_input(p, 1 << 20, "an AWS profile file").ok()?;
    String::from_utf8(bytes).ok()
}

/// `key = value` lines of one `[section]` of an INI file.
fn ini_section(text: &str, section: &str) -> Vec<(String, String)> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == section;
        } else if inside {
            if let Some((k, v)) = line.split_once('=') {
                out.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_error_bodies_become_one_short_line() {
        let t = "Error performing PUT http://h/b/k - Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\"?>\n<Error><Code>AccessDenied</Code><Message>Forbidden: Invalid signature</Message><Resource>/b/k</Resource></Error>";
        let d = short_detail(t);
        assert_eq!(
            d,
            "Error performing PUT http://h/b/k - Server returned non-2xx status code: 403 Forbidden: AccessDenied: Forbidden: Invalid signature"
        );
        assert!(bad_key_text(&d));
        assert!(!bad_key_text("AccessDenied: bucket policy"));
        assert_eq!(short_detail("a\n  b"), "a b");
    }

    #[test]
    fn reads_a_profile_section() {
        let text = "[default]\naws_access_key_id = A\n[profile other]\nregion= garage \n# c\n[x]\nregion=y\n";
        assert_eq!(
            ini_section(text, "default"),
            vec![("aws_access_key_id".into(), "A".into())]
        );
        assert_eq!(
            ini_section(text, "profile other"),
            vec![("region".into(), "garage".into())]
        );
    }
}
