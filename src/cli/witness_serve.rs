//! `custody witness serve`: the C2SP tlog-witness `add-checkpoint` endpoint
//! over HTTP/1.1 (docs/FORMAT.md §11.2, `witness serve`). Plumbing only: every request goes
//! through the same [`check`] and [`conclude`] as `custody witness cosign`.
//!
//! One connection at a time, one request per connection (`Connection:
//! close`), so witness state has a single writer; each request takes the
//! archive lock for its duration (503 while another `custody` holds it).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;

use super::witness::{check, conclude, sanitise, Checked, Concluded};
use super::Ctx;
use crate::core::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::core::keys::SignerKey;
use crate::core::witness::{self, Accept};
use crate::store::archive::Archive;
use crate::store::StoreError;

/// Largest request head (request line and headers).
pub const MAX_HEAD: usize = 8 * 1024;
/// Time allowed for one whole request to arrive.
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// Time allowed for any single read or write.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// The one path served.
pub const ADD_CHECKPOINT: &str = "/add-checkpoint";

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

Requests are handled one at a time, one per connection; each holds the
archive lock while it runs (503 if another custody command holds it). The
first line on stdout is `listening on http://ADDR`; one line per request
goes to stderr. Only loopback addresses are accepted unless --public is
given; there is no TLS, so put a TLS proxy in front of a public witness.

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
    let listener = TcpListener::bind(a.listen)
        .map_err(|e| StoreError::Input(format!("cannot listen on {}: {e}", a.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    ctx.out.line(&format!("listening on http://{addr}"));
    let _ = std::io::stdout().flush();
    let server = Server {
        root,
        key,
        evidence_dir: a.evidence_dir,
    };
    for conn in listener.incoming() {
        match conn {
            Ok(s) => server.connection(ctx, s),
            Err(e) => ctx.out.warn(&format!("accept failed: {e}")),
        }
    }
    Ok(super::EXIT_OK)
}

struct Server {
    root: PathBuf,
    key: SignerKey,
    evidence_dir: PathBuf,
}

/// One HTTP response.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub extra: Option<(&'static str, &'static str)>,
}

impl Response {
    fn text(status: u16, body: impl Into<String>) -> Response {
        let mut body = body.into();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
            extra: None,
        }
    }

    fn encode(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            409 => "Conflict",
            411 => "Length Required",
            413 => "Content Too Large",
            422 => "Unprocessable Content",
            431 => "Request Header Fields Too Large",
            500 => "Internal Server Error",
            501 => "Not Implemented",
            503 => "Service Unavailable",
            _ => "Status",
        };
        let mut h = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            self.content_type,
            self.body.len()
        );
        if let Some((k, v)) = self.extra {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        h.push_str("\r\n");
        let mut out = h.into_bytes();
        out.extend_from_slice(self.body.as_bytes());
        out
    }
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    pub path: String,
    pub content_length: Option<usize>,
    pub chunked: bool,
    /// `Expect: 100-continue` (curl sends it for bodies over 1 KiB).
    pub expect_continue: bool,
}

/// Parses an HTTP/1.x request head (without the final empty line).
pub fn parse_head(head: &[u8]) -> Result<Head, Response> {
    let bad = |why: &str| Response::text(400, why);
    let text = std::str::from_utf8(head).map_err(|_| bad("the request head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let request = lines.next().unwrap_or_default();
    let mut parts = request.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("malformed request line"));
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return Err(bad("malformed request line"));
    }
    let path = target.split('?').next().unwrap_or_default().to_string();
    let mut content_length = None;
    let mut chunked = false;
    let mut expect_continue = false;
    for l in lines {
        let (k, v) = l.split_once(':').ok_or_else(|| bad("malformed header"))?;
        let v = v.trim();
        if k.eq_ignore_ascii_case("content-length") {
            let n = crate::core::checkpoint::parse_canonical_u64(v)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| bad("malformed Content-Length"))?;
            if content_length.is_some_and(|c| c != n) {
                return Err(bad("conflicting Content-Length headers"));
            }
            content_length = Some(n);
        } else if k.eq_ignore_ascii_case("transfer-encoding") {
            chunked = true;
        } else if k.eq_ignore_ascii_case("expect") && v.eq_ignore_ascii_case("100-continue") {
            expect_continue = true;
        }
    }
    Ok(Head {
        method: method.to_string(),
        path,
        content_length,
        chunked,
        expect_continue,
    })
}

/// What one request was about, for the log line.
#[derive(Default)]
struct Seen {
    origin: Option<String>,
    size: Option<u64>,
    note: Option<String>,
}

impl Server {
    fn connection(&self, ctx: &Ctx, mut s: TcpStream) {
        let peer = s
            .peer_addr()
            .map(|p| p.to_string())
            .unwrap_or_else(|_| "?".into());
        let _ = s.set_read_timeout(Some(IO_TIMEOUT));
        let _ = s.set_write_timeout(Some(IO_TIMEOUT));
        let mut seen = Seen::default();
        let (method, path, resp) = match read_request(&mut s) {
            Err(e) => match *e {
                (None, r) => ("-".to_string(), "-".to_string(), r),
                (Some(head), r) => (head.method, head.path, r),
            },
            Ok((head, body)) => {
                let r = self.route(&head, &body, &mut seen);
                (head.method, head.path, r)
            }
        };
        // Logged before the response is sent: a client that got it finds the line.
        let mut line = format!(
            "{peer} {} {} {}",
            method.escape_debug(),
            path.escape_debug(),
            resp.status
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
        let _ = s.write_all(&resp.encode());
        let _ = s.flush();
        // Close our side, then read (a bounded amount of) whatever the
        // client still sends, so that closing with unread data does not
        // reset the connection before the client reads the response.
        let _ = s.shutdown(std::net::Shutdown::Write);
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut sink = [0u8; 4096];
        let mut drained = 0;
        while drained < 4 * witness::MAX_BODY {
            match s.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    }

    fn route(&self, head: &Head, body: &[u8], seen: &mut Seen) -> Response {
        if head.path != ADD_CHECKPOINT {
            return Response::text(404, "not found: this witness serves POST /add-checkpoint");
        }
        if head.method != "POST" {
            let mut r = Response::text(405, "use POST");
            r.extra = Some(("Allow", "POST"));
            return r;
        }
        match self.add_checkpoint(body, seen) {
            Ok(r) => r,
            Err(StoreError::Locked { .. }) => {
                seen.note = Some("archive locked".into());
                let mut r = Response::text(503, "the witness archive is busy; retry");
                r.extra = Some(("Retry-After", "1"));
                r
            }
            Err(e) => {
                seen.note = Some(e.to_string());
                Response::text(500, "internal error")
            }
        }
    }

    /// C2SP tlog-witness add-checkpoint (FORMAT.md §11.2, `witness serve`).
    fn add_checkpoint(&self, body: &[u8], seen: &mut Seen) -> Result<Response, StoreError> {
        let (proof, cp_bytes) = match witness::parse_add_checkpoint(body) {
            Ok(p) => p,
            Err(e) => return Ok(Response::text(400, format!("malformed body: {e}"))),
        };
        let (origin, size, sig_error) = match SignedCheckpoint::parse(cp_bytes) {
            Ok(sc) => (sc.checkpoint().origin.clone(), sc.checkpoint().size, None),
            // A well-formed checkpoint text whose signature lines do not
            // parse (e.g. non-canonical base64) carries no valid log
            // signature: 403 (or 404 for an unknown log), as tlog-witness
            // asks, rather than 400.
            Err(e) => match checkpoint_text(cp_bytes) {
                Some(c) => (c.origin, c.size, Some(e.to_string())),
                None => return Ok(Response::text(400, format!("not a signed checkpoint: {e}"))),
            },
        };
        seen.origin = Some(origin.clone());
        seen.size = Some(size);
        if proof.old > size {
            return Ok(Response::text(
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
                return Ok(Response::text(404, "unknown log"));
            }
            return Ok(Response::text(403, format!("invalid signature: {e}")));
        }
        let checked = match check(&arch, &wc, cp_bytes, &origin)? {
            Checked::Ok(c) => c,
            Checked::UnknownLog => return Ok(Response::text(404, "unknown log")),
            Checked::BadSignature(e) => {
                return Ok(Response::text(403, format!("invalid signature: {e}")))
            }
        };
        let evidence_out = |origin: &str, size: u64| unique_path(&self.evidence_dir, origin, size);
        let r = match conclude(
            &arch,
            checked,
            &self.key,
            cp_bytes,
            Some(&proof),
            Some(proof.old),
            &evidence_out,
        )? {
            Concluded::Cosigned { accepted, line } => {
                seen.note = Some(
                    match accepted {
                        Accept::FirstUse => "cosigned, first use",
                        Accept::Unchanged => "cosigned, unchanged",
                        Accept::Extended { .. } => "cosigned, extended",
                    }
                    .into(),
                );
                Response::text(200, line)
            }
            Concluded::OldMismatch { latest, evidence } => {
                seen.note = evidence.map(|p| format!("evidence {}", p.display()));
                Response {
                    status: 409,
                    content_type: "text/x.tlog.size",
                    body: format!("{latest}\n"),
                    extra: None,
                }
            }
            Concluded::Unprocessable(why) => Response::text(422, why),
            // tlog-witness: a checkpoint older than the latest is a 409 with
            // the latest size, never evidence (FORMAT.md §11.2).
            Concluded::Refused {
                refusal: witness::Refusal::Stale { latest, .. },
                evidence: None,
            } => {
                seen.note = Some("stale".into());
                Response {
                    status: 409,
                    content_type: "text/x.tlog.size",
                    body: format!("{latest}\n"),
                    extra: None,
                }
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
                Response::text(422, what)
            }
        };
        Ok(r)
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

/// Reads one request: a bounded head, then exactly Content-Length bytes.
/// A refused request: its head when it was read, and the answer.
type Refused = Box<(Option<Head>, Response)>;

fn read_request(s: &mut TcpStream) -> Result<(Head, Vec<u8>), Refused> {
    let none = |r: Response| Box::new((None, r));
    let start = Instant::now();
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(none(Response::text(431, "request head too large")));
        }
        if start.elapsed() > REQUEST_DEADLINE {
            return Err(none(Response::text(408, "request timeout")));
        }
        let left = REQUEST_DEADLINE.saturating_sub(start.elapsed());
        let _ = s.set_read_timeout(Some(left.clamp(Duration::from_millis(1), IO_TIMEOUT)));
        match s.read(&mut chunk) {
            Ok(0) => return Err(none(Response::text(400, "incomplete request"))),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => return Err(none(Response::text(408, "request timeout"))),
        }
    };
    if head_end > MAX_HEAD {
        return Err(none(Response::text(431, "request head too large")));
    }
    let head = parse_head(&buf[..head_end]).map_err(none)?;
    let mut body = buf.split_off(head_end + 4);
    let with = |r: Response| Box::new((Some(head.clone()), r));
    if head.method != "POST" || head.path != ADD_CHECKPOINT {
        return Ok((head, body));
    }
    if head.chunked {
        return Err(with(Response::text(
            411,
            "send the body with Content-Length",
        )));
    }
    let Some(len) = head.content_length else {
        return Err(with(Response::text(411, "Content-Length required")));
    };
    if len > witness::MAX_BODY {
        return Err(with(Response::text(
            413,
            format!("body larger than {} bytes", witness::MAX_BODY),
        )));
    }
    if head.expect_continue && body.len() < len {
        let _ = s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    while body.len() < len {
        if start.elapsed() > REQUEST_DEADLINE {
            return Err(with(Response::text(408, "request timeout")));
        }
        let left = REQUEST_DEADLINE.saturating_sub(start.elapsed());
        let _ = s.set_read_timeout(Some(left.clamp(Duration::from_millis(1), IO_TIMEOUT)));
        match s.read(&mut chunk) {
            Ok(0) => {
                return Err(with(Response::text(
                    400,
                    "body shorter than Content-Length",
                )))
            }
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(_) => return Err(with(Response::text(408, "request timeout"))),
        }
    }
    if body.len() > len {
        return Err(with(Response::text(400, "body longer than Content-Length")));
    }
    Ok((head, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads() {
        let h =
            parse_head(b"POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: 12").unwrap();
        assert_eq!(h.method, "POST");
        assert_eq!(h.path, ADD_CHECKPOINT);
        assert_eq!(h.content_length, Some(12));
        assert!(!h.chunked && !h.expect_continue);
        let h = parse_head(b"POST /add-checkpoint HTTP/1.1\r\nExpect: 100-Continue").unwrap();
        assert!(h.expect_continue);
        let h = parse_head(b"GET /x?y HTTP/1.0\r\ntransfer-encoding: chunked").unwrap();
        assert_eq!((h.path.as_str(), h.chunked), ("/x", true));
        for bad in [
            &b"POST /add-checkpoint"[..],
            b"POST add-checkpoint HTTP/1.1",
            b"POST /a HTTP/2 x",
            b"POST /a HTTP/1.1\r\nContent-Length: 01",
            b"POST /a HTTP/1.1\r\nContent-Length: -1",
            b"POST /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2",
            b"POST /a HTTP/1.1\r\nno colon",
            b"POST /a HTTP/1.1\r\n\xff: 1",
        ] {
            assert_eq!(parse_head(bad).unwrap_err().status, 400, "{bad:?}");
        }
    }

    #[test]
    fn responses_carry_length_and_close() {
        let r = Response {
            status: 409,
            content_type: "text/x.tlog.size",
            body: "3\n".into(),
            extra: None,
        };
        assert_eq!(
            String::from_utf8(r.encode()).unwrap(),
            "HTTP/1.1 409 Conflict\r\nContent-Type: text/x.tlog.size\r\nContent-Length: 2\r\nConnection: close\r\n\r\n3\n"
        );
    }
}
