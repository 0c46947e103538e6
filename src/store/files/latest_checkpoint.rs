//! `ledger/checkpoint` (FORMAT.md §7.2.3): the latest checkpoint with its
//! stored witness cosignatures, as the C2SP tlog-tiles `checkpoint` file.
//! Derived like the rest of the index, replaced atomically and durably after
//! each new checkpoint and each new cosignature
//! ([`crate::store::archive::checkpoint_file`]), so that the lock-free
//! [`LogView`](crate::store::archive::log_view::LogView) can start from it. Here: reading
//! and checking it, and the floor a rebuild may not fall below (§7.2.6),
//! with no archive open.

use std::fs;

use crate::core::checkpoint::SignedCheckpoint;
use crate::core::hash::Digest;
use crate::core::keys::VerifierKey;
use crate::store::StoreError;

/// The file's name in `ledger/`.
pub const CHECKPOINT_FILE: &str = "checkpoint";
/// Largest `ledger/checkpoint` read: a note with the most signature lines a
/// note may carry is far smaller.
pub const MAX_CHECKPOINT_FILE: u64 = 1 << 20;

/// A `ledger/checkpoint` whose log signature verified.
#[derive(Clone, Debug)]
pub struct Latest {
    /// Tree size and root of the checkpoint.
    pub size: u64,
    pub root: Digest,
    /// The file: the note and its cosignature lines (what `custody checkpoint` prints).
    pub cosigned: Vec<u8>,
    /// The note as signed by the log (as in `ledger/checkpoints`): the text,
    /// the blank line and the first signature line.
    pub note: Vec<u8>,
}

/// The note without the lines after its first signature line: the text, the
/// blank line and the first signature line (FORMAT.md §7.2.3). `None` if the
/// bytes have no signature block.
pub fn note_part(cosigned: &[u8]) -> Option<&[u8]> {
    let sep = cosigned.windows(2).rposition(|w| w == b"\n\n")?;
    let first = sep + 2;
    let nl = cosigned[first..].iter().position(|&b| b == b'\n')?;
    Some(&cosigned[..first + nl + 1])
}

/// Checks the contents of a `ledger/checkpoint`: a signed checkpoint of
/// `origin` whose first signature line is a valid signature by `log_key`.
/// Lines after it (cosignatures) are carried, not verified.
pub fn open_latest(
    cosigned: Vec<u8>,
    log_key: &VerifierKey,
    origin: &str,
) -> Result<Latest, String> {
    let note = note_part(&cosigned)
        .ok_or("it is not a signed note")?
        .to_vec();
    let first = SignedCheckpoint::parse(&note).map_err(|e| e.to_string())?;
    let by_log = first
        .note()
        .signatures()
        .first()
        .is_some_and(|s| log_key.matches(&s.name, s.key_id));
    if !by_log {
        return Err("its first signature line is not the log's".into());
    }
    let opened = SignedCheckpoint::open(&note, log_key, &[]).map_err(|e| e.to_string())?;
    // The whole file must be a signed note of the same checkpoint.
    SignedCheckpoint::parse(&cosigned).map_err(|e| e.to_string())?;
    let c = opened.checkpoint;
    if c.origin != origin {
        return Err(format!(
            "it is a checkpoint of {:?}, not of {origin:?}",
            c.origin
        ));
    }
    Ok(Latest {
        size: c.size,
        root: c.root,
        cosigned,
        note,
    })
}

/// The largest tree size that a checkpoint signed by the log key, kept beside
/// the ledger, says this log reached (FORMAT.md §7.2.6): `ledger/checkpoint`
/// and the latest checkpoint of the database being replaced. A rebuild of
/// the index refuses a ledger shorter than that: records cut off from
/// `ledger/records` and `ledger/checkpoints` cannot hide behind a deleted
/// or damaged index. A file that does not verify says nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Floor {
    pub size: u64,
    /// The root the log key signed at `size`.
    pub root: Digest,
    /// Where the checkpoint was found, for the message.
    pub source: &'static str,
}

impl Floor {
    /// The largest of the floors found in `ledger/` and in `db_notes` (the
    /// latest checkpoint notes of the databases being replaced).
    pub(crate) fn find(
        ledger: &std::path::Path,
        log_key: &VerifierKey,
        origin: &str,
        db_notes: Vec<Vec<u8>>,
    ) -> Option<Floor> {
        let file = read_bounded(&ledger.join(CHECKPOINT_FILE))
            .and_then(|b| open_latest(b, log_key, origin).ok())
            .map(|l| Floor {
                size: l.size,
                root: l.root,
                source: "ledger/checkpoint",
            });
        let db = db_notes.into_iter().filter_map(|b| {
            open_latest(b, log_key, origin).ok().map(|l| Floor {
                size: l.size,
                root: l.root,
                source: "the database's latest checkpoint",
            })
        });
        file.into_iter().chain(db).max_by_key(|f| f.size)
    }

    /// Refuses a ledger of `size` records below this floor, or whose tree at
    /// the floor's size (`root_at`) has another root than the one signed.
    pub(crate) fn check(
        self,
        size: u64,
        root_at: impl FnOnce(u64) -> Result<Digest, StoreError>,
    ) -> Result<(), StoreError> {
        if size < self.size {
            return Err(StoreError::RolledBack {
                size,
                signed: self.size,
                found_in: self.source,
            });
        }
        if root_at(self.size)? != self.root {
            return Err(StoreError::OtherHistory {
                signed: self.size,
                found_in: self.source,
            });
        }
        Ok(())
    }
}

/// A file's bytes, if it exists and is at most [`MAX_CHECKPOINT_FILE`].
fn read_bounded(p: &std::path::Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    fs::File::open(p)
        .ok()?
        .take(MAX_CHECKPOINT_FILE + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    (bytes.len() as u64 <= MAX_CHECKPOINT_FILE).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn note_part_stops_after_the_first_signature_line() {
        let n = b"origin\n5\nroot\n\n\xe2\x80\x94 a sig1\n\xe2\x80\x94 b sig2\n";
        assert_eq!(
            note_part(n),
            Some(&b"origin\n5\nroot\n\n\xe2\x80\x94 a sig1\n"[..])
        );
        assert_eq!(note_part(b"origin\n5\nroot\n"), None);
        assert_eq!(note_part(b"origin\n\n- no newline"), None);
    }

    #[test]
    fn open_latest_takes_only_the_logs_checkpoint() {
        use crate::core::checkpoint::Checkpoint;
        use crate::core::keys::SignerKey;
        let origin = "dropsite.example/leaks";
        let log = SignerKey::from_seed(origin, &[1; 32]).unwrap();
        let other = SignerKey::from_seed(origin, &[2; 32]).unwrap();
        let witness = SignerKey::from_seed("w.example/witness", &[3; 32]).unwrap();
        let cp = Checkpoint::new(origin, 5, Digest::of(b"root")).unwrap();
        let mut sc = SignedCheckpoint::sign(&cp, &log).unwrap();
        let note = sc.encode().into_bytes();
        sc.add_cosignature(&witness, 1_700_000_000).unwrap();
        let cosigned = sc.encode().into_bytes();
        let l = open_latest(cosigned.clone(), &log.verifier(), origin).unwrap();
        assert_eq!((l.size, l.root), (5, Digest::of(b"root")));
        assert_eq!(l.note, note);
        assert_eq!(l.cosigned, cosigned);
        // Another key, another origin, a witness line first, a bad signature.
        assert!(open_latest(cosigned.clone(), &other.verifier(), origin).is_err());
        assert!(open_latest(cosigned.clone(), &log.verifier(), "other.example/log").is_err());
        let mut first = SignedCheckpoint::parse(&note).unwrap();
        first
            .add_signature(
                SignedCheckpoint::sign(&cp, &other)
                    .unwrap()
                    .note()
                    .signatures()[0]
                    .clone(),
            )
            .unwrap();
        let text = String::from_utf8(first.encode().into_bytes()).unwrap();
        let (body, sigs) = text.split_once("\n\n").unwrap();
        let swapped: Vec<&str> = sigs.lines().rev().collect();
        let swapped = format!("{body}\n\n{}\n", swapped.join("\n"));
        assert!(open_latest(swapped.into_bytes(), &log.verifier(), origin).is_err());
        let mut bad = cosigned.clone();
        let at = note.len() - 5;
        bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
        assert!(open_latest(bad, &log.verifier(), origin).is_err());
    }
}
