//! The right edge of a Merkle tree built leaf by leaf: what `verify`
//! recomputes the tree with in one pass, in O(log n) memory.

use crate::core::hash::Digest;
use crate::core::merkle::hash::{empty_root, node_hash};

/// The right edge of a Merkle tree being built leaf by leaf (RFC 9162 §2.1.2
/// stack): O(log n) memory, the root at any point.
#[derive(Default)]
pub struct Frontier {
    stack: Vec<(u32, Digest)>,
}

impl Frontier {
    /// Pushes a leaf and calls `made(level, hash)` for every node that
    /// completes, in the order appends create them (the post-order of
    /// `ledger/tree`, FORMAT.md §7.2.2): the leaf itself at level 0, then each
    /// parent up.
    pub fn push_with(&mut self, leaf: Digest, mut made: impl FnMut(u32, &Digest)) {
        made(0, &leaf);
        self.stack.push((0, leaf));
        while self.stack.len() >= 2 {
            let (h1, right) = self.stack[self.stack.len() - 1];
            let (h0, left) = self.stack[self.stack.len() - 2];
            if h0 != h1 {
                break;
            }
            self.stack.truncate(self.stack.len() - 2);
            let parent = node_hash(&left, &right);
            made(h0 + 1, &parent);
            self.stack.push((h0 + 1, parent));
        }
    }
    pub fn root(&self) -> Digest {
        let mut it = self.stack.iter().rev();
        match it.next() {
            None => empty_root(),
            Some(&(_, last)) => it.fold(last, |acc, (_, left)| node_hash(left, &acc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::merkle;

    #[test]
    fn frontier_matches_memory_tree() {
        use merkle::NodeSource;
        let mut t = merkle::MemoryTree::new();
        let mut f = Frontier::default();
        assert_eq!(f.root(), merkle::empty_root());
        for i in 0..100u32 {
            let l = merkle::leaf_hash(&i.to_be_bytes());
            t.push(l);
            // The nodes it completes, in post-order (FORMAT.md §7.2.2).
            let mut made = Vec::new();
            f.push_with(l, |level, h| made.push((level as u8, *h)));
            let want: Vec<_> = merkle::created_by(u64::from(i))
                .map(|(level, idx)| (level, t.node(level, idx).unwrap()))
                .collect();
            assert_eq!(made, want, "leaf {i}");
            assert_eq!(f.root(), t.root(), "size {}", i + 1);
        }
    }
}
