//! `custody witness serve`: the C2SP tlog-witness `add-checkpoint` endpoint
//! over HTTP/1.1 (docs/FORMAT.md §11.2, `witness serve`). Plumbing only: every request goes
//! through the same [`check`] and [`conclude`] as `custody witness cosign`.
//!
//! HTTP is hyper's, driven by a tokio runtime on the calling thread, which
//! alone prints. Connections are served concurrently, at most
//! `--max-connections` at a time (more wait in the listen queue), one request
//! per connection (`Connection: close`), each within deadlines: the request
//! (head and body) within `--request-timeout` of the accept, the whole
//! connection within [`ANSWER_TIME`] more. The witness work runs on the
//! blocking pool one request at a time (an in-process turn), so witness state
//! has a single writer; each request takes the archive lock for its duration
//! (503 while another `custody` holds it).

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use futures::stream::{FuturesUnordered, StreamExt};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{
    HeaderMap, HeaderValue, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::time::{timeout_at, Instant};

use super::witness::{check, conclude, sanitise, Checked, Concluded};
use super::Ctx;
use crate::core::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::core::keys::SignerKey;
use crate::core::witness::{self, Accept};
use crate::store::archive::Archive;
use crate::store::StoreError;

/// Largest request head (request line and headers): 431 above it.
const MAX_HEAD: usize = 8 * 1024;
/// The one path served.
const ADD_CHECKPOINT: &str = "/add-checkpoint";
/// Time a connection has after its request deadline: waiting for its turn,
/// the witness work, sending the answer and the linger below. Then it is closed.
const ANSWER_TIME: Duration = Duration::from_secs(20);
/// After answering, what the client still sends (an unread body) is read
/// and dropped for this long and up to [`LINGER_BYTES`], so that closing does
/// not reset the connection before the client reads the answer.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 4 * witness::MAX_BODY;
/// Pause after a failed accept (out of file descriptors, say).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

#[derive(Debug, Args)]
#[command(after_help = "\
Serves the C2SP tlog-witness add-checkpoint endpoint so that a log collects
this witness's cosignatures over HTTP: POST /add-checkpoint with the body
`old <size>`, the consistency proof lines, an empty line and the signed
checkpoint (what `custody prove --consistency OLD` prints). The checks are
those of `custody witness cosign`, with tlog-witness's status codes:
200 cosignature line, 400 malformed, 403 bad log signature, 404 unknown log,
409 `old` is not the latest cosigned size (body: that size), 413 body over
64 KiB, 422 bad consistency proof or fork. Only a refusal that proves a
split view (a fork, or a proof that opens the checkpoint and shows another
root at the cosigned size) writes split-view evidence into --evidence-dir;
a stale checkpoint or a proof that does not verify writes none.

Connections are served concurrently, up to --max-connections (more wait in
the listen queue), one request per connection. A client has
--request-timeout seconds from connecting to send its whole request: a late
head is closed without an answer, a late body gets 408. The witness work runs
one request at a time; each holds the archive lock while it runs (503 if
another custody command holds it). The first line on stdout is `listening on
http://ADDR`; one line per request goes to stderr. Only loopback addresses
are accepted unless --public is given; there is no TLS, so put a TLS proxy
in front of a public witness.

Example:
  custody witness serve --listen 127.0.0.1:7380 --witness-key keys/witness.key
  custody prove --consistency 12 > body    # in the log's archive
  curl --data-binary @body http://127.0.0.1:7380/add-checkpoint")]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; printed on stdout).
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
    /// Allow a non-loopback listen address.
    #[arg(long)]
    public: bool,
    /// Witness secret key (default: $CUSTODY_WITNESS_KEY, else witness/config.toml).
    #[arg(
        id = "witness_key",
        long = "witness-key",
        value_name = "FILE",
        env = "CUSTODY_WITNESS_KEY"
    )]
    key: Option<PathBuf>,
    /// Directory for split-view evidence files (default: the current directory).
    #[arg(long, value_name = "DIR", default_value = ".")]
    evidence_dir: PathBuf,
    /// Connections served at once (1-4096); more wait in the listen queue.
    #[arg(long, value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    max_connections: u32,
    /// Seconds (1-300) a client has from connecting to send its whole request.
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    request_timeout: u64,
}

pub fn serve(ctx: &Ctx, a: ServeArgs) -> Result<i32, StoreError> {
    if !a.listen.ip().is_loopback() && !a.public {
        return Err(StoreError::Input(format!(
            "{} is not a loopback address; give --public to serve on it (behind a TLS proxy)",
            a.listen
        )));
    }
    let root = ctx.archive_dir()?;
    // Check the archive and the key once before listening.
    let key = {
        let arch = Archive::open(&root)?;
        let wc = arch.witness_config()?;
        let key_path = a.key.clone().or(wc.witness_key).ok_or_else(|| {
            StoreError::Input(
                "no witness key: give --witness-key FILE, set CUSTODY_WITNESS_KEY, or remember one with `custody witness add-log … --witness-key FILE`".into(),
            )
        })?;
        ctx.load_signer(&key_path)?
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("custody-serve")
        .build()
        .map_err(|e| StoreError::Internal(format!("cannot start the network runtime: {e}")))?;
    let listener = rt
        .block_on(TcpListener::bind(a.listen))
        .map_err(|e| StoreError::Input(format!("cannot listen on {}: {e}", a.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    ctx.out.line(&format!("listening on http://{addr}"));
    let _ = std::io::stdout().flush();
    let server = Arc::new(Server {
        root,
        key,
        evidence_dir: a.evidence_dir,
        turn: Arc::new(Mutex::new(())),
    });
    let limits = Limits {
        max_connections: a.max_connections as usize,
        request_timeout: Duration::from_secs(a.request_timeout),
    };
    rt.block_on(accept_loop(ctx, listener, server, limits));
    Ok(super::EXIT_OK)
}

#[derive(Clone, Copy)]
struct Limits {
    max_connections: usize,
    request_timeout: Duration,
}

struct Server {
    root: PathBuf,
    key: SignerKey,
    evidence_dir: PathBuf,
    /// Held while a request does the witness work: one at a time.
    turn: Arc<Mutex<()>>,
}

/// Accepts while fewer than `max_connections` are open (the others wait in
/// the kernel's listen queue) and drives every open connection on this thread.
async fn accept_loop(ctx: &Ctx, listener: TcpListener, server: Arc<Server>, limits: Limits) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.request_timeout)
        .max_header_size(MAX_HEAD)
        .keep_alive(false)
        .half_close(true);
    let mut conns = FuturesUnordered::new();
    let mut pause: Option<Instant> = None;
    loop {
        let accept = async {
            if let Some(until) = pause {
                tokio::time::sleep_until(until).await;
            }
            listener.accept().await
        };
        tokio::select! {
            Some(()) = conns.next(), if !conns.is_empty() => {}
            acc = accept, if conns.len() < limits.max_connections => match acc {
                Ok((s, peer)) => {
                    pause = None;
                    conns.push(connection(ctx, &http, s, peer, &server, limits));
                }
                Err(e) => {
                    ctx.out.warn(&format!("accept failed: {e}"));
                    pause = Some(Instant::now() + ACCEPT_BACKOFF);
                }
            },
        }
    }
}

/// One connection: one request read within the request deadline, answered,
/// then a short linger; all of it within the connection deadline.
async fn connection(
    ctx: &Ctx,
    http: &http1::Builder,
    mut s: TcpStream,
    peer: SocketAddr,
    server: &Arc<Server>,
    limits: Limits,
) {
    let request_deadline = Instant::now() + limits.request_timeout;
    let deadline = request_deadline + ANSWER_TIME;
    let svc = service_fn(|req| async move {
        let method = req.method().to_string();
        let path = req.uri().path().to_string();
        let (reply, seen) = answer(server, req, request_deadline, limits).await;
        // Logged before the answer is sent: a client that got it finds the line.
        log_line(ctx, peer, &method, &path, reply.status, &seen);
        Ok::<_, Infallible>(reply.into_http())
    });
    let conn = http.serve_connection(TokioIo::new(&mut s), svc);
    match timeout_at(deadline, conn).await {
        Ok(Ok(())) => {}
        // A head not received in time: nothing was answered, nothing to wait for.
        Ok(Err(e)) if e.is_timeout() => {
            ctx.out.info(&format!("{peer} - - closed: {e}"));
            return;
        }
        // Not a request we answered: a malformed head (hyper answers 400) or
        // an oversized one (431), a reset.
        Ok(Err(e)) => ctx.out.info(&format!("{peer} - - closed: {e}")),
        Err(_) => {
            ctx.out
                .info(&format!("{peer} - - closed: connection deadline"));
            return;
        }
    }
    linger(s, deadline).await;
}

/// Half-closes, then reads and drops what the client still sends (bounded).
async fn linger(mut s: TcpStream, deadline: Instant) {
    let _ = s.shutdown().await;
    let until = deadline.min(Instant::now() + LINGER);
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    let _ = timeout_at(until, async {
        while drained < LINGER_BYTES {
            match s.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
}

fn log_line(ctx: &Ctx, peer: SocketAddr, method: &str, path: &str, status: u16, seen: &Seen) {
    let mut line = format!(
        "{peer} {} {} {status}",
        method.escape_debug(),
        path.escape_debug()
    );
    if let Some(o) = &seen.origin {
        line.push_str(&format!(" origin={o:?}"));
    }
    if let Some(n) = seen.size {
        line.push_str(&format!(" size={n}"));
    }
    if let Some(n) = &seen.note {
        line.push_str(&format!(" ({n})"));
    }
    ctx.out.info(&line);
}

/// The answer to one request: HTTP checks, the body within the request
/// deadline, then the witness work on the blocking pool, in turn.
async fn answer(
    server: &Arc<Server>,
    req: Request<Incoming>,
    request_deadline: Instant,
    limits: Limits,
) -> (Reply, Seen) {
    if let Err(r) = admit(req.method(), req.uri().path(), req.headers()) {
        return (r, Seen::default());
    }
    let body = Limited::new(req.into_body(), witness::MAX_BODY).collect();
    let body = match timeout_at(request_deadline, body).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(_)) => {
            return (
                Reply::text(400, "body shorter than Content-Length"),
                Seen::default(),
            )
        }
        Err(_) => {
            let why = format!(
                "request timeout: send the whole request within {} s",
                limits.request_timeout.as_secs()
            );
            return (Reply::text(408, why), Seen::default());
        }
    };
    let turn = server.turn.clone().lock_owned().await;
    let server = Arc::clone(server);
    let work = tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let mut seen = Seen::default();
        let r = server.route(&body, &mut seen);
        (r, seen)
    });
    match work.await {
        Ok(done) => done,
        Err(e) => {
            let seen = Seen {
                note: Some(format!("witness work failed: {e}")),
                ..Seen::default()
            };
            (Reply::text(500, "internal error"), seen)
        }
    }
}

/// The HTTP checks, before any of the body is read.
fn admit(method: &Method, path: &str, headers: &HeaderMap) -> Result<(), Reply> {
    if path != ADD_CHECKPOINT {
        return Err(Reply::text(
            404,
            "not found: this witness serves POST /add-checkpoint",
        ));
    }
    if method != Method::POST {
        let mut r = Reply::text(405, "use POST");
        r.extra = Some(("allow", "POST"));
        return Err(r);
    }
    if headers.contains_key(TRANSFER_ENCODING) {
        return Err(Reply::text(411, "send the body with Content-Length"));
    }
    // hyper has checked that Content-Length, when present, is a number.
    let len = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match len {
        None => Err(Reply::text(411, "Content-Length required")),
        Some(n) if n > witness::MAX_BODY as u64 => Err(Reply::text(
            413,
            format!("body larger than {} bytes", witness::MAX_BODY),
        )),
        Some(_) => Ok(()),
    }
}

/// One HTTP answer.
#[derive(Debug, PartialEq, Eq)]
struct Reply {
    status: u16,
    content_type: &'static str,
    body: String,
    extra: Option<(&'static str, &'static str)>,
}

impl Reply {
    fn text(status: u16, body: impl Into<String>) -> Reply {
        let mut body = body.into();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
            extra: None,
        }
    }

    /// 409 with the latest cosigned size (C2SP tlog-witness).
    fn conflict(latest: u64) -> Reply {
        Reply {
            status: 409,
            content_type: "text/x.tlog.size",
            body: format!("{latest}\n"),
            extra: None,
        }
    }

    /// The response hyper sends (it adds Content-Length and Date).
    fn into_http(self) -> hyper::Response<Full<Bytes>> {
        let mut r = hyper::Response::new(Full::new(Bytes::from(self.body)));
        *r.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let h = r.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        h.insert(CONNECTION, HeaderValue::from_static("close"));
        if let Some((k, v)) = self.extra {
            h.insert(k, HeaderValue::from_static(v));
        }
        r
    }
}

/// What one request was about, for the log line.
#[derive(Default)]
struct Seen {
    origin: Option<String>,
    size: Option<u64>,
    note: Option<String>,
}

impl Server {
    /// The witness work of one request (on the blocking pool, in turn).
    fn route(&self, body: &[u8], seen: &mut Seen) -> Reply {
        match self.add_checkpoint(body, seen) {
            Ok(r) => r,
            Err(StoreError::Locked { .. }) => {
                seen.note = Some("archive locked".into());
                let mut r = Reply::text(503, "the witness archive is busy; retry");
                r.extra = Some(("retry-after", "1"));
                r
            }
            Err(e) => {
                seen.note = Some(e.to_string());
                Reply::text(500, "internal error")
            }
        }
    }

    /// C2SP tlog-witness add-checkpoint (FORMAT.md §11.2, `witness serve`).
    fn add_checkpoint(&self, body: &[u8], seen: &mut Seen) -> Result<Reply, StoreError> {
        let (proof, cp_bytes) = match witness::parse_add_checkpoint(body) {
            Ok(p) => p,
            Err(e) => return Ok(Reply::text(400, format!("malformed body: {e}"))),
        };
        let (origin, size, sig_error) = match SignedCheckpoint::parse(cp_bytes) {
            Ok(sc) => (sc.checkpoint().origin.clone(), sc.checkpoint().size, None),
            // A well-formed checkpoint text whose signature lines do not
            // parse (e.g. non-canonical base64) carries no valid log
            // signature: 403 (or 404 for an unknown log), as tlog-witness
            // asks, rather than 400.
            Err(e) => match checkpoint_text(cp_bytes) {
                Some(c) => (c.origin, c.size, Some(e.to_string())),
                None => return Ok(Reply::text(400, format!("not a signed checkpoint: {e}"))),
            },
        };
        seen.origin = Some(origin.clone());
        seen.size = Some(size);
        if proof.old > size {
            return Ok(Reply::text(
                400,
                format!(
                    "old size {} is larger than the checkpoint's {size}",
                    proof.old
                ),
            ));
        }
        let arch = Archive::open(&self.root)?;
        let wc = arch.witness_config()?;
        if let Some(e) = sig_error {
            if wc.log(&origin).is_none() {
                return Ok(Reply::text(404, "unknown log"));
            }
            return Ok(Reply::text(403, format!("invalid signature: {e}")));
        }
        let checked = match check(&arch, &wc, cp_bytes, &origin)? {
            Checked::Ok(c) => c,
            Checked::UnknownLog => return Ok(Reply::text(404, "unknown log")),
            Checked::BadSignature(e) => {
                return Ok(Reply::text(403, format!("invalid signature: {e}")))
            }
        };
        let evidence_out = |origin: &str, size: u64| unique_path(&self.evidence_dir, origin, size);
        let concluded = conclude(
            &arch,
            checked,
            &self.key,
            cp_bytes,
            Some(&proof),
            Some(proof.old),
            &evidence_out,
        )?;
        Ok(reply_for(concluded, seen))
    }
}

/// The answer to what [`conclude`] decided.
fn reply_for(concluded: Concluded, seen: &mut Seen) -> Reply {
    match concluded {
        Concluded::Cosigned { accepted, line } => {
            seen.note = Some(
                match accepted {
                    Accept::FirstUse => "cosigned, first use",
                    Accept::Unchanged => "cosigned, unchanged",
                    Accept::Extended { .. } => "cosigned, extended",
                }
                .into(),
            );
            Reply::text(200, line)
        }
        Concluded::OldMismatch { latest, evidence } => {
            seen.note = evidence.map(|p| format!("evidence {}", p.display()));
            Reply::conflict(latest)
        }
        Concluded::Unprocessable(why) => Reply::text(422, why),
        // tlog-witness: a checkpoint older than the latest is a 409 with
        // the latest size, never evidence (FORMAT.md §11.2).
        Concluded::Refused {
            refusal: witness::Refusal::Stale { latest, .. },
            evidence: None,
        } => {
            seen.note = Some("stale".into());
            Reply::conflict(latest)
        }
        Concluded::Refused { refusal, evidence } => {
            seen.note = Some(match &evidence {
                Some(p) => format!("{}, evidence {}", refusal.as_str(), p.display()),
                None => refusal.as_str().to_string(),
            });
            let what = match refusal {
                witness::Refusal::BadProof { .. } => {
                    format!("invalid consistency proof: {refusal}")
                }
                _ => format!("refused: {refusal}"),
            };
            Reply::text(422, what)
        }
    }
}

/// The checkpoint text of a note (up to its empty line), if it parses.
fn checkpoint_text(note: &[u8]) -> Option<Checkpoint> {
    let end = note.windows(2).position(|w| w == b"\n\n")?;
    let text = std::str::from_utf8(&note[..end + 1]).ok()?;
    Checkpoint::parse_body(text).ok()
}

/// `split-view-<origin>-<size>.evidence` in `dir`, or `…-<size>.<n>.evidence`
/// if taken: a later request never overwrites earlier evidence.
fn unique_path(dir: &Path, origin: &str, size: u64) -> PathBuf {
    let base = format!("split-view-{}-{size}", sanitise(origin));
    let first = dir.join(format!("{base}.evidence"));
    if !first.exists() {
        return first;
    }
    (2u64..)
        .map(|n| dir.join(format!("{base}.{n}.evidence")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn admission() {
        let status = |m: Method, p: &str, h: &[(&'static str, &'static str)]| {
            admit(&m, p, &headers(h)).err().map(|r| r.status)
        };
        let cl = [("content-length", "12")];
        assert_eq!(status(Method::POST, ADD_CHECKPOINT, &cl), None);
        assert_eq!(status(Method::POST, "/", &cl), Some(404));
        assert_eq!(status(Method::GET, "/", &[]), Some(404));
        let r = admit(&Method::GET, ADD_CHECKPOINT, &HeaderMap::new()).unwrap_err();
        assert_eq!((r.status, r.extra), (405, Some(("allow", "POST"))));
        assert_eq!(status(Method::POST, ADD_CHECKPOINT, &[]), Some(411));
        let chunked = [("transfer-encoding", "chunked")];
        assert_eq!(status(Method::POST, ADD_CHECKPOINT, &chunked), Some(411));
        let at_cap = [("content-length", "65536")];
        assert_eq!(status(Method::POST, ADD_CHECKPOINT, &at_cap), None);
        let over = [("content-length", "65537")];
        assert_eq!(status(Method::POST, ADD_CHECKPOINT, &over), Some(413));
    }

    #[test]
    fn replies_carry_type_and_close() {
        let r = Reply::conflict(3).into_http();
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert_eq!(r.headers()[CONTENT_TYPE], "text/x.tlog.size");
        assert_eq!(r.headers()[CONNECTION], "close");
        let mut busy = Reply::text(503, "busy");
        busy.extra = Some(("retry-after", "1"));
        assert_eq!(busy.body, "busy\n");
        let r = busy.into_http();
        assert_eq!(r.headers()["retry-after"], "1");
        assert_eq!(r.headers()[CONTENT_TYPE], "text/plain; charset=utf-8");
    }
}
