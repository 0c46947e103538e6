//! Criterion benchmarks of the Merkle module at 10^6 leaves: appends, root,
//! proof generation and verification.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

use custody::core::hash::Digest;
use custody::core::merkle::*;

const N: u64 = 1_000_000;

fn leaves(n: u64) -> Vec<Digest> {
    (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

fn bench(c: &mut Criterion) {
    let leaves = leaves(N);
    let tree = MemoryTree::from_leaf_hashes(leaves.iter().copied());
    let size = TreeSize(N);
    let index = LeafIndex(N / 3 + 17);
    let root_hash = tree.root();
    let proof = inclusion_proof(&tree, index, size).unwrap();
    let old = TreeSize(N / 2 + 1);
    let old_root = root(&tree, old).unwrap();
    let cproof = consistency_proof(&tree, old, size).unwrap();

    let mut slow = c.benchmark_group("merkle_1e6_build");
    slow.sample_size(10);
    slow.bench_function("append 1e6 leaves into MemoryTree", |b| {
        b.iter(|| {
            let mut t = MemoryTree::new();
            for l in &leaves {
                t.push(*l);
            }
            black_box(t.size())
        })
    });
    slow.finish();

    let mut g = c.benchmark_group("merkle_1e6");
    g.bench_function("MemoryTree::root", |b| b.iter(|| black_box(&tree).root()));
    g.bench_function("root via NodeSource", |b| {
        b.iter(|| root(black_box(&tree), black_box(size)).unwrap())
    });
    g.bench_function("inclusion_proof", |b| {
        b.iter(|| inclusion_proof(black_box(&tree), black_box(index), size).unwrap())
    });
    g.bench_function("verify_inclusion", |b| {
        b.iter(|| {
            verify_inclusion(
                black_box(index),
                size,
                &leaves[index.get() as usize],
                black_box(&proof),
                &root_hash,
            )
            .unwrap()
        })
    });
    g.bench_function("consistency_proof", |b| {
        b.iter(|| consistency_proof(black_box(&tree), black_box(old), size).unwrap())
    });
    g.bench_function("verify_consistency", |b| {
        b.iter(|| {
            verify_consistency(
                black_box(old),
                size,
                &old_root,
                &root_hash,
                black_box(&cproof),
            )
            .unwrap()
        })
    });
    g.bench_function("Overlay: batch of 1000 appends", |b| {
        b.iter_batched(
            || Overlay::new(&tree, size),
            |mut ov| {
                for l in &leaves[..1000] {
                    ov.push(*l).unwrap();
                }
                ov.into_nodes()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
