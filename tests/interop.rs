//! Interoperability with the reference tools: what custody writes decrypts with
//! `age`; keys made by `age-keygen` and `ssh-keygen` work with custody; keys
//! made by `custody keygen` (plain and passphrase-protected) work everywhere.
//!
//! These tests need `age`, `age-keygen` and `ssh-keygen` (Debian: `apt-get
//! install age openssh-client`) and fail if they are missing.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use base64::Engine as _;
use common::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `age -d -i IDENTITY FILE` → plaintext bytes (asserting success).
#[track_caller]
fn age_decrypt(identity: &Path, file: &Path) -> Vec<u8> {
    let mut c = Command::new(require_tool("age"));
    c.arg("-d").arg("-i").arg(identity).arg(file);
    let r = run(c);
    assert_eq!(r.code, 0, "age -d failed: {}", r.stderr);
    r.stdout_bytes
}

/// The record index of the `k`-th document ingested into a new archive.
fn doc_index(k: usize) -> String {
    (INIT_RECORDS + k as u64).to_string()
}

/// An archive in `f.dir` with the dropsite signing and admin keys and these
/// recipients.
#[track_caller]
fn init_with_recipients(f: &Fixture, recipients: &[&str]) {
    let mut c = custody();
    c.arg("init")
        .arg(&f.dir)
        .arg("--signing-key")
        .arg(f.signing_key())
        .arg("--admin-key")
        .arg(f.admin_key());
    for r in recipients {
        c.arg("--recipient").arg(r);
    }
    run(c).ok();
}

#[test]
fn blobs_and_envelopes_decrypt_with_age() {
    require_tool("age");
    let f = Fixture::with_samples();
    for (i, rel) in SAMPLE_FILES.iter().enumerate() {
        let show = f.show(&doc_index(i));
        let blob = show["blob"].as_str().unwrap();
        let path = f.dir.join("blobs").join(&blob[..2]).join(blob);
        assert!(path.is_file(), "{}", path.display());
        assert_eq!(
            age_decrypt(&f.identity(), &path),
            sample_bytes(rel),
            "record {i} ({rel})"
        );
        // The metadata envelope is an age file holding one JSON line per
        // document of the ingest batch (FORMAT.md §5.2), this one's among them.
        let meta = f.blob_path(show["meta"].as_str().unwrap());
        let plain = age_decrypt(&f.identity(), &meta);
        let text = String::from_utf8(plain).unwrap();
        assert!(text.ends_with('\n'));
        let entries: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(entries.len(), SAMPLE_FILES.len());
        let json = entries.iter().find(|e| e["path"] == *rel).unwrap();
        assert_eq!(json["size"], sample_bytes(rel).len() as u64);
    }
    // Another outlet's identity cannot decrypt them.
    let g = f.other_keys("guardian");
    let blob = f.show(&doc_index(0))["blob"].as_str().unwrap().to_string();
    let mut c = Command::new(require_tool("age"));
    c.arg("-d")
        .arg("-i")
        .arg(g.join("identity.age"))
        .arg(f.blob_path(&blob));
    let r = run(c);
    assert_ne!(r.code, 0);
    assert!(r.stdout.is_empty());
}

#[test]
fn age_keygen_identity_as_recipient_and_identity() {
    let keygen = require_tool("age-keygen");
    let f = Fixture::uninit();
    let key = f.path().join("age-key.txt");
    let mut c = Command::new(&keygen);
    c.arg("-o").arg(&key);
    run(c).ok();
    assert!(fs::read_to_string(&key)
        .unwrap()
        .contains("AGE-SECRET-KEY-1"));
    set_mode(&key, 0o600);
    let mut c = Command::new(&keygen);
    c.arg("-y").arg(&key);
    let r = run(c);
    r.ok();
    let age1 = r.stdout.trim().to_string();
    assert!(age1.starts_with("age1"), "{age1}");
    let pubfile = f.path().join("age-key.pub");
    fs::write(&pubfile, format!("# from age-keygen\n{age1}\n")).unwrap();

    // As a recipient file.
    init_with_recipients(&f, &[s(&pubfile)]);
    assert_eq!(f.status()["recipients"], serde_json::json!([age1]));
    let lines = f.ingest_samples();
    let out = f.path().join("out.csv");
    f.run(&["extract", &doc_index(5), "-i", s(&key), "-o", s(&out)])
        .ok();
    assert_eq!(fs::read(&out).unwrap(), sample_bytes(SAMPLE_FILES[5]));
    let (code, _) = f.verify(&["--deep", "-i", s(&key)]);
    assert_eq!(code, OK);
    // The dropsite identity is not a recipient of this archive.
    f.run(&[
        "extract",
        &doc_index(5),
        "-i",
        s(&f.identity()),
        "-o",
        s(&f.path().join("x")),
    ])
    .error(&["decryption failed"]);
    let blob = lines[5]["blob"].as_str().unwrap();
    assert_eq!(
        age_decrypt(&key, &f.blob_path(blob)),
        sample_bytes(SAMPLE_FILES[5])
    );

    // As an age1 string, next to the dropsite recipient: both can decrypt.
    let f2 = Fixture::uninit();
    let dropsite = fs::read_to_string(f2.keys.join("recipient.txt")).unwrap();
    init_with_recipients(&f2, &[&age1, dropsite.trim()]);
    f2.ingest_samples();
    for id in [key.clone(), f2.identity()] {
        let out = f2
            .path()
            .join(format!("out-{}", id.file_name().unwrap().to_str().unwrap()));
        f2.run(&["extract", &doc_index(3), "-i", s(&id), "-o", s(&out)])
            .ok();
        assert_eq!(fs::read(&out).unwrap(), sample_bytes(SAMPLE_FILES[3]));
    }
    // A secret key given as a recipient is refused (and not echoed).
    let f3 = Fixture::uninit();
    let mut c = custody();
    c.arg("init")
        .arg(&f3.dir)
        .arg("--signing-key")
        .arg(f3.signing_key())
        .arg("--admin-key")
        .arg(f3.admin_key())
        .arg("--recipient")
        .arg(&key);
    let line = run(c).error(&["holds a secret key"]);
    // The kind is named (age identity AGE-SECRET-KEY-1…), never the key.
    let secret = fs::read_to_string(&key).unwrap();
    let secret = secret
        .lines()
        .find_map(|l| l.strip_prefix("AGE-SECRET-KEY-1"))
        .unwrap();
    assert!(!line.contains(&secret[..12]), "{line}");
    assert!(!f3.dir.join("custody.toml").exists());
}

/// The OpenSSH keys of keys-example/localcall, and a fresh one from ssh-keygen.
#[test]
fn ssh_ed25519_recipient_and_identity() {
    require_tool("age");
    let f = Fixture::uninit();
    let lc = f.other_keys("localcall");
    let sshpub = lc.join("id_ed25519.pub");
    let sshkey = lc.join("id_ed25519");
    assert_eq!(
        fs::metadata(&sshkey).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let pubtext = fs::read_to_string(&sshpub).unwrap();
    assert!(pubtext.starts_with("ssh-ed25519 "));
    // The public key line as a recipient, and the .pub file as a recipient file.
    init_with_recipients(&f, &[pubtext.trim()]);
    let recips = f.status()["recipients"].clone();
    let r0 = recips[0].as_str().unwrap();
    assert!(r0.starts_with("ssh-ed25519 AAAA"), "{recips}");
    f.ingest_samples();
    let show = f.show(&doc_index(2));
    let blob = f.blob_path(show["blob"].as_str().unwrap());
    assert_eq!(age_decrypt(&sshkey, &blob), sample_bytes(SAMPLE_FILES[2]));
    let out = f.path().join("msg.eml");
    f.run(&["extract", &doc_index(2), "-i", s(&sshkey), "-o", s(&out)])
        .ok();
    assert_eq!(fs::read(&out).unwrap(), sample_bytes(SAMPLE_FILES[2]));
    let (code, v) = f.verify(&["--deep", "-i", s(&sshkey)]);
    assert_eq!(code, OK, "{v}");
    assert_eq!(v["report"]["coverage"]["decrypted"], 8);

    // A fresh key from ssh-keygen, given as a .pub file.
    let keygen = require_tool("ssh-keygen");
    let f2 = Fixture::uninit();
    let fresh = f2.path().join("fresh_ed25519");
    let mut c = Command::new(keygen);
    c.args(["-q", "-t", "ed25519", "-N", "", "-C", "test@custody", "-f"])
        .arg(&fresh);
    run(c).ok();
    let fresh_pub = PathBuf::from(format!("{}.pub", fresh.display()));
    init_with_recipients(&f2, &[s(&fresh_pub)]);
    // The comment is not part of the canonical recipient.
    let r = f2.status()["recipients"][0].as_str().unwrap().to_string();
    assert!(!r.contains("test@custody"), "{r}");
    f2.ingest_samples();
    let out = f2.path().join("memo.md");
    f2.run(&["extract", &doc_index(7), "-i", s(&fresh), "-o", s(&out)])
        .ok();
    assert_eq!(fs::read(&out).unwrap(), sample_bytes(SAMPLE_FILES[7]));
    let blob = f2.show(&doc_index(7))["blob"].as_str().unwrap().to_string();
    assert_eq!(
        age_decrypt(&fresh, &f2.blob_path(&blob)),
        sample_bytes(SAMPLE_FILES[7])
    );
    // localcall's key is not a recipient here.
    f2.run(&[
        "extract",
        &doc_index(7),
        "-i",
        s(&sshkey),
        "-o",
        s(&f2.path().join("x")),
    ])
    .error(&["decryption failed"]);
}

/// Runs `custody keygen` into `dir`; returns the run.
fn keygen(dir: &Path, name: &str, extra: &[&str]) -> Run {
    let mut c = custody();
    c.args(["keygen", "--name", name, "-o"])
        .arg(dir)
        .args(extra);
    run(c)
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[track_caller]
fn assert_no_secret(r: &Run) {
    for out in [&r.stdout, &r.stderr] {
        assert!(!out.contains("PRIVATE+KEY"), "secret printed: {out}");
        assert!(!out.contains("AGE-SECRET-KEY"), "secret printed: {out}");
    }
}

#[test]
fn keygen_plain_keys_work_with_age_and_custody() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    // Classic keys, which Debian's age (1.1) reads; post-quantum ones
    // (keygen's default) are tests/post_quantum.rs's.
    let r = keygen(&dir, "newsroom.example/archive", &["--x25519"]);
    r.ok();
    assert_no_secret(&r);
    let vkey = fs::read_to_string(dir.join("signing.vkey")).unwrap();
    let recipient = fs::read_to_string(dir.join("recipient.txt")).unwrap();
    assert!(vkey.starts_with("newsroom.example/archive+"));
    assert!(recipient.starts_with("age1"));
    assert!(
        r.stdout.contains(&format!("verifier key: {}", vkey.trim())),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains(&format!("recipient:    {}", recipient.trim())),
        "{}",
        r.stdout
    );
    assert_eq!(mode(&dir.join("signing.key")), 0o600);
    assert_eq!(mode(&dir.join("identity.age")), 0o600);
    assert!(fs::read_to_string(dir.join("signing.key"))
        .unwrap()
        .starts_with("PRIVATE+KEY+newsroom.example/archive+"));
    assert!(fs::read_to_string(dir.join("identity.age"))
        .unwrap()
        .contains("AGE-SECRET-KEY-1"));
    // The identity is a plain age identity file; the recipient a plain recipient.
    let mut c = Command::new(require_tool("age-keygen"));
    c.arg("-y").arg(dir.join("identity.age"));
    let y = run(c);
    y.ok();
    assert_eq!(y.stdout.trim(), recipient.trim());
    // Never overwrites.
    let again = keygen(&dir, "newsroom.example/archive", &[]);
    again.error(&["signing.key already exists"]);
    assert_eq!(fs::read_to_string(dir.join("signing.vkey")).unwrap(), vkey);
    // A bad name.
    keygen(&tmp.path().join("k2"), "has space", &[]).error(&["invalid key name"]);

    // The new keys make an archive whose blobs age decrypts.
    let archive = tmp.path().join("archive");
    let mut c = custody();
    c.arg("init")
        .arg(&archive)
        .arg("--signing-key")
        .arg(dir.join("signing.key"))
        .arg("--admin-key")
        .arg(dir.join("admin.key"))
        .arg("--recipient")
        .arg(dir.join("recipient.txt"));
    run(c).ok();
    let mut c = custody();
    c.arg("-A")
        .arg(&archive)
        .arg("ingest")
        .arg(sample_leak())
        .arg("--json");
    let r = run(c);
    r.ok();
    let lines = r.json_lines();
    let blob = lines[0]["blob"].as_str().unwrap();
    let path = archive.join("blobs").join(&blob[..2]).join(blob);
    assert_eq!(
        age_decrypt(&dir.join("identity.age"), &path),
        sample_bytes(SAMPLE_FILES[0])
    );
    let mut c = custody();
    c.arg("-A").arg(&archive).args(["prove", &doc_index(0)]);
    let r = run(c);
    r.ok();
    let proof = tmp.path().join("p");
    fs::write(&proof, &r.stdout_bytes).unwrap();
    let mut c = custody();
    c.arg("verify-proof")
        .arg(&proof)
        .arg("--trust")
        .arg(dir.join("signing.vkey"));
    run(c).ok();
}

#[test]
fn keygen_passphrase_protected_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let pass = tmp.path().join("pass.txt");
    fs::write(&pass, "correct horse battery staple\n").unwrap();
    let wrong = tmp.path().join("wrong.txt");
    fs::write(&wrong, "incorrect horse\n").unwrap();
    let dir = tmp.path().join("keys");
    let r = keygen(
        &dir,
        "protected.example/log",
        &[
            "--passphrase",
            "--passphrase-file",
            s(&pass),
            "--scrypt-work-factor",
            "10",
        ],
    );
    r.ok();
    assert_no_secret(&r);
    assert!(r.stderr.contains("passphrase-protected"), "{}", r.stderr);
    let (skey, id) = (dir.join("signing.key"), dir.join("identity.age"));
    assert_eq!(mode(&skey), 0o600);
    assert_eq!(mode(&id), 0o600);
    // The files are armored age passphrase (scrypt) files, not the bare secrets.
    for p in [&skey, &id] {
        let t = fs::read_to_string(p).unwrap();
        assert!(t.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"), "{t}");
        assert!(
            t.trim_end().ends_with("-----END AGE ENCRYPTED FILE-----"),
            "{t}"
        );
        assert!(!t.contains("PRIVATE+KEY") && !t.contains("AGE-SECRET-KEY"));
        let b64: String = t.lines().filter(|l| !l.starts_with("-----")).collect();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let head = String::from_utf8_lossy(&raw[..raw.len().min(200)]).into_owned();
        assert!(
            head.starts_with("age-encryption.org/v1\n-> scrypt "),
            "{head}"
        );
    }

    let archive = tmp.path().join("archive");
    let init = |extra: &[&str]| {
        let mut c = custody();
        c.arg("init")
            .arg(&archive)
            .arg("--signing-key")
            .arg(&skey)
            .arg("--admin-key")
            .arg(dir.join("admin.key"))
            .arg("--recipient")
            .arg(dir.join("recipient.txt"))
            .args(extra);
        run(c)
    };
    // Wrong passphrase, and none at all (no terminal): exit 2, nothing created.
    init(&["--passphrase-file", s(&wrong)]).error(&["wrong passphrase"]);
    init(&[]).error(&["passphrase", "--passphrase-file"]);
    assert!(!archive.join("custody.toml").exists());
    init(&["--passphrase-file", s(&pass)]).ok();

    let cmd = |args: &[&str]| {
        let mut c = custody();
        c.arg("-A").arg(&archive).args(args);
        c
    };
    // Signing (ingest) needs the passphrase too; the environment variable works.
    let doc = sample_leak().join("emails");
    run(cmd(&["ingest", s(&doc)])).error(&["passphrase"]);
    let mut c = cmd(&["ingest", s(&doc)]);
    c.env("CUSTODY_PASSPHRASE_FILE", &wrong);
    run(c).error(&["wrong passphrase"]);
    let mut c = cmd(&["ingest", s(&doc)]);
    c.env("CUSTODY_PASSPHRASE_FILE", &pass);
    run(c).ok();

    let out = tmp.path().join("memo.txt");
    run(cmd(&[
        "extract",
        &doc_index(0),
        "-i",
        s(&id),
        "-o",
        s(&out),
        "--passphrase-file",
        s(&wrong),
    ]))
    .error(&["wrong passphrase"]);
    assert!(!out.exists());
    run(cmd(&[
        "extract",
        &doc_index(0),
        "-i",
        s(&id),
        "-o",
        s(&out),
    ]))
    .error(&["passphrase"]);
    run(cmd(&[
        "extract",
        &doc_index(0),
        "-i",
        s(&id),
        "-o",
        s(&out),
        "--passphrase-file",
        s(&pass),
    ]))
    .ok();
    assert_eq!(
        fs::read(&out).unwrap(),
        sample_bytes("sample-leak/emails/attachment-board-memo.txt")
    );
    let mut c = cmd(&["verify", "--deep", "-i", s(&id), "--json"]);
    c.arg("--passphrase-file").arg(&pass);
    let r = run(c);
    r.ok();
    assert_eq!(r.json()["report"]["coverage"]["decrypted"], 3);
    // An empty passphrase file is refused by keygen.
    let empty = tmp.path().join("empty.txt");
    fs::write(&empty, "").unwrap();
    keygen(
        &tmp.path().join("k3"),
        "x.example/log",
        &[
            "--passphrase",
            "--passphrase-file",
            s(&empty),
            "--scrypt-work-factor",
            "10",
        ],
    )
    .error(&["empty passphrase"]);
    assert!(!tmp.path().join("k3/signing.key").exists());
}

/// A share bundle's payload and envelope are age files the partner opens with
/// the standard `age` tool: here for Local Call's ssh-ed25519 key.
#[test]
fn bundle_payload_and_envelope_decrypt_with_age_for_an_ssh_partner() {
    require_tool("age");
    let f = Fixture::with_samples();
    let lc = f.other_keys("localcall");
    let bundle = f.path().join("memo.bundle");
    f.json(&[
        "share",
        &doc_index(6),
        "--to",
        s(&lc.join("id_ed25519.pub")),
        "-i",
        s(&f.identity()),
        "-o",
        s(&bundle),
    ]);
    let bytes = fs::read(&bundle).unwrap();
    let mut r = &bytes[..];
    let head = custody::core::bundle::read_head(&mut r).unwrap();
    assert_eq!(r.len() as u64, head.payload_len);
    let payload = f.path().join("payload.age");
    let envelope = f.path().join("envelope.age");
    fs::write(&payload, r).unwrap();
    fs::write(&envelope, &head.envelope).unwrap();
    let key = lc.join("id_ed25519");
    assert_eq!(age_decrypt(&key, &payload), sample_bytes(SAMPLE_FILES[6]));
    let env: serde_json::Value = serde_json::from_slice(&age_decrypt(&key, &envelope)).unwrap();
    assert_eq!(env["name"], "2026-03-14-board-memo.txt", "{env}");
    assert!(
        env.get("path").is_none() && env.get("source").is_none(),
        "{env}"
    );
    // The sender's own identity is not a recipient of the bundle.
    let mut c = Command::new(require_tool("age"));
    c.arg("-d").arg("-i").arg(f.identity()).arg(&payload);
    assert_ne!(run(c).code, 0);
}
