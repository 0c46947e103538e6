//! Unit tests of the renderings on a small report with a diamond: an
//! ingested memo, a translation and an excerpt of it, and a redaction of both.

use super::*;
use crate::core::findings::{Check, Subject};

fn d(s: &str) -> Digest {
    Digest::of(s.as_bytes())
}

fn doc(
    index: u64,
    kind: &'static str,
    rel: Option<&str>,
    parents: &[u64],
    name: &str,
) -> DocumentView {
    DocumentView {
        index,
        kind,
        commitment: d(&format!("commitment {index}")),
        relation: rel.map(str::to_string),
        parents: parents.to_vec(),
        name: Some(name.to_string()),
        size: Some(1000 + index),
        sha256: Some(d(name)),
        received_from: None,
        target: false,
        readers: Vec::new(),
    }
}

fn ev(index: u64, kind: &str, document: u64, summary: &str) -> EventView {
    EventView {
        index,
        time: format!("2026-03-0{}T10:00:00Z", 1 + index % 9),
        kind: kind.to_string(),
        document,
        actor: "alice".to_string(),
        role: "editor".to_string(),
        signer: KeyId(0x0102_0304),
        summary: summary.to_string(),
        partner: None,
        verified: true,
        findings: vec![],
    }
}

pub(super) fn sample() -> AuditReport {
    let mut target = doc(
        5,
        "derive",
        Some("redaction"),
        &[2, 3],
        "memo-en-redacted.pdf",
    );
    target.target = true;
    let mut bad = ev(7, "access", 5, "decrypted for layout");
    bad.verified = false;
    bad.findings = vec!["record_signature".to_string()];
    AuditReport {
        schema: AUDIT_SCHEMA,
        generated: "2026-03-09T12:00:00Z".to_string(),
        archive: ArchiveView {
            origin: "dropsite.example/custody".to_string(),
            log_key_id: KeyId(0xdead_beef),
            checkpoint_size: 8,
            checkpoint_root: d("root"),
            cosigned_by: vec!["guardian.example/witness".to_string()],
        },
        target: 5,
        selected_by: "ref",
        documents: vec![
            doc(0, "ingest", None, &[], "memo.pdf"),
            doc(2, "derive", Some("translation"), &[0], "memo-en.pdf"),
            doc(3, "derive", Some("excerpt"), &[0], "memo-p2.pdf"),
            target,
        ],
        lineage: vec![
            LineageEdge {
                parent: 0,
                child: 2,
                relation: "translation".into(),
            },
            LineageEdge {
                parent: 0,
                child: 3,
                relation: "excerpt".into(),
            },
            LineageEdge {
                parent: 2,
                child: 5,
                relation: "redaction".into(),
            },
            LineageEdge {
                parent: 3,
                child: 5,
                relation: "redaction".into(),
            },
        ],
        derivation_path: vec![0, 2, 5],
        hops: vec![],
        upstream: vec![],
        events: vec![
            ev(0, "ingest", 0, "ingested memo.pdf"),
            ev(1, "access", 0, "decrypted to translate"),
            ev(2, "derive", 2, "translation of #0"),
            ev(3, "derive", 3, "excerpt of #0"),
            ev(4, "share", 0, "to guardian.example/custody"),
            ev(5, "derive", 5, "redaction of #2, #3"),
            ev(6, "approve", 5, "publication approved by editor"),
            bad,
        ],
        approvals: ApprovalsView {
            required: vec!["editor".into(), "legal".into()],
            present: vec![ApprovalView {
                index: 6,
                actor: "alice".into(),
                role: "editor".into(),
                time: "2026-03-07T10:00:00Z".into(),
                purpose: "publication".into(),
            }],
            missing: vec!["legal".into()],
        },
        configuration: vec![super::ConfigView {
            index: 1,
            time: "2026-03-01T09:00:00Z".into(),
            actor: "admin".into(),
            recipients: vec![d("recipient")],
            approvals: vec!["editor".into(), "legal".into()],
            partner_policy: None,
            own_policy: Some(d("policy")),
        }],
        findings: vec![Finding {
            subject: Subject::Record(7),
            check: Check::RecordSignature,
            reason: "signature does not verify".into(),
        }],
        ok: false,
    }
}

fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

#[test]
fn text_verdict_first_then_path_approvals_findings() {
    let s = render_text(&sample(), false);
    assert_eq!(s.lines().next(), Some("audit: 1 FINDING"));
    assert!(s.contains(
        "#0 ingest memo.pdf → #2 translation memo-en.pdf → #5 redaction memo-en-redacted.pdf (target)"
    ));
    assert!(
        s.contains("#3 excerpt memo-p2.pdf ← #0"),
        "off-path document listed:\n{s}"
    );
    assert!(s.contains("cosigned:   guardian.example/witness"));
    assert!(s.contains("#7 access alice (editor): decrypted for layout FAIL record_signature"));
    assert!(s.contains("copies shared (1):\n  2026-03-05T10:00:00Z #4 share"));
    assert!(s.contains("decryptions (2):"));
    assert!(s.contains("present editor by alice"));
    assert!(s.contains("MISSING legal"));
    assert!(s.contains("record 7: record_signature: signature does not verify"));
    assert!(s.contains("none (ingested here)"));
    assert!(!s.contains('\x1b'));
}

#[test]
fn text_no_findings_and_colours_only_when_asked() {
    let mut r = sample();
    r.findings.clear();
    r.ok = true;
    r.events.iter_mut().for_each(|e| {
        e.verified = true;
        e.findings.clear();
    });
    let plain = render_text(&r, false);
    assert_eq!(plain.lines().next(), Some("audit: NO FINDINGS"));
    let coloured = render_text(&r, true);
    assert!(coloured.starts_with("audit: \x1b[1;32mNO FINDINGS\x1b[0m"));
    assert!(coloured.contains("\x1b[32mok\x1b[0m"));
    assert!(render_text(&sample(), true).starts_with("audit: \x1b[1;31m1 FINDING\x1b[0m"));
}

#[test]
fn text_escapes_terminal_control_characters() {
    let mut r = sample();
    r.documents[3].name = Some("evil\x1b[2J\u{202e}fdp.exe\nforged line".into());
    r.events[0].summary = "\x1b]0;title\x07".into();
    let s = render_text(&r, false);
    assert!(!s.contains('\x1b') && !s.contains('\x07') && !s.contains('\u{202e}'));
    assert!(s.contains("evil\\u{1b}[2J\\u{202e}fdp.exe\\u{a}forged line"));
}

fn hostile() -> AuditReport {
    let x = r#"<script>alert("x")</script>'"><img src=x onerror=alert(1)>"#;
    let mut r = sample();
    r.archive.origin = x.into();
    r.archive.cosigned_by = vec![x.into()];
    r.documents[3].name = Some(x.into());
    r.documents[1].relation = Some(x.into());
    r.lineage[0].relation = x.into();
    r.events[2].summary = x.into();
    r.events[2].actor = x.into();
    r.events[2].kind = x.into();
    r.approvals.missing = vec![x.into()];
    r.approvals.present[0].purpose = x.into();
    r.findings[0].reason = x.into();
    r.hops = vec![HopView {
        origin: x.into(),
        key_id: None,
        trusted: false,
        checkpoint_size: None,
        cosigned_by: vec![x.into()],
        events: vec![HopEventView {
            index: 1,
            kind: x.into(),
            time: x.into(),
            signer: KeyId(1),
            verified: false,
        }],
    }];
    r.upstream = vec![UpstreamView {
        relation: x.into(),
        origin: x.into(),
        document: 4,
        commitment: d("u"),
        hops: r.hops.clone(),
        parents: vec![UpstreamView {
            relation: x.into(),
            origin: x.into(),
            document: 2,
            commitment: d("v"),
            hops: r.hops.clone(),
            parents: vec![],
            lineage_not_carried: true,
        }],
        lineage_not_carried: false,
    }];
    r
}

#[test]
fn html_escapes_hostile_strings() {
    let h = render_html(&hostile());
    assert_eq!(count(&h, "<script"), 1, "only our own script element");
    assert!(!h.contains("<img"), "no element injected");
    assert!(!h.contains("alert(\""));
    assert!(h.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&quot;&gt;&lt;img"));
    assert!(count(&h, "&lt;script&gt;") >= 12);
}

#[test]
fn html_has_the_ids_rows_and_boxes() {
    let r = sample();
    let h = render_html(&r);
    assert!(h.starts_with("<!DOCTYPE html>"));
    assert!(h.contains(&format!(
        r#"<meta http-equiv="Content-Security-Policy" content="{HTML_CSP}">"#
    )));
    for id in [
        "timeline",
        "lineage",
        "hops",
        "findings",
        "verdict",
        "approvals",
    ] {
        assert_eq!(count(&h, &format!(r#"id="{id}""#)), 1, "id {id}");
    }
    assert_eq!(count(&h, r#"<tr class="event"#), r.events.len());
    assert_eq!(count(&h, r#"<tr class="event finding""#), 1);
    assert_eq!(count(&h, r#"<g class="doc"#), r.documents.len());
    assert_eq!(
        count(&h, r#"<g class="doc target has-finding" data-doc="5""#),
        1
    );
    assert_eq!(count(&h, r#"class="edge""#), r.lineage.len() + r.hops.len());
    assert_eq!(count(&h, r#"<g class="hop"#), 1, "only this archive");
    assert!(h.contains(r#"class="verdict bad""#));
    assert!(h.contains(r#"<tr class="missing"><td>legal</td>"#));
}

#[test]
fn html_is_self_contained_and_deterministic() {
    let r = hostile();
    let h = render_html(&r);
    assert_eq!(h, render_html(&r));
    // The only URLs are the SVG namespace; nothing is linked or fetched.
    let urls = count(&h, "http://") + count(&h, "https://");
    assert_eq!(urls, count(&h, r#"xmlns="http://www.w3.org/2000/svg""#));
    assert_eq!(urls, 3, "lineage, hops and upstream drawings");
    for bad in [
        "<link", " src=\"", "url(http", "@import", "<iframe", "<object",
    ] {
        assert!(!h.contains(bad), "{bad}");
    }
}

#[test]
fn html_ok_banner_and_empty_sections() {
    let mut r = sample();
    r.findings.clear();
    r.events.clear();
    r.approvals = ApprovalsView {
        required: vec![],
        present: vec![],
        missing: vec![],
    };
    r.documents.truncate(1);
    r.documents[0].target = true;
    r.lineage.clear();
    r.derivation_path = vec![0];
    r.target = 0;
    let h = render_html(&r);
    assert!(h.contains(r#"<div id="verdict" class="verdict ok" role="status">NO FINDINGS</div>"#));
    assert!(h.contains(r#"id="timeline""#) && h.contains("No events."));
    assert_eq!(count(&h, r#"<g class="doc"#), 1);
}

/// The JSON names are the ones FORMAT.md §12 lists (a rename breaks this test).
#[test]
fn json_field_names_match_format_md() {
    let mut r = hostile();
    r.hops[0].key_id = Some(KeyId(7));
    let v = serde_json::to_value(&r).unwrap();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&v),
        [
            "approvals",
            "archive",
            "configuration",
            "derivation_path",
            "documents",
            "events",
            "findings",
            "generated",
            "hops",
            "lineage",
            "ok",
            "schema",
            "selected_by",
            "target",
            "upstream"
        ]
    );
    assert_eq!(
        keys(&v["upstream"][0]),
        [
            "commitment",
            "document",
            "hops",
            "lineage_not_carried",
            "origin",
            "parents",
            "relation"
        ]
    );
    assert_eq!(v["schema"], "custody-audit/v1");
    assert_eq!(
        keys(&v["archive"]),
        [
            "checkpoint_root",
            "checkpoint_size",
            "cosigned_by",
            "log_key_id",
            "origin"
        ]
    );
    assert_eq!(
        keys(&v["documents"][3]),
        [
            "commitment",
            "index",
            "kind",
            "name",
            "parents",
            "readers",
            "relation",
            "sha256",
            "size",
            "target"
        ]
    );
    assert_eq!(keys(&v["lineage"][0]), ["child", "parent", "relation"]);
    assert_eq!(
        keys(&v["configuration"][0]),
        [
            "actor",
            "approvals",
            "index",
            "own_policy",
            "partner_policy",
            "recipients",
            "time"
        ]
    );
    assert_eq!(
        keys(&v["hops"][0]),
        [
            "checkpoint_size",
            "cosigned_by",
            "events",
            "key_id",
            "origin",
            "trusted"
        ]
    );
    assert_eq!(v["hops"][0]["checkpoint_size"], serde_json::Value::Null);
    assert_eq!(v["hops"][0]["key_id"], "00000007");
    assert_eq!(
        keys(&v["hops"][0]["events"][0]),
        ["index", "kind", "signer", "time", "verified"]
    );
    assert_eq!(
        keys(&v["events"][0]),
        [
            "actor", "document", "findings", "index", "kind", "role", "signer", "summary", "time",
            "verified"
        ]
    );
    assert_eq!(keys(&v["approvals"]), ["missing", "present", "required"]);
    assert_eq!(
        keys(&v["approvals"]["present"][0]),
        ["actor", "index", "purpose", "role", "time"]
    );
    assert_eq!(
        v["findings"][0],
        serde_json::json!({"subject": {"type": "record", "id": 7}, "check": "record_signature",
                           "reason": v["findings"][0]["reason"]})
    );
    let a = serde_json::to_value(Subject::Archive).unwrap();
    assert_eq!(a, serde_json::json!({"type": "archive"}));
    let e = serde_json::to_value(Subject::Entry {
        log: "o".into(),
        index: 3,
    })
    .unwrap();
    assert_eq!(
        e,
        serde_json::json!({"type": "entry", "id": {"log": "o", "index": 3}})
    );
}
