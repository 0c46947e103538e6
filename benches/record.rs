//! Criterion benchmarks of ledger records: encode, sign, decode, verify.
//!
//! One `ingest` record with one recipient fingerprint, as `custody ingest`
//! writes for each file (about 240 bytes with its signature).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use custody::core::hash::Digest;
use custody::core::keys::SignerKey;
use custody::core::record::{Ingest, Payload, Record, RecordBody};

const ORIGIN: &str = "dropsite.example/leaks";

fn body(key: &SignerKey) -> RecordBody {
    RecordBody {
        index: 123_456,
        time_ms: 1_700_000_000_000,
        origin: ORIGIN.into(),
        signer: key.key_id(),
        payload: Payload::Ingest(Ingest {
            blob: Digest::of(b"ciphertext"),
            blob_size: 1 << 30,
            commitment: Digest::of(b"commitment"),
            meta: Digest::of(b"envelope"),
            meta_size: 512,
            recipients: vec![Digest::of(b"recipient")],
        }),
    }
}

fn bench(c: &mut Criterion) {
    // A fixed seed: the same key (and so the same signatures) every run.
    let key = SignerKey::from_seed(ORIGIN, &[7u8; 32]).expect("valid key name");
    let vk = key.verifier();
    let body = body(&key);
    let rec = body.clone().sign(&key).expect("valid record");
    let bytes = rec.bytes().to_vec();

    let mut g = c.benchmark_group("record");
    g.measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(1));
    g.bench_function("RecordBody::encode", |b| {
        b.iter(|| black_box(&body).encode())
    });
    g.bench_function("RecordBody::sign (validate + encode + Ed25519)", |b| {
        b.iter_batched(
            || body.clone(),
            |bd| bd.sign(black_box(&key)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("Record::decode", |b| {
        b.iter(|| Record::decode(black_box(&bytes)).unwrap())
    });
    g.bench_function("Record::verify_signature (verify_strict)", |b| {
        b.iter(|| {
            black_box(&rec)
                .verify_signature(vk.verifying_key(), vk.key_id())
                .unwrap()
        })
    });
    g.bench_function("decode + verify_signature + leaf_hash", |b| {
        b.iter(|| {
            let r = Record::decode(black_box(&bytes)).unwrap();
            r.verify_signature(vk.verifying_key(), vk.key_id()).unwrap();
            r.leaf_hash()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
