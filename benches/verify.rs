//! Criterion benchmarks of issue 5's verification paths: Ed25519 record
//! signatures one by one (`verify_strict`) against batches of one key
//! (`core::sigbatch`, the path of `custody verify`); the offline check of a
//! realistic 2-hop custody bundle (`core::bundle::check_evidence`); and
//! inclusion proofs on a given archive, locked and lock-free.

use std::fs;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use custody::core::bundle::{check_evidence, read_head, Evidence, Trust};
use custody::core::crypto::{Identities, RecipientKey};
use custody::core::hash::Digest;
use custody::core::keys::{SignerKey, VerifierKey};
use custody::core::record::{Access, DocRef, Payload, RecordBody};
use custody::core::sigbatch::{BatchKey, Item};
use custody::store::archive::log_view::LogView;
use custody::store::{files::walk, Archive, IngestOptions, NoObserver};

const N: usize = 1024;

fn signatures(c: &mut Criterion) {
    let key = SignerKey::from_seed("dropsite.example/leaks", &[7u8; 32]).expect("valid key");
    let vk = *key.verifier().verifying_key();
    let recs: Vec<_> = (0..N as u64)
        .map(|i| {
            RecordBody {
                index: i,
                time_ms: 1_700_000_000_000,
                origin: "dropsite.example/leaks".into(),
                signer: key.key_id(),
                payload: Payload::Access(Access {
                    about: DocRef {
                        document: 0,
                        commitment: Digest::of(b"commitment"),
                    },
                    reason: format!("synthetic access {i} (benchmark ledger)"),
                    sealed: None,
                }),
            }
            .sign(&key)
            .expect("valid record")
        })
        .collect();
    let msgs: Vec<Vec<u8>> = recs
        .iter()
        .map(|r| RecordBody::signed_message(r.body_bytes()))
        .collect();
    let items: Vec<Item<'_>> = msgs
        .iter()
        .zip(&recs)
        .map(|(msg, r)| Item {
            msg,
            sig: &r.signature,
        })
        .collect();
    let bk = BatchKey::new(&vk);
    let mut g = c.benchmark_group("record_signatures_1024");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("verify_strict one by one", |b| {
        b.iter(|| {
            for r in &recs {
                black_box(r.verify_signature(&vk, key.key_id()).is_ok());
            }
        })
    });
    g.bench_function("sigbatch (256 per equation)", |b| {
        b.iter(|| black_box(bk.verify_all(&items)))
    });
    g.finish();
}

fn key_file(outlet: &str, file: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("keys-example")
        .join(outlet)
        .join(file);
    fs::read_to_string(p).expect("keys-example file")
}

/// dropsite ingests a document and shares it with guardian, which receives it
/// and shares it on with localcall: the evidence of a 2-hop bundle.
fn two_hop(dir: &Path) -> (Evidence, Vec<VerifierKey>) {
    let outlet = |name: &str| {
        let sk = SignerKey::parse(key_file(name, "signing.key").trim()).expect("signing key");
        let r = RecipientKey::parse(key_file(name, "recipient.txt").trim()).expect("recipient");
        let ids = Identities::parse(key_file(name, "identity.age").as_bytes()).expect("identity");
        (sk, r, ids)
    };
    let (dk, dr, dids) = outlet("dropsite");
    let (gk, gr, gids) = outlet("guardian");
    let (_, lr, _) = outlet("localcall");
    let logs = vec![dk.verifier(), gk.verifier()];
    let trust = Trust {
        logs: &logs,
        witnesses: &[],
        quorum: None,
    };
    let docs = dir.join("docs");
    fs::create_dir_all(&docs).unwrap();
    fs::write(docs.join("memo.txt"), "a leaked memo\n".repeat(100)).unwrap();
    let (mut d, _) = Archive::init(
        &dir.join("d"),
        dk.name(),
        &dk,
        std::slice::from_ref(&dr),
        None,
        admin("dropsite"),
    )
    .unwrap();
    let w = walk::collect(&[docs], false, None).unwrap();
    d.ingest(&w.files, &dk, &IngestOptions::default(), &mut NoObserver)
        .unwrap();
    let b1 = dir.join("one.custody");
    d.share(
        2,
        std::slice::from_ref(&gr),
        &dids,
        &dk,
        Default::default(),
        &b1,
        false,
        &mut |_| {},
    )
    .unwrap();
    let (mut g, _) = Archive::init(
        &dir.join("g"),
        gk.name(),
        &gk,
        std::slice::from_ref(&gr),
        None,
        admin("guardian"),
    )
    .unwrap();
    g.receive(&b1, &trust, &gids, &gk, &mut |_| {}).unwrap();
    let b2 = dir.join("two.custody");
    g.share(
        2,
        &[lr],
        &gids,
        &gk,
        Default::default(),
        &b2,
        false,
        &mut |_| {},
    )
    .unwrap();
    let head = read_head(&mut fs::File::open(&b2).unwrap()).unwrap();
    assert_eq!(head.evidence.hops.len(), 2);
    (head.evidence, logs)
}

/// An outlet's first administrator (keys-example/OUTLET/admin.key), who
/// signs the archive's records (FORMAT.md §4.14).
fn admin(outlet: &str) -> custody::store::archive::InitAdmin {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("keys-example")
        .join(outlet)
        .join("admin.key");
    custody::store::archive::InitAdmin {
        key: SignerKey::parse(fs::read_to_string(p).unwrap().trim()).unwrap(),
        name: "admin".into(),
        path: None,
        identity: None,
    }
}

fn bundle(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (ev, logs) = two_hop(dir.path());
    let trust = Trust {
        logs: &logs,
        witnesses: &[],
        quorum: None,
    };
    assert!(check_evidence(&ev, &trust).findings.is_empty());
    let mut g = c.benchmark_group("bundle");
    g.sample_size(20);
    g.bench_function("check_evidence (2 hops)", |b| {
        b.iter(|| black_box(check_evidence(&ev, &trust)))
    });
    g.finish();
}

/// Inclusion proofs inside the library, on the archive named by
/// `CUSTODY_BENCH_ARCHIVE` (e.g. the 10^6-record one from `custody
/// gen-archive`, BENCHMARKS.md); skipped when it is not set.
fn inclusion(c: &mut Criterion) {
    let Some(dir) = std::env::var_os("CUSTODY_BENCH_ARCHIVE") else {
        return;
    };
    let a = Archive::open(Path::new(&dir)).expect("CUSTODY_BENCH_ARCHIVE is an archive");
    let size = a.latest_checkpoint().unwrap().expect("a checkpoint").0;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut g = c.benchmark_group("inclusion_proof");
    g.sample_size(50);
    g.bench_function(
        format!("Archive::inclusion_proof (random index of {size})"),
        |b| {
            b.iter(|| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                black_box(a.inclusion_proof(x % size, None).unwrap())
            })
        },
    );
    // The lock-free path of `custody prove N` (FORMAT.md §7.2): open the view
    // (config, ledger/checkpoint, its signature), then the proof.
    g.bench_function(
        format!("LogView::open + inclusion_proof (random index of {size})"),
        |b| {
            b.iter(|| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let v = LogView::open(Path::new(&dir)).unwrap();
                black_box(v.inclusion_proof(x % size).unwrap())
            })
        },
    );
    g.finish();
}

criterion_group!(benches, signatures, bundle, inclusion);
criterion_main!(benches);
