//! C2SP tlog-proof: the offline inclusion-proof text format (format only).
//!
//! (C2SP `tlog-proof.md`, "Format".) Lines separated by `\n`:
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64>            (optional; unauthenticated opaque data)
//! index <decimal>           (0-based, no leading zeroes unless "0")
//! <base64 hash>             (0..=64 lines, leaf's sibling first, up to the root's child)
//!                           (empty line)
//! <signed checkpoint, verbatim>
//! ```
//!
//! This module only encodes and strictly parses; Merkle verification and
//! signature checking are done elsewhere (the checkpoint is returned as the
//! exact note bytes, checked here for syntax only).
//!
//! Byte layout specified in `docs/FORMAT.md` §3.9.

use crate::core::checkpoint::{parse_canonical_u64, CheckpointError, SignedCheckpoint};
use crate::core::hash::Digest;
use crate::core::keys::{b64_decode, b64_encode};

/// The first line.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Most inclusion-proof hashes accepted: 64, the longest RFC 9162 inclusion
/// proof in a tree of at most 2^64 - 1 leaves (leaf 0 of a tree of more than
/// 2^63 leaves; FORMAT.md §3.9, §9.5). Whether a proof has the right length
/// for its index and size is decided by the inclusion check, not here.
pub const MAX_PROOF_HASHES: usize = 64;

/// Errors from building or parsing a tlog-proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogProofError {
    /// The input is not UTF-8.
    #[error("tlog-proof is not valid UTF-8")]
    NotUtf8,
    /// The first line is not `c2sp.org/tlog-proof@v1`.
    #[error("missing c2sp.org/tlog-proof@v1 header line")]
    BadHeader,
    /// The `extra` line is empty or not canonical base64.
    #[error("extra line must be non-empty canonical base64")]
    BadExtra,
    /// The `index` line is missing or not a canonical decimal.
    #[error("missing or malformed index line")]
    BadIndex,
    /// A proof line is not canonical base64 of 32 bytes (line number, 1-based).
    #[error("line {0}: proof hash is not canonical base64 of 32 bytes")]
    BadHash(usize),
    /// More than [`MAX_PROOF_HASHES`] hashes.
    #[error("more than {MAX_PROOF_HASHES} proof hashes")]
    TooManyHashes,
    /// No empty line before the checkpoint.
    #[error("missing empty line before the checkpoint")]
    MissingSeparator,
    /// The checkpoint is not a syntactically valid signed checkpoint.
    #[error("embedded checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
}

/// A parsed tlog-proof.
///
/// Invariants: at most [`MAX_PROOF_HASHES`] hashes; `extra`, when present, is
/// non-empty; `checkpoint` parses as a signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    extra: Option<Vec<u8>>,
    index: u64,
    hashes: Vec<Digest>,
    checkpoint: String,
}

impl TlogProof {
    /// Builds a proof; `checkpoint` is the signed checkpoint note, verbatim.
    pub fn new(
        index: u64,
        hashes: Vec<Digest>,
        extra: Option<Vec<u8>>,
        checkpoint: &str,
    ) -> Result<Self, TlogProofError> {
        if hashes.len() > MAX_PROOF_HASHES {
            return Err(TlogProofError::TooManyHashes);
        }
        if extra.as_ref().is_some_and(|e| e.is_empty()) {
            return Err(TlogProofError::BadExtra);
        }
        SignedCheckpoint::parse(checkpoint.as_bytes())?;
        Ok(TlogProof {
            extra,
            index,
            hashes,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// Parses a tlog-proof strictly.
    pub fn parse(bytes: &[u8]) -> Result<Self, TlogProofError> {
        let s = std::str::from_utf8(bytes).map_err(|_| TlogProofError::NotUtf8)?;
        let (head, checkpoint) = s
            .split_once("\n\n")
            .ok_or(TlogProofError::MissingSeparator)?;
        let mut lines = head.split('\n').enumerate().peekable();
        match lines.next() {
            Some((_, TLOG_PROOF_HEADER)) => {}
            _ => return Err(TlogProofError::BadHeader),
        }
        let mut extra = None;
        if let Some((_, l)) = lines.peek() {
            if let Some(b64) = l.strip_prefix("extra ") {
                let e = b64_decode(b64)
                    .filter(|e| !e.is_empty())
                    .ok_or(TlogProofError::BadExtra)?;
                extra = Some(e);
                lines.next();
            }
        }
        let index = lines
            .next()
            .and_then(|(_, l)| l.strip_prefix("index "))
            .and_then(parse_canonical_u64)
            .ok_or(TlogProofError::BadIndex)?;
        let mut hashes = Vec::new();
        for (i, l) in lines {
            if hashes.len() == MAX_PROOF_HASHES {
                return Err(TlogProofError::TooManyHashes);
            }
            let d = b64_decode(l)
                .and_then(|b| Digest::from_slice(&b))
                .ok_or(TlogProofError::BadHash(i + 1))?;
            hashes.push(d);
        }
        SignedCheckpoint::parse(checkpoint.as_bytes())?;
        Ok(TlogProof {
            extra,
            index,
            hashes,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// The exact encoding.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(64 + 45 * self.hashes.len() + self.checkpoint.len());
        out.push_str(TLOG_PROOF_HEADER);
        out.push('\n');
        if let Some(e) = &self.extra {
            out.push_str("extra ");
            out.push_str(&b64_encode(e));
            out.push('\n');
        }
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.hashes {
            out.push_str(&b64_encode(h.as_bytes()));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// The 0-based leaf index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The inclusion-proof hashes, leaf to root.
    pub fn hashes(&self) -> &[Digest] {
        &self.hashes
    }

    /// The unauthenticated extra data, if any.
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }

    /// The signed checkpoint note, verbatim.
    pub fn checkpoint_note(&self) -> &str {
        &self.checkpoint
    }

    /// Splits into (index, hashes, extra, checkpoint note bytes).
    pub fn into_parts(self) -> (u64, Vec<Digest>, Option<Vec<u8>>, Vec<u8>) {
        (
            self.index,
            self.hashes,
            self.extra,
            self.checkpoint.into_bytes(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::checkpoint::Checkpoint;
    use crate::core::keys::SignerKey;
    use crate::core::note::{MalformedReason, NoteError};

    fn signed() -> String {
        let k = SignerKey::from_seed("example.com/log", &[3; 32]).unwrap();
        let c = Checkpoint::new("example.com/log", 8, Digest::of(b"r")).unwrap();
        SignedCheckpoint::sign(&c, &k).unwrap().encode()
    }

    fn hashes(n: usize) -> Vec<Digest> {
        (0..n).map(|i| Digest::of(&[i as u8])).collect()
    }

    #[test]
    fn round_trips() {
        let cp = signed();
        for (extra, n, idx) in [
            (None, 0, 0u64),
            (Some(b"hello".to_vec()), 3, 7),
            (None, MAX_PROOF_HASHES, u64::MAX),
        ] {
            let p = TlogProof::new(idx, hashes(n), extra.clone(), &cp).unwrap();
            let enc = p.encode();
            assert!(enc.starts_with("c2sp.org/tlog-proof@v1\n"));
            assert!(enc.ends_with(&cp));
            let q = TlogProof::parse(enc.as_bytes()).unwrap();
            assert_eq!(q, p);
            assert_eq!(q.encode(), enc);
            let (i, h, e, c) = q.into_parts();
            assert_eq!(
                (i, h, e, c),
                (idx, hashes(n), extra, cp.clone().into_bytes())
            );
        }
    }

    #[test]
    fn exact_layout() {
        let cp = signed();
        let p = TlogProof::new(5, hashes(1), Some(vec![0xff]), &cp).unwrap();
        let h = b64_encode(hashes(1)[0].as_bytes());
        assert_eq!(
            p.encode(),
            format!("c2sp.org/tlog-proof@v1\nextra /w==\nindex 5\n{h}\n\n{cp}")
        );
    }

    #[test]
    fn rejections() {
        let cp = signed();
        let h = b64_encode(Digest::of(b"x").as_bytes());
        let cases: Vec<(String, TlogProofError)> = vec![
            (
                format!("c2sp.org/tlog-proof@v2\nindex 0\n\n{cp}"),
                TlogProofError::BadHeader,
            ),
            (format!("\nindex 0\n\n{cp}"), TlogProofError::BadHeader),
            (
                format!("c2sp.org/tlog-proof@v1\nindex 00\n\n{cp}"),
                TlogProofError::BadIndex,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex -1\n\n{cp}"),
                TlogProofError::BadIndex,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex  1\n\n{cp}"),
                TlogProofError::BadIndex,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\n{h}\n\n{cp}"),
                TlogProofError::BadIndex,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\n\n{cp}"),
                TlogProofError::BadIndex,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nextra \nindex 1\n\n{cp}"),
                TlogProofError::BadExtra,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nextra /w\nindex 1\n\n{cp}"),
                TlogProofError::BadExtra,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex 1\nextra /w==\n\n{cp}"),
                TlogProofError::BadHash(3),
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex 1\n{}\n\n{cp}", &h[..43]),
                TlogProofError::BadHash(3),
            ),
            (
                format!(
                    "c2sp.org/tlog-proof@v1\nindex 1\n{}\n\n{cp}",
                    b64_encode(&[0; 31])
                ),
                TlogProofError::BadHash(3),
            ),
            (
                format!(
                    "c2sp.org/tlog-proof@v1\nindex 1\n{}\n{cp}",
                    format!("{h}\n").repeat(MAX_PROOF_HASHES + 1)
                ),
                TlogProofError::TooManyHashes,
            ),
            (
                "c2sp.org/tlog-proof@v1\nindex 1\n".to_string(),
                TlogProofError::MissingSeparator,
            ),
            (
                "c2sp.org/tlog-proof@v1\nindex 1\n\nexample.com/log\n1\n".to_string(),
                TlogProofError::Checkpoint(CheckpointError::Note(NoteError::Malformed(
                    MalformedReason::MissingSeparator,
                ))),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(TlogProof::parse(input.as_bytes()), Err(want), "{input:?}");
        }
        assert_eq!(
            TlogProof::parse(b"c2sp.org/tlog-proof@v1\nindex 1\n\n\xff"),
            Err(TlogProofError::NotUtf8)
        );
        assert_eq!(
            TlogProof::new(0, hashes(MAX_PROOF_HASHES + 1), None, &cp),
            Err(TlogProofError::TooManyHashes)
        );
        assert_eq!(
            TlogProof::new(0, vec![], Some(vec![]), &cp),
            Err(TlogProofError::BadExtra)
        );
        // checkpoint with a malformed body
        let bad_cp = cp.replacen("\n8\n", "\n08\n", 1);
        assert!(matches!(
            TlogProof::new(0, vec![], None, &bad_cp),
            Err(TlogProofError::Checkpoint(CheckpointError::MalformedBody(
                _
            )))
        ));
    }

    /// Issue 6: a proof of 100,000 hash lines is refused at the 65th.
    #[test]
    fn proof_lines_are_bounded() {
        use crate::core::testing::fast;
        let hash = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let b = format!(
            "{TLOG_PROOF_HEADER}\nindex 0\n{}\n{}",
            hash.repeat(100_000),
            signed()
        );
        let r = fast("TlogProof::parse", || TlogProof::parse(b.as_bytes()));
        assert_eq!(r, Err(TlogProofError::TooManyHashes));
    }
}
