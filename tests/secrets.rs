//! Secrets stay secret (issue 6): document plaintext never reaches an
//! archive's disk, and secret keys never appear in any output, bundle, report
//! or stored file. Each test tries to make them leak and scans for them.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use custody::core::hash::Digest;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every regular file under `root` (symlinks not followed).
fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                out.push(e.path());
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// (file, what) for every needle found in a file under one of `roots`.
fn hits(roots: &[&Path], needles: &[(&str, Vec<u8>)]) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut scanned = 0;
    for root in roots {
        for f in files_under(root) {
            let bytes = fs::read(&f).unwrap();
            scanned += 1;
            for (what, n) in needles {
                if contains(&bytes, n) {
                    found.push((f.clone(), what.to_string()));
                }
            }
        }
    }
    assert!(scanned > 0, "nothing scanned under {roots:?}");
    found
}

/// A unique marker: what an attacker would grep a seized disk for.
fn marker() -> String {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).unwrap();
    format!("MARKER-{}-SOURCE", hex::encode(b))
}

#[test]
fn plaintext_never_reaches_the_archive_disk() {
    let m = marker();
    let ds = Fixture::new();
    let gu = Fixture::new_as("guardian");
    let scratch = tempfile::tempdir().unwrap();
    let tmpdir = scratch.path().join("tmp");
    fs::create_dir(&tmpdir).unwrap();
    let inbox = scratch.path().join(format!("inbox-{m}"));
    fs::create_dir(&inbox).unwrap();
    // A small file, a file over the pipelined threshold (several MiB, the
    // marker in every 64 KiB chunk), and a file whose *name* is the marker.
    let small = format!("memo\n{m}\nend\n").into_bytes();
    let mut big = Vec::new();
    while big.len() < (5 << 20) + 123 {
        big.extend_from_slice(m.as_bytes());
        big.extend(std::iter::repeat_n(b'.', 65536 - m.len()));
    }
    let named = b"the name is the secret here\n".to_vec();
    fs::write(inbox.join("small.txt"), &small).unwrap();
    fs::write(inbox.join("big.bin"), &big).unwrap();
    fs::write(inbox.join(format!("{m}.txt")), &named).unwrap();
    let derived = scratch.path().join("translation.txt");
    fs::write(&derived, format!("traduction {m}\n")).unwrap();
    let plaintexts = [&small, &big, &named, &fs::read(&derived).unwrap()];

    let with_tmp = |f: &Fixture, args: &[&str]| {
        let mut c = f.cmd();
        c.env("TMPDIR", &tmpdir).args(args);
        let r = run(c);
        r.ok();
        r
    };
    with_tmp(&ds, &["ingest", s(&inbox), "--note", &m, "--source", &m]);
    // The first two documents (records 0 and 1 are the admin and the configuration).
    let (first, second) = (INIT_RECORDS.to_string(), (INIT_RECORDS + 1).to_string());
    with_tmp(
        &ds,
        &["derive", &first, s(&derived), "--relation", "translation"],
    );
    with_tmp(&ds, &["annotate", &second, &format!("note: {m}")]);
    let bundle = scratch.path().join("share.bundle");
    let big_index = ds
        .json_lines(&["log"])
        .iter()
        .find(|r| r["blob_size"].as_u64().unwrap_or(0) > 5 << 20)
        .map(|r| r["index"].to_string())
        .unwrap();
    with_tmp(
        &ds,
        &[
            "share",
            &big_index,
            "--to",
            s(&gu.keys.join("recipient.txt")),
            "-i",
            s(&ds.identity()),
            "-o",
            s(&bundle),
        ],
    );
    with_tmp(
        &gu,
        &[
            "receive",
            s(&bundle),
            "-i",
            s(&gu.identity()),
            "--trust",
            s(&ds.vkey()),
        ],
    );
    // Reading back works (so the scan below is not vacuous)...
    let out = scratch.path().join("out.bin");
    with_tmp(
        &ds,
        &[
            "extract",
            &big_index,
            "-i",
            s(&ds.identity()),
            "-o",
            s(&out),
        ],
    );
    assert_eq!(fs::read(&out).unwrap(), big);
    ds.assert_verified();
    gu.assert_verified();

    // ... and nothing under either archive, in the bundle or in TMPDIR holds
    // the marker, a plaintext's SHA-256 (hex or raw), or a file name.
    let mut needles: Vec<(&str, Vec<u8>)> = vec![("marker", m.as_bytes().to_vec())];
    let digests: Vec<Digest> = plaintexts.iter().map(|p| Digest::of(p)).collect();
    for d in &digests {
        needles.push(("plaintext sha256 (hex)", d.to_hex().into_bytes()));
        needles.push(("plaintext sha256 (raw)", d.as_bytes().to_vec()));
    }
    needles.push(("file name", b"small.txt".to_vec()));
    needles.push(("file name", b"translation.txt".to_vec()));
    // The scan finds what it looks for where it is (the inbox, the output).
    assert_eq!(hits(&[&inbox], &needles).len(), 2, "small.txt and big.bin");
    let found = hits(&[&ds.dir, &gu.dir, &tmpdir, &bundle], &needles);
    assert!(found.is_empty(), "plaintext on disk: {found:?}");
}

/// The secret lines and their base64 payloads of an outlet's key files.
fn secrets_of(keys: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for name in ["signing.key", "identity.age", "witness.key", "admin.key"] {
        let text = fs::read_to_string(keys.join(name)).unwrap();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            out.push((format!("{name} line"), line.as_bytes().to_vec()));
            // The key material alone, wherever it sits in the line.
            for part in line.split('+') {
                if part.len() >= 40 {
                    out.push((format!("{name} key material"), part.as_bytes().to_vec()));
                }
            }
            // An age identity's Bech32 data, case-insensitively.
            if let Some(rest) = line.strip_prefix("AGE-SECRET-KEY-1") {
                out.push((format!("{name} bech32"), rest.as_bytes().to_vec()));
                out.push((
                    format!("{name} bech32 (lower case)"),
                    rest.to_ascii_lowercase().into_bytes(),
                ));
            }
        }
    }
    assert!(out.len() >= 6, "{out:?}");
    out
}

#[test]
fn secret_keys_never_appear_in_outputs_bundles_reports_or_archives() {
    let ds = Fixture::new();
    let gu = Fixture::new_as("guardian");
    let scratch = tempfile::tempdir().unwrap();
    let mut secrets = secrets_of(&ds.keys);
    secrets.extend(secrets_of(&gu.keys));
    let needles: Vec<(&str, Vec<u8>)> = secrets
        .iter()
        .map(|(w, b)| (w.as_str(), b.clone()))
        .collect();
    let mut outputs = String::new();
    let mut record = |r: Run| {
        outputs.push_str(&r.stdout);
        outputs.push_str(&r.stderr);
        r
    };
    let id = s(&ds.identity()).to_string();
    // Documents of the ingest below (records 0 and 1 are the admin and the configuration).
    let doc = |k: u64| (INIT_RECORDS + k).to_string();
    let bundle = scratch.path().join("b.bundle");
    let report = scratch.path().join("report.html");
    let steps: Vec<Vec<String>> = vec![
        vec!["ingest".into(), s(&sample_leak()).into()],
        vec!["status".into()],
        vec!["log".into()],
        vec!["show".into(), doc(2), "-i".into(), id.clone()],
        vec!["verify".into(), "--deep".into(), "-i".into(), id.clone()],
        vec!["checkpoint".into()],
        vec!["prove".into(), doc(3)],
        vec![
            "share".into(),
            doc(2),
            "--to".into(),
            s(&gu.keys.join("recipient.txt")).into(),
            "-i".into(),
            id.clone(),
            "-o".into(),
            s(&bundle).into(),
        ],
        vec!["trace".into(), doc(2)],
        vec![
            "audit".into(),
            doc(2),
            "-i".into(),
            id.clone(),
            "--format".into(),
            "html".into(),
            "-o".into(),
            s(&report).into(),
        ],
        vec![
            "audit".into(),
            doc(2),
            "-i".into(),
            id.clone(),
            "--format".into(),
            "json".into(),
        ],
    ];
    for args in &steps {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = record(ds.run(&a));
        // An audit of a document without approvals reports findings (exit 1).
        let want = if a[0] == "audit" { FINDING } else { OK };
        r.code(want);
        let mut with_json = a.clone();
        with_json.push("--json");
        if !matches!(a[0], "audit" | "share") {
            record(ds.run(&with_json)).ok();
        }
    }
    record(gu.run(&[
        "receive",
        s(&bundle),
        "-i",
        s(&gu.identity()),
        "--trust",
        s(&ds.vkey()),
    ]))
    .ok();
    let mut c = custody();
    c.args(["verify-bundle", s(&bundle), "--trust", s(&ds.vkey())]);
    record(run(c)).ok();
    // The witness key, in use.
    let note = scratch.path().join("cp.txt");
    let cp = ds.run(&["checkpoint"]);
    fs::write(&note, &cp.stdout).unwrap();
    record(gu.run(&["witness", "add-log", s(&ds.vkey())]));
    record(gu.run(&[
        "witness",
        "cosign",
        s(&note),
        "--witness-key",
        s(&gu.keys.join("witness.key")),
    ]));

    // Errors that handle the secret files themselves.
    let broken = scratch.path().join("broken.key");
    let key = fs::read_to_string(ds.signing_key()).unwrap();
    fs::write(&broken, key.replacen('A', "!", 1).replacen('B', "?", 1)).unwrap();
    fs::set_permissions(&broken, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    record(ds.run(&["checkpoint", "--sign", "--signing-key", s(&broken)])).code(ERROR);
    let open = scratch.path().join("open.key");
    fs::copy(ds.signing_key(), &open).unwrap();
    fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    record(ds.run(&["checkpoint", "--sign", "--signing-key", s(&open)])).code(ERROR);
    // A secret file where a public key is expected.
    record(ds.run(&[
        "share",
        &doc(2),
        "--to",
        s(&ds.identity()),
        "-i",
        &id,
        "-o",
        s(&scratch.path().join("x.bundle")),
    ]))
    .code(ERROR);
    record(ds.run(&["trust", "add", s(&ds.signing_key())]));
    // The wrong secret: another outlet's signing key.
    record(ds.run(&[
        "checkpoint",
        "--sign",
        "--signing-key",
        s(&gu.signing_key()),
    ]))
    .code(ERROR);

    for (what, n) in &needles {
        assert!(
            !contains(outputs.as_bytes(), n),
            "{what} printed by a command"
        );
    }
    assert!(outputs.len() > 5000, "the journey printed too little");
    // The scan finds the secrets where they are (the key folders).
    for (what, n) in needles.iter().filter(|(w, _)| !w.ends_with("(lower case)")) {
        assert!(
            !hits(&[&ds.keys, &gu.keys], &[(what, n.clone())]).is_empty(),
            "{what} not found in the key folders"
        );
    }
    let found = hits(&[&ds.dir, &gu.dir, &bundle, &report], &needles);
    assert!(found.is_empty(), "secret key material stored: {found:?}");
}

/// One secret key form fed to the commands: as a file, or as inline text.
struct SecretForm {
    what: String,
    /// The value given on the command line (a path or the text itself).
    value: String,
    /// The secret text (the file's contents, or the value).
    text: String,
    /// What [`leaks`] scans for: the key material (base64 / bech32 / hex body).
    material: Vec<String>,
    /// A secret of the kind a signing-key argument (`PRIVATE+KEY`) loads.
    signer: bool,
    /// A secret of the kind an identity argument (`-i`) loads.
    identity: bool,
}

/// The key material of a secret text: the seed of a `PRIVATE+KEY`, the
/// Bech32 data of an age identity, the body lines of a PEM block, or the
/// whole of a bare blob.
fn material_of(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("-----"))
    {
        if line.starts_with("PRIVATE+KEY+") {
            out.push(line.splitn(5, '+').nth(4).unwrap().to_string());
        } else if let Some(rest) = line.to_ascii_uppercase().strip_prefix("AGE-SECRET-KEY-1") {
            out.push(rest.to_string());
        } else {
            out.push(line.to_string());
        }
    }
    assert!(
        !out.is_empty() && out.iter().all(|m| m.len() > 8),
        "{out:?}"
    );
    out
}

/// Every piece of `material` longer than 8 characters that `output` holds
/// (age's Bech32 in any letter case).
fn leaks(output: &str, material: &[String]) -> Vec<String> {
    let lower = output.to_ascii_lowercase();
    let mut found = Vec::new();
    for m in material {
        let chars: Vec<char> = m.chars().collect();
        for w in chars.windows(9) {
            let piece: String = w.iter().collect();
            let bech32 = piece.bytes().all(|c| c.is_ascii_alphanumeric())
                && piece.to_ascii_uppercase() == piece;
            let hit = if bech32 {
                lower.contains(&piece.to_ascii_lowercase())
            } else {
                output.contains(&piece)
            };
            if hit && !found.iter().any(|f: &String| f.contains(&piece)) {
                found.push(piece);
            }
        }
    }
    found
}

/// The secret forms: each key file of the test keys (and a bare seed, in
/// base64 and in hex, in files named as keys), and each as inline text.
fn secret_forms(dir: &Path) -> Vec<SecretForm> {
    use base64::Engine as _;
    let ds = copy_keys(dir, "dropsite");
    let lc = copy_keys(dir, "localcall");
    let mut forms = Vec::new();
    let mut file = |what: &str, path: PathBuf, signer: bool, identity: bool| {
        let text = fs::read_to_string(&path).unwrap();
        forms.push(SecretForm {
            what: format!("{what} (file)"),
            value: s(&path).to_string(),
            material: material_of(&text),
            text: text.clone(),
            signer,
            identity,
        });
        text
    };
    let signing = file("signing.key", ds.join("signing.key"), true, false);
    let identity = file("identity.age", ds.join("identity.age"), false, true);
    let witness = file("witness.key", ds.join("witness.key"), true, false);
    let ssh = file("id_ed25519", lc.join("id_ed25519"), false, true);
    file("localcall signing.key", lc.join("signing.key"), true, false);
    // A bare Ed25519 seed, as some tools store it.
    let seed_b64 = material_of(&signing).remove(0);
    let seed = base64::engine::general_purpose::STANDARD
        .decode(&seed_b64)
        .unwrap();
    let seed_hex = hex::encode(&seed[1..]);
    for (name, text) in [("seed.key", &seed_b64), ("seed-hex.key", &seed_hex)] {
        let p = dir.join(name);
        fs::write(&p, format!("{text}\n")).unwrap();
        set_mode(&p, 0o600);
        file(name, p, false, false);
    }
    let age_line = identity
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap()
        .to_string();
    for (what, text, signer, identity) in [
        ("signing.key", signing.trim().to_string(), true, false),
        ("witness.key", witness.trim().to_string(), true, false),
        ("identity.age line", age_line.clone(), false, true),
        (
            "identity.age line, lower case",
            age_line.to_lowercase(),
            false,
            true,
        ),
        ("id_ed25519", ssh.clone(), false, true),
        ("bare seed (base64)", seed_b64.clone(), false, false),
        ("bare seed (hex)", seed_hex.clone(), false, false),
    ] {
        forms.push(SecretForm {
            what: format!("{what} (inline text)"),
            material: material_of(&text),
            value: text.clone(),
            text,
            signer,
            identity,
        });
    }
    // Forms an adversarial pass found printed: the body of an OpenSSH key
    // without its armour lines (only its first line has the
    // `openssh-key-v1` marker), a seed in base64url, and a C2SP signer key
    // without its `PRIVATE+KEY+` (`name+id+SEED`, as a vkey is written).
    let body = ssh
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("\n");
    let seed_url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&seed[1..]);
    let unprefixed = signing.trim().strip_prefix("PRIVATE+KEY+").unwrap();
    for (what, text, material) in [
        (
            "id_ed25519 body without armour lines",
            body.clone(),
            material_of(&body),
        ),
        (
            "bare seed (base64url)",
            seed_url.clone(),
            vec![seed_url.clone()],
        ),
        (
            "signing.key without PRIVATE+KEY+",
            unprefixed.to_string(),
            vec![seed_b64.clone()],
        ),
        (
            "name+id+seed",
            format!("outlet.example+1a2b3c4d+{seed_b64}"),
            vec![seed_b64.clone()],
        ),
    ] {
        forms.push(SecretForm {
            what: format!("{what} (inline text)"),
            value: text.clone(),
            text,
            material,
            signer: false,
            identity: false,
        });
    }
    forms
}

#[test]
fn the_leak_scan_finds_what_the_old_messages_printed() {
    let scratch = tempfile::tempdir().unwrap();
    let forms = secret_forms(scratch.path());
    for f in &forms {
        // The messages of issue 15, unredacted: the whole secret quoted, or
        // the first characters of a line of its file.
        let whole = format!("error: {:?} is neither an age recipient (age1…)", f.text);
        assert!(!leaks(&whole, &f.material).is_empty(), "{}", f.what);
        let m = &f.material[0];
        let prefix = format!("unknown keyword {:?}", &m[..15]);
        assert!(!leaks(&prefix, &f.material).is_empty(), "{}", f.what);
        // age's Bech32 is found in either case.
        if f.text.to_ascii_uppercase().contains("AGE-SECRET-KEY-1") {
            assert!(
                !leaks(&m.to_lowercase(), &f.material).is_empty(),
                "{}",
                f.what
            );
            assert!(
                !leaks(&m.to_uppercase(), &f.material).is_empty(),
                "{}",
                f.what
            );
        }
        // Nine characters are found, eight are not.
        assert_eq!(leaks(&m[3..12], &f.material).len(), 1, "{}", f.what);
        assert!(leaks(&m[3..11], &f.material).is_empty(), "{}", f.what);
        // What custody prints now passes: the value quoted by
        // `redact::quote`, and (for a secret with a marker) the whole
        // message after the last redaction of stderr.
        use custody::core::redact;
        let now = format!(
            "error: {} is neither an age recipient",
            redact::quote(&f.text)
        );
        assert!(leaks(&now, &f.material).is_empty(), "{}: {now}", f.what);
        if redact::secret_kind(&f.text).is_some() {
            let now = redact::redact_message(&whole);
            assert!(leaks(&now, &f.material).is_empty(), "{}: {now}", f.what);
        }
    }
}

/// Issue 15: each secret form, as a file and as inline text, given to every
/// argument that takes a key, recipient, vkey, policy or file: exit 2, and
/// neither stdout nor stderr holds 9 characters of its key material.
#[test]
fn no_secret_in_any_message() {
    let ds = Fixture::new();
    let gu = Fixture::new_as("guardian");
    let scratch = tempfile::tempdir().unwrap();
    let sp = scratch.path();
    ds.run(&["ingest", s(&sample_leak())]).ok();
    // The second document (records 0 and 1 are the admin and the configuration).
    let doc = (INIT_RECORDS + 1).to_string();
    let doc = doc.as_str();
    let bundle = sp.join("b.bundle");
    ds.share_to(doc, &gu, &bundle);
    let records = (ds.records(), gu.records());
    let proof = sp.join("r.tlog-proof");
    fs::write(&proof, ds.run(&["prove", doc]).ok().stdout.as_bytes()).unwrap();
    let note = sp.join("cp.txt");
    fs::write(&note, ds.run(&["checkpoint"]).ok().stdout.as_bytes()).unwrap();
    let forms = secret_forms(&sp.join("secrets"));
    let trust_store = sp.join("trust.toml");

    // (argument, the archive it runs on, takes a signing key, takes an
    // identity, the arguments: {V} is the value, {OUT} an empty folder).
    #[derive(Clone, Copy)]
    enum On {
        Nothing,
        Dropsite,
        Guardian,
    }
    let sk = s(&ds.signing_key()).to_string();
    let ak = s(&ds.admin_key()).to_string();
    let rcpt = s(&ds.keys.join("recipient.txt")).to_string();
    let vkey = s(&ds.vkey()).to_string();
    let id = s(&ds.identity()).to_string();
    let gid = s(&gu.identity()).to_string();
    let (b, pr, n) = (s(&bundle), s(&proof), s(&note));
    let cases: Vec<(&str, On, bool, bool, Vec<&str>)> = vec![
        (
            "init --recipient",
            On::Nothing,
            false,
            false,
            vec![
                "init",
                "{OUT}/new",
                "--signing-key",
                &sk,
                "--admin-key",
                &ak,
                "--recipient={V}",
            ],
        ),
        (
            "init --signing-key",
            On::Nothing,
            true,
            false,
            vec![
                "init",
                "{OUT}/new",
                "--signing-key={V}",
                "--admin-key",
                &ak,
                "--recipient",
                &rcpt,
            ],
        ),
        (
            "init --admin-key",
            On::Nothing,
            true,
            false,
            vec![
                "init",
                "{OUT}/new",
                "--signing-key",
                &sk,
                "--admin-key={V}",
                "--recipient",
                &rcpt,
            ],
        ),
        (
            "init --origin (the name)",
            On::Nothing,
            false,
            false,
            vec![
                "init",
                "{OUT}/new",
                "--signing-key",
                &sk,
                "--admin-key",
                &ak,
                "--recipient",
                &rcpt,
                "--origin={V}",
            ],
        ),
        (
            "share --to",
            On::Dropsite,
            false,
            false,
            vec!["share", doc, "--to={V}", "-i", &id, "-o", "{OUT}/x.bundle"],
        ),
        (
            "trust add NAME VKEY",
            On::Nothing,
            false,
            false,
            vec!["trust", "add", "x", "--", "{V}"],
        ),
        (
            "trust add NAME (the name)",
            On::Nothing,
            false,
            false,
            vec!["trust", "add", "--", "{V}", &vkey],
        ),
        (
            "actor add NAME VKEY",
            On::Dropsite,
            false,
            false,
            vec!["actor", "add", "--role", "journalist", "bob", "--", "{V}"],
        ),
        (
            "witness add-log ORIGIN VKEY",
            On::Guardian,
            false,
            false,
            vec!["witness", "add-log", "dropsite.example/leaks", "--", "{V}"],
        ),
        (
            "verify --policy",
            On::Dropsite,
            false,
            false,
            vec!["verify", "--policy={V}"],
        ),
        (
            "verify --witness",
            On::Dropsite,
            false,
            false,
            vec!["verify", "--witness={V}"],
        ),
        (
            "verify-proof --trust",
            On::Nothing,
            false,
            false,
            vec!["verify-proof", pr, "--trust={V}"],
        ),
        (
            "verify-bundle --trust",
            On::Nothing,
            false,
            false,
            vec!["verify-bundle", b, "--trust={V}"],
        ),
        (
            "receive --trust",
            On::Guardian,
            false,
            false,
            vec!["receive", b, "-i", &gid, "--trust={V}"],
        ),
        (
            "verify-evidence --trust",
            On::Nothing,
            false,
            false,
            vec!["verify-evidence", n, "--trust={V}"],
        ),
        (
            "show --identity",
            On::Dropsite,
            false,
            true,
            vec!["show", doc, "--identity={V}"],
        ),
        (
            "checkpoint --sign --signing-key",
            On::Dropsite,
            true,
            false,
            vec!["checkpoint", "--sign", "--signing-key={V}"],
        ),
        (
            "annotate --key",
            On::Dropsite,
            true,
            false,
            vec!["--key={V}", "annotate", doc, "a note"],
        ),
        (
            "witness cosign --witness-key",
            On::Guardian,
            true,
            false,
            vec!["witness", "cosign", n, "--witness-key={V}"],
        ),
    ];

    let mut failures = Vec::new();
    let mut runs = 0;
    for (arg, on, takes_signer, takes_identity, template) in &cases {
        for f in &forms {
            // A key of the very kind the argument loads is not an error.
            // A key of the very kind the argument loads is not an error, nor
            // is a path where a name is asked for.
            let file = f.what.ends_with("(file)");
            if (*takes_signer && f.signer && file)
                || (*takes_identity && f.identity && file)
                || (arg.contains("(the name)") && file)
            {
                continue;
            }
            let out = tempfile::tempdir().unwrap();
            let a: Vec<String> = template
                .iter()
                .map(|t| t.replace("{OUT}", s(out.path())).replace("{V}", &f.value))
                .collect();
            let mut c = match on {
                On::Dropsite => ds.cmd(),
                On::Guardian => gu.cmd(),
                On::Nothing => custody(),
            };
            c.env("CUSTODY_TRUST_STORE", &trust_store).args(&a);
            let r = run(c);
            runs += 1;
            let printed = format!("{}{}", r.stdout, r.stderr);
            let found = leaks(&printed, &f.material);
            if !found.is_empty() {
                failures.push(format!("{arg} ← {}: printed {found:?}:\n{printed}", f.what));
            }
            if r.code != ERROR {
                failures.push(format!(
                    "{arg} ← {}: exit {} (want 2):\n{printed}",
                    f.what, r.code
                ));
            }
            if fs::read_dir(out.path()).unwrap().next().is_some() {
                failures.push(format!("{arg} ← {}: wrote into the output folder", f.what));
            }
        }
    }
    assert!(runs > 150, "{runs} runs");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Nothing was written: no record, no trust store, no new archive.
    assert_eq!((ds.records(), gu.records()), records);
    assert!(!trust_store.exists());
}

/// The archive location (`-A`, `CUSTODY_ARCHIVE`), `mirror SRC` and an
/// argument the command line parser did not expect, given each secret form
/// as inline text (a bare seed in base64, base64url or hex, `name+id+SEED`,
/// an OpenSSH key body without its armour, and the rest): exit 2, and
/// neither stdout nor stderr holds 9 characters of its key material.
#[test]
fn no_secret_in_archive_location_or_mirror_source_messages() {
    let ds = Fixture::new();
    let scratch = tempfile::tempdir().unwrap();
    let forms = secret_forms(&scratch.path().join("secrets"));
    let inline: Vec<&SecretForm> = forms
        .iter()
        .filter(|f| f.what.ends_with("(inline text)"))
        .collect();
    assert!(inline.len() >= 10, "{} inline forms", inline.len());
    let records = ds.records();
    let a = s(&ds.dir).to_string();
    let mut failures = Vec::new();
    let mut runs = 0;
    for f in &inline {
        let v = f.value.as_str();
        let long = format!("--archive={v}");
        let cases: Vec<(&str, Vec<&str>, Option<&str>)> = vec![
            ("-A", vec!["-A", v, "status"], None),
            ("--archive=", vec![&long, "log"], None),
            ("CUSTODY_ARCHIVE", vec!["status"], Some(v)),
            ("mirror SRC", vec!["-A", &a, "mirror", v], None),
            ("mirror -- SRC", vec!["-A", &a, "mirror", "--", v], None),
            ("an unexpected argument", vec!["status", "--", v], None),
            ("an invalid value", vec!["log", "--limit", v], None),
        ];
        for (what, args, env) in cases {
            let mut c = custody();
            c.current_dir(scratch.path()).args(&args);
            if let Some(e) = env {
                c.env("CUSTODY_ARCHIVE", e);
            }
            let r = run(c);
            runs += 1;
            let printed = format!("{}{}", r.stdout, r.stderr);
            let found = leaks(&printed, &f.material);
            if !found.is_empty() {
                failures.push(format!(
                    "{what} ← {}: printed {found:?}:\n{printed}",
                    f.what
                ));
            }
            if r.code != ERROR {
                failures.push(format!(
                    "{what} ← {}: exit {} (want 2):\n{printed}",
                    f.what, r.code
                ));
            }
        }
    }
    assert!(runs >= 70, "{runs} runs");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(ds.records(), records);
}
