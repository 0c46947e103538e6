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
use crate::core::findings::{Check, Report, Subject};
use crate::core::hash::Digest;
use crate::core::merkle;
use crate::core::merkle::Frontier;
use crate::core::record::{Payload, Receive, Record, RecordBody};
use crate::core::sigbatch::{verify_by_key, BatchKey, Item};
use crate::store::archive::Archive;
use crate::store::files::flat_index::Sequential;
use crate::store::files::logfile::Frame;
use crate::store::StoreError;

/// Records per chunk handed to the workers.
const CHUNK: usize = 4096;
/// Chunks whose verdicts may be outstanding while the next one is read.
const IN_FLIGHT: usize = 2;
/// Progress hooks for long verifications.
pub trait VerifyObserver {
    fn phase(&mut self, _name: &str, _total: u64) {}
    fn advance(&mut self, _n: u64) {}
}

/// An observer that observes nothing.
pub struct Quiet;
impl VerifyObserver for Quiet {}

/// A grant of this log, as a `rewrap` must match it (FORMAT.md §4.19).
struct GrantSeen {
    document: u64,
    /// The index of the `add` record of the actor given access.
    actor: u64,
    signer: crate::core::keys::KeyId,
}

/// A blob some record references, with what the record says of it.
pub(crate) struct BlobRef {
    pub(crate) index: u64,
    pub(crate) size: u64,
    /// A document's ciphertext (kept in the document store), not an envelope or note.
    pub(crate) doc: bool,
    /// The recipients a record lists for it (a document's file and
    /// envelope, a rekey's or rewrap's `new`), as an index into
    /// [`Scanned::recipient_sets`]; [`NO_SET`] for the others.
    pub(crate) recipients: u32,
}

/// [`BlobRef::recipients`] of a blob whose recipients no record lists.
pub(crate) const NO_SET: u32 = u32::MAX;

impl Scanned {
    /// The index of recipient list `fps` in [`Scanned::recipient_sets`].
    fn intern(&mut self, fps: &[Digest]) -> u32 {
        if let Some(&i) = self.recipient_set_ids.get(fps) {
            return i;
        }
        let i = u32::try_from(self.recipient_sets.len()).unwrap_or(NO_SET);
        self.recipient_sets.push(fps.to_vec());
        self.recipient_set_ids.insert(fps.to_vec(), i);
        i
    }

    /// The recipients a record lists for blob `d` as it is now, if any.
    fn recipients_of(&self, d: &Digest) -> Option<&[Digest]> {
        let r = self.refs.get(d)?.recipients;
        self.recipient_sets.get(r as usize).map(Vec::as_slice)
    }
}

/// Mismatches of `ledger/index` and `ledger/tree` listed one by one; the
/// rest are counted (a file of garbage would otherwise list every record).
pub(crate) const FLAT_LISTED: u64 = 16;

/// What the record pass leaves for the rest of `verify`.
pub(crate) struct Scanned {
    /// Records read.
    pub n: u64,
    /// Blobs named by records (documents, envelopes, notes), as they are
    /// after every `rekey` (FORMAT.md §4.17): a replaced blob is not here,
    /// the file that replaced it is.
    pub refs: HashMap<Digest, BlobRef>,
    /// Each replaced blob's replacement and its size (follow the chain: a
    /// replacement may be replaced again).
    pub moved: HashMap<Digest, (Digest, u64)>,
    /// `receive` records, to check their evidence.
    pub links: Vec<(u64, Receive)>,
    /// Document records, kept only for a deep verify.
    pub ingests: Vec<Record>,
    /// Records with sealed details (FORMAT.md §5.4), kept only for a deep verify.
    pub sealed: Vec<Record>,
    /// Rewraps that carry out their grant (FORMAT.md §4.19), kept only for
    /// a deep verify: index, recipient added, the grantee's label or name.
    pub rewraps: Vec<(u64, Digest, String)>,
    /// The distinct recipient lists records give (few: the configuration's
    /// and the compartments' over time), which [`BlobRef::recipients`] names.
    pub recipient_sets: Vec<Vec<Digest>>,
    recipient_set_ids: HashMap<Vec<Digest>, u32>,
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

/// The chunks whose signature checks are with the workers, and where their
/// findings go once the verdicts are back.
struct Chunks<'a> {
    work_tx: &'a SyncSender<Work>,
    res_rx: &'a Receiver<Verdicts>,
    /// Parts each chunk's checks are split into (one per worker).
    parts: usize,
    /// The id of the next chunk.
    next: u64,
    inflight: VecDeque<InFlight>,
    /// Verdicts received before their chunk was waited for.
    early: HashMap<(u64, usize), Vec<bool>>,
    rep: &'a mut Report,
    obs: &'a mut dyn VerifyObserver,
}

impl Chunks<'_> {
    /// Hands a chunk (its signature checks `jobs`, its findings `pending`,
    /// its number of `records`) to the workers, then reports the chunks
    /// beyond [`IN_FLIGHT`] or, when it is the `last`, every chunk.
    fn send(
        &mut self,
        jobs: Vec<Job>,
        pending: Vec<Pending>,
        records: u64,
        last: bool,
    ) -> Result<(), StoreError> {
        let parts = dispatch(self.work_tx, self.next, jobs, self.parts)?;
        self.inflight.push_back(InFlight {
            id: self.next,
            parts,
            records,
            pending,
        });
        self.next += 1;
        while self.inflight.len() > IN_FLIGHT || (last && !self.inflight.is_empty()) {
            let c = self.inflight.pop_front().expect("not empty");
            resolve(c, self.res_rx, &mut self.early, self.rep, self.obs)?;
        }
        Ok(())
    }
}

/// The state of the record pass on the calling thread: the flat files read
/// alongside `ledger/records`, the Merkle frontier, the actors replayed so
/// far, what the rest of `verify` needs, and the chunk being read.
struct RecordPass<'a> {
    arch: &'a Archive,
    deep: bool,
    /// Records below this index have their signatures taken as checked
    /// (`VerifyOptions::trust_signatures_below`).
    trust_below: u64,
    /// The sizes whose roots are kept in `roots`.
    cps: &'a BTreeMap<u64, Digest>,
    roots: &'a mut BTreeMap<u64, Digest>,
    index_file: Sequential,
    tree_file: Sequential,
    frontier: Frontier,
    actors: Actors,
    /// The commitment and the file of every document record, by position:
    /// what records about a document, and derived documents' parents, must
    /// name; the file a grant's `rewrap` replaces (FORMAT.md §4.19).
    docs: HashMap<u64, (Digest, Digest)>,
    /// The previous record, when it is a version 2 grant to an active
    /// actor: what a `rewrap`, which must follow its grant (FORMAT.md
    /// §4.19), is checked against.
    last_grant: Option<(u64, GrantSeen)>,
    /// The recipients grants added to a file, by the file's address as it is
    /// now (a rekey or rewrap moves them to its `new`), with the actor each
    /// was granted to: beyond a set in force, a file may be encrypted to
    /// those of them whose actor is active (§4.17, §4.19).
    granted: HashMap<Digest, Vec<(Digest, u64)>>,
    out: Scanned,
    /// The chunk being read: its findings, its signature checks, and how
    /// many records it holds.
    pending: Vec<Pending>,
    jobs: Vec<Job>,
    records: u64,
}

impl<'a> RecordPass<'a> {
    /// A pass from the first record, with `ledger/index` and `ledger/tree`
    /// opened to be read front to back.
    fn new(
        arch: &'a Archive,
        deep: bool,
        trust_below: u64,
        cps: &'a BTreeMap<u64, Digest>,
        roots: &'a mut BTreeMap<u64, Digest>,
    ) -> Result<Self, StoreError> {
        let (index_file, tree_file) = arch.flat().sequential()?;
        Ok(RecordPass {
            arch,
            deep,
            trust_below,
            cps,
            roots,
            index_file,
            tree_file,
            frontier: Frontier::default(),
            actors: Actors::default(),
            docs: HashMap::new(),
            last_grant: None,
            granted: HashMap::new(),
            out: Scanned {
                n: 0,
                refs: HashMap::new(),
                moved: HashMap::new(),
                links: Vec::new(),
                ingests: Vec::new(),
                sealed: Vec::new(),
                rewraps: Vec::new(),
                recipient_sets: Vec::new(),
                recipient_set_ids: HashMap::new(),
                doc_findings: Vec::new(),
                flat: FlatChecked::default(),
            },
            pending: Vec::new(),
            jobs: Vec::new(),
            records: 0,
        })
    }

    /// Reads `ledger/records` frame by frame up to its end or a damaged
    /// frame, handing every [`CHUNK`] records' checks to `chunks`; then the
    /// flat files' lengths.
    fn run(mut self, chunks: &mut Chunks<'_>) -> Result<Scanned, StoreError> {
        let arch = self.arch;
        let mut frames = arch.record_file().scan(0)?;
        loop {
            let frame = frames.next().transpose()?;
            let stop = match &frame {
                None => true,
                Some(Frame::Complete { .. }) => false,
                Some(Frame::Torn { .. } | Frame::Oversized { .. }) => true,
            };
            if let Some(Frame::Torn { offset } | Frame::Oversized { offset, .. }) = frame {
                self.add(
                    self.out.n,
                    Check::RecordFrame,
                    format!("ledger/records is damaged at offset {offset}; later records cannot be read"),
                );
            }
            if stop || self.records as usize == CHUNK {
                let jobs = std::mem::take(&mut self.jobs);
                let pending = std::mem::take(&mut self.pending);
                chunks.send(jobs, pending, self.records, stop)?;
                self.records = 0;
            }
            if stop {
                break;
            }
            let Some(Frame::Complete { offset, body }) = frame else {
                unreachable!("stop is set for every other frame")
            };
            self.check_record(offset, &body)?;
        }
        self.finish()
    }

    /// A finding about record `n`, reported with its chunk.
    fn add(&mut self, n: u64, check: Check, reason: String) {
        self.pending
            .push(Pending::Done(Subject::Record(n), check, reason));
    }

    /// The next record, at `offset`: its flat files' entries, then its
    /// contents; the root is kept where a checkpoint's size is reached.
    fn check_record(&mut self, offset: u64, body: &[u8]) -> Result<(), StoreError> {
        let n = self.out.n;
        self.check_flat(n, offset, body)?;
        match Record::decode(body) {
            Err(e) => self.add(n, Check::RecordDecode, e.to_string()),
            Ok(rec) => self.check_decoded(n, &rec),
        }
        self.out.n += 1;
        self.records += 1;
        if self.cps.contains_key(&self.out.n) {
            self.roots.insert(self.out.n, self.frontier.root());
        }
        Ok(())
    }

    /// The flat files for record `n` (FORMAT.md §7.2.5): its location in
    /// `ledger/index`, and the Merkle nodes it completes in `ledger/tree`;
    /// the first [`FLAT_LISTED`] mismatches are listed, the rest counted.
    fn check_flat(&mut self, n: u64, offset: u64, body: &[u8]) -> Result<(), StoreError> {
        let leaf = merkle::leaf_hash(body);
        let mut flat_reasons = Vec::new();
        match self.index_file.next_location()? {
            Some((o, l)) if o == offset && l as usize == body.len() => {}
            Some((o, l)) => flat_reasons.push(format!(
                "ledger/index locates this record at offset {o} ({l} bytes); ledger/records has it at offset {offset} ({} bytes)",
                body.len()
            )),
            None => flat_reasons.push("ledger/index has no entry for this record".into()),
        }
        let mut stored = Vec::with_capacity(1 + n.trailing_ones() as usize);
        for _ in 0..=n.trailing_ones() {
            stored.push(self.tree_file.next_node()?);
        }
        self.frontier.push_with(leaf, |level, hash| {
            let node = format!("Merkle node (level {level}, index {})", n >> level);
            match stored.get(level as usize) {
                Some(Some(h)) if h == hash => {}
                Some(Some(_)) => flat_reasons.push(format!(
                    "ledger/tree holds another hash for {node} than the records give"
                )),
                _ => flat_reasons.push(format!("ledger/tree has no entry for {node}")),
            }
        });
        for r in flat_reasons {
            self.out.flat.found += 1;
            if self.out.flat.found <= FLAT_LISTED {
                self.add(n, Check::IndexMismatch, r);
            }
        }
        Ok(())
    }

    /// Decoded record `n`: its index and origin, its signature and
    /// authorization, a grant's actor, and what it references.
    fn check_decoded(&mut self, n: u64, rec: &Record) {
        if rec.body.index != n {
            self.add(
                n,
                Check::RecordIndex,
                format!("record says index {} at position {n}", rec.body.index),
            );
        }
        if rec.body.origin != self.arch.config().origin {
            self.add(
                n,
                Check::RecordOrigin,
                format!("record names origin {:?}", rec.body.origin),
            );
        }
        self.authorize(n, rec);
        self.check_grant(n, rec);
        let extra = self.granted_to(n, rec);
        self.arch.note_references(
            rec,
            n,
            self.deep,
            &mut self.docs,
            &mut self.out,
            (&self.actors, &extra),
        );
    }

    /// For a record that replaces a blob (`rekey`, `rewrap`): the recipients
    /// grants added to that blob whose actor is still active, and a
    /// rewrap's own `added` when it carries out its grant (FORMAT.md
    /// §4.19). They move to the new file. Empty for other records.
    fn granted_to(&mut self, n: u64, rec: &Record) -> Vec<Digest> {
        let Some(k) = rec.rekey() else {
            return Vec::new();
        };
        let mut carried = self.granted.remove(&k.old).unwrap_or_default();
        if let Payload::Rewrap(w) = &rec.body.payload {
            if let Some(actor) = self.check_rewrap(n, rec, w) {
                carried.push((w.added, actor));
                if let (true, Some(a)) = (self.deep, self.actors.added_by(actor)) {
                    self.out.rewraps.push((n, w.added, a.name.clone()));
                }
            }
        }
        let active = |a: &u64| {
            self.actors
                .added_by(*a)
                .is_some_and(|i| i.revoked.is_none())
        };
        let extra: Vec<Digest> = carried
            .iter()
            .filter(|(_, a)| active(a))
            .map(|(f, _)| *f)
            .collect();
        // A grant's recipient that the new file dropped stays dropped.
        carried.retain(|(f, _)| k.recipients.contains(f));
        if !carried.is_empty() {
            self.granted.insert(k.new, carried);
        }
        extra
    }

    /// A `rewrap` carries out grant `w.grant`, the record before it
    /// (FORMAT.md §4.19): a grant to an active actor, signed by the same
    /// key, and it replaces the current file of the grant's document.
    /// Returns the grant's actor, or `None` with a `rewrap` finding.
    fn check_rewrap(
        &mut self,
        n: u64,
        rec: &Record,
        w: &crate::core::record::Rewrap,
    ) -> Option<u64> {
        let Some(g) = self
            .last_grant
            .as_ref()
            .filter(|(i, _)| *i == w.grant)
            .map(|(_, g)| g)
        else {
            self.add(
                n,
                Check::Rewrap,
                format!(
                    "names record {}, which is not a grant of this log to an active actor",
                    w.grant
                ),
            );
            return None;
        };
        let (document, actor) = (g.document, g.actor);
        let problem = if g.signer != rec.body.signer {
            Some(format!("is signed by another key than grant {}", w.grant))
        } else if self
            .docs
            .get(&document)
            .map(|(_, blob)| current_blob(&self.out.moved, *blob, 0).0)
            != Some(w.blob.old)
        {
            Some(format!(
                "replaces blob {}, which is not the current file of document {document} that grant {} gives",
                w.blob.old, w.grant
            ))
        } else {
            self.out.recipients_of(&w.blob.old).and_then(|had| {
                let mut want = had.to_vec();
                want.push(w.added);
                want.sort();
                // The same stanzas and one more (FORMAT.md §4.19).
                (had.contains(&w.added) || want != w.blob.recipients).then(|| {
                    format!(
                        "lists recipients other than its file's and the one it adds ({} before, {} after)",
                        had.len(),
                        w.blob.recipients.len()
                    )
                })
            })
        };
        match problem {
            Some(reason) => {
                self.add(n, Check::Rewrap, reason);
                None
            }
            None => Some(actor),
        }
    }

    /// Record `n` is signed by the log key, or by an actor authorized at
    /// this point of the replay ([`Actors::plan`]): decided now, or queued
    /// with the chunk for its signature check.
    fn authorize(&mut self, n: u64, rec: &Record) {
        let arch = self.arch;
        let log_key = arch.log_key();
        match self.actors.plan(rec, log_key) {
            AuthPlan::Decided(Ok(_)) => {}
            AuthPlan::Decided(Err(e)) => self.add(n, e.check(), e.to_string()),
            AuthPlan::Inline => match self.actors.authorize(rec, log_key) {
                Ok(_) => {
                    if let Err(e) = self.actors.apply(rec, log_key) {
                        self.add(n, e.check(), e.to_string());
                    }
                }
                Err(e) => self.add(n, e.check(), e.to_string()),
            },
            // A signature a writer's earlier check verified
            // (VerifyOptions::trust_signatures_below); the bytes
            // were compared with ledger/tree above.
            AuthPlan::Check { if_valid, .. } if n < self.trust_below => {
                if let Err(e) = if_valid {
                    self.add(n, e.check(), e.to_string());
                }
            }
            AuthPlan::Check { key, if_valid } => {
                self.pending.push(Pending::Auth {
                    n,
                    job: self.jobs.len(),
                    if_valid,
                });
                self.jobs.push(Job {
                    key,
                    msg: RecordBody::signed_message(rec.body_bytes()),
                    sig: rec.signature,
                });
            }
        }
    }

    /// A grant names an active actor (FORMAT.md §4.12).
    fn check_grant(&mut self, n: u64, rec: &Record) {
        let Payload::Grant(g) = &rec.body.payload else {
            return;
        };
        let problem = match self.actors.grantee(&g.actor) {
            None => Some("gives access to no actor of this log (no actor added before it has that name or label)".to_string()),
            Some(a) => a
                .revoked
                .map(|at| format!("gives access to {}, revoked at record {at}", a.name)),
        };
        match (problem, &g.actor) {
            (Some(reason), _) => self.add(n, Check::GrantActor, reason),
            (None, crate::core::record::GrantTo::Added(actor)) => {
                self.last_grant = Some((
                    n,
                    GrantSeen {
                        document: g.about.document,
                        actor: *actor,
                        signer: rec.body.signer,
                    },
                ));
            }
            (None, crate::core::record::GrantTo::Name(_)) => {}
        }
    }

    /// After the last record read: `ledger/index` and `ledger/tree` hold
    /// nothing beyond the records.
    fn finish(mut self) -> Result<Scanned, StoreError> {
        if self.index_file.next_location()?.is_some() {
            self.out.flat.lengths.push(format!(
                "ledger/index has entries beyond the {} records of ledger/records",
                self.out.n
            ));
        }
        if self.tree_file.next_node()?.is_some() {
            self.out.flat.lengths.push(format!(
                "ledger/tree has Merkle nodes beyond those of the {} records of ledger/records",
                self.out.n
            ));
        }
        Ok(self.out)
    }
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
            let mut chunks = Chunks {
                work_tx: &work_tx,
                res_rx: &res_rx,
                parts: threads,
                next: 0,
                inflight: VecDeque::new(),
                early: HashMap::new(),
                rep,
                obs,
            };
            let r = RecordPass::new(self, deep, trust_below, cps, roots)
                .and_then(|pass| pass.run(&mut chunks));
            drop(chunks);
            drop(work_tx);
            r
        })
    }

    /// Notes what record `n` references: blobs, received evidence, and
    /// documents (checked now against the earlier documents of the log).
    /// `actors`: the state before record `n`, whose recipient sets (the
    /// configuration's and each compartment's, FORMAT.md §4.15, §4.18) a
    /// document record must list one of exactly.
    fn note_references(
        &self,
        rec: &Record,
        n: u64,
        deep: bool,
        docs: &mut HashMap<u64, (Digest, Digest)>,
        out: &mut Scanned,
        (actors, granted): (&Actors, &[Digest]),
    ) {
        // A blob may be named by several records (deduplicated content, an
        // envelope shared by a batch): the file is checked against the first,
        // and every later record must state the same length.
        let add_ref = |out: &mut Scanned, d: Digest, size: u64, doc: bool, recipients: u32| {
            let first = out.refs.entry(d).or_insert(BlobRef {
                index: n,
                size,
                doc,
                recipients,
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
            add_ref(out, d, size, false, NO_SET);
        }
        if let Some(s) = rec.sealed() {
            add_ref(out, s.digest, s.size, false, NO_SET);
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
            if !(doc < n && docs.get(&doc).map(|(c, _)| c) == Some(c)) {
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
            Payload::Rekey(k) => note_rekey(
                k,
                n,
                out,
                actors.allows_recipients_with(&k.recipients, granted),
            ),
            Payload::Rewrap(w) => note_rekey(
                &w.blob,
                n,
                out,
                actors.allows_recipients_with(&w.blob.recipients, granted),
            ),
            Payload::Compartment(_) => {}
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
            if actors.allows_recipients(&ing.recipients) == Some(false) {
                out.doc_findings.push((
                    n,
                    Check::Recipients,
                    "lists recipients other than those of the configuration or of a compartment in force (custody config show, custody compartment list)".into(),
                ));
            }
            docs.insert(n, (ing.commitment, ing.blob));
            let set = out.intern(&ing.recipients);
            add_ref(out, ing.blob, ing.blob_size, true, set);
            add_ref(out, ing.meta, ing.meta_size, false, set);
            if deep {
                out.ingests.push(rec.clone());
            }
        }
    }
}

/// What a `rekey` record at `n` changes in the blobs the log names (FORMAT.md
/// §4.17): its `old` must be named now (by an earlier record, or an earlier
/// rekey's `new`), and from here on `new` is expected in its place; its
/// recipients must be a set in force (`allowed`: they are the
/// configuration's or a compartment's; `None` before the first `config`).
fn note_rekey(k: &crate::core::record::Rekey, n: u64, out: &mut Scanned, allowed: Option<bool>) {
    match allowed {
        Some(true) => {}
        Some(false) => out.doc_findings.push((
            n,
            Check::Recipients,
            "re-encrypts to recipients other than those of the configuration or of a compartment in force (custody config show, custody compartment list)".into(),
        )),
        None => out.doc_findings.push((
            n,
            Check::Recipients,
            "re-encrypts a blob before the log's first config record: no recipients are in force".into(),
        )),
    }
    let Some(old) = out.refs.remove(&k.old) else {
        out.doc_findings.push((
            n,
            Check::RekeyRef,
            format!(
                "replaces blob {}, which no earlier record names or which was replaced before",
                k.old
            ),
        ));
        return;
    };
    // A new file is new: never named before, never replaced before (no cycle).
    if out.refs.contains_key(&k.new) || out.moved.contains_key(&k.new) {
        out.doc_findings.push((
            n,
            Check::RekeyRef,
            format!(
                "replaces blob {} by {}, which a record already named",
                k.old, k.new
            ),
        ));
    }
    let set = out.intern(&k.recipients);
    out.refs.insert(
        k.new,
        BlobRef {
            index: n,
            size: k.new_size,
            doc: old.doc,
            recipients: set,
        },
    );
    out.moved.insert(k.old, (k.new, k.new_size));
}

/// The blob that holds what `d` named, after every `rekey` in `moved`, and
/// its size (`size` when `d` was not replaced).
pub(crate) fn current_blob(
    moved: &HashMap<Digest, (Digest, u64)>,
    d: Digest,
    size: u64,
) -> (Digest, u64) {
    let mut at = (d, size);
    // A chain is at most as long as the log; a cycle cannot be built (each
    // `old` must be named when its rekey is read), but stop anyway.
    for _ in 0..=moved.len() {
        match moved.get(&at.0) {
            Some(&next) => at = next,
            None => break,
        }
    }
    at
}
