//! `custody witness serve`: the C2SP tlog-witness `add-checkpoint` endpoint
//! over HTTP/1.1 (docs/FORMAT.md §11.2, `witness serve`). Plumbing only: every request goes
//! through the same [`check`] and [`conclude`] as `custody witness cosign`.
//!
//! HTTP is hyper's, driven by a tokio runtime on the calling thread, which
//! alone prints. Connections are served concurrently, at most
//! `--max-connections` at a time, one request per connection
//! (`Connection: close`), each within deadlines: the request (head and body)
//! within `--request-timeout` of the accept, the whole connection within
//! [`ANSWER_TIME`] more. The witness work runs on the blocking pool one
//! request at a time (an in-process turn), so witness state has a single
//! writer; each request takes the archive lock for its duration (503 while
//! another `custody` holds it).
//!
//! At the connection limit the server keeps accepting and makes room
//! ([`Slots`]): a new connection closes the oldest open one that has not yet
//! sent its whole request (idle, or sending its head or body slowly), as
//! servers reclaim idle connections under connection exhaustion; so clients
//! that open connections and send nothing cannot starve valid ones, however
//! many they open or however fast they reconnect. Each connection has
//! [`RECLAIM_AFTER`] (100 ms) from its accept before it can be closed so:
//! clients reconnecting as fast as they are closed cannot close a valid
//! connection before it sends its request; a new connection waits at most
//! that long. A connection whose request is being answered (it waits for its
//! turn, runs, is sent its answer or lingers after it) is never closed for
//! room; when every slot holds one, the new connection waits for a slot
//! (those are bounded by the deadlines above). Keep-alive is off, so a connection is never idle between two
//! requests; with keep-alive, such a connection would count as not having
//! sent its request. The closes are logged at most once per
//! [`RECLAIM_LOG_EVERY`], as a count.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
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
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{oneshot, Mutex};
use tokio::time::{timeout_at, Instant};

use super::Ctx;
use crate::core::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::core::keys::SignerKey;
use crate::core::witness::{self, Accept};
use crate::store::archive::Archive;
use crate::store::ops::mirror::dir_name as sanitise;
use crate::store::ops::witness::{check, conclude, Checked, Concluded};
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
/// Connections the kernel queues for accept (capped by
/// `net.core.somaxconn`): room for a flood of reconnecting clients beside
/// valid ones, whose connections the accept loop drains and makes room for
/// (beyond it, new connections' SYNs are dropped and retried a second later).
const LISTEN_BACKLOG: u32 = 1024;
/// A connection without its whole request is closed to make room only once
/// it has been open this long: time for a client to send its request, however
/// fast others connect. (Without it, clients that reconnect as soon as they
/// are closed would close a new connection after `--max-connections` more
/// accepts, a millisecond or two.) Until the oldest has been open this long,
/// a new connection waits for it.
const RECLAIM_AFTER: Duration = Duration::from_millis(100);
/// Connections closed to make room are logged at most this often (a count).
const RECLAIM_LOG_EVERY: Duration = Duration::from_secs(1);

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

Connections are served concurrently, up to --max-connections, one request
per connection. At the limit, a new connection closes the oldest one that
has not yet sent its whole request (idle or slow, open for 100 ms at least),
so idle connections cannot lock valid clients out; a connection whose
request is being answered is never closed for room. A client has --request-timeout seconds from
connecting to send its whole request: a late head is closed without an
answer, a late body gets 408. The witness work runs one request at a time;
each holds the archive lock while it runs (503 if another custody command
holds it). The first line on stdout is `listening on
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
    /// Connections served at once (1-4096). At the limit, a new connection
    /// closes the oldest one that has not yet sent its whole request, once
    /// that one has been open 100 ms; it waits while none can be closed so.
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
        .block_on(async { listen(a.listen) })
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

/// A listening socket with a listen queue of [`LISTEN_BACKLOG`] (tokio's
/// `bind` asks for 128) and, as there, `SO_REUSEADDR`.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
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

/// Accepts connections and drives every open one on this thread. Each
/// accepted connection gets a slot, made at the limit by closing the oldest
/// connection that has not sent its whole request ([`Slots::make_room`]).
/// One accepted while every slot holds a request being answered, or before
/// the oldest without its request has been open [`RECLAIM_AFTER`], waits
/// here (and the following ones in the listen queue) for a slot.
async fn accept_loop(ctx: &Ctx, listener: TcpListener, server: Arc<Server>, limits: Limits) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.request_timeout)
        .max_header_size(MAX_HEAD)
        .keep_alive(false)
        .half_close(true);
    let mut slots = Slots::new(limits.max_connections);
    let mut reclaimed = Reclaimed::default();
    let mut conns = FuturesUnordered::new();
    let mut waiting: Option<(TcpStream, SocketAddr)> = None;
    let mut retry: Option<Instant> = None;
    let mut pause: Option<Instant> = None;
    loop {
        if let Some((s, peer)) = waiting.take() {
            let now = Instant::now();
            retry = None;
            match slots.make_room(now) {
                Room::Full => waiting = Some((s, peer)),
                Room::NotBefore(at) => {
                    waiting = Some((s, peer));
                    retry = Some(at);
                }
                room => {
                    if let Room::Reclaimed(closed) = room {
                        reclaimed.note(ctx, closed, limits.max_connections);
                    }
                    let (id, answering, close) = slots.open(peer, now);
                    let conn = connection(ctx, &http, s, peer, &server, limits, answering, close);
                    conns.push(async move {
                        conn.await;
                        id
                    });
                }
            }
        }
        let accept = async {
            if let Some(until) = pause {
                tokio::time::sleep_until(until).await;
            }
            listener.accept().await
        };
        let log_at = reclaimed.next_log.unwrap_or_else(Instant::now);
        let retry_at = retry.unwrap_or_else(Instant::now);
        tokio::select! {
            // Open connections first: a new one reads its request before
            // the next accept can make room by closing it.
            biased;
            Some(id) = conns.next(), if !conns.is_empty() => slots.close(id),
            // The oldest connection without its request can now be closed.
            () = tokio::time::sleep_until(retry_at), if retry.is_some() => {}
            () = tokio::time::sleep_until(log_at), if reclaimed.unlogged > 0 => {
                reclaimed.log(ctx, limits.max_connections);
            }
            acc = accept, if waiting.is_none() => match acc {
                Ok(c) => {
                    pause = None;
                    waiting = Some(c);
                }
                Err(e) => {
                    ctx.out.warn(&format!("accept failed: {e}"));
                    pause = Some(Instant::now() + ACCEPT_BACKOFF);
                }
            },
        }
    }
}

/// The open connections, oldest first, and whether each has its whole
/// request (is being answered). Dropping a slot closes its connection.
struct Slots {
    max: usize,
    next_id: u64,
    open: BTreeMap<u64, Slot>,
}

struct Slot {
    peer: SocketAddr,
    opened: Instant,
    /// Set once the connection's whole request is in (or its answer decided).
    answering: Rc<Cell<bool>>,
    /// Dropped to close the connection (its end, [`connection`]'s `close`).
    _close: oneshot::Sender<Infallible>,
}

/// What [`Slots::make_room`] did.
#[derive(Debug, PartialEq, Eq)]
enum Room {
    /// A slot was free.
    Free,
    /// This peer's connection (the oldest without its whole request) was closed.
    Reclaimed(SocketAddr),
    /// The oldest connection without its whole request was opened less than
    /// [`RECLAIM_AFTER`] ago: it can be closed from this time.
    NotBefore(Instant),
    /// Every slot holds a request being answered.
    Full,
}

impl Slots {
    fn new(max: usize) -> Slots {
        Slots {
            max,
            next_id: 0,
            open: BTreeMap::new(),
        }
    }

    /// Room for one more connection at `now`: a free slot, else the slot of
    /// the oldest connection that has not sent its whole request, closed if
    /// it has been open for [`RECLAIM_AFTER`].
    fn make_room(&mut self, now: Instant) -> Room {
        if self.open.len() < self.max {
            return Room::Free;
        }
        // Slots are in the order connections were opened.
        let oldest = self
            .open
            .iter()
            .find(|(_, slot)| !slot.answering.get())
            .map(|(id, slot)| (*id, slot.opened + RECLAIM_AFTER));
        match oldest {
            None => Room::Full,
            Some((_, from)) if now < from => Room::NotBefore(from),
            Some((id, _)) => match self.open.remove(&id) {
                Some(slot) => Room::Reclaimed(slot.peer),
                None => Room::Full,
            },
        }
    }

    /// A slot for a new connection opened at `now`: its id, its `answering`
    /// flag and the receiver that ends when the slot is taken back.
    fn open(
        &mut self,
        peer: SocketAddr,
        now: Instant,
    ) -> (u64, Rc<Cell<bool>>, oneshot::Receiver<Infallible>) {
        let id = self.next_id;
        self.next_id += 1;
        let answering = Rc::new(Cell::new(false));
        let (tx, rx) = oneshot::channel();
        let slot = Slot {
            peer,
            opened: now,
            answering: Rc::clone(&answering),
            _close: tx,
        };
        self.open.insert(id, slot);
        (id, answering, rx)
    }

    /// A connection has ended (a no-op if its slot was taken back).
    fn close(&mut self, id: u64) {
        self.open.remove(&id);
    }
}

/// Connections closed to make room, logged as a count at most once per
/// [`RECLAIM_LOG_EVERY`] (a flood of reconnecting clients would otherwise
/// write a line per connection).
#[derive(Default)]
struct Reclaimed {
    unlogged: u64,
    last: Option<SocketAddr>,
    next_log: Option<Instant>,
}

impl Reclaimed {
    fn note(&mut self, ctx: &Ctx, peer: SocketAddr, max: usize) {
        self.unlogged += 1;
        self.last = Some(peer);
        if self.next_log.is_none_or(|at| Instant::now() >= at) {
            self.log(ctx, max);
        }
    }

    fn log(&mut self, ctx: &Ctx, max: usize) {
        let Some(peer) = self.last else { return };
        let line = match self.unlogged {
            0 => return,
            1 => format!(
                "{peer} - - closed: to make room, the oldest of {max} connections \
                 (--max-connections) without a whole request"
            ),
            n => format!(
                "{peer} - - closed: to make room, the oldest of {max} connections \
                 (--max-connections) without a whole request; {} more since the \
                 last such line",
                n - 1
            ),
        };
        ctx.out.info(&line);
        self.unlogged = 0;
        self.next_log = Some(Instant::now() + RECLAIM_LOG_EVERY);
    }
}

/// One connection: one request read within the request deadline, answered,
/// then a short linger; all of it within the connection deadline. It is
/// closed at once, without an answer, when its slot is taken back (`close`
/// ends), which happens only while `answering` is unset.
#[allow(clippy::too_many_arguments)]
async fn connection(
    ctx: &Ctx,
    http: &http1::Builder,
    mut s: TcpStream,
    peer: SocketAddr,
    server: &Arc<Server>,
    limits: Limits,
    answering: Rc<Cell<bool>>,
    close: oneshot::Receiver<Infallible>,
) {
    let request_deadline = Instant::now() + limits.request_timeout;
    let deadline = request_deadline + ANSWER_TIME;
    let answering = &*answering;
    let svc = service_fn(|req| async move {
        let method = req.method().to_string();
        let path = req.uri().path().to_string();
        let (reply, seen) = answer(server, req, request_deadline, limits, answering).await;
        // Logged before the answer is sent: a client that got it finds the line.
        log_line(ctx, peer, &method, &path, reply.status, &seen);
        Ok::<_, Infallible>(reply.into_http())
    });
    let conn = http.serve_connection(TokioIo::new(&mut s), svc);
    let served = tokio::select! {
        r = timeout_at(deadline, conn) => r,
        // Closed to make room (logged by the accept loop).
        _ = close => return,
    };
    match served {
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
/// deadline, then the witness work on the blocking pool, in turn. Sets
/// `answering` once the answer no longer waits for the client (the request
/// refused on its head, or its body read or late): from then on the
/// connection is not closed to make room.
async fn answer(
    server: &Arc<Server>,
    req: Request<Incoming>,
    request_deadline: Instant,
    limits: Limits,
    answering: &Cell<bool>,
) -> (Reply, Seen) {
    if let Err(r) = admit(req.method(), req.uri().path(), req.headers()) {
        answering.set(true);
        return (r, Seen::default());
    }
    let body = Limited::new(req.into_body(), witness::MAX_BODY).collect();
    let body = timeout_at(request_deadline, body).await;
    answering.set(true);
    let body = match body {
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
    fn room_is_made_by_closing_the_oldest_connection_without_its_request() {
        let peer = |n: u16| SocketAddr::from(([127, 0, 0, 1], n));
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut slots = Slots::new(3);
        let mut open: Vec<_> = (1..=3)
            .map(|n| {
                assert_eq!(slots.make_room(ms(n.into())), Room::Free);
                slots.open(peer(n), ms(n.into()))
            })
            .collect();
        // The oldest is being answered: the next oldest is closed, once it
        // has been open RECLAIM_AFTER.
        open[0].1.set(true);
        let from = ms(2) + RECLAIM_AFTER;
        assert_eq!(slots.make_room(ms(50)), Room::NotBefore(from));
        assert_eq!(slots.make_room(from), Room::Reclaimed(peer(2)));
        assert!(matches!(
            open[1].2.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
        assert!(matches!(
            open[2].2.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        ));
        open.push(slots.open(peer(4), from));
        // Every slot answering: no room until one ends.
        open[2].1.set(true);
        open[3].1.set(true);
        let later = ms(10_000);
        assert_eq!(slots.make_room(later), Room::Full);
        slots.close(open[1].0); // already taken back: no effect
        assert_eq!(slots.make_room(later), Room::Full);
        slots.close(open[2].0);
        assert_eq!(slots.make_room(later), Room::Free);
        assert!(matches!(
            open[0].2.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        ));
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
