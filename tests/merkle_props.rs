//! Property tests of the Merkle module against a naive recursive
//! implementation of RFC 9162 §2.1 written here from the RFC text.

use custody::core::hash::Digest;
use custody::core::merkle::*;
use proptest::prelude::*;

const MAX: u64 = 300;

fn leaves(n: u64) -> Vec<Digest> {
    (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D_n), RFC 9162 §2.1.1, by direct recursion over leaf hashes.
fn mth(d: &[Digest]) -> Digest {
    match d.len() {
        0 => Digest::of(b""),
        1 => d[0],
        n => {
            let k = k_of(n);
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

/// PATH(m, D_n), RFC 9162 §2.1.3.1.
fn path(m: usize, d: &[Digest]) -> Vec<Digest> {
    if d.len() <= 1 {
        return Vec::new();
    }
    let k = k_of(d.len());
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

/// SUBPROOF(m, D_n, b), RFC 9162 §2.1.4.1.
fn subproof(m: usize, d: &[Digest], b: bool) -> Vec<Digest> {
    let n = d.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

/// For each element of an inclusion proof, whether the verifier hashes it
/// on the left: only the shape, no hashes (RFC 9162 §2.1.3.2 control flow).
fn inclusion_shape(index: u64, size: u64) -> Vec<bool> {
    let (mut fn_, mut sn) = (index, size - 1);
    let mut out = Vec::new();
    while sn != 0 {
        let left = fn_ & 1 == 1 || fn_ == sn;
        if left {
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        }
        out.push(left);
        fn_ >>= 1;
        sn >>= 1;
    }
    out
}

fn size_and_index() -> impl Strategy<Value = (u64, u64)> {
    (1..=MAX).prop_flat_map(|n| (Just(n), 0..n))
}

fn sizes_ordered() -> impl Strategy<Value = (u64, u64)> {
    (1..=MAX).prop_flat_map(|n| (0..=n, Just(n)))
}

proptest! {
    #[test]
    fn roots_match_naive_mth((m, n) in (0..=MAX).prop_flat_map(|n| (0..=n, Just(n)))) {
        let d = leaves(n);
        let t = MemoryTree::from_leaf_hashes(d.iter().copied());
        prop_assert_eq!(t.size(), TreeSize(n));
        prop_assert_eq!(t.root(), mth(&d));
        prop_assert_eq!(root(&t, TreeSize(n)).unwrap(), mth(&d));
        // A prefix, from the same stored nodes.
        prop_assert_eq!(t.root_at(TreeSize(m)).unwrap(), mth(&d[..m as usize]));
    }

    #[test]
    fn inclusion_proofs_match_rfc_and_verify((n, i) in size_and_index()) {
        let d = leaves(n);
        let t = MemoryTree::from_leaf_hashes(d.iter().copied());
        let (index, size) = (LeafIndex(i), TreeSize(n));
        let proof = inclusion_proof(&t, index, size).unwrap();
        prop_assert_eq!(&proof, &path(i as usize, &d));
        prop_assert_eq!(Some(proof.len()), inclusion_proof_len(index, size));
        let r = t.root();
        prop_assert_eq!(verify_inclusion(index, size, &d[i as usize], &proof, &r), Ok(()));
        prop_assert_eq!(root_from_inclusion(index, size, &d[i as usize], &proof), Ok(r));
        let raw: Vec<Vec<u8>> = proof.iter().map(|p| p.as_bytes().to_vec()).collect();
        prop_assert_eq!(
            verify_inclusion_bytes(index, size, d[i as usize].as_bytes(), &raw, r.as_bytes()),
            Ok(())
        );
    }

    #[test]
    fn inclusion_in_prefix_trees((n, i) in size_and_index(), extra in 0..50u64) {
        // Proofs for an older size, generated from a tree that has grown.
        let d = leaves(n + extra);
        let t = MemoryTree::from_leaf_hashes(d.iter().copied());
        let size = TreeSize(n);
        let proof = inclusion_proof(&t, LeafIndex(i), size).unwrap();
        prop_assert_eq!(&proof, &path(i as usize, &d[..n as usize]));
        let r = t.root_at(size).unwrap();
        prop_assert_eq!(verify_inclusion(LeafIndex(i), size, &d[i as usize], &proof, &r), Ok(()));
    }

    #[test]
    fn consistency_proofs_match_rfc_and_verify((m, n) in sizes_ordered()) {
        let d = leaves(n);
        let t = MemoryTree::from_leaf_hashes(d.iter().copied());
        let (old, new) = (TreeSize(m), TreeSize(n));
        let proof = consistency_proof(&t, old, new).unwrap();
        let want = if m == 0 || m == n { Vec::new() } else { subproof(m as usize, &d, true) };
        prop_assert_eq!(&proof, &want);
        prop_assert_eq!(Some(proof.len()), consistency_proof_len(old, new));
        let (r_old, r_new) = (t.root_at(old).unwrap(), t.root());
        prop_assert_eq!(verify_consistency(old, new, &r_old, &r_new, &proof), Ok(()));
        let raw: Vec<Vec<u8>> = proof.iter().map(|p| p.as_bytes().to_vec()).collect();
        prop_assert_eq!(
            verify_consistency_bytes(old, new, r_old.as_bytes(), r_new.as_bytes(), &raw),
            Ok(())
        );
    }

    #[test]
    fn subtree_hash_matches_naive(
        (level, idx) in (0u32..9).prop_flat_map(|l| (Just(l), 0u64..=((2 * MAX) >> l))),
        len_cut in 0u64..256,
    ) {
        // A subtree [start, end) with start aligned to 2^level and a length
        // of at most 2^level.
        let width = 1u64 << level;
        let start = idx * width;
        let len = 1 + len_cut % width;
        let end = start + len;
        let d = leaves(end + 3);
        let t = MemoryTree::from_leaf_hashes(d.iter().copied());
        prop_assert_eq!(
            subtree_hash(&t, LeafIndex(start), LeafIndex(end)).unwrap(),
            mth(&d[start as usize..end as usize])
        );
    }

    #[test]
    fn overlay_appends_equal_memory_tree(base in 0..=MAX, batch in 0..=MAX) {
        let d = leaves(base + batch);
        let before = MemoryTree::from_leaf_hashes(d[..base as usize].iter().copied());
        let after = MemoryTree::from_leaf_hashes(d.iter().copied());
        let mut ov = Overlay::new(&before, TreeSize(base));
        for (k, leaf) in d[base as usize..].iter().enumerate() {
            prop_assert_eq!(ov.push(*leaf).unwrap(), LeafIndex(base + k as u64));
        }
        prop_assert_eq!(ov.size(), after.size());
        prop_assert_eq!(root(&ov, ov.size()).unwrap(), after.root());
        // Exactly the nodes the bigger tree has and the smaller one lacks.
        let mut want = Vec::new();
        for level in 0u8..64 {
            for i in (base >> level)..((base + batch) >> level) {
                want.push((level, i, after.node(level, i).unwrap()));
            }
        }
        prop_assert_eq!(ov.into_nodes(), want);
    }

    #[test]
    fn append_nodes_one_by_one(n in 0..=MAX) {
        let d = leaves(n + 1);
        let before = MemoryTree::from_leaf_hashes(d[..n as usize].iter().copied());
        let after = MemoryTree::from_leaf_hashes(d.iter().copied());
        let nodes = append_nodes(&before, LeafIndex(n), d[n as usize]).unwrap();
        prop_assert_eq!(nodes.len() as u32, 1 + n.trailing_ones());
        for (level, i, h) in nodes {
            prop_assert_eq!(i, n >> level);
            prop_assert_eq!(after.node(level, i).unwrap(), h);
        }
    }

    #[test]
    fn tampered_inclusion_fails((n, i) in size_and_index(), pick in any::<prop::sample::Index>(), bit in 0u8..8) {
        let d = leaves(n);
        let t = MemoryTree::from_leaf_hashes(d.iter().copied());
        let (index, size) = (LeafIndex(i), TreeSize(n));
        let proof = inclusion_proof(&t, index, size).unwrap();
        let r = t.root();
        let leaf = d[i as usize];
        // One flipped bit anywhere in the proof, the leaf or the root.
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let e = pick.index(bad.len());
            let byte = pick.index(32);
            bad[e].0[byte] ^= 1 << bit;
            prop_assert_eq!(verify_inclusion(index, size, &leaf, &bad, &r), Err(MerkleError::RootMismatch));
        }
        let mut bad_leaf = leaf;
        bad_leaf.0[pick.index(32)] ^= 1 << bit;
        prop_assert_eq!(verify_inclusion(index, size, &bad_leaf, &proof, &r), Err(MerkleError::RootMismatch));
        let mut bad_root = r;
        bad_root.0[pick.index(32)] ^= 1 << bit;
        prop_assert_eq!(verify_inclusion(index, size, &leaf, &proof, &bad_root), Err(MerkleError::RootMismatch));
        // A proof one element too long or too short.
        let mut longer = proof.clone();
        longer.push(r);
        prop_assert_eq!(
            verify_inclusion(index, size, &leaf, &longer, &r),
            Err(MerkleError::ProofTooLong { expected: proof.len(), actual: proof.len() + 1 })
        );
        if !proof.is_empty() {
            let shorter = &proof[..proof.len() - 1];
            prop_assert_eq!(
                verify_inclusion(index, size, &leaf, shorter, &r),
                Err(MerkleError::ProofTooShort { expected: proof.len(), actual: proof.len() - 1 })
            );
        }
    }

    #[test]
    fn changed_index_fails((n, i) in size_and_index(), j in 0..MAX + 2) {
        prop_assume!(j != i);
        let d = leaves(n);
        let t = MemoryTree::from_leaf_hashes(d.iter().copied());
        let size = TreeSize(n);
        let proof = inclusion_proof(&t, LeafIndex(i), size).unwrap();
        let got = verify_inclusion(LeafIndex(j), size, &d[i as usize], &proof, &t.root());
        let want_len = inclusion_proof_len(LeafIndex(j), size);
        match want_len {
            None => prop_assert_eq!(got, Err(MerkleError::IndexOutOfRange { index: j, size: n })),
            Some(l) if l < proof.len() => prop_assert_eq!(got, Err(MerkleError::ProofTooLong { expected: l, actual: proof.len() })),
            Some(l) if l > proof.len() => prop_assert_eq!(got, Err(MerkleError::ProofTooShort { expected: l, actual: proof.len() })),
            // A different position in the same tree always changes the
            // order of hashing (the path from the root is the position).
            Some(_) => prop_assert_eq!(got, Err(MerkleError::RootMismatch)),
        }
    }

    #[test]
    fn changed_size_fails_unless_same_shape((n, i) in size_and_index(), n2 in 0..MAX + 2) {
        prop_assume!(n2 != n);
        let d = leaves(n);
        let t = MemoryTree::from_leaf_hashes(d.iter().copied());
        let proof = inclusion_proof(&t, LeafIndex(i), TreeSize(n)).unwrap();
        let got = verify_inclusion(LeafIndex(i), TreeSize(n2), &d[i as usize], &proof, &t.root());
        if i >= n2 {
            prop_assert_eq!(got, Err(MerkleError::IndexOutOfRange { index: i, size: n2 }));
        } else {
            let l = inclusion_proof_len(LeafIndex(i), TreeSize(n2)).unwrap();
            if l < proof.len() {
                prop_assert_eq!(got, Err(MerkleError::ProofTooLong { expected: l, actual: proof.len() }));
            } else if l > proof.len() {
                prop_assert_eq!(got, Err(MerkleError::ProofTooShort { expected: l, actual: proof.len() }));
            } else if inclusion_shape(i, n2) == inclusion_shape(i, n) {
                // RFC 9162 inclusion proofs bind the size only through the
                // shape of the path: (0, 3) and (0, 4) hash alike. The root
                // must come from a checkpoint that states the size.
                prop_assert_eq!(got, Ok(()));
            } else {
                prop_assert_eq!(got, Err(MerkleError::RootMismatch));
            }
        }
    }

    #[test]
    fn tampered_consistency_fails((m, n) in sizes_ordered(), pick in any::<prop::sample::Index>(), bit in 0u8..8, m2 in 0..MAX + 2) {
        let d = leaves(n);
        let t = MemoryTree::from_leaf_hashes(d.iter().copied());
        let (old, new) = (TreeSize(m), TreeSize(n));
        let proof = consistency_proof(&t, old, new).unwrap();
        let (r_old, r_new) = (t.root_at(old).unwrap(), t.root());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let e = pick.index(bad.len());
            bad[e].0[pick.index(32)] ^= 1 << bit;
            let got = verify_consistency(old, new, &r_old, &r_new, &bad);
            prop_assert!(
                matches!(got, Err(MerkleError::OldRootMismatch | MerkleError::NewRootMismatch)),
                "flipped element {}: {:?}", e, got
            );
        }
        let mut bad_old = r_old;
        bad_old.0[pick.index(32)] ^= 1 << bit;
        let got = verify_consistency(old, new, &bad_old, &r_new, &proof);
        if m == n && m > 0 {
            prop_assert_eq!(got, Err(MerkleError::SameSizeDifferentRoots { size: m }));
        } else if m > 0 && m < n && m.is_power_of_two() {
            // The verifier prepends the claimed old root and `fr` stays that
            // root (RFC 9162 §2.1.4.2 step 2), so the damage shows in `sr`.
            prop_assert_eq!(got, Err(MerkleError::NewRootMismatch));
        } else {
            prop_assert_eq!(got, Err(MerkleError::OldRootMismatch));
        }
        let mut bad_new = r_new;
        bad_new.0[pick.index(32)] ^= 1 << bit;
        let got = verify_consistency(old, new, &r_old, &bad_new, &proof);
        if m == 0 {
            // The empty tree is a prefix of every tree: nothing to check.
            prop_assert_eq!(got, Ok(()));
        } else if m == n {
            prop_assert_eq!(got, Err(MerkleError::SameSizeDifferentRoots { size: m }));
        } else {
            prop_assert_eq!(got, Err(MerkleError::NewRootMismatch));
        }
        // Another old size with the same roots and proof.
        if m2 != m {
            let got = verify_consistency(TreeSize(m2), new, &r_old, &r_new, &proof);
            let len = consistency_proof_len(TreeSize(m2), new);
            match len {
                None => prop_assert_eq!(got, Err(MerkleError::SizeOrder { old: m2, new: n })),
                Some(0) => prop_assert_eq!(
                    got,
                    if proof.is_empty() {
                        Err(if m2 == 0 { MerkleError::OldRootMismatch } else { MerkleError::SameSizeDifferentRoots { size: n } })
                    } else {
                        Err(MerkleError::ProofTooLong { expected: 0, actual: proof.len() })
                    }
                ),
                Some(_) if proof.is_empty() => prop_assert_eq!(got, Err(MerkleError::EmptyProof { old: m2, new: n })),
                Some(l) if l < proof.len() => prop_assert_eq!(got, Err(MerkleError::ProofTooLong { expected: l, actual: proof.len() })),
                Some(l) if l > proof.len() => prop_assert_eq!(got, Err(MerkleError::ProofTooShort { expected: l, actual: proof.len() })),
                Some(_) => prop_assert!(
                    matches!(got, Err(MerkleError::OldRootMismatch | MerkleError::NewRootMismatch)),
                    "old size {} instead of {}: {:?}", m2, m, got
                ),
            }
        }
    }
}
