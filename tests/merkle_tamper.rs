//! Tamper tests that assert which error comes back, the argument errors of
//! proof generation, and the O(log n) read bound at sizes up to `u64::MAX`.

use std::cell::Cell;

use custody::core::hash::Digest;
use custody::core::merkle::*;

fn tree(n: u64) -> (Vec<Digest>, MemoryTree) {
    let d: Vec<Digest> = (0..n)
        .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
        .collect();
    let t = MemoryTree::from_leaf_hashes(d.iter().copied());
    (d, t)
}

/// Counts node reads of an inner source.
struct Counting<S> {
    inner: S,
    reads: Cell<usize>,
}

impl<S: NodeSource> NodeSource for Counting<S> {
    type Error = S::Error;
    fn node(&self, level: u8, index: u64) -> Result<Digest, S::Error> {
        self.reads.set(self.reads.get() + 1);
        self.inner.node(level, index)
    }
    fn stored_leaves(&self) -> Result<Option<u64>, S::Error> {
        self.inner.stored_leaves()
    }
}

impl<S> Counting<S> {
    fn take(&self) -> usize {
        self.reads.replace(0)
    }
}

/// A consistent tree of `u64::MAX` identical leaves: every node at a level
/// has the same hash, so any size can be proved without storing anything.
struct Uniform {
    levels: Vec<Digest>,
}

impl Uniform {
    fn new() -> Self {
        let mut levels = vec![leaf_hash(b"same")];
        for l in 0..63 {
            let h = levels[l];
            levels.push(node_hash(&h, &h));
        }
        Uniform { levels }
    }
}

impl NodeSource for Uniform {
    type Error = NodeNotFound;
    fn node(&self, level: u8, index: u64) -> Result<Digest, NodeNotFound> {
        // Only nodes that fit below u64::MAX leaves exist.
        let end = (index.checked_add(1)).and_then(|e| e.checked_mul(1u64 << level));
        match (self.levels.get(usize::from(level)), end) {
            (Some(h), Some(_)) => Ok(*h),
            _ => Err(NodeNotFound { level, index }),
        }
    }
}

/// A source that does not know its size: missing nodes surface as its
/// own error.
struct NoSize(MemoryTree);

impl NodeSource for NoSize {
    type Error = NodeNotFound;
    fn node(&self, level: u8, index: u64) -> Result<Digest, NodeNotFound> {
        self.0.node(level, index)
    }
}

#[test]
fn inclusion_tamper_variants() {
    let (d, t) = tree(13);
    let (i, n) = (LeafIndex(6), TreeSize(13));
    let leaf = d[6];
    let r = t.root();
    let proof = t.inclusion_proof(i, n).unwrap();
    assert_eq!(proof.len(), 4);
    assert_eq!(verify_inclusion(i, n, &leaf, &proof, &r), Ok(()));

    for e in 0..proof.len() {
        let mut bad = proof.clone();
        bad[e].0[7] ^= 0x04;
        assert_eq!(
            verify_inclusion(i, n, &leaf, &bad, &r),
            Err(MerkleError::RootMismatch),
            "element {e}"
        );
    }
    let mut swapped = proof.clone();
    swapped.swap(0, 1);
    assert_eq!(
        verify_inclusion(i, n, &leaf, &swapped, &r),
        Err(MerkleError::RootMismatch)
    );
    assert_eq!(
        verify_inclusion(i, n, &d[7], &proof, &r),
        Err(MerkleError::RootMismatch)
    );
    assert_eq!(
        verify_inclusion(LeafIndex(7), n, &leaf, &proof, &r),
        Err(MerkleError::RootMismatch)
    );
    assert_eq!(
        verify_inclusion(LeafIndex(13), n, &leaf, &proof, &r),
        Err(MerkleError::IndexOutOfRange {
            index: 13,
            size: 13
        })
    );
    assert_eq!(
        verify_inclusion(i, TreeSize(26), &leaf, &proof, &r),
        Err(MerkleError::ProofTooShort {
            expected: 5,
            actual: 4
        })
    );
    assert_eq!(
        verify_inclusion(i, TreeSize(7), &leaf, &proof, &r),
        Err(MerkleError::ProofTooLong {
            expected: 2,
            actual: 4
        })
    );
    assert_eq!(
        verify_inclusion(i, n, &leaf, &proof[..3], &r),
        Err(MerkleError::ProofTooShort {
            expected: 4,
            actual: 3
        })
    );
    let mut longer = proof.clone();
    longer.push(r);
    assert_eq!(
        verify_inclusion(i, n, &leaf, &longer, &r),
        Err(MerkleError::ProofTooLong {
            expected: 4,
            actual: 5
        })
    );
    let mut preceding = vec![r];
    preceding.extend_from_slice(&proof);
    assert_eq!(
        verify_inclusion(i, n, &leaf, &preceding, &r),
        Err(MerkleError::ProofTooLong {
            expected: 4,
            actual: 5
        })
    );

    // Raw bytes: every length is checked before anything else.
    let raw: Vec<Vec<u8>> = proof.iter().map(|p| p.as_bytes().to_vec()).collect();
    assert_eq!(
        verify_inclusion_bytes(i, n, leaf.as_bytes(), &raw, r.as_bytes()),
        Ok(())
    );
    assert_eq!(
        verify_inclusion_bytes(i, n, &leaf.as_bytes()[..31], &raw, r.as_bytes()),
        Err(MerkleError::WrongHashLength {
            role: HashRole::Leaf,
            len: 31
        })
    );
    assert_eq!(
        verify_inclusion_bytes(i, n, leaf.as_bytes(), &raw, &[0u8; 33]),
        Err(MerkleError::WrongHashLength {
            role: HashRole::Root,
            len: 33
        })
    );
    let mut bad = raw.clone();
    bad[2].push(0);
    assert_eq!(
        verify_inclusion_bytes(i, n, leaf.as_bytes(), &bad, r.as_bytes()),
        Err(MerkleError::WrongHashLength {
            role: HashRole::ProofElement(2),
            len: 33
        })
    );
    // Even with an out-of-range index, the length error is reported first.
    assert_eq!(
        verify_inclusion_bytes(LeafIndex(99), n, leaf.as_bytes(), &bad, r.as_bytes()),
        Err(MerkleError::WrongHashLength {
            role: HashRole::ProofElement(2),
            len: 33
        })
    );
}

#[test]
fn consistency_tamper_variants() {
    let (_, t) = tree(13);
    let (old, new) = (TreeSize(5), TreeSize(13));
    let (r5, r13) = (t.root_at(old).unwrap(), t.root());
    let proof = t.consistency_proof(old, new).unwrap();
    assert_eq!(proof.len(), consistency_proof_len(old, new).unwrap());
    assert_eq!(verify_consistency(old, new, &r5, &r13, &proof), Ok(()));

    for e in 0..proof.len() {
        let mut bad = proof.clone();
        bad[e].0[0] ^= 0x80;
        let got = verify_consistency(old, new, &r5, &r13, &bad);
        assert!(
            matches!(
                got,
                Err(MerkleError::OldRootMismatch | MerkleError::NewRootMismatch)
            ),
            "element {e}: {got:?}"
        );
    }
    // PROOF(5, D[13]) = [d4, d5, MTH(D[6:8]), MTH(D[0:4]), MTH(D[8:13])]:
    // MTH(D[0:4]) feeds both roots (the old root is checked first), the
    // right part MTH(D[8:13]) only the new root.
    assert_eq!(proof[0], t.leaf(LeafIndex(4)).unwrap());
    assert_eq!(proof[3], t.node(2, 0).unwrap());
    assert_eq!(
        proof[4],
        subtree_hash(&t, LeafIndex(8), LeafIndex(13)).unwrap()
    );
    let mut bad = proof.clone();
    bad[3].0[0] ^= 1;
    assert_eq!(
        verify_consistency(old, new, &r5, &r13, &bad),
        Err(MerkleError::OldRootMismatch)
    );
    let mut bad = proof.clone();
    bad[4].0[0] ^= 1;
    assert_eq!(
        verify_consistency(old, new, &r5, &r13, &bad),
        Err(MerkleError::NewRootMismatch)
    );
    assert_eq!(
        verify_consistency(old, new, &r13, &r5, &proof),
        Err(MerkleError::OldRootMismatch)
    );
    assert_eq!(
        verify_consistency(old, new, &r5, &r5, &proof),
        Err(MerkleError::NewRootMismatch)
    );
    assert_eq!(
        verify_consistency(old, new, &r5, &r13, &[]),
        Err(MerkleError::EmptyProof { old: 5, new: 13 })
    );
    assert_eq!(
        verify_consistency(new, old, &r13, &r5, &proof),
        Err(MerkleError::SizeOrder { old: 13, new: 5 })
    );
    let k = proof.len();
    assert_eq!(
        verify_consistency(old, new, &r5, &r13, &proof[..k - 1]),
        Err(MerkleError::ProofTooShort {
            expected: k,
            actual: k - 1
        })
    );
    let mut longer = proof.clone();
    longer.push(r13);
    assert_eq!(
        verify_consistency(old, new, &r5, &r13, &longer),
        Err(MerkleError::ProofTooLong {
            expected: k,
            actual: k + 1
        })
    );

    // Policies at the edges.
    let e = empty_root();
    assert_eq!(verify_consistency(TreeSize(0), new, &e, &r13, &[]), Ok(()));
    assert_eq!(
        verify_consistency(TreeSize(0), new, &r5, &r13, &[]),
        Err(MerkleError::OldRootMismatch)
    );
    assert_eq!(
        verify_consistency(TreeSize(0), new, &e, &r13, &proof),
        Err(MerkleError::ProofTooLong {
            expected: 0,
            actual: k
        })
    );
    assert_eq!(verify_consistency(new, new, &r13, &r13, &[]), Ok(()));
    assert_eq!(
        verify_consistency(new, new, &r13, &r5, &[]),
        Err(MerkleError::SameSizeDifferentRoots { size: 13 })
    );
    assert_eq!(
        verify_consistency(new, new, &r13, &r13, &[r13]),
        Err(MerkleError::ProofTooLong {
            expected: 0,
            actual: 1
        })
    );
    assert_eq!(
        verify_consistency(TreeSize(0), TreeSize(0), &e, &e, &[]),
        Ok(())
    );

    // Raw bytes, including at equal sizes.
    let raw: Vec<[u8; 32]> = proof.iter().map(|p| p.0).collect();
    assert_eq!(
        verify_consistency_bytes(old, new, r5.as_bytes(), r13.as_bytes(), &raw),
        Ok(())
    );
    assert_eq!(
        verify_consistency_bytes::<&[u8]>(new, new, &[1u8; 12], &[1u8; 12], &[]),
        Err(MerkleError::WrongHashLength {
            role: HashRole::OldRoot,
            len: 12
        })
    );
    assert_eq!(
        verify_consistency_bytes::<&[u8]>(new, new, r13.as_bytes(), b"", &[]),
        Err(MerkleError::WrongHashLength {
            role: HashRole::NewRoot,
            len: 0
        })
    );
}

#[test]
fn generation_argument_errors() {
    let (d, t) = tree(10);
    assert!(matches!(
        inclusion_proof(&t, LeafIndex(10), TreeSize(10)),
        Err(TreeError::IndexOutOfRange {
            index: 10,
            size: 10
        })
    ));
    assert!(matches!(
        inclusion_proof(&t, LeafIndex(0), TreeSize(0)),
        Err(TreeError::IndexOutOfRange { index: 0, size: 0 })
    ));
    assert!(matches!(
        inclusion_proof(&t, LeafIndex(3), TreeSize(11)),
        Err(TreeError::SizeBeyondStored {
            size: 11,
            stored: 10
        })
    ));
    assert!(matches!(
        root(&t, TreeSize(11)),
        Err(TreeError::SizeBeyondStored {
            size: 11,
            stored: 10
        })
    ));
    assert!(matches!(
        consistency_proof(&t, TreeSize(6), TreeSize(5)),
        Err(TreeError::SizeOrder { old: 6, new: 5 })
    ));
    assert!(matches!(
        consistency_proof(&t, TreeSize(3), TreeSize(11)),
        Err(TreeError::SizeBeyondStored {
            size: 11,
            stored: 10
        })
    ));
    assert_eq!(
        consistency_proof(&t, TreeSize(0), TreeSize(10)).unwrap(),
        Vec::<Digest>::new()
    );
    assert_eq!(
        consistency_proof(&t, TreeSize(7), TreeSize(7)).unwrap(),
        Vec::<Digest>::new()
    );
    assert_eq!(root(&t, TreeSize(0)).unwrap(), empty_root());
    for (s, e) in [(2, 7), (4, 4), (5, 4), (3, 5), (0, 11)] {
        let got = subtree_hash(&t, LeafIndex(s), LeafIndex(e));
        if e == 11 {
            assert!(matches!(
                got,
                Err(TreeError::SizeBeyondStored {
                    size: 11,
                    stored: 10
                })
            ));
        } else {
            assert!(
                matches!(got, Err(TreeError::InvalidRange { .. })),
                "{s}..{e}: {got:?}"
            );
        }
    }
    assert_eq!(
        subtree_hash(&t, LeafIndex(8), LeafIndex(10)).unwrap(),
        t.node(1, 4).unwrap()
    );
    assert!(matches!(
        append_nodes(&t, LeafIndex(9), d[0]),
        Err(TreeError::AppendPosition {
            expected: 10,
            got: 9
        })
    ));
    assert!(matches!(
        append_nodes(&t, LeafIndex(11), d[0]),
        Err(TreeError::AppendPosition {
            expected: 10,
            got: 11
        })
    ));
    assert!(matches!(
        append_nodes(&Uniform::new(), LeafIndex(u64::MAX), d[0]),
        Err(TreeError::TreeFull)
    ));

    // A source that does not know its size reports the missing node itself.
    let blind = NoSize(t.clone());
    let got = root(&blind, TreeSize(12));
    assert!(
        matches!(
            got,
            Err(TreeError::Source(NodeNotFound { level: 2, index: 2 }))
        ),
        "{got:?}"
    );
    let err = got.unwrap_err();
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!(err.to_string(), "reading a stored Merkle node failed");
    assert_eq!(t.leaf(LeafIndex(10)), None);
    assert_eq!(t.leaf(LeafIndex(9)), Some(d[9]));
}

#[test]
fn overlay_pending_nodes_are_readable() {
    let (d, t) = tree(6);
    let base = MemoryTree::from_leaf_hashes(d[..3].iter().copied());
    let mut ov = Overlay::new(&base, TreeSize(3));
    assert_eq!(ov.base_size(), TreeSize(3));
    for leaf in &d[3..] {
        ov.push(*leaf).unwrap();
    }
    // Proofs over base + pending, before anything is written.
    for i in 0..6 {
        assert_eq!(
            inclusion_proof(&ov, LeafIndex(i), TreeSize(6)).unwrap(),
            t.inclusion_proof(LeafIndex(i), TreeSize(6)).unwrap()
        );
    }
    assert_eq!(
        consistency_proof(&ov, TreeSize(3), TreeSize(6)).unwrap(),
        t.consistency_proof(TreeSize(3), TreeSize(6)).unwrap()
    );
    let nodes: Vec<_> = ov.nodes().collect();
    assert_eq!(
        nodes,
        vec![
            (0, 3, d[3]),
            (0, 4, d[4]),
            (0, 5, d[5]),
            (1, 1, t.node(1, 1).unwrap()),
            (1, 2, t.node(1, 2).unwrap()),
            (2, 0, t.node(2, 0).unwrap())
        ]
    );
    // The overlay enforces its own position.
    assert!(matches!(
        append_nodes(&ov, LeafIndex(5), d[0]),
        Err(TreeError::AppendPosition {
            expected: 6,
            got: 5
        })
    ));
}

#[test]
fn reads_are_logarithmic() {
    let (_, t) = tree(1000);
    let c = Counting {
        inner: &t,
        reads: Cell::new(0),
    };
    for n in 1..=1000u64 {
        root(&c, TreeSize(n)).unwrap();
        assert_eq!(c.take() as u32, n.count_ones(), "root({n})");
        let bits = 64 - (n - 1).leading_zeros() as usize;
        for i in [0, n / 3, n / 2, n - 1] {
            let p = inclusion_proof(&c, LeafIndex(i), TreeSize(n)).unwrap();
            let reads = c.take();
            assert!(
                reads <= p.len() + bits,
                "inclusion({i}, {n}): {reads} reads"
            );
        }
        for m in [1, n / 3, n / 2, n - 1] {
            let p = consistency_proof(&c, TreeSize(m), TreeSize(n)).unwrap();
            let reads = c.take();
            assert!(
                reads <= p.len() + bits,
                "consistency({m}, {n}): {reads} reads"
            );
        }
        if n < 1000 {
            let nodes = append_nodes(&c, LeafIndex(n), leaf_hash(b"x"));
            // The tree holds 1000 leaves, so appending at n < 1000 is refused
            // before any read.
            assert!(matches!(nodes, Err(TreeError::AppendPosition { .. })));
            assert_eq!(c.take(), 0);
        }
    }
}

#[test]
fn huge_trees_up_to_u64_max() {
    let u = Uniform::new();
    let c = Counting {
        inner: &u,
        reads: Cell::new(0),
    };
    let leaf = leaf_hash(b"same");
    for n in [
        1u64 << 40,
        (1 << 40) + 12345,
        961_984_011,
        (1 << 63) + 1,
        u64::MAX,
    ] {
        let size = TreeSize(n);
        let r = root(&c, size).unwrap();
        assert_eq!(c.take() as u32, n.count_ones());
        for i in [0, n / 2, n - 1] {
            let p = inclusion_proof(&c, LeafIndex(i), size).unwrap();
            assert!(c.take() <= 128);
            assert_eq!(Some(p.len()), inclusion_proof_len(LeafIndex(i), size));
            assert_eq!(
                verify_inclusion(LeafIndex(i), size, &leaf, &p, &r),
                Ok(()),
                "({i}, {n})"
            );
        }
        for m in [1, 3, n / 2, n - 1] {
            let old = TreeSize(m);
            let p = consistency_proof(&c, old, size).unwrap();
            assert!(c.take() <= 128);
            assert_eq!(Some(p.len()), consistency_proof_len(old, size));
            let r_old = root(&u, old).unwrap();
            assert_eq!(
                verify_consistency(old, size, &r_old, &r, &p),
                Ok(()),
                "({m}, {n})"
            );
        }
    }
    // Appending next to the right edge of a huge tree reads one node per
    // trailing 1 bit.
    let nodes = append_nodes(&c, LeafIndex((1 << 40) - 1), leaf).unwrap();
    assert_eq!(nodes.len(), 41);
    assert_eq!(c.take(), 40);
    assert_eq!(nodes[40], (40, 0, u.node(40, 0).unwrap()));
}
