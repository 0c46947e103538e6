//! `custody audit`: the chain of custody of one document before publication,
//! every check re-done from the ledger files (FORMAT.md §12).
//!
//! For the lineage DAG of the target (its ancestors through `derive` parents,
//! and the documents derived from it), every record about each document is
//! read back, its signer authorized against the actors at that point of the
//! log, and proven included in the latest checkpoint, whose log signature and
//! witness cosignatures are checked. Received documents are re-verified from
//! their kept evidence. Then the rules of the audit: parents recorded,
//! approvals present, decryptions only by those the document was shared
//! with, no gap in custody.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use crate::core::actors::{Actors, Signer};
use crate::core::audit::{
    ApprovalView, ApprovalsView, ArchiveView, AuditReport, DocumentView, EventView, HopEventView,
    HopView, LineageEdge, ReadersView, UpstreamView, AUDIT_SCHEMA,
};
use crate::core::bundle::{check_evidence, CheckedHop, CheckedLineage, Trust};
use crate::core::checkpoint::SignedCheckpoint;
use crate::core::crypto::Identities;
use crate::core::findings::{Check, Finding, Subject};
use crate::core::hash::Digest;
use crate::core::keys::SignerKey;
use crate::core::merkle::{self, LeafIndex, TreeSize};
use crate::core::meta::Metadata;
use crate::core::record::{Access, AuditDone, Derive, DocRef, Payload, Purpose, Record, Role};
use crate::core::time;
use crate::store::archive::Archive;
use crate::store::files::blobs::hash_read;
use crate::store::files::db::DigestKind;
use crate::store::files::merkle_nodes::tree_err;
use crate::store::{io_err, StoreError};

/// What the audit may use besides the ledger.
pub struct AuditOptions<'a> {
    /// To show names and notes, and to find a published file by content
    /// when the log key is not at hand.
    pub ids: Option<&'a Identities>,
    /// Trusted logs and the witness policy, for received documents' hops and
    /// this archive's checkpoint.
    pub trust: &'a Trust<'a>,
}

fn add(f: &mut Vec<Finding>, subject: Subject, check: Check, reason: impl Into<String>) {
    f.push(Finding {
        subject,
        check,
        reason: reason.into(),
    });
}

impl Archive {
    /// The arrival index of the document whose plaintext is the file at
    /// `path`: through the keyed deduplication index when its key is at
    /// hand (FORMAT.md §7.3: `ids` open it, or, for an archive whose
    /// configuration seals none, `log` is given), else by opening every
    /// envelope with `ids`.
    pub fn find_by_content(
        &self,
        path: &Path,
        log: Option<&SignerKey>,
        ids: Option<&Identities>,
    ) -> Result<u64, StoreError> {
        // A published document may be large: hashed as it streams, from a
        // regular file only (a pipe or device would never end or could wait
        // forever; FORMAT.md §12).
        let (file, _) = crate::store::files::input::open_regular(path, "the published document")?;
        let (sha, _) = hash_read(file).map_err(|e| io_err(path, e))?;
        let mut hits: BTreeSet<u64> = BTreeSet::new();
        if let Some(key) = self.kept_dedup_key(log, ids)? {
            let tag = crate::store::ops::ingest::dedup_tag(&key, &sha);
            if let Some(blob) = self.db.dedup(&tag)? {
                for i in self.db.records_with(&blob, DigestKind::Blob)? {
                    hits.insert(i);
                }
            }
        }
        if hits.is_empty() {
            if let Some(ids) = ids {
                let mut cache = crate::store::ops::extract::EnvelopeCache::default();
                for i in 0..self.size()? {
                    let r = self.record(i)?;
                    if r.document().is_some()
                        && self
                            .metadata_cached(&r, ids, &mut cache)
                            .is_ok_and(|m| m.sha256 == sha)
                    {
                        hits.insert(i);
                    }
                }
            }
        }
        match hits.len() {
            0 => Err(StoreError::NotFound(format!(
                "a document whose content is {} (sha256 {sha}){}",
                path.display(),
                if log.is_none() && ids.is_none() {
                    "; give -i IDENTITY or the log's signing key to search by content"
                } else {
                    ""
                }
            ))),
            1 => Ok(*hits.first().unwrap_or(&0)),
            n => Err(StoreError::Ambiguous {
                prefix: format!("the content of {}", path.display()),
                count: n,
            }),
        }
    }

    /// Every record about the document arrived at `intro`, in log order:
    /// the arrival itself and every record naming it.
    fn events_of(&self, intro: &Record) -> Result<Vec<Record>, StoreError> {
        let mut out = vec![intro.clone()];
        let Some(c) = intro.commitment() else {
            return Ok(out);
        };
        for i in self.db.records_with(c, DigestKind::Commitment)? {
            if i <= intro.body.index {
                continue;
            }
            let r = self.record(i)?;
            if r.about() == Some(intro.body.index) {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Audits the document of record `target` (see the module docs).
    pub fn audit(
        &self,
        target: u64,
        selected_by: &'static str,
        opts: &AuditOptions<'_>,
    ) -> Result<AuditReport, StoreError> {
        let mut findings = Vec::new();
        let intro = self.document_of(self.record(target)?)?;
        let target = intro.body.index;

        // 1. The checkpoint everything is proven against, and its witnesses.
        let cp = self.audit_checkpoint(opts.trust, &mut findings)?;
        // 2. The lineage DAG: ancestors through parents, descendants of the target.
        let docs = self.lineage_dag(&intro, &mut findings)?;
        // 3. Every record about those documents, and the actor records.
        let events = self.events_of_dag(&docs)?;
        let actor_recs = self.actor_records()?;
        // 4. Replay: authorize each event against the actors before it; prove it.
        let replay = self.replay(&events, &actor_recs, &cp, &mut findings)?;
        // 5. Received documents: their outlets' hops, from the kept evidence.
        let (hops, upstream) = self.received_hops(&docs, opts.trust, &mut findings);
        // 6. The rules of the audit, then the approvals of the target.
        let rules = Rules {
            docs: &docs,
            events: &events,
            replay: &replay,
        };
        rules.apply(&mut findings);
        let approvals = self.approvals(target, &events, &replay.signers, &mut findings)?;

        // 7. The report.
        let names = self.document_names(&docs, opts.ids);
        // Who could decrypt each document (FORMAT.md §12.1 `readers`); a
        // damaged rekey chain is a finding, and leaves it empty.
        let people = match opts.ids {
            Some(ids) => self.people_by_recipient(ids)?,
            None => Default::default(),
        };
        let mut documents: Vec<DocumentView> = Vec::with_capacity(docs.len());
        for d in docs.values() {
            let i = d.body.index;
            let readers = self.readers(d, &people).unwrap_or_else(|e| {
                add(
                    &mut findings,
                    Subject::Record(i),
                    Check::RekeyRef,
                    e.to_string(),
                );
                Vec::new()
            });
            documents.push(document_view(d, names.get(&i), target, readers));
        }
        let lineage = lineage_edges(&documents);
        let derivation_path = derivation_path(&documents, target);
        let evs = self.event_views(
            &events,
            &EventContext {
                signers: &replay.signers,
                findings: &findings,
                names: &names,
                ids: opts.ids,
            },
        );
        let ok = findings.is_empty();
        let configuration = self.configuration_views(&actor_recs, cp.size);
        let mut report = AuditReport {
            schema: AUDIT_SCHEMA,
            generated: time::rfc3339(time::now_ms()),
            archive: ArchiveView {
                origin: self.config.origin.clone(),
                log_key_id: self.log_key.key_id(),
                checkpoint_size: cp.size,
                checkpoint_root: cp.root,
                cosigned_by: cp.cosigned_by,
            },
            target,
            selected_by,
            documents,
            lineage,
            derivation_path,
            hops,
            upstream,
            events: evs,
            approvals,
            configuration,
            findings,
            ok,
        };
        if let Some(ids) = opts.ids {
            report.name_actors(&self.actor_names(ids)?);
        }
        Ok(report)
    }

    /// Step 1 of the audit: the latest cosigned checkpoint, opened with the
    /// trusted witnesses, and a finding when they fall short of the quorum.
    fn audit_checkpoint(
        &self,
        trust: &Trust<'_>,
        findings: &mut Vec<Finding>,
    ) -> Result<AuditCheckpoint, StoreError> {
        let (size, note) = self
            .latest_cosigned_checkpoint()?
            .ok_or(StoreError::NoCheckpoint(0))?;
        let opened = SignedCheckpoint::open(&note, &self.log_key, trust.witnesses)
            .map_err(|e| StoreError::Corrupt(format!("latest checkpoint: {e}")))?;
        let cosigned_by: Vec<String> = opened
            .witness_cosignatures
            .iter()
            .map(|w| w.name.clone())
            .collect();
        if let Some(q) = trust.quorum {
            let (ok, required) = q(&opened.witness_cosignatures);
            if !ok {
                add(
                    findings,
                    Subject::Checkpoint(size),
                    Check::WitnessQuorum,
                    format!(
                        "the checkpoint that covers these records is cosigned by {} but the policy requires {required}",
                        if cosigned_by.is_empty() { "no trusted witness".into() } else { cosigned_by.join(", ") }
                    ),
                );
            }
        }
        Ok(AuditCheckpoint {
            size,
            root: opened.checkpoint.root,
            cosigned_by,
        })
    }

    /// Step 2 of the audit: the lineage DAG of `intro`, its ancestors and
    /// its descendants, by arrival index.
    fn lineage_dag(
        &self,
        intro: &Record,
        findings: &mut Vec<Finding>,
    ) -> Result<BTreeMap<u64, Record>, StoreError> {
        let mut docs = self.ancestors(intro, findings);
        self.add_descendants(intro, &mut docs)?;
        Ok(docs)
    }

    /// The document `intro` and its ancestors through `derive` parents, with
    /// a finding for each parent that is not the document it names.
    fn ancestors(&self, intro: &Record, findings: &mut Vec<Finding>) -> BTreeMap<u64, Record> {
        let mut docs: BTreeMap<u64, Record> = BTreeMap::new();
        let mut queue = VecDeque::from([intro.clone()]);
        while let Some(d) = queue.pop_front() {
            if docs.contains_key(&d.body.index) {
                continue;
            }
            if let Payload::Derive(dv) = &d.body.payload {
                for p in &dv.parents {
                    match self.record(p.document) {
                        Ok(pr)
                            if p.document < d.body.index
                                && pr.document().is_some()
                                && pr.commitment() == Some(&p.commitment) =>
                        {
                            queue.push_back(pr)
                        }
                        _ => add(
                            findings,
                            Subject::Record(d.body.index),
                            Check::LineageParent,
                            format!(
                                "parent record {} is missing, not a document, or not the document with commitment {}",
                                p.document, p.commitment
                            ),
                        ),
                    }
                }
            }
            docs.insert(d.body.index, d);
        }
        docs
    }

    /// Adds to `docs` the documents derived from `intro`, transitively.
    fn add_descendants(
        &self,
        intro: &Record,
        docs: &mut BTreeMap<u64, Record>,
    ) -> Result<(), StoreError> {
        let mut down = VecDeque::from([intro.clone()]);
        while let Some(d) = down.pop_front() {
            let Some(c) = d.commitment().copied() else {
                continue;
            };
            for i in self.db.records_with(&c, DigestKind::Parent)? {
                let child = self.record(i)?;
                let is_child = matches!(&child.body.payload, Payload::Derive(dv)
                    if dv.parents.iter().any(|p| p.document == d.body.index));
                if is_child && !docs.contains_key(&i) {
                    docs.insert(i, child.clone());
                    down.push_back(child);
                }
            }
        }
        Ok(())
    }

    /// Step 3 of the audit: every record about the documents of `docs`, in
    /// log order, each once.
    fn events_of_dag(&self, docs: &BTreeMap<u64, Record>) -> Result<Vec<Record>, StoreError> {
        let mut events: Vec<Record> = Vec::new();
        for d in docs.values() {
            events.extend(self.events_of(d)?);
        }
        events.sort_by_key(|r| r.body.index);
        events.dedup_by_key(|r| r.body.index);
        Ok(events)
    }

    /// Step 4 of the audit: replays the actor records, authorizes each event
    /// against the actors before it, and proves it included in `cp`.
    fn replay(
        &self,
        events: &[Record],
        actor_recs: &[Record],
        cp: &AuditCheckpoint,
        findings: &mut Vec<Finding>,
    ) -> Result<Replay, StoreError> {
        let mut actors = Actors::default();
        let mut next_actor = 0usize;
        let mut signers: BTreeMap<u64, Signer> = BTreeMap::new();
        for ev in events {
            while next_actor < actor_recs.len() && actor_recs[next_actor].body.index < ev.body.index
            {
                self.apply_actor(&mut actors, &actor_recs[next_actor], findings);
                next_actor += 1;
            }
            let i = ev.body.index;
            match actors.authorize(ev, &self.log_key) {
                Ok(s) => {
                    signers.insert(i, s);
                }
                Err(e) => add(findings, Subject::Record(i), e.check(), e.to_string()),
            }
            self.prove_included(ev, cp, findings)?;
        }
        Ok(Replay { actors, signers })
    }

    /// Applies the actor record `a` to `actors` if it is authorized; a
    /// finding if it is not, or does not apply.
    fn apply_actor(&self, actors: &mut Actors, a: &Record, findings: &mut Vec<Finding>) {
        match actors.authorize(a, &self.log_key) {
            Ok(_) => {
                if let Err(e) = actors.apply(a, &self.log_key) {
                    add(
                        findings,
                        Subject::Record(a.body.index),
                        e.check(),
                        e.to_string(),
                    );
                }
            }
            Err(e) => add(
                findings,
                Subject::Record(a.body.index),
                e.check(),
                e.to_string(),
            ),
        }
    }

    /// A finding unless the record `ev` is covered by the checkpoint `cp`
    /// and proven included in it.
    fn prove_included(
        &self,
        ev: &Record,
        cp: &AuditCheckpoint,
        findings: &mut Vec<Finding>,
    ) -> Result<(), StoreError> {
        let (i, size) = (ev.body.index, cp.size);
        if i >= size {
            add(
                findings,
                Subject::Record(i),
                Check::CheckpointMissing,
                format!("not covered by the latest checkpoint (size {size})"),
            );
        } else {
            let proof = merkle::inclusion_proof(&self.flat, LeafIndex(i), TreeSize(size))
                .map_err(tree_err)?;
            if let Err(e) = merkle::verify_inclusion(
                LeafIndex(i),
                TreeSize(size),
                &ev.leaf_hash(),
                &proof,
                &cp.root,
            ) {
                add(
                    findings,
                    Subject::Record(i),
                    Check::InclusionProof,
                    format!("not proven included in the checkpoint at size {size}: {e}"),
                );
            }
        }
        Ok(())
    }

    /// Step 5 of the audit: the outlets' hops of the received documents of
    /// `docs`, and the custody of their parents where they were derived at
    /// another outlet, re-verified from their kept evidence.
    fn received_hops(
        &self,
        docs: &BTreeMap<u64, Record>,
        trust: &Trust<'_>,
        findings: &mut Vec<Finding>,
    ) -> (Vec<HopView>, Vec<UpstreamView>) {
        let mut hops: Vec<HopView> = Vec::new();
        let mut upstream = Vec::new();
        for d in docs.values() {
            let Some(r) = d.receive() else { continue };
            match self.evidence(r) {
                Err(e) => add(
                    findings,
                    Subject::Record(d.body.index),
                    Check::Evidence,
                    e.to_string(),
                ),
                Ok(ev) => {
                    if let Err(reason) = self.check_receive_link(r) {
                        add(
                            findings,
                            Subject::Record(d.body.index),
                            Check::Evidence,
                            reason,
                        );
                    }
                    let c = check_evidence(&ev, trust);
                    findings.extend(c.findings);
                    hops.extend(c.hops.into_iter().map(hop_view));
                    upstream.extend(c.lineage.into_iter().map(upstream_view));
                }
            }
        }
        (hops, upstream)
    }

    /// Step 6 of the audit, its last rule: the approvals of the target for
    /// publication, by role, with a finding naming the roles missing.
    fn approvals(
        &self,
        target: u64,
        events: &[Record],
        signers: &BTreeMap<u64, Signer>,
        findings: &mut Vec<Finding>,
    ) -> Result<ApprovalsView, StoreError> {
        let required = self.required_approvals()?;
        let mut present = Vec::new();
        for ev in events {
            let Payload::Approve(a) = &ev.body.payload else {
                continue;
            };
            if a.about.document != target || a.purpose != Purpose::Publication {
                continue;
            }
            if let Some(Signer::Actor { name, role }) = signers.get(&ev.body.index) {
                present.push(ApprovalView {
                    index: ev.body.index,
                    actor: name.clone(),
                    role: role.as_str().to_string(),
                    time: time::rfc3339(ev.body.time_ms),
                    purpose: a.purpose.as_str().to_string(),
                });
            }
        }
        let missing: Vec<String> = required
            .iter()
            .filter(|r| !present.iter().any(|p| p.role == r.as_str()))
            .map(|r| r.as_str().to_string())
            .collect();
        if !missing.is_empty() {
            add(
                findings,
                Subject::Record(target),
                Check::ApprovalMissing,
                format!(
                    "no valid approval for publication by: {} (required: {})",
                    missing.join(", "),
                    required
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        Ok(ApprovalsView {
            required: required.iter().map(|r| r.as_str().to_string()).collect(),
            present,
            missing,
        })
    }

    /// Step 7 of the audit: the names and sizes of the documents of `docs`
    /// that `ids` can open (none without `ids`).
    fn document_names(
        &self,
        docs: &BTreeMap<u64, Record>,
        ids: Option<&Identities>,
    ) -> BTreeMap<u64, Metadata> {
        match ids {
            Some(ids) => docs
                .values()
                .filter_map(|d| self.metadata(d, ids).ok().map(|m| (d.body.index, m)))
                .collect(),
            None => BTreeMap::new(),
        }
    }

    /// Step 7 of the audit: the view of every event, in time order (ties by
    /// log index).
    fn event_views(&self, events: &[Record], cx: &EventContext<'_>) -> Vec<EventView> {
        let mut evs: Vec<EventView> = events.iter().map(|e| self.event_view(e, cx)).collect();
        evs.sort_by(|a, b| a.time.cmp(&b.time).then(a.index.cmp(&b.index)));
        evs
    }

    /// The view of one event: who signed it, what it says (notes and sealed
    /// details opened with `cx.ids`) and the checks that failed on it.
    fn event_view(&self, e: &Record, cx: &EventContext<'_>) -> EventView {
        let i = e.body.index;
        let s = cx.signers.get(&i);
        let fs: Vec<String> = cx
            .findings
            .iter()
            .filter(|f| f.subject == Subject::Record(i))
            .map(|f| f.check.as_str().to_string())
            .collect();
        let mut summary = e.body.payload.summary();
        if let (Payload::Annotate(a), Some(ids)) = (&e.body.payload, cx.ids) {
            if let Ok(t) = self.note_text(a, ids) {
                summary = format!("note: {t}");
            }
        }
        // Sealed reasons, recipients and partners' names (FORMAT.md §5.4),
        // for whoever holds an identity.
        let mut partner = None;
        if let (Some(sealed), Some(ids)) = (e.sealed(), cx.ids) {
            if let Ok(d) = self.open_sealed(sealed, ids) {
                summary = format!("{summary}: {}", d.summary());
                partner = d.share().and_then(|(_, p, _)| p).map(str::to_string);
            }
        }
        if let (Some(m), true) = (cx.names.get(&i), e.document().is_some()) {
            summary = format!("{} ({} bytes): {summary}", m.name, m.size);
        }
        EventView {
            index: i,
            time: time::rfc3339(e.body.time_ms),
            kind: e.body.payload.kind().as_str().to_string(),
            document: e.about().unwrap_or(i),
            actor: s.map_or_else(|| "?".to_string(), |s| s.name().to_string()),
            role: s.map_or_else(|| "?".to_string(), |s| s.role().to_string()),
            signer: e.body.signer,
            summary,
            partner,
            verified: fs.is_empty(),
            findings: fs,
        }
    }

    /// Appends an `audit` record: the target, the digest of the report's JSON
    /// and its number of findings (FORMAT.md §4.13).
    pub fn record_audit(
        &mut self,
        target: u64,
        report_json: &[u8],
        findings: u32,
        log: &SignerKey,
    ) -> Result<Record, StoreError> {
        let about: DocRef = self.doc_ref(target)?;
        self.check_signer(log)?;
        let r = self
            .commit_records(
                vec![self.new_record(Payload::Audit(AuditDone {
                    about,
                    report: Digest::of(report_json),
                    findings,
                }))],
                Vec::new(),
                Vec::new(),
                log,
            )?
            .remove(0);
        self.sign_checkpoint(log)?;
        Ok(r)
    }
}

impl Archive {
    /// The authorized `config` records below `size`, each with the admin
    /// who signed it (FORMAT.md §4.15): the audit's configuration section.
    fn configuration_views(
        &self,
        actor_recs: &[Record],
        size: u64,
    ) -> Vec<crate::core::audit::ConfigView> {
        let mut actors = Actors::default();
        let mut out = Vec::new();
        for r in actor_recs.iter().filter(|r| r.body.index < size) {
            let Ok(s) = actors.authorize(r, &self.log_key) else {
                continue;
            };
            if actors.apply(r, &self.log_key).is_err() {
                continue;
            }
            if let Payload::Config(c) = &r.body.payload {
                out.push(crate::core::audit::ConfigView::of(
                    r.body.index,
                    r.body.time_ms,
                    s.name(),
                    c,
                ));
            }
        }
        out
    }
}

/// The checkpoint the audit proves everything against (step 1).
struct AuditCheckpoint {
    size: u64,
    root: Digest,
    /// The trusted witnesses whose cosignatures on it verified.
    cosigned_by: Vec<String>,
}

/// What the replay of step 4 leaves: the actors as they stand after the
/// last event, and who signed each event that was authorized.
struct Replay {
    actors: Actors,
    signers: BTreeMap<u64, Signer>,
}

/// What the rules of the audit read (step 6): the DAG, its events in log
/// order, and the replay's signers and actors.
struct Rules<'a> {
    docs: &'a BTreeMap<u64, Record>,
    events: &'a [Record],
    replay: &'a Replay,
}

impl Rules<'_> {
    /// Applies every rule to every event, in log order.
    fn apply(&self, findings: &mut Vec<Finding>) {
        for ev in self.events {
            match &ev.body.payload {
                Payload::Access(a) => self.access_shared(ev, a, findings),
                Payload::Derive(dv) => self.derived_from_held(ev, dv, findings),
                Payload::Ingest(_)
                | Payload::Share(_)
                | Payload::Receive(_)
                | Payload::Actor(_)
                | Payload::Annotate(_)
                | Payload::Approve(_)
                | Payload::Grant(_)
                | Payload::Audit(_)
                | Payload::Config(_)
                | Payload::Rekey(_)
                | Payload::Rewrap(_)
                | Payload::Compartment(_) => {}
            }
            // The date check applies to every event, whatever its kind.
            self.dated_after_arrival(ev, findings);
        }
    }

    /// A decryption by someone the document was never shared with: a
    /// journalist who neither brought it in nor was granted it. A grant
    /// recorded after the decryption ratifies it (an editor's signed
    /// decision, listed with the events): no finding then.
    fn access_shared(&self, ev: &Record, a: &Access, findings: &mut Vec<Finding>) {
        let i = ev.body.index;
        let signers = &self.replay.signers;
        let Some(Signer::Actor { name, role }) = signers.get(&i) else {
            return;
        };
        if *role != Role::Journalist {
            return;
        }
        let brought = matches!(signers.get(&a.about.document), Some(Signer::Actor { name: n, .. }) if n == name);
        let granted = self.events.iter().any(|g| {
            g.body.index != i
                && matches!(&g.body.payload, Payload::Grant(gr)
                    if gr.about.document == a.about.document
                        && self.replay.actors.grantee(&gr.actor).is_some_and(|x| &x.name == name))
                && signers.contains_key(&g.body.index)
        });
        if !brought && !granted {
            add(
                findings,
                Subject::Record(i),
                Check::AccessUnshared,
                format!(
                    "{name} (journalist) decrypted document {} without having brought it in or been granted it",
                    a.about.document
                ),
            );
        }
    }

    /// A derivation by someone who never held the parent, or dated before it.
    fn derived_from_held(&self, ev: &Record, dv: &Derive, findings: &mut Vec<Finding>) {
        let i = ev.body.index;
        let signers = &self.replay.signers;
        let who = signers.get(&i);
        for p in &dv.parents {
            let held = self.events.iter().any(|e| {
                e.body.index < i
                    && signers.get(&e.body.index) == who
                    && (e.body.index == p.document
                        || matches!(&e.body.payload, Payload::Access(a) if a.about.document == p.document))
            });
            if !held && who.is_some() {
                add(
                    findings,
                    Subject::Record(i),
                    Check::CustodyGap,
                    format!(
                        "{} derived it from document {} without a recorded decryption or arrival of that document by them",
                        who.map_or("?", |s| s.name()),
                        p.document
                    ),
                );
            }
            if let Some(parent) = self.docs.get(&p.document) {
                if ev.body.time_ms < parent.body.time_ms {
                    add(
                        findings,
                        Subject::Record(i),
                        Check::CustodyGap,
                        format!("dated before its parent, record {}", p.document),
                    );
                }
            }
        }
    }

    /// An event dated before the arrival of the document it is about.
    fn dated_after_arrival(&self, ev: &Record, findings: &mut Vec<Finding>) {
        if let Some(doc) = ev.about().and_then(|d| self.docs.get(&d)) {
            if ev.body.time_ms < doc.body.time_ms {
                add(
                    findings,
                    Subject::Record(ev.body.index),
                    Check::CustodyGap,
                    format!(
                        "dated before the arrival of document {} it is about",
                        doc.body.index
                    ),
                );
            }
        }
    }
}

/// What the view of an event reads besides the record (step 7).
struct EventContext<'a> {
    signers: &'a BTreeMap<u64, Signer>,
    findings: &'a [Finding],
    names: &'a BTreeMap<u64, Metadata>,
    ids: Option<&'a Identities>,
}

/// The view of a hop re-verified from a received document's evidence.
fn upstream_view(l: CheckedLineage) -> UpstreamView {
    UpstreamView {
        relation: l.relation,
        origin: l.origin,
        document: l.document,
        commitment: l.commitment,
        hops: l.hops.into_iter().map(hop_view).collect(),
        parents: l.lineage.into_iter().map(upstream_view).collect(),
        lineage_not_carried: l.lineage_not_carried,
    }
}

fn hop_view(h: CheckedHop) -> HopView {
    HopView {
        origin: h.origin,
        key_id: h.key_id,
        trusted: h.trusted,
        checkpoint_size: h.checkpoint_size,
        cosigned_by: h.cosigned_by,
        events: h
            .events
            .into_iter()
            .map(|e| HopEventView {
                index: e.index,
                kind: e.kind.as_str().to_string(),
                time: time::rfc3339(e.time_ms),
                signer: e.signer,
                verified: e.verified,
            })
            .collect(),
    }
}

/// Step 7 of the audit: the view of the document `d` of the DAG, with its
/// name and size from `m` when they could be read.
fn document_view(
    d: &Record,
    m: Option<&Metadata>,
    target: u64,
    readers: Vec<ReadersView>,
) -> DocumentView {
    let (kind, relation, parents) = match &d.body.payload {
        Payload::Derive(dv) => (
            "derive",
            Some(dv.relation.as_str().to_string()),
            dv.parents.iter().map(|p| p.document).collect(),
        ),
        Payload::Receive(_) => ("receive", None, Vec::new()),
        // Only documents are in the DAG; the other kinds never reach here.
        Payload::Ingest(_)
        | Payload::Share(_)
        | Payload::Actor(_)
        | Payload::Access(_)
        | Payload::Annotate(_)
        | Payload::Approve(_)
        | Payload::Grant(_)
        | Payload::Audit(_)
        | Payload::Config(_)
        | Payload::Rekey(_)
        | Payload::Rewrap(_)
        | Payload::Compartment(_) => ("ingest", None, Vec::new()),
    };
    DocumentView {
        index: d.body.index,
        kind,
        commitment: d.commitment().copied().unwrap_or(Digest([0; 32])),
        relation,
        parents,
        name: m.map(|m| m.name.clone()),
        size: m.map(|m| m.size),
        sha256: m.map(|m| m.sha256),
        received_from: d.receive().map(|r| r.from.origin.clone()),
        target: d.body.index == target,
        readers,
    }
}

/// Step 7 of the audit: the parent → child edges of the DAG.
fn lineage_edges(documents: &[DocumentView]) -> Vec<LineageEdge> {
    documents
        .iter()
        .flat_map(|d| {
            d.parents.iter().map(move |p| LineageEdge {
                parent: *p,
                child: d.index,
                relation: d.relation.clone().unwrap_or_default(),
            })
        })
        .collect()
}

/// Step 7 of the audit: the longest chain of parents from an original to
/// the target (the lowest index among equally long ones).
fn derivation_path(documents: &[DocumentView], target: u64) -> Vec<u64> {
    let parents_of = |i: u64| -> Vec<u64> {
        documents
            .iter()
            .find(|d| d.index == i)
            .map(|d| d.parents.clone())
            .unwrap_or_default()
    };
    let mut depth: BTreeMap<u64, usize> = BTreeMap::new();
    for d in documents {
        // Parents have lower indices: ascending order sees them first.
        let dp = d
            .parents
            .iter()
            .filter_map(|p| depth.get(p))
            .max()
            .map_or(0, |m| m + 1);
        depth.insert(d.index, dp);
    }
    let mut path = vec![target];
    let mut cur = target;
    while let Some(p) = parents_of(cur)
        .into_iter()
        .filter(|p| depth.contains_key(p))
        .max_by_key(|p| (depth[p], std::cmp::Reverse(*p)))
    {
        path.push(p);
        cur = p;
    }
    path.reverse();
    path
}
