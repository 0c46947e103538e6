//! The record pass of `verify` (FORMAT.md §4, §4.14, §9): one read of
//! `ledger/records` in log order, with the signatures checked in batches on
//! every core.
//!
//! The calling thread reads and decodes each frame, cross-checks it with
//! `ledger/index` and every Merkle node it completes with `ledger/tree`
//! (both read front to back, FORMAT.md §7.2.5), replays the actors in log
//! order ([`Actors::plan`]: the outcome of each record's authorization is
//! fixed once its one signature check is known) and feeds the Merkle
//! frontier. Signature checks go, a chunk at a
//! time, to worker threads that verify them in batches per key
//! ([`crate::core::sigbatch`], the one-by-one verdicts). A chunk's
//! findings are reported, in record order, once its verdicts are back; at
//! most a few chunks are in flight, so memory does not grow with the log.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Mutex;

use ed25519_dalek::VerifyingKey;

use crate::core::actors::{Actors, AuthError, AuthPlan, Signer};
use crate::core::hash::Digest;
use crate::core::merkle;
use crate::core::record::{Payload, Receive, Record, RecordBody};
use crate::core::report::{Check, Report, Subject};
use crate::core::sigbatch::{verify_by_key, BatchKey, Item};
use crate::store::archive::Archive;
use crate::store::logfile::Frame;
use crate::store::verify::{BlobRef, Frontier, VerifyObserver};
use crate::store::StoreError;

/// Records per chunk handed to the workers.
const CHUNK: usize = 4096;
/// Chunks whose verdicts may be outstanding while the next one is read.
const IN_FLIGHT: usize = 2;
/// Mismatches of `ledger/index` and `ledger/tree` listed one by one; the
/// rest are counted (a file of garbage would otherwise list every record).
pub(crate) const FLAT_LISTED: u64 = 16;

/// What the record pass leaves for the rest of `verify`.
pub(crate) struct Scanned {
    /// Records read.
    pub n: u64,
    /// Blobs named by records (documents, envelopes, notes).
    pub refs: HashMap<Digest, BlobRef>,
    /// `receive` records, to check their evidence.
    pub links: Vec<(u64, Receive)>,
    /// Document records, kept only for a deep verify.
    pub ingests: Vec<Record>,
    /// Records with sealed details (FORMAT.md §5.4), kept only for a deep verify.
    pub sealed: Vec<Record>,
    /// References to documents that are not earlier documents of this log,
    /// reported after every record (as before this pass was parallel).
    pub doc_findings: Vec<(u64, Check, String)>,
    /// What the cross-check of the flat files found beyond per-record findings.
    pub flat: FlatChecked,
}

/// What the cross-check of the flat files found besides the findings it
/// listed per record.
#[derive(Default)]
pub(crate) struct FlatChecked {
    /// Entries that differ from the records, the first [`FLAT_LISTED`] of
    /// them listed as findings.
    pub found: u64,
    /// Entries beyond the records read.
    pub lengths: Vec<String>,
}

/// A finding of a chunk, waiting for the chunk's signature verdicts.
enum Pending {
    Done(Subject, Check, String),
    Auth {
        n: u64,
        job: usize,
        if_valid: Result<Signer, AuthError>,
    },
}

/// One signature check: key, signed message, signature.
struct Job {
    key: VerifyingKey,
    msg: Vec<u8>,
    sig: [u8; 64],
}

/// A part of a chunk's checks, for one worker.
struct Work {
    chunk: u64,
    part: usize,
    jobs: Vec<Job>,
}

type Verdicts = (u64, usize, Option<Vec<bool>>);

/// A chunk whose checks are with the workers.
struct InFlight {
    id: u64,
    parts: usize,
    records: u64,
    pending: Vec<Pending>,
}

/// Verifies every job of `work`, in batches per key (FORMAT.md §4.3,
/// [`verify_by_key`]); `None` if that panicked.
fn verify_work(work: &Work, cache: &mut HashMap<[u8; 32], BatchKey>) -> Option<Vec<bool>> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let sigs: Vec<(&VerifyingKey, Item<'_>)> = work
            .jobs
            .iter()
            .map(|j| {
                (
                    &j.key,
                    Item {
                        msg: &j.msg,
                        sig: &j.sig,
                    },
                )
            })
            .collect();
        verify_by_key(&sigs, cache)
    }))
    .ok()
}

fn worker(rx: &Mutex<Receiver<Work>>, tx: Sender<Verdicts>) {
    let mut cache = HashMap::new();
    loop {
        let next = match rx.lock() {
            Ok(r) => r.recv(),
            Err(_) => return,
        };
        let Ok(work) = next else { return };
        let v = verify_work(&work, &mut cache);
        if tx.send((work.chunk, work.part, v)).is_err() {
            return;
        }
    }
}

/// Splits a chunk's jobs into `parts` contiguous parts and sends them.
fn dispatch(
    tx: &SyncSender<Work>,
    chunk: u64,
    mut jobs: Vec<Job>,
    parts: usize,
) -> Result<usize, StoreError> {
    let per = jobs.len().div_ceil(parts).max(1);
    let mut sent = 0;
    while !jobs.is_empty() || sent == 0 {
        let rest = jobs.split_off(per.min(jobs.len()));
        let part = std::mem::replace(&mut jobs, rest);
        tx.send(Work {
            chunk,
            part: sent,
            jobs: part,
        })
        .map_err(|_| StoreError::Internal("the signature workers stopped".into()))?;
        sent += 1;
    }
    Ok(sent)
}

/// Waits for a chunk's verdicts, then reports its findings in record order.
fn resolve(
    c: InFlight,
    rx: &Receiver<Verdicts>,
    early: &mut HashMap<(u64, usize), Vec<bool>>,
    rep: &mut Report,
    obs: &mut dyn VerifyObserver,
) -> Result<(), StoreError> {
    let stopped = || StoreError::Internal("a signature worker failed".into());
    let mut verdicts = Vec::new();
    for part in 0..c.parts {
        let v = loop {
            if let Some(v) = early.remove(&(c.id, part)) {
                break v;
            }
            let (chunk, p, v) = rx.recv().map_err(|_| stopped())?;
            early.insert((chunk, p), v.ok_or_else(stopped)?);
        };
        verdicts.extend(v);
    }
    for p in c.pending {
        match p {
            Pending::Done(s, check, reason) => rep.add(s, check, reason),
            Pending::Auth { n, job, if_valid } => {
                let ok = *verdicts.get(job).ok_or_else(stopped)?;
                let outcome = if ok {
                    if_valid
                } else {
                    Err(AuthError::BadSignature)
                };
                if let Err(e) = outcome {
                    rep.add(Subject::Record(n), e.check(), e.to_string());
                }
            }
        }
    }
    obs.advance(c.records);
    Ok(())
}

impl Archive {
    /// The record pass of [`Archive::verify`]; see the module docs. Adds the
    /// per-record findings to `rep` in record order and the roots at the
    /// checkpointed sizes `cps` to `roots`.
    pub(crate) fn scan_records(
        &self,
        deep: bool,
        trust_below: u64,
        cps: &BTreeMap<u64, Digest>,
        roots: &mut BTreeMap<u64, Digest>,
        rep: &mut Report,
        obs: &mut dyn VerifyObserver,
    ) -> Result<Scanned, StoreError> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (work_tx, work_rx) = mpsc::sync_channel::<Work>(threads * IN_FLIGHT);
        let work_rx = Mutex::new(work_rx);
        let (res_tx, res_rx) = mpsc::channel::<Verdicts>();
        std::thread::scope(|sc| {
            for _ in 0..threads {
                let (rx, tx) = (&work_rx, res_tx.clone());
                sc.spawn(move || worker(rx, tx));
            }
            drop(res_tx);
            let r = self.scan_loop(
                deep,
                trust_below,
                cps,
                roots,
                rep,
                obs,
                &work_tx,
                &res_rx,
                threads,
            );
            drop(work_tx);
            r
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn scan_loop(
        &self,
        deep: bool,
        trust_below: u64,
        cps: &BTreeMap<u64, Digest>,
        roots: &mut BTreeMap<u64, Digest>,
        rep: &mut Report,
        obs: &mut dyn VerifyObserver,
        work_tx: &SyncSender<Work>,
        res_rx: &Receiver<Verdicts>,
        parts: usize,
    ) -> Result<Scanned, StoreError> {
        let origin = self.config().origin.clone();
        let log_key = self.log_key().clone();
        let mut out = Scanned {
            n: 0,
            refs: HashMap::new(),
            links: Vec::new(),
            ingests: Vec::new(),
            sealed: Vec::new(),
            doc_findings: Vec::new(),
            flat: FlatChecked::default(),
        };
        let (mut index_file, mut tree_file) = self.flat().sequential()?;
        let mut frontier = Frontier::default();
        let mut actors = Actors::default();
        // The commitment of every document record, by position: what records
        // about a document, and derived documents' parents, must name.
        let mut docs: HashMap<u64, Digest> = HashMap::new();
        let mut inflight: VecDeque<InFlight> = VecDeque::new();
        let mut early = HashMap::new();
        let mut pending = Vec::new();
        let mut jobs = Vec::new();
        let mut records = 0u64;
        let mut chunk = 0u64;
        let mut frames = self.record_file().scan(0)?;
        loop {
            let frame = frames.next().transpose()?;
            let stop = match &frame {
                None => true,
                Some(Frame::Complete { .. }) => false,
                Some(Frame::Torn { .. } | Frame::Oversized { .. }) => true,
            };
            if let Some(Frame::Torn { offset } | Frame::Oversized { offset, .. }) = frame {
                pending.push(Pending::Done(
                    Subject::Record(out.n),
                    Check::RecordFrame,
                    format!("ledger/records is damaged at offset {offset}; later records cannot be read"),
                ));
            }
            if stop || records as usize == CHUNK {
                let p = dispatch(work_tx, chunk, std::mem::take(&mut jobs), parts)?;
                inflight.push_back(InFlight {
                    id: chunk,
                    parts: p,
                    records,
                    pending: std::mem::take(&mut pending),
                });
                chunk += 1;
                records = 0;
                while inflight.len() > IN_FLIGHT || (stop && !inflight.is_empty()) {
                    let c = inflight.pop_front().expect("not empty");
                    resolve(c, res_rx, &mut early, rep, obs)?;
                }
            }
            if stop {
                break;
            }
            let Some(Frame::Complete { offset, body }) = frame else {
                unreachable!("stop is set for every other frame")
            };
            let n = out.n;
            let leaf = merkle::leaf_hash(&body);
            // The flat files: this record's location, and the nodes it completes.
            let mut flat_reasons = Vec::new();
            match index_file.next_location()? {
                Some((o, l)) if o == offset && l as usize == body.len() => {}
                Some((o, l)) => flat_reasons.push(format!(
                    "ledger/index locates this record at offset {o} ({l} bytes); ledger/records has it at offset {offset} ({} bytes)",
                    body.len()
                )),
                None => flat_reasons.push("ledger/index has no entry for this record".into()),
            }
            let mut stored = Vec::with_capacity(1 + n.trailing_ones() as usize);
            for _ in 0..=n.trailing_ones() {
                stored.push(tree_file.next_node()?);
            }
            frontier.push_with(leaf, |level, hash| {
                let node = format!("Merkle node (level {level}, index {})", n >> level);
                match stored.get(level as usize) {
                    Some(Some(h)) if h == hash => {}
                    Some(Some(_)) => flat_reasons.push(format!(
                        "ledger/tree holds another hash for {node} than the records give"
                    )),
                    _ => flat_reasons.push(format!("ledger/tree has no entry for {node}")),
                }
            });
            let mut add =
                |c: Check, r: String| pending.push(Pending::Done(Subject::Record(n), c, r));
            for r in flat_reasons {
                out.flat.found += 1;
                if out.flat.found <= FLAT_LISTED {
                    add(Check::IndexMismatch, r);
                }
            }
            match Record::decode(&body) {
                Err(e) => add(Check::RecordDecode, e.to_string()),
                Ok(rec) => {
                    if rec.body.index != n {
                        add(
                            Check::RecordIndex,
                            format!("record says index {} at position {n}", rec.body.index),
                        );
                    }
                    if rec.body.origin != origin {
                        add(
                            Check::RecordOrigin,
                            format!("record names origin {:?}", rec.body.origin),
                        );
                    }
                    // Signed by the log key, or by an actor authorized at this point.
                    match actors.plan(&rec, &log_key) {
                        AuthPlan::Decided(Ok(_)) => {}
                        AuthPlan::Decided(Err(e)) => add(e.check(), e.to_string()),
                        AuthPlan::Inline => match actors.authorize(&rec, &log_key) {
                            Ok(_) => {
                                if let Err(e) = actors.apply(&rec, &log_key) {
                                    add(e.check(), e.to_string());
                                }
                            }
                            Err(e) => add(e.check(), e.to_string()),
                        },
                        // A signature a writer's earlier check verified
                        // (VerifyOptions::trust_signatures_below); the bytes
                        // were compared with ledger/tree above.
                        AuthPlan::Check { if_valid, .. } if n < trust_below => {
                            if let Err(e) = if_valid {
                                add(e.check(), e.to_string());
                            }
                        }
                        AuthPlan::Check { key, if_valid } => {
                            pending.push(Pending::Auth {
                                n,
                                job: jobs.len(),
                                if_valid,
                            });
                            jobs.push(Job {
                                key,
                                msg: RecordBody::signed_message(rec.body_bytes()),
                                sig: rec.signature,
                            });
                        }
                    }
                    // A grant names an active actor (FORMAT.md §4.12).
                    if let Payload::Grant(g) = &rec.body.payload {
                        let problem = match actors.grantee(&g.actor) {
                            None => Some("gives access to no actor of this log (no actor added before it has that name or label)".to_string()),
                            Some(a) => a
                                .revoked
                                .map(|at| format!("gives access to {}, revoked at record {at}", a.name)),
                        };
                        if let Some(reason) = problem {
                            pending.push(Pending::Done(
                                Subject::Record(n),
                                Check::GrantActor,
                                reason,
                            ));
                        }
                    }
                    let cfg = actors.config().map(|(_, c)| c.recipients.clone());
                    self.note_references(&rec, n, deep, &mut docs, &mut out, cfg.as_deref());
                }
            }
            out.n += 1;
            records += 1;
            if cps.contains_key(&out.n) {
                roots.insert(out.n, frontier.root());
            }
        }
        if index_file.next_location()?.is_some() {
            out.flat.lengths.push(format!(
                "ledger/index has entries beyond the {} records of ledger/records",
                out.n
            ));
        }
        if tree_file.next_node()?.is_some() {
            out.flat.lengths.push(format!(
                "ledger/tree has Merkle nodes beyond those of the {} records of ledger/records",
                out.n
            ));
        }
        Ok(out)
    }

    /// Notes what record `n` references: blobs, received evidence, and
    /// documents (checked now against the earlier documents of the log).
    /// `recipients`: those of the configuration in force before record `n`
    /// (FORMAT.md §4.15), which a document record must list exactly.
    fn note_references(
        &self,
        rec: &Record,
        n: u64,
        deep: bool,
        docs: &mut HashMap<u64, Digest>,
        out: &mut Scanned,
        recipients: Option<&[Digest]>,
    ) {
        // A blob may be named by several records (deduplicated content, an
        // envelope shared by a batch): the file is checked against the first,
        // and every later record must state the same length.
        let add_ref = |out: &mut Scanned, d: Digest, size: u64, doc: bool| {
            let first = out.refs.entry(d).or_insert(BlobRef {
                index: n,
                size,
                doc,
            });
            if first.size != size {
                let (i, s) = (first.index, first.size);
                out.doc_findings.push((
                    n,
                    Check::BlobHash,
                    format!("says blob {d} is {size} bytes; record {i} says {s}"),
                ));
            }
        };
        if let Some((d, size)) = rec.note_blob() {
            add_ref(out, d, size, false);
        }
        if let Some(s) = rec.sealed() {
            add_ref(out, s.digest, s.size, false);
            if deep {
                out.sealed.push(rec.clone());
            }
        }
        if let Some(r) = rec.receive() {
            out.links.push((n, r.clone()));
        }
        // Records about a document, and derived documents' parents, name an
        // earlier document of this log with its commitment.
        let mut check_doc = |doc: u64, c: &Digest, check: Check| {
            if !(doc < n && docs.get(&doc) == Some(c)) {
                out.doc_findings.push((
                    n,
                    check,
                    format!(
                        "names record {doc}, which is not an earlier document with this commitment"
                    ),
                ));
            }
        };
        if let (Some(doc), Some(c)) = (rec.about(), rec.commitment()) {
            check_doc(doc, c, Check::DocumentRef);
        }
        match &rec.body.payload {
            Payload::Derive(d) => {
                for p in &d.parents {
                    check_doc(p.document, &p.commitment, Check::LineageParent);
                }
            }
            // The other kinds name no parent document.
            Payload::Ingest(_)
            | Payload::Share(_)
            | Payload::Receive(_)
            | Payload::Actor(_)
            | Payload::Access(_)
            | Payload::Annotate(_)
            | Payload::Approve(_)
            | Payload::Grant(_)
            | Payload::Audit(_)
            | Payload::Config(_) => {}
        }
        if let Some(ing) = rec.document() {
            if recipients.is_some_and(|r| r != ing.recipients.as_slice()) {
                out.doc_findings.push((
                    n,
                    Check::Recipients,
                    "lists recipients other than those of the configuration in force (custody config show)".into(),
                ));
            }
            docs.insert(n, ing.commitment);
            add_ref(out, ing.blob, ing.blob_size, true);
            add_ref(out, ing.meta, ing.meta_size, false);
            if deep {
                out.ingests.push(rec.clone());
            }
        }
    }
}
