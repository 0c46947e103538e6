//! The audit report of one document before publication (FORMAT.md §12): its
//! data model, which `--format json` serialises as is (schema
//! `custody-audit/v1`), and the text and HTML renderings of it.
//!
//! The report is assembled by the store (which re-verifies everything from
//! the ledger files); this module only holds it and renders it, so it is pure.

use serde::Serialize;

use crate::core::findings::Finding;
use crate::core::hash::Digest;
use crate::core::keys::KeyId;

mod html;
pub mod layout;
#[cfg(test)]
mod tests;
mod text;

pub use html::{render_html, HTML_CSP};
pub use text::render_text;

/// Version tag of the JSON schema.
pub const AUDIT_SCHEMA: &str = "custody-audit/v1";

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct AuditReport {
    /// Always [`AUDIT_SCHEMA`].
    pub schema: &'static str,
    /// When the report was made (RFC 3339, UTC).
    pub generated: String,
    /// The archive (this outlet's log) the audit was run on.
    pub archive: ArchiveView,
    /// Index of the audited document's arrival record (ingest, receive or derive).
    pub target: u64,
    /// How the target was chosen: `"ref"` (a record reference) or `"file"`
    /// (the published bytes, matched by content).
    pub selected_by: &'static str,
    /// The documents of the lineage DAG (the target, its ancestors, and the
    /// target's descendants), by arrival index ascending.
    pub documents: Vec<DocumentView>,
    /// Parent → child edges of the DAG.
    pub lineage: Vec<LineageEdge>,
    /// Document indices from an original (ingested or received) document to
    /// the target, following parent links (the first parent when several).
    pub derivation_path: Vec<u64>,
    /// The outlets the original document passed through before this one,
    /// oldest first (empty when it was ingested here).
    pub hops: Vec<HopView>,
    /// For a received document that was derived at another outlet: the
    /// custody of its parents there, each back to its own original
    /// (FORMAT.md §10.4 step 8), from the evidence kept when it was received.
    pub upstream: Vec<UpstreamView>,
    /// Every custody event of every document of the DAG, in time order
    /// (ties by log index).
    pub events: Vec<EventView>,
    /// The approvals the archive requires for publication, present and missing.
    pub approvals: ApprovalsView,
    /// Every authorized `config` record the checkpoint covers, in log order:
    /// who could decrypt new documents, and what was required, when
    /// (FORMAT.md §4.15).
    pub configuration: Vec<ConfigView>,
    /// Everything that failed, each naming the record or log, the check and why.
    pub findings: Vec<Finding>,
    /// True when `findings` is empty.
    pub ok: bool,
}

/// This outlet's log as the audit saw it.
#[derive(Clone, Debug, Serialize)]
pub struct ArchiveView {
    pub origin: String,
    pub log_key_id: KeyId,
    /// Size and root of the checkpoint every event was proven against.
    pub checkpoint_size: u64,
    pub checkpoint_root: Digest,
    /// Witnesses whose cosignatures on that checkpoint verified.
    pub cosigned_by: Vec<String>,
}

/// One document of the lineage DAG.
#[derive(Clone, Debug, Serialize)]
pub struct DocumentView {
    /// Index of its arrival record.
    pub index: u64,
    /// `ingest`, `receive` or `derive`.
    pub kind: &'static str,
    pub commitment: Digest,
    /// For a derived document: translation, redaction, excerpt, ocr, conversion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
    /// Arrival indices of its parents (derived documents only).
    pub parents: Vec<u64>,
    /// From the decrypted envelope, when an identity was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Digest>,
    /// For a received document: the outlet it came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_from: Option<String>,
    /// True for the audited document.
    pub target: bool,
    /// Who could decrypt its file: its record's recipients, then each
    /// rekey's (FORMAT.md §4.17), in log order.
    pub readers: Vec<ReadersView>,
}

/// Whom a document's file was encrypted to from record `record` on: its
/// arrival record, or a `rekey` record that replaced the file by `blob`.
#[derive(Clone, Debug, Serialize)]
pub struct ReadersView {
    pub record: u64,
    /// The kind of that record: the document's own (`ingest`, `receive`,
    /// `derive`), `rekey` (FORMAT.md §4.17) or `rewrap` (§4.19: a grant).
    pub kind: &'static str,
    pub blob: Digest,
    pub recipients: Vec<ReaderView>,
}

/// One recipient (its FORMAT.md §5.3 fingerprint) and the people whose own
/// recipient it is (sealed in their actor records, §5.4), when an identity
/// opened those.
#[derive(Clone, Debug, Serialize)]
pub struct ReaderView {
    pub fingerprint: Digest,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<String>,
}

/// A parent → child edge of the lineage DAG.
#[derive(Clone, Debug, Serialize)]
pub struct LineageEdge {
    pub parent: u64,
    pub child: u64,
    pub relation: String,
}

/// Another outlet's ledger the original document passed through.
#[derive(Clone, Debug, Serialize)]
pub struct HopView {
    pub origin: String,
    pub key_id: Option<KeyId>,
    pub trusted: bool,
    pub checkpoint_size: Option<u64>,
    pub cosigned_by: Vec<String>,
    /// Its records about the document (arrival, shares), oldest first.
    pub events: Vec<HopEventView>,
}

/// The custody of a parent of a document derived at another outlet.
#[derive(Clone, Debug, Serialize)]
pub struct UpstreamView {
    /// What the derived document is of this parent: translation, redaction…
    pub relation: String,
    /// The outlet's log it was derived in, and the parent's arrival record there.
    pub origin: String,
    pub document: u64,
    pub commitment: Digest,
    /// The parent's custody, oldest first, ending at `origin`.
    pub hops: Vec<HopView>,
    /// The parent's own parents, when it was derived too.
    pub parents: Vec<UpstreamView>,
    /// It was derived, but its evidence does not carry its parents' custody.
    pub lineage_not_carried: bool,
}

/// A record of another outlet's ledger.
#[derive(Clone, Debug, Serialize)]
pub struct HopEventView {
    pub index: u64,
    pub kind: String,
    pub time: String,
    pub signer: KeyId,
    pub verified: bool,
}

/// One custody event of this archive.
#[derive(Clone, Debug, Serialize)]
pub struct EventView {
    /// Log index of the record.
    pub index: u64,
    /// RFC 3339, UTC.
    pub time: String,
    /// Record kind: ingest, receive, derive, share, access, annotate,
    /// approve, grant, audit.
    pub kind: String,
    /// Arrival index of the document it is about.
    pub document: u64,
    /// The actor who signed it (`owner` for the log key), and their role then.
    pub actor: String,
    pub role: String,
    pub signer: KeyId,
    /// One line for people: what happened (recipients, reason, relation, text…).
    pub summary: String,
    /// A share's partner, by the name its sealed details give (FORMAT.md
    /// §5.4), when the audit's identity opens them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner: Option<String>,
    /// True when no finding names this record.
    pub verified: bool,
    /// Checks of the findings that name this record.
    pub findings: Vec<String>,
}

impl AuditReport {
    /// Puts people's names beside their labels (`#N` becomes `alice (#N)`),
    /// for a reader who opened the sealed details (FORMAT.md §4.16, §12.1).
    pub fn name_actors(&mut self, names: &std::collections::BTreeMap<String, String>) {
        let name = |a: &mut String| {
            if let Some(n) = names.get(a.as_str()) {
                *a = format!("{n} ({a})");
            }
        };
        self.events.iter_mut().for_each(|e| name(&mut e.actor));
        self.approvals
            .present
            .iter_mut()
            .for_each(|p| name(&mut p.actor));
        self.configuration
            .iter_mut()
            .for_each(|c| name(&mut c.actor));
    }
}

/// One `config` record (FORMAT.md §4.15, §12.1).
#[derive(Clone, Debug, Serialize)]
pub struct ConfigView {
    pub index: u64,
    pub time: String,
    /// The admin who signed it.
    pub actor: String,
    /// Recipient fingerprints (§5.3).
    pub recipients: Vec<Digest>,
    /// Roles whose approval publication needs.
    pub approvals: Vec<String>,
    /// SHA-256 of the partners' policy text, if any.
    pub partner_policy: Option<Digest>,
    /// SHA-256 of this log's own policy text, if any.
    pub own_policy: Option<Digest>,
}

impl ConfigView {
    /// The view of `c`, made at `index` and `time_ms` by `actor`.
    pub fn of(
        index: u64,
        time_ms: u64,
        actor: &str,
        c: &crate::core::record::ArchiveConfig,
    ) -> ConfigView {
        let digest = |t: &str| (!t.is_empty()).then(|| Digest::of(t.as_bytes()));
        ConfigView {
            index,
            time: crate::core::time::rfc3339(time_ms),
            actor: actor.to_string(),
            recipients: c.recipients.clone(),
            approvals: c.approvals.iter().map(|r| r.as_str().to_string()).collect(),
            partner_policy: digest(&c.partner_policy),
            own_policy: digest(&c.own_policy),
        }
    }
}

/// Approvals for publication of the target.
#[derive(Clone, Debug, Serialize)]
pub struct ApprovalsView {
    /// Roles whose approval the archive requires (`custody.toml`).
    pub required: Vec<String>,
    /// Valid approvals of the target, by role.
    pub present: Vec<ApprovalView>,
    /// Required roles with no valid approval.
    pub missing: Vec<String>,
}

/// One approval.
#[derive(Clone, Debug, Serialize)]
pub struct ApprovalView {
    pub index: u64,
    pub actor: String,
    pub role: String,
    pub time: String,
    pub purpose: String,
}
