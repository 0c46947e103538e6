//! Proof verification with no access to the tree: RFC 9162 §2.1.3.2
//! (inclusion) and §2.1.4.2 (consistency), with the edge-case policies of
//! this project, and raw-byte entry points that check hash lengths first.
//!
//! Byte layout specified in `docs/FORMAT.md` §9.5–9.7.

use crate::core::hash::Digest;

use super::error::{HashRole, MerkleError};
use super::hash::{empty_root, node_hash};
use super::shape::{consistency_proof_len, inclusion_proof_len};
use super::types::{LeafIndex, TreeSize};

/// The root that an inclusion proof leads to: the loop of RFC 9162
/// §2.1.3.2 steps 1-4, with the `sn == 0` length checks of steps 4 and 5.
///
/// Errors: [`MerkleError::IndexOutOfRange`] if `index >= size` (step 1);
/// [`MerkleError::ProofTooLong`] if elements remain once `sn` is 0 (step 4);
/// [`MerkleError::ProofTooShort`] if `sn` is not 0 at the end (step 5).
/// Comparing the result with the expected root is left to the caller
/// (see [`verify_inclusion`]).
pub fn root_from_inclusion(
    index: LeafIndex,
    size: TreeSize,
    leaf: &Digest,
    proof: &[Digest],
) -> Result<Digest, MerkleError> {
    let (index_raw, size_raw) = (index.get(), size.get());
    if index_raw >= size_raw {
        return Err(MerkleError::IndexOutOfRange {
            index: index_raw,
            size: size_raw,
        });
    }
    // Both are Some: index < size was just checked.
    let expected = inclusion_proof_len(index, size).unwrap_or(0);
    let mut fn_ = index_raw;
    let mut sn = size_raw - 1;
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(MerkleError::ProofTooLong {
                expected,
                actual: proof.len(),
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(MerkleError::ProofTooShort {
            expected,
            actual: proof.len(),
        });
    }
    Ok(r)
}

/// Verifies that `leaf` (a leaf *hash*, `SHA-256(0x00 || data)`) is leaf
/// number `index` of the tree of `size` leaves whose root is `root`
/// (RFC 9162 §2.1.3.2). `proof` is ordered leaf to root.
///
/// Policy: `index >= size` is rejected ([`MerkleError::IndexOutOfRange`];
/// this covers every proof against the empty tree). A proof of the wrong
/// length is rejected with [`MerkleError::ProofTooShort`] or
/// [`MerkleError::ProofTooLong`], a wrong hash with
/// [`MerkleError::RootMismatch`]. The root comparison is constant-time.
///
/// The proof binds the leaf, the index and the root, but the size only
/// through the shape of the path: `(index 0, size 3)` and `(index 0,
/// size 4)` hash alike. Take `size` and `root` from one signed checkpoint.
pub fn verify_inclusion(
    index: LeafIndex,
    size: TreeSize,
    leaf: &Digest,
    proof: &[Digest],
    root: &Digest,
) -> Result<(), MerkleError> {
    let computed = root_from_inclusion(index, size, leaf, proof)?;
    if computed == *root {
        Ok(())
    } else {
        Err(MerkleError::RootMismatch)
    }
}

/// Verifies that the tree of `old` leaves with root `old_root` is a prefix
/// of the tree of `new` leaves with root `new_root` (RFC 9162 §2.1.4.2).
/// `proof` is in the order of RFC 9162 §2.1.4.1 (as produced by
/// [`consistency_proof`](super::consistency_proof)).
///
/// Policies, checked in this order:
/// 1. `old > new`: rejected, [`MerkleError::SizeOrder`].
/// 2. `old == 0` (C2SP tlog-witness: "the empty tree is consistent with any
///    tree"): valid iff the proof is empty ([`MerkleError::ProofTooLong`]
///    otherwise) and `old_root` is the empty-tree root `SHA-256("")`
///    ([`MerkleError::OldRootMismatch`] otherwise; no tree of size 0 has any
///    other root). `new_root` is not constrained when `new > 0`.
/// 3. `old == new`: valid iff the proof is empty
///    ([`MerkleError::ProofTooLong`]) and the roots are equal
///    ([`MerkleError::SameSizeDifferentRoots`], a fork).
/// 4. `0 < old < new` with an empty proof: rejected,
///    [`MerkleError::EmptyProof`] (RFC step 1).
/// 5. Otherwise the RFC algorithm: the old root is prepended when `old` is
///    a power of two (step 2); a proof that runs past `sn == 0` is
///    [`MerkleError::ProofTooLong`], one that ends before is
///    [`MerkleError::ProofTooShort`]; then `fr` must equal `old_root`
///    ([`MerkleError::OldRootMismatch`]) and `sr` must equal `new_root`
///    ([`MerkleError::NewRootMismatch`]). The RFC checks the roots before
///    `sn`; the outcome is the same, only the reported variant differs.
pub fn verify_consistency(
    old: TreeSize,
    new: TreeSize,
    old_root: &Digest,
    new_root: &Digest,
    proof: &[Digest],
) -> Result<(), MerkleError> {
    let (old_raw, new_raw) = (old.get(), new.get());
    if old_raw > new_raw {
        return Err(MerkleError::SizeOrder {
            old: old_raw,
            new: new_raw,
        });
    }
    if old_raw == 0 || old_raw == new_raw {
        if !proof.is_empty() {
            return Err(MerkleError::ProofTooLong {
                expected: 0,
                actual: proof.len(),
            });
        }
        if old_raw == 0 && *old_root != empty_root() {
            return Err(MerkleError::OldRootMismatch);
        }
        if old_raw == new_raw && *old_root != *new_root {
            return Err(MerkleError::SameSizeDifferentRoots { size: old_raw });
        }
        return Ok(());
    }
    // Step 1.
    if proof.is_empty() {
        return Err(MerkleError::EmptyProof {
            old: old_raw,
            new: new_raw,
        });
    }
    // Both are Some: 0 < old < new.
    let expected = consistency_proof_len(old, new).unwrap_or(0);
    // Step 2, without copying: the path is `[old_root] ++ proof` or `proof`.
    let (first, rest): (&Digest, &[Digest]) = if old_raw.is_power_of_two() {
        (old_root, proof)
    } else {
        match proof.split_first() {
            Some((f, r)) => (f, r),
            None => {
                return Err(MerkleError::EmptyProof {
                    old: old_raw,
                    new: new_raw,
                })
            }
        }
    };
    let (fr, sr) = consistency_walk(old_raw, new_raw, first, rest, expected, proof.len())?;
    if fr != *old_root {
        return Err(MerkleError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(MerkleError::NewRootMismatch);
    }
    Ok(())
}

/// What a consistency proof shows about two signed roots, to anyone holding
/// only the two roots and the proof (split-view evidence, FORMAT.md §11.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofShows {
    /// The tree of size `old` with `old_root` is a prefix of the tree of
    /// size `new` with `new_root`.
    Consistent,
    /// The proof leads to `new_root`, so (under SHA-256's collision
    /// resistance) it opens the tree of size `new`, and that tree's first
    /// `old` leaves have the root `prefix_root`, which is not `old_root`:
    /// the two roots cannot both be honest states of one log.
    Inconsistent { prefix_root: Digest },
    /// Neither: the proof does not open `new_root` (or has the wrong shape).
    /// A failing proof is not evidence against the log, since anyone can
    /// write one.
    Nothing(MerkleError),
}

/// Judges a proof between the tree of `old` leaves with root `old_root` and
/// the tree of `new` leaves with root `new_root` (FORMAT.md §11.4,
/// "What proves a split view").
///
/// * `old > new`: [`ProofShows::Nothing`].
/// * `old == 0` or `old == new`: the proof must be empty; the roots decide
///   (size 0 has only the root `SHA-256("")`, one size has one root).
/// * `0 < old < new`: an RFC 9162 proof that verifies is
///   [`ProofShows::Consistent`]. Otherwise the path is walked with its
///   first element taken from the proof, never from `old_root`: when `old`
///   is not a power of two the RFC proof already starts with that node; when
///   it is, only a *complete* proof does (the RFC proof with the root of the
///   first `old` leaves prepended, one hash longer than
///   [`consistency_proof_len`]), since the RFC proof leaves that node to the
///   verifier. If the walk gives `sr == new_root`, its `fr` is the root of
///   the first `old` leaves of the tree `new_root` commits to: equal to
///   `old_root` is [`ProofShows::Consistent`], different is
///   [`ProofShows::Inconsistent`]. Any other outcome is
///   [`ProofShows::Nothing`].
pub fn judge_consistency(
    old: TreeSize,
    new: TreeSize,
    old_root: &Digest,
    new_root: &Digest,
    proof: &[Digest],
) -> ProofShows {
    let (old_raw, new_raw) = (old.get(), new.get());
    if old_raw > new_raw {
        return ProofShows::Nothing(MerkleError::SizeOrder {
            old: old_raw,
            new: new_raw,
        });
    }
    if old_raw == 0 || old_raw == new_raw {
        if !proof.is_empty() {
            return ProofShows::Nothing(MerkleError::ProofTooLong {
                expected: 0,
                actual: proof.len(),
            });
        }
        let prefix_root = if old_raw == 0 {
            empty_root()
        } else {
            *new_root
        };
        return if *old_root == prefix_root {
            ProofShows::Consistent
        } else {
            ProofShows::Inconsistent { prefix_root }
        };
    }
    let standard = match verify_consistency(old, new, old_root, new_root, proof) {
        Ok(()) => return ProofShows::Consistent,
        Err(e) => e,
    };
    let expected = consistency_proof_len(old, new).unwrap_or(0);
    let complete = expected + usize::from(old_raw.is_power_of_two());
    if proof.len() != complete {
        // Wrong shape, or (old a power of two) the RFC proof without the
        // prefix's root: it cannot be walked without trusting `old_root`.
        return ProofShows::Nothing(standard);
    }
    let Some((first, rest)) = proof.split_first() else {
        return ProofShows::Nothing(standard);
    };
    match consistency_walk(old_raw, new_raw, first, rest, complete, proof.len()) {
        Err(e) => ProofShows::Nothing(e),
        Ok((_, sr)) if sr != *new_root => ProofShows::Nothing(MerkleError::NewRootMismatch),
        Ok((fr, _)) if fr == *old_root => ProofShows::Consistent,
        Ok((fr, _)) => ProofShows::Inconsistent { prefix_root: fr },
    }
}

/// The complete consistency proof of FORMAT.md §11.4 from an RFC 9162 proof:
/// when `old` is a power of two, `prefix_root` (the root of the first `old`
/// leaves of the newer tree) is prepended; otherwise the proof is returned
/// as it is.
pub fn complete_consistency_proof(
    old: TreeSize,
    prefix_root: Digest,
    mut proof: Vec<Digest>,
) -> Vec<Digest> {
    if old.get() > 0 && old.get().is_power_of_two() && !proof.is_empty() {
        proof.insert(0, prefix_root);
    }
    proof
}

/// Steps 3-7 of RFC 9162 §2.1.4.2 for `0 < old < new`: the roots `(fr, sr)`
/// that the path `[first] ++ rest` leads to, with the `sn == 0` length
/// checks. `expected` and `given` only fill the error.
fn consistency_walk(
    old_raw: u64,
    new_raw: u64,
    first: &Digest,
    rest: &[Digest],
    expected: usize,
    given: usize,
) -> Result<(Digest, Digest), MerkleError> {
    let too_long = MerkleError::ProofTooLong {
        expected,
        actual: given,
    };
    // Steps 3-4.
    let mut fn_ = old_raw - 1;
    let mut sn = new_raw - 1;
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5.
    let mut fr = *first;
    let mut sr = *first;
    // Step 6.
    for c in rest {
        if sn == 0 {
            return Err(too_long);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 7.
    if sn != 0 {
        return Err(MerkleError::ProofTooShort {
            expected,
            actual: given,
        });
    }
    Ok((fr, sr))
}

/// Parses a raw hash, or reports its role and length.
fn digest(bytes: &[u8], role: HashRole) -> Result<Digest, MerkleError> {
    Digest::from_slice(bytes).ok_or(MerkleError::WrongHashLength {
        role,
        len: bytes.len(),
    })
}

/// Parses every raw proof element, or reports the first wrong length.
fn digests<P: AsRef<[u8]>>(proof: &[P]) -> Result<Vec<Digest>, MerkleError> {
    proof
        .iter()
        .enumerate()
        .map(|(i, p)| digest(p.as_ref(), HashRole::ProofElement(i)))
        .collect()
}

/// [`verify_inclusion`] over raw bytes, for hashes that come from outside
/// (JSON, HTTP, test vectors).
///
/// Every input hash must be exactly 32 bytes, checked **before** anything
/// else (in the order leaf, root, proof elements), and reported as
/// [`MerkleError::WrongHashLength`]. Without this check two empty strings
/// would compare equal and a one-leaf "proof" with empty leaf and root would
/// pass (transparency-dev/merkle `single-entry/empty-root-and-leaf`).
pub fn verify_inclusion_bytes<P: AsRef<[u8]>>(
    index: LeafIndex,
    size: TreeSize,
    leaf: &[u8],
    proof: &[P],
    root: &[u8],
) -> Result<(), MerkleError> {
    let leaf = digest(leaf, HashRole::Leaf)?;
    let root = digest(root, HashRole::Root)?;
    let proof = digests(proof)?;
    verify_inclusion(index, size, &leaf, &proof, &root)
}

/// [`verify_consistency`] over raw bytes.
///
/// Every input hash must be exactly 32 bytes, checked **before** anything
/// else (in the order old root, new root, proof elements), including when
/// `old == new` or `old == 0`, and reported as
/// [`MerkleError::WrongHashLength`]. (transparency-dev/merkle skips the
/// check when the sizes are equal; this project does not.)
pub fn verify_consistency_bytes<P: AsRef<[u8]>>(
    old: TreeSize,
    new: TreeSize,
    old_root: &[u8],
    new_root: &[u8],
    proof: &[P],
) -> Result<(), MerkleError> {
    let old_root = digest(old_root, HashRole::OldRoot)?;
    let new_root = digest(new_root, HashRole::NewRoot)?;
    let proof = digests(proof)?;
    verify_consistency(old, new, &old_root, &new_root, &proof)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::merkle::{leaf_hash, MemoryTree};

    /// RFC 9162 §2.1.5 worked example: 7 leaves a..f, j.
    #[test]
    fn rfc_worked_example() {
        let leaves: Vec<Digest> = (0u8..7).map(|i| leaf_hash(&[i])).collect();
        let [a, b, c, d, e, f, j] = [0, 1, 2, 3, 4, 5, 6].map(|i| leaves[i]);
        let (g, h, i) = (node_hash(&a, &b), node_hash(&c, &d), node_hash(&e, &f));
        let (k, l) = (node_hash(&g, &h), node_hash(&i, &j));
        let root = node_hash(&k, &l);
        let t = MemoryTree::from_leaf_hashes(leaves.iter().copied());
        assert_eq!(t.root(), root);
        let s = TreeSize(7);
        let cases = [
            (0, vec![b, h, l]),
            (3, vec![c, g, l]),
            (4, vec![f, j, k]),
            (6, vec![i, k]),
        ];
        for (idx, want) in cases {
            let got = t.inclusion_proof(LeafIndex(idx), s).unwrap();
            assert_eq!(got, want, "leaf {idx}");
            verify_inclusion(LeafIndex(idx), s, &leaves[idx as usize], &got, &root).unwrap();
        }
        let cons = [(3, vec![c, d, g, l]), (4, vec![l]), (6, vec![i, j, k])];
        for (old, want) in cons {
            let got = t.consistency_proof(TreeSize(old), s).unwrap();
            assert_eq!(got, want, "from {old}");
            let old_root = t.root_at(TreeSize(old)).unwrap();
            verify_consistency(TreeSize(old), s, &old_root, &root, &got).unwrap();
        }
    }

    #[test]
    fn edge_policies() {
        let t: MemoryTree = (0u8..5).map(|i| leaf_hash(&[i])).collect();
        let r5 = t.root();
        let e = empty_root();
        // old == 0: empty proof and the empty root.
        assert_eq!(
            verify_consistency(TreeSize(0), TreeSize(5), &e, &r5, &[]),
            Ok(())
        );
        assert_eq!(
            verify_consistency(TreeSize(0), TreeSize(5), &r5, &r5, &[]),
            Err(MerkleError::OldRootMismatch)
        );
        assert_eq!(
            verify_consistency(TreeSize(0), TreeSize(5), &e, &r5, &[r5]),
            Err(MerkleError::ProofTooLong {
                expected: 0,
                actual: 1
            })
        );
        assert_eq!(
            verify_consistency(TreeSize(0), TreeSize(0), &e, &e, &[]),
            Ok(())
        );
        // old == new.
        assert_eq!(
            verify_consistency(TreeSize(5), TreeSize(5), &r5, &r5, &[]),
            Ok(())
        );
        assert_eq!(
            verify_consistency(TreeSize(5), TreeSize(5), &r5, &e, &[]),
            Err(MerkleError::SameSizeDifferentRoots { size: 5 })
        );
        // old > new.
        assert_eq!(
            verify_consistency(TreeSize(6), TreeSize(5), &r5, &r5, &[]),
            Err(MerkleError::SizeOrder { old: 6, new: 5 })
        );
        // 0 < old < new, empty proof.
        let r4 = t.root_at(TreeSize(4)).unwrap();
        assert_eq!(
            verify_consistency(TreeSize(4), TreeSize(5), &r4, &r5, &[]),
            Err(MerkleError::EmptyProof { old: 4, new: 5 })
        );
        // Inclusion against the empty tree.
        assert_eq!(
            verify_inclusion(LeafIndex(0), TreeSize(0), &e, &[], &e),
            Err(MerkleError::IndexOutOfRange { index: 0, size: 0 })
        );
        // Raw lengths are checked before the sizes.
        assert_eq!(
            verify_inclusion_bytes::<&[u8]>(LeafIndex(0), TreeSize(1), b"", &[], b""),
            Err(MerkleError::WrongHashLength {
                role: HashRole::Leaf,
                len: 0
            })
        );
        assert_eq!(
            verify_consistency_bytes(
                TreeSize(1),
                TreeSize(1),
                r5.as_bytes(),
                r5.as_bytes(),
                &[[0u8; 31]]
            ),
            Err(MerkleError::WrongHashLength {
                role: HashRole::ProofElement(0),
                len: 31
            })
        );
    }

    fn tree(n: u64, salt: &str) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.push_data(format!("{salt}{i}").as_bytes());
        }
        t
    }

    /// FORMAT.md §11.4: a proof shows inconsistency only when it opens the
    /// newer root; a failing proof shows nothing, and an RFC proof from a
    /// power-of-two size cannot show inconsistency (it lacks the prefix root).
    #[test]
    fn judge_consistency_proves_only_what_opens_the_new_root() {
        for n in 2..=13u64 {
            let honest = tree(n, "a");
            for m in 1..n {
                let (old, new) = (TreeSize(m), TreeSize(n));
                // The first leaf differs: every prefix has another root.
                let mut forked = MemoryTree::new();
                forked.push_data(b"forked");
                for i in 1..n {
                    forked.push_data(format!("a{i}").as_bytes());
                }
                let honest_old = honest.root_at(old).unwrap();
                let forked_old = forked.root_at(old).unwrap();
                let rfc = honest.consistency_proof(old, new).unwrap();
                let full = complete_consistency_proof(old, honest_old, rfc.clone());
                for p in [&rfc, &full] {
                    assert_eq!(
                        judge_consistency(old, new, &honest_old, &honest.root(), p),
                        ProofShows::Consistent,
                        "{m}->{n}"
                    );
                }
                // The forked log's own proofs against the honest old root.
                let frfc = forked.consistency_proof(old, new).unwrap();
                let ffull = complete_consistency_proof(old, forked_old, frfc.clone());
                let shows = judge_consistency(old, new, &honest_old, &forked.root(), &frfc);
                if m.is_power_of_two() {
                    assert!(matches!(shows, ProofShows::Nothing(_)), "{m}->{n}");
                } else {
                    assert_eq!(
                        shows,
                        ProofShows::Inconsistent {
                            prefix_root: forked_old
                        },
                        "{m}->{n}"
                    );
                }
                assert_eq!(
                    judge_consistency(old, new, &honest_old, &forked.root(), &ffull),
                    ProofShows::Inconsistent {
                        prefix_root: forked_old
                    },
                    "{m}->{n}"
                );
                // Any altered hash: nothing is shown, neither way.
                for i in 0..ffull.len() {
                    for p in [&rfc, &full, &frfc, &ffull] {
                        if i >= p.len() {
                            continue;
                        }
                        let mut bad = p.clone();
                        bad[i] = node_hash(&bad[i], &bad[i]);
                        for new_root in [honest.root(), forked.root()] {
                            assert!(
                                matches!(
                                    judge_consistency(old, new, &honest_old, &new_root, &bad),
                                    ProofShows::Nothing(_)
                                ),
                                "{m}->{n} element {i}"
                            );
                        }
                    }
                }
                // No proof at all shows nothing.
                assert!(matches!(
                    judge_consistency(old, new, &honest_old, &honest.root(), &[]),
                    ProofShows::Nothing(_)
                ));
            }
        }
        // Equal sizes and size 0 are decided by the roots alone.
        let (t, f) = (tree(4, "a"), tree(4, "b"));
        let four = TreeSize(4);
        assert_eq!(
            judge_consistency(four, four, &t.root(), &t.root(), &[]),
            ProofShows::Consistent
        );
        assert_eq!(
            judge_consistency(four, four, &t.root(), &f.root(), &[]),
            ProofShows::Inconsistent {
                prefix_root: f.root()
            }
        );
        assert_eq!(
            judge_consistency(TreeSize(0), four, &empty_root(), &t.root(), &[]),
            ProofShows::Consistent
        );
        assert!(matches!(
            judge_consistency(TreeSize(0), four, &t.root(), &t.root(), &[]),
            ProofShows::Inconsistent { .. }
        ));
        assert!(matches!(
            judge_consistency(TreeSize(5), four, &t.root(), &t.root(), &[]),
            ProofShows::Nothing(MerkleError::SizeOrder { .. })
        ));
    }
}
