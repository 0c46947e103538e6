//! Shared helpers of the integration tests: temp archives made with the
//! test-only keys of keys-example/, running `custody` with `-A`, parsing `--json`.
//!
//! Every helper works inside its own temp dir and passes everything on the
//! command line or with `.env()` on the child, so tests stay parallel-safe.
//! The repository's key files are only ever read: their copies in the temp
//! dir get mode 0600 (git does not keep modes).

#![allow(dead_code)]

pub mod age_cli;
pub mod chain;
pub mod durability;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

/// Exit code: success.
pub const OK: i32 = 0;
/// Exit code: a verification finding.
pub const FINDING: i32 = 1;
/// Exit code: the command could not complete.
pub const ERROR: i32 = 2;

/// The eight sample documents, with their paths relative to examples/.
pub const SAMPLE_FILES: [&str; 8] = [
    "sample-leak/README.txt",
    "sample-leak/emails/attachment-board-memo.txt",
    "sample-leak/emails/msg-0001.eml",
    "sample-leak/emails/msg-0002.eml",
    "sample-leak/finance/empty-placeholder.txt",
    "sample-leak/finance/ledger-extract-q4.csv",
    "sample-leak/memos/2026-03-14-board-memo.txt",
    "sample-leak/memos/2026-04-02-followup.md",
];

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// examples/sample-leak in the repository (read only).
pub fn sample_leak() -> PathBuf {
    repo().join("examples/sample-leak")
}

/// A sample document's bytes by its path relative to examples/.
pub fn sample_bytes(rel: &str) -> Vec<u8> {
    fs::read(repo().join("examples").join(rel)).unwrap()
}

/// A file of keys-example/ in the repository (read only: never chmod these).
pub fn repo_key(outlet: &str, file: &str) -> PathBuf {
    repo().join("keys-example").join(outlet).join(file)
}

/// The secret files of an outlet's folder.
const SECRET_FILES: [&str; 5] = [
    "signing.key",
    "identity.age",
    "id_ed25519",
    "witness.key",
    "admin.key",
];

/// Copies keys-example/OUTLET into `dest_parent/OUTLET`, chmods the secret
/// files 0600 there and returns that directory.
pub fn copy_keys(dest_parent: &Path, outlet: &str) -> PathBuf {
    let src = repo().join("keys-example").join(outlet);
    let dst = dest_parent.join(outlet);
    fs::create_dir_all(&dst).unwrap();
    for e in fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        let to = dst.join(&name);
        fs::copy(e.path(), &to).unwrap();
        let secret = SECRET_FILES.iter().any(|s| name == *s);
        set_mode(&to, if secret { 0o600 } else { 0o644 });
    }
    dst
}

/// chmod.
pub fn set_mode(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// A `custody` command with a clean environment for archive discovery and keys,
/// and `NO_COLOR=1`.
pub fn custody() -> Command {
    let mut c = Command::from_std(custody_std());
    c.timeout(std::time::Duration::from_secs(120));
    c
}

/// `custody` as a plain `std::process::Command` with the same clean
/// environment as [`custody`], for tests that spawn and kill it.
pub fn custody_std() -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("custody"));
    c.env("NO_COLOR", "1")
        .env_remove("CUSTODY_ARCHIVE")
        .env_remove("CUSTODY_SIGNING_KEY")
        .env_remove("CUSTODY_IDENTITY")
        .env_remove("CUSTODY_PASSPHRASE_FILE")
        .env_remove("CUSTODY_WITNESS_KEY")
        .env_remove("CUSTODY_KEY")
        .env_remove("CUSTODY_FAULT")
        .env_remove("CUSTODY_FAULT_TRACE")
        .env_remove("CUSTODY_NO_TMPFILE")
        // A path no one can create, root included: a test that writes the
        // trust store without its own CUSTODY_TRUST_STORE fails instead of
        // leaving a file on the machine.
        .env("CUSTODY_TRUST_STORE", "/proc/custody-tests/trust.toml");
    c
}

/// What a finished command printed, and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub stdout_bytes: Vec<u8>,
}

impl Run {
    pub fn from_output(o: std::process::Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            stdout_bytes: o.stdout,
        }
    }

    /// Asserts the exit code; returns self for chaining.
    #[track_caller]
    pub fn code(&self, want: i32) -> &Run {
        assert_eq!(
            self.code, want,
            "exit code {} (wanted {want})\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self.no_panic()
    }

    #[track_caller]
    pub fn ok(&self) -> &Run {
        self.code(OK)
    }

    /// Asserts that the process did not panic.
    #[track_caller]
    pub fn no_panic(&self) -> &Run {
        assert!(
            !self.stderr.contains("panicked") && !self.stdout.contains("panicked"),
            "the process panicked:\n{}",
            self.stderr
        );
        self
    }

    /// Asserts exit 2 and a single `error: …; hint` line on stderr that contains
    /// every one of `needles`; returns that line.
    #[track_caller]
    pub fn error(&self, needles: &[&str]) -> String {
        self.code(ERROR);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "wanted exactly one line on stderr, got:\n{}",
            self.stderr
        );
        let l = lines[0];
        assert!(l.starts_with("error: "), "not an error line: {l}");
        assert!(l.contains("; "), "error line has no hint: {l}");
        let hint = l.rsplit("; ").next().unwrap();
        assert!(hint.len() > 5, "empty hint in: {l}");
        for n in needles {
            assert!(l.contains(n), "error line lacks {n:?}: {l}");
        }
        l.to_string()
    }

    /// stdout parsed as one JSON value (objects without duplicate keys).
    #[track_caller]
    pub fn json(&self) -> Value {
        parse_json(&self.stdout)
    }

    /// stdout parsed as one JSON value per line.
    #[track_caller]
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout.lines().map(parse_json).collect()
    }
}

/// Parses strict JSON: like serde_json, and also refusing an object that
/// holds a key twice (RFC 8259 §4: names SHOULD be unique; many consumers
/// keep the first, others the last).
#[track_caller]
pub fn parse_json(text: &str) -> Value {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(text);
    if let Err(e) = UniqueKeys.deserialize(&mut de).and_then(|_| de.end()) {
        panic!("not strict JSON ({e}):\n{text}");
    }
    serde_json::from_str(text).unwrap()
}

/// Walks a JSON value, failing on a duplicate key in any object.
struct UniqueKeys;

impl<'de> serde::de::DeserializeSeed<'de> for UniqueKeys {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
        while a.next_element_seed(UniqueKeys)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(k) = m.next_key::<String>()? {
            if !seen.insert(k.clone()) {
                return Err(serde::de::Error::custom(format!("duplicate key {k:?}")));
            }
            m.next_value_seed(UniqueKeys)?;
        }
        Ok(())
    }
}

/// Runs a command to completion.
pub fn run(mut c: Command) -> Run {
    Run::from_output(c.output().unwrap())
}

/// Records a new archive starts with: 0, the log key adds the first admin;
/// 1, the admin's configuration record (FORMAT.md §4.14). The first document
/// ingested into a new archive is record `INIT_RECORDS`.
pub const INIT_RECORDS: u64 = 2;

/// Blobs a new archive starts with: the sealed details (name, key name) of
/// the first admin, which record 0 names, and the deduplication secret
/// sealed by the configuration, record 1 (FORMAT.md §4.16, §5.4, §7.3). Every
/// `actor add/revoke/rotate`, `extract` (access) and `share` record adds one
/// more such blob.
pub const INIT_BLOBS: u64 = 2;

/// A temp dir with copies of the outlets' keys and an archive in `archive/`
/// created with the dropsite keys.
pub struct Fixture {
    pub tmp: TempDir,
    /// The archive directory.
    pub dir: PathBuf,
    /// The dropsite keys (0600 copies).
    pub keys: PathBuf,
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture::new()
    }
}

impl Fixture {
    /// A fresh, empty archive (dropsite keys, signing key remembered).
    pub fn new() -> Fixture {
        let f = Fixture::uninit();
        f.init_with(&[]).ok();
        f
    }

    /// A fresh archive holding the eight sample documents.
    pub fn with_samples() -> Fixture {
        let f = Fixture::new();
        f.ingest_samples();
        f
    }

    /// A temp dir with the dropsite keys, without an archive yet.
    pub fn uninit() -> Fixture {
        Fixture::uninit_as("dropsite")
    }

    /// A temp dir with OUTLET's keys (a folder of keys-example/), without an archive.
    pub fn uninit_as(outlet: &str) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let keys = copy_keys(&tmp.path().join("keys"), outlet);
        let dir = tmp.path().join("archive");
        Fixture { tmp, dir, keys }
    }

    /// A fresh, empty archive of OUTLET (its keys, signing key remembered).
    pub fn new_as(outlet: &str) -> Fixture {
        let f = Fixture::uninit_as(outlet);
        f.init_with(&[]).ok();
        f
    }

    /// A copy of this fixture in a new temp dir: the keys and the archive
    /// directory as they are now (no command may be running on it), with
    /// custody.toml's remembered signing key pointing at the copied key.
    pub fn duplicate(&self) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let keys = copy_keys(&tmp.path().join("keys"), "dropsite");
        let dir = tmp.path().join("archive");
        copy_dir(&self.dir, &dir);
        let toml = dir.join("custody.toml");
        let text = fs::read_to_string(&toml).unwrap();
        let old = format!("{:?}", self.signing_key().to_str().unwrap());
        assert!(text.contains(&old), "{text}");
        let new = format!("{:?}", keys.join("signing.key").to_str().unwrap());
        let old_admin = format!("{:?}", self.admin_key().to_str().unwrap());
        let new_admin = format!("{:?}", keys.join("admin.key").to_str().unwrap());
        let old_id = format!("{:?}", self.identity().to_str().unwrap());
        let new_id = format!("{:?}", keys.join("identity.age").to_str().unwrap());
        fs::write(
            &toml,
            text.replace(&old, &new)
                .replace(&old_admin, &new_admin)
                .replace(&old_id, &new_id),
        )
        .unwrap();
        Fixture { tmp, dir, keys }
    }

    /// Runs `custody init` for `self.dir` with the dropsite keys.
    pub fn init_with(&self, extra: &[&str]) -> Run {
        let mut c = custody();
        c.arg("init")
            .arg(&self.dir)
            .arg("--signing-key")
            .arg(self.signing_key())
            .arg("--admin-key")
            .arg(self.admin_key())
            .arg("--identity")
            .arg(self.identity())
            .arg("--recipient")
            .arg(self.keys.join("recipient.txt"))
            .args(extra);
        run(c)
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }
    pub fn signing_key(&self) -> PathBuf {
        self.keys.join("signing.key")
    }
    /// The first administrator's personal key (custody.toml's `key`).
    pub fn admin_key(&self) -> PathBuf {
        self.keys.join("admin.key")
    }
    pub fn identity(&self) -> PathBuf {
        self.keys.join("identity.age")
    }
    pub fn vkey(&self) -> PathBuf {
        self.keys.join("signing.vkey")
    }
    /// Another outlet's keys, copied (0600) into this fixture's temp dir.
    pub fn other_keys(&self, outlet: &str) -> PathBuf {
        let d = self.path().join("keys").join(outlet);
        if d.is_dir() {
            return d;
        }
        copy_keys(&self.path().join("keys"), outlet)
    }

    /// `custody -A DIR` with the clean environment.
    /// `custody share INDEX --to <to's recipient> -i <own identity> -o OUT --json`.
    #[track_caller]
    pub fn share_to(&self, index: &str, to: &Fixture, out: &Path) -> Value {
        self.json(&[
            "share",
            index,
            "--to",
            to.keys.join("recipient.txt").to_str().unwrap(),
            "-i",
            self.identity().to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
    }

    pub fn cmd(&self) -> Command {
        let mut c = custody();
        c.arg("-A").arg(&self.dir);
        c
    }

    /// Runs `custody -A DIR ARGS…`.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut c = self.cmd();
        c.args(args);
        run(c)
    }

    /// Runs `custody -A DIR ARGS… --json`, asserts exit 0 and parses stdout.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> Value {
        let mut c = self.cmd();
        c.args(args).arg("--json");
        let r = run(c);
        r.ok();
        r.json()
    }

    /// Like [`Fixture::json`] for commands that print one JSON value per line.
    #[track_caller]
    pub fn json_lines(&self, args: &[&str]) -> Vec<Value> {
        let mut c = self.cmd();
        c.args(args).arg("--json");
        let r = run(c);
        r.ok();
        r.json_lines()
    }

    /// Ingests examples/sample-leak; returns the per-file JSON lines (the last
    /// line, the summary, is dropped).
    #[track_caller]
    pub fn ingest_samples(&self) -> Vec<Value> {
        self.ingest_json(&[sample_leak().to_str().unwrap()])
    }

    /// Ingests the given paths with --json; returns the per-file lines.
    #[track_caller]
    pub fn ingest_json(&self, args: &[&str]) -> Vec<Value> {
        let mut v = self.json_lines(&[&["ingest"], args].concat());
        let summary = v.pop().expect("ingest printed nothing");
        assert!(summary.get("summary").is_some(), "no summary: {summary}");
        v
    }

    /// `verify --json` (optionally with more args): exit code and the JSON.
    #[track_caller]
    pub fn verify(&self, extra: &[&str]) -> (i32, Value) {
        let mut c = self.cmd();
        c.arg("verify").arg("--json").args(extra);
        let r = run(c);
        r.no_panic();
        assert!(
            r.code == OK || r.code == FINDING,
            "verify could not run (exit {}): {}",
            r.code,
            r.stderr
        );
        let v = r.json();
        assert_eq!(
            v["ok"].as_bool(),
            Some(r.code == OK),
            "ok vs exit code: {v}"
        );
        (r.code, v)
    }

    /// Asserts that `verify` passes with no findings.
    #[track_caller]
    pub fn assert_verified(&self) {
        let (code, v) = self.verify(&[]);
        assert_eq!(code, OK, "verify found: {v}");
        assert_eq!(v["report"]["findings"].as_array().unwrap().len(), 0);
    }

    /// `status --json`.
    #[track_caller]
    pub fn status(&self) -> Value {
        self.json(&["status"])
    }

    /// Number of records (status --json `records`).
    #[track_caller]
    pub fn records(&self) -> u64 {
        self.status()["records"].as_u64().unwrap()
    }

    /// The latest checkpoint note (status --json `latest_checkpoint`).
    #[track_caller]
    pub fn latest_checkpoint(&self) -> String {
        self.status()["latest_checkpoint"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// `show REF --json`.
    #[track_caller]
    pub fn show(&self, r: &str) -> Value {
        self.json(&["show", r])
    }

    /// Path of the blob with this hex address.
    pub fn blob_path(&self, hex: &str) -> PathBuf {
        self.dir.join("blobs").join(&hex[..2]).join(hex)
    }

    /// Path of a ledger file (`records` or `checkpoints`).
    pub fn ledger(&self, name: &str) -> PathBuf {
        self.dir.join("ledger").join(name)
    }

    /// The bytes of both ledger files and the record count.
    #[track_caller]
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            records: fs::read(self.ledger("records")).unwrap(),
            checkpoints: fs::read(self.ledger("checkpoints")).unwrap(),
            count: self.records(),
        }
    }

    /// The key ID records signed by `key` carry in this archive (FORMAT.md
    /// §4.16): an actor's key added (or rotated to) by a version 2 record
    /// under the actor key name, any other key (the log key, an older
    /// archive's actors, a stranger's) its own.
    #[allow(dead_code)]
    pub fn record_signer(
        &self,
        key: &custody::core::keys::SignerKey,
    ) -> custody::core::keys::KeyId {
        let id = custody::core::record::actor_key_id(&key.public_bytes());
        let listed = self.json(&["actor", "list"]).to_string();
        if listed.contains(&format!("key ID {id}")) {
            id
        } else {
            key.key_id()
        }
    }

    /// Signs `payload` with `key` as the record at the next index (a fixed
    /// time) and appends it, as a rogue tool holding that key would.
    #[allow(dead_code)]
    pub fn forge(
        &self,
        key: &custody::core::keys::SignerKey,
        payload: custody::core::record::Payload,
    ) {
        let rec = custody::core::record::RecordBody {
            index: self.records(),
            time_ms: 1_900_000_000_000,
            origin: "dropsite.example/leaks".into(),
            signer: self.record_signer(key),
            payload,
        };
        self.append_record(&rec.sign(key).unwrap());
    }

    /// Removes `identity` from custody.toml: a desk that holds no key that
    /// opens the archive (commands then open only what -i opens).
    #[allow(dead_code)]
    pub fn forget_identity(&self) {
        let p = self.dir.join("custody.toml");
        let toml = fs::read_to_string(&p).unwrap();
        let kept: Vec<&str> = toml
            .lines()
            .filter(|l| !l.trim_start().starts_with("identity"))
            .collect();
        assert_ne!(kept.len(), toml.lines().count(), "{toml}");
        fs::write(&p, kept.join("\n") + "\n").unwrap();
    }

    /// Appends a record frame to ledger/records, as a rogue tool would (made
    /// durable); the archive indexes it on its next open.
    pub fn append_record(&self, rec: &custody::core::record::Record) {
        use std::io::Write;
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(self.ledger("records"))
            .unwrap();
        file.write_all(&(rec.bytes().len() as u32).to_be_bytes())
            .unwrap();
        file.write_all(rec.bytes()).unwrap();
        file.sync_all().unwrap();
    }

    /// Asserts the archive is as in `before`: verify passes, same record count,
    /// identical ledger files.
    #[track_caller]
    pub fn assert_unchanged(&self, before: &Snapshot) {
        self.assert_verified();
        let now = self.snapshot();
        assert_eq!(now.count, before.count, "record count changed");
        assert!(
            now.records == before.records,
            "ledger/records changed ({} -> {} bytes)",
            before.records.len(),
            now.records.len()
        );
        assert!(
            now.checkpoints == before.checkpoints,
            "ledger/checkpoints changed ({} -> {} bytes)",
            before.checkpoints.len(),
            now.checkpoints.len()
        );
    }
}

/// The evidence files of an archive at one moment.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub records: Vec<u8>,
    pub checkpoints: Vec<u8>,
    pub count: u64,
}

/// A REF made of the first `n` (or, if those are all decimal digits, a few
/// more) hex digits of a digest. A REF of decimal digits only is taken as a
/// record index, so a digest prefix like `24799707` cannot name a digest.
pub fn hex_ref(hex: &str, n: usize) -> String {
    let mut end = n.min(hex.len());
    while end < hex.len() && hex[..end].bytes().all(|b| b.is_ascii_digit()) {
        end += 1;
    }
    hex[..end].to_string()
}

/// The frames of a ledger file: (offset of the length prefix, body length).
pub fn frames(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 4 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[off..off + 4].try_into().unwrap()) as usize;
        assert!(off + 4 + len <= bytes.len(), "torn frame at {off}");
        out.push((off, len));
        off += 4 + len;
    }
    assert_eq!(off, bytes.len(), "trailing bytes after the last frame");
    out
}

/// XORs the byte at `offset` of a file with 0xFF.
pub fn flip_byte(path: &Path, offset: usize) {
    let mut b = fs::read(path).unwrap();
    b[offset] ^= 0xff;
    fs::write(path, b).unwrap();
}

/// Copies a directory tree (files and directories only).
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = e.file_type().unwrap();
        let dst = to.join(e.file_name());
        if t.is_dir() {
            copy_dir(&e.path(), &dst);
        } else if t.is_file() {
            fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// The `check` names of a `verify --json` output's findings.
pub fn checks(v: &Value) -> Vec<String> {
    v["report"]["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings array in {v}"))
        .iter()
        .map(|f| f["check"].as_str().unwrap().to_string())
        .collect()
}

/// Asserts that every check in `want` appears among the findings.
#[track_caller]
pub fn assert_checks(v: &Value, want: &[&str]) {
    let got = checks(v);
    for w in want {
        assert!(got.iter().any(|g| g == w), "no {w} finding in {got:?}: {v}");
    }
}

/// The findings of one check.
pub fn findings_of<'a>(v: &'a Value, check: &str) -> Vec<&'a Value> {
    v["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .collect()
}

/// Looks up a required external tool (the interop tests fail, not skip, without it).
#[track_caller]
pub fn require_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for d in std::env::split_paths(&path) {
        let p = d.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{name}` is not installed; install it (Debian: apt-get install age openssh-client)")
}
pub mod garage;
