//! Issue 5: `verify` checks signatures in batches on worker threads; every bad
//! record inside a large batch is still named exactly once, with the check
//! the one-by-one check (FORMAT.md §4.3) and the actor replay would give.
//!
//! Records are crafted here (signed with test keys, some spoiled) and appended
//! to `ledger/records`; opening the archive indexes them as after a crash
//! between the file and the database, and a checkpoint covers them, so the
//! spoiled records are the only findings.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use custody::core::crypto::RecipientKey;
use custody::core::findings::{Check, Finding, Subject};
use custody::core::keys::SignerKey;
use custody::core::record::{
    Access, ActorAction, ActorChange, DocRef, Payload, Record, RecordBody, Role,
};
use custody::store::ops::verify::{Quiet, VerifyOptions};
use custody::store::{files::walk, Archive, IngestOptions, NoObserver};

const ORIGIN: &str = "example.org/batch-log";

fn log_key() -> SignerKey {
    SignerKey::from_seed(ORIGIN, &[11; 32]).unwrap()
}

/// The first administrator, who signs every record after init.
fn admin() -> SignerKey {
    SignerKey::from_seed("example.org/admin", &[13; 32]).unwrap()
}

fn journalist() -> SignerKey {
    SignerKey::from_seed("example.org/jo", &[12; 32]).unwrap()
}

/// An archive holding one document (record 2, after the first admin and
/// the configuration); returns its reference.
fn archive(dir: &Path) -> DocRef {
    let r = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("keys-example/dropsite/recipient.txt"),
    )
    .unwrap();
    let recipient = RecipientKey::parse(r.trim()).unwrap();
    let docs = dir.join("docs");
    fs::create_dir_all(&docs).unwrap();
    fs::write(docs.join("a.txt"), "a document\n").unwrap();
    let first = custody::store::archive::InitAdmin {
        key: admin(),
        name: "admin".into(),
        path: None,
        identity: None,
    };
    let (mut a, _) = Archive::init(
        &dir.join("arch"),
        ORIGIN,
        &log_key(),
        &[recipient],
        None,
        first,
    )
    .unwrap();
    let w = walk::collect(&[docs], false, None).unwrap();
    a.ingest(
        &w.files,
        &log_key(),
        &IngestOptions::default(),
        &mut NoObserver,
    )
    .unwrap();
    a.doc_ref(2).unwrap()
}

fn body(index: u64, signer: &SignerKey, payload: Payload) -> RecordBody {
    // The admin was added by `init`'s version 2 record: its records carry
    // the actor key ID (FORMAT.md §4.16); the journalist, added below by a
    // version 1 record, its own.
    let id = if signer.public_bytes() == admin().public_bytes() {
        custody::core::record::actor_key_id(&signer.public_bytes())
    } else {
        signer.key_id()
    };
    RecordBody {
        index,
        time_ms: 1_700_000_000_000 + index,
        origin: ORIGIN.into(),
        signer: id,
        payload,
    }
}

fn access(index: u64, signer: &SignerKey, about: DocRef) -> Record {
    body(
        index,
        signer,
        Payload::Access(Access {
            about,
            reason: format!("batch test {index}"),
            sealed: None,
        }),
    )
    .sign(signer)
    .unwrap()
}

/// Appends record bytes as frames to ledger/records.
fn append(dir: &Path, recs: &[Vec<u8>]) {
    let mut f = OpenOptions::new()
        .append(true)
        .open(dir.join("arch/ledger/records"))
        .unwrap();
    for r in recs {
        f.write_all(&(r.len() as u32).to_be_bytes()).unwrap();
        f.write_all(r).unwrap();
    }
    f.sync_all().unwrap();
}

/// Opens (indexing the appended records), checkpoints and verifies.
fn findings(dir: &Path) -> Vec<Finding> {
    let mut a = Archive::open(&dir.join("arch")).unwrap();
    a.sign_checkpoint(&log_key()).unwrap();
    a.verify(&VerifyOptions::default(), &mut Quiet)
        .unwrap()
        .findings
}

/// L, the order of the Ed25519 base point, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// S + L: the same group equation, but a non-canonical S.
fn add_l(sig_s: &mut [u8]) {
    let mut carry = 0u16;
    for (b, l) in sig_s.iter_mut().zip(L) {
        let v = *b as u16 + l as u16 + carry;
        *b = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0);
}

#[test]
fn bad_and_non_canonical_signatures_in_a_large_batch_are_named_once() {
    let t = tempfile::tempdir().unwrap();
    let doc = archive(t.path());
    // More than one chunk of 4,096 records: findings keep record order across chunks.
    let mut recs: Vec<Vec<u8>> = (3..=5002)
        .map(|i| access(i, &admin(), doc).bytes().to_vec())
        .collect();
    // Record 1502: one flipped bit of S.
    let r = &mut recs[1499];
    let at = r.len() - 20;
    r[at] ^= 0x04;
    // Record 2224: S + L (batch equations accept it; the rule, §4.3, does not).
    let r = &mut recs[2221];
    let len = r.len();
    add_l(&mut r[len - 32..]);
    // Record 4602, in the second chunk: one flipped bit of R.
    let at = recs[4599].len() - 60;
    recs[4599][at] ^= 0x01;
    append(t.path(), &recs);
    let f = findings(t.path());
    let got: Vec<(Subject, Check)> = f.iter().map(|f| (f.subject.clone(), f.check)).collect();
    assert_eq!(
        got,
        vec![
            (Subject::Record(1502), Check::RecordSignature),
            (Subject::Record(2224), Check::RecordSignature),
            (Subject::Record(4602), Check::RecordSignature),
        ],
        "{f:#?}"
    );
}

#[test]
fn record_of_a_revoked_actor_inside_a_batch_is_named_once() {
    let t = tempfile::tempdir().unwrap();
    let doc = archive(t.path());
    let jo = journalist();
    let change = |action| {
        Payload::Actor(ActorChange {
            action,
            name: "jo".into(),
            role: Role::Journalist,
            key_name: jo.name().into(),
            key: jo.public_bytes(),
            reason: String::new(),
            sealed: None,
        })
    };
    let mut recs = vec![body(3, &admin(), change(ActorAction::Add))
        .sign(&admin())
        .unwrap()];
    // 1000 records by jo, then the revocation, then 1000 by the admin with
    // one more by jo in the middle.
    recs.extend((4..1004).map(|i| access(i, &jo, doc)));
    recs.push(
        body(1004, &admin(), change(ActorAction::Revoke))
            .sign(&admin())
            .unwrap(),
    );
    recs.extend((1005..2005).map(|i| {
        let k = if i == 1702 { &jo } else { &admin() };
        access(i, k, doc)
    }));
    append(
        t.path(),
        &recs.iter().map(|r| r.bytes().to_vec()).collect::<Vec<_>>(),
    );
    let f = findings(t.path());
    let got: Vec<(Subject, Check)> = f.iter().map(|f| (f.subject.clone(), f.check)).collect();
    assert_eq!(
        got,
        vec![(Subject::Record(1702), Check::ActorRevoked)],
        "{f:#?}"
    );
    assert!(
        f[0].reason.contains("revoked at record 1004"),
        "{}",
        f[0].reason
    );
}
