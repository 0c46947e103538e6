//! Storage away from the archive's own directory: a plain directory, an
//! S3-compatible object store, or a read-only HTTP(S) server, behind one
//! blocking interface ([`Remote`]).
//!
//! Used for blobs kept on an object store, for the published tiles of a log
//! (`custody publish`) and for a partner's published log (`custody mirror`).
//! Only this module names `object_store`, and in `store` only it names
//! `tokio` (`custody witness serve`, src/cli/witness_serve.rs, runs its own
//! HTTP server on tokio): the rest of custody is synchronous and calls these
//! blocking methods.
//!
//! Credentials are never read from or written to the archive. For `s3://`
//! they come from the usual AWS environment variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL`, …) or, when those are absent, from a profile of the
//! AWS shared files (`AWS_PROFILE`, default `default`, in
//! `~/.aws/credentials` and `~/.aws/config`, or `AWS_SHARED_CREDENTIALS_FILE`
//! and `AWS_CONFIG_FILE`). Only the endpoint and region, which are not
//! secret, may be kept in `custody.toml` (FORMAT.md §7.4).

use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use super::{io_err, StoreError};

/// Where a remote lives, as the user writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local (or mounted) directory.
    Dir(PathBuf),
    /// `s3://bucket[/prefix]` on an S3-compatible store.
    S3 { bucket: String, prefix: String },
    /// `http://` or `https://` URL, read only.
    Http { url: String },
}

impl Location {
    /// Parses `s3://bucket/prefix`, `http(s)://…`, `file://DIR` or a directory path.
    pub fn parse(s: &str) -> Result<Location, StoreError> {
        let bad = |why: &str| StoreError::Input(format!("{s:?} is not a usable location: {why}"));
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket name after s3://"));
            }
            let valid = bucket.len() <= 63
                && bucket
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b));
            if !valid {
                return Err(bad("bucket names are 1 to 63 of a-z, 0-9, '-' and '.'"));
            }
            let prefix = prefix.trim_matches('/').to_string();
            if prefix.split('/').any(|p| p == "." || p == "..")
                || prefix.contains("//")
                || prefix.chars().any(char::is_control)
            {
                return Err(bad(
                    "the prefix may not hold '.', '..', empty parts or control characters",
                ));
            }
            return Ok(Location::S3 {
                bucket: bucket.to_string(),
                prefix,
            });
        }
        if s.starts_with("http://") || s.starts_with("https://") {
            let host = s.split("://").nth(1).unwrap_or("");
            if host.is_empty() || host.starts_with('/') {
                return Err(bad("no host in the URL"));
            }
            return Ok(Location::Http {
                url: s.trim_end_matches('/').to_string(),
            });
        }
        if let Some(p) = s.strip_prefix("file://") {
            return Ok(Location::Dir(PathBuf::from(p)));
        }
        if s.contains("://") {
            return Err(bad(
                "the schemes known are s3://, http://, https:// and file://",
            ));
        }
        if s.is_empty() {
            return Err(bad("empty"));
        }
        Ok(Location::Dir(PathBuf::from(s)))
    }

    /// True for an object store or a web server (not a directory).
    pub fn is_remote(&self) -> bool {
        !matches!(self, Location::Dir(_))
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Dir(p) => write!(f, "{}", p.display()),
            Location::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Location::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            Location::Http { url } => f.write_str(url),
        }
    }
}

/// Settings for `s3://` that are not secret and may live in `custody.toml`.
/// Unset fields fall back to the environment, then to the profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    /// `http://127.0.0.1:3900`, `https://s3.example.org`; unset = AWS.
    pub endpoint: Option<String>,
    pub region: Option<String>,
}

impl RemoteError {
    /// The remote error an I/O error of a [`RemoteWriter`] or [`RemoteReader`] carries, if any.
    pub fn from_io(e: &io::Error) -> Option<RemoteError> {
        e.get_ref()?.downcast_ref::<RemoteError>().cloned()
    }
}

/// Why a remote operation failed, as far as the user can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteFailure {
    /// No credentials, or the server did not accept them.
    Unauthenticated,
    /// Credentials accepted, operation refused (bucket policy, key not allowed).
    Denied,
    /// No such bucket or object where one was needed.
    NotFound,
    /// Larger than the caller's bound.
    TooLarge,
    /// Network, server or protocol trouble.
    Unavailable,
}

/// A failed remote operation: where, what was done, and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{location}: {op}{}: {detail}", if .object.is_empty() { String::new() } else { format!(" {}", .object) })]
pub struct RemoteError {
    pub location: String,
    pub op: &'static str,
    pub object: String,
    pub failure: RemoteFailure,
    pub detail: String,
}

/// A place objects are read from and written to. Object names (`rel`) are
/// `/`-separated, relative to the location's directory or prefix, and never
/// hold `.` or `..` parts (callers build them; [`check_rel`] enforces it).
pub struct Remote {
    label: String,
    inner: Inner,
}

enum Inner {
    Dir(PathBuf),
    Object {
        store: Arc<dyn ObjectStore>,
        prefix: String,
        rt: Arc<tokio::runtime::Runtime>,
        writable: bool,
    },
}

/// Multipart part size: S3's minimum is 5 MiB; two parts in flight keep an
/// upload's memory near 16 MiB whatever the object's size.
const PART_SIZE: usize = 8 << 20;
const PARTS_IN_FLIGHT: usize = 2;

impl Remote {
    /// Opens a location. For `s3://`, `settings` and then the environment and
    /// profile give endpoint, region and credentials. Nothing is contacted yet.
    pub fn open(loc: &Location, settings: &S3Settings) -> Result<Remote, StoreError> {
        let label = loc.to_string();
        let inner = match loc {
            Location::Dir(p) => Inner::Dir(p.clone()),
            Location::S3 { bucket, prefix } => {
                let store =
                    s3_store(bucket, settings).map_err(|e| remote_err(&label, "open", "", e))?;
                Inner::Object {
                    store,
                    prefix: prefix.clone(),
                    rt: runtime()?,
                    writable: true,
                }
            }
            Location::Http { url } => {
                let opts = object_store::ClientOptions::new().with_allow_http(true);
                let store = object_store::http::HttpBuilder::new()
                    .with_url(url.as_str())
                    .with_client_options(opts)
                    .build()
                    .map_err(|e| remote_err(&label, "open", "", e))?;
                Inner::Object {
                    store: Arc::new(store),
                    prefix: String::new(),
                    rt: runtime()?,
                    writable: false,
                }
            }
        };
        Ok(Remote { label, inner })
    }

    /// The location as the user wrote it (never holds credentials).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// An object's bytes, `None` if it does not exist; an object over
    /// `max_len` bytes is an error ([`RemoteFailure::TooLarge`]), read no further.
    pub fn get(&self, rel: &str, max_len: u64) -> Result<Option<Vec<u8>>, StoreError> {
        check_rel(rel)?;
        match &self.inner {
            Inner::Dir(d) => {
                let p = d.join(rel);
                // A published log's files are regular files: a FIFO or a
                // device planted there is refused, never waited on or read
                // without end (FORMAT.md §13.5).
                let Some(f) = crate::store::input::open_regular_opt(&p, "a published log's file")?
                else {
                    return Ok(None);
                };
                let mut out = Vec::new();
                f.take(max_len + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| io_err(&p, e))?;
                if out.len() as u64 > max_len {
                    return Err(self.too_large("get", rel, max_len));
                }
                Ok(Some(out))
            }
            Inner::Object {
                store, prefix, rt, ..
            } => {
                let path = obj_path(prefix, rel);
                rt.block_on(async {
                    let got = match store.get(&path).await {
                        Ok(g) => g,
                        Err(object_store::Error::NotFound { .. }) => return Ok(None),
                        Err(e) => return Err(remote_err(&self.label, "get", rel, e)),
                    };
                    if got.meta.size > max_len {
                        return Err(self.too_large("get", rel, max_len));
                    }
                    let mut out = Vec::with_capacity(got.meta.size as usize);
                    let mut stream = got.into_stream();
                    while let Some(chunk) = stream.next().await {
                        let chunk = chunk.map_err(|e| remote_err(&self.label, "get", rel, e))?;
                        if (out.len() + chunk.len()) as u64 > max_len {
                            return Err(self.too_large("get", rel, max_len));
                        }
                        out.extend_from_slice(&chunk);
                    }
                    Ok(Some(out))
                })
            }
        }
    }

    /// The size of an object, `None` if it does not exist.
    pub fn head(&self, rel: &str) -> Result<Option<u64>, StoreError> {
        check_rel(rel)?;
        match &self.inner {
            Inner::Dir(d) => {
                let p = d.join(rel);
                match fs::metadata(&p) {
                    Ok(m) if m.is_file() => Ok(Some(m.len())),
                    Ok(_) => Ok(None),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(io_err(&p, e)),
                }
            }
            Inner::Object {
                store, prefix, rt, ..
            } => match rt.block_on(store.head(&obj_path(prefix, rel))) {
                Ok(m) => Ok(Some(m.size)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(remote_err(&self.label, "head", rel, e)),
            },
        }
    }

    /// Writes a whole object, replacing any old one. A directory's object is
    /// written to a temporary file, fsynced, renamed into place and the
    /// directory fsynced; an object store's PUT is atomic by itself.
    pub fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        check_rel(rel)?;
        match &self.inner {
            Inner::Dir(d) => {
                let p = d.join(rel);
                let parent = p.parent().unwrap_or(d);
                fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
                let tmp = temp_name(&p);
                let res = (|| {
                    let mut f = fs::File::create(&tmp)?;
                    f.write_all(&bytes)?;
                    f.sync_all()?;
                    fs::rename(&tmp, &p)
                })();
                if let Err(e) = res {
                    let _ = fs::remove_file(&tmp);
                    return Err(io_err(&p, e));
                }
                super::blobs::sync_dir(parent)
            }
            Inner::Object {
                store, prefix, rt, ..
            } => {
                self.check_writable("put", rel)?;
                rt.block_on(store.put(&obj_path(prefix, rel), PutPayload::from(bytes)))
                    .map(|_| ())
                    .map_err(|e| remote_err(&self.label, "put", rel, e))
            }
        }
    }

    /// Removes an object; one that does not exist is not an error.
    pub fn delete(&self, rel: &str) -> Result<(), StoreError> {
        check_rel(rel)?;
        match &self.inner {
            Inner::Dir(d) => {
                let p = d.join(rel);
                match fs::remove_file(&p) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(io_err(&p, e)),
                }
            }
            Inner::Object {
                store, prefix, rt, ..
            } => {
                self.check_writable("delete", rel)?;
                match rt.block_on(store.delete(&obj_path(prefix, rel))) {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(remote_err(&self.label, "delete", rel, e)),
                }
            }
        }
    }

    /// Server-side copy of `from` to `to` (replacing `to`), then removal of
    /// `from`. On a directory this is a rename and a directory fsync.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), StoreError> {
        check_rel(from)?;
        check_rel(to)?;
        match &self.inner {
            Inner::Dir(d) => {
                let (a, b) = (d.join(from), d.join(to));
                let parent = b.parent().unwrap_or(d);
                fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
                fs::rename(&a, &b).map_err(|e| io_err(&a, e))?;
                super::blobs::sync_dir(parent)
            }
            Inner::Object {
                store, prefix, rt, ..
            } => {
                self.check_writable("rename", from)?;
                rt.block_on(store.rename(&obj_path(prefix, from), &obj_path(prefix, to)))
                    .map_err(|e| remote_err(&self.label, "rename", from, e))
            }
        }
    }

    /// Every object under `rel_prefix` (`""` for all), as `(name, size)`
    /// with names relative to the location, sorted by name.
    pub fn list(&self, rel_prefix: &str) -> Result<Vec<(String, u64)>, StoreError> {
        if !rel_prefix.is_empty() {
            check_rel(rel_prefix)?;
        }
        let mut out = Vec::new();
        match &self.inner {
            Inner::Dir(d) => {
                let root = d.join(rel_prefix);
                if root.exists() {
                    list_dir(d, &root, &mut out, false)?;
                }
            }
            Inner::Object {
                store, prefix, rt, ..
            } => {
                let base = obj_path(prefix, rel_prefix);
                let strip = if prefix.is_empty() {
                    0
                } else {
                    prefix.len() + 1
                };
                rt.block_on(async {
                    let mut s = store.list(Some(&base));
                    while let Some(m) = s.next().await {
                        let m = m.map_err(|e| remote_err(&self.label, "list", rel_prefix, e))?;
                        let name = m.location.as_ref();
                        out.push((name.get(strip..).unwrap_or(name).to_string(), m.size));
                    }
                    Ok::<_, StoreError>(())
                })?;
            }
        }
        out.sort();
        Ok(out)
    }

    /// Temporary files that writes to a directory left under `rel_prefix`
    /// (a writer killed before [`RemoteWriter::finish`]), as `(name, size)`;
    /// [`Remote::list`] hides them. An object store has none (an upload cut
    /// short is not an object).
    pub fn list_temps(&self, rel_prefix: &str) -> Result<Vec<(String, u64)>, StoreError> {
        check_rel(rel_prefix)?;
        let mut out = Vec::new();
        if let Inner::Dir(d) = &self.inner {
            let root = d.join(rel_prefix);
            if root.exists() {
                list_dir(d, &root, &mut out, true)?;
            }
        }
        out.sort();
        Ok(out)
    }

    /// A streaming reader of an object, `None` if it does not exist.
    pub fn reader(&self, rel: &str) -> Result<Option<RemoteReader>, StoreError> {
        check_rel(rel)?;
        let inner = match &self.inner {
            Inner::Dir(d) => {
                let p = d.join(rel);
                match crate::store::input::open_regular_opt(&p, "a stored object")? {
                    Some(f) => ReaderInner::File(f),
                    None => return Ok(None),
                }
            }
            Inner::Object {
                store, prefix, rt, ..
            } => {
                let got = match rt.block_on(store.get(&obj_path(prefix, rel))) {
                    Ok(g) => g,
                    Err(object_store::Error::NotFound { .. }) => return Ok(None),
                    Err(e) => return Err(remote_err(&self.label, "get", rel, e)),
                };
                ReaderInner::Stream {
                    stream: got.into_stream(),
                    rt: rt.clone(),
                    pending: bytes::Bytes::new(),
                    at: 0,
                    label: self.label.clone(),
                    rel: rel.to_string(),
                }
            }
        };
        Ok(Some(RemoteReader { inner }))
    }

    /// A streaming writer of an object: on an object store, one PUT at
    /// [`RemoteWriter::finish`] for an object of at most one part (8 MiB),
    /// else a multipart upload (memory bounded by two parts in flight); a
    /// temporary file on a directory. Nothing is visible under `rel` before
    /// [`RemoteWriter::finish`].
    pub fn writer(&self, rel: &str) -> Result<RemoteWriter, StoreError> {
        check_rel(rel)?;
        let inner = match &self.inner {
            Inner::Dir(d) => {
                let p = d.join(rel);
                let parent = p.parent().unwrap_or(d).to_path_buf();
                fs::create_dir_all(&parent).map_err(|e| io_err(&parent, e))?;
                let tmp = temp_name(&p);
                let f = fs::File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
                WriterInner::File { f, tmp, dest: p }
            }
            Inner::Object {
                store, prefix, rt, ..
            } => {
                self.check_writable("put", rel)?;
                // The multipart upload starts only once more than a part is
                // written; a smaller object is one PUT at `finish`.
                WriterInner::Upload {
                    up: None,
                    small: Vec::new(),
                    store: store.clone(),
                    path: obj_path(prefix, rel),
                    rt: rt.clone(),
                }
            }
        };
        Ok(RemoteWriter {
            inner,
            label: self.label.clone(),
            rel: rel.to_string(),
            written: 0,
        })
    }

    fn check_writable(&self, op: &'static str, rel: &str) -> Result<(), StoreError> {
        match &self.inner {
            Inner::Object {
                writable: false, ..
            } => Err(StoreError::Remote(RemoteError {
                location: self.label.clone(),
                op,
                object: rel.to_string(),
                failure: RemoteFailure::Denied,
                detail: "an http(s) location is read only".into(),
            })),
            _ => Ok(()),
        }
    }

    fn too_large(&self, op: &'static str, rel: &str, max: u64) -> StoreError {
        StoreError::Remote(RemoteError {
            location: self.label.clone(),
            op,
            object: rel.to_string(),
            failure: RemoteFailure::TooLarge,
            detail: format!("larger than the {max} bytes such an object may have"),
        })
    }
}

/// Refuses object names that could leave the location: empty, absolute,
/// `.`/`..` parts, empty parts, backslashes or control characters.
pub fn check_rel(rel: &str) -> Result<(), StoreError> {
    let ok = !rel.is_empty()
        && !rel.starts_with('/')
        && !rel.ends_with('/')
        && rel
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
        && !rel.contains('\\')
        && !rel.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(StoreError::Internal(format!("unsafe object name {rel:?}")))
    }
}

fn obj_path(prefix: &str, rel: &str) -> ObjPath {
    if prefix.is_empty() {
        ObjPath::from(rel)
    } else {
        ObjPath::from(format!("{prefix}/{rel}"))
    }
}

fn temp_name(p: &Path) -> PathBuf {
    let mut nonce = [0u8; 8];
    let _ = getrandom::fill(&mut nonce);
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    p.with_file_name(format!(".{name}.{}.tmp", hex::encode(nonce)))
}

/// Files under `dir` with names relative to `base`: the objects, or, with
/// `temps`, only the temporary files of writes in progress or cut short.
fn list_dir(
    base: &Path,
    dir: &Path,
    out: &mut Vec<(String, u64)>,
    temps: bool,
) -> Result<(), StoreError> {
    for entry in fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let p = entry.path();
        let ft = entry.file_type().map_err(|e| io_err(&p, e))?;
        if ft.is_dir() {
            list_dir(base, &p, out, temps)?;
        } else if ft.is_file() {
            let name = p
                .strip_prefix(base)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            let temp = name
                .rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with('.') && n.ends_with(".tmp"));
            if temp != temps {
                continue;
            }
            let len = entry.metadata().map_err(|e| io_err(&p, e))?.len();
            out.push((name, len));
        }
    }
    Ok(())
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
/// (src/store/input.rs); unreadable is as absent.
fn read_small(p: &Path) -> Option<String> {
    let bytes = crate::store::input::read_input(p, 1 << 20, "an AWS profile file").ok()?;
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

/// Reads an object as it arrives; see [`Remote::reader`].
pub struct RemoteReader {
    inner: ReaderInner,
}

enum ReaderInner {
    File(fs::File),
    Stream {
        stream: futures::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>,
        rt: Arc<tokio::runtime::Runtime>,
        pending: bytes::Bytes,
        at: usize,
        /// For errors: the location and object.
        label: String,
        rel: String,
    },
}

impl Read for RemoteReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            ReaderInner::File(f) => f.read(buf),
            ReaderInner::Stream {
                stream,
                rt,
                pending,
                at,
                label,
                rel,
            } => loop {
                if *at < pending.len() {
                    let n = buf.len().min(pending.len() - *at);
                    buf[..n].copy_from_slice(&pending[*at..*at + n]);
                    *at += n;
                    return Ok(n);
                }
                match rt.block_on(stream.next()) {
                    None => return Ok(0),
                    Some(Ok(b)) => {
                        *pending = b;
                        *at = 0;
                    }
                    // The classified error travels inside the io::Error
                    // ([`RemoteError::from_io`] takes it out again).
                    Some(Err(e)) => {
                        return Err(match remote_err(label, "get", rel, e) {
                            StoreError::Remote(r) => io::Error::other(r),
                            other => io::Error::other(other.to_string()),
                        })
                    }
                }
            },
        }
    }
}

/// Writes an object as it is produced; see [`Remote::writer`]. Dropped
/// without [`RemoteWriter::finish`], it leaves nothing under its name (a
/// directory's temporary file is removed; an object store's upload is aborted
/// when possible, else the store expires the parts).
pub struct RemoteWriter {
    inner: WriterInner,
    label: String,
    rel: String,
    written: u64,
}

enum WriterInner {
    File {
        f: fs::File,
        tmp: PathBuf,
        dest: PathBuf,
    },
    Upload {
        /// The multipart upload, once started.
        up: Option<WriteMultipart>,
        /// What was written before it started (at most one part).
        small: Vec<u8>,
        store: Arc<dyn ObjectStore>,
        path: ObjPath,
        rt: Arc<tokio::runtime::Runtime>,
    },
    Done,
}

impl RemoteWriter {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Completes the object: fsync and rename on a directory; the
    /// multipart completion on an object store. Only then is it visible.
    pub fn finish(mut self) -> Result<u64, StoreError> {
        match std::mem::replace(&mut self.inner, WriterInner::Done) {
            WriterInner::File { f, tmp, dest } => {
                let res = f.sync_all().and_then(|()| fs::rename(&tmp, &dest));
                if let Err(e) = res {
                    let _ = fs::remove_file(&tmp);
                    return Err(io_err(&dest, e));
                }
                super::blobs::sync_dir(dest.parent().unwrap_or(Path::new(".")))?;
            }
            WriterInner::Upload {
                mut up,
                small,
                store,
                path,
                rt,
            } => {
                let done = match up.take() {
                    Some(up) => rt.block_on(up.finish()).map(|_| ()),
                    None => rt
                        .block_on(store.put(&path, PutPayload::from(small)))
                        .map(|_| ()),
                };
                done.map_err(|e| remote_err(&self.label, "put", &self.rel, e))?;
            }
            WriterInner::Done => {}
        }
        Ok(self.written)
    }
}

impl Write for RemoteWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            WriterInner::File { f, .. } => {
                let n = f.write(buf)?;
                self.written += n as u64;
                Ok(n)
            }
            WriterInner::Upload {
                up,
                small,
                store,
                path,
                rt,
            } => {
                let io_fail = |e| {
                    // The classified error travels inside the io::Error
                    // ([`RemoteError::from_io`] takes it out again).
                    let StoreError::Remote(r) = remote_err(&self.label, "put", &self.rel, e) else {
                        return io::Error::other("upload failed");
                    };
                    io::Error::other(r)
                };
                if up.is_none() {
                    if small.len() + buf.len() <= PART_SIZE {
                        small.extend_from_slice(buf);
                        self.written += buf.len() as u64;
                        return Ok(buf.len());
                    }
                    let upload = rt.block_on(store.put_multipart(path)).map_err(io_fail)?;
                    let mut w = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
                    let _enter = rt.enter();
                    w.write(small);
                    *small = Vec::new();
                    *up = Some(w);
                }
                let Some(up) = up.as_mut() else {
                    return Err(io::Error::other("upload not started"));
                };
                // Back-pressure first, so at most PARTS_IN_FLIGHT parts are in memory.
                rt.block_on(up.wait_for_capacity(PARTS_IN_FLIGHT))
                    .map_err(io_fail)?;
                let _enter = rt.enter();
                up.write(buf);
                self.written += buf.len() as u64;
                Ok(buf.len())
            }
            WriterInner::Done => Err(io::Error::other("write after finish")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for RemoteWriter {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.inner, WriterInner::Done) {
            WriterInner::File { tmp, .. } => {
                let _ = fs::remove_file(tmp);
            }
            WriterInner::Upload {
                up: Some(up), rt, ..
            } => {
                let _ = rt.block_on(up.abort());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        assert_eq!(
            Location::parse("s3://leak-2026/dropsite/blobs").unwrap(),
            Location::S3 {
                bucket: "leak-2026".into(),
                prefix: "dropsite/blobs".into()
            }
        );
        assert_eq!(
            Location::parse("s3://b").unwrap(),
            Location::S3 {
                bucket: "b".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            Location::parse("/srv/tiles").unwrap(),
            Location::Dir("/srv/tiles".into())
        );
        assert_eq!(
            Location::parse("file:///srv/t").unwrap(),
            Location::Dir("/srv/t".into())
        );
        assert_eq!(
            Location::parse("http://127.0.0.1:8080/log/").unwrap(),
            Location::Http {
                url: "http://127.0.0.1:8080/log".into()
            }
        );
        for bad in [
            "s3://",
            "s3://Bad_Bucket",
            "s3://b/../x",
            "s3://b/a//c",
            "ftp://x",
            "",
            "https://",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            Location::parse("s3://b/p/").unwrap().to_string(),
            "s3://b/p"
        );
    }

    #[test]
    fn refuses_names_that_leave_the_location() {
        for bad in [
            "",
            "/etc/passwd",
            "a/../b",
            "..",
            "./a",
            "a//b",
            "a/",
            "a\\b",
            "a\nb",
        ] {
            assert!(check_rel(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["checkpoint", "tile/0/x001/234", "tile/entries/000.p/7"] {
            check_rel(good).unwrap();
        }
    }

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

    #[test]
    fn directory_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let r = Remote::open(
            &Location::Dir(d.path().to_path_buf()),
            &S3Settings::default(),
        )
        .unwrap();
        assert_eq!(r.get("a/b", 10).unwrap(), None);
        r.put("a/b", b"hello".to_vec()).unwrap();
        assert_eq!(r.get("a/b", 10).unwrap().unwrap(), b"hello");
        assert!(r.get("a/b", 4).is_err());
        assert_eq!(r.head("a/b").unwrap(), Some(5));
        let mut w = r.writer("c").unwrap();
        w.write_all(b"streamed").unwrap();
        assert_eq!(r.head("c").unwrap(), None, "visible before finish");
        assert_eq!(w.finish().unwrap(), 8);
        let mut s = String::new();
        r.reader("c")
            .unwrap()
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "streamed");
        {
            let mut w = r.writer("dropped").unwrap();
            w.write_all(b"x").unwrap();
        }
        assert_eq!(
            r.list("").unwrap(),
            vec![("a/b".into(), 5), ("c".into(), 8)]
        );
        r.rename("c", "d/e").unwrap();
        r.delete("a/b").unwrap();
        r.delete("a/b").unwrap();
        assert_eq!(r.list("").unwrap(), vec![("d/e".into(), 8)]);
    }
}
