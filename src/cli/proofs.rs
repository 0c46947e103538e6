//! `checkpoint`, `prove` and `verify-proof`: the transparency-log views.

use std::path::PathBuf;

use base64::Engine as _;
use clap::Args;
use serde::Serialize;

use super::output::Paint;
use super::policy_args::{read_vkey, PolicyArgs};
use super::{Ctx, EXIT_FINDING, EXIT_OK};
use crate::core::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::core::hash::Digest;
use crate::core::keys::{KeyId, SigAlg, VerifierKey};
use crate::core::merkle::{self, LeafIndex, TreeSize};
use crate::core::note::NoteSignature;
use crate::core::policy::Policy;
use crate::core::record::actor_key_id;
use crate::core::record::Record;
use crate::core::tlog_proof::{TlogProof, TlogProofError};
use crate::store::archive::log_view::LogView;
use crate::store::archive::{ConsistencyProof, InclusionProof};
use crate::store::files::input::read_input;
use crate::store::StoreError;

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[derive(Debug, Args)]
#[command(after_help = "\
Prints the latest checkpoint exactly as signed (C2SP tlog-checkpoint in a C2SP
signed note), ready to hand to a partner or a witness.

Examples:
  custody checkpoint > latest.checkpoint
  custody checkpoint --all --json
  custody checkpoint --sign      # after an interrupted ingest
  custody checkpoint add-cosignature guardian.cosig   # store a witness's cosignature

Stored witness cosignatures (see `checkpoint add-cosignature`) are appended
to the checkpoint they cosign.")]
#[command(args_conflicts_with_subcommands = true)]
pub struct CheckpointArgs {
    #[command(subcommand)]
    action: Option<CheckpointAction>,
    /// Print the checkpoint at this tree size instead of the latest.
    #[arg(long, conflicts_with = "all")]
    size: Option<u64>,
    /// List every checkpoint.
    #[arg(long)]
    all: bool,
    /// Sign a new checkpoint if records exist that none covers.
    #[arg(long, conflicts_with_all = ["size", "all"])]
    sign: bool,
    /// The log's signing key, for --sign (default: $CUSTODY_SIGNING_KEY, else custody.toml).
    #[arg(long, value_name = "FILE")]
    signing_key: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum CheckpointAction {
    /// Verify witness cosignature lines and store them with the checkpoint they cosign.
    #[command(after_help = "\
Each FILE holds cosignature lines (`— <witness> <base64>`) as printed by
`custody witness cosign`. Each line must be by a witness key from the trust
store or --witness and must verify over one of this archive's checkpoints;
otherwise nothing is stored. Lines already stored are skipped.

Examples:
  custody checkpoint add-cosignature 972mag.cosig
  custody checkpoint add-cosignature guardian.cosig --witness keys/guardian/witness.vkey")]
    AddCosignature {
        /// Files of cosignature lines.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// A witness key (vkey, file or trust-store name) besides the trust store's (repeatable).
        #[arg(long, value_name = "VKEY|FILE|NAME")]
        witness: Vec<String>,
    },
}

#[derive(Serialize)]
struct CheckpointOut {
    size: u64,
    root: String,
    note: String,
}

fn cp_out(size: u64, note: &[u8]) -> CheckpointOut {
    let root = SignedCheckpoint::parse(note)
        .map(|c| b64(c.checkpoint().root.as_bytes()))
        .unwrap_or_default();
    CheckpointOut {
        size,
        root,
        note: String::from_utf8_lossy(note).into_owned(),
    }
}

/// Largest cosignature file read by `checkpoint add-cosignature`
/// (FORMAT.md §3.8; a cosignature line is about 130 bytes).
const MAX_COSIGNATURE_FILE: u64 = 64 * 1024;

/// Reads the signature lines of a cosignature file (bounded, a pipe too;
/// blank lines ignored; anything else is an error).
fn read_cosignature_lines(p: &std::path::Path) -> Result<Vec<NoteSignature>, StoreError> {
    let bytes = read_input(p, MAX_COSIGNATURE_FILE, "a cosignature file")?;
    let text = String::from_utf8(bytes).map_err(|_| {
        StoreError::Input(format!(
            "{} is not text; give the cosignature lines `custody witness cosign` printed",
            crate::core::redact::path(p)
        ))
    })?;
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        out.push(NoteSignature::parse_line(l).map_err(|e| {
            StoreError::Input(format!(
                "{} line {}: not a cosignature line (— name base64): {e}",
                crate::core::redact::path(p),
                i + 1
            ))
        })?);
    }
    if out.is_empty() {
        return Err(StoreError::Input(format!(
            "{} holds no cosignature lines",
            crate::core::redact::path(p)
        )));
    }
    Ok(out)
}

fn add_cosignature(ctx: &Ctx, files: &[PathBuf], witness: &[String]) -> Result<i32, StoreError> {
    let arch = ctx.open()?;
    let trust = ctx.trust_store()?;
    let mut keys = trust.witness_keys();
    for w in witness {
        let k = read_vkey("--witness", w, Some(&trust))?;
        if k.alg() != crate::core::keys::SigAlg::CosignatureV1 {
            return Err(StoreError::Input(format!(
                "--witness {k} is not a witness key (cosignature/v1, alg 0x04)"
            )));
        }
        keys.push(k);
    }
    let mut lines = Vec::new();
    for f in files {
        lines.extend(
            read_cosignature_lines(f)?
                .into_iter()
                .filter(|s| !arch.log_key().matches(&s.name, s.key_id)),
        );
    }
    let added = arch.add_cosignatures(&lines, &keys)?;
    for a in &added {
        if ctx.out.json {
            ctx.out.json(a);
        } else {
            ctx.out.data_line(&format!(
                "{} cosignature by {} ({}) on the checkpoint at size {}, made {}",
                if a.new { "stored" } else { "already had" },
                a.witness,
                a.key_id,
                a.size,
                crate::core::time::rfc3339(a.timestamp.saturating_mul(1000))
            ));
        }
    }
    Ok(EXIT_OK)
}

/// The lock-free view of the archive (FORMAT.md §7.2.5), for the requests it
/// answers exactly as the locked path would. `None` (an archive without
/// `ledger/checkpoint`, damaged files …) sends the command the ordinary way,
/// which has the database and its own errors.
fn view(ctx: &Ctx) -> Option<LogView> {
    LogView::open(&ctx.archive_dir().ok()?).ok()
}

pub fn checkpoint(ctx: &Ctx, a: CheckpointArgs) -> Result<i32, StoreError> {
    if let Some(CheckpointAction::AddCosignature { files, witness }) = &a.action {
        return add_cosignature(ctx, files, witness);
    }
    if !a.sign && !a.all && a.size.is_none() {
        if let Some(v) = view(ctx) {
            let (size, note) = v.latest_cosigned_checkpoint();
            print_checkpoints(ctx, &[(size, note.to_vec())]);
            return Ok(EXIT_OK);
        }
    }
    let mut arch = ctx.open()?;
    let list: Vec<(u64, Vec<u8>)> = if a.sign {
        let k = ctx.archive_signer(&mut arch, a.signing_key.as_deref())?;
        let cp = arch.sign_checkpoint(&k)?;
        if !cp.new {
            ctx.out
                .info("the latest checkpoint already covers every record; nothing signed");
        }
        vec![(cp.size, arch.cosigned_checkpoint(cp.size)?)]
    } else if a.all {
        let mut v = Vec::new();
        for (s, _) in arch.checkpoints()? {
            v.push((s, arch.cosigned_checkpoint(s)?));
        }
        v
    } else if let Some(s) = a.size {
        vec![(s, arch.cosigned_checkpoint(s)?)]
    } else {
        vec![arch
            .latest_cosigned_checkpoint()?
            .ok_or(StoreError::NoCheckpoint(0))?]
    };
    print_checkpoints(ctx, &list);
    Ok(EXIT_OK)
}

fn print_checkpoints(ctx: &Ctx, list: &[(u64, Vec<u8>)]) {
    for (size, note) in list {
        if ctx.out.json {
            ctx.out.json(&cp_out(*size, note));
        } else {
            ctx.out.artifact(note);
            if list.len() > 1 {
                ctx.out.line("");
            }
        }
    }
}

#[derive(Debug, Args)]
#[command(after_help = "\
Inclusion proofs are printed in the C2SP tlog-proof format; its `extra` line
carries the record bytes, so the proof alone lets anyone recompute the leaf
hash (docs/FORMAT.md §8.1). Consistency proofs are printed as the body of a
C2SP tlog-witness add-checkpoint request: `old N`, the proof hashes, a blank
line, then the newer checkpoint (docs/FORMAT.md §8.2); OLD need not be a
checkpointed size (`--consistency 0` is a witness's first request). Every
checkpoint printed carries the witness cosignatures stored for it.

Examples:
  custody prove 12 > record-12.tlog-proof
  custody prove 3f9a01 --size 40
  custody prove --consistency 40        # from size 40 to the latest checkpoint
  custody prove --consistency 40 120 --json")]
pub struct ProveArgs {
    /// The record: index, a hex prefix of its leaf hash or blob digest, or
    /// a document's name or path (with an identity).
    #[arg(required_unless_present = "consistency")]
    reference: Option<String>,
    #[command(flatten)]
    identity: super::RefIdentityArg,
    /// Prove against the checkpoint at this tree size (default: the latest).
    #[arg(long)]
    size: Option<u64>,
    /// Prove the tree at size OLD (any size up to NEW, 0 included) is a prefix of the checkpoint at NEW (default: latest).
    #[arg(long, num_args = 1..=2, value_names = ["OLD", "NEW"], conflicts_with_all = ["reference", "size"])]
    consistency: Option<Vec<u64>>,
}

pub fn prove(ctx: &Ctx, a: ProveArgs) -> Result<i32, StoreError> {
    // A decimal index (or a consistency proof) against the latest checkpoint:
    // the lock-free view answers, if it can. Anything else needs the database.
    let index = a
        .reference
        .as_deref()
        .filter(|r| r.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|r| r.parse::<u64>().ok());
    // The checkpoint a proof is against carries the cosignatures stored for
    // it, as `custody checkpoint` prints it (FORMAT.md §8.1, §8.2, §11.3);
    // the older note of a consistency proof (--json) is the log's as signed.
    if let Some(v) = view(ctx) {
        let cosigned = v.latest_cosigned_checkpoint().1.to_vec();
        if let Some(c) = &a.consistency {
            if let Ok(mut p) = v.consistency_proof(c[0], c.get(1).copied()) {
                p.checkpoint = cosigned;
                print_consistency(ctx, &p);
                return Ok(EXIT_OK);
            }
        } else if let (Some(i), None) = (index, a.size) {
            if let Ok(mut p) = v.inclusion_proof(i) {
                p.checkpoint = cosigned;
                print_inclusion(ctx, p)?;
                return Ok(EXIT_OK);
            }
        }
    }
    let mut arch = ctx.open()?;
    // A proof the stored nodes get wrong is never printed: the index is
    // rebuilt from the ledger files and the proof made again (§7.2.5).
    let make = |arch: &crate::store::Archive| {
        if let Some(c) = &a.consistency {
            let mut p = arch.consistency_proof(c[0], c.get(1).copied())?;
            p.checkpoint = arch.cosigned_checkpoint(p.new_size)?;
            print_consistency(ctx, &p);
            Ok(())
        } else {
            let r = a.reference.as_deref().unwrap_or_default();
            ctx.resolve(arch, r, None, &a.identity.identity)
                .and_then(|i| arch.inclusion_proof(i, a.size))
                .and_then(|mut p| {
                    p.checkpoint = arch.cosigned_checkpoint(p.size)?;
                    print_inclusion(ctx, p)
                })
        }
    };
    match make(&arch) {
        Err(e) if e.is_index_damage() => {
            arch.rebuild_index(e.to_string())?;
            ctx.note_rebuilt(&mut arch);
            make(&arch)?;
        }
        r => r?,
    }
    Ok(EXIT_OK)
}

fn print_consistency(ctx: &Ctx, p: &ConsistencyProof) {
    if ctx.out.json {
        let new_root = SignedCheckpoint::parse(&p.checkpoint)
            .map(|c| b64(c.checkpoint().root.as_bytes()))
            .unwrap_or_default();
        ctx.out.json(&serde_json::json!({
            "old_size": p.old_size,
            "new_size": p.new_size,
            "old_root": b64(p.old_root.as_bytes()),
            "new_root": new_root,
            "proof": p.proof.iter().map(|d| b64(d.as_bytes())).collect::<Vec<_>>(),
            "old_checkpoint": p.old_checkpoint.as_deref().map(String::from_utf8_lossy),
            "checkpoint": String::from_utf8_lossy(&p.checkpoint),
        }));
    } else {
        ctx.out.artifact(&crate::core::export::consistency_text(
            p.old_size,
            &p.proof,
            &p.checkpoint,
        ));
    }
}

fn print_inclusion(ctx: &Ctx, p: InclusionProof) -> Result<(), StoreError> {
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({
            "index": p.index,
            "size": p.size,
            "leaf_hash": b64(p.leaf_hash.as_bytes()),
            "record": b64(&p.record),
            "proof": p.proof.iter().map(|d| b64(d.as_bytes())).collect::<Vec<_>>(),
            "checkpoint": String::from_utf8_lossy(&p.checkpoint),
        }));
    } else {
        let note = String::from_utf8_lossy(&p.checkpoint).into_owned();
        let t = TlogProof::new(p.index, p.proof, Some(p.record), &note)
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        ctx.out.artifact(t.encode().as_bytes());
    }
    Ok(())
}

#[derive(Debug, Args)]
#[command(after_help = "\
Checks a tlog-proof written by `custody prove` with no archive and no network
(docs/FORMAT.md §8.1): the checkpoint is signed by the trusted log key and
names it as its origin, the record in the proof's `extra` line is of that log
and sits at the proven index, and the inclusion proof leads from its leaf hash
to the checkpoint's root. The record's own signature is checked with the key
whose ID it names: the log key, or a --signer key (the actor's vkey, `custody
actor list`); without --signer the output says when it was not checked, with
--signer a record signed by none of the keys given is a finding. Who held
which role is in the log's actor records (a bundle carries them).
--witness/--quorum/--policy check the checkpoint's witness cosignatures.

Exit 0 when every check holds, 1 on a finding (a proof that does not parse
included), 2 when the command cannot run (bad usage, a file that cannot be
read, a key or policy that does not parse).

Example:
  custody verify-proof record-12.tlog-proof --trust 'dropsite.example/leaks+1a2b3c4d+AX…' \\
      --signer alice.vkey --witness guardian/witness.vkey")]
pub struct VerifyProofArgs {
    /// The .tlog-proof file.
    file: PathBuf,
    /// The log's verifier key: vkey text, a file holding it, or a trust-store name.
    #[arg(long, value_name = "VKEY|FILE|NAME")]
    trust: String,
    /// The record signer's verifier key, when an actor signed it (repeatable).
    #[arg(long = "signer", value_name = "VKEY|FILE|NAME")]
    signers: Vec<String>,
    /// A document to check against the commitment of the record the proof
    /// carries (needs --opening).
    #[arg(long = "file", value_name = "DOCUMENT", requires = "opening")]
    document: Option<PathBuf>,
    /// The commitment's opening: an `opening.json` of `custody export`
    /// (FORMAT.md §15).
    #[arg(long, value_name = "FILE", requires = "document")]
    opening: Option<PathBuf>,
    #[command(flatten)]
    policy: PolicyArgs,
}

/// The finding for a tlog-proof that does not parse (FORMAT.md §8.1): its
/// checkpoint is `checkpoint_signature`, anything else `inclusion_proof`.
pub(crate) fn proof_parse_finding(e: &TlogProofError) -> &'static str {
    match e {
        TlogProofError::Checkpoint(_) => "checkpoint_signature",
        _ => "inclusion_proof",
    }
}

/// The keys `verify-proof` checks a proof with.
struct ProofKeys {
    /// The log key (--trust).
    vkey: VerifierKey,
    /// The log key, then the --signer keys.
    signers: Vec<VerifierKey>,
    /// Whether --signer keys were given.
    strict: bool,
    policy: Option<Policy>,
    /// The policy's witnesses, else the trust store's.
    witnesses: Vec<VerifierKey>,
}

/// What `verify-proof` found in a proof.
#[derive(Default)]
struct ProofFindings {
    failures: Vec<String>,
    signer_id: Option<KeyId>,
    checked: bool,
    cosigned_by: Vec<String>,
    cp: Option<Checkpoint>,
    leaf: Option<Digest>,
    index: Option<u64>,
    /// The content commitment of the record the proof carries.
    commitment: Option<Digest>,
    /// With --file: the document's SHA-256, when it matched the commitment.
    document: Option<Digest>,
}

pub fn verify_proof(ctx: &Ctx, a: VerifyProofArgs) -> Result<i32, StoreError> {
    let keys = proof_keys(ctx, &a)?;
    // A tlog-proof carries one record (at most 64 KiB, 87 KiB in base64), at
    // most 64 hashes and a checkpoint: the bundle entry limit is ample
    // (FORMAT.md §8.1), for a pipe too.
    let max = crate::core::bundle::MAX_ENTRY_LEN as u64;
    let bytes = read_input(&a.file, max, "a tlog-proof")?;
    let mut f = check_proof(&keys, &bytes);
    if let (Some(doc), Some(opening)) = (&a.document, &a.opening) {
        check_document(doc, opening, &mut f)?;
    }
    let ok = f.failures.is_empty();
    print_proof(ctx, &keys.vkey, f);
    Ok(if ok { EXIT_OK } else { EXIT_FINDING })
}

/// Reads and checks --trust, --signer and --policy, and picks the witnesses.
fn proof_keys(ctx: &Ctx, a: &VerifyProofArgs) -> Result<ProofKeys, StoreError> {
    let store = ctx.trust_store()?;
    let vkey = read_vkey("--trust", &a.trust, Some(&store))?;
    if vkey.alg() != SigAlg::Ed25519 {
        return Err(StoreError::Input(format!(
            "--trust {} is not a log key (Ed25519, alg 0x01); a log hands out its signing.vkey",
            vkey.name()
        )));
    }
    let mut signers = vec![vkey.clone()];
    for sgn in &a.signers {
        signers.push(read_vkey("--signer", sgn, Some(&store))?);
    }
    let policy = ctx.policy(&a.policy)?;
    if let Some(p) = &policy {
        let logs = p.log_keys();
        if !logs.is_empty() && !logs.iter().any(|k| same_key(k, &vkey)) {
            return Err(StoreError::Input(format!(
                "--policy names log keys, and not --trust {}+{}; give the log key the policy names",
                vkey.name(),
                vkey.key_id()
            )));
        }
    }
    // Without a policy, the trust store's witnesses only say who cosigned.
    let witnesses = match &policy {
        Some(p) => p.witness_keys(),
        None => store.witness_keys(),
    };
    Ok(ProofKeys {
        vkey,
        signers,
        strict: !a.signers.is_empty(),
        policy,
        witnesses,
    })
}

/// Checks a proof's checkpoint, record and inclusion; findings, not errors.
fn check_proof(keys: &ProofKeys, bytes: &[u8]) -> ProofFindings {
    let mut f = ProofFindings::default();
    match TlogProof::parse(bytes) {
        // FORMAT.md §8.1: a proof read within its limit that does not parse
        // is a finding about the data, not an error of the command.
        Err(e) => f.failures.push(format!(
            "{}: not a tlog-proof: {e}",
            proof_parse_finding(&e)
        )),
        Ok(proof) => {
            let (i, hashes, extra, note) = proof.into_parts();
            f.index = Some(i);
            check_proof_checkpoint(keys, &note, &mut f);
            check_proof_record(keys, i, extra.as_deref(), &mut f);
            if let (Some(cp), Some(leaf)) = (&f.cp, &f.leaf) {
                if let Err(e) = merkle::verify_inclusion(
                    LeafIndex(i),
                    TreeSize(cp.size),
                    leaf,
                    &hashes,
                    &cp.root,
                ) {
                    f.failures.push(format!("inclusion_proof: {e}"));
                }
            }
        }
    }
    f
}

/// `--file DOC --opening FILE`: the document's bytes open the commitment of
/// the record the proof carries (FORMAT.md §5.1). A file or opening that
/// cannot be read or parsed is an error (exit 2); a document that does not
/// match is a finding (`content`, `commitment`).
fn check_document(
    doc: &std::path::Path,
    opening: &std::path::Path,
    f: &mut ProofFindings,
) -> Result<(), StoreError> {
    let text = read_input(opening, 64 << 10, "an opening")?;
    let o = crate::core::export::Opening::from_json(&text).map_err(|e| {
        StoreError::Input(format!(
            "{} is not an opening (opening.json of `custody export`): {e}",
            opening.display()
        ))
    })?;
    let (file, _) = crate::store::files::input::open_regular(doc, "a document")?;
    let mut h = crate::store::ops::extract::HashingReader::new(std::io::BufReader::new(file));
    let n =
        std::io::copy(&mut h, &mut std::io::sink()).map_err(|e| crate::store::io_err(doc, e))?;
    let sha = h.digest();
    if sha != o.sha256 || n != o.size {
        f.failures.push(format!(
            "content: {} has SHA-256 {sha} and {n} bytes; the opening says {} and {} bytes",
            doc.display(),
            o.sha256,
            o.size
        ));
        return Ok(());
    }
    match f.commitment {
        Some(c) if c == o.commitment => f.document = Some(sha),
        Some(c) => f.failures.push(format!(
            "commitment: the record commits to {c}, the opening to {}",
            o.commitment
        )),
        None => f
            .failures
            .push("commitment: the record the proof carries is about no document".into()),
    }
    Ok(())
}

/// Checks the proof's checkpoint: its signature, origin and witness quorum.
fn check_proof_checkpoint(keys: &ProofKeys, note: &[u8], f: &mut ProofFindings) {
    let vkey = &keys.vkey;
    match SignedCheckpoint::open(note, vkey, &keys.witnesses) {
        Ok(o) => {
            if !o.checkpoint.origin_matches_key(vkey) {
                f.failures.push(format!(
                    "checkpoint_signature: the checkpoint's origin {:?} is not the log key's name {:?}",
                    o.checkpoint.origin,
                    vkey.name()
                ));
            }
            f.cosigned_by = o
                .witness_cosignatures
                .iter()
                .map(|w| w.name.clone())
                .collect();
            if let Some(p) = &keys.policy {
                let q = p.evaluate(&o.witness_cosignatures);
                if !q.satisfied {
                    f.failures.push(format!(
                        "witness_quorum: the checkpoint at size {} is cosigned by {} but the policy requires {}",
                        o.checkpoint.size,
                        if f.cosigned_by.is_empty() {
                            "no trusted witness".to_string()
                        } else {
                            f.cosigned_by.join(", ")
                        },
                        q.required
                    ));
                }
            }
            f.cp = Some(o.checkpoint);
        }
        Err(e) => f.failures.push(format!("checkpoint_signature: {e}")),
    }
}

/// Checks the record the proof carries (its extra line) at index `i`.
fn check_proof_record(keys: &ProofKeys, i: u64, extra: Option<&[u8]>, f: &mut ProofFindings) {
    match extra.map(Record::decode) {
        None => f
            .failures
            .push("record_decode: the proof carries no record (extra line)".into()),
        Some(Err(e)) => f.failures.push(format!("record_decode: {e}")),
        Some(Ok(rec)) => {
            f.commitment = rec.commitment().copied();
            f.checked = check_record(
                &rec,
                i,
                &keys.vkey,
                &keys.signers,
                keys.strict,
                &mut f.failures,
            );
            f.signer_id = Some(rec.body.signer);
            f.leaf = Some(rec.leaf_hash());
        }
    }
}

/// Prints what `verify-proof` found, as text or JSON.
fn print_proof(ctx: &Ctx, vkey: &VerifierKey, f: ProofFindings) {
    let ok = f.failures.is_empty();
    let ProofFindings {
        failures,
        signer_id,
        checked,
        cosigned_by,
        cp,
        leaf,
        index,
        commitment: _,
        document,
    } = f;
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({
            "ok": ok,
            "index": index,
            "size": cp.as_ref().map(|c| c.size),
            "leaf_hash": leaf.map(|d: Digest| b64(d.as_bytes())),
            "signer": signer_id,
            "signature_checked": checked,
            "cosigned_by": cosigned_by,
            "document_sha256": document,
            "findings": failures,
        }));
    } else if ok {
        // Names (the log's, the witnesses') and findings are data (§1.2).
        ctx.out.line(&format!(
            "{} record {} is included in {} at size {}",
            ctx.out.paint("verified:", Paint::Ok),
            index.unwrap_or_default(),
            crate::core::redact::shown(vkey.name()),
            cp.map(|c| c.size).unwrap_or_default()
        ));
        match (checked, signer_id) {
            (true, Some(id)) => ctx
                .out
                .line(&format!("its signature by key ID {id} verifies")),
            (false, Some(id)) => ctx.out.line(&format!(
                "its signature by key ID {id} (an actor's) was not checked: give --signer VKEY to check it"
            )),
            (_, None) => {}
        }
        if !cosigned_by.is_empty() {
            ctx.out
                .data_line(&format!("cosigned by {}", cosigned_by.join(", ")));
        }
        if let Some(sha) = document {
            ctx.out.line(&format!(
                "the document (SHA-256 {sha}) opens the record's content commitment"
            ));
        }
    } else {
        let what = index.map_or("the proof".to_string(), |i| format!("record {i}"));
        for f in &failures {
            ctx.out.line(&format!(
                "{} {what}: {}",
                ctx.out.paint("FAIL", Paint::Bad),
                crate::core::redact::shown(f)
            ));
        }
    }
}

/// Same name, key ID and public key.
fn same_key(a: &VerifierKey, b: &VerifierKey) -> bool {
    a.matches(b.name(), b.key_id()) && a.public_bytes() == b.public_bytes()
}

/// The record's own checks (FORMAT.md §8.1): its index is the proof's, its
/// origin the log key's name, and its signature verifies with the key whose
/// ID it names among `keys` (the log key, then the --signer keys). True when
/// the signature was checked and verifies; false when it was not checked or
/// failed (a failure, and a signer none of `keys` has when `strict`, are
/// pushed to `failures`).
fn check_record(
    rec: &Record,
    index: u64,
    log: &VerifierKey,
    keys: &[VerifierKey],
    strict: bool,
    failures: &mut Vec<String>,
) -> bool {
    if rec.body.index != index {
        failures.push(format!(
            "record_index: record says {} but the proof is for {index}",
            rec.body.index
        ));
    }
    if rec.body.origin != log.name() {
        failures.push(format!(
            "record_origin: the record names origin {:?}, not the log key's name {:?}",
            rec.body.origin,
            log.name()
        ));
    }
    // The key whose ID the record names, if given. An actor's key added by
    // a version 2 record signs under the actor key ID (FORMAT.md §4.16).
    let id_of = |k: &VerifierKey| {
        [k.key_id(), actor_key_id(&k.public_bytes())]
            .into_iter()
            .find(|id| *id == rec.body.signer)
    };
    match keys.iter().find_map(|k| id_of(k).map(|id| (k, id))) {
        Some((k, id)) => match rec.verify_signature(k.verifying_key(), id) {
            Ok(()) => true,
            Err(e) => {
                failures.push(format!("record_signature: {e}"));
                false
            }
        },
        None if strict => {
            failures.push(format!(
                "record_signature: the record is signed by key ID {}, which is neither the log key's nor a --signer key's",
                rec.body.signer
            ));
            false
        }
        None => false,
    }
}
