//! `custody mirror SRC`: a verified local copy of a partner's published log
//! (FORMAT.md §13.4), fetched through [`Remote`] from a directory, an object
//! store or a web server.
//!
//! A run fetches `checkpoint`, opens it with the log key (and the witness
//! policy, if any), fetches the tiles and entry bundles the new size adds
//! (every fetch bounded by the largest such object) into
//! `mirrors/<name>/staging/`, and checks, before anything is kept:
//!
//! * every new record decodes, has its position as index, names the log's
//!   origin, and is signed by the log key or an actor the log added before
//!   it (FORMAT.md §4.14), replaying the actors from the mirror's start;
//! * every entry hashes to its level-0 tile hash, and every hash of a new
//!   tile at level `L ≥ 1` is the root of the full tile below it;
//! * the tiles give the checkpoint's root, and the root the mirror held
//!   before at its size (a consistency check: nodes never change);
//! * the new size is not below the one mirrored (rollback refused).
//!
//! Only then are the staged files moved into place, the actor list and
//! `checkpoint` written (last), and the partial tiles that wider ones
//! replace removed. A kill at any point leaves the previous verified state
//! (plus files that are not yet part of it); the next run reuses what
//! `staging/` holds, re-verifying it. Every run that ends with an outcome
//! (kept, unchanged, or refused with findings) empties `staging/`; only a
//! run stopped by an error (a fetch failed) leaves it for the next. The
//! source's files are read as regular files only (src/store/files/input.rs), so
//! no FIFO there can hold a run. A fork (the same size with another root,
//! or a new checkpoint whose tiles do not hold the old root) is kept as
//! split-view evidence (FORMAT.md §11.4) that `custody verify-evidence`
//! checks.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use serde::Serialize;

use ed25519_dalek::VerifyingKey;

use crate::core::actors::{Actors, AuthError, AuthPlan};
use crate::core::checkpoint::SignedCheckpoint;
use crate::core::evidence::SplitViewEvidence;
use crate::core::findings::{Check, Report, Subject};
use crate::core::hash::{Digest, DIGEST_LEN};
use crate::core::keys::VerifierKey;
use crate::core::merkle::{self, TreeSize};
use crate::core::policy::Policy;
use crate::core::record::{Record, RecordBody};
use crate::core::sigbatch::{verify_by_key, Item};
use crate::core::tiles::{
    self, TileId, TileKind, TileNodeError, TileNodes, TileReader, HASH_LEN, MAX_BUNDLE_BYTES,
};
use crate::core::witness::OfferedProof;
use crate::store::files::latest_checkpoint::{note_part, MAX_CHECKPOINT_FILE};
use crate::store::files::layout::MIRRORS_DIR;
use crate::store::files::parallel;
use crate::store::files::remote::{Location, Remote, S3Settings};
use crate::store::ops::publish::CHECKPOINT;
use crate::store::{io_err, StoreError};

const STAGING: &str = "staging";
const CONFIG: &str = "mirror.toml";
const ACTORS: &str = "actors";
const LOCK: &str = "lock";

/// A mirror's directory name: the origin with every character outside
/// `[A-Za-z0-9._-]` replaced by `_`, and a leading `.` (or nothing at all)
/// made `_`, so that no origin names `.`, `..` or a hidden file (FORMAT.md §13.5).
pub fn dir_name(origin: &str) -> String {
    let mut name: String = origin
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with('.') {
        name.replace_range(..name.len().min(1), "_");
    }
    name
}

/// `mirrors/<name>/mirror.toml`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MirrorConfig {
    pub origin: String,
    pub vkey: VerifierKey,
    /// Where it was last fetched from.
    pub source: String,
}

/// What a mirror run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MirrorReport {
    pub source: String,
    pub origin: String,
    pub dir: PathBuf,
    pub size: u64,
    pub previous_size: Option<u64>,
    /// `first`, `extended`, `unchanged`, or `refused`.
    pub status: &'static str,
    pub hash_tiles_fetched: u64,
    pub bundles_fetched: u64,
    pub bytes_fetched: u64,
    /// Tiles found in `staging/` from an interrupted run (re-verified).
    pub reused_staged: u64,
    pub records_verified: u64,
    /// Witnesses whose cosignatures met the policy, if one was asked.
    pub cosigned_by: Vec<String>,
    /// The checkpoint's root, base64 as in the checkpoint.
    pub root: String,
    /// Split-view evidence written on a fork.
    pub evidence: Option<PathBuf>,
}

/// The outcome: done, or refused with findings (exit 1).
pub struct MirrorOutcome {
    pub report: MirrorReport,
    pub findings: Report,
}

/// A mirror directory that holds a verified state.
pub struct MirrorDir {
    dir: PathBuf,
    pub config: MirrorConfig,
    /// The verified checkpoint with the cosignatures it was fetched with.
    pub cosigned: Vec<u8>,
    pub size: u64,
    pub root: Digest,
}

/// Reads tiles from a directory (the mirror's, and `staging/` first for the
/// tiles of a run being verified).
pub struct LocalTiles<'a> {
    dir: &'a Path,
    /// While a run is verified: the sizes `(old, new)`; the tiles new at
    /// `new` are read from `staging/`.
    staged: Option<(u64, u64)>,
}

impl TileReader for LocalTiles<'_> {
    type Error = StoreError;
    fn read_tile(&self, id: TileId) -> Result<Option<Vec<u8>>, StoreError> {
        let p = match self.staged {
            Some((old, new)) if tiles::is_new_tile(old, new, id) => {
                self.dir.join(STAGING).join(id.path())
            }
            _ => self.dir.join(id.path()),
        };
        read_bounded(&p, max_len(id))
    }
}

/// A file of the mirror's directory, at most `max` bytes; `None` if missing.
/// Opened as the source's files are (src/store/files/input.rs): a FIFO or device
/// found there is refused, never waited on.
fn read_bounded(p: &Path, max: u64) -> Result<Option<Vec<u8>>, StoreError> {
    use std::io::Read;
    let Some(f) = crate::store::files::input::open_regular_opt(p, "a mirror's file")? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| io_err(p, e))?;
    if out.len() as u64 > max {
        return Err(StoreError::Corrupt(format!(
            "{} is larger than {max} bytes",
            p.display()
        )));
    }
    Ok(Some(out))
}

/// The largest object tile `id` may be: `32·width` for a hash tile, 256
/// entries of 65,535 bytes for a bundle.
pub fn max_len(id: TileId) -> u64 {
    match id.kind {
        TileKind::Hash(_) => (HASH_LEN * usize::from(id.width)) as u64,
        TileKind::Entries => (MAX_BUNDLE_BYTES.min(usize::from(id.width) * (2 + 65535))) as u64,
    }
}

fn node_err(e: merkle::TreeError<TileNodeError<StoreError>>) -> Result<String, StoreError> {
    match e {
        merkle::TreeError::Source(TileNodeError::Read(s)) => Err(s),
        merkle::TreeError::Source(TileNodeError::Tile(t)) => Ok(t.to_string()),
        other => Ok(other.to_string()),
    }
}

impl MirrorDir {
    /// The mirror of `origin` in the archive at `root`, if it holds a
    /// verified checkpoint.
    pub fn open(root: &Path, origin: &str) -> Result<Option<MirrorDir>, StoreError> {
        let dir = root.join(MIRRORS_DIR).join(dir_name(origin));
        let cfg_path = dir.join(CONFIG);
        let Some(text) = read_bounded(&cfg_path, 1 << 16)? else {
            return Ok(None);
        };
        let text = String::from_utf8(text)
            .map_err(|_| StoreError::Config(cfg_path.clone(), "is not UTF-8".into()))?;
        let config: MirrorConfig = toml::from_str(&text).map_err(|e| {
            StoreError::Config(cfg_path.clone(), crate::store::toml_error(&text, &e))
        })?;
        if config.origin != origin || config.vkey.name() != origin {
            return Err(StoreError::Config(
                cfg_path,
                format!("is the mirror of {:?}, not of {origin:?}", config.origin),
            ));
        }
        let Some(cosigned) = read_bounded(&dir.join(CHECKPOINT), MAX_CHECKPOINT_FILE)? else {
            return Ok(None);
        };
        let opened = SignedCheckpoint::open(&cosigned, &config.vkey, &[]).map_err(|e| {
            StoreError::Corrupt(format!(
                "{}: the mirrored checkpoint does not open with the log key: {e}",
                dir.join(CHECKPOINT).display()
            ))
        })?;
        Ok(Some(MirrorDir {
            dir,
            config,
            cosigned,
            size: opened.checkpoint.size,
            root: opened.checkpoint.root,
        }))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Record `index` of the mirrored log, as its entry bytes, if the
    /// mirror's size covers it.
    pub fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(id) = tiles::tile_at(self.size, TileKind::Entries, index / tiles::TILE_WIDTH)
        else {
            return Ok(None);
        };
        let p = self.dir.join(id.path());
        let bytes = read_bounded(&p, max_len(id))?
            .ok_or_else(|| StoreError::Corrupt(format!("{} is missing", p.display())))?;
        let entries = tiles::parse_bundle(id, &bytes)
            .map_err(|e| StoreError::Corrupt(format!("{}: {e}", p.display())))?;
        Ok(entries
            .get((index % tiles::TILE_WIDTH) as usize)
            .map(|e| e.to_vec()))
    }

    /// The mirror's Merkle nodes (from its tiles) at its size.
    pub fn nodes(&self) -> TileNodes<LocalTiles<'_>> {
        TileNodes::new(
            LocalTiles {
                dir: &self.dir,
                staged: None,
            },
            self.size,
        )
    }
}

/// Takes `mirrors/<name>/lock` (one mirror run per log at a time).
fn lock(dir: &Path) -> Result<File, StoreError> {
    fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let p = dir.join(LOCK);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&p)
        .map_err(|e| io_err(&p, e))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(fs::TryLockError::WouldBlock) => Err(StoreError::Locked { pid: None }),
        Err(fs::TryLockError::Error(e)) => Err(io_err(&p, e)),
    }
}

/// The options of one run.
pub struct MirrorRequest<'a> {
    pub source: &'a Remote,
    /// Candidate log keys: the one named as the checkpoint's origin is used.
    pub log_keys: &'a [VerifierKey],
    pub policy: Option<&'a Policy>,
    /// Where to write split-view evidence (default: in the mirror directory).
    pub evidence_out: Option<PathBuf>,
}

/// Mirrors `req.source` into the archive at `root` (FORMAT.md §13.5): fetch
/// and open the checkpoint, compare it with the one mirrored, fetch the
/// tiles it adds into `staging/`, verify them, and keep them.
pub fn mirror(
    root: &Path,
    req: &MirrorRequest<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<MirrorOutcome, StoreError> {
    let src = req.source;
    let cp_bytes = fetch_checkpoint(src)?;
    let parsed = match SignedCheckpoint::parse(&cp_bytes) {
        Ok(p) => p,
        Err(e) => {
            let mut findings = Report::default();
            findings.add(
                Subject::Log(src.label().to_string()),
                Check::CheckpointSignature,
                format!(
                    "{}/{CHECKPOINT} is not a signed checkpoint: {e}",
                    src.label()
                ),
            );
            return Ok(refused(src, "", findings));
        }
    };
    let origin = parsed.checkpoint().origin.clone();
    let dir = root.join(MIRRORS_DIR).join(dir_name(&origin));
    let existing = MirrorDir::open(root, &origin)?;
    let log_key = log_key_for(req, &origin, existing.as_ref())?;
    let _lock = lock(&dir)?;
    let mut run = Run::new(req, dir, origin, log_key, existing, cp_bytes)?;
    if run.open_checkpoint()? == Step::Over
        || run.compare_with_held()? == Step::Over
        || run.fetch_tiles(progress)? == Step::Over
        || run.verify()? == Step::Over
    {
        return run.end();
    }
    run.keep()
}

/// Fetches the source's `checkpoint`; a source without one is an error.
fn fetch_checkpoint(src: &Remote) -> Result<Vec<u8>, StoreError> {
    src.get(CHECKPOINT, MAX_CHECKPOINT_FILE)?.ok_or_else(|| {
        StoreError::Input(format!(
            "{} has no `checkpoint`; is it a published log (`custody publish`)?",
            src.label()
        ))
    })
}

/// The log key of `origin`: the one given for it, else (when none is given)
/// the one the mirror was made with; a mirror made with another key is
/// refused (a log key never changes silently).
fn log_key_for(
    req: &MirrorRequest<'_>,
    origin: &str,
    existing: Option<&MirrorDir>,
) -> Result<VerifierKey, StoreError> {
    let log_key = match req.log_keys.iter().find(|k| k.name() == origin) {
        Some(k) => k.clone(),
        None => match existing {
            Some(m) if req.log_keys.is_empty() => m.config.vkey.clone(),
            _ => {
                return Err(StoreError::Input(format!(
                    "no log key for {origin:?}: give --vkey FILE or add it with `custody trust add NAME VKEY`"
                )))
            }
        },
    };
    if let Some(m) = existing {
        if m.config.vkey != log_key {
            return Err(StoreError::Input(format!(
                "the mirror of {origin:?} was made with the log key {}; a log key never changes silently (remove {} to start over)",
                m.config.vkey,
                m.dir.display()
            )));
        }
    }
    Ok(log_key)
}

/// After a step of a run: it goes on, or it is over and ends with the
/// outcome it holds ([`Run::end`]).
#[derive(PartialEq, Eq)]
enum Step {
    On,
    Over,
}

/// A finding that stops the verification of a run: the check, what it is
/// about, and why.
type Failure = (Check, Subject, String);

/// A verification step: an error (a tile could not be read), or a verdict.
type Checked = Result<Result<(), Failure>, StoreError>;

/// The Merkle nodes of a run being verified: the mirror's tiles, and the
/// new ones from `staging/`.
type StagedNodes<'a> = TileNodes<LocalTiles<'a>>;

/// What a checkpoint at or below the mirrored size, with another root than
/// the mirror's at its size, shows.
enum Behind {
    /// The held tree has no other root at that size: an older checkpoint.
    Rollback,
    /// The held tree has another root there: a split view, with the held
    /// tree's proof from that size when it is smaller (FORMAT.md §11.4).
    Fork(Option<OfferedProof>),
}

/// One run of [`mirror`]: the checkpoint fetched, the mirror it extends,
/// and the report and findings so far.
struct Run<'a> {
    req: &'a MirrorRequest<'a>,
    /// The published checkpoint, with its cosignatures, as fetched.
    cp_bytes: Vec<u8>,
    origin: String,
    subject: Subject,
    log_key: VerifierKey,
    /// `mirrors/<name>/`, and the same as a [`Remote`] to write through.
    dir: PathBuf,
    local: Remote,
    /// The mirror's verified state before the run, if any, and its size
    /// (0 if none).
    existing: Option<MirrorDir>,
    old: u64,
    /// The new checkpoint's size and root (0 and zeros until it opens).
    size: u64,
    root: Digest,
    /// The indices of the log's actor records below the new size (those
    /// below `old` until the new records are checked).
    actor_indices: Vec<u64>,
    rep: MirrorReport,
    findings: Report,
}

impl<'a> Run<'a> {
    /// A run of `req` into `dir` with `log_key`, from the mirror's state.
    fn new(
        req: &'a MirrorRequest<'a>,
        dir: PathBuf,
        origin: String,
        log_key: VerifierKey,
        existing: Option<MirrorDir>,
        cp_bytes: Vec<u8>,
    ) -> Result<Run<'a>, StoreError> {
        let rep = MirrorReport {
            source: req.source.label().to_string(),
            origin: origin.clone(),
            dir: dir.clone(),
            previous_size: existing.as_ref().map(|m| m.size),
            status: "refused",
            ..MirrorReport::default()
        };
        Ok(Run {
            req,
            cp_bytes,
            subject: Subject::Log(origin.clone()),
            origin,
            log_key,
            local: Remote::open(&Location::Dir(dir.clone()), &S3Settings::default())?,
            dir,
            old: existing.as_ref().map_or(0, |m| m.size),
            existing,
            size: 0,
            root: Digest([0; DIGEST_LEN]),
            actor_indices: Vec::new(),
            rep,
            findings: Report::default(),
        })
    }

    /// The tiles and bundles the new size adds to the mirrored one.
    fn new_tiles(&self) -> impl Iterator<Item = TileId> {
        tiles::new_tiles_iter(self.old, self.size)
    }

    /// A `tile` finding about the log.
    fn tile_failure(&self, why: impl std::fmt::Display) -> Failure {
        (Check::Tile, self.subject.clone(), why.to_string())
    }

    /// Ends the run with its outcome; every run that does empties
    /// `staging/`.
    fn end(self) -> Result<MirrorOutcome, StoreError> {
        clear_staging(&self.dir)?;
        Ok(MirrorOutcome {
            report: self.rep,
            findings: self.findings,
        })
    }

    /// Opens the checkpoint with the log key and the policy's witnesses, if
    /// a policy is asked; a bad signature or a policy not met ends the run.
    fn open_checkpoint(&mut self) -> Result<Step, StoreError> {
        let witnesses = self
            .req
            .policy
            .map(|p| p.witness_keys())
            .unwrap_or_default();
        let opened = match SignedCheckpoint::open(&self.cp_bytes, &self.log_key, &witnesses) {
            Ok(o) => o,
            Err(e) => {
                self.findings.add(
                    self.subject.clone(),
                    Check::CheckpointSignature,
                    format!(
                        "the published checkpoint does not verify with {}: {e}",
                        self.log_key
                    ),
                );
                return Ok(Step::Over);
            }
        };
        (self.size, self.root) = (opened.checkpoint.size, opened.checkpoint.root);
        self.rep.size = self.size;
        self.rep.root = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(self.root.0)
        };
        let Some(p) = self.req.policy else {
            return Ok(Step::On);
        };
        let o = p.evaluate(&opened.witness_cosignatures);
        self.rep.cosigned_by = o.cosigned_by.clone();
        if o.satisfied {
            return Ok(Step::On);
        }
        self.findings.add(
            self.subject.clone(),
            Check::WitnessQuorum,
            format!(
                "the checkpoint at size {} is cosigned by {} witness(es) of the policy; it requires {}",
                self.size,
                o.cosigned_by.len(),
                o.required
            ),
        );
        Ok(Step::Over)
    }

    /// Compares the checkpoint with the one mirrored: a smaller size, or
    /// another root at the same size, is a rollback or a fork (refused); the
    /// same size and root leaves the mirror unchanged. Either ends the run.
    fn compare_with_held(&mut self) -> Result<Step, StoreError> {
        let Some(m) = &self.existing else {
            return Ok(Step::On);
        };
        let size = self.size;
        if size < m.size || (size == m.size && self.root != m.root) {
            match behind_held(m, size, self.root)? {
                Behind::Fork(proof) => {
                    self.rep.evidence = Some(self.write_evidence(m, proof)?);
                    self.findings.add(
                        self.subject.clone(),
                        Check::CheckpointConsistency,
                        format!(
                            "split view: the log signed a checkpoint at size {size} whose root is not the root the mirror holds at that size (mirrored size {})",
                            m.size
                        ),
                    );
                }
                Behind::Rollback => self.findings.add(
                    self.subject.clone(),
                    Check::Rollback,
                    format!(
                        "the published checkpoint (size {size}) is older than the one mirrored (size {}); refused",
                        m.size
                    ),
                ),
            }
            return Ok(Step::Over);
        }
        if size == m.size {
            if m.cosigned != self.cp_bytes {
                // More cosignatures on the same checkpoint.
                self.local.put(CHECKPOINT, self.cp_bytes.clone())?;
            }
            self.rep.status = "unchanged";
            self.rep.records_verified = 0;
            // What a killed run staged is of no use at this size.
            return Ok(Step::Over);
        }
        Ok(Step::On)
    }

    /// Fetches what the new size adds into `staging/`, several at a time;
    /// a tile missing or too large at the source ends the run.
    fn fetch_tiles(&mut self, progress: &mut dyn FnMut(u64)) -> Result<Step, StoreError> {
        let tally = fetch_all(self.req.source, &self.local, self.new_tiles(), progress)?;
        self.rep.reused_staged = tally.reused;
        self.rep.hash_tiles_fetched = tally.hash_tiles;
        self.rep.bundles_fetched = tally.bundles;
        self.rep.bytes_fetched = tally.bytes;
        if let Some(why) = tally.refused {
            self.findings.add(self.subject.clone(), Check::Tile, why);
        }
        Ok(if self.findings.ok() {
            Step::On
        } else {
            Step::Over
        })
    }

    /// Verifies what `staging/` holds: records and level 0, then each new
    /// tile against the one below, then the roots (the checkpoint's, and
    /// the mirrored one in the new tree). A failure ends the run.
    fn verify(&mut self) -> Result<Step, StoreError> {
        let dir = self.dir.clone();
        let reader = LocalTiles {
            dir: &dir,
            staged: Some((self.old, self.size)),
        };
        let mut actors = replay_actors(&self.dir, self.existing.as_ref(), &self.log_key)?;
        // Indices at or beyond the mirrored size were written by a run killed
        // before its checkpoint: not part of the verified state.
        self.actor_indices = read_actor_indices(&self.dir)?
            .into_iter()
            .filter(|i| *i < self.old)
            .collect();
        let nodes = TileNodes::new(reader, self.size);
        if let Err((check, at, why)) = self.check_staged(&nodes, &mut actors)? {
            self.findings.add(at, check, why);
            return Ok(Step::Over);
        }
        self.check_extends_held(&nodes)
    }

    /// Checks each new bundle with its records, then each new hash tile of
    /// level `L ≥ 1`, then that the tiles give the checkpoint's root.
    fn check_staged(&mut self, nodes: &StagedNodes<'_>, actors: &mut Actors) -> Checked {
        for id in self.new_tiles().filter(|t| t.kind == TileKind::Entries) {
            let bundle = self.check_bundle(nodes, actors, id)?;
            if bundle.is_err() {
                return Ok(bundle);
            }
        }
        let upper = self.check_upper_tiles(nodes)?;
        if upper.is_err() {
            return Ok(upper);
        }
        self.check_root(nodes)
    }

    /// Checks new bundle `id`: it parses, its entries hash to its level-0
    /// tile, and its new records pass [`Run::check_records`].
    fn check_bundle(
        &mut self,
        nodes: &StagedNodes<'_>,
        actors: &mut Actors,
        id: TileId,
    ) -> Checked {
        let bytes =
            read_bounded(&self.dir.join(STAGING).join(id.path()), max_len(id))?.unwrap_or_default();
        let entries = match tiles::parse_bundle(id, &bytes) {
            Ok(e) => e,
            Err(e) => return Ok(Err(self.tile_failure(e))),
        };
        let l0 = TileId::new(TileKind::Hash(0), id.index, id.width);
        let hashes = match nodes.hashes(l0) {
            Ok(h) => h,
            Err(TileNodeError::Read(e)) => return Err(e),
            Err(e) => return Ok(Err(self.tile_failure(e))),
        };
        if let Err(e) = tiles::check_entries(id, &entries, &hashes) {
            return Ok(Err(self.tile_failure(e)));
        }
        Ok(self.check_records(actors, id, &entries))
    }

    /// Checks the new records of bundle `id`, each with
    /// [`Run::check_record`], then the signature checks deferred, batched
    /// per key (FORMAT.md §4.3, the one-by-one verdicts); actor records in
    /// order.
    fn check_records(
        &mut self,
        actors: &mut Actors,
        id: TileId,
        entries: &[&[u8]],
    ) -> Result<(), Failure> {
        let mut batch = SigBatch::default();
        for (k, e) in entries.iter().enumerate() {
            let i = id.first() + k as u64;
            if i >= self.old {
                self.check_record(actors, &mut batch, i, e)?;
            }
        }
        match batch.first_failure() {
            None => Ok(()),
            Some((i, err)) => {
                let at = Subject::Entry {
                    log: self.origin.clone(),
                    index: i,
                };
                Err((err.check(), at, err.to_string()))
            }
        }
    }

    /// Checks record `i` (FORMAT.md §4.14): it decodes, has its position as
    /// index, names the log's origin, and is signed by the log key or an
    /// actor added before it (its signature check deferred to `batch` when
    /// that decides); an actor record is applied and listed.
    fn check_record(
        &mut self,
        actors: &mut Actors,
        batch: &mut SigBatch,
        i: u64,
        entry: &[u8],
    ) -> Result<(), Failure> {
        let at = Subject::Entry {
            log: self.origin.clone(),
            index: i,
        };
        let rec = match Record::decode(entry) {
            Ok(r) => r,
            Err(err) => return Err((Check::RecordDecode, at, err.to_string())),
        };
        if rec.body.index != i {
            return Err((
                Check::RecordIndex,
                at,
                format!("the record at position {i} says index {}", rec.body.index),
            ));
        }
        if rec.body.origin != self.origin {
            return Err((
                Check::RecordOrigin,
                at,
                format!("the record names the log {:?}", rec.body.origin),
            ));
        }
        match actors.plan(&rec, &self.log_key) {
            AuthPlan::Decided(Ok(_)) => {}
            AuthPlan::Decided(Err(err)) => return Err((err.check(), at, err.to_string())),
            AuthPlan::Check { key, if_valid } => batch.push(i, key, &rec, if_valid),
            AuthPlan::Inline => {
                if let Err(err) = actors.authorize(&rec, &self.log_key) {
                    return Err((err.check(), at, err.to_string()));
                }
            }
        }
        if crate::core::actors::changes_state(&rec) {
            if let Err(err) = actors.apply(&rec, &self.log_key) {
                return Err((err.check(), at, err.to_string()));
            }
            self.actor_indices.push(i);
        }
        self.rep.records_verified += 1;
        Ok(())
    }

    /// Checks each new hash tile at level `L ≥ 1`: every hash is the root of
    /// the full tile below it.
    fn check_upper_tiles(&self, nodes: &StagedNodes<'_>) -> Checked {
        for id in self.new_tiles() {
            let TileKind::Hash(l) = id.kind else { continue };
            if l == 0 {
                continue;
            }
            let hashes = match nodes.hashes(id) {
                Ok(h) => h,
                Err(TileNodeError::Read(e)) => return Err(e),
                Err(e) => return Ok(Err(self.tile_failure(e))),
            };
            for (i, h) in hashes.iter().enumerate() {
                let below = TileId::new(TileKind::Hash(l - 1), id.first() + i as u64, 256);
                let b = match nodes.hashes(below) {
                    Ok(b) => b,
                    Err(TileNodeError::Read(e)) => return Err(e),
                    Err(e) => return Ok(Err(self.tile_failure(e))),
                };
                if let Err(e) = tiles::check_hash_against_below(id, i as u64, h, &b) {
                    return Ok(Err(self.tile_failure(e)));
                }
            }
        }
        Ok(Ok(()))
    }

    /// Checks that the tiles give the checkpoint's root.
    fn check_root(&self, nodes: &StagedNodes<'_>) -> Checked {
        let got = match merkle::root(nodes, TreeSize(self.size)) {
            Ok(r) => r,
            Err(e) => return Ok(Err(self.tile_failure(node_err(e)?))),
        };
        if got != self.root {
            return Ok(Err((
                Check::CheckpointRoot,
                self.subject.clone(),
                format!(
                    "the published tiles hash to {got}, not to the checkpoint's root {}",
                    self.root
                ),
            )));
        }
        Ok(Ok(()))
    }

    /// Consistency with what was mirrored: the new tree must hold the old
    /// root. If it holds another, the run ends with split-view evidence.
    fn check_extends_held(&mut self, nodes: &StagedNodes<'_>) -> Result<Step, StoreError> {
        let Some(m) = &self.existing else {
            return Ok(Step::On);
        };
        let (old, size) = (self.old, self.size);
        let at_old = match merkle::root(nodes, TreeSize(old)) {
            Ok(r) => r,
            Err(e) => {
                self.findings
                    .add(self.subject.clone(), Check::Tile, node_err(e)?);
                return Ok(Step::Over);
            }
        };
        if at_old == m.root {
            return Ok(Step::On);
        }
        // The new tiles' proof from the mirrored size opens the new root
        // and shows `at_old` there: proven (FORMAT.md §11.4).
        let proof = offered_proof(nodes, old, size, at_old)?;
        self.rep.evidence = Some(self.write_evidence(m, proof)?);
        self.findings.add(
            self.subject.clone(),
            Check::CheckpointConsistency,
            format!(
                "split view: the checkpoint at size {size} does not extend the one mirrored at size {old} (its tree has another root there)"
            ),
        );
        Ok(Step::Over)
    }

    /// Keeps what the run verified: the staged files into place, the actor
    /// list, `mirror.toml`, `checkpoint` last; then removes the partial
    /// tiles wider ones replace, and ends the run.
    fn keep(mut self) -> Result<MirrorOutcome, StoreError> {
        let local = &self.local;
        parallel::for_each(
            self.new_tiles(),
            &mut |_| {},
            |id| local.rename(&format!("{STAGING}/{}", id.path()), &id.path()),
            |()| true,
        )?;
        let mut a = Vec::with_capacity(self.actor_indices.len() * 8);
        for i in &self.actor_indices {
            a.extend_from_slice(&i.to_be_bytes());
        }
        local.put(ACTORS, a)?;
        let cfg = MirrorConfig {
            origin: self.origin.clone(),
            vkey: self.log_key.clone(),
            source: self.req.source.label().to_string(),
        };
        let text = toml::to_string_pretty(&cfg).map_err(|e| StoreError::Internal(e.to_string()))?;
        local.put(
            CONFIG,
            format!("# a verified mirror of a published log (docs/FORMAT.md §13.4)\n{text}")
                .into_bytes(),
        )?;
        local.put(CHECKPOINT, std::mem::take(&mut self.cp_bytes))?;
        for id in tiles::partial_tiles(self.old) {
            if tiles::tile_at(self.size, id.kind, id.index) != Some(id) {
                local.delete(&id.path())?;
            }
        }
        self.rep.status = if self.existing.is_some() {
            "extended"
        } else {
            "first"
        };
        self.end()
    }

    /// Writes split-view evidence: the checkpoint the mirror `held` and the
    /// offending one, with `proof` (FORMAT.md §11.4).
    fn write_evidence(
        &self,
        held: &MirrorDir,
        proof: Option<OfferedProof>,
    ) -> Result<PathBuf, StoreError> {
        let note = |b: &[u8]| note_part(b).unwrap_or(b).to_vec();
        let ev = SplitViewEvidence {
            log_key: self.log_key.clone(),
            cosigned: note(&held.cosigned),
            offending: note(&self.cp_bytes),
            proof,
        };
        let path = self.req.evidence_out.clone().unwrap_or_else(|| {
            self.dir.join(format!(
                "split-view-{}-{}.evidence",
                dir_name(self.log_key.name()),
                self.size
            ))
        });
        crate::store::ops::witness::write_atomic(&path, &ev.encode())?;
        Ok(path)
    }
}

/// What a checkpoint at `size` (at most the mirrored size) whose root is not
/// the mirror's at its size shows: a fork if the held tree has another root
/// at `size`, else a rollback. Smaller: the held tree's proof from `size` to
/// what it holds shows its other root there (FORMAT.md §11.4); same size:
/// the two roots suffice.
fn behind_held(m: &MirrorDir, size: u64, root: Digest) -> Result<Behind, StoreError> {
    let held = m.nodes();
    let at = match merkle::root(&held, TreeSize(size)) {
        Ok(r) => Some(r),
        Err(e) => {
            node_err(e)?;
            None
        }
    };
    let Some(prefix) = at.filter(|r| *r != root) else {
        return Ok(Behind::Rollback);
    };
    let proof = if size < m.size {
        offered_proof(&held, size, m.size, prefix)?
    } else {
        None
    };
    Ok(Behind::Fork(proof))
}

/// The proof in `nodes` from size `old` (whose root there is `prefix`) to
/// `new`, completed as split-view evidence carries it (FORMAT.md §11.4);
/// `None` if the tiles do not give it (a failed read is an error).
fn offered_proof<R: TileReader<Error = StoreError>>(
    nodes: &TileNodes<R>,
    old: u64,
    new: u64,
    prefix: Digest,
) -> Result<Option<OfferedProof>, StoreError> {
    match merkle::consistency_proof(nodes, TreeSize(old), TreeSize(new)) {
        Ok(hashes) => Ok(Some(OfferedProof {
            old,
            hashes: merkle::complete_consistency_proof(TreeSize(old), prefix, hashes),
        })),
        Err(e) => {
            node_err(e)?;
            Ok(None)
        }
    }
}

#[derive(Default)]
struct Tally {
    reused: u64,
    hash_tiles: u64,
    bundles: u64,
    bytes: u64,
    /// A tile missing or oversized at the source (a `tile` finding).
    refused: Option<String>,
}

enum Fetched {
    Reused,
    Got(TileKind, u64),
    Refused(String),
}

fn fetch_one(src: &Remote, local: &Remote, id: TileId) -> Result<Fetched, StoreError> {
    let rel = format!("{STAGING}/{}", id.path());
    if local.head(&rel)?.is_some() {
        return Ok(Fetched::Reused);
    }
    match src.get(&id.path(), max_len(id)) {
        Ok(Some(bytes)) => {
            let n = bytes.len() as u64;
            local.put(&rel, bytes)?;
            Ok(Fetched::Got(id.kind, n))
        }
        Ok(None) => Ok(Fetched::Refused(format!(
            "{} is missing at {}",
            id.path(),
            src.label()
        ))),
        Err(StoreError::Remote(e))
            if e.failure == crate::store::files::remote::RemoteFailure::TooLarge =>
        {
            Ok(Fetched::Refused(format!(
                "{} is larger than a tile of width {} can be",
                id.path(),
                id.width
            )))
        }
        // A FIFO, device or directory planted at a tile's path: refused
        // unread, a finding like a missing tile (staging/ is emptied).
        Err(StoreError::InputFile { problem, .. }) => Ok(Fetched::Refused(format!(
            "{} at {} {problem}",
            id.path(),
            src.label()
        ))),
        Err(e) => Err(e),
    }
}

/// Fetches every tile of `todo` into `staging/` (reusing what is there),
/// several at a time; stops at the first refusal or error.
fn fetch_all(
    src: &Remote,
    local: &Remote,
    todo: impl Iterator<Item = TileId> + Send,
    progress: &mut dyn FnMut(u64),
) -> Result<Tally, StoreError> {
    let mut t = Tally::default();
    parallel::for_each(
        todo,
        progress,
        |id| fetch_one(src, local, id),
        |r| match r {
            Fetched::Reused => {
                t.reused += 1;
                true
            }
            Fetched::Got(kind, n) => {
                t.bytes += n;
                match kind {
                    TileKind::Hash(_) => t.hash_tiles += 1,
                    TileKind::Entries => t.bundles += 1,
                }
                true
            }
            Fetched::Refused(why) => {
                t.refused.get_or_insert(why);
                false
            }
        },
    )?;
    Ok(t)
}

/// Deferred signature checks of one bundle: the records whose
/// authorization is decided by one signature check, with the key it is
/// made with, checked in batches per key (FORMAT.md §4.3, [`verify_by_key`]).
#[derive(Default)]
struct SigBatch {
    pending: Vec<(VerifyingKey, Pending)>,
}

struct Pending {
    index: u64,
    msg: Vec<u8>,
    sig: [u8; 64],
    if_valid: Result<crate::core::actors::Signer, AuthError>,
}

impl SigBatch {
    fn push(
        &mut self,
        index: u64,
        key: VerifyingKey,
        rec: &Record,
        if_valid: Result<crate::core::actors::Signer, AuthError>,
    ) {
        let p = Pending {
            index,
            msg: RecordBody::signed_message(rec.body_bytes()),
            sig: rec.signature,
            if_valid,
        };
        self.pending.push((key, p));
    }

    /// The lowest record index whose check fails, with the reason.
    fn first_failure(self) -> Option<(u64, AuthError)> {
        let sigs: Vec<(&VerifyingKey, Item<'_>)> = self
            .pending
            .iter()
            .map(|(key, p)| {
                (
                    key,
                    Item {
                        msg: &p.msg,
                        sig: &p.sig,
                    },
                )
            })
            .collect();
        let verdicts = verify_by_key(&sigs, &mut HashMap::new());
        let mut worst: Option<(u64, AuthError)> = None;
        for ((_, p), ok) in self.pending.iter().zip(verdicts) {
            let failed = match (&p.if_valid, ok) {
                (_, false) => Some(AuthError::BadSignature),
                (Err(e), true) => Some(e.clone()),
                (Ok(_), true) => None,
            };
            if let Some(e) = failed {
                if worst.as_ref().is_none_or(|(i, _)| p.index < *i) {
                    worst = Some((p.index, e));
                }
            }
        }
        worst
    }
}

fn refused(src: &Remote, origin: &str, findings: Report) -> MirrorOutcome {
    MirrorOutcome {
        report: MirrorReport {
            source: src.label().to_string(),
            origin: origin.to_string(),
            status: "refused",
            ..MirrorReport::default()
        },
        findings,
    }
}

fn clear_staging(dir: &Path) -> Result<(), StoreError> {
    let s = dir.join(STAGING);
    match fs::remove_dir_all(&s) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(&s, e)),
    }
}

fn read_actor_indices(dir: &Path) -> Result<Vec<u64>, StoreError> {
    let p = dir.join(ACTORS);
    let bytes = read_bounded(&p, 1 << 30)?.unwrap_or_default();
    if bytes.len() % 8 != 0 {
        return Err(StoreError::Corrupt(format!(
            "{} is not a list of u64 indices",
            p.display()
        )));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| u64::from_be_bytes(c.try_into().expect("8 bytes")))
        .collect())
}

/// The log's actors as of the mirrored size, from the actor records the
/// mirror listed (FORMAT.md §13.4 `actors`).
fn replay_actors(
    dir: &Path,
    existing: Option<&MirrorDir>,
    log_key: &VerifierKey,
) -> Result<Actors, StoreError> {
    let mut actors = Actors::default();
    let Some(m) = existing else {
        return Ok(actors);
    };
    for i in read_actor_indices(dir)?.into_iter().filter(|i| *i < m.size) {
        let bytes = m.entry(i)?.ok_or_else(|| {
            StoreError::Corrupt(format!(
                "{}: actor record {i} is not mirrored",
                dir.display()
            ))
        })?;
        let rec = Record::decode(&bytes)
            .map_err(|e| StoreError::Corrupt(format!("mirrored record {i}: {e}")))?;
        actors
            .apply(&rec, log_key)
            .map_err(|e| StoreError::Corrupt(format!("mirrored actor record {i}: {e}")))?;
    }
    Ok(actors)
}

/// A [`TileReader`] over a published log (for `witness cosign --from`):
/// each tile fetched once, bounded by its largest size.
pub struct RemoteTiles<'a>(pub &'a Remote);

impl TileReader for RemoteTiles<'_> {
    type Error = StoreError;
    fn read_tile(&self, id: TileId) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(&id.path(), max_len(id))
    }
}

/// A hop of a chain of custody whose log this archive mirrors.
#[derive(Debug, Clone, Serialize)]
pub struct MirroredHop {
    /// 1-based hop number.
    pub hop: usize,
    pub origin: String,
    /// The hop's checkpoint size, and the mirror's.
    pub checkpoint_size: u64,
    pub mirrored_at: u64,
    /// `included`: the mirrored log has the hop's checkpoint (same root at
    /// that size), so the hop's records are in it; `mirror_behind`: the
    /// mirror is older than the hop's checkpoint (run `custody mirror`);
    /// `diverges`: another root at that size (a finding).
    pub status: &'static str,
}

/// Checks each hop's checkpoint against the mirror of its log in the archive
/// at `root`, if there is one: the hop's records are proven included in that
/// checkpoint, so the same root at that size in the mirrored tree means they
/// are in the mirrored log. Another root there is a split view
/// (`checkpoint_consistency` finding).
pub fn check_hops(
    root: &Path,
    hops: &[crate::core::bundle::CheckedHop],
) -> Result<(Vec<MirroredHop>, Vec<crate::core::findings::Finding>), StoreError> {
    let mut seen = Vec::new();
    let mut findings = Vec::new();
    for (n, h) in hops.iter().enumerate() {
        let (Some(size), Some(want)) = (h.checkpoint_size, h.checkpoint_root) else {
            continue;
        };
        let Some(m) = MirrorDir::open(root, &h.origin)? else {
            continue;
        };
        // Another key under the same name is another log: its tree says
        // nothing about this one.
        if h.log_key
            .as_ref()
            .is_some_and(|k| k.public_bytes() != m.config.vkey.public_bytes())
        {
            continue;
        }
        let status = if m.size < size {
            "mirror_behind"
        } else {
            let got = match merkle::root(&m.nodes(), TreeSize(size)) {
                Ok(r) => Some(r),
                Err(e) => {
                    node_err(e)?;
                    None
                }
            };
            if got == Some(want) {
                "included"
            } else {
                findings.push(crate::core::findings::Finding {
                    subject: Subject::Log(h.origin.clone()),
                    check: Check::CheckpointConsistency,
                    reason: format!(
                        "hop {}: the checkpoint at size {size} is not the mirrored log's at that size (mirrored at size {}): a split view",
                        n + 1,
                        m.size
                    ),
                });
                "diverges"
            }
        };
        seen.push(MirroredHop {
            hop: n + 1,
            origin: h.origin.clone(),
            checkpoint_size: size,
            mirrored_at: m.size,
            status,
        });
    }
    Ok((seen, findings))
}

#[cfg(test)]
mod tests {
    use super::dir_name;

    #[test]
    fn mirror_directory_names_stay_inside_mirrors() {
        assert_eq!(dir_name("dropsite.example/leaks"), "dropsite.example_leaks");
        assert_eq!(dir_name(".."), "_.");
        assert_eq!(dir_name("."), "_");
        assert_eq!(dir_name(""), "_");
        assert_eq!(dir_name(".hidden/x"), "_hidden_x");
        assert_eq!(dir_name("../../etc"), "_._.._etc");
    }
}
