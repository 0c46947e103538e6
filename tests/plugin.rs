//! Hardware-held identities through age plugins (issue 18 item 5, FORMAT.md
//! §5.3, §6.1): an archive whose recipient is a plugin's (`age1NAME1…`)
//! ingests, extracts and verifies `--deep` with the plugin's identity file
//! (`AGE-PLUGIN-NAME-1…`), the plugin found on PATH as `age-plugin-NAME`. No
//! hardware: `examples/age-plugin-custodytest.rs` is a test double speaking
//! the plugin protocol, switched by `CUSTODYTEST_MODE` to fail, crash, hang,
//! ask for a PIN, show a message or label its stanzas "postquantum".
//!
//! A plugin that fails, crashes, hangs past `CUSTODY_PLUGIN_TIMEOUT`, asks a
//! question with no terminal to answer on, or is not installed: exit 2, one
//! line naming the plugin, nothing written; a hung plugin is stopped. A mix
//! of recipients is allowed or refused as the age crate decides from the
//! labels each recipient returns.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;

const PLUGIN: &str = "age-plugin-custodytest";

/// The folder holding the test plugin, built if `cargo test --test plugin`
/// did not build the examples.
fn plugin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let bin = assert_cmd::cargo::cargo_bin("custody");
        let debug = bin.parent().unwrap().to_path_buf();
        let dir = debug.join("examples");
        if !dir.join(PLUGIN).exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let target = debug.parent().unwrap();
            let ok = std::process::Command::new(cargo)
                .args(["build", "--quiet", "--example", PLUGIN, "--target-dir"])
                .arg(target)
                .current_dir(repo())
                .status()
                .unwrap()
                .success();
            assert!(ok, "could not build the test plugin");
        }
        dir
    })
}

/// PATH with the test plugin's folder first.
fn path_with_plugin() -> std::ffi::OsString {
    let mut dirs = vec![plugin_dir().to_path_buf()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).unwrap()
}

/// PATH without the test plugin's folder.
fn path_without_plugin() -> std::ffi::OsString {
    let dirs: Vec<PathBuf> = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .filter(|d| !d.join(PLUGIN).exists())
        .collect();
    std::env::join_paths(dirs).unwrap()
}

/// `custody ARGS` with the plugin on PATH, in `mode` (`""`: normal).
fn cmd(mode: &str, args: &[&str]) -> assert_cmd::Command {
    let mut c = custody();
    c.env("PATH", path_with_plugin())
        .env("CUSTODYTEST_MODE", mode)
        .env_remove("CUSTODY_PLUGIN_TIMEOUT")
        .env_remove("CUSTODYTEST_PIDFILE")
        .args(args);
    c
}

fn custody_in(mode: &str, args: &[&str]) -> Run {
    run(cmd(mode, args))
}

/// A new test-plugin identity file at `path` (mode 0600); returns its recipient.
fn plugin_identity(path: &Path) -> String {
    let out = std::process::Command::new(plugin_dir().join(PLUGIN))
        .arg("--generate")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    fs::write(path, &text).unwrap();
    set_mode(path, 0o600);
    let r = text
        .lines()
        .find_map(|l| l.strip_prefix("#    Recipient: "))
        .unwrap()
        .to_string();
    assert!(r.starts_with("age1custodytest1"), "{r}");
    assert!(text.contains("AGE-PLUGIN-CUSTODYTEST-1"));
    r
}

/// Signing and admin keys (and a post-quantum, or with `--x25519` classic,
/// age identity) from `custody keygen` in `dir`.
fn keygen(dir: &Path, extra: &[&str]) {
    let d = dir.to_str().unwrap();
    let mut args = vec!["keygen", "--name", "plugin.example/leaks", "-o", d];
    args.extend(extra);
    custody_in("", &args).ok();
}

/// `custody init DIR` with the keys in `keys`, remembering `identity`.
fn init(mode: &str, dir: &Path, keys: &Path, identity: &Path, recipients: &[&str]) -> Run {
    let d = dir.to_str().unwrap();
    let sk = keys.join("signing.key");
    let ak = keys.join("admin.key");
    let mut args = vec![
        "init",
        d,
        "--signing-key",
        sk.to_str().unwrap(),
        "--admin-key",
        ak.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
    ];
    for r in recipients {
        args.extend(["--recipient", r]);
    }
    custody_in(mode, &args)
}

/// An archive at `tmp/archive` whose only recipient is a new test-plugin
/// recipient; returns (archive, plugin identity file).
fn plugin_archive(tmp: &Path) -> (PathBuf, PathBuf) {
    let keys = tmp.join("keys");
    keygen(&keys, &[]);
    let id = tmp.join("plugin-identity.txt");
    let r = plugin_identity(&id);
    let dir = tmp.join("archive");
    init("", &dir, &keys, &id, &[&r]).ok();
    (dir, id)
}

/// What a failed command must not have changed: the ledger files and the
/// names of the blobs.
fn snapshot(dir: &Path) -> (Vec<u8>, Vec<u8>, Vec<String>) {
    let mut blobs = Vec::new();
    let mut stack = vec![dir.join("blobs")];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                blobs.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    blobs.sort();
    (
        fs::read(dir.join("ledger/records")).unwrap(),
        fs::read(dir.join("ledger/checkpoints")).unwrap(),
        blobs,
    )
}

fn at(dir: &Path, args: &[&str]) -> Vec<String> {
    let mut v = vec!["-A".to_string(), dir.to_str().unwrap().to_string()];
    v.extend(args.iter().map(|s| s.to_string()));
    v
}

fn run_at(mode: &str, dir: &Path, args: &[&str]) -> Run {
    let v = at(dir, args);
    let v: Vec<&str> = v.iter().map(String::as_str).collect();
    custody_in(mode, &v)
}

#[test]
fn a_plugin_recipient_and_identity_serve_init_ingest_extract_and_deep_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    keygen(&keys, &[]);
    let id = tmp.path().join("plugin-identity.txt");
    let r = plugin_identity(&id);
    let ids = id.to_str().unwrap();
    // Given in capitals (Bech32 allows it): kept in its canonical lowercase.
    let dir = tmp.path().join("archive");
    init("", &dir, &keys, &id, &[&r.to_uppercase()]).ok();
    let status = run_at("", &dir, &["status", "--json"]);
    status.ok();
    assert!(status.stdout.contains(&r), "{}", status.stdout);
    assert!(!status.stdout.contains(&r.to_uppercase()));
    let toml = fs::read_to_string(dir.join("custody.toml")).unwrap();
    assert!(toml.contains(&r), "{toml}");

    let sample = sample_leak();
    run_at("", &dir, &["ingest", sample.to_str().unwrap()]).ok();
    // Every blob is an age file with the plugin's stanza, as it returned it.
    let (_, _, blobs) = snapshot(&dir);
    assert!(blobs.len() >= 8, "{blobs:?}");
    for b in &blobs {
        let bytes = fs::read(dir.join(b)).unwrap();
        let head = &bytes[..bytes.len().min(2048)];
        assert!(head.starts_with(b"age-encryption.org/v1\n"), "{b}");
        assert!(head.windows(15).any(|w| w == b"-> custodytest "), "{b}");
    }

    // A plugin message ("touch your key") goes to stderr; the command works.
    let readme = repo().join("README.md");
    let r2 = run_at("msg", &dir, &["ingest", readme.to_str().unwrap()]);
    r2.ok();
    assert!(
        r2.stderr
            .contains("age-plugin-custodytest: touch the custodytest key"),
        "{}",
        r2.stderr
    );

    let index = INIT_RECORDS.to_string();
    let shown = run_at("", &dir, &["show", &index, "-i", ids, "--json"]);
    shown.ok();
    let rel = shown.json()["metadata"]["path"]
        .as_str()
        .unwrap()
        .to_string();
    let out = tmp.path().join("doc.out");
    run_at(
        "",
        &dir,
        &["extract", &index, "-i", ids, "-o", out.to_str().unwrap()],
    )
    .ok();
    assert_eq!(fs::read(&out).unwrap(), sample_bytes(&rel));

    let v = run_at("", &dir, &["verify", "--deep", "-i", ids, "--json"]);
    v.ok();
    assert_eq!(
        v.json()["report"]["coverage"]["decrypted"],
        9,
        "{}",
        v.stdout
    );

    // Shared to a partner's plugin recipient, opened there with its identity.
    let partner = tmp.path().join("partner-identity.txt");
    let to = plugin_identity(&partner);
    let bundle = tmp.path().join("doc.bundle");
    let b = bundle.to_str().unwrap();
    run_at(
        "",
        &dir,
        &["share", &index, "--to", &to, "-i", ids, "-o", b],
    )
    .ok();
    let vkey = keys.join("signing.vkey");
    let (v, p) = (vkey.to_str().unwrap(), partner.to_str().unwrap());
    custody_in("", &["verify-bundle", b, "--trust", v, "-i", p]).ok();
    custody_in("fail", &["verify-bundle", b, "--trust", v, "-i", p])
        .error(&["age-plugin-custodytest failed"]);
}

#[test]
fn a_failing_or_crashing_plugin_is_one_line_exit_2_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, id) = plugin_archive(tmp.path());
    let ids = id.to_str().unwrap();
    let sample = sample_leak();
    let before = snapshot(&dir);
    for (mode, says) in [
        ("fail", "age-plugin-custodytest failed"),
        ("crash", "age-plugin-custodytest stopped before it answered"),
        ("pin", "age-plugin-custodytest asks for a secret"),
    ] {
        let r = run_at(mode, &dir, &["ingest", sample.to_str().unwrap()]);
        r.error(&[says]);
        assert_eq!(snapshot(&dir), before, "{mode}");
    }
    let r = run_at("fail", &dir, &["ingest", sample.to_str().unwrap()]);
    r.error(&[
        "simulated failure (CUSTODYTEST_MODE=fail)",
        "run the same command again",
    ]);
    let r = run_at("pin", &dir, &["ingest", sample.to_str().unwrap()]);
    r.error(&["stdin is not a terminal", "run the command in a terminal"]);

    // Reading: extract writes nothing; verify --deep stops (exit 2, not a
    // finding about the archive).
    run_at("", &dir, &["ingest", sample.to_str().unwrap()]).ok();
    let index = INIT_RECORDS.to_string();
    let out = tmp.path().join("doc.out");
    for mode in ["fail", "crash", "pin"] {
        let r = run_at(
            mode,
            &dir,
            &["extract", &index, "-i", ids, "-o", out.to_str().unwrap()],
        );
        r.error(&["age-plugin-custodytest"]);
        assert!(!out.exists());
        run_at(mode, &dir, &["verify", "--deep", "-i", ids]).error(&["age-plugin-custodytest"]);
    }
    run_at("", &dir, &["verify", "--deep", "-i", ids]).ok();
}

#[test]
fn a_hanging_plugin_times_out_is_stopped_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, id) = plugin_archive(tmp.path());
    let before = snapshot(&dir);
    let pidfile = tmp.path().join("plugin.pid");
    let sample = sample_leak();
    let mut c = cmd(
        "hang",
        &at(&dir, &["ingest", sample.to_str().unwrap()])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    c.env("CUSTODY_PLUGIN_TIMEOUT", "2")
        .env("CUSTODYTEST_PIDFILE", &pidfile)
        .timeout(Duration::from_secs(60));
    let started = Instant::now();
    let r = run(c);
    let took = started.elapsed();
    r.error(&[
        "age-plugin-custodytest did not answer within 2 s",
        "CUSTODY_PLUGIN_TIMEOUT",
    ]);
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert_eq!(snapshot(&dir), before);
    // The plugin was stopped (Linux finds it in /proc; FORMAT.md §6.1).
    let pid = fs::read_to_string(&pidfile).unwrap();
    #[cfg(not(target_os = "linux"))]
    let _ = pid;
    #[cfg(target_os = "linux")]
    {
        let stat = fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next();
        let gone = matches!(state, None | Some("Z") | Some("X"));
        if !gone {
            // Leave nothing running, then fail.
            let _ = std::process::Command::new("kill")
                .args(["-9", pid.trim()])
                .status();
        }
        assert!(gone, "the hung plugin {pid} still runs: {stat}");
    }

    // Decrypting hangs the same way, and stops at the deadline.
    let out = tmp.path().join("doc.out");
    let ids = id.to_str().unwrap();
    let args = at(&dir, &["verify", "--deep", "-i", ids]);
    let mut c = cmd("hang", &args.iter().map(String::as_str).collect::<Vec<_>>());
    c.env("CUSTODY_PLUGIN_TIMEOUT", "1");
    let started = Instant::now();
    run(c).error(&["did not answer within 1 s"]);
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(!out.exists());

    // The deadline must be whole seconds.
    let mut c = cmd(
        "",
        &at(&dir, &["status"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    c.env("CUSTODY_PLUGIN_TIMEOUT", "0");
    run(c).error(&["CUSTODY_PLUGIN_TIMEOUT must be a whole number of seconds"]);
}

#[test]
fn a_plugin_missing_from_path_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, id) = plugin_archive(tmp.path());
    let before = snapshot(&dir);
    let sample = sample_leak();
    let missing = |args: &[&str]| {
        let mut c = cmd("", args);
        c.env("PATH", path_without_plugin());
        run(c)
    };
    let a = at(&dir, &["ingest", sample.to_str().unwrap()]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    missing(&a).error(&["age-plugin-custodytest not found on PATH", "install it"]);
    assert_eq!(snapshot(&dir), before);
    let out = tmp.path().join("doc.out");
    let a = at(
        &dir,
        &[
            "extract",
            &INIT_RECORDS.to_string(),
            "-i",
            id.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    missing(&a).error(&["age-plugin-custodytest not found on PATH"]);
    assert!(!out.exists());

    // init to a plugin recipient without its plugin: no archive.
    let keys = tmp.path().join("keys");
    let (sk, ak) = (keys.join("signing.key"), keys.join("admin.key"));
    let r = plugin_identity(&tmp.path().join("other-identity.txt"));
    let other = tmp.path().join("other");
    let a = [
        "init",
        other.to_str().unwrap(),
        "--signing-key",
        sk.to_str().unwrap(),
        "--admin-key",
        ak.to_str().unwrap(),
        "--recipient",
        &r,
    ];
    missing(&a).error(&["age-plugin-custodytest not found on PATH"]);
    assert!(!other.join("custody.toml").exists());
}

#[test]
fn mixing_plugin_recipients_is_allowed_or_refused_as_their_labels_say() {
    let tmp = tempfile::tempdir().unwrap();
    let pq = tmp.path().join("pq");
    keygen(&pq, &[]);
    let classic = tmp.path().join("classic");
    keygen(&classic, &["--x25519"]);
    let id = tmp.path().join("plugin-identity.txt");
    let r = plugin_identity(&id);
    let pq_r = fs::read_to_string(pq.join("recipient.txt")).unwrap();
    let classic_r = fs::read_to_string(classic.join("recipient.txt")).unwrap();
    let (pq_r, classic_r) = (pq_r.trim(), classic_r.trim());

    // No labels (as X25519): a plugin recipient and an X25519 one share
    // files, and either identity opens them.
    let dir = tmp.path().join("with-x25519");
    init("", &dir, &classic, &id, &[&r, classic_r]).ok();
    let sample = sample_leak();
    run_at("", &dir, &["ingest", sample.to_str().unwrap()]).ok();
    for ids in [id.clone(), classic.join("identity.age")] {
        let v = run_at(
            "",
            &dir,
            &["verify", "--deep", "-i", ids.to_str().unwrap(), "--json"],
        );
        v.ok();
        assert_eq!(v.json()["report"]["coverage"]["decrypted"], 8);
    }

    // A plugin without labels and a post-quantum recipient ("postquantum"):
    // refused, as the age crate refuses it; no archive.
    let dir = tmp.path().join("with-pq");
    let r2 = init("", &dir, &pq, &pq.join("identity.age"), &[pq_r, &r]);
    r2.error(&["cannot share one file", "plugin recipient"]);
    assert!(!dir.join("custody.toml").exists());

    // A plugin that labels its stanzas "postquantum" joins a post-quantum
    // recipient, and not an X25519 one.
    init("pq", &dir, &pq, &pq.join("identity.age"), &[pq_r, &r]).ok();
    run_at("pq", &dir, &["ingest", sample.to_str().unwrap()]).ok();
    let v = run_at(
        "pq",
        &dir,
        &["verify", "--deep", "-i", id.to_str().unwrap(), "--json"],
    );
    v.ok();
    assert_eq!(v.json()["report"]["coverage"]["decrypted"], 8);
    // (The same plugin without its label now: refused, nothing written.)
    let before = snapshot(&dir);
    let readme = repo().join("README.md");
    run_at("", &dir, &["ingest", readme.to_str().unwrap()]).error(&["cannot share one file"]);
    assert_eq!(snapshot(&dir), before);
    let dir = tmp.path().join("pq-plugin-with-x25519");
    init("pq", &dir, &classic, &id, &[classic_r, &r]).error(&["cannot share one file"]);
    assert!(!dir.join("custody.toml").exists());
}

/// Runs `custody ARGS` on a pseudo-terminal (util-linux `script`), in
/// `mode`, answering `answer` to every question whose text holds `prompt`;
/// `None` if `script` is not installed. Returns the exit code and what the
/// terminal showed.
fn on_terminal(mode: &str, args: &[&str], prompt: &str, answer: &str) -> Option<(i32, String)> {
    use std::io::{Read, Write};
    let line = std::iter::once(
        assert_cmd::cargo::cargo_bin("custody")
            .display()
            .to_string(),
    )
    .chain(args.iter().map(|a| a.to_string()))
    .map(|a| format!("'{a}'"))
    .collect::<Vec<_>>()
    .join(" ");
    let mut child = match std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("PATH", path_with_plugin())
        .env("NO_COLOR", "1")
        .env("CUSTODYTEST_MODE", mode)
        .env_remove("CUSTODY_ARCHIVE")
        .env_remove("CUSTODY_IDENTITY")
        .env_remove("CUSTODY_PLUGIN_TIMEOUT")
        .env("CUSTODY_TRUST_STORE", "/proc/custody-tests/trust.toml")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(_) => return None,
    };
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let started = Instant::now();
    let mut seen = String::new();
    let mut answered = 0;
    let mut buf = [0u8; 4096];
    // Each question is answered once it is on the screen.
    while let Ok(n @ 1..) = stdout.read(&mut buf) {
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        while seen.matches(prompt).count() > answered {
            // As a person would, a moment after the question shows (the
            // prompt is written before echo is turned off for the answer).
            std::thread::sleep(Duration::from_millis(400));
            let _ = stdin.write_all(format!("{answer}\n").as_bytes());
            answered += 1;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{seen}");
    }
    let code = child.wait().unwrap().code().unwrap_or(-1);
    Some((code, seen))
}

#[test]
fn a_plugin_asking_for_a_pin_is_answered_on_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, id) = plugin_archive(tmp.path());
    let d = dir.to_str().unwrap();
    let readme = repo().join("README.md");
    let file = readme.to_str().unwrap();
    let pin = "PIN for the custodytest key";
    let Some((code, seen)) = on_terminal("pin", &["-q", "-A", d, "ingest", file], pin, "1234")
    else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    assert_eq!(code, 0, "{seen}");
    assert!(
        seen.contains("age-plugin-custodytest: PIN for the custodytest key: "),
        "{seen}"
    );
    assert!(!seen.contains("1234"), "the PIN was echoed: {seen}");
    // A wrong PIN: the plugin's own error, one line, exit 2.
    let before = snapshot(&dir);
    let (code, seen) = on_terminal("pin", &["-q", "-A", d, "ingest", file], pin, "0000").unwrap();
    assert_eq!(code, 2, "{seen}");
    assert!(seen.contains("wrong or no PIN"), "{seen}");
    assert_eq!(snapshot(&dir), before);
    // Reading asks too.
    let index = (INIT_RECORDS).to_string();
    let out = tmp.path().join("doc.out");
    let ids = id.to_str().unwrap();
    let o = out.to_str().unwrap();
    let (code, seen) = on_terminal(
        "pin",
        &["-q", "-A", d, "extract", &index, "-i", ids, "-o", o],
        pin,
        "1234",
    )
    .unwrap();
    assert_eq!(code, 0, "{seen}");
    assert_eq!(fs::read(&out).unwrap(), fs::read(&readme).unwrap());
}
