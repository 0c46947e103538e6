//! The witness's decision: may this checkpoint be cosigned, given every
//! checkpoint of the same log cosigned before? (C2SP `tlog-witness.md`,
//! "add-checkpoint"; `docs/FORMAT.md` §11.2.)
//!
//! Pure: the caller loads the history (since the log's last reset, §11.2),
//! calls [`decide`], and on [`Accept`] persists the new checkpoint before it
//! emits the cosignature.
//!
//! Rules, for a checkpoint already verified under the log's key:
//!
//! 1. It conflicts with ANY earlier cosigned checkpoint of the same size
//!    (different root): [`Refusal::Fork`], a proven split view.
//! 2. No history for the log: [`Accept::FirstUse`] (trust on first use).
//! 3. Smaller than the latest cosigned size: [`Refusal::Stale`], no
//!    evidence (tlog-witness answers 409 with the latest size). Only a proof
//!    given with it (`old` = its size, to the latest cosigned checkpoint)
//!    that shows the latest tree does not extend it makes it
//!    [`Refusal::Inconsistent`], with evidence.
//! 4. Same size and root as the latest: [`Accept::Unchanged`].
//! 5. Larger: a consistency proof from the latest cosigned size is required
//!    ([`Refusal::ProofRequired`], [`Refusal::ProofOldMismatch`]). One that
//!    verifies gives [`Accept::Extended`]; one that opens the new root but
//!    shows another root at the latest size is [`Refusal::Inconsistent`]
//!    (evidence); any other failing proof is [`Refusal::BadProof`], without
//!    evidence, since a failing proof proves nothing about the log
//!    (FORMAT.md §11.4).

use crate::core::checkpoint::{parse_canonical_u64, Checkpoint};
use crate::core::hash::Digest;
use crate::core::keys::{b64_decode, b64_encode};
use crate::core::merkle::{self, MerkleError, ProofShows, TreeSize};
use crate::core::tlog_proof::MAX_PROOF_HASHES;

/// Largest add-checkpoint body (or proof file) accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// A consistency proof as a log offers it: from size `old` to the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedProof {
    pub old: u64,
    pub hashes: Vec<Digest>,
}

/// Errors parsing an add-checkpoint body or a proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    #[error("larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("the first line must be `old <size>`")]
    BadOldLine,
    #[error("proof line {0} is not the base64 of 32 bytes")]
    BadHash(usize),
    #[error("more than {MAX_PROOF_HASHES} proof lines")]
    TooManyHashes,
    #[error("no empty line before the checkpoint")]
    MissingSeparator,
}

impl OfferedProof {
    /// `old <size>\n` then one base64 hash per line (FORMAT.md §8.2 without
    /// the checkpoint).
    pub fn encode(&self) -> String {
        let mut s = format!("old {}\n", self.old);
        for h in &self.hashes {
            s.push_str(&b64_encode(h.as_bytes()));
            s.push('\n');
        }
        s
    }

    /// Parses `old <size>` and hash lines, every line ending in `\n`.
    pub fn parse(text: &str) -> Result<OfferedProof, BodyError> {
        let (p, rest) = parse_head(text, false)?;
        if !rest.is_empty() {
            return Err(BodyError::BadHash(p.hashes.len() + 1));
        }
        Ok(p)
    }
}

/// Parses the head of an add-checkpoint body; returns the proof and what
/// follows the empty line (`""` when `need_sep` is false and the text ended).
fn parse_head(text: &str, need_sep: bool) -> Result<(OfferedProof, &str), BodyError> {
    if text.len() > MAX_BODY {
        return Err(BodyError::TooLarge);
    }
    let (first, mut rest) = text.split_once('\n').ok_or(BodyError::BadOldLine)?;
    let old = first
        .strip_prefix("old ")
        .and_then(parse_canonical_u64)
        .ok_or(BodyError::BadOldLine)?;
    let mut hashes = Vec::new();
    loop {
        if rest.is_empty() {
            if need_sep {
                return Err(BodyError::MissingSeparator);
            }
            return Ok((OfferedProof { old, hashes }, ""));
        }
        let (line, after) = rest.split_once('\n').ok_or(BodyError::MissingSeparator)?;
        if line.is_empty() {
            if !need_sep {
                // A bare proof has no empty line: accepting one would give
                // two encodings of one proof (found by fuzzing, issue 6).
                return Err(BodyError::BadHash(hashes.len() + 1));
            }
            return Ok((OfferedProof { old, hashes }, after));
        }
        if hashes.len() == MAX_PROOF_HASHES {
            return Err(BodyError::TooManyHashes);
        }
        let h = b64_decode(line)
            .and_then(|b| Digest::from_slice(&b))
            .ok_or(BodyError::BadHash(hashes.len() + 1))?;
        hashes.push(h);
        rest = after;
    }
}

/// Splits a C2SP tlog-witness add-checkpoint body (`old N`, proof lines, an
/// empty line, the signed checkpoint) into the proof and the checkpoint bytes.
pub fn parse_add_checkpoint(body: &[u8]) -> Result<(OfferedProof, &[u8]), BodyError> {
    if body.len() > MAX_BODY {
        return Err(BodyError::TooLarge);
    }
    // The head is ASCII; find where the checkpoint starts without requiring
    // the checkpoint itself to be UTF-8 here (the note parser checks it).
    let head_end = body
        .windows(2)
        .position(|w| w == b"\n\n")
        .ok_or(BodyError::MissingSeparator)?;
    let head = std::str::from_utf8(&body[..head_end + 2]).map_err(|_| BodyError::BadOldLine)?;
    let (proof, rest) = parse_head(head, true)?;
    debug_assert!(rest.is_empty());
    Ok((proof, &body[head_end + 2..]))
}

/// Does this look like an add-checkpoint body rather than a bare checkpoint?
pub fn is_add_checkpoint(bytes: &[u8]) -> bool {
    bytes.starts_with(b"old ")
}

/// Why a checkpoint may be cosigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accept {
    /// No checkpoint of this log was cosigned before: trust on first use.
    FirstUse,
    /// Same size and root as the latest cosigned one.
    Unchanged,
    /// Proven consistent with the latest cosigned checkpoint at `from`.
    Extended { from: u64 },
}

/// Why a checkpoint must not be cosigned. `conflicts_with` indexes the
/// history entry the offending checkpoint is proven to contradict (for the
/// evidence, FORMAT.md §11.4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    #[error("fork: a different checkpoint of size {size} was cosigned before (same size, different root)")]
    Fork { size: u64, conflicts_with: usize },
    #[error("stale: size {offered} is older than the latest cosigned size {latest} (an older checkpoint is no split view: no evidence)")]
    Stale { latest: u64, offered: u64 },
    #[error("inconsistent: the consistency proof opens the checkpoint of size {larger} and shows a root at size {smaller} other than the signed one")]
    Inconsistent {
        smaller: u64,
        larger: u64,
        conflicts_with: usize,
    },
    #[error("a consistency proof from the latest cosigned size {from} to {to} is required (give --proof)")]
    ProofRequired { from: u64, to: u64 },
    #[error("the proof starts at size {proof_old} but the latest cosigned size is {latest}")]
    ProofOldMismatch { latest: u64, proof_old: u64 },
    #[error("the consistency proof from {from} to {to} does not verify ({error}); it proves nothing against the log, so no evidence is written")]
    BadProof {
        from: u64,
        to: u64,
        error: MerkleError,
    },
}

impl Refusal {
    /// The history entry this refusal proves a conflict with, if the refusal
    /// is split-view evidence (a fork, or a proof showing inconsistency).
    pub fn conflicts_with(&self) -> Option<usize> {
        match self {
            Refusal::Fork { conflicts_with, .. } | Refusal::Inconsistent { conflicts_with, .. } => {
                Some(*conflicts_with)
            }
            Refusal::Stale { .. }
            | Refusal::ProofRequired { .. }
            | Refusal::ProofOldMismatch { .. }
            | Refusal::BadProof { .. } => None,
        }
    }

    /// Stable name for `--json` (`fork`, `stale`, `inconsistent`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            Refusal::Fork { .. } => "fork",
            Refusal::Stale { .. } => "stale",
            Refusal::Inconsistent { .. } => "inconsistent",
            Refusal::ProofRequired { .. } => "proof_required",
            Refusal::ProofOldMismatch { .. } => "proof_old_mismatch",
            Refusal::BadProof { .. } => "bad_proof",
        }
    }
}

/// Decides whether `new` may be cosigned. `history` holds every checkpoint of
/// the same origin cosigned since the log's last reset (the reset's
/// checkpoint first), oldest first (sizes never decrease); the last one is
/// the latest. `proof` is what the log offered, if anything.
pub fn decide(
    history: &[Checkpoint],
    new: &Checkpoint,
    proof: Option<&OfferedProof>,
) -> Result<Accept, Refusal> {
    if let Some(i) = history
        .iter()
        .position(|h| h.size == new.size && h.root != new.root)
    {
        return Err(Refusal::Fork {
            size: new.size,
            conflicts_with: i,
        });
    }
    let Some(latest) = history.last() else {
        return Ok(Accept::FirstUse);
    };
    let li = history.len() - 1;
    if new.size < latest.size {
        // Only a proof from the offered size to the latest can say more.
        let shows = proof.filter(|p| p.old == new.size).map(|p| {
            merkle::judge_consistency(
                TreeSize(new.size),
                TreeSize(latest.size),
                &new.root,
                &latest.root,
                &p.hashes,
            )
        });
        return Err(match shows {
            Some(ProofShows::Inconsistent { .. }) => Refusal::Inconsistent {
                smaller: new.size,
                larger: latest.size,
                conflicts_with: li,
            },
            Some(ProofShows::Consistent | ProofShows::Nothing(_)) | None => Refusal::Stale {
                latest: latest.size,
                offered: new.size,
            },
        });
    }
    if new.size == latest.size {
        // Roots are equal: a differing root was caught as a fork above.
        return Ok(Accept::Unchanged);
    }
    let Some(p) = proof else {
        return Err(Refusal::ProofRequired {
            from: latest.size,
            to: new.size,
        });
    };
    if p.old != latest.size {
        return Err(Refusal::ProofOldMismatch {
            latest: latest.size,
            proof_old: p.old,
        });
    }
    match merkle::judge_consistency(
        TreeSize(latest.size),
        TreeSize(new.size),
        &latest.root,
        &new.root,
        &p.hashes,
    ) {
        ProofShows::Consistent => Ok(Accept::Extended { from: latest.size }),
        ProofShows::Inconsistent { .. } => Err(Refusal::Inconsistent {
            smaller: latest.size,
            larger: new.size,
            conflicts_with: li,
        }),
        ProofShows::Nothing(error) => Err(Refusal::BadProof {
            from: latest.size,
            to: new.size,
            error,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::merkle::MemoryTree;

    fn tree(n: u64, salt: &str) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.push_data(format!("{salt}{i}").as_bytes());
        }
        t
    }
    fn cp(t: &MemoryTree) -> Checkpoint {
        Checkpoint::new("log.example", t.size().get(), t.root()).unwrap()
    }
    fn proof(t: &MemoryTree, old: u64) -> OfferedProof {
        OfferedProof {
            old,
            hashes: t.consistency_proof(TreeSize(old), t.size()).unwrap(),
        }
    }

    #[test]
    fn first_use_extend_unchanged() {
        let t3 = tree(3, "a");
        let t7 = tree(7, "a");
        assert_eq!(decide(&[], &cp(&t7), None), Ok(Accept::FirstUse));
        let h = [cp(&t3)];
        assert_eq!(decide(&h, &cp(&t3), None), Ok(Accept::Unchanged));
        assert_eq!(
            decide(&h, &cp(&t7), Some(&proof(&t7, 3))),
            Ok(Accept::Extended { from: 3 })
        );
        // From the empty tree: an empty proof.
        let t0 = tree(0, "a");
        assert_eq!(
            decide(&[cp(&t0)], &cp(&t7), Some(&proof(&t7, 0))),
            Ok(Accept::Extended { from: 0 })
        );
    }

    #[test]
    fn refusals() {
        let t3 = tree(3, "a");
        let t5 = tree(5, "a");
        let t7 = tree(7, "a");
        let f7 = tree(7, "b");
        let h = [cp(&t3), cp(&t5)];
        assert_eq!(
            decide(&h, &cp(&t7), None),
            Err(Refusal::ProofRequired { from: 5, to: 7 })
        );
        assert_eq!(
            decide(&h, &cp(&t7), Some(&proof(&t7, 3))),
            Err(Refusal::ProofOldMismatch {
                latest: 5,
                proof_old: 3
            })
        );
        // A proof that does not open the offered root proves nothing.
        let r = decide(&h, &cp(&f7), Some(&proof(&t7, 5))).unwrap_err();
        assert!(
            matches!(r, Refusal::BadProof { from: 5, to: 7, .. }),
            "{r:?}"
        );
        assert_eq!(r.conflicts_with(), None);
        // The forked log's own proof opens its root and shows another root
        // at the cosigned size 5: proven inconsistent.
        let r = decide(&h, &cp(&f7), Some(&proof(&f7, 5))).unwrap_err();
        assert_eq!(
            r,
            Refusal::Inconsistent {
                smaller: 5,
                larger: 7,
                conflicts_with: 1
            }
        );
        // An older checkpoint of the same log: stale, no evidence, with or
        // without a proof that it is a prefix of the latest.
        let t4 = tree(4, "a");
        for p in [None, Some(proof(&t5, 4)), Some(proof(&t7, 4))] {
            let r = decide(&h, &cp(&t4), p.as_ref()).unwrap_err();
            assert_eq!(
                r,
                Refusal::Stale {
                    latest: 5,
                    offered: 4
                }
            );
            assert_eq!(r.conflicts_with(), None);
        }
        // An older checkpoint the latest does not extend, shown by a
        // complete proof from the latest tree (4 is a power of two).
        let f4 = tree(4, "b");
        let full = OfferedProof {
            old: 4,
            hashes: merkle::complete_consistency_proof(
                TreeSize(4),
                t4.root(),
                proof(&t5, 4).hashes,
            ),
        };
        assert_eq!(
            decide(&h, &cp(&f4), Some(&full)),
            Err(Refusal::Inconsistent {
                smaller: 4,
                larger: 5,
                conflicts_with: 1
            })
        );
        // The RFC proof alone cannot show it: stale.
        assert!(matches!(
            decide(&h, &cp(&f4), Some(&proof(&t5, 4))),
            Err(Refusal::Stale { .. })
        ));
        // A different root at the size of ANY earlier cosigned checkpoint.
        let r = decide(&h, &cp(&tree(3, "b")), None).unwrap_err();
        assert_eq!(
            r,
            Refusal::Fork {
                size: 3,
                conflicts_with: 0
            }
        );
        assert_eq!(r.conflicts_with(), Some(0));
        assert_eq!(
            decide(&h, &cp(&tree(5, "b")), None),
            Err(Refusal::Fork {
                size: 5,
                conflicts_with: 1
            })
        );
        assert_eq!(
            Refusal::ProofRequired { from: 1, to: 2 }.conflicts_with(),
            None
        );
    }

    #[test]
    fn add_checkpoint_body_round_trip() {
        let t7 = tree(7, "a");
        let p = proof(&t7, 3);
        let note = b"log.example\n7\nAAAA\n\n\xe2\x80\x94 x y\n";
        let mut body = p.encode().into_bytes();
        body.push(b'\n');
        body.extend_from_slice(note);
        let (q, c) = parse_add_checkpoint(&body).unwrap();
        assert_eq!(q, p);
        assert_eq!(c, note);
        assert!(is_add_checkpoint(&body));
        assert_eq!(OfferedProof::parse(&p.encode()).unwrap(), p);
        assert_eq!(
            parse_add_checkpoint(b"old 01\n\nx"),
            Err(BodyError::BadOldLine)
        );
        assert_eq!(
            parse_add_checkpoint(b"old 1\nnope\n\nx"),
            Err(BodyError::BadHash(1))
        );
        assert_eq!(
            parse_add_checkpoint(b"old 1\n"),
            Err(BodyError::MissingSeparator)
        );
        assert!(OfferedProof::parse("old 1\nAAAA").is_err());
        let many = format!(
            "old 1\n{}",
            format!("{}\n", b64_encode(&[0; 32])).repeat(MAX_PROOF_HASHES + 1)
        );
        assert_eq!(OfferedProof::parse(&many), Err(BodyError::TooManyHashes));
    }

    /// Fuzzing finding (witness_body, issue 6): a bare proof followed by an
    /// empty line parsed, so `old 0\n\n` and `old 0\n` were two encodings
    /// of one proof (and a split-view evidence file had two). An empty line
    /// now ends only an add-checkpoint head.
    #[test]
    fn fuzz_bare_proof_with_an_empty_line_is_refused() {
        assert_eq!(OfferedProof::parse("old 0\n\n"), Err(BodyError::BadHash(1)));
        let p = proof(&tree(7, "a"), 3);
        let text = p.encode();
        assert_eq!(OfferedProof::parse(&text), Ok(p.clone()));
        assert_eq!(
            OfferedProof::parse(&format!("{text}\n")),
            Err(BodyError::BadHash(p.hashes.len() + 1))
        );
        // The same head with its empty line is still an add-checkpoint body.
        let body = format!("{text}\nlog.example\n7\n");
        assert_eq!(parse_add_checkpoint(body.as_bytes()).map(|r| r.0), Ok(p));
    }
}
