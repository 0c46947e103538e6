//! Split-view evidence: two checkpoints signed by the same log key that cannot
//! both be true, as a witness records them when it refuses to cosign.
//!
//! Byte layout specified in `docs/FORMAT.md` §11.4:
//!
//! ```text
//! custody split-view evidence v1\n
//! log <vkey>\n
//! cosigned <N>\n  <N bytes: the checkpoint the witness cosigned before, verbatim>
//! offending <N>\n <N bytes: the checkpoint it refused, verbatim>
//! [proof <N>\n    <N bytes: `old <size>\n` and base64 hash lines>]
//! ```
//!
//! [`SplitViewEvidence::assess`] re-checks everything from the bytes alone:
//! both notes signed by the log key, same origin, then classifies. Only two
//! notes that cannot both be true prove a split view: the same size with
//! different roots, or a proof that opens the larger checkpoint's root and
//! shows another root at the smaller size. A stale but consistent pair, or
//! a pair with a failing proof, proves nothing (FORMAT.md §11.4).

use crate::core::checkpoint::{parse_canonical_u64, Checkpoint, SignedCheckpoint};
use crate::core::keys::VerifierKey;
use crate::core::merkle::{self, ProofShows, TreeSize};
use crate::core::witness::OfferedProof;

/// First line of an evidence file.
pub const EVIDENCE_HEADER: &str = "custody split-view evidence v1";
/// Largest evidence file accepted.
pub const MAX_EVIDENCE: usize = 64 * 1024;
/// Largest section accepted.
pub const MAX_SECTION: usize = 16 * 1024;

/// Errors parsing an evidence file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    #[error("evidence file is larger than {MAX_EVIDENCE} bytes")]
    TooLarge,
    #[error("not a custody split-view evidence file (bad first line)")]
    BadHeader,
    #[error("bad `log` line: {0}")]
    BadLogKey(String),
    #[error("expected a `{0} <length>` line")]
    BadSection(&'static str),
    #[error("the {0} section is cut short")]
    Truncated(&'static str),
    #[error("the proof section is not `old <size>` and hash lines: {0}")]
    BadProof(String),
    #[error("trailing bytes after the last section")]
    Trailing,
}

/// Two conflicting checkpoints of one log, and the proof the log offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitViewEvidence {
    /// The log's verifier key the witness trusted.
    pub log_key: VerifierKey,
    /// The signed checkpoint the witness cosigned earlier, verbatim.
    pub cosigned: Vec<u8>,
    /// The signed checkpoint the witness refused, verbatim.
    pub offending: Vec<u8>,
    /// The consistency proof the log offered with the offending one, if any.
    pub proof: Option<OfferedProof>,
}

/// What a piece of evidence shows (FORMAT.md §11.4, "What proves a split
/// view").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Same size, different roots, both signed by the log: a proven fork.
    ProvenFork { size: u64 },
    /// Different sizes, and a proof that opens the larger checkpoint's root
    /// shows another root at the smaller size (or the smaller is size 0
    /// without the empty tree's root): the larger does not extend the
    /// smaller, so the log signed two histories.
    ProvenInconsistent { smaller: u64, larger: u64 },
    /// A valid consistency proof between the two exists: no split view.
    Refuted { smaller: u64, larger: u64 },
    /// Different sizes and no proof that shows either way: an older
    /// checkpoint of an honest log looks exactly like this, so it is not
    /// evidence. `why` says what was missing.
    Unproven {
        smaller: u64,
        larger: u64,
        why: String,
    },
    /// The two checkpoints say the same thing.
    Identical,
    /// A checkpoint is not validly signed by the log key.
    BadSignature(String),
    /// The checkpoints name different origins (or not the key's name).
    OriginMismatch,
}

impl Verdict {
    /// Does the evidence prove a split view? Only a same-size fork or a
    /// proven inconsistency does.
    pub fn proves_split_view(&self) -> bool {
        match self {
            Verdict::ProvenFork { .. } | Verdict::ProvenInconsistent { .. } => true,
            Verdict::Refuted { .. }
            | Verdict::Unproven { .. }
            | Verdict::Identical
            | Verdict::BadSignature(_)
            | Verdict::OriginMismatch => false,
        }
    }

    /// Stable name for `--json`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::ProvenFork { .. } => "proven_fork",
            Verdict::ProvenInconsistent { .. } => "proven_inconsistent",
            Verdict::Refuted { .. } => "refuted",
            Verdict::Unproven { .. } => "unproven",
            Verdict::Identical => "identical",
            Verdict::BadSignature(_) => "bad_signature",
            Verdict::OriginMismatch => "origin_mismatch",
        }
    }

    /// The name of the failed check when the evidence does not prove a
    /// split view (for messages), or `None` when it does.
    pub fn failed_check(&self) -> Option<&'static str> {
        match self {
            Verdict::ProvenFork { .. } | Verdict::ProvenInconsistent { .. } => None,
            Verdict::Refuted { .. } => Some("consistency"),
            Verdict::Unproven { .. } => Some("inconsistency_proof"),
            Verdict::Identical => Some("conflict"),
            Verdict::BadSignature(_) => Some("log_signature"),
            Verdict::OriginMismatch => Some("origin"),
        }
    }
}

fn take_section<'a>(
    rest: &mut &'a [u8],
    name: &'static str,
) -> Result<Option<&'a [u8]>, EvidenceError> {
    if rest.is_empty() {
        return Ok(None);
    }
    let nl = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(EvidenceError::BadSection(name))?;
    let line = std::str::from_utf8(&rest[..nl]).map_err(|_| EvidenceError::BadSection(name))?;
    let n = line
        .strip_prefix(name)
        .and_then(|l| l.strip_prefix(' '))
        .and_then(parse_canonical_u64)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or(EvidenceError::BadSection(name))?;
    if n > MAX_SECTION {
        return Err(EvidenceError::TooLarge);
    }
    let body = &rest[nl + 1..];
    if body.len() < n {
        return Err(EvidenceError::Truncated(name));
    }
    *rest = &body[n..];
    Ok(Some(&body[..n]))
}

impl SplitViewEvidence {
    /// The exact bytes (FORMAT.md §11.4).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!("{EVIDENCE_HEADER}\nlog {}\n", self.log_key).into_bytes();
        for (name, body) in [("cosigned", &self.cosigned), ("offending", &self.offending)] {
            out.extend_from_slice(format!("{name} {}\n", body.len()).as_bytes());
            out.extend_from_slice(body);
        }
        if let Some(p) = &self.proof {
            let t = p.encode();
            out.extend_from_slice(format!("proof {}\n", t.len()).as_bytes());
            out.extend_from_slice(t.as_bytes());
        }
        out
    }

    /// Parses strictly: header, `log`, `cosigned`, `offending`, optional
    /// `proof`, nothing after.
    pub fn parse(bytes: &[u8]) -> Result<SplitViewEvidence, EvidenceError> {
        if bytes.len() > MAX_EVIDENCE {
            return Err(EvidenceError::TooLarge);
        }
        let mut rest = bytes
            .strip_prefix(EVIDENCE_HEADER.as_bytes())
            .and_then(|r| r.strip_prefix(b"\n"))
            .ok_or(EvidenceError::BadHeader)?;
        let nl = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(EvidenceError::BadLogKey("missing".into()))?;
        let line = std::str::from_utf8(&rest[..nl])
            .ok()
            .and_then(|l| l.strip_prefix("log "))
            .ok_or(EvidenceError::BadLogKey("missing".into()))?;
        let log_key =
            VerifierKey::parse(line).map_err(|e| EvidenceError::BadLogKey(e.to_string()))?;
        rest = &rest[nl + 1..];
        let cosigned = take_section(&mut rest, "cosigned")?
            .ok_or(EvidenceError::BadSection("cosigned"))?
            .to_vec();
        let offending = take_section(&mut rest, "offending")?
            .ok_or(EvidenceError::BadSection("offending"))?
            .to_vec();
        let proof = match take_section(&mut rest, "proof")? {
            None => None,
            Some(p) => {
                let t = std::str::from_utf8(p)
                    .map_err(|_| EvidenceError::BadProof("not UTF-8".into()))?;
                Some(OfferedProof::parse(t).map_err(|e| EvidenceError::BadProof(e.to_string()))?)
            }
        };
        if !rest.is_empty() {
            return Err(EvidenceError::Trailing);
        }
        Ok(SplitViewEvidence {
            log_key,
            cosigned,
            offending,
            proof,
        })
    }

    /// Classifies the evidence under `trusted` (the log key the verifier
    /// trusts; pass `&self.log_key` to take the file's word for it), by the
    /// rules of FORMAT.md §11.4. An `extra` proof (e.g. the log's answer to
    /// the accusation) is judged as well as the one in the file: one that
    /// shows consistency refutes the evidence.
    pub fn assess(&self, trusted: &VerifierKey, extra: Option<&OfferedProof>) -> Verdict {
        let open = |b: &[u8], what: &str| {
            SignedCheckpoint::open(b, trusted, &[])
                .map(|o| o.checkpoint)
                .map_err(|e| Verdict::BadSignature(format!("{what} checkpoint: {e}")))
        };
        let (a, b) = match (
            open(&self.cosigned, "cosigned"),
            open(&self.offending, "offending"),
        ) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(v), _) | (_, Err(v)) => return v,
        };
        if a.origin != b.origin || !a.origin_matches_key(trusted) {
            return Verdict::OriginMismatch;
        }
        if a.size == b.size {
            return if a.root == b.root {
                Verdict::Identical
            } else {
                Verdict::ProvenFork { size: a.size }
            };
        }
        let (small, large): (&Checkpoint, &Checkpoint) =
            if a.size < b.size { (&a, &b) } else { (&b, &a) };
        let (smaller, larger) = (small.size, large.size);
        let judge = |hashes: &[crate::core::hash::Digest]| {
            merkle::judge_consistency(
                TreeSize(smaller),
                TreeSize(larger),
                &small.root,
                &large.root,
                hashes,
            )
        };
        // From size 0 the roots decide alone (FORMAT.md §11.4).
        let empty = OfferedProof {
            old: 0,
            hashes: Vec::new(),
        };
        let implicit = (smaller == 0).then_some(&empty);
        let mut shows = Vec::new();
        let mut why = Vec::new();
        for p in self.proof.iter().chain(extra).chain(implicit) {
            if p.old != smaller {
                why.push(format!(
                    "a proof starts at size {} instead of the smaller size {smaller}",
                    p.old
                ));
                continue;
            }
            match judge(&p.hashes) {
                ProofShows::Nothing(e) => why.push(format!(
                    "the proof from {smaller} to {larger} does not open the larger checkpoint's root ({e})"
                )),
                s => shows.push(s),
            }
        }
        if shows.contains(&ProofShows::Consistent) {
            return Verdict::Refuted { smaller, larger };
        }
        if shows
            .iter()
            .any(|s| matches!(s, ProofShows::Inconsistent { .. }))
        {
            return Verdict::ProvenInconsistent { smaller, larger };
        }
        if why.is_empty() {
            why.push(format!(
                "no consistency proof from {smaller} to {larger}; an older checkpoint of an honest log looks the same"
            ));
        }
        Verdict::Unproven {
            smaller,
            larger,
            why: why.join("; "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::keys::SignerKey;
    use crate::core::merkle::MemoryTree;

    fn key() -> SignerKey {
        SignerKey::from_seed("log.example", &[3; 32]).unwrap()
    }
    fn tree(n: u64, salt: &str) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.push_data(format!("{salt}{i}").as_bytes());
        }
        t
    }
    fn signed(t: &MemoryTree) -> Vec<u8> {
        let c = Checkpoint::new("log.example", t.size().get(), t.root()).unwrap();
        SignedCheckpoint::sign(&c, &key())
            .unwrap()
            .encode()
            .into_bytes()
    }
    fn ev(a: &MemoryTree, b: &MemoryTree, proof: Option<OfferedProof>) -> SplitViewEvidence {
        SplitViewEvidence {
            log_key: key().verifier(),
            cosigned: signed(a),
            offending: signed(b),
            proof,
        }
    }

    #[test]
    fn round_trip_and_verdicts() {
        let (t5, t8, f5) = (tree(5, "a"), tree(8, "a"), tree(5, "b"));
        let vk = key().verifier();
        let fork = ev(&t5, &f5, None);
        let bytes = fork.encode();
        assert_eq!(SplitViewEvidence::parse(&bytes).unwrap(), fork);
        assert_eq!(fork.assess(&vk, None), Verdict::ProvenFork { size: 5 });
        assert!(fork.assess(&vk, None).proves_split_view());
        assert_eq!(ev(&t5, &t5, None).assess(&vk, None), Verdict::Identical);
        let good = OfferedProof {
            old: 5,
            hashes: t8.consistency_proof(TreeSize(5), TreeSize(8)).unwrap(),
        };
        // Issue 14: an older checkpoint of the same log, with no proof, is
        // not evidence (an honest log's stale checkpoint looks the same).
        let stale = ev(&t8, &t5, None);
        let v = stale.assess(&vk, None);
        assert!(
            matches!(
                v,
                Verdict::Unproven {
                    smaller: 5,
                    larger: 8,
                    ..
                }
            ),
            "{v:?}"
        );
        assert!(!v.proves_split_view());
        assert_eq!(
            stale.assess(&vk, Some(&good)),
            Verdict::Refuted {
                smaller: 5,
                larger: 8
            }
        );
        let with_proof = ev(&t5, &t8, Some(good.clone()));
        let b = with_proof.encode();
        assert_eq!(SplitViewEvidence::parse(&b).unwrap(), with_proof);
        assert!(!with_proof.assess(&vk, None).proves_split_view());
        // A failing proof (one hash altered) is no evidence either.
        let mut junk = good.clone();
        junk.hashes[0] = crate::core::merkle::node_hash(&junk.hashes[0], &junk.hashes[0]);
        let v = ev(&t5, &t8, Some(junk.clone())).assess(&vk, None);
        assert!(matches!(v, Verdict::Unproven { .. }), "{v:?}");
        // A fork of size 8 whose own proof opens its root and shows another
        // root at 5: proven. (5 is not a power of two: the RFC proof starts
        // with the prefix's node.)
        let mut f8 = MemoryTree::new();
        f8.push_data(b"forked");
        for i in 1..8 {
            f8.push_data(format!("a{i}").as_bytes());
        }
        let fproof = OfferedProof {
            old: 5,
            hashes: f8.consistency_proof(TreeSize(5), TreeSize(8)).unwrap(),
        };
        let proven = ev(&t5, &f8, Some(fproof.clone()));
        assert_eq!(
            proven.assess(&vk, None),
            Verdict::ProvenInconsistent {
                smaller: 5,
                larger: 8
            }
        );
        assert!(proven.assess(&vk, None).proves_split_view());
        // The same pair without the proof is unproven; the proof given on
        // the side proves it.
        let bare = ev(&f8, &t5, None);
        assert!(!bare.assess(&vk, None).proves_split_view());
        assert!(bare.assess(&vk, Some(&fproof)).proves_split_view());
        // A proof that starts elsewhere is ignored.
        let off = OfferedProof {
            old: 4,
            hashes: fproof.hashes.clone(),
        };
        assert!(!ev(&t5, &f8, Some(off))
            .assess(&vk, None)
            .proves_split_view());
        // Another key: bad signature.
        let other = SignerKey::from_seed("log.example", &[4; 32])
            .unwrap()
            .verifier();
        assert!(matches!(
            fork.assess(&other, None),
            Verdict::BadSignature(_)
        ));
    }

    #[test]
    fn tamper_and_strictness() {
        let vk = key().verifier();
        let fork = ev(&tree(5, "a"), &tree(5, "b"), None);
        let bytes = fork.encode();
        // Flip one byte inside the offending note's root: the signature fails.
        let mut t = bytes.clone();
        let pos = t.len() - 120;
        t[pos] ^= 1;
        if let Ok(e) = SplitViewEvidence::parse(&t) {
            assert!(!e.assess(&vk, None).proves_split_view());
        }
        let mut trailing = bytes.clone();
        trailing.push(b'x');
        assert_eq!(
            SplitViewEvidence::parse(&trailing),
            Err(EvidenceError::BadSection("proof"))
        );
        assert_eq!(
            SplitViewEvidence::parse(&bytes[..bytes.len() - 1]),
            Err(EvidenceError::Truncated("offending"))
        );
        assert_eq!(
            SplitViewEvidence::parse(b"hello\n"),
            Err(EvidenceError::BadHeader)
        );
    }

    /// Issue 6: a section declaring 100 GB (or more than a u64) is refused
    /// from its length line, before anything is read.
    #[test]
    fn declared_section_lengths_are_bounded() {
        use crate::core::testing::fast;
        let head = format!("{EVIDENCE_HEADER}\nlog {}\n", key().verifier());
        for (len, want) in [
            ("100000000000", EvidenceError::TooLarge),
            ("18446744073709551615", EvidenceError::TooLarge),
            (
                "99999999999999999999999",
                EvidenceError::BadSection("cosigned"),
            ),
        ] {
            let b = format!("{head}cosigned {len}\nabc");
            let r = fast("SplitViewEvidence::parse", || {
                SplitViewEvidence::parse(b.as_bytes())
            });
            assert_eq!(r, Err(want), "{len}");
        }
        let b = format!("{head}cosigned {}\nabc", MAX_SECTION);
        assert_eq!(
            SplitViewEvidence::parse(b.as_bytes()),
            Err(EvidenceError::Truncated("cosigned"))
        );
    }

    /// Fuzzing finding (witness_body, issue 6): a proof section ending in an
    /// empty line parsed and re-encoded without it; evidence is canonical,
    /// so it is now refused.
    #[test]
    fn fuzz_proof_section_with_an_empty_line_is_refused() {
        let (a, b) = (tree(4, "a"), tree(7, "a"));
        let e = ev(
            &a,
            &b,
            Some(OfferedProof {
                old: 4,
                hashes: Vec::new(),
            }),
        );
        let bytes = e.encode();
        assert_eq!(SplitViewEvidence::parse(&bytes), Ok(e));
        let text = String::from_utf8(bytes).unwrap();
        let bad = text.replace("proof 6\nold 4\n", "proof 7\nold 4\n\n");
        assert_ne!(bad, text);
        assert!(matches!(
            SplitViewEvidence::parse(bad.as_bytes()),
            Err(EvidenceError::BadProof(_))
        ));
    }
}
