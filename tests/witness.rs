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
fn rollback_and_fork_are_refused_with_evidence() {
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
    // Rollback to size INIT_RECORDS + 1.
    let ev = f.path().join("rollback.evidence");
    let r = w.run(&["witness", "cosign", s(&cp1), "--evidence-out", s(&ev)]);
    r.code(FINDING);
    assert!(
        r.stderr.contains("rollback") && r.stderr.contains(s(&ev)),
        "{}",
        r.stderr
    );
    let mut c = custody();
    c.args(["verify-evidence", s(&ev), "--json"]);
    let r = run(c);
    r.ok();
    assert_eq!(r.json()["verdict"], "unrefuted");
    // The log can refute a mere rollback with a consistency proof
    // INIT_RECORDS + 1 -> INIT_RECORDS + 2.
    let mut c = custody();
    c.args(["verify-evidence", s(&ev), "--proof", s(&body), "--json"]);
    let r = run(c);
    r.code(FINDING);
    assert_eq!(r.json()["verdict"], "refuted");

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
    // A larger forked checkpoint with a proof from the log's fork: refused.
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
    w.run(&["witness", "cosign", s(&fbody), "--evidence-out", s(&ev3)])
        .code(FINDING);
    assert!(ev3.is_file());
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
    // Unreadable evidence: exit 2.
    let junk = save(&f, "junk.evidence", b"hello\n");
    let mut c = custody();
    c.args(["verify-evidence", s(&junk)]);
    run(c).error(&["evidence"]);
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
