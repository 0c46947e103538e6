//! `custody witness add-log|cosign` (this archive's owner witnessing a
//! partner's log) and `custody verify-evidence` (checking split-view evidence
//! without an archive). Formats: docs/FORMAT.md §11.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde::Serialize;

use super::output::Paint;
use super::policy_args::read_vkey;
use super::{Ctx, EXIT_FINDING, EXIT_OK};
use crate::core::checkpoint::Checkpoint;
use crate::core::checkpoint::SignedCheckpoint;
use crate::core::evidence::{SplitViewEvidence, Verdict};
use crate::core::keys::SigAlg;
use crate::core::keys::SignerKey;
use crate::core::witness::{self, Accept, OfferedProof};
use crate::store::files::input::read_input;
use crate::store::files::remote::{Location, Remote};
use crate::store::ops::witness::{
    check, check_distinct, conclude, write_output, Checked, Concluded, WitnessConfig, WitnessedLog,
};
use crate::store::{io_err, StoreError};

#[derive(Debug, Args)]
#[command(after_help = "\
A witness cosigns a partner log's checkpoint only if it is consistent with
every checkpoint of that log it cosigned before (C2SP tlog-witness). The
first checkpoint of a log is trusted on first use. Refusals exit 1. Only a
refusal that proves a split view (a fork at a cosigned size, or a proof that
shows the log's trees disagree) writes evidence for `custody verify-evidence`;
a stale checkpoint (older than the latest cosigned) or a proof that does not
verify is refused without evidence. After a fork, `witness reset-log` records
that the witness continues from the log's honest checkpoint.

Examples (in your own archive, with your witness key from `custody keygen`):
  custody witness add-log dropsite.example/leaks partner/signing.vkey --witness-key keys/witness.key
  custody witness cosign dropsite.checkpoint > dropsite.cosig
  custody witness cosign dropsite.checkpoint --proof consistency.txt -o dropsite.cosig
  custody witness cosign --from https://dropsite.example/log -o dropsite.cosig
  custody witness serve --listen 127.0.0.1:7380    # the same checks over HTTP
  custody witness reset-log dropsite.example/leaks --to honest.checkpoint --reason \"fork of 2024-05-01\" --evidence split-view-dropsite.example_leaks-9.evidence")]
pub struct WitnessArgs {
    #[command(subcommand)]
    action: WitnessAction,
}

#[derive(Debug, Subcommand)]
enum WitnessAction {
    /// Witness the log ORIGIN whose log key is VKEY (name must equal ORIGIN, alg 0x01).
    AddLog(AddLogArgs),
    /// Check a checkpoint against this witness's history and print a cosignature line.
    Cosign(CosignArgs),
    /// Serve the C2SP tlog-witness add-checkpoint endpoint over HTTP (loopback unless --public).
    Serve(super::witness_serve::ServeArgs),
    /// After a fork: continue the log ORIGIN from a checkpoint of its honest history (recorded, nothing deleted).
    ResetLog(ResetLogArgs),
}

#[derive(Debug, Args)]
#[command(after_help = "\
A witness that cosigned a fork refuses the log's other history for good: every
checkpoint of it conflicts with something cosigned. Once the operator knows
which history is the log's (from the log's operator, its other witnesses, the
evidence), reset-log appends a reset record to witness/history
(docs/FORMAT.md §11.2): the log's signed checkpoint to continue from, the time,
the reason, and the split-view evidence files given. Nothing is deleted: the
checkpoints cosigned before stay in witness/history and `verify` still checks
them. From then on the witness decides against the reset's checkpoint only,
so it cosigns that checkpoint and the extensions proven from it.

Refused with exit 2 (nothing written): an unknown log, a checkpoint not signed
by the log's key, a log with nothing cosigned, the checkpoint the witness
already follows, an evidence file that does not prove a split view of this log.

Example:
  custody witness reset-log dropsite.example/leaks --to honest.checkpoint \\
    --reason \"dropsite restored a forked copy on 2024-05-01; ops ticket 12\" \\
    --evidence split-view-dropsite.example_leaks-9.evidence")]
struct ResetLogArgs {
    /// The log's origin.
    origin: String,
    /// The log's signed checkpoint (or an add-checkpoint body) to continue from.
    #[arg(long, value_name = "CHECKPOINT_FILE")]
    to: PathBuf,
    /// Why, in one line (recorded in witness/history).
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// A split-view evidence file to keep in the reset record (repeatable, at most 4).
    #[arg(long, value_name = "FILE")]
    evidence: Vec<PathBuf>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  custody witness add-log dropsite.example/leaks partner/signing.vkey --witness-key keys/witness.key\n  custody witness add-log dropsite.example/leaks dropsite    # a trust-store name"
)]
struct AddLogArgs {
    /// The log's origin (first line of its checkpoints).
    origin: String,
    /// The log's verifier key: vkey text, a file holding it, or a trust-store name.
    vkey: String,
    /// Remember this witness secret key file for `witness cosign`.
    #[arg(id = "witness_key", long = "witness-key", value_name = "FILE")]
    key: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  custody witness cosign dropsite.checkpoint > dropsite.cosig\n  custody witness cosign dropsite.checkpoint --proof consistency.txt -o dropsite.cosig\n  custody witness cosign --from https://dropsite.example/log -o dropsite.cosig"
)]
struct CosignArgs {
    /// The signed checkpoint, or a tlog-witness add-checkpoint body (`custody prove --consistency`).
    #[arg(required_unless_present = "from")]
    checkpoint: Option<PathBuf>,
    /// Cosign straight from a published log (custody publish: a directory,
    /// s3://bucket/prefix or an http(s) URL): its `checkpoint`, and the
    /// consistency proof from the last cosigned size computed from its tiles.
    #[arg(long, value_name = "SRC", conflicts_with_all = ["checkpoint", "proof"])]
    from: Option<String>,
    /// Consistency proof from the last cosigned size (add-checkpoint body format).
    #[arg(long, value_name = "FILE")]
    proof: Option<PathBuf>,
    /// Witness secret key (default: $CUSTODY_WITNESS_KEY, else witness/config.toml).
    #[arg(
        id = "witness_key",
        long = "witness-key",
        value_name = "FILE",
        env = "CUSTODY_WITNESS_KEY"
    )]
    key: Option<PathBuf>,
    /// Write the cosignature line to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Where to write split-view evidence on a refusal
    /// (default: ./split-view-<origin>-<size>.evidence).
    #[arg(long, value_name = "FILE")]
    evidence_out: Option<PathBuf>,
    #[command(flatten)]
    s3: super::tiles::S3Args,
}

pub fn run(ctx: &Ctx, a: WitnessArgs) -> Result<i32, StoreError> {
    match a.action {
        WitnessAction::AddLog(a) => add_log(ctx, a),
        WitnessAction::Cosign(a) => cosign(ctx, a),
        WitnessAction::Serve(a) => super::witness_serve::serve(ctx, a),
        WitnessAction::ResetLog(a) => reset_log(ctx, a),
    }
}

fn add_log(ctx: &Ctx, a: AddLogArgs) -> Result<i32, StoreError> {
    let arch = ctx.open()?;
    let trust = Some(ctx.trust_store()?);
    let vkey = read_vkey("witness add-log VKEY", &a.vkey, trust.as_ref())?;
    if vkey.alg() != SigAlg::Ed25519 {
        return Err(StoreError::Input(format!(
            "{vkey} is not a log key (alg 0x01); give the log's signing.vkey"
        )));
    }
    if vkey.name() != a.origin {
        return Err(StoreError::Input(format!(
            "the key is named {:?} but the origin is {}; C2SP requires the log key name to equal the origin",
            vkey.name(),
            crate::core::redact::quote(&a.origin)
        )));
    }
    let key_path = match &a.key {
        None => None,
        Some(p) => {
            let k = ctx.load_signer(p)?;
            check_distinct(&k.verifier(), arch.log_key(), &vkey)?;
            Some(std::fs::canonicalize(p).map_err(|e| io_err(p, e))?)
        }
    };
    let added = arch.witness_add_log(vkey.clone(), key_path.clone())?;
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({
            "origin": a.origin, "vkey": vkey, "added": added, "witness_key": key_path,
        }));
    } else if added {
        ctx.out
            .data_line(&format!("witnessing {} with log key {vkey}", a.origin));
    } else {
        ctx.out
            .data_line(&format!("already witnessing {} with this key", a.origin));
    }
    Ok(EXIT_OK)
}

/// `witness reset-log` (FORMAT.md §11.2): checks everything, then appends
/// one reset record to witness/history.
fn reset_log(ctx: &Ctx, a: ResetLogArgs) -> Result<i32, StoreError> {
    use crate::store::ops::witness::ResetRecord;
    let arch = ctx.open()?;
    let wc = arch.witness_config()?;
    let origin = &a.origin;
    let log = check_reset_args(&wc, &a)?;
    let (cp_bytes, to) = read_reset_checkpoint(&a, log)?;
    let evidence = read_reset_evidence(&a, log)?;
    let history = arch.witness_history(origin)?;
    let Some(latest) = history.last() else {
        return Err(StoreError::Input(format!(
            "this witness has cosigned nothing of {origin}; there is nothing to reset: cosign the checkpoint"
        )));
    };
    if latest.checkpoint.size == to.size && latest.checkpoint.root == to.root {
        return Err(StoreError::Input(format!(
            "the witness already follows {origin} at size {} with this root; there is nothing to reset",
            to.size
        )));
    }
    let rec = ResetRecord {
        origin: origin.clone(),
        time: crate::core::time::now_ms() / 1000,
        reason: a.reason.clone(),
        to: cp_bytes,
        evidence,
    };
    arch.witness_record_reset(&rec)?;
    if rec.evidence.is_empty() {
        ctx.out.warn(
            "no --evidence kept: the reset record says why only in its reason; keep the split-view evidence next to it",
        );
    }
    print_reset(ctx, &to, &rec, history.len(), latest.checkpoint.size);
    Ok(EXIT_OK)
}

/// Checks `reset-log`'s log, --reason and number of --evidence files; the
/// witnessed log.
fn check_reset_args<'a>(
    wc: &'a WitnessConfig,
    a: &ResetLogArgs,
) -> Result<&'a WitnessedLog, StoreError> {
    use crate::store::ops::witness::{reason_ok, MAX_REASON, MAX_RESET_EVIDENCE};
    let origin = &a.origin;
    let log = wc.log(origin).ok_or_else(|| {
        StoreError::Input(format!(
            "this archive does not witness the log {origin:?}; there is nothing to reset"
        ))
    })?;
    if !reason_ok(&a.reason) {
        return Err(StoreError::Input(format!(
            "give --reason as one line of 1 to {MAX_REASON} bytes without control characters"
        )));
    }
    if a.evidence.len() > MAX_RESET_EVIDENCE {
        return Err(StoreError::Input(format!(
            "at most {MAX_RESET_EVIDENCE} --evidence files fit in one reset record"
        )));
    }
    Ok(log)
}

/// Reads `reset-log --to`: the log's signed checkpoint (its bytes, and opened).
fn read_reset_checkpoint(
    a: &ResetLogArgs,
    log: &WitnessedLog,
) -> Result<(Vec<u8>, Checkpoint), StoreError> {
    let origin = &a.origin;
    let input = read_bounded(&a.to)?;
    let cp_bytes = if witness::is_add_checkpoint(&input) {
        witness::parse_add_checkpoint(&input)
            .map_err(|e| StoreError::Input(format!("{}: {e}", crate::core::redact::path(&a.to))))?
            .1
            .to_vec()
    } else {
        input
    };
    let to = SignedCheckpoint::open(&cp_bytes, &log.vkey, &[])
        .map_err(|e| {
            StoreError::Input(format!(
                "{} is not a checkpoint signed by the log key of {origin}: {e}; give the log's own signed checkpoint",
                crate::core::redact::path(&a.to)
            ))
        })?
        .checkpoint;
    if to.origin != *origin {
        return Err(StoreError::Input(format!(
            "{} is a checkpoint of {:?}, not of {origin:?}",
            crate::core::redact::path(&a.to),
            to.origin
        )));
    }
    Ok((cp_bytes, to))
}

/// Reads `reset-log --evidence` files, each of which must prove a split view.
fn read_reset_evidence(a: &ResetLogArgs, log: &WitnessedLog) -> Result<Vec<Vec<u8>>, StoreError> {
    let origin = &a.origin;
    let mut evidence = Vec::new();
    for p in &a.evidence {
        let bytes = read_evidence(p)?;
        let ev = SplitViewEvidence::parse(&bytes)
            .map_err(|e| StoreError::Input(format!("{}: {e}", crate::core::redact::path(p))))?;
        let v = ev.assess(&log.vkey, None);
        if ev.log_key != log.vkey || !v.proves_split_view() {
            return Err(StoreError::Input(format!(
                "{} does not prove a split view of {origin} ({}); check it with `custody verify-evidence`, or leave it out",
                crate::core::redact::path(p),
                v.as_str()
            )));
        }
        evidence.push(bytes);
    }
    Ok(evidence)
}

/// Prints what `reset-log` recorded, as text or JSON.
fn print_reset(
    ctx: &Ctx,
    to: &Checkpoint,
    rec: &crate::store::ops::witness::ResetRecord,
    set_aside: usize,
    latest_size: u64,
) {
    let origin = &rec.origin;
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({
            "origin": origin,
            "size": to.size,
            "root": to.root.to_string(),
            "reason": rec.reason,
            "time": rec.time,
            "set_aside": set_aside,
            "set_aside_latest_size": latest_size,
            "evidence_kept": rec.evidence.len(),
        }));
    } else {
        ctx.out.data_line(&format!(
            "reset {origin}: the witness now continues from size {}; {set_aside} checkpoint(s) cosigned before (latest size {}) stay in witness/history, with {} evidence file(s) kept in the reset record",
            to.size,
            latest_size,
            rec.evidence.len()
        ));
    }
}

/// A checkpoint, an add-checkpoint body or a consistency proof given as a
/// file or a pipe: at most the 64 KiB of a witness request body (FORMAT.md §11.2).
fn read_bounded(p: &Path) -> Result<Vec<u8>, StoreError> {
    read_input(p, witness::MAX_BODY as u64, "a checkpoint or proof")
}

/// A split-view evidence file, or a pipe: at most 64 KiB (FORMAT.md §11.4).
fn read_evidence(p: &Path) -> Result<Vec<u8>, StoreError> {
    let max = crate::core::evidence::MAX_EVIDENCE as u64;
    read_input(p, max, "split-view evidence")
}

#[derive(Serialize)]
struct CosignOut {
    origin: String,
    size: u64,
    accepted: &'static str,
    cosignature: String,
    output: Option<PathBuf>,
}

/// The checkpoint `witness cosign` was given, and the proof offered with it.
struct CosignInput {
    /// The published log of --from.
    remote: Option<Remote>,
    cp_bytes: Vec<u8>,
    proof: Option<OfferedProof>,
    origin: String,
}

fn cosign(ctx: &Ctx, a: CosignArgs) -> Result<i32, StoreError> {
    let arch = ctx.open()?;
    let wc = arch.witness_config()?;
    let CosignInput {
        remote,
        cp_bytes,
        mut proof,
        origin,
    } = read_cosign_input(&a)?;
    let checked = match check(&arch, &wc, &cp_bytes, &origin)? {
        Checked::Ok(c) => c,
        Checked::UnknownLog => {
            return Err(StoreError::Input(format!(
                "this archive does not witness the log {origin:?}; add it with `custody witness add-log {origin} VKEY`"
            )))
        }
        Checked::BadSignature(e) => {
            return refuse(
                ctx,
                "log_signature",
                &format!("the checkpoint is not signed by the log key of {origin}: {e}"),
                None,
            )
        }
    };
    let key = load_witness_key(ctx, &a, &wc)?;
    let size = checked.size();
    if let Some(r) = &remote {
        let last = checked.latest_size();
        if proof.is_none() && last > 0 && last < size {
            proof = Some(proof_from_tiles(r, last, size)?);
        }
    }
    let evidence_out = |origin: &str, size: u64| {
        a.evidence_out.clone().unwrap_or_else(|| {
            PathBuf::from(format!(
                "split-view-{}-{size}.evidence",
                crate::store::ops::mirror::dir_name(origin)
            ))
        })
    };
    let (accepted, line) = match conclude(
        &arch,
        checked,
        &key,
        &cp_bytes,
        proof.as_ref(),
        None,
        &evidence_out,
    )? {
        Concluded::Cosigned { accepted, line } => (accepted, line),
        Concluded::Refused { refusal, evidence } => {
            let next = refusal_hint(&refusal, &origin);
            return refuse(
                ctx,
                refusal.as_str(),
                &format!("{refusal}; {next}"),
                evidence,
            );
        }
        Concluded::OldMismatch { .. } | Concluded::Unprocessable(_) => {
            return Err(StoreError::Internal(
                "an add-checkpoint check ran without an expected old size".into(),
            ))
        }
    };
    if let Some(o) = &a.output {
        write_output(o, line.as_bytes(), arch.root())?;
    }
    print_cosign(ctx, &a, &origin, size, &accepted, &line);
    Ok(EXIT_OK)
}

/// An input file's error, naming the file.
fn bad_input(p: &Path, e: &dyn std::fmt::Display) -> StoreError {
    StoreError::Input(format!("{}: {e}", crate::core::redact::path(p)))
}

/// Reads `cosign`'s checkpoint (a file, or --from's) and the proof offered
/// with it (in the add-checkpoint body, or --proof).
fn read_cosign_input(a: &CosignArgs) -> Result<CosignInput, StoreError> {
    let remote = match &a.from {
        Some(src) => Some(Remote::open(&Location::parse(src)?, &a.s3.settings())?),
        None => None,
    };
    let cp_path = a
        .checkpoint
        .clone()
        .unwrap_or_else(|| PathBuf::from(a.from.clone().unwrap_or_default()).join("checkpoint"));
    let input = match &remote {
        Some(r) => r
            .get(
                crate::store::ops::publish::CHECKPOINT,
                witness::MAX_BODY as u64,
            )?
            .ok_or_else(|| {
                StoreError::Input(format!(
                    "{} has no `checkpoint`; is it a published log (`custody publish`)?",
                    r.label()
                ))
            })?,
        None => read_bounded(&cp_path)?,
    };
    let (mut proof, cp_bytes): (Option<OfferedProof>, Vec<u8>) =
        if witness::is_add_checkpoint(&input) {
            let (p, c) =
                witness::parse_add_checkpoint(&input).map_err(|e| bad_input(&cp_path, &e))?;
            (Some(p), c.to_vec())
        } else {
            (None, input)
        };
    let sc = SignedCheckpoint::parse(&cp_bytes)
        .map_err(|e| bad_input(&cp_path, &format!("not a signed checkpoint: {e}")))?;
    if let Some(pf) = &a.proof {
        if proof.is_some() {
            return Err(StoreError::Input(
                "the checkpoint file already carries a proof; drop --proof".into(),
            ));
        }
        proof = Some(read_proof_file(pf, &cp_path, &sc)?);
    }
    let origin = sc.checkpoint().origin.clone();
    Ok(CosignInput {
        remote,
        cp_bytes,
        proof,
        origin,
    })
}

/// Reads `cosign --proof`: a consistency proof, or an add-checkpoint body
/// for the same checkpoint as `cp_path`'s `sc`.
fn read_proof_file(
    pf: &Path,
    cp_path: &Path,
    sc: &SignedCheckpoint,
) -> Result<OfferedProof, StoreError> {
    let body = read_bounded(pf)?;
    if body.windows(2).any(|w| w == b"\n\n") {
        let (p, c) = witness::parse_add_checkpoint(&body).map_err(|e| bad_input(pf, &e))?;
        let other = SignedCheckpoint::parse(c)
            .map_err(|e| bad_input(pf, &format!("its checkpoint: {e}")))?;
        if other.note().text() != sc.note().text() {
            return Err(StoreError::Input(format!(
                "{} proves a different checkpoint than {}",
                crate::core::redact::path(pf),
                crate::core::redact::path(cp_path)
            )));
        }
        Ok(p)
    } else {
        let t = std::str::from_utf8(&body).map_err(|_| bad_input(pf, &"not text"))?;
        OfferedProof::parse(t).map_err(|e| bad_input(pf, &e))
    }
}

/// The witness key: --witness-key, CUSTODY_WITNESS_KEY, or the one remembered.
fn load_witness_key(
    ctx: &Ctx,
    a: &CosignArgs,
    wc: &WitnessConfig,
) -> Result<SignerKey, StoreError> {
    let key_path = a
        .key
        .clone()
        .or_else(|| wc.witness_key.clone())
        .ok_or_else(|| {
            StoreError::Input(
                "no witness key: give --witness-key FILE, set CUSTODY_WITNESS_KEY, or remember one with `custody witness add-log … --witness-key FILE`".into(),
            )
        })?;
    ctx.load_signer(&key_path)
}

/// Prints the cosignature and what was accepted, as text or JSON.
fn print_cosign(ctx: &Ctx, a: &CosignArgs, origin: &str, size: u64, accepted: &Accept, line: &str) {
    let how = match accepted {
        Accept::FirstUse => "first_use",
        Accept::Unchanged => "unchanged",
        Accept::Extended { .. } => "extended",
    };
    if ctx.out.json {
        ctx.out.json(&CosignOut {
            origin: origin.to_string(),
            size,
            accepted: how,
            cosignature: line.trim_end().to_string(),
            output: a.output.clone(),
        });
    } else {
        if a.output.is_none() {
            ctx.out.artifact(line.as_bytes());
        }
        let what = match accepted {
            Accept::FirstUse => format!(
                "first checkpoint of {origin} seen by this witness: size {size} trusted on first use"
            ),
            Accept::Unchanged => format!("{origin} is unchanged at size {size}"),
            Accept::Extended { from } => {
                format!("{origin} grew consistently from size {from} to {size}")
            }
        };
        ctx.out.info(&format!("cosigned: {what}"));
    }
}

/// The consistency proof from `old` to `new` computed from a published
/// log's tiles (FORMAT.md §13), in the complete form of §11.4: whatever the
/// tiles say, `decide` checks it against both signed roots, and a proof
/// that does not open the new root (a lying tile) proves nothing.
fn proof_from_tiles(
    r: &crate::store::files::remote::Remote,
    old: u64,
    new: u64,
) -> Result<OfferedProof, StoreError> {
    use crate::core::merkle::{consistency_proof, TreeError, TreeSize};
    use crate::core::tiles::{TileNodeError, TileNodes};
    let nodes = TileNodes::new(crate::store::ops::mirror::RemoteTiles(r), new);
    // The complete form (FORMAT.md §11.4): with the tiles' root at `old`
    // prepended when `old` is a power of two, so that a published fork is
    // shown, not only refused.
    match consistency_proof(&nodes, TreeSize(old), TreeSize(new))
        .and_then(|h| Ok((crate::core::merkle::root(&nodes, TreeSize(old))?, h)))
    {
        Ok((prefix, hashes)) => Ok(OfferedProof {
            old,
            hashes: crate::core::merkle::complete_consistency_proof(TreeSize(old), prefix, hashes),
        }),
        Err(TreeError::Source(TileNodeError::Read(e))) => Err(e),
        Err(TreeError::Source(TileNodeError::Tile(t))) => Err(StoreError::Input(format!(
            "{}: cannot compute the consistency proof from size {old} to {new} from its tiles: {t}",
            r.label()
        ))),
        Err(e) => Err(StoreError::Input(format!(
            "{}: cannot compute the consistency proof from size {old} to {new} from its tiles: {e}",
            r.label()
        ))),
    }
}

/// What to do next after a refusal (one clause, for the error line).
fn refusal_hint(r: &witness::Refusal, origin: &str) -> String {
    use witness::Refusal;
    match r {
        Refusal::Fork { .. } | Refusal::Inconsistent { .. } => format!(
            "the log signed two histories; publish the evidence, and once you know which history is the log's, continue from it with `custody witness reset-log {origin} --to CHECKPOINT --reason TEXT`"
        ),
        Refusal::Stale { latest, .. } => {
            format!("fetch the log's latest checkpoint (at least size {latest}) and cosign that")
        }
        Refusal::ProofRequired { from, .. } | Refusal::ProofOldMismatch { latest: from, .. } => {
            format!("in the log's archive, `custody prove --consistency {from}` prints the body to cosign")
        }
        Refusal::BadProof { from, .. } => format!(
            "ask the log for a proof from size {from} (`custody prove --consistency {from}` in its archive)"
        ),
    }
}

fn refuse(
    ctx: &Ctx,
    reason: &str,
    message: &str,
    evidence: Option<PathBuf>,
) -> Result<i32, StoreError> {
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({
            "refused": true, "reason": reason, "message": message, "evidence": evidence,
        }));
    }
    let tail = match &evidence {
        Some(p) => format!(
            "; split-view evidence written to {} (check it with `custody verify-evidence`)",
            p.display()
        ),
        None => String::new(),
    };
    ctx.out
        .error(&format!("refused to cosign: {message}{tail}"));
    Ok(EXIT_FINDING)
}

#[derive(Debug, Args)]
#[command(after_help = "\
Checks split-view evidence (from `custody witness cosign`, `witness serve` or
`mirror`) with no archive: both checkpoints must be signed by the log key (the
file's, or --trust) and name the same origin. Only two checkpoints that cannot
both be true prove a split view (docs/FORMAT.md §11.4): the same size with
different roots, or a proof (in the file, or --proof) that opens the larger
checkpoint's root and shows another root at the smaller size. A valid
consistency proof refutes the evidence; an older checkpoint with no such proof,
or with a proof that does not verify, proves nothing.

Exit codes: 0 the evidence proves a split view (SPLIT VIEW); 1 it does not
(`not evidence of a split view`: a file that does not parse as evidence, bad
signature, origin, identical, refuted, unproven); 2 the command cannot judge
(the file cannot be read or is over 64 KiB, a --trust or --proof that cannot
be read or does not parse).

Example:
  custody verify-evidence split-view-dropsite.example_leaks-9.evidence --trust dropsite.vkey")]
pub struct VerifyEvidenceArgs {
    /// The evidence file.
    file: PathBuf,
    /// The log key to check the signatures with (default: the one in the file).
    #[arg(long, value_name = "VKEY|FILE|NAME")]
    trust: Option<String>,
    /// A consistency proof between the two checkpoints (add-checkpoint body or `old N` + hashes).
    #[arg(long, value_name = "FILE")]
    proof: Option<PathBuf>,
}

pub fn verify_evidence(ctx: &Ctx, a: VerifyEvidenceArgs) -> Result<i32, StoreError> {
    let bytes = read_evidence(&a.file)?;
    // What keeps the command from judging is an error (exit 2): a file that
    // cannot be read or is over its limit (above), a --trust or --proof
    // that cannot be read or does not parse (below).
    let given = match &a.trust {
        None => None,
        Some(t) => Some(read_vkey("--trust", t, Some(&ctx.trust_store()?))?),
    };
    let extra = read_extra_proof(a.proof.as_deref())?;
    // The file read within its limit that does not parse is the data under
    // judgement being wrong: a finding, exit 1 (FORMAT.md §11.4, as §8.1).
    let ev = match SplitViewEvidence::parse(&bytes) {
        Ok(ev) => ev,
        Err(e) => {
            let detail = format!("{}: {e}", crate::core::redact::path(&a.file));
            if ctx.out.json {
                ctx.out.json(&serde_json::json!({
                    "ok": false,
                    "verdict": "malformed",
                    "check": "evidence",
                    "log_key": given,
                    "key_from_file": false,
                    "detail": detail,
                }));
            } else {
                ctx.out.line(&format!(
                    "{} evidence: {}",
                    ctx.out.paint("not evidence of a split view:", Paint::Ok),
                    crate::core::redact::shown(&detail)
                ));
            }
            return Ok(EXIT_FINDING);
        }
    };
    let trusted = given.unwrap_or_else(|| ev.log_key.clone());
    let verdict = ev.assess(&trusted, extra.as_ref());
    let ok = verdict.proves_split_view();
    let detail = match &verdict {
        Verdict::ProvenFork { size } => format!(
            "proven fork: two different checkpoints of size {size}, both signed by {}",
            trusted.name()
        ),
        Verdict::ProvenInconsistent { smaller, larger } => format!(
            "proven inconsistent: a proof opens the checkpoint of size {larger} signed by {} and shows that its first {smaller} entries have another root than the signed checkpoint of size {smaller}",
            trusted.name()
        ),
        Verdict::Refuted { smaller, larger } => format!(
            "refuted: a valid consistency proof shows size {smaller} is a prefix of size {larger}"
        ),
        Verdict::Unproven { why, .. } => format!("not proven: {why}"),
        Verdict::Identical => "the two checkpoints say the same thing".to_string(),
        Verdict::BadSignature(e) => e.clone(),
        Verdict::OriginMismatch => {
            "the checkpoints name different origins, or not the log key's name".to_string()
        }
    };
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({
            "ok": ok,
            "verdict": verdict.as_str(),
            "check": verdict.failed_check(),
            "log_key": trusted,
            "key_from_file": a.trust.is_none(),
            "detail": detail,
        }));
    } else {
        let tag = if ok {
            ctx.out.paint("SPLIT VIEW:", Paint::Bad)
        } else {
            ctx.out.paint("not evidence of a split view:", Paint::Ok)
        };
        // The detail quotes the key's name and parser messages: data (§1.2).
        let detail = crate::core::redact::shown(&detail);
        match verdict.failed_check() {
            Some(check) => ctx.out.line(&format!("{tag} {check}: {detail}")),
            None => ctx.out.line(&format!("{tag} {detail}")),
        }
        if a.trust.is_none() && ok {
            ctx.out.info(
                "the log key was taken from the evidence file; pass --trust VKEY to check it is the log you know",
            );
        }
    }
    Ok(if ok { EXIT_OK } else { EXIT_FINDING })
}

/// `verify-evidence --proof FILE`: an add-checkpoint body or `old N` and
/// hashes. The user's own input, like --trust: one that cannot be read or
/// does not parse is an error (exit 2), not a finding about the evidence.
fn read_extra_proof(p: Option<&Path>) -> Result<Option<OfferedProof>, StoreError> {
    let Some(p) = p else { return Ok(None) };
    let body = read_bounded(p)?;
    let bad = |e: &dyn std::fmt::Display| {
        StoreError::Input(format!("{}: {e}", crate::core::redact::path(p)))
    };
    if body.windows(2).any(|w| w == b"\n\n") {
        return Ok(Some(
            witness::parse_add_checkpoint(&body).map_err(|e| bad(&e))?.0,
        ));
    }
    let t = std::str::from_utf8(&body).map_err(|_| bad(&"not text"))?;
    Ok(Some(OfferedProof::parse(t).map_err(|e| bad(&e))?))
}
