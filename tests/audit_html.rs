//! The HTML audit report in a real browser: a realistic `AuditReport` (a
//! document received from another outlet, translated, excerpted, redacted
//! from both plus a local annex, shared, decrypted, half approved, with
//! findings) rendered by `render_html` and loaded in headless Chromium with
//! `--dump-dom`. The page must load, its script must run to the end, the
//! drawings and rows must be there, and Chromium must log no console message
//! at all (script errors and loads blocked by the CSP are console messages).
//!
//! Chromium logs page console messages on stderr (with
//! `--enable-logging=stderr --v=0`) as lines like
//! `[pid:tid:MMDD/HHMMSS.us:INFO:CONSOLE:4] "Uncaught TypeError: …", source: file:///… (4)`
//! (older versions: `INFO:CONSOLE(4)`), whatever the console level; so any
//! line containing `:CONSOLE` fails the test. `console_check_catches_a_broken_page`
//! proves that this check can fail.
//!
//! Without `/usr/bin/chromium` (Debian package `chromium`) the tests print
//! why and pass, unless `CUSTODY_REQUIRE_BROWSER=1` (CI), where they fail.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use custody::core::audit::*;
use custody::core::findings::{Check, Finding, Subject};
use custody::core::hash::Digest;
use custody::core::keys::KeyId;

const CHROMIUM: &str = "/usr/bin/chromium";
const TIMEOUT: Duration = Duration::from_secs(30);

/// The browser, or `None` (skip) when it is missing and not required.
fn browser() -> Option<&'static Path> {
    let p = Path::new(CHROMIUM);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CUSTODY_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("{CHROMIUM} is missing and CUSTODY_REQUIRE_BROWSER=1: apt-get install -y --no-install-recommends chromium");
    }
    eprintln!(
        "SKIPPED: {CHROMIUM} not found, the HTML report was not checked in a browser \
         (apt-get install -y --no-install-recommends chromium; CUSTODY_REQUIRE_BROWSER=1 makes this a failure)"
    );
    None
}

/// What one headless run gave.
struct Run {
    dom: String,
    stderr: String,
}

impl Run {
    /// Lines where Chromium reports a console message of the page.
    fn console(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .collect()
    }
}

/// Writes `html` to a temp file, runs Chromium on it with `--dump-dom`, kills
/// it after [`TIMEOUT`], and asserts it exited successfully.
fn load(chromium: &Path, html: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("audit.html");
    fs::write(&page, html).unwrap();
    if let Some(keep) = std::env::var_os("CUSTODY_KEEP_HTML") {
        fs::write(keep, html).unwrap(); // for looking at it by hand
    }
    let profile = dir.path().join("profile");
    fs::create_dir(&profile).unwrap();
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let started = Instant::now();
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap())
        .spawn()
        .expect("start chromium");
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let run = Run {
        dom: fs::read_to_string(&out).unwrap(),
        stderr: fs::read_to_string(&err).unwrap(),
    };
    eprintln!("chromium: {status} in {:?}", started.elapsed());
    assert!(
        status.success(),
        "chromium failed: {status}\n{}",
        run.stderr
    );
    run
}

fn digest(s: &str) -> Digest {
    Digest::of(s.as_bytes())
}

fn doc(
    index: u64,
    kind: &'static str,
    relation: Option<&str>,
    parents: &[u64],
    name: &str,
) -> DocumentView {
    DocumentView {
        index,
        kind,
        commitment: digest(&format!("commitment {index}")),
        relation: relation.map(str::to_string),
        parents: parents.to_vec(),
        name: Some(name.to_string()),
        size: Some(20_000 + 37 * index),
        sha256: Some(digest(name)),
        received_from: None,
        target: false,
        readers: Vec::new(),
    }
}

fn event(
    index: u64,
    minute: u32,
    kind: &str,
    document: u64,
    actor: &str,
    role: &str,
    summary: &str,
) -> EventView {
    EventView {
        index,
        time: format!("2026-04-02T09:{minute:02}:00Z"),
        kind: kind.to_string(),
        document,
        actor: actor.to_string(),
        role: role.to_string(),
        signer: KeyId(0x5eed_0000 + index as u32),
        summary: summary.to_string(),
        partner: None,
        verified: true,
        findings: vec![],
    }
}

/// The Guardian's audit of a redacted translation of a memo that Drop Site
/// ingested and shared with it.
fn report() -> AuditReport {
    let mut memo = doc(0, "receive", None, &[], "2026-03-14-board-memo.pdf");
    memo.received_from = Some("dropsite.example/custody".into());
    let mut redacted = doc(
        6,
        "derive",
        Some("redaction"),
        &[3, 4, 1],
        "board-memo-en-redacted.pdf",
    );
    redacted.target = true;
    let mut bad_access = event(
        8,
        40,
        "access",
        6,
        "mallory",
        "reporter",
        "decrypted: layout check",
    );
    bad_access.verified = false;
    bad_access.findings = vec!["record_signature".into()];
    AuditReport {
        schema: AUDIT_SCHEMA,
        generated: "2026-04-03T08:00:00Z".into(),
        archive: ArchiveView {
            origin: "theguardian.example/custody".into(),
            log_key_id: KeyId(0xc80c_65be),
            checkpoint_size: 11,
            checkpoint_root: digest("root at 11"),
            cosigned_by: vec!["972mag.example/witness".into()],
        },
        target: 6,
        selected_by: "file",
        documents: vec![
            memo,
            doc(1, "ingest", None, &[], "annex-ledger-q4.csv"),
            doc(3, "derive", Some("translation"), &[0], "board-memo-en.pdf"),
            doc(4, "derive", Some("excerpt"), &[0], "board-memo-p2.pdf"),
            redacted,
            doc(
                10,
                "derive",
                Some("conversion"),
                &[6],
                "board-memo-en-redacted.txt",
            ),
        ],
        lineage: vec![
            LineageEdge {
                parent: 0,
                child: 3,
                relation: "translation".into(),
            },
            LineageEdge {
                parent: 0,
                child: 4,
                relation: "excerpt".into(),
            },
            LineageEdge {
                parent: 3,
                child: 6,
                relation: "redaction".into(),
            },
            LineageEdge {
                parent: 4,
                child: 6,
                relation: "redaction".into(),
            },
            LineageEdge {
                parent: 1,
                child: 6,
                relation: "redaction".into(),
            },
            LineageEdge {
                parent: 6,
                child: 10,
                relation: "conversion".into(),
            },
        ],
        derivation_path: vec![0, 3, 6],
        hops: vec![HopView {
            origin: "dropsite.example/custody".into(),
            key_id: Some(KeyId(0x1a2b_3c4d)),
            trusted: true,
            checkpoint_size: Some(57),
            cosigned_by: vec![
                "theguardian.example/witness".into(),
                "localcall.example/witness".into(),
            ],
            events: vec![
                HopEventView {
                    index: 12,
                    kind: "ingest".into(),
                    time: "2026-03-30T17:02:11Z".into(),
                    signer: KeyId(0x1a2b_3c4d),
                    verified: true,
                },
                HopEventView {
                    index: 40,
                    kind: "share".into(),
                    time: "2026-04-01T08:15:00Z".into(),
                    signer: KeyId(0x1a2b_3c4d),
                    verified: true,
                },
            ],
        }],
        upstream: vec![UpstreamView {
            relation: "translation".into(),
            origin: "972mag.example/custody".into(),
            document: 9,
            commitment: digest("parent"),
            hops: vec![HopView {
                origin: "localcall.example/custody".into(),
                key_id: Some(KeyId(0x0102_0304)),
                trusted: false,
                checkpoint_size: Some(12),
                cosigned_by: vec![],
                events: vec![HopEventView {
                    index: 3,
                    kind: "ingest".into(),
                    time: "2026-03-29T10:00:00Z".into(),
                    signer: KeyId(0x0102_0304),
                    verified: true,
                }],
            }],
            parents: vec![],
            lineage_not_carried: false,
        }],
        events: vec![
            event(
                0,
                1,
                "receive",
                0,
                "owner",
                "owner",
                "received from dropsite.example/custody (share #40)",
            ),
            event(
                1,
                3,
                "ingest",
                1,
                "owner",
                "owner",
                "ingested annex-ledger-q4.csv",
            ),
            event(
                2,
                5,
                "access",
                0,
                "amira",
                "translator",
                "decrypted to translate",
            ),
            event(
                3,
                20,
                "derive",
                3,
                "amira",
                "translator",
                "translation of #0 (de → en)",
            ),
            event(
                4,
                25,
                "derive",
                4,
                "ben",
                "reporter",
                "excerpt of #0: page 2",
            ),
            event(
                5,
                28,
                "share",
                0,
                "ben",
                "reporter",
                "to 972mag.example/custody (1 recipient)",
            ),
            event(
                6,
                31,
                "derive",
                6,
                "carla",
                "editor",
                "redaction of #3, #4, #1: names of sources",
            ),
            event(
                7,
                35,
                "approve",
                6,
                "carla",
                "editor",
                "approved for publication",
            ),
            bad_access,
            event(
                9,
                45,
                "annotate",
                6,
                "ben",
                "reporter",
                "note: \"page 3 <b>withheld</b>\" & checked",
            ),
            event(
                10,
                50,
                "derive",
                10,
                "ben",
                "reporter",
                "conversion of #6 to text",
            ),
        ],
        approvals: ApprovalsView {
            required: vec!["editor".into(), "legal".into()],
            present: vec![ApprovalView {
                index: 7,
                actor: "carla".into(),
                role: "editor".into(),
                time: "2026-04-02T09:35:00Z".into(),
                purpose: "publication".into(),
            }],
            missing: vec!["legal".into()],
        },
        configuration: Vec::new(),
        findings: vec![
            Finding {
                subject: Subject::Record(8),
                check: Check::RecordSignature,
                reason: "signature by 5eed0008 does not verify".into(),
            },
            Finding {
                subject: Subject::Checkpoint(11),
                check: Check::WitnessQuorum,
                reason: "1 of 2 required witnesses cosigned".into(),
            },
        ],
        ok: false,
    }
}

#[test]
fn html_report_loads_in_chromium_without_console_messages() {
    let Some(chromium) = browser() else { return };
    let r = report();
    let run = load(chromium, &render_html(&r));
    assert_eq!(run.console(), Vec::<&str>::new(), "console messages");
    let dom = &run.dom;
    for id in ["timeline", "lineage", "hops", "upstream", "findings"] {
        assert!(
            dom.contains(&format!(r#"id="{id}""#)),
            "no #{id} in the DOM"
        );
    }
    assert!(
        dom.contains(r#"data-ready="1""#),
        "the script did not run to its end"
    );
    assert_eq!(dom.matches(r#"<tr class="event"#).count(), r.events.len());
    assert_eq!(dom.matches(r#"<tr class="event finding""#).count(), 1);
    assert_eq!(dom.matches(r#"<g class="doc"#).count(), r.documents.len());
    // The outlets, this archive, and the parent's custody at other outlets.
    assert_eq!(
        dom.matches(r#"<g class="hop"#).count(),
        r.hops.len() + 1 + r.upstream[0].hops.len()
    );
    assert!(dom.contains("translation of 972mag.example/custody #9"));
    assert!(dom.contains(r#"<g class="doc target has-finding" data-doc="6""#));
    assert!(dom.contains("2 FINDINGS"));
}

#[test]
fn hostile_strings_stay_text_in_chromium() {
    let Some(chromium) = browser() else { return };
    let x = r#"<script>console.error("injected")</script><img src="http://127.0.0.1:9/x.png">'"&"#;
    let mut r = report();
    r.documents[4].name = Some(x.into());
    r.events[6].summary = x.into();
    r.events[6].actor = x.into();
    r.lineage[0].relation = x.into();
    r.hops[0].origin = x.into();
    r.findings[0].reason = x.into();
    r.approvals.missing.push(x.into());
    let run = load(chromium, &render_html(&r));
    assert_eq!(run.console(), Vec::<&str>::new(), "console messages");
    assert_eq!(
        run.dom.matches("<script").count(),
        1,
        "only the report's own script"
    );
    assert!(!run.dom.contains("<img"));
    assert!(run.dom.contains(r#"data-ready="1""#));
}

/// The console check is not vacuous: a script that throws and an image the
/// CSP blocks are both caught.
#[test]
fn console_check_catches_a_broken_page() {
    let Some(chromium) = browser() else { return };
    let html = render_html(&report()).replace(
        "</body>",
        r#"<img src="http://127.0.0.1:9/x.png" alt=""><script>null.f();</script></body>"#,
    );
    let run = load(chromium, &html);
    let console = run.console();
    assert!(
        console
            .iter()
            .any(|l| l.contains("Content Security Policy")),
        "{console:?}"
    );
    assert!(
        console.iter().any(|l| l.contains("Uncaught")),
        "{console:?}"
    );
}
