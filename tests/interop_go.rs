//! Interop: custody's checkpoints open with the Go team's own signed-note
//! verifier (golang.org/x/mod/sumdb/note, from Debian's golang-golang-x-mod-dev),
//! and its verifier keys parse there. CI installs `golang-go` and that package;
//! without them this test fails loudly (set CUSTODY_SKIP_GO_INTEROP=1 to skip it
//! on a machine that cannot have Go).

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn build_go_verifier(dir: &Path) -> Option<PathBuf> {
    if std::env::var_os("CUSTODY_SKIP_GO_INTEROP").is_some() {
        eprintln!("CUSTODY_SKIP_GO_INTEROP is set: skipping the Go interop test");
        return None;
    }
    let out = dir.join("go-note-verify");
    let st = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(repo().join("tests/interop/go-note-verify"))
        .env("GOPATH", "/usr/share/gocode")
        .env("GO111MODULE", "off")
        .env("GOCACHE", dir.join("gocache"))
        .env("GOFLAGS", "")
        .status()
        .expect("`go` is needed for this test: apt-get install golang-go golang-golang-x-mod-dev");
    assert!(st.success(), "building tests/interop/go-note-verify failed");
    Some(out)
}

fn custody(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("custody")
        .unwrap()
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn checkpoints_verify_with_go_sumdb_note() {
    let t = tempfile::tempdir().unwrap();
    let Some(goverify) = build_go_verifier(t.path()) else {
        return;
    };
    let keys = t.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    for f in ["signing.key", "signing.vkey", "recipient.txt", "admin.key"] {
        std::fs::copy(repo().join("keys-example/guardian").join(f), keys.join(f)).unwrap();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for secret in ["signing.key", "admin.key"] {
            std::fs::set_permissions(keys.join(secret), std::fs::Permissions::from_mode(0o600))
                .unwrap();
        }
    }
    let arch = t.path().join("a");
    let a = arch.to_str().unwrap();
    let key = keys.join("signing.key");
    let o = custody(&[
        "init",
        a,
        "--signing-key",
        key.to_str().unwrap(),
        "--recipient",
        keys.join("recipient.txt").to_str().unwrap(),
        "--admin-key",
        keys.join("admin.key").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The guardian's vkey has '+' inside its base64: a good parser test for Go too.
    let vkey = std::fs::read_to_string(keys.join("signing.vkey")).unwrap();
    let vkey = vkey.trim();
    assert!(vkey.matches('+').count() > 2);

    let check = |note: &[u8]| -> (bool, String) {
        let f = t.path().join("note");
        std::fs::write(&f, note).unwrap();
        let o = Command::new(&goverify).arg(vkey).arg(&f).output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };

    // The first checkpoint, made by init: its two records (the first
    // admin and the configuration), so its root is the RFC 6962 node of
    // their two leaf hashes.
    let cp0 = custody(&["-A", a, "checkpoint"]).stdout;
    let (ok, text) = check(&cp0);
    assert!(
        ok,
        "Go rejected the size-2 checkpoint:\n{}",
        String::from_utf8_lossy(&cp0)
    );
    let log = custody(&["-A", a, "log", "--json"]);
    assert!(
        log.status.success(),
        "{}",
        String::from_utf8_lossy(&log.stderr)
    );
    let leaves: Vec<Vec<u8>> = String::from_utf8(log.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            hex::decode(v["leaf_hash"].as_str().unwrap()).unwrap()
        })
        .collect();
    assert_eq!(leaves.len(), 2);
    let root = {
        use base64::Engine;
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update([1u8]);
        h.update(&leaves[0]);
        h.update(&leaves[1]);
        base64::engine::general_purpose::STANDARD.encode(h.finalize())
    };
    assert_eq!(text, format!("theguardian.example/custody\n2\n{root}\n"));

    let sample = repo().join("examples/sample-leak");
    let o = custody(&["-A", a, "ingest", sample.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cp = custody(&["-A", a, "checkpoint"]).stdout;
    let (ok, text) = check(&cp);
    assert!(ok, "Go rejected:\n{}", String::from_utf8_lossy(&cp));
    let cps = String::from_utf8(cp.clone()).unwrap();
    assert!(
        cps.starts_with(&text),
        "Go's verified text is the checkpoint body"
    );
    // The two records of init and the eight sample documents.
    assert!(text.starts_with("theguardian.example/custody\n10\n"));

    // A flipped byte in the signature is rejected by Go as well.
    let mut bad = cp.clone();
    let n = bad.len();
    bad[n - 6] = if bad[n - 6] == b'A' { b'B' } else { b'A' };
    assert!(!check(&bad).0, "Go accepted a tampered checkpoint");
    // So is a changed tree size.
    let bad = cps.replacen("\n10\n", "\n11\n", 1);
    assert!(!check(bad.as_bytes()).0);
}
