//! Witnessing (issue 3): guardian's archive witnesses dropsite's log; the
//! cosignatures go back into dropsite's archive; forks and rollbacks leave
//! split-view evidence that `verify-evidence` checks; the trust store.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

/// A witness archive of the guardian outlet, next to a dropsite fixture.
struct Witness {
    dir: PathBuf,
    keys: PathBuf,
    trust: PathBuf,
}

impl Witness {
    fn new(parent: &Path) -> Witness {
        let keys = copy_keys(&parent.join("wkeys"), "guardian");
        let dir = parent.join("guardian-archive");
        let mut c = custody();
        c.arg("init")
            .arg(&dir)
            .arg("--signing-key")
            .arg(keys.join("signing.key"))
            .arg("--admin-key")
            .arg(keys.join("admin.key"))
            .arg("--recipient")
            .arg(keys.join("recipient.txt"));
        run(c).ok();
        Witness {
            dir,
            keys,
            trust: parent.join("guardian-trust.toml"),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut c = custody();
        c.env("CUSTODY_TRUST_STORE", &self.trust)
            .env_remove("CUSTODY_WITNESS_KEY")
            .current_dir(self.dir.parent().unwrap())
            .arg("-A")
            .arg(&self.dir)
            .args(args);
        run(c)
    }

    fn vkey(&self) -> String {
        fs::read_to_string(self.keys.join("witness.vkey"))
            .unwrap()
            .trim()
            .to_string()
    }
}

/// `custody` on the dropsite fixture with its own trust store.
fn log_run(f: &Fixture, args: &[&str]) -> Run {
    let mut c = f.cmd();
    c.env("CUSTODY_TRUST_STORE", f.path().join("dropsite-trust.toml"))
        .args(args);
    run(c)
}

fn ingest(f: &Fixture, name: &str) {
    let p = f.path().join("in").join(name);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, format!("document {name}\n")).unwrap();
    f.run(&["ingest", p.to_str().unwrap(), "--source", "s"])
        .ok();
}

fn save(f: &Fixture, name: &str, bytes: &[u8]) -> PathBuf {
    let p = f.path().join(name);
    fs::write(&p, bytes).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// dropsite's log and guardian's witness, with dropsite's log registered.
fn setup() -> (Fixture, Witness) {
    let f = Fixture::new();
    let w = Witness::new(f.path());
    let log_vkey = f.vkey();
    let key = w.keys.join("witness.key");
    w.run(&[
        "witness",
        "add-log",
        "dropsite.example/leaks",
        s(&log_vkey),
        "--witness-key",
        s(&key),
    ])
    .ok();
    (f, w)
}

#[test]
fn cosign_with_proofs_then_store_and_verify_quorum() {
    let (f, w) = setup();
    ingest(&f, "a.txt");
    let cp1 = save(&f, "cp1", &f.run(&["checkpoint"]).ok().stdout_bytes);
    // First checkpoint: trust on first use.
    let r = w.run(&["witness", "cosign", s(&cp1)]);
    r.ok();
    assert!(r.stderr.contains("first use"), "{}", r.stderr);
    let cos1 = save(&f, "cos1", &r.stdout_bytes);
    assert!(r
        .stdout
        .starts_with("\u{2014} theguardian.example/witness "));
    // Same checkpoint again: unchanged, still cosigned.
    let j = w.run(&["witness", "cosign", s(&cp1), "--json"]);
    j.ok();
    assert_eq!(j.json()["accepted"], "unchanged");

    ingest(&f, "b.txt");
    ingest(&f, "c.txt");
    let cp3 = save(&f, "cp3", &f.run(&["checkpoint"]).ok().stdout_bytes);
    // Without the proof: refused (exit 1), no evidence.
    let r = w.run(&["witness", "cosign", s(&cp3)]);
    r.code(FINDING);
    assert!(r.stderr.contains("consistency proof"), "{}", r.stderr);
    assert!(!r.stderr.contains("evidence"), "{}", r.stderr);
    // With the proof exported by `prove --consistency` (as --proof, then as the body itself).
    let body = save(
        &f,
        "consistency",
        &f.run(&["prove", "--consistency", &(INIT_RECORDS + 1).to_string()])
            .ok()
            .stdout_bytes,
    );
    let out = f.path().join("cos3");
    let r = w.run(&[
        "witness",
        "cosign",
        s(&cp3),
        "--proof",
        s(&body),
        "-o",
        s(&out),
    ]);
    r.ok();
    assert!(
        r.stderr.contains(&format!(
            "grew consistently from size {} to {}",
            INIT_RECORDS + 1,
            INIT_RECORDS + 3
        )),
        "{}",
        r.stderr
    );
    w.run(&["witness", "cosign", s(&body), "--json"]).ok();

    // Back at dropsite: store the cosignatures, with the witness key given.
    let cp_file = f.ledger("checkpoint");
    let uncosigned = fs::read(&cp_file).unwrap();
    let wv = w.vkey();
    let r = log_run(
        &f,
        &[
            "checkpoint",
            "add-cosignature",
            s(&cos1),
            s(&out),
            "--witness",
            &wv,
            "--json",
        ],
    );
    r.ok();
    let added = r.json_lines();
    assert_eq!(added.len(), 2);
    assert_eq!(added[0]["size"], INIT_RECORDS + 1);
    assert_eq!(added[1]["size"], INIT_RECORDS + 3);
    // Idempotent.
    let r = log_run(
        &f,
        &[
            "checkpoint",
            "add-cosignature",
            s(&out),
            "--witness",
            &wv,
            "--json",
        ],
    );
    r.ok();
    assert_eq!(r.json()["new"], false);
    // In text, the cosignature's time is RFC 3339 (issue 19: not Unix seconds).
    let r = log_run(
        &f,
        &["checkpoint", "add-cosignature", s(&out), "--witness", &wv],
    );
    r.ok();
    assert!(
        r.stdout.contains("already had cosignature by") && r.stdout.contains(", made 20"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.trim_end().ends_with('Z'), "{}", r.stdout);
    let note = log_run(&f, &["checkpoint"]).ok().stdout.clone();
    assert!(
        note.contains("\u{2014} theguardian.example/witness "),
        "{note}"
    );
    assert!(note.contains("\u{2014} dropsite.example/leaks "), "{note}");
    // ledger/checkpoint carries them: the lock-free `checkpoint` printed it,
    // and the locked path (without the file) prints the same and restores it.
    assert_eq!(fs::read_to_string(&cp_file).unwrap(), note);
    fs::remove_file(&cp_file).unwrap();
    assert_eq!(log_run(&f, &["checkpoint"]).ok().stdout, note);
    assert_eq!(fs::read_to_string(&cp_file).unwrap(), note);
    // A crash after the cosignatures were stored, before the file was
    // replaced: the next open replaces it.
    fs::write(&cp_file, &uncosigned).unwrap();
    log_run(&f, &["status"]).ok();
    assert_eq!(fs::read_to_string(&cp_file).unwrap(), note);

    // verify honours --witness/--quorum.
    let (code, v) = f.verify(&["--witness", &wv, "--quorum", "1"]);
    assert_eq!(code, OK, "{v}");
    let other = fs::read_to_string(f.other_keys("972mag").join("witness.vkey")).unwrap();
    let (code, v) = f.verify(&["--witness", &wv, "--witness", other.trim(), "--quorum", "2"]);
    assert_eq!(code, FINDING);
    assert_checks(&v, &["witness_quorum"]);
    // A tlog-policy file: log + witnesses + nested group.
    let policy = format!(
        "log {}\nwitness guardian {wv}\nwitness mag {}\ngroup any1 any guardian mag\nquorum any1\n",
        fs::read_to_string(f.vkey()).unwrap().trim(),
        other.trim()
    );
    let pf = save(&f, "policy.txt", policy.as_bytes());
    let (code, v) = f.verify(&["--policy", s(&pf)]);
    assert_eq!(code, OK, "{v}");
    // Reindex rebuilds the cosignature index.
    f.run(&["reindex"]).ok();
    assert_eq!(log_run(&f, &["checkpoint"]).ok().stdout, note);
}

#[test]
fn stale_is_refused_without_evidence_and_forks_with_it() {
    let (f, w) = setup();
    ingest(&f, "a.txt");
    let cp1 = save(&f, "cp1", &f.run(&["checkpoint"]).ok().stdout_bytes);
    ingest(&f, "b.txt");
    let body = save(
        &f,
        "consistency",
        &f.run(&["prove", "--consistency", &(INIT_RECORDS + 1).to_string()])
            .ok()
            .stdout_bytes,
    );
    w.run(&["witness", "cosign", s(&cp1)]).ok();
    w.run(&["witness", "cosign", s(&body)]).ok();
    // The log's older checkpoint again: stale, refused, and no evidence
    // (issue 14: it is consistent, so it is no split view).
    let ev = f.path().join("rollback.evidence");
    let r = w.run(&["witness", "cosign", s(&cp1), "--evidence-out", s(&ev)]);
    r.code(FINDING);
    assert!(r.stderr.contains("stale"), "{}", r.stderr);
    assert!(!r.stderr.contains("evidence written"), "{}", r.stderr);
    assert!(!ev.exists());

    // A second dropsite archive with the same log key and different content.
    let fork = Fixture::new();
    ingest(&fork, "x.txt");
    ingest(&fork, "y.txt");
    let fcp = save(&f, "fork-cp", &fork.run(&["checkpoint"]).ok().stdout_bytes);
    let r = w.run(&["witness", "cosign", s(&fcp)]);
    r.code(FINDING);
    assert!(r.stderr.contains("fork"), "{}", r.stderr);
    let default_ev = w.dir.parent().unwrap().join(format!(
        "split-view-dropsite.example_leaks-{}.evidence",
        INIT_RECORDS + 2
    ));
    assert!(default_ev.is_file(), "{}", r.stderr);
    let mut c = custody();
    c.args([
        "verify-evidence",
        s(&default_ev),
        "--trust",
        s(&f.vkey()),
        "--json",
    ]);
    let r = run(c);
    r.ok();
    assert_eq!(r.json()["verdict"], "proven_fork");
    // A larger forked checkpoint with the fork's RFC proof from size 2:
    // refused, but 2 is a power of two, so the RFC proof leaves out the
    // fork's root at 2 and cannot show the conflict: no evidence.
    ingest(&fork, "z.txt");
    let fbody = save(
        &f,
        "fork-consistency",
        &fork
            .run(&["prove", "--consistency", &(INIT_RECORDS + 2).to_string()])
            .ok()
            .stdout_bytes,
    );
    let ev3 = f.path().join("fork3.evidence");
    let r = w.run(&[
        "witness",
        "cosign",
        s(&fbody),
        "--evidence-out",
        s(&ev3),
        "--json",
    ]);
    r.code(FINDING);
    assert_eq!(r.json()["reason"], "bad_proof", "{}", r.stdout);
    assert!(r.json()["evidence"].is_null());
    assert!(!ev3.exists());
    // Tampered evidence: one byte of a root changed, the signature fails.
    let mut b = fs::read(&default_ev).unwrap();
    let text = String::from_utf8(b.clone()).unwrap();
    let size_line = format!("\n{}\n", INIT_RECORDS + 2);
    let off = text.rfind(&size_line).unwrap() + size_line.len();
    b[off] = if b[off] == b'A' { b'B' } else { b'A' };
    let tampered = save(&f, "tampered.evidence", &b);
    let mut c = custody();
    c.args(["verify-evidence", s(&tampered), "--json"]);
    let r = run(c);
    r.code(FINDING);
    assert_eq!(r.json()["verdict"], "bad_signature");
    // Evidence that does not parse: not evidence of a split view, exit 1
    // (FORMAT.md §11.4; see malformed_evidence_is_a_finding).
    let junk = save(&f, "junk.evidence", b"hello\n");
    let mut c = custody();
    c.args(["verify-evidence", s(&junk)]);
    run(c).code(FINDING);
    // The witness state is unchanged by refusals: size INIT_RECORDS + 2 is
    // still accepted.
    w.run(&["witness", "cosign", s(&body)]).ok();
}

#[test]
fn add_cosignature_refuses_unknown_or_foreign_lines() {
    let (f, w) = setup();
    ingest(&f, "a.txt");
    let cp1 = save(&f, "cp1", &f.run(&["checkpoint"]).ok().stdout_bytes);
    let cos = save(
        &f,
        "cos",
        &w.run(&["witness", "cosign", s(&cp1)]).ok().stdout_bytes,
    );
    // Unknown key (empty trust store, no --witness): error, nothing stored.
    log_run(&f, &["checkpoint", "add-cosignature", s(&cos)]).error(&["unknown witness key"]);
    assert!(!f.ledger("cosignatures").exists());
    // A cosignature of another log's checkpoint does not verify here.
    let other = Fixture::new();
    ingest(&other, "q.txt");
    ingest(&other, "r.txt");
    let ocp = save(&f, "ocp", &other.run(&["checkpoint"]).ok().stdout_bytes);
    let w2 = Witness::new(other.path());
    w2.run(&[
        "witness",
        "add-log",
        "dropsite.example/leaks",
        s(&other.vkey()),
    ])
    .ok();
    let mut c = custody();
    c.env("CUSTODY_WITNESS_KEY", w2.keys.join("witness.key"))
        .arg("-A")
        .arg(&w2.dir)
        .args(["witness", "cosign", s(&ocp)]);
    let foreign = save(&f, "foreign", &run(c).ok().stdout_bytes);
    let wv = w.vkey();
    log_run(
        &f,
        &[
            "checkpoint",
            "add-cosignature",
            s(&cos),
            s(&foreign),
            "--witness",
            &wv,
        ],
    )
    .error(&["does not verify"]);
    assert!(!f.ledger("cosignatures").exists());
    // Trust store: add, list, duplicate refused, then add-cosignature uses it.
    log_run(&f, &["trust", "add", "guardian", &wv]).ok();
    log_run(&f, &["trust", "add", "again", &wv]).error(&["already trusted"]);
    log_run(&f, &["trust", "add", "guardian", s(&f.vkey())]).error(&["already has a key named"]);
    log_run(&f, &["trust", "add", "dropsite", s(&f.vkey())]).ok();
    let l = log_run(&f, &["trust", "list", "--json"]);
    l.ok();
    let keys = l.json()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["kind"], "witness");
    assert_eq!(keys[1]["kind"], "log");
    log_run(&f, &["checkpoint", "add-cosignature", s(&cos)]).ok();
    assert!(f.ledger("cosignatures").is_file());
    // --quorum without --witness counts the trusted witnesses.
    let mut c = f.cmd();
    c.env("CUSTODY_TRUST_STORE", f.path().join("dropsite-trust.toml"))
        .args(["verify", "--quorum", "1", "--json"]);
    run(c).ok();
    log_run(&f, &["trust", "remove", "guardian"]).ok();
    log_run(&f, &["trust", "remove", "guardian"]).code(ERROR);
    assert_eq!(
        log_run(&f, &["trust", "list", "--json"]).json()["keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn witness_setup_errors() {
    let (f, w) = setup();
    // Unknown origin.
    let other_vkey = f.other_keys("972mag").join("signing.vkey");
    let fake = save(
        &f,
        "cp-other",
        b"972mag.example/custody\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 972mag.example/custody AAAAAAAA\n",
    );
    w.run(&["witness", "cosign", s(&fake)])
        .error(&["does not witness"]);
    // add-log: the key name must equal the origin; witness keys are not log keys.
    w.run(&["witness", "add-log", "x.example/log", s(&other_vkey)])
        .error(&["origin"]);
    let wvk = w.keys.join("witness.vkey");
    w.run(&["witness", "add-log", "theguardian.example/witness", s(&wvk)])
        .error(&["not a log key"]);
    // The log key refused as a witness key.
    let cp = save(&f, "cp0", &f.run(&["checkpoint"]).ok().stdout_bytes);
    w.run(&[
        "witness",
        "cosign",
        s(&cp),
        "--witness-key",
        s(&w.keys.join("signing.key")),
    ])
    .error(&["log key"]);
    w.run(&[
        "witness",
        "cosign",
        s(&cp),
        "--witness-key",
        s(&f.signing_key()),
    ])
    .error(&["log key"]);
    // Nothing was recorded: the first cosignature is still a first use.
    let r = w.run(&["witness", "cosign", s(&cp)]);
    r.ok();
    assert!(r.stderr.contains("first use"), "{}", r.stderr);
}

#[test]
fn keygen_writes_a_distinct_witness_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("k");
    let mut c = custody();
    c.args(["keygen", "--name", "news.example/custody", "--json", "-o"])
        .arg(&dir);
    let r = run(c);
    r.ok();
    let j = r.json();
    let wv = j["witness_vkey"].as_str().unwrap();
    assert!(wv.starts_with("news.example/witness+"), "{wv}");
    assert_eq!(
        fs::read_to_string(dir.join("witness.vkey")).unwrap().trim(),
        wv
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(dir.join("witness.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert_ne!(
        fs::read_to_string(dir.join("witness.key")).unwrap(),
        fs::read_to_string(dir.join("signing.key")).unwrap()
    );
    assert!(!r.stdout.contains("PRIVATE+KEY"));
}

/// Split-view evidence bytes (FORMAT.md §11.4), built by hand.
fn evidence_bytes(f: &Fixture, cosigned: &[u8], offending: &[u8], proof: Option<&[u8]>) -> Vec<u8> {
    let vkey = fs::read_to_string(f.vkey()).unwrap();
    let mut b = format!("custody split-view evidence v1\nlog {}\n", vkey.trim()).into_bytes();
    b.extend_from_slice(format!("cosigned {}\n", cosigned.len()).as_bytes());
    b.extend_from_slice(cosigned);
    b.extend_from_slice(format!("offending {}\n", offending.len()).as_bytes());
    b.extend_from_slice(offending);
    if let Some(p) = proof {
        b.extend_from_slice(format!("proof {}\n", p.len()).as_bytes());
        b.extend_from_slice(p);
    }
    b
}

/// The `old N` and hash lines of an add-checkpoint body (a bare proof).
fn proof_head(body: &[u8]) -> Vec<u8> {
    let end = body.windows(2).position(|w| w == b"\n\n").unwrap();
    body[..end + 1].to_vec()
}

fn verify_evidence(p: &Path, extra: &[&str]) -> Run {
    let mut c = custody();
    c.arg("verify-evidence").arg(p).args(extra);
    run(c)
}

/// Issue 14, the reported attack: a witness that cosigned size 5, handed
/// the log's older (consistent) checkpoint at size 4 (init's two records
/// and two documents; a power of two), refuses it without evidence; and a
/// hand-built "evidence" of that pair is not evidence.
#[test]
fn stale_consistent_checkpoint_is_not_a_split_view() {
    let (f, w) = setup();
    ingest(&f, "a.txt");
    ingest(&f, "b.txt");
    let m = INIT_RECORDS + 2;
    assert_eq!(f.records(), m);
    let cp2 = f.run(&["checkpoint"]).ok().stdout_bytes.clone();
    let cp2_file = save(&f, "cp2", &cp2);
    ingest(&f, "c.txt");
    let n = m + 1;
    assert_eq!(f.records(), n);
    let cp3 = f.run(&["checkpoint"]).ok().stdout_bytes.clone();
    let cp3_file = save(&f, "cp3", &cp3);
    let body_2_3 = f
        .run(&["prove", "--consistency", &m.to_string()])
        .ok()
        .stdout_bytes
        .clone();
    w.run(&["witness", "cosign", s(&cp3_file)]).ok();
    let history = fs::read(w.dir.join("witness/history")).unwrap();

    // Refused, exit 1, reason `stale`, and no evidence file anywhere.
    let ev = f.path().join("stale.evidence");
    let r = w.run(&[
        "witness",
        "cosign",
        s(&cp2_file),
        "--evidence-out",
        s(&ev),
        "--json",
    ]);
    r.code(FINDING);
    let v = r.json();
    assert_eq!(v["reason"], "stale", "{v}");
    assert!(v["evidence"].is_null(), "{v}");
    assert!(
        r.stderr
            .contains(&format!("older than the latest cosigned size {n}")),
        "{}",
        r.stderr
    );
    assert!(!ev.exists());
    let default_ev = w
        .dir
        .parent()
        .unwrap()
        .join(format!("split-view-dropsite.example_leaks-{m}.evidence"));
    assert!(!default_ev.exists());
    // The same with the log's proof that size m is a prefix of size n.
    let head = save(&f, "proof-2-3", &proof_head(&body_2_3));
    let r = w.run(&["witness", "cosign", s(&cp2_file), "--proof", s(&head)]);
    r.code(FINDING);
    assert!(r.stderr.contains("stale"), "{}", r.stderr);
    assert!(!default_ev.exists());
    // Nothing was recorded; size n is still what the witness follows.
    assert_eq!(fs::read(w.dir.join("witness/history")).unwrap(), history);
    let j = w.run(&["witness", "cosign", s(&cp3_file), "--json"]);
    j.ok();
    assert_eq!(j.json()["accepted"], "unchanged");

    // The pair written by hand as evidence: not evidence, exit 1.
    let pair = save(&f, "pair.evidence", &evidence_bytes(&f, &cp3, &cp2, None));
    let r = verify_evidence(&pair, &[]);
    r.code(FINDING);
    assert!(
        r.stdout
            .contains("not evidence of a split view: inconsistency_proof"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("SPLIT VIEW"), "{}", r.stdout);
    let r = verify_evidence(&pair, &["--json", "--trust", s(&f.vkey())]);
    r.code(FINDING);
    assert_eq!(r.json()["verdict"], "unproven");
    assert_eq!(r.json()["check"], "inconsistency_proof");
    // With the log's consistency proof inside (or given): refuted, exit 1.
    let with_proof = save(
        &f,
        "pair-proof.evidence",
        &evidence_bytes(&f, &cp3, &cp2, Some(&proof_head(&body_2_3))),
    );
    let r = verify_evidence(&with_proof, &["--json"]);
    r.code(FINDING);
    assert_eq!(r.json()["verdict"], "refuted");
    let r = verify_evidence(&pair, &["--json", "--proof", s(&head)]);
    r.code(FINDING);
    assert_eq!(r.json()["verdict"], "refuted");
    // A proof with a hash altered is no evidence of anything: exit 1.
    let mut junk = proof_head(&body_2_3);
    let at = format!("old {m}\n").len() + 3;
    junk[at] = if junk[at] == b'A' { b'B' } else { b'A' };
    let junk_ev = save(
        &f,
        "pair-junk.evidence",
        &evidence_bytes(&f, &cp3, &cp2, Some(&junk)),
    );
    let r = verify_evidence(&junk_ev, &["--json"]);
    r.code(FINDING);
    assert_eq!(r.json()["verdict"], "unproven", "{}", r.stdout);
    // The same checkpoint twice: exit 1.
    let same = save(&f, "same.evidence", &evidence_bytes(&f, &cp3, &cp3, None));
    let r = verify_evidence(&same, &["--json"]);
    r.code(FINDING);
    assert_eq!(r.json()["verdict"], "identical");
}

/// The same size with different roots, both signed by the log: evidence
/// written, and `verify-evidence` says SPLIT VIEW, exit 0.
#[test]
fn same_size_different_roots_is_a_split_view() {
    let (f, w) = setup();
    ingest(&f, "a.txt");
    ingest(&f, "b.txt");
    let size = INIT_RECORDS + 2;
    assert_eq!(f.records(), size);
    let cp2 = save(&f, "cp2", &f.run(&["checkpoint"]).ok().stdout_bytes);
    w.run(&["witness", "cosign", s(&cp2)]).ok();
    let fork = Fixture::new();
    ingest(&fork, "x.txt");
    ingest(&fork, "y.txt");
    assert_eq!(fork.records(), size);
    let fcp = save(&f, "fork-cp2", &fork.run(&["checkpoint"]).ok().stdout_bytes);
    let ev = f.path().join("fork.evidence");
    let r = w.run(&["witness", "cosign", s(&fcp), "--evidence-out", s(&ev)]);
    r.code(FINDING);
    assert!(
        r.stderr.contains("fork") && r.stderr.contains("reset-log"),
        "{}",
        r.stderr
    );
    let r = verify_evidence(&ev, &["--trust", s(&f.vkey())]);
    r.ok();
    assert!(
        r.stdout.starts_with(&format!(
            "SPLIT VIEW: proven fork: two different checkpoints of size {size}"
        )),
        "{}",
        r.stdout
    );
    // Under another log key the same file proves nothing: exit 1.
    let other = Fixture::new_as("972mag");
    let r = verify_evidence(&ev, &["--trust", s(&other.vkey()), "--json"]);
    r.code(FINDING);
    assert_eq!(r.json()["verdict"], "bad_signature");
}

/// A larger checkpoint whose own proof opens its root and shows another
/// root at the cosigned size (5: init's two records and three documents,
/// not a power of two): proven inconsistent, exit 0. A proof that does not
/// open the root: refused, no evidence.
#[test]
fn proof_showing_another_prefix_is_a_split_view() {
    let (f, w) = setup();
    for n in ["a", "b", "c"] {
        ingest(&f, n);
    }
    let m = INIT_RECORDS + 3;
    assert_eq!(f.records(), m);
    let cp3 = f.run(&["checkpoint"]).ok().stdout_bytes.clone();
    w.run(&["witness", "cosign", s(&save(&f, "cp3", &cp3))])
        .ok();
    let fork = Fixture::new();
    for n in ["w", "x", "y", "z", "v"] {
        ingest(&fork, n);
    }
    assert!(fork.records() > m);
    let fbody = fork
        .run(&["prove", "--consistency", &m.to_string()])
        .ok()
        .stdout_bytes
        .clone();
    // One proof hash altered: bad_proof, and nothing written.
    let mut junk = fbody.clone();
    let at = format!("old {m}\n").len() + 3;
    junk[at] = if junk[at] == b'A' { b'B' } else { b'A' };
    let ev = f.path().join("junk.evidence");
    let r = w.run(&[
        "witness",
        "cosign",
        s(&save(&f, "junk-body", &junk)),
        "--evidence-out",
        s(&ev),
        "--json",
    ]);
    r.code(FINDING);
    assert_eq!(r.json()["reason"], "bad_proof", "{}", r.stdout);
    assert!(!ev.exists());
    // The fork's own proof: inconsistent, evidence that proves it.
    let ev = f.path().join("inconsistent.evidence");
    let r = w.run(&[
        "witness",
        "cosign",
        s(&save(&f, "fork-body", &fbody)),
        "--evidence-out",
        s(&ev),
        "--json",
    ]);
    r.code(FINDING);
    assert_eq!(r.json()["reason"], "inconsistent", "{}", r.stdout);
    let r = verify_evidence(&ev, &["--json", "--trust", s(&f.vkey())]);
    r.ok();
    assert_eq!(r.json()["verdict"], "proven_inconsistent", "{}", r.stdout);
    let r = verify_evidence(&ev, &[]);
    r.ok();
    assert!(
        r.stdout.starts_with("SPLIT VIEW: proven inconsistent"),
        "{}",
        r.stdout
    );
    // The same pair without the proof proves nothing.
    let fcp = fork.run(&["checkpoint"]).ok().stdout_bytes.clone();
    let bare = save(&f, "bare.evidence", &evidence_bytes(&f, &cp3, &fcp, None));
    verify_evidence(&bare, &[]).code(FINDING);
    let with = save(
        &f,
        "with.evidence",
        &evidence_bytes(&f, &cp3, &fcp, Some(&proof_head(&fbody))),
    );
    assert_eq!(fs::read(&with).unwrap(), fs::read(&ev).unwrap());
}

/// Issue 14: a witness that cosigned a fork continues with the log's
/// honest history after a recorded `witness reset-log`, keeping the
/// evidence; refusals of the reset write nothing.
#[test]
fn reset_log_continues_with_the_honest_history() {
    let (f, w) = setup();
    // The witness first meets a fork (trust on first use) at size m: init's
    // two records and two documents.
    let m = INIT_RECORDS + 2;
    let fork = Fixture::new();
    ingest(&fork, "x.txt");
    ingest(&fork, "y.txt");
    assert_eq!(fork.records(), m);
    let fcp = save(&f, "fork-cp2", &fork.run(&["checkpoint"]).ok().stdout_bytes);
    w.run(&["witness", "cosign", s(&fcp)]).ok();
    // The honest log at size m and m + 1: refused, forever, without a reset.
    ingest(&f, "a.txt");
    ingest(&f, "b.txt");
    assert_eq!(f.records(), m);
    let cp2 = save(&f, "cp2", &f.run(&["checkpoint"]).ok().stdout_bytes);
    ingest(&f, "c.txt");
    let body3 = save(
        &f,
        "body3",
        &f.run(&["prove", "--consistency", &m.to_string()])
            .ok()
            .stdout_bytes,
    );
    let ev = f.path().join("fork.evidence");
    w.run(&["witness", "cosign", s(&cp2), "--evidence-out", s(&ev)])
        .code(FINDING);
    verify_evidence(&ev, &[]).ok();
    w.run(&["witness", "cosign", s(&body3)]).code(FINDING);
    let hist = w.dir.join("witness/history");
    let before = fs::read(&hist).unwrap();

    // Refusals of reset-log: exit 2, nothing written.
    // An older honest checkpoint against the newer one: no proof of anything.
    let cp3 = f.run(&["checkpoint"]).ok().stdout_bytes.clone();
    let stale_pair = save(
        &f,
        "not-proof.evidence",
        &evidence_bytes(&f, &cp3, &fs::read(&cp2).unwrap(), None),
    );
    let other = Fixture::new_as("972mag");
    ingest(&other, "q.txt");
    let foreign = save(
        &f,
        "foreign-cp",
        &other.run(&["checkpoint"]).ok().stdout_bytes,
    );
    for (args, needle) in [
        (
            vec!["other.example/log", "--to", s(&cp2), "--reason", "x"],
            "does not witness",
        ),
        (
            vec!["dropsite.example/leaks", "--to", s(&cp2), "--reason", " "],
            "--reason",
        ),
        (
            vec![
                "dropsite.example/leaks",
                "--to",
                s(&cp2),
                "--reason",
                "a\nb",
            ],
            "--reason",
        ),
        (
            vec![
                "dropsite.example/leaks",
                "--to",
                s(&foreign),
                "--reason",
                "x",
            ],
            "log key",
        ),
        (
            vec!["dropsite.example/leaks", "--to", s(&fcp), "--reason", "x"],
            "already follows",
        ),
        (
            vec![
                "dropsite.example/leaks",
                "--to",
                s(&cp2),
                "--reason",
                "x",
                "--evidence",
                s(&stale_pair),
            ],
            "not-proof.evidence",
        ),
    ] {
        let mut a = vec!["witness", "reset-log"];
        a.extend(args);
        w.run(&a).error(&[needle]);
        assert_eq!(fs::read(&hist).unwrap(), before, "{needle}");
    }

    // The reset, keeping the evidence.
    let r = w.run(&[
        "witness",
        "reset-log",
        "dropsite.example/leaks",
        "--to",
        s(&cp2),
        "--reason",
        "dropsite restored a forked copy; its operator showed the honest log",
        "--evidence",
        s(&ev),
        "--json",
    ]);
    r.ok();
    let v = r.json();
    assert_eq!(v["size"], m, "{v}");
    assert_eq!(v["set_aside"], 1, "{v}");
    assert_eq!(v["evidence_kept"], 1, "{v}");
    // Recorded, nothing removed: the old frames, then the reset frame with
    // the reason, the checkpoint and the evidence verbatim.
    let after = fs::read(&hist).unwrap();
    assert!(after.starts_with(&before));
    let tail = &after[before.len()..];
    let text = String::from_utf8_lossy(tail);
    assert!(
        text.contains("custody witness reset v1\norigin dropsite.example/leaks\ntime "),
        "{text}"
    );
    assert!(
        text.contains("\nreason dropsite restored a forked copy;"),
        "{text}"
    );
    let ev_bytes = fs::read(&ev).unwrap();
    assert!(tail.windows(ev_bytes.len()).any(|x| x == ev_bytes));
    assert!(ev.is_file(), "the evidence file is kept");

    // The honest log is cosigned again: size m (the reset's checkpoint),
    // then the extension to m + 1 proven from it.
    let j = w.run(&["witness", "cosign", s(&cp2), "--json"]);
    j.ok();
    assert_eq!(j.json()["accepted"], "unchanged");
    let j = w.run(&["witness", "cosign", s(&body3), "--json"]);
    j.ok();
    assert_eq!(j.json()["accepted"], "extended");
    // The fork is now the one refused, with evidence.
    let ev2 = f.path().join("fork-again.evidence");
    w.run(&["witness", "cosign", s(&fcp), "--evidence-out", s(&ev2)])
        .code(FINDING);
    verify_evidence(&ev2, &[]).ok();
    // The witness archive, reset included, passes verify.
    let r = w.run(&["verify", "--json"]);
    assert_eq!(r.code, OK, "{}", r.stdout);
    // A reset frame whose kept evidence was altered is a finding.
    let mut bad = after.clone();
    let at = before.len()
        + tail
            .windows(ev_bytes.len())
            .position(|x| x == ev_bytes)
            .unwrap();
    // Flip a byte of the evidence's first root: its signature fails.
    let root_at = at
        + String::from_utf8_lossy(&ev_bytes)
            .find(&format!("\n{m}\n"))
            .unwrap()
        + 3;
    bad[root_at] = if bad[root_at] == b'A' { b'B' } else { b'A' };
    let kept = fs::read(&hist).unwrap();
    fs::write(&hist, &bad).unwrap();
    let r = w.run(&["verify", "--json"]);
    assert_eq!(r.code, FINDING, "{}", r.stdout);
    assert_checks(&r.json(), &["witness_state"]);
    fs::write(&hist, kept).unwrap();
}

/// FORMAT.md §11.4 (as §8.1 for proofs): an evidence file read within its
/// limit that does not parse is the data under judgement being wrong, a
/// finding (exit 1, verdict `malformed`, check `evidence`); exit 2 is for
/// what keeps the command from judging: a file that cannot be read, a
/// `--trust` or `--proof` that cannot be read or does not parse.
#[test]
fn malformed_evidence_is_a_finding() {
    let f = Fixture::with_samples();
    let cp = f.run(&["checkpoint"]).ok().stdout_bytes.clone();
    let good = evidence_bytes(&f, &cp, &cp, None);
    // Well formed (the same checkpoint twice): identical, exit 1.
    let r = verify_evidence(&save(&f, "same.evidence", &good), &["--json"]);
    r.code(FINDING);
    assert_eq!(r.json()["verdict"], "identical");
    let text = String::from_utf8(good.clone()).unwrap();
    let cut = good[..good.len() - 10].to_vec();
    let trailing = [good.as_slice(), b"x"].concat();
    let bad_log = text
        .replacen("log dropsite", "log not a key", 1)
        .into_bytes();
    let bad_len = text.replacen("cosigned ", "cosigned 0", 1).into_bytes();
    let not_utf8 = [&good[..40], b"\xff".as_slice(), &good[41..]].concat();
    for (what, bytes, word) in [
        ("junk", b"hello\n".to_vec(), "bad first line"),
        ("empty", Vec::new(), "bad first line"),
        ("cut short", cut, "cut short"),
        ("bytes after the last section", trailing, "`proof <length>`"),
        ("bad log line", bad_log, "bad `log` line"),
        ("length not canonical", bad_len, "cosigned"),
        ("not UTF-8", not_utf8, "evidence"),
    ] {
        let p = save(&f, "bad.evidence", &bytes);
        let r = verify_evidence(&p, &["--json"]);
        r.code(FINDING);
        let v = r.json();
        assert_eq!(v["ok"], false, "{what}: {v}");
        assert_eq!(v["verdict"], "malformed", "{what}: {v}");
        assert_eq!(v["check"], "evidence", "{what}: {v}");
        assert!(v["log_key"].is_null(), "{what}: {v}");
        let detail = v["detail"].as_str().unwrap();
        assert!(detail.contains(word), "{what}: {word:?} not in {detail:?}");
        let r = verify_evidence(&p, &["--trust", s(&f.vkey())]);
        r.code(FINDING);
        assert!(
            r.stdout
                .starts_with("not evidence of a split view: evidence: "),
            "{what}: {}",
            r.stdout
        );
        assert!(r.stderr.is_empty(), "{what}: {}", r.stderr);
    }
    // What keeps the command from judging: exit 2, one error line.
    let bad = save(&f, "bad.evidence", b"hello\n");
    let same = save(&f, "same.evidence", &good);
    verify_evidence(&f.path().join("missing.evidence"), &[]).error(&["missing.evidence"]);
    verify_evidence(f.path(), &[]).error(&[]);
    verify_evidence(&bad, &["--trust", "not a key"]).error(&["--trust"]);
    let junk_proof = save(&f, "junk.proof", b"old x\n");
    for p in [&same, &bad] {
        verify_evidence(p, &["--proof", s(&junk_proof)]).error(&["junk.proof"]);
    }
}
