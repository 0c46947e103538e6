//! The checks of a chain of custody against what an archive already holds
//! of the same logs (FORMAT.md §10.4): the logs it mirrors (`mirrors/`) and
//! the checkpoints in the evidence kept by earlier receives (`evidence/`),
//! and its own log (a document that comes back carries a hop of it).
//! `verify-bundle`, `receive` and `trace` all run [`check_hops`], so they
//! cannot drift apart; `verify` runs the same comparisons over every `receive`
//! record ([`HeldLogs`]).

use std::fs;
use std::io::Read;
use std::path::Path;

use crate::core::bundle::{
    all_hops, check_evidence, CheckedHop, Evidence, Trust, MAX_EVIDENCE_LEN,
};
use crate::core::findings::{Check, Finding, Subject};
use crate::core::hash::Digest;
use crate::core::held::{HeldCheckpoint, HeldLogs};
use crate::core::keys::VerifierKey;
use crate::core::merkle::{self, TreeSize};
use crate::store::archive::log_view::LogView;
use crate::store::files::flat_index::FlatIndex;
use crate::store::files::layout::EVIDENCE_DIR;
use crate::store::files::merkle_nodes::tree_err;
use crate::store::ops::mirror::{self, MirroredHop};
use crate::store::{io_err, StoreError};

/// What [`check_hops`] found.
#[derive(Debug, Default)]
pub struct HeldCheck {
    /// The hops whose log this archive mirrors, and what the mirror says.
    pub mirrored: Vec<MirroredHop>,
    /// `checkpoint_consistency` findings: a mirror that diverges, or a
    /// checkpoint that contradicts one held in kept evidence.
    pub findings: Vec<Finding>,
}

/// Finds the `receive` record that kept an evidence file, given the leaf
/// hash of the share it ends with (`None` where no database is open).
pub type ReceivedAs<'a> = &'a dyn Fn(&Digest) -> Result<Option<u64>, StoreError>;

/// Checks every hop of a chain of custody (a bundle's) against the archive
/// at `root`: each hop's checkpoint against the mirror of its log, and
/// against every checkpoint of the same log (origin and key) in the evidence
/// kept under `evidence/` (and against the chain's other hops). A split
/// view that can be shown (FORMAT.md §10.4) is a `checkpoint_consistency`
/// finding naming where the other checkpoint is held.
pub fn check_hops(
    root: &Path,
    hops: &[CheckedHop],
    received_as: ReceivedAs<'_>,
) -> Result<HeldCheck, StoreError> {
    let (mirrored, mut findings) = mirror::check_hops(root, hops)?;
    check_own_log(root, hops, &mut findings);
    let mut held = held_in_evidence(root, received_as)?;
    for (n, h) in hops.iter().enumerate() {
        let Some(cp) = HeldCheckpoint::of_hop(h, format!("hop {} of this bundle", n + 1)) else {
            continue;
        };
        for s in held.add(&cp) {
            findings.push(Finding {
                subject: Subject::Log(s.origin),
                check: Check::CheckpointConsistency,
                reason: format!(
                    "hop {}: its checkpoint at size {} and the one held in {} cannot both be true: {}: the log showed two histories (a split view); keep this bundle as evidence and tell the sender",
                    n + 1,
                    cp.size,
                    s.there,
                    s.reason
                ),
            });
        }
    }
    Ok(HeldCheck { mirrored, findings })
}

/// Hops of this archive's own log (a document that comes back) against the
/// log itself, read lock-free as far as its latest checkpoint
/// ([`LogView`]): at a size it holds, the root MUST be its own
/// (`checkpoint_consistency`); a larger size than its latest checkpoint
/// means its key signed a tree it does not hold (`rollback`: this archive is
/// an older copy, or the key signs elsewhere). An archive whose view cannot
/// be read is skipped here (`verify` reports why).
fn check_own_log(root: &Path, hops: &[CheckedHop], findings: &mut Vec<Finding>) {
    let Ok(view) = LogView::open(root) else {
        return;
    };
    let own = view.log_key();
    let latest = view.latest();
    for (n, h) in hops.iter().enumerate() {
        let (Some(size), Some(want), Some(k)) = (h.checkpoint_size, h.checkpoint_root, &h.log_key)
        else {
            continue;
        };
        if k.name() != own.name() || k.public_bytes() != own.public_bytes() {
            continue;
        }
        let (check, reason) = if size > latest.size {
            (
                Check::Rollback,
                format!(
                    "hop {}: this archive's own log key signed a checkpoint at size {size}, but this archive's latest is at size {}: it is an older copy of the log, or the key signs another copy; check it with `custody verify --since-checkpoint`",
                    n + 1,
                    latest.size
                ),
            )
        } else {
            let got = FlatIndex::open_read(view.ledger_dir(), latest.size)
                .and_then(|flat| merkle::root(&flat, TreeSize(size)).map_err(tree_err));
            let got = match got {
                Ok(r) if r == want => continue,
                Ok(r) => r,
                // Damaged index files: `verify` names them.
                Err(_) => continue,
            };
            (
                Check::CheckpointConsistency,
                format!(
                    "hop {}: a checkpoint signed by this archive's own log key at size {size} has root {want}, but this log's root at that size is {got}: the key signed another history (a restored copy, or a stolen key)",
                    n + 1
                ),
            )
        };
        findings.push(Finding {
            subject: Subject::Log(h.origin.clone()),
            check,
            reason,
        });
    }
}

/// The checkpoints in the evidence kept under `evidence/`: every file whose
/// name is the SHA-256 of its bytes and that parses, each hop's checkpoint
/// whose signature verifies with the key the hop carries (a checkpoint
/// validly signed by a log is that log's statement, whoever kept it).
/// Files that do not qualify are skipped: `verify` reports the evidence of
/// every `receive` record that is missing or altered.
pub fn held_in_evidence(root: &Path, received_as: ReceivedAs<'_>) -> Result<HeldLogs, StoreError> {
    let mut held = HeldLogs::default();
    let dir = root.join(EVIDENCE_DIR);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(held),
        Err(e) => return Err(io_err(&dir, e)),
    };
    let mut files: Vec<(Digest, std::path::PathBuf)> = Vec::new();
    for e in entries {
        let e = e.map_err(|e| io_err(&dir, e))?;
        let Some(d) = e.file_name().to_str().and_then(Digest::from_hex) else {
            continue;
        };
        files.push((d, e.path()));
    }
    // The same order on every run, so that the same file is named.
    files.sort();
    for (d, p) in files {
        let mut bytes = Vec::new();
        let f = match fs::File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&p, e)),
        };
        f.take(MAX_EVIDENCE_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| io_err(&p, e))?;
        if Digest::of(&bytes) != d {
            continue;
        }
        let Ok(ev) = Evidence::parse(&bytes) else {
            continue;
        };
        let checked = check_own_keys(&ev);
        let source = match checked.last_share_leaf.map(|l| received_as(&l)) {
            Some(Ok(Some(i))) => format!("the evidence of record {i}"),
            Some(Err(e)) => return Err(e),
            Some(Ok(None)) | None => format!("evidence/{}", d.to_hex()),
        };
        for (n, h) in all_hops(&checked.hops, &checked.lineage).iter().enumerate() {
            let from = h
                .events
                .last()
                .map(|e| format!(", {} record {}", h.origin, e.index))
                .unwrap_or_default();
            if let Some(cp) = HeldCheckpoint::of_hop(h, format!("{source} (hop {}{from})", n + 1)) {
                // Contradictions among held evidence are `verify`'s to report.
                held.add(&cp);
            }
        }
    }
    Ok(held)
}

/// Checks evidence with the keys it carries as the only trusted ones: what
/// is left to learn is whether each hop's log signed what it carries.
pub(crate) fn check_own_keys(ev: &Evidence) -> crate::core::bundle::EvidenceCheck {
    fn keys_of(ev: &Evidence, keys: &mut Vec<VerifierKey>) {
        keys.extend(
            ev.hops
                .iter()
                .filter_map(|h| VerifierKey::parse(h.vkey.trim_end()).ok()),
        );
        ev.parents.iter().for_each(|p| keys_of(p, keys));
    }
    let mut keys = Vec::new();
    keys_of(ev, &mut keys);
    check_evidence(
        ev,
        &Trust {
            logs: &keys,
            witnesses: &[],
            quorum: None,
        },
    )
}
