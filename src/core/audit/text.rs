//! The terminal rendering of an audit report: verdict first, then the header,
//! the derivation path, hops, timeline, copies, decryptions, approvals and
//! findings. Strings from the report are printed with control characters
//! escaped, so a hostile name cannot move the cursor or recolour the terminal.

use std::fmt::Write;

use super::{AuditReport, DocumentView, EventView, HopView, UpstreamView};

/// ANSI SGR codes, the same as the CLI's `Paint` (core may not import `cli`).
const GREEN: &str = "32";
const RED: &str = "31";
const BOLD_GREEN: &str = "1;32";
const BOLD_RED: &str = "1;31";

fn paint(s: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// Escapes control characters (ESC, CR, newlines…) and direction controls
/// (U+202E…) as `\u{..}`: the CLI's one escaping rule,
/// [`crate::core::redact::shown`].
pub(super) fn clean(s: &str) -> String {
    crate::core::redact::shown(s).into_owned()
}

/// "NO FINDINGS", "1 FINDING", "3 FINDINGS".
pub(super) fn verdict(r: &AuditReport) -> String {
    match r.findings.len() {
        0 => "NO FINDINGS".to_string(),
        1 => "1 FINDING".to_string(),
        n => format!("{n} FINDINGS"),
    }
}

/// What a document is: its relation if derived, else its arrival kind.
pub(super) fn doc_what(d: &DocumentView) -> &str {
    d.relation.as_deref().unwrap_or(d.kind)
}

/// `#5 translation memo-en.pdf` (raw: the caller escapes for its medium).
pub(super) fn doc_label(d: &DocumentView) -> String {
    let mut s = format!("#{} {}", d.index, doc_what(d));
    if let Some(n) = &d.name {
        s.push(' ');
        s.push_str(n);
    }
    s
}

fn find_doc(r: &AuditReport, index: u64) -> Option<&DocumentView> {
    r.documents.iter().find(|d| d.index == index)
}

/// The derivation path as one line, `#0 ingest a → #5 translation b (target)`.
pub(super) fn path_line(r: &AuditReport) -> String {
    let parts: Vec<String> = r
        .derivation_path
        .iter()
        .map(|&i| match find_doc(r, i) {
            Some(d) => {
                let mut s = doc_label(d);
                if let Some(from) = &d.received_from {
                    let _ = write!(s, " from {from}");
                }
                if d.target {
                    s.push_str(" (target)");
                }
                s
            }
            None => format!("#{i}"),
        })
        .collect();
    parts.join(" → ")
}

fn status(e: &EventView, color: bool) -> String {
    if e.verified && e.findings.is_empty() {
        paint("ok", GREEN, color)
    } else if e.findings.is_empty() {
        paint("FAIL", RED, color)
    } else {
        format!(
            "{} {}",
            paint("FAIL", RED, color),
            clean(&e.findings.join(", "))
        )
    }
}

fn event_line(e: &EventView) -> String {
    format!(
        "{} #{} {} {} ({}): {}",
        clean(&e.time),
        e.index,
        clean(&e.kind),
        clean(&e.actor),
        clean(&e.role),
        clean(&e.summary)
    )
}

/// Renders the report for a terminal; `color` adds ANSI colours to the
/// verdict and to ok/FAIL only (the CLI passes false under `NO_COLOR` or when
/// stdout is not a terminal).
pub fn render_text(r: &AuditReport, color: bool) -> String {
    let mut o = String::new();
    verdict_line(&mut o, r, color);
    header(&mut o, r);
    derivation(&mut o, r);
    hops(&mut o, r, color);
    timeline(&mut o, r, color);
    copies_and_decryptions(&mut o, r);
    configuration(&mut o, r);
    readers(&mut o, r);
    approvals(&mut o, r, color);
    findings(&mut o, r, color);
    o
}

/// The first line: the verdict, green without findings, red with.
fn verdict_line(o: &mut String, r: &AuditReport, color: bool) {
    let v = verdict(r);
    let _ = writeln!(
        o,
        "audit: {}",
        paint(
            &v,
            if r.findings.is_empty() {
                BOLD_GREEN
            } else {
                BOLD_RED
            },
            color
        )
    );
}

/// The header: archive, checkpoint, witnesses, target, when generated.
fn header(o: &mut String, r: &AuditReport) {
    let a = &r.archive;
    let _ = writeln!(
        o,
        "archive:    {} (log key {})",
        clean(&a.origin),
        a.log_key_id
    );
    let _ = writeln!(
        o,
        "checkpoint: size {}, root {}",
        a.checkpoint_size, a.checkpoint_root
    );
    let cos = if a.cosigned_by.is_empty() {
        "none".to_string()
    } else {
        clean(&a.cosigned_by.join(", "))
    };
    let _ = writeln!(o, "cosigned:   {cos}");
    let target = match find_doc(r, r.target) {
        Some(d) => clean(&doc_label(d)),
        None => format!("#{}", r.target),
    };
    let _ = writeln!(o, "target:     {target} (selected by {})", r.selected_by);
    let _ = writeln!(o, "generated:  {}", clean(&r.generated));
}

/// The derivation path, then the other documents of the DAG with their parents.
fn derivation(o: &mut String, r: &AuditReport) {
    let _ = writeln!(o, "\nderivation:\n  {}", clean(&path_line(r)));
    let off_path: Vec<&DocumentView> = r
        .documents
        .iter()
        .filter(|d| !r.derivation_path.contains(&d.index))
        .collect();
    if !off_path.is_empty() {
        let _ = writeln!(o, "other documents of the lineage:");
        for d in off_path {
            let mut s = clean(&doc_label(d));
            if !d.parents.is_empty() {
                let ps: Vec<String> = d.parents.iter().map(|p| format!("#{p}")).collect();
                let _ = write!(s, " ← {}", ps.join(", "));
            }
            let _ = writeln!(o, "  {s}");
        }
    }
}

/// The outlets the document passed through, each with its events, ending
/// with this archive; then the custody of its parents at other outlets.
fn hops(o: &mut String, r: &AuditReport, color: bool) {
    let _ = writeln!(o, "\noutlets the document passed through:");
    if r.hops.is_empty() {
        let _ = writeln!(o, "  none (ingested here)");
    }
    for (n, h) in r.hops.iter().enumerate() {
        hop_line(o, n, h, color, "");
    }
    if !r.hops.is_empty() {
        let _ = writeln!(o, "  → this archive, {}", clean(&r.archive.origin));
    }
    if !r.upstream.is_empty() {
        let _ = writeln!(o, "\nderived at another outlet, back to each original:");
        upstream(o, &r.upstream, color, "  ");
    }
}

/// The parents' custody, one generation per indentation.
fn upstream(o: &mut String, u: &[UpstreamView], color: bool, pad: &str) {
    for p in u {
        let _ = writeln!(
            o,
            "{pad}{} of {} record {} (commitment {}), whose custody is:",
            clean(&p.relation),
            clean(&p.origin),
            p.document,
            p.commitment
        );
        let inner = format!("{pad}   ");
        for (n, h) in p.hops.iter().enumerate() {
            hop_line(o, n, h, color, &inner);
        }
        if p.lineage_not_carried {
            let _ = writeln!(
                o,
                "{inner}  (derived there from parents whose custody the evidence does not carry)"
            );
        }
        upstream(o, &p.parents, color, &inner);
    }
}

/// One outlet's log and its events.
fn hop_line(o: &mut String, n: usize, h: &HopView, color: bool, pad: &str) {
    let key = h
        .key_id
        .map_or("unknown key".to_string(), |k| format!("log key {k}"));
    let trust = if h.trusted {
        paint("trusted", GREEN, color)
    } else {
        paint("UNTRUSTED", RED, color)
    };
    let cp = h
        .checkpoint_size
        .map_or(String::new(), |s| format!(", checkpoint size {s}"));
    let cos = if h.cosigned_by.is_empty() {
        String::new()
    } else {
        format!(", cosigned by {}", clean(&h.cosigned_by.join(", ")))
    };
    let _ = writeln!(
        o,
        "{pad}  {}. {} ({key}, {trust}{cp}{cos})",
        n + 1,
        clean(&h.origin)
    );
    hop_events(o, h, color, pad);
}

/// The events of one hop, each with ok or FAIL.
fn hop_events(o: &mut String, h: &HopView, color: bool, pad: &str) {
    for e in &h.events {
        let st = if e.verified {
            paint("ok", GREEN, color)
        } else {
            paint("FAIL", RED, color)
        };
        let _ = writeln!(
            o,
            "{pad}       {} #{} {} by {} {st}",
            clean(&e.time),
            e.index,
            clean(&e.kind),
            e.signer
        );
    }
}

/// Every event, in time order, with its status.
fn timeline(o: &mut String, r: &AuditReport, color: bool) {
    let _ = writeln!(o, "\ntimeline ({} events):", r.events.len());
    for e in &r.events {
        let _ = writeln!(o, "  {} {}", event_line(e), status(e, color));
    }
}

/// The copies shared, then the decryptions.
fn copies_and_decryptions(o: &mut String, r: &AuditReport) {
    for (kind, title) in [("share", "copies shared"), ("access", "decryptions")] {
        let es: Vec<&EventView> = r.events.iter().filter(|e| e.kind == kind).collect();
        let _ = writeln!(o, "\n{title} ({}):", es.len());
        if es.is_empty() {
            let _ = writeln!(o, "  none");
        }
        for e in es {
            let _ = writeln!(o, "  {}", event_line(e));
        }
    }
}

/// Configuration: who could decrypt new documents, and what was required, when.
fn configuration(o: &mut String, r: &AuditReport) {
    let _ = writeln!(o, "\nconfiguration ({} record(s)):", r.configuration.len());
    for c in &r.configuration {
        let _ =
            writeln!(
            o,
            "  #{} {} by {}: {} recipient(s) [{}], approvals {}, partner policy {}, own policy {}",
            c.index,
            clean(&c.time),
            clean(&c.actor),
            c.recipients.len(),
            c.recipients
                .iter()
                .map(|d| d.to_hex()[..8].to_string())
                .collect::<Vec<_>>()
                .join(" "),
            if c.approvals.is_empty() {
                "none".to_string()
            } else {
                clean(&c.approvals.join("+"))
            },
            c.partner_policy.map_or("none".into(), |d| d.to_hex()[..8].to_string()),
            c.own_policy.map_or("none".into(), |d| d.to_hex()[..8].to_string()),
        );
    }
    if r.configuration.is_empty() {
        let _ = writeln!(o, "  none (made before separation of duties)");
    }
}

/// Who could decrypt each document: the recipients of its file from its
/// record on, then after each rekey, with the people whose recipient each is.
fn readers(o: &mut String, r: &AuditReport) {
    let _ = writeln!(o, "\nwho could decrypt:");
    for d in &r.documents {
        let _ = writeln!(o, "  {}", clean(&doc_label(d)));
        for (n, x) in d.readers.iter().enumerate() {
            let who = x
                .recipients
                .iter()
                .map(|c| {
                    let fp = &c.fingerprint.to_hex()[..8];
                    if c.people.is_empty() {
                        format!("[{fp}]")
                    } else {
                        format!("[{fp}] {}", clean(&c.people.join(", ")))
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            let from = if n == 0 {
                format!("from #{}", x.record)
            } else {
                format!("from #{} ({})", x.record, x.kind)
            };
            let _ = writeln!(o, "    {from}: {who}");
        }
    }
}

/// The approvals required, those present and those missing.
fn approvals(o: &mut String, r: &AuditReport, color: bool) {
    let ap = &r.approvals;
    let req = if ap.required.is_empty() {
        "none".to_string()
    } else {
        clean(&ap.required.join(", "))
    };
    let _ = writeln!(o, "\napprovals (required: {req}):");
    for p in &ap.present {
        let _ = writeln!(
            o,
            "  {} {} by {} at {} (#{}): {}",
            paint("present", GREEN, color),
            clean(&p.role),
            clean(&p.actor),
            clean(&p.time),
            p.index,
            clean(&p.purpose)
        );
    }
    for m in &ap.missing {
        let _ = writeln!(o, "  {} {}", paint("MISSING", RED, color), clean(m));
    }
    if ap.present.is_empty() && ap.missing.is_empty() {
        let _ = writeln!(o, "  none");
    }
}

/// Every finding: its subject, check and reason.
fn findings(o: &mut String, r: &AuditReport, color: bool) {
    let _ = writeln!(o, "\nfindings ({}):", r.findings.len());
    if r.findings.is_empty() {
        let _ = writeln!(o, "  none");
    }
    for f in &r.findings {
        let _ = writeln!(
            o,
            "  {}: {}: {}",
            clean(&f.subject.to_string()),
            paint(f.check.as_str(), RED, color),
            clean(&f.reason)
        );
    }
}
