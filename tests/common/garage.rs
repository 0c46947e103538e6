//! A real S3-compatible server for the tests: Garage (garage 2.x), started
//! once per test binary on loopback with a generated config, one key, and a
//! bucket per test.
//!
//! The binary is `$GARAGE_BIN`, else `garage` on PATH, else
//! /work/tools/garage/bin/garage. Without one the tests that need it print
//! a message and return, unless `CUSTODY_REQUIRE_GARAGE=1` (CI), which makes
//! them fail. The server runs under a small shell watchdog that stops it
//! and removes its directory when the test process exits.
//!
//! The key's credentials are also set in this process's environment (the
//! same for every test of the binary), so tests can reach the store through
//! `custody::store::files::remote::Remote` to delete or alter objects.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The access key the fixture imports (Garage key IDs are `GK` + 24 hex).
const KEY_ID: &str = "GK0123456789abcdef01234567";
/// Its secret (64 hex).
const SECRET: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
pub const REGION: &str = "garage";

/// The running server.
pub struct Garage {
    /// The shell that runs the server (never waited for: it outlives the
    /// tests only as long as this process does).
    _watchdog: std::process::Child,
    bin: PathBuf,
    config: PathBuf,
    /// `http://127.0.0.1:PORT` of the S3 API.
    pub endpoint: String,
}

/// A fresh bucket: where to point custody, and the environment to give it.
pub struct S3Place {
    /// `s3://BUCKET/PREFIX`.
    pub url: String,
    pub bucket: String,
    pub prefix: String,
    pub endpoint: String,
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_REGION.
    pub env: Vec<(String, String)>,
}

impl S3Place {
    /// Sets this place's credentials and endpoint on a command (and removes
    /// any AWS profile it could fall back to).
    pub fn apply<'a>(&self, c: &'a mut assert_cmd::Command) -> &'a mut assert_cmd::Command {
        c.env_remove("AWS_PROFILE")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/proc/custody-tests/credentials",
            )
            .env("AWS_CONFIG_FILE", "/proc/custody-tests/config");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }
}

static SERVER: OnceLock<Option<Garage>> = OnceLock::new();
static BUCKETS: AtomicUsize = AtomicUsize::new(0);

/// The Garage binary, if there is one.
pub fn garage_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GARAGE_BIN").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            let p = d.join("garage");
            if p.is_file() {
                return Some(p);
            }
        }
    }
    let p = PathBuf::from("/work/tools/garage/bin/garage");
    p.is_file().then_some(p)
}

fn required() -> bool {
    std::env::var("CUSTODY_REQUIRE_GARAGE").is_ok_and(|v| v == "1")
}

/// The server of this test binary, started on first use; `None` (after a
/// printed message) when there is no Garage binary and it is not required.
pub fn garage() -> Option<&'static Garage> {
    SERVER
        .get_or_init(|| match garage_bin() {
            None if required() => {
                panic!("CUSTODY_REQUIRE_GARAGE=1 but no Garage binary (set GARAGE_BIN)")
            }
            None => None,
            Some(bin) => Some(start(bin)),
        })
        .as_ref()
        .or_else(|| {
            eprintln!(
                "skipped: no Garage binary (set GARAGE_BIN, put `garage` on PATH, or build it into /work/tools/garage/bin)"
            );
            None
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(bin: PathBuf) -> Garage {
    let dir = std::env::temp_dir().join(format!("custody-garage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (rpc, s3) = (free_port(), free_port());
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).unwrap();
    let config = dir.join("garage.toml");
    std::fs::write(
        &config,
        format!(
            r#"metadata_dir = "{d}/meta"
data_dir = "{d}/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc}"
rpc_public_addr = "127.0.0.1:{rpc}"
rpc_secret = "{secret}"

[s3_api]
s3_region = "{REGION}"
api_bind_addr = "127.0.0.1:{s3}"
root_domain = ".s3.garage.localhost"
"#,
            d = dir.display(),
            secret = hex::encode(secret),
        ),
    )
    .unwrap();
    // The watchdog: runs the server, stops it when this process is gone,
    // then removes the directory.
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    let watchdog = Command::new("sh")
        .arg("-c")
        .arg(
            r#"P=$1; B=$2; C=$3; D=$4
"$B" -c "$C" server >"$D/server.log" 2>&1 &
G=$!
while kill -0 "$P" 2>/dev/null && kill -0 "$G" 2>/dev/null; do sleep 0.5; done
kill "$G" 2>/dev/null; wait "$G" 2>/dev/null; rm -rf "$D""#,
        )
        .arg("sh")
        .arg(std::process::id().to_string())
        .arg(&bin)
        .arg(&config)
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let g = Garage {
        _watchdog: watchdog,
        bin,
        config,
        endpoint: format!("http://127.0.0.1:{s3}"),
    };
    // The node ID, once the server answers on its RPC port (`node id` alone
    // can answer from the key file before the server listens).
    let deadline = Instant::now() + Duration::from_secs(30);
    let node = loop {
        let o = g.cli(&["node", "id", "-q"]);
        if o.status.success() && std::net::TcpStream::connect(("127.0.0.1", rpc)).is_ok() {
            let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
            break s.split('@').next().unwrap().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "Garage did not start: {}{}",
            String::from_utf8_lossy(&o.stderr),
            g.server_log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // The first admin command may still find the server busy starting: retried.
    loop {
        let o = g.cli(&["layout", "assign", "-z", "dc1", "-c", "1G", &node]);
        if o.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "garage layout assign: {}{}",
            String::from_utf8_lossy(&o.stderr),
            g.server_log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    g.ok(&["layout", "apply", "--version", "1"]);
    g.ok(&["key", "import", "--yes", "-n", "ci", KEY_ID, SECRET]);
    // Shared by every test of this binary (see the module docs).
    std::env::set_var("AWS_ACCESS_KEY_ID", KEY_ID);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET);
    // The S3 API answers once the layout is applied; wait for its port.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", s3)).is_err() {
        assert!(Instant::now() < deadline, "Garage's S3 API did not open");
        std::thread::sleep(Duration::from_millis(100));
    }
    g
}

impl Garage {
    /// The end of the server's log, for a failure message.
    fn server_log(&self) -> String {
        let log = self.config.with_file_name("server.log");
        let s = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = s.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("\n--- garage server log (end) ---\n{}", tail.join("\n"))
    }

    fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.bin)
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let o = self.cli(args);
        assert!(
            o.status.success(),
            "garage {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// A new bucket the fixture's key may read and write, and `prefix` in it.
    pub fn bucket(&self, prefix: &str) -> S3Place {
        let n = BUCKETS.fetch_add(1, Ordering::SeqCst);
        let bucket = format!("t{}-{n}", std::process::id());
        self.ok(&["bucket", "create", &bucket]);
        self.ok(&[
            "bucket", "allow", "--read", "--write", "--owner", &bucket, "--key", "ci",
        ]);
        let url = if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        };
        S3Place {
            url,
            bucket,
            prefix: prefix.to_string(),
            endpoint: self.endpoint.clone(),
            env: vec![
                ("AWS_ACCESS_KEY_ID".into(), KEY_ID.into()),
                ("AWS_SECRET_ACCESS_KEY".into(), SECRET.into()),
                ("AWS_ENDPOINT_URL".into(), self.endpoint.clone()),
                ("AWS_REGION".into(), REGION.into()),
            ],
        }
    }

    /// The server's config file (for `garage -c` by hand when debugging).
    pub fn config(&self) -> &Path {
        &self.config
    }
}
