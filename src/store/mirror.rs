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
//! source's files are read as regular files only (src/store/input.rs), so
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
use crate::core::hash::Digest;
use crate::core::keys::VerifierKey;
use crate::core::merkle::{self, TreeSize};
use crate::core::policy::Policy;
use crate::core::record::{Record, RecordBody};
use crate::core::report::{Check, Report, Subject};
use crate::core::sigbatch::{verify_by_key, Item};
use crate::core::tiles::{
    self, TileId, TileKind, TileNodeError, TileNodes, TileReader, HASH_LEN, MAX_BUNDLE_BYTES,
};
use crate::core::witness::OfferedProof;
use crate::store::checkpoint_file::{note_part, MAX_CHECKPOINT_FILE};
use crate::store::parallel;
use crate::store::publish::CHECKPOINT;
use crate::store::remote::{Location, Remote, S3Settings};
use crate::store::{io_err, StoreError};

/// The directory of mirrors inside an archive.
pub const MIRRORS_DIR: &str = "mirrors";
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
/// Opened as the source's files are (src/store/input.rs): a FIFO or device
/// found there is refused, never waited on.
fn read_bounded(p: &Path, max: u64) -> Result<Option<Vec<u8>>, StoreError> {
    use std::io::Read;
    let Some(f) = crate::store::input::open_regular_opt(p, "a mirror's file")? else {
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

/// Mirrors `req.source` into the archive at `root`.
pub fn mirror(
    root: &Path,
    req: &MirrorRequest<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<MirrorOutcome, StoreError> {
    let src = req.source;
    let cp_bytes = src.get(CHECKPOINT, MAX_CHECKPOINT_FILE)?.ok_or_else(|| {
        StoreError::Input(format!(
            "{} has no `checkpoint`; is it a published log (`custody publish`)?",
            src.label()
        ))
    })?;
    let mut findings = Report::default();
    let parsed = match SignedCheckpoint::parse(&cp_bytes) {
        Ok(p) => p,
        Err(e) => {
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
    let subject = Subject::Log(origin.clone());
    let dir = root.join(MIRRORS_DIR).join(dir_name(&origin));
    let existing = MirrorDir::open(root, &origin)?;
    let log_key = match req.log_keys.iter().find(|k| k.name() == origin) {
        Some(k) => k.clone(),
        None => match &existing {
            Some(m) if req.log_keys.is_empty() => m.config.vkey.clone(),
            _ => {
                return Err(StoreError::Input(format!(
                    "no log key for {origin:?}: give --vkey FILE or add it with `custody trust add NAME VKEY`"
                )))
            }
        },
    };
    if let Some(m) = &existing {
        if m.config.vkey != log_key {
            return Err(StoreError::Input(format!(
                "the mirror of {origin:?} was made with the log key {}; a log key never changes silently (remove {} to start over)",
                m.config.vkey,
                m.dir.display()
            )));
        }
    }
    let _lock = lock(&dir)?;
    let mut rep = MirrorReport {
        source: src.label().to_string(),
        origin: origin.clone(),
        dir: dir.clone(),
        previous_size: existing.as_ref().map(|m| m.size),
        status: "refused",
        ..MirrorReport::default()
    };
    let witnesses = req.policy.map(|p| p.witness_keys()).unwrap_or_default();
    let opened = match SignedCheckpoint::open(&cp_bytes, &log_key, &witnesses) {
        Ok(o) => o,
        Err(e) => {
            findings.add(
                subject,
                Check::CheckpointSignature,
                format!("the published checkpoint does not verify with {log_key}: {e}"),
            );
            clear_staging(&dir)?;
            return Ok(MirrorOutcome {
                report: rep,
                findings,
            });
        }
    };
    let (size, root_hash) = (opened.checkpoint.size, opened.checkpoint.root);
    rep.size = size;
    rep.root = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(root_hash.0)
    };
    if let Some(p) = req.policy {
        let o = p.evaluate(&opened.witness_cosignatures);
        rep.cosigned_by = o.cosigned_by.clone();
        if !o.satisfied {
            findings.add(
                subject,
                Check::WitnessQuorum,
                format!(
                    "the checkpoint at size {size} is cosigned by {} witness(es) of the policy; it requires {}",
                    o.cosigned_by.len(),
                    o.required
                ),
            );
            clear_staging(&dir)?;
            return Ok(MirrorOutcome {
                report: rep,
                findings,
            });
        }
    }
    let local = Remote::open(&Location::Dir(dir.clone()), &S3Settings::default())?;
    let (old, old_root) = existing
        .as_ref()
        .map_or((0, None), |m| (m.size, Some(m.root)));

    // Rollback and same-size forks, decided against what is held.
    if let Some(m) = &existing {
        if size < m.size || (size == m.size && root_hash != m.root) {
            let held = m.nodes();
            let at = match merkle::root(&held, TreeSize(size)) {
                Ok(r) => Some(r),
                Err(e) => {
                    node_err(e)?;
                    None
                }
            };
            let forked = at.is_some_and(|r| r != root_hash);
            if forked {
                // Smaller: the held tree's proof from `size` to what it holds
                // shows its other root there (FORMAT.md §11.4); same size:
                // the two roots suffice.
                let proof = match at {
                    Some(prefix) if size < m.size => {
                        match merkle::consistency_proof(&held, TreeSize(size), TreeSize(m.size)) {
                            Ok(hashes) => Some(OfferedProof {
                                old: size,
                                hashes: merkle::complete_consistency_proof(
                                    TreeSize(size),
                                    prefix,
                                    hashes,
                                ),
                            }),
                            Err(e) => {
                                node_err(e)?;
                                None
                            }
                        }
                    }
                    _ => None,
                };
                rep.evidence = Some(write_evidence(
                    req, &dir, &log_key, m, &cp_bytes, size, proof,
                )?);
                findings.add(
                    subject,
                    Check::CheckpointConsistency,
                    format!(
                        "split view: the log signed a checkpoint at size {size} whose root is not the root the mirror holds at that size (mirrored size {})",
                        m.size
                    ),
                );
            } else {
                findings.add(
                    subject,
                    Check::Rollback,
                    format!(
                        "the published checkpoint (size {size}) is older than the one mirrored (size {}); refused",
                        m.size
                    ),
                );
            }
            clear_staging(&dir)?;
            return Ok(MirrorOutcome {
                report: rep,
                findings,
            });
        }
        if size == m.size {
            if m.cosigned != cp_bytes {
                // More cosignatures on the same checkpoint.
                local.put(CHECKPOINT, cp_bytes.clone())?;
            }
            rep.status = "unchanged";
            rep.records_verified = 0;
            // What a killed run staged is of no use at this size.
            clear_staging(&dir)?;
            return Ok(MirrorOutcome {
                report: rep,
                findings,
            });
        }
    }

    // Fetch what the new size adds, into staging/, several at a time.
    let todo = || tiles::new_tiles_iter(old, size);
    let tally = fetch_all(src, &local, todo(), progress)?;
    rep.reused_staged = tally.reused;
    rep.hash_tiles_fetched = tally.hash_tiles;
    rep.bundles_fetched = tally.bundles;
    rep.bytes_fetched = tally.bytes;
    if let Some(why) = tally.refused {
        findings.add(subject.clone(), Check::Tile, why);
    }
    if !findings.ok() {
        clear_staging(&dir)?;
        return Ok(MirrorOutcome {
            report: rep,
            findings,
        });
    }

    // Verify: records and level 0, then each new tile against the one below,
    // then the roots.
    let reader = LocalTiles {
        dir: &dir,
        staged: Some((old, size)),
    };
    let mut actors = replay_actors(&dir, existing.as_ref(), &log_key)?;
    // Indices at or beyond the mirrored size were written by a run killed
    // before its checkpoint: not part of the verified state.
    let mut actor_indices: Vec<u64> = read_actor_indices(&dir)?
        .into_iter()
        .filter(|i| *i < old)
        .collect();
    let nodes = TileNodes::new(reader, size);
    let verified = (|| -> Result<Result<(), (Check, Subject, String)>, StoreError> {
        for id in todo().filter(|t| t.kind == TileKind::Entries) {
            let bytes =
                read_bounded(&dir.join(STAGING).join(id.path()), max_len(id))?.unwrap_or_default();
            let entries = match tiles::parse_bundle(id, &bytes) {
                Ok(e) => e,
                Err(e) => return Ok(Err((Check::Tile, subject.clone(), e.to_string()))),
            };
            let l0 = TileId::new(TileKind::Hash(0), id.index, id.width);
            let hashes = match nodes.hashes(l0) {
                Ok(h) => h,
                Err(TileNodeError::Read(e)) => return Err(e),
                Err(e) => return Ok(Err((Check::Tile, subject.clone(), e.to_string()))),
            };
            if let Err(e) = tiles::check_entries(id, &entries, &hashes) {
                return Ok(Err((Check::Tile, subject.clone(), e.to_string())));
            }
            // Signature checks of this bundle, batched per key (FORMAT.md
            // §4.3, the one-by-one verdicts); actor records in order.
            let mut batch = SigBatch::default();
            for (k, e) in entries.iter().enumerate() {
                let i = id.first() + k as u64;
                if i < old {
                    continue;
                }
                let at = Subject::Entry {
                    log: origin.clone(),
                    index: i,
                };
                let rec = match Record::decode(e) {
                    Ok(r) => r,
                    Err(err) => return Ok(Err((Check::RecordDecode, at, err.to_string()))),
                };
                if rec.body.index != i {
                    return Ok(Err((
                        Check::RecordIndex,
                        at,
                        format!("the record at position {i} says index {}", rec.body.index),
                    )));
                }
                if rec.body.origin != origin {
                    return Ok(Err((
                        Check::RecordOrigin,
                        at,
                        format!("the record names the log {:?}", rec.body.origin),
                    )));
                }
                match actors.plan(&rec, &log_key) {
                    AuthPlan::Decided(Ok(_)) => {}
                    AuthPlan::Decided(Err(err)) => {
                        return Ok(Err((err.check(), at, err.to_string())))
                    }
                    AuthPlan::Check { key, if_valid } => batch.push(i, key, &rec, if_valid),
                    AuthPlan::Inline => {
                        if let Err(err) = actors.authorize(&rec, &log_key) {
                            return Ok(Err((err.check(), at, err.to_string())));
                        }
                    }
                }
                if crate::core::actors::changes_state(&rec) {
                    if let Err(err) = actors.apply(&rec, &log_key) {
                        return Ok(Err((err.check(), at, err.to_string())));
                    }
                    actor_indices.push(i);
                }
                rep.records_verified += 1;
            }
            if let Some((i, err)) = batch.first_failure() {
                let at = Subject::Entry {
                    log: origin.clone(),
                    index: i,
                };
                return Ok(Err((err.check(), at, err.to_string())));
            }
        }
        for id in todo() {
            let TileKind::Hash(l) = id.kind else { continue };
            if l == 0 {
                continue;
            }
            let hashes = match nodes.hashes(id) {
                Ok(h) => h,
                Err(TileNodeError::Read(e)) => return Err(e),
                Err(e) => return Ok(Err((Check::Tile, subject.clone(), e.to_string()))),
            };
            for (i, h) in hashes.iter().enumerate() {
                let below = TileId::new(TileKind::Hash(l - 1), id.first() + i as u64, 256);
                let b = match nodes.hashes(below) {
                    Ok(b) => b,
                    Err(TileNodeError::Read(e)) => return Err(e),
                    Err(e) => return Ok(Err((Check::Tile, subject.clone(), e.to_string()))),
                };
                if let Err(e) = tiles::check_hash_against_below(id, i as u64, h, &b) {
                    return Ok(Err((Check::Tile, subject.clone(), e.to_string())));
                }
            }
        }
        let got = match merkle::root(&nodes, TreeSize(size)) {
            Ok(r) => r,
            Err(e) => return Ok(Err((Check::Tile, subject.clone(), node_err(e)?))),
        };
        if got != root_hash {
            return Ok(Err((
                Check::CheckpointRoot,
                subject.clone(),
                format!(
                    "the published tiles hash to {got}, not to the checkpoint's root {root_hash}"
                ),
            )));
        }
        Ok(Ok(()))
    })()?;
    if let Err((check, at, why)) = verified {
        findings.add(at, check, why);
        clear_staging(&dir)?;
        return Ok(MirrorOutcome {
            report: rep,
            findings,
        });
    }
    // Consistency with what was mirrored: the new tree must hold the old root.
    if let (Some(m), Some(r0)) = (&existing, old_root) {
        let at_old = match merkle::root(&nodes, TreeSize(old)) {
            Ok(r) => r,
            Err(e) => {
                findings.add(subject.clone(), Check::Tile, node_err(e)?);
                clear_staging(&dir)?;
                return Ok(MirrorOutcome {
                    report: rep,
                    findings,
                });
            }
        };
        if at_old != r0 {
            // The new tiles' proof from the mirrored size opens the new root
            // and shows `at_old` there: proven (FORMAT.md §11.4).
            let proof = match merkle::consistency_proof(&nodes, TreeSize(old), TreeSize(size)) {
                Ok(hashes) => Some(OfferedProof {
                    old,
                    hashes: merkle::complete_consistency_proof(TreeSize(old), at_old, hashes),
                }),
                Err(e) => {
                    node_err(e)?;
                    None
                }
            };
            rep.evidence = Some(write_evidence(
                req, &dir, &log_key, m, &cp_bytes, size, proof,
            )?);
            findings.add(
                subject,
                Check::CheckpointConsistency,
                format!(
                    "split view: the checkpoint at size {size} does not extend the one mirrored at size {old} (its tree has another root there)"
                ),
            );
            clear_staging(&dir)?;
            return Ok(MirrorOutcome {
                report: rep,
                findings,
            });
        }
    }

    // Keep: staged files into place, the actor list, mirror.toml, checkpoint last.
    parallel::for_each(
        todo(),
        &mut |_| {},
        |id| local.rename(&format!("{STAGING}/{}", id.path()), &id.path()),
        |()| true,
    )?;
    let mut a = Vec::with_capacity(actor_indices.len() * 8);
    for i in &actor_indices {
        a.extend_from_slice(&i.to_be_bytes());
    }
    local.put(ACTORS, a)?;
    let cfg = MirrorConfig {
        origin: origin.clone(),
        vkey: log_key.clone(),
        source: src.label().to_string(),
    };
    let text = toml::to_string_pretty(&cfg).map_err(|e| StoreError::Internal(e.to_string()))?;
    local.put(
        CONFIG,
        format!("# a verified mirror of a published log (docs/FORMAT.md §13.4)\n{text}")
            .into_bytes(),
    )?;
    local.put(CHECKPOINT, cp_bytes)?;
    for id in tiles::partial_tiles(old) {
        if tiles::tile_at(size, id.kind, id.index) != Some(id) {
            local.delete(&id.path())?;
        }
    }
    clear_staging(&dir)?;
    rep.status = if existing.is_some() {
        "extended"
    } else {
        "first"
    };
    Ok(MirrorOutcome {
        report: rep,
        findings,
    })
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
            if e.failure == crate::store::remote::RemoteFailure::TooLarge =>
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

fn write_evidence(
    req: &MirrorRequest<'_>,
    dir: &Path,
    log_key: &VerifierKey,
    held: &MirrorDir,
    offending: &[u8],
    size: u64,
    proof: Option<OfferedProof>,
) -> Result<PathBuf, StoreError> {
    let note = |b: &[u8]| note_part(b).unwrap_or(b).to_vec();
    let ev = SplitViewEvidence {
        log_key: log_key.clone(),
        cosigned: note(&held.cosigned),
        offending: note(offending),
        proof,
    };
    let path = req.evidence_out.clone().unwrap_or_else(|| {
        dir.join(format!(
            "split-view-{}-{size}.evidence",
            dir_name(log_key.name())
        ))
    });
    crate::store::witness::write_atomic(&path, &ev.encode())?;
    Ok(path)
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
) -> Result<(Vec<MirroredHop>, Vec<crate::core::report::Finding>), StoreError> {
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
                findings.push(crate::core::report::Finding {
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
