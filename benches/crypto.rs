//! Criterion benchmarks of the encryption pipeline: `encrypt_all` of 64 MiB
//! held in memory to one X25519 recipient, against SHA-256 alone, sealing the
//! STREAM chunks alone (custody's encoder, `core::agestream`) and the `age`
//! crate's own `StreamWriter` over the same buffer.
//!
//! Output goes to `io::sink()` so that only hashing and encryption are timed.
//! For inputs over 4 MiB `encrypt_all` runs its two-thread pipeline (reader:
//! read + hash the plaintext + seal what the writer cannot keep up with;
//! writer: seal the rest + write); with `size_hint` 0 it takes the one-thread
//! path, which shows what the second core buys on this machine.

use std::io::{self, Write};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use custody::core::agestream::{self, CHUNK_SIZE, SEALED_CHUNK_SIZE};
use custody::core::crypto::{encrypt_all, encrypt_to, RecipientKey};
use custody::core::hash::Digest;

const LEN: usize = 64 << 20;
/// The public recipient of the TEST-ONLY dropsite keys.
const RECIPIENT: &str = include_str!("../keys-example/dropsite/recipient.txt");

/// Deterministic, incompressible-looking bytes (xorshift64*).
fn data(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    v.truncate(len);
    v
}

fn bench(c: &mut Criterion) {
    let buf = data(LEN);
    let r = [RecipientKey::parse(RECIPIENT).expect("recipient.txt holds an age1 recipient")];

    let mut g = c.benchmark_group("crypto_64MiB");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Bytes(LEN as u64));
    g.bench_function("SHA-256 (Digest::of)", |b| b.iter(|| Digest::of(&buf)));
    g.bench_function("seal only (agestream, in place, one thread)", |b| {
        let to: [&dyn age::Recipient; 1] = [match &r[0] {
            RecipientKey::Pq(p) => p,
            RecipientKey::X25519(x) => x,
            RecipientKey::Ssh(s) => s,
            RecipientKey::Plugin(p) => p,
        }];
        let f = agestream::start(&to, LEN as u64).unwrap();
        let mut slot = vec![0u8; SEALED_CHUNK_SIZE];
        b.iter(|| {
            for (i, piece) in buf.chunks(CHUNK_SIZE).enumerate() {
                slot[..piece.len()].copy_from_slice(piece);
                f.sealer
                    .seal(
                        i as u64,
                        (i + 1) * CHUNK_SIZE >= LEN,
                        &mut slot,
                        piece.len(),
                    )
                    .unwrap();
            }
        })
    });
    g.bench_function("age crate StreamWriter (encrypt_to + write_all)", |b| {
        b.iter(|| {
            let mut w = encrypt_to(&r, io::sink()).unwrap();
            w.write_all(&buf).unwrap();
            w.finish().unwrap()
        })
    });
    g.bench_function("encrypt_all pipelined", |b| {
        b.iter(|| {
            let e = encrypt_all(&buf[..], &r, io::sink(), LEN as u64, &mut |_| {}).unwrap();
            assert_eq!(e.len, LEN as u64);
            e.sha256
        })
    });
    g.bench_function("encrypt_all one thread (size_hint 0)", |b| {
        b.iter(|| {
            let e = encrypt_all(&buf[..], &r, io::sink(), 0, &mut |_| {}).unwrap();
            e.sha256
        })
    });
    g.bench_function("encrypt_all pipelined into a Vec", |b| {
        b.iter(|| {
            let out = Vec::with_capacity(LEN + (LEN >> 10) + 1024);
            let e = encrypt_all(&buf[..], &r, out, LEN as u64, &mut |_| {}).unwrap();
            e.out.len()
        })
    });
    g.finish();

    // Small inputs (one thread each): what ingest's workers do per file, with
    // the X25519 key exchange that dominates at this size.
    const SMALL: usize = 32 << 10;
    let small = &buf[..SMALL];
    let mut g = c.benchmark_group("crypto_32KiB");
    g.sample_size(20);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Bytes(SMALL as u64));
    g.bench_function("encrypt_all (custody's encoder)", |b| {
        b.iter(|| {
            let e = encrypt_all(small, &r, Vec::new(), SMALL as u64, &mut |_| {}).unwrap();
            e.out.len()
        })
    });
    g.bench_function("age crate StreamWriter + SHA-256", |b| {
        b.iter(|| {
            let mut w = encrypt_to(&r, Vec::with_capacity(SMALL + 256)).unwrap();
            w.write_all(small).unwrap();
            (Digest::of(small), w.finish().unwrap().len())
        })
    });
    g.finish();

    // One key wrap, the per-document cost of a small file: custody's X25519
    // table (src/core/x25519.rs) against the age crate's ladder, and the
    // hybrid post-quantum recipient (age crate only).
    let mut g = c.benchmark_group("wrap_file_key");
    g.sample_size(30);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    let fast = RecipientKey::parse(RECIPIENT).unwrap();
    #[allow(deprecated)]
    let ladder: age::x25519::Recipient = RECIPIENT.trim().parse().unwrap();
    let pq = age::pq::Identity::generate().to_public();
    let key = age_core::format::FileKey::new(Box::new([7u8; 16]));
    let wrap = |name: &str, r: &dyn age::Recipient, g: &mut criterion::BenchmarkGroup<_>| {
        g.bench_function(name, |b| b.iter(|| r.wrap_file_key(&key).unwrap().0.len()));
    };
    if let RecipientKey::X25519(f) = &fast {
        wrap("X25519, custody's table", f, &mut g);
    }
    wrap("X25519, age crate", &ladder, &mut g);
    wrap("mlkem768x25519, age crate", &pq, &mut g);
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
