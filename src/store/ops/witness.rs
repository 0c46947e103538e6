//! The archive owner as a witness of partners' logs: which logs it witnesses
//! (`witness/config.toml`) and every checkpoint it cosigned, with every reset
//! of a log (`witness/history`, append-only). Formats: `docs/FORMAT.md` §11.2.
//!
//! The archive lock serialises witnesses, so checking a checkpoint against
//! the history and appending it is atomic with respect to other `custody`
//! processes; the append is fsynced before the caller emits a cosignature.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::core::cosignature;
use crate::core::evidence::SplitViewEvidence;
use crate::core::findings::{Check, Report, Subject};
use crate::core::keys::{SigAlg, SignerKey, VerifierKey};
use crate::core::witness::{self, Accept, OfferedProof};
use crate::store::archive::Archive;
use crate::store::files::blobs::sync_dir;
use crate::store::files::logfile::{Frame, LogFile};
use crate::store::{io_err, StoreError};

use crate::store::files::layout::WITNESS_DIR;
const CONFIG_FILE: &str = "config.toml";
const HISTORY_FILE: &str = "history";

/// `witness/config.toml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// Default witness secret key file for `witness cosign`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness_key: Option<PathBuf>,
    /// The logs this archive witnesses.
    #[serde(default, rename = "log")]
    pub logs: Vec<WitnessedLog>,
}

/// One witnessed log: its origin and its log key (name = origin, alg 0x01).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessedLog {
    pub origin: String,
    pub vkey: VerifierKey,
}

/// Largest `witness/config.toml` accepted.
const MAX_CONFIG: u64 = 1 << 20;

impl WitnessConfig {
    /// Parses the text of `witness/config.toml` (FORMAT.md §11.2): every log's
    /// vkey must be alg `0x01` and named as its origin. `path` only names the
    /// file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<WitnessConfig, StoreError> {
        if text.len() as u64 > MAX_CONFIG {
            return Err(StoreError::Config(
                path.to_path_buf(),
                format!("is larger than {MAX_CONFIG} bytes"),
            ));
        }
        let c: WitnessConfig = toml::from_str(text).map_err(|e| {
            StoreError::Config(path.to_path_buf(), crate::store::toml_error(text, &e))
        })?;
        for l in &c.logs {
            if l.vkey.name() != l.origin || l.vkey.alg() != SigAlg::Ed25519 {
                return Err(StoreError::Config(
                    path.to_path_buf(),
                    format!(
                        "log {:?}: the vkey must be alg 0x01 named as the origin",
                        l.origin
                    ),
                ));
            }
        }
        Ok(c)
    }

    /// The configured log with this origin.
    pub fn log(&self, origin: &str) -> Option<&WitnessedLog> {
        self.logs.iter().find(|l| l.origin == origin)
    }
}

/// One checkpoint of a log that this witness cosigned, as it was received.
#[derive(Clone, Debug)]
pub struct CosignedEntry {
    pub checkpoint: Checkpoint,
    pub note: Vec<u8>,
}

/// First line of a reset frame in `witness/history` (FORMAT.md §11.2).
pub const RESET_HEADER: &str = "custody witness reset v1";
/// Longest reset reason, in bytes.
pub const MAX_REASON: usize = 1000;
/// Most evidence files one reset keeps.
pub const MAX_RESET_EVIDENCE: usize = 4;

/// A recorded decision of the witness operator to continue a log from a
/// given checkpoint, setting aside what was cosigned before (after a fork:
/// FORMAT.md §11.2, `witness reset-log`). Nothing earlier is deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResetRecord {
    pub origin: String,
    /// Unix seconds when the reset was recorded.
    pub time: u64,
    /// Why, in the operator's words (one line, no control characters).
    pub reason: String,
    /// The signed checkpoint the witness continues from, verbatim.
    pub to: Vec<u8>,
    /// Split-view evidence files kept with the reset, verbatim.
    pub evidence: Vec<Vec<u8>>,
}

/// Is `reason` acceptable in a reset record (1..=MAX_REASON bytes, no
/// control characters)?
pub fn reason_ok(reason: &str) -> bool {
    !reason.trim().is_empty() && reason.len() <= MAX_REASON && !reason.chars().any(char::is_control)
}

impl ResetRecord {
    /// The frame body (FORMAT.md §11.2).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!(
            "{RESET_HEADER}\norigin {}\ntime {}\nreason {}\nto {}\n",
            self.origin,
            self.time,
            self.reason,
            self.to.len()
        )
        .into_bytes();
        out.extend_from_slice(&self.to);
        for e in &self.evidence {
            out.extend_from_slice(format!("evidence {}\n", e.len()).as_bytes());
            out.extend_from_slice(e);
        }
        out
    }

    /// Parses a frame body strictly; `None` if it does not start with
    /// [`RESET_HEADER`], `Some(Err)` if it does but is malformed.
    pub fn parse(body: &[u8]) -> Option<Result<(ResetRecord, Checkpoint), String>> {
        let rest = body
            .strip_prefix(RESET_HEADER.as_bytes())?
            .strip_prefix(b"\n")?;
        Some(Self::parse_rest(rest))
    }

    fn parse_rest(mut rest: &[u8]) -> Result<(ResetRecord, Checkpoint), String> {
        fn line<'a>(rest: &mut &'a [u8], key: &str) -> Result<&'a str, String> {
            let nl = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or_else(|| format!("no `{key}` line"))?;
            let l = std::str::from_utf8(&rest[..nl])
                .ok()
                .and_then(|l| l.strip_prefix(key))
                .and_then(|l| l.strip_prefix(' '))
                .ok_or_else(|| format!("expected a `{key}` line"))?;
            *rest = &rest[nl + 1..];
            Ok(l)
        }
        fn section<'a>(rest: &mut &'a [u8], key: &str, max: usize) -> Result<&'a [u8], String> {
            let n = line(rest, key)?;
            let n = crate::core::checkpoint::parse_canonical_u64(n)
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("bad `{key}` length (at most {max})"))?;
            if rest.len() < n {
                return Err(format!("the `{key}` section is cut short"));
            }
            let (body, after) = rest.split_at(n);
            *rest = after;
            Ok(body)
        }
        let origin = line(&mut rest, "origin")?.to_string();
        let time = crate::core::checkpoint::parse_canonical_u64(line(&mut rest, "time")?)
            .ok_or("bad `time`")?;
        let reason = line(&mut rest, "reason")?.to_string();
        if !reason_ok(&reason) {
            return Err("bad `reason`".into());
        }
        let to = section(&mut rest, "to", crate::core::evidence::MAX_SECTION)?.to_vec();
        let cp = SignedCheckpoint::parse(&to)
            .map_err(|e| format!("`to` is not a signed checkpoint: {e}"))?
            .checkpoint()
            .clone();
        if cp.origin != origin {
            return Err(format!("`to` is a checkpoint of {:?}", cp.origin));
        }
        let mut evidence = Vec::new();
        while !rest.is_empty() {
            if evidence.len() == MAX_RESET_EVIDENCE {
                return Err(format!("more than {MAX_RESET_EVIDENCE} evidence sections"));
            }
            let e = section(&mut rest, "evidence", crate::core::evidence::MAX_EVIDENCE)?;
            evidence.push(e.to_vec());
        }
        let r = ResetRecord {
            origin,
            time,
            reason,
            to,
            evidence,
        };
        Ok((r, cp))
    }
}

/// One frame of `witness/history`.
#[derive(Clone, Debug)]
pub enum HistoryFrame {
    /// A checkpoint this witness cosigned.
    Cosigned(CosignedEntry),
    /// A reset of one log: later frames of that log continue from its `to`.
    Reset(Box<ResetRecord>, Checkpoint),
}

impl HistoryFrame {
    fn origin(&self) -> &str {
        match self {
            HistoryFrame::Cosigned(e) => &e.checkpoint.origin,
            HistoryFrame::Reset(r, _) => &r.origin,
        }
    }
}

/// Parses one frame body of `witness/history`: a reset record if it starts
/// with [`RESET_HEADER`], else a signed checkpoint (a log key's name, hence
/// a witnessed origin, has no spaces, so the two cannot be confused).
fn parse_frame(body: Vec<u8>) -> Result<HistoryFrame, String> {
    if let Some(r) = ResetRecord::parse(&body) {
        let (r, cp) = r?;
        return Ok(HistoryFrame::Reset(Box::new(r), cp));
    }
    let sc = SignedCheckpoint::parse(&body).map_err(|e| e.to_string())?;
    Ok(HistoryFrame::Cosigned(CosignedEntry {
        checkpoint: sc.checkpoint().clone(),
        note: body,
    }))
}

/// Writes `data` to `path` atomically: a temp file in the same directory,
/// fsync, rename, fsync of the directory. Creates missing parent directories.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    crate::store::files::outfile::write_durable(path, data, None)
}

/// [`write_atomic`] of a file given to the user (`-o`, split-view
/// evidence): a temporary name it needs outside the archive at `archive`
/// is recorded there, removed by the next command if not by this one
/// (FORMAT.md §7.8).
pub fn write_output(path: &Path, data: &[u8], archive: &Path) -> Result<(), StoreError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    crate::store::files::outfile::write_durable(path, data, Some(archive))
}

impl Archive {
    fn witness_dir(&self) -> PathBuf {
        self.root().join(WITNESS_DIR)
    }

    /// `witness/config.toml`, or the default (nothing witnessed) if missing.
    pub fn witness_config(&self) -> Result<WitnessConfig, StoreError> {
        let p = self.witness_dir().join(CONFIG_FILE);
        let text = match crate::store::read_toml_text(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(WitnessConfig::default())
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(StoreError::Config(p, "is not UTF-8 text".into()))
            }
            Err(e) => return Err(io_err(&p, e)),
            Ok(t) => t,
        };
        WitnessConfig::parse(&p, &text)
    }

    fn save_witness_config(&self, c: &WitnessConfig) -> Result<(), StoreError> {
        let text = toml::to_string_pretty(c).map_err(|e| StoreError::Internal(e.to_string()))?;
        let text = format!("# logs this archive witnesses (docs/FORMAT.md §11.2)\n{text}");
        write_atomic(&self.witness_dir().join(CONFIG_FILE), text.as_bytes())
    }

    /// Records that this archive witnesses the log `vkey` (its name must be
    /// the origin, alg `0x01`); optionally remembers the witness key path.
    /// Returns false when the log was already configured with this key.
    pub fn witness_add_log(
        &self,
        vkey: VerifierKey,
        witness_key: Option<PathBuf>,
    ) -> Result<bool, StoreError> {
        if vkey.alg() != SigAlg::Ed25519 {
            return Err(StoreError::Input(format!(
                "{vkey} is not a log key (alg 0x01); witness keys cannot sign checkpoints"
            )));
        }
        let mut c = self.witness_config()?;
        let origin = vkey.name().to_string();
        let added = match c.log(&origin) {
            Some(l) if l.vkey == vkey => false,
            Some(l) => {
                return Err(StoreError::Input(format!(
                    "the log {origin:?} is already witnessed with another key ({}); a log key never changes silently",
                    l.vkey
                )))
            }
            None => {
                c.logs.push(WitnessedLog { origin, vkey });
                true
            }
        };
        if witness_key.is_some() {
            c.witness_key = witness_key;
        }
        self.save_witness_config(&c)?;
        Ok(added)
    }

    /// Opens `witness/history`, cutting back a torn final frame, and returns
    /// every entry in order.
    fn witness_history_file(&self) -> Result<(LogFile, Vec<HistoryFrame>), StoreError> {
        let dir = self.witness_dir();
        let p = dir.join(HISTORY_FILE);
        let created = !p.exists();
        if created {
            fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        }
        let mut lf = LogFile::open(&p, true)?;
        if created {
            sync_dir(&dir)?;
        }
        let mut out = Vec::new();
        let mut torn = None;
        for f in lf.scan(0)? {
            match f? {
                Frame::Complete { offset, body } => match parse_frame(body) {
                    Ok(f) => out.push(f),
                    Err(_) if lf.zeros_from(offset)? => {
                        torn = Some(offset);
                        break;
                    }
                    Err(e) => {
                        return Err(StoreError::Corrupt(format!(
                            "{} at offset {offset}: {e}",
                            p.display()
                        )))
                    }
                },
                Frame::Torn { offset } => torn = Some(offset),
                Frame::Oversized { offset, .. } if lf.zeros_from(offset)? => {
                    torn = Some(offset);
                    break;
                }
                Frame::Oversized { offset, len } => {
                    return Err(StoreError::Corrupt(format!(
                        "{} frame at offset {offset} claims {len} bytes",
                        p.display()
                    )))
                }
            }
        }
        if let Some(off) = torn {
            lf.truncate(off)?;
        }
        Ok((lf, out))
    }

    /// The checkpoints of `origin` this witness stands by, oldest first:
    /// those cosigned since the log's last reset, that reset's checkpoint
    /// first (FORMAT.md §11.2); every cosigned one if it was never reset.
    pub fn witness_history(&self, origin: &str) -> Result<Vec<CosignedEntry>, StoreError> {
        let (_, all) = self.witness_history_file()?;
        let mut out = Vec::new();
        for f in all.into_iter().filter(|f| f.origin() == origin) {
            match f {
                HistoryFrame::Cosigned(e) => out.push(e),
                HistoryFrame::Reset(r, checkpoint) => {
                    out.clear();
                    out.push(CosignedEntry {
                        checkpoint,
                        note: r.to,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Every frame of `origin` in `witness/history`, resets included.
    pub fn witness_frames(&self, origin: &str) -> Result<Vec<HistoryFrame>, StoreError> {
        let (_, all) = self.witness_history_file()?;
        Ok(all.into_iter().filter(|f| f.origin() == origin).collect())
    }

    /// Appends a reset of a log (FORMAT.md §11.2); durable when it returns.
    /// The caller has checked the record (`witness reset-log`).
    pub fn witness_record_reset(&self, r: &ResetRecord) -> Result<(), StoreError> {
        let (mut lf, _) = self.witness_history_file()?;
        lf.append(&[&r.encode()])?;
        Ok(())
    }

    /// For `verify`: findings about this archive's witness state, read
    /// without changing it. `witness/config.toml` must parse; every complete
    /// frame of `witness/history` must be a checkpoint of a configured log
    /// that opens with that log's key, and per log the sizes must grow (a
    /// checkpoint is appended only when it is larger than the latest,
    /// FORMAT.md §11.2). A reset frame must name a configured log, its
    /// checkpoint open with that log's key and its evidence prove a split
    /// view; the log's sizes then grow from the reset's checkpoint. A torn or zero-filled final frame is what a crash
    /// mid-append leaves, and is not reported.
    pub(crate) fn check_witness_state(&self, rep: &mut Report) -> Result<(), StoreError> {
        let dir = self.witness_dir();
        if !dir.is_dir() {
            return Ok(());
        }
        let config = match self.witness_config() {
            Ok(c) => Some(c),
            Err(StoreError::Config(p, why)) => {
                rep.add(
                    Subject::Archive,
                    Check::WitnessState,
                    format!("{}: {why}", p.display()),
                );
                None
            }
            Err(e) => return Err(e),
        };
        let p = dir.join(HISTORY_FILE);
        if !p.is_file() {
            return Ok(());
        }
        let mut check = HistoryCheck {
            lf: LogFile::open_read(&p)?,
            config,
            latest: Vec::new(),
            rep,
        };
        let frames = check
            .lf
            .scan(0)?
            .collect::<Result<Vec<Frame>, StoreError>>()?;
        for f in frames {
            if !check.frame(f)? {
                break;
            }
        }
        Ok(())
    }

    /// Appends a checkpoint this witness is about to cosign; durable (fsync)
    /// when it returns, before the cosignature is emitted.
    pub fn witness_record(&self, note: &[u8]) -> Result<(), StoreError> {
        let (mut lf, _) = self.witness_history_file()?;
        lf.append(&[note])?;
        Ok(())
    }
}

/// The check of `witness/history` for [`Archive::check_witness_state`]: the
/// configuration (if it parsed), each log's latest checkpoint so far, and
/// the findings.
struct HistoryCheck<'a> {
    lf: LogFile,
    config: Option<WitnessConfig>,
    latest: Vec<Checkpoint>,
    rep: &'a mut Report,
}

impl HistoryCheck<'_> {
    /// Checks one frame; `false` when it ends what can be read: a torn or
    /// zero-filled final frame (what a crash mid-append leaves, not
    /// reported), or an oversized one.
    fn frame(&mut self, f: Frame) -> Result<bool, StoreError> {
        let (offset, body) = match f {
            Frame::Complete { offset, body } => (offset, body),
            Frame::Torn { .. } => return Ok(false),
            Frame::Oversized { offset, .. } if self.lf.zeros_from(offset)? => return Ok(false),
            Frame::Oversized { offset, len } => {
                self.rep.add(
                    Subject::Archive,
                    Check::WitnessState,
                    format!("witness/history frame at offset {offset} claims {len} bytes"),
                );
                return Ok(false);
            }
        };
        let (c, reset) = match parse_frame(body.clone()) {
            Ok(HistoryFrame::Cosigned(e)) => (e.checkpoint, None),
            Ok(HistoryFrame::Reset(r, cp)) => (cp, Some(r)),
            Err(_) if self.lf.zeros_from(offset)? => return Ok(false),
            Err(e) => {
                self.rep.add(
                    Subject::Archive,
                    Check::WitnessState,
                    format!("witness/history entry at offset {offset} does not parse: {e}"),
                );
                return Ok(true);
            }
        };
        self.check_key(offset, &body, &c, reset.as_deref());
        if reset.is_some() {
            self.reset_to(c);
        } else {
            self.check_order(offset, c);
        }
        Ok(true)
    }

    /// Checks a frame against `witness/config.toml` (if it parsed): its log
    /// is listed, its checkpoint (a reset's `to`) opens with the log's key,
    /// and a reset's evidence proves a split view.
    fn check_key(&mut self, offset: u64, body: &[u8], c: &Checkpoint, reset: Option<&ResetRecord>) {
        let subject = Subject::Log(c.origin.clone());
        let what = if reset.is_some() { "reset" } else { "entry" };
        let signed: &[u8] = reset.map_or(body, |r| &r.to);
        match self.config.as_ref().map(|cfg| cfg.log(&c.origin)) {
            None => {}
            Some(None) => self.rep.add(
                subject,
                Check::WitnessState,
                format!(
                    "witness/history {what} at offset {offset} is about a log witness/config.toml does not list"
                ),
            ),
            Some(Some(l)) => {
                if let Err(e) = SignedCheckpoint::open(signed, &l.vkey, &[]) {
                    self.rep.add(
                        subject.clone(),
                        Check::WitnessState,
                        format!(
                            "witness/history {what} at offset {offset} (size {}) does not open with the log's key: {e}",
                            c.size
                        ),
                    );
                }
                if let Some(r) = reset {
                    check_reset_evidence(self.rep, &l.vkey, &subject, offset, r);
                }
            }
        }
    }

    /// A reset: the log continues from the reset's checkpoint.
    fn reset_to(&mut self, c: Checkpoint) {
        match self.latest.iter_mut().find(|l| l.origin == c.origin) {
            None => self.latest.push(c),
            Some(prev) => *prev = c,
        }
    }

    /// Per log the sizes must grow: a checkpoint is appended only when it is
    /// larger than the latest (FORMAT.md §11.2).
    fn check_order(&mut self, offset: u64, c: Checkpoint) {
        let Some(prev) = self.latest.iter_mut().find(|l| l.origin == c.origin) else {
            self.latest.push(c);
            return;
        };
        let why = if c.size < prev.size {
            Some(format!(
                "the size goes back from {} to {}",
                prev.size, c.size
            ))
        } else if c.size == prev.size && c.root == prev.root {
            Some(format!("the checkpoint of size {} is there twice", c.size))
        } else if c.size == prev.size {
            Some(format!("two roots at size {}", c.size))
        } else {
            None
        };
        if let Some(why) = why {
            self.rep.add(
                Subject::Log(c.origin.clone()),
                Check::WitnessState,
                format!("witness/history entry at offset {offset}: {why}"),
            );
        }
        if c.size >= prev.size {
            *prev = c;
        }
    }
}

/// Checks that each evidence file kept with reset `r` (at `offset`) proves
/// a split view of the log of `vkey`.
fn check_reset_evidence(
    rep: &mut Report,
    vkey: &VerifierKey,
    subject: &Subject,
    offset: u64,
    r: &ResetRecord,
) {
    for (i, ev) in r.evidence.iter().enumerate() {
        let why = match SplitViewEvidence::parse(ev) {
            Err(e) => Some(e.to_string()),
            Ok(ev) => {
                let v = ev.assess(vkey, None);
                (!v.proves_split_view())
                    .then(|| format!("it does not prove a split view ({})", v.as_str()))
            }
        };
        if let Some(why) = why {
            rep.add(
                subject.clone(),
                Check::WitnessState,
                format!(
                    "witness/history reset at offset {offset}, evidence {}: {why}",
                    i + 1
                ),
            );
        }
    }
}

/// A witness key must differ from the archive's and the witnessed log's key
/// (C2SP tlog-cosignature: different statements need distinct keys).
pub fn check_distinct(
    witness: &VerifierKey,
    own_log: &VerifierKey,
    log: &VerifierKey,
) -> Result<(), StoreError> {
    let wb = witness.public_bytes();
    if wb == own_log.public_bytes() || wb == log.public_bytes() {
        return Err(StoreError::Input(
            "the witness key is a log key; a witness must cosign with its own key (witness.key from `custody keygen`)".into(),
        ));
    }
    Ok(())
}

/// A checkpoint whose log this witness knows and whose log signature
/// verified, with the log's history at this witness.
pub struct CheckedCheckpoint {
    log: WitnessedLog,
    opened: Checkpoint,
    note_text: String,
    history: Vec<CosignedEntry>,
}

impl CheckedCheckpoint {
    pub fn size(&self) -> u64 {
        self.opened.size
    }
    /// The latest size this witness cosigned for the log (0 if none).
    pub fn latest_size(&self) -> u64 {
        self.history.last().map_or(0, |h| h.checkpoint.size)
    }
}

pub enum Checked {
    Ok(Box<CheckedCheckpoint>),
    UnknownLog,
    BadSignature(String),
}

/// First half of witnessing, shared by `witness cosign` and `witness serve`:
/// the log must be witnessed here and the checkpoint signed by its key.
pub fn check(
    arch: &Archive,
    wc: &WitnessConfig,
    cp_bytes: &[u8],
    origin: &str,
) -> Result<Checked, StoreError> {
    let Some(log) = wc.log(origin) else {
        return Ok(Checked::UnknownLog);
    };
    let opened = match SignedCheckpoint::open(cp_bytes, &log.vkey, &[]) {
        Ok(o) => o.checkpoint,
        Err(e) => return Ok(Checked::BadSignature(e.to_string())),
    };
    let note_text = SignedCheckpoint::parse(cp_bytes)
        .map_err(|e| StoreError::Internal(e.to_string()))?
        .note()
        .text()
        .to_string();
    Ok(Checked::Ok(Box::new(CheckedCheckpoint {
        log: log.clone(),
        opened,
        note_text,
        history: arch.witness_history(origin)?,
    })))
}

pub enum Concluded {
    Cosigned {
        accepted: Accept,
        line: String,
    },
    Refused {
        refusal: witness::Refusal,
        evidence: Option<PathBuf>,
    },
    /// tlog-witness: `old` is not the latest cosigned size (409).
    OldMismatch {
        latest: u64,
        evidence: Option<PathBuf>,
    },
    /// tlog-witness rules beyond [`witness::decide`] (422).
    Unprocessable(&'static str),
}

/// Second half, shared by `witness cosign` and `witness serve`: decide
/// against the history (FORMAT.md §11.2), write split-view evidence only on
/// a refusal that proves a conflict (a fork, or a proof showing
/// inconsistency: FORMAT.md §11.4; never for a stale checkpoint or a failing
/// proof), persist an accepted checkpoint (fsynced) and only
/// then sign the cosignature line (FORMAT.md §11.1). `expect_old` is the
/// add-checkpoint request's `old` when the caller follows tlog-witness's
/// HTTP rules (409 when it is not the latest cosigned size). The caller
/// holds the archive lock, so the check and the append are one step.
pub fn conclude(
    arch: &Archive,
    checked: Box<CheckedCheckpoint>,
    key: &SignerKey,
    cp_bytes: &[u8],
    proof: Option<&OfferedProof>,
    expect_old: Option<u64>,
    evidence_out: &dyn Fn(&str, u64) -> PathBuf,
) -> Result<Concluded, StoreError> {
    check_distinct(&key.verifier(), arch.log_key(), &checked.log.vkey)?;
    let origin = checked.opened.origin.clone();
    let history = &checked.history;
    let cps: Vec<_> = history.iter().map(|h| h.checkpoint.clone()).collect();
    let size = checked.opened.size;
    let decision = witness::decide(&cps, &checked.opened, proof);
    let evidence = match decision.as_ref().err().and_then(|r| r.conflicts_with()) {
        None => None,
        Some(i) => {
            // FORMAT.md §11.4: the proof goes in only when it is what shows
            // the conflict (a same-size fork needs none).
            let shown_by_proof = matches!(decision, Err(witness::Refusal::Inconsistent { .. }));
            let ev = SplitViewEvidence {
                log_key: checked.log.vkey.clone(),
                cosigned: history[i].note.clone(),
                offending: cp_bytes.to_vec(),
                proof: proof.filter(|_| shown_by_proof).cloned(),
            };
            let path = evidence_out(&origin, size);
            write_output(&path, &ev.encode(), arch.root())?;
            Some(path)
        }
    };
    if let Some(old) = expect_old {
        let latest = checked.latest_size();
        if old != latest {
            return Ok(Concluded::OldMismatch { latest, evidence });
        }
        if old == 0 && proof.is_some_and(|p| !p.hashes.is_empty()) {
            return Ok(Concluded::Unprocessable(
                "a consistency proof from size 0 must be empty",
            ));
        }
        if size == 0 && checked.opened.root != crate::core::merkle::empty_root() {
            return Ok(Concluded::Unprocessable(
                "a checkpoint of size 0 must have the empty tree's root",
            ));
        }
    }
    let accepted = match decision {
        Ok(acc) => acc,
        Err(refusal) => return Ok(Concluded::Refused { refusal, evidence }),
    };
    // Persist before the cosignature exists anywhere (C2SP tlog-witness).
    if accepted != Accept::Unchanged {
        arch.witness_record(cp_bytes)?;
    }
    let now = crate::core::time::now_ms() / 1000;
    let sig = cosignature::cosign(&checked.note_text, key, now)
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    Ok(Concluded::Cosigned {
        accepted,
        line: sig.to_line(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::keys::SignerKey;
    use crate::core::testing::{deep_toml, fast};

    #[test]
    fn config_round_trips_and_checks_each_log() {
        let p = Path::new("config.toml");
        let log = SignerKey::from_seed("a.example/log", &[5; 32]).unwrap();
        let c = WitnessConfig {
            witness_key: Some(PathBuf::from("/keys/witness.key")),
            logs: vec![WitnessedLog {
                origin: "a.example/log".into(),
                vkey: log.verifier(),
            }],
        };
        let text = toml::to_string_pretty(&c).unwrap();
        assert_eq!(WitnessConfig::parse(p, &text).unwrap(), c);
        for bad in [
            text.replace("origin = \"a.example/log\"", "origin = \"b.example/log\""),
            text.replace(&log.verifier().encode(), &log.cosigner_verifier().encode()),
            format!("{text}unknown = 1\n"),
        ] {
            assert!(matches!(
                WitnessConfig::parse(p, &bad),
                Err(StoreError::Config(..))
            ));
        }
    }

    /// Issue 6: TOML nested 100,000 levels deep is refused fast.
    #[test]
    fn nesting_is_bounded() {
        for bad in deep_toml() {
            let r = fast("WitnessConfig::parse", || {
                WitnessConfig::parse(Path::new("config.toml"), &bad)
            });
            assert!(matches!(r, Err(StoreError::Config(..))), "{r:?}");
        }
    }

    /// FORMAT.md §11.2: a reset frame round-trips, is strict, and is never
    /// taken for a checkpoint (or a checkpoint for it).
    #[test]
    fn reset_record_round_trips_and_is_strict() {
        use crate::core::merkle::empty_root;
        let log = SignerKey::from_seed("a.example/log", &[5; 32]).unwrap();
        let c = Checkpoint::new("a.example/log", 0, empty_root()).unwrap();
        let note = SignedCheckpoint::sign(&c, &log)
            .unwrap()
            .encode()
            .into_bytes();
        let r = ResetRecord {
            origin: "a.example/log".into(),
            time: 1_700_000_000,
            reason: "fork of May 1st".into(),
            to: note.clone(),
            evidence: vec![b"ev".to_vec()],
        };
        let body = r.encode();
        assert!(body.starts_with(b"custody witness reset v1\norigin a.example/log\ntime 1700000000\nreason fork of May 1st\nto "));
        let (back, cp) = ResetRecord::parse(&body).unwrap().unwrap();
        assert_eq!((back, cp), (r.clone(), c));
        assert!(matches!(
            parse_frame(body.clone()),
            Ok(HistoryFrame::Reset(..))
        ));
        assert!(matches!(
            parse_frame(note.clone()),
            Ok(HistoryFrame::Cosigned(_))
        ));
        assert!(ResetRecord::parse(&note).is_none());
        let text = String::from_utf8(body.clone()).unwrap();
        for bad in [
            text.replace("time 1700000000", "time 01700000000"),
            text.replace("reason fork of May 1st", "reason "),
            text.replace("origin a.example/log\n", "origin b.example/log\n"),
            format!("{text}x"),
            text[..text.len() - 1].to_string(),
        ] {
            assert!(
                matches!(ResetRecord::parse(bad.as_bytes()), Some(Err(_))),
                "{bad:?}"
            );
        }
        assert!(!reason_ok("two\nlines"));
        assert!(!reason_ok(&"x".repeat(MAX_REASON + 1)));
        assert!(reason_ok("ok"));
    }
}
