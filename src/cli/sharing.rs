//! `share`, `refresh-bundle`, `verify-bundle`, `receive` and `trace`: custody
//! between outlets (FORMAT.md §10).

use std::path::PathBuf;

use clap::Args;

use super::archive::{human_bytes, parse_recipients_named, print_findings, NameLine};
use super::output::Paint;
use super::policy_args::{read_vkey, PolicyArgs};
use super::{Ctx, EXIT_FINDING, EXIT_OK};
use crate::core::bundle::{CheckedHop, CheckedLineage, Trust};
use crate::core::checkpoint::WitnessCosignature;
use crate::core::keys::{SigAlg, VerifierKey};
use crate::core::policy::Policy;
use crate::core::record::{valid_actor_name, PolicySource};
use crate::core::redact::shown;
use crate::core::sealed::valid_share_note;
use crate::core::time;
use crate::store::ops::bundle_file::{self, BundleReport};
use crate::store::ops::mirror::MirroredHop;
use crate::store::ops::receive::ReceiveOutcome;
use crate::store::ops::share::{ShareLabel, Shared};
use crate::store::StoreError;

/// Who the verifier trusts: log keys (the trust store's, `--trust`, a
/// policy's `log` lines), and optionally a witness quorum.
#[derive(Debug, Args)]
pub(crate) struct TrustArgs {
    /// A trusted log verifier key: vkey text, a file holding it, or a
    /// trust-store name (repeatable). Log keys in the trust store
    /// (`custody trust add`) are always trusted.
    #[arg(long, value_name = "VKEY|FILE|NAME")]
    trust: Vec<String>,
    #[command(flatten)]
    policy: PolicyArgs,
}

/// The keys and quorum rule built from [`TrustArgs`].
pub(crate) struct TrustSet {
    logs: Vec<VerifierKey>,
    witnesses: Vec<VerifierKey>,
    policy: Option<Policy>,
    /// Where `policy` came from, for the `receive` record (FORMAT.md §4.16).
    source: PolicySource,
}

impl TrustSet {
    /// `archived`: the partners' policy of the archive the command runs in
    /// (index of its configuration record, text), applied when `a` asks for
    /// no quorum.
    pub(crate) fn from_args(
        ctx: &Ctx,
        a: &TrustArgs,
        archived: Option<(u64, String)>,
    ) -> Result<TrustSet, StoreError> {
        let store = ctx.trust_store()?;
        let mut logs = store.log_keys();
        for t in &a.trust {
            let k = read_vkey("--trust", t, Some(&store))?;
            if k.alg() != SigAlg::Ed25519 {
                return Err(StoreError::Input(format!(
                    "--trust {} is not a log key (Ed25519, alg 0x01); a log hands out its signing.vkey",
                    k.name()
                )));
            }
            logs.push(k);
        }
        let from_command =
            a.policy.policy.is_some() || !a.policy.witness.is_empty() || a.policy.quorum.is_some();
        let policy = ctx.policy_or_archived(&a.policy, archived, "partners'")?;
        let source = match (&policy, from_command) {
            (None, _) => PolicySource::None,
            (Some(_), true) => PolicySource::Command,
            (Some(_), false) => PolicySource::Config,
        };
        let witnesses = match &policy {
            Some(p) => {
                logs.extend(p.log_keys().iter().cloned());
                p.witness_keys()
            }
            // No quorum asked: still report which known witnesses cosigned.
            None => store.witness_keys(),
        };
        Ok(TrustSet {
            logs,
            witnesses,
            policy,
            source,
        })
    }

    /// Where the policy comes from and its encoded text (FORMAT.md §4.16).
    pub(crate) fn applied(&self) -> (PolicySource, Option<String>) {
        (self.source, self.policy.as_ref().map(Policy::encode))
    }

    pub(crate) fn with<T>(&self, f: impl FnOnce(&Trust<'_>) -> T) -> T {
        let q = |c: &[WitnessCosignature]| match &self.policy {
            Some(p) => {
                let o = p.evaluate(c);
                (o.satisfied, o.required)
            }
            None => (true, String::new()),
        };
        let t = Trust {
            logs: &self.logs,
            witnesses: &self.witnesses,
            quorum: self
                .policy
                .as_ref()
                .map(|_| &q as &dyn Fn(&[WitnessCosignature]) -> (bool, String)),
        };
        f(&t)
    }
}

#[derive(Debug, Args)]
#[command(after_help = "\
Writes one bundle file for one document: the document re-encrypted to the
partner's age recipient(s), the signed records of its custody so far (with the
earlier outlets' evidence if it was received from one), each with an inclusion
proof against this log's latest checkpoint, which covers the new `share` record.
The bundle reveals nothing about other documents in the ledger.

The checkpoint in a new bundle has no witness cosignatures yet. If the partner
requires a quorum: have witnesses cosign (`custody checkpoint` to them, then
`custody checkpoint add-cosignature`), then `custody refresh-bundle FILE`.

Interrupted (killed, a disk error), a share is undone by the next command if
its record was not appended, and completed by running it again (the same
document, the same recipients) if it was: the bundle is written from what was
kept in the archive, and no second record is appended (FORMAT.md §7.8).

The partner's name (shown by `custody shares`, `show -i`, `log -i`, the audit
and `trace` here; never sent to the partner) is, in this order: --partner
NAME; a `# partner: NAME` line of a --to recipients file; the name `custody
trust add NAME --recipient` gave every --to recipient. It and the note are
sealed with the share record (FORMAT.md §5.4): the ledger shows neither.

Examples:
  custody share 3 --to age1… -i keys-example/dropsite/identity.age -o memo.bundle --partner guardian
  custody share 3 --to localcall/id_ed25519.pub -i ID        (writes share-3-20261128T145200.bundle)
  custody share 3 --to keys-example/guardian/recipient.txt -i ID -o memo.bundle --note 'for the Gaza desk'")]
pub struct ShareArgs {
    /// The document: any record about it (index or hex digest prefix), or its name or path.
    reference: String,
    /// The partner's age recipient (age1…, ssh-ed25519 …, or a file of them); repeatable.
    #[arg(long, required = true, value_name = "RECIPIENT|FILE")]
    to: Vec<String>,
    /// age identity to decrypt the document here.
    #[arg(
        short,
        long = "identity",
        value_name = "FILE",
        env = "CUSTODY_IDENTITY",
        required = true
    )]
    identity: Vec<PathBuf>,
    /// Where to write the bundle (default: share-REF-TIME.bundle here).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// A note for the partner (encrypted to them), kept here too, sealed
    /// (at most 1,024 bytes; no control characters but line feeds).
    #[arg(long)]
    note: Option<String>,
    /// The name this archive knows the partner by (1 to 64 of a-z 0-9 . _ -),
    /// kept sealed; default: the recipients file's `# partner:` line, else
    /// the trust store's name for the recipients.
    #[arg(long, value_name = "NAME")]
    partner: Option<String>,
    /// Overwrite the output file if it exists.
    #[arg(long)]
    force: bool,
    /// The log's signing key (default: $CUSTODY_SIGNING_KEY, else custody.toml).
    #[arg(long, value_name = "FILE")]
    signing_key: Option<PathBuf>,
}

/// Where a share's partner name came from (FORMAT.md §5.4, in this order).
/// (`partner_from` in `share --json`.)
const FROM_OPTION: &str = "option";
const FROM_FILE: &str = "recipients_file";
const FROM_TRUST: &str = "trust_store";

/// How `share` says where the partner's name came from.
fn from_text(from: &str) -> &'static str {
    match from {
        FROM_OPTION => "given with --partner",
        FROM_FILE => "from the recipients file",
        FROM_TRUST => "from the trust store",
        _ => "",
    }
}

/// The partner's name for a share to `to` (FORMAT.md §5.4): `explicit`
/// (--partner), else the `# partner:` lines of the recipients files, else
/// the trust store's name for every recipient; with where it came from.
fn partner_name(
    ctx: &Ctx,
    explicit: Option<String>,
    lines: &[NameLine],
    to: &[crate::core::crypto::RecipientKey],
) -> Result<Option<(String, &'static str)>, StoreError> {
    const RULE: &str = "a partner name is 1 to 64 of a-z 0-9 . _ -, starting with a letter or digit (FORMAT.md §4.7)";
    if let Some(p) = explicit {
        if !valid_actor_name(&p) {
            return Err(StoreError::Input(format!(
                "--partner {}: {RULE}; nothing was written",
                crate::core::redact::quote(&p)
            )));
        }
        return Ok(Some((p, FROM_OPTION)));
    }
    let mut named: Vec<&str> = Vec::new();
    for l in lines {
        if !valid_actor_name(&l.name) {
            return Err(StoreError::Input(format!(
                "--to {} line {}: `# partner: {}` does not name a partner ({RULE}); correct the line, or give --partner NAME; nothing was written",
                crate::core::redact::quote(&l.file),
                l.line,
                l.name
            )));
        }
        if !named.contains(&l.name.as_str()) {
            named.push(&l.name);
        }
    }
    match named[..] {
        [one] => return Ok(Some((one.to_string(), FROM_FILE))),
        [] => {}
        _ => {
            return Err(StoreError::Input(format!(
                "the --to recipients files name {} partners ({}); a share goes to one: give --partner NAME; nothing was written",
                named.len(),
                named.join(", ")
            )))
        }
    }
    let store = ctx.trust_store()?;
    let mut names: Vec<&str> = Vec::new();
    for k in to {
        let Some(n) = store.partner_of(&k.fingerprint()) else {
            return Ok(None); // a recipient the trust store does not name
        };
        if !names.contains(&n) {
            names.push(n);
        }
    }
    match names[..] {
        [one] => Ok(Some((one.to_string(), FROM_TRUST))),
        [] => Ok(None),
        _ => Err(StoreError::Input(format!(
            "the trust store names the --to recipients as {} partners ({}); a share goes to one: give --partner NAME; nothing was written",
            names.len(),
            names.join(", ")
        ))),
    }
}

/// A share's `--note` (FORMAT.md §5.4): an empty one is none.
fn share_note(note: Option<String>) -> Result<Option<String>, StoreError> {
    match note {
        Some(n) if n.is_empty() => Ok(None),
        Some(n) if !valid_share_note(&n) => Err(StoreError::Input(format!(
            "--note is {} bytes{}: a share's note is at most 1,024 bytes without control characters but line feeds (FORMAT.md §5.4); shorten it; nothing was written",
            n.len(),
            if n.chars().any(|c| c.is_control() && c != '\n') {
                " with a control character"
            } else {
                ""
            }
        ))),
        other => Ok(other),
    }
}

pub fn share(ctx: &Ctx, a: ShareArgs) -> Result<i32, StoreError> {
    let mut arch = ctx.open_as_actor()?;
    let (to, lines) = parse_recipients_named("--to", &a.to)?;
    let note = share_note(a.note)?;
    let partner = partner_name(ctx, a.partner, &lines, &to)?;
    let ids = ctx.load_identities(&a.identity)?;
    let signer = ctx.archive_signer(&mut arch, a.signing_key.as_deref())?;
    let i = ctx.resolve(&arch, &a.reference, Some(&ids), &a.identity)?;
    let output = a.output.unwrap_or_else(|| {
        let t: String = time::rfc3339(time::now_ms())
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(15)
            .collect();
        PathBuf::from(format!("share-{i}-{t}.bundle"))
    });
    let label = ShareLabel {
        partner: partner.as_ref().map(|(p, _)| p.clone()),
        note,
    };
    let pb = ctx.out.progress(0, true, "share");
    let r = arch.share(i, &to, &ids, &signer, label, &output, a.force, &mut |n| {
        pb.inc(n)
    });
    pb.finish_and_clear();
    let s = r?;
    crate::store::files::fault::before_report();
    // A completed share reports the name its record sealed.
    let from = partner
        .filter(|(p, _)| s.partner.as_deref() == Some(p.as_str()))
        .map(|(_, f)| f);
    report_share(ctx, &s, from);
    // Only now is the share done: a run killed while reporting is completed
    // by its re-run, not made twice (FORMAT.md §7.8).
    arch.share_reported(&s);
    Ok(EXIT_OK)
}

/// Prints what `share` did; `from`: where the partner's name came from.
fn report_share(ctx: &Ctx, s: &Shared, from: Option<&str>) {
    if ctx.out.json {
        let mut v = serde_json::to_value(s).unwrap_or_default();
        if let Some(f) = from {
            v["partner_from"] = f.into();
        }
        ctx.out.json(&v);
        return;
    }
    if s.completed {
        ctx.out.info(&format!(
            "an earlier share of this document to these recipients was interrupted after appending record {}; completed it (no new record)",
            s.index
        ));
    }
    let to = match &s.partner {
        Some(p) => format!(
            "partner {p} ({} recipient(s){})",
            s.recipients.len(),
            from.map(|f| format!(", name {}", from_text(f)))
                .unwrap_or_default()
        ),
        None => format!("{} recipient(s)", s.recipients.len()),
    };
    ctx.out.data_line(&format!(
        "shared document {} as record {} to {to}: {} ({} bundle for a {} document)",
        s.document,
        s.index,
        s.bundle.display(),
        human_bytes(s.bundle_size),
        human_bytes(s.document_size)
    ));
    ctx.out.line(&format!(
        "the bundle carries {} record(s) over {} ledger(s), proven against checkpoint {} ({} cosignature(s))",
        s.records, s.hops, s.checkpoint_size, s.cosignatures
    ));
    if s.cosignatures == 0 {
        ctx.out.info(
            "to meet a partner's witness quorum: get this checkpoint cosigned, `custody checkpoint add-cosignature`, then `custody refresh-bundle`",
        );
    }
}

#[derive(Debug, Args)]
#[command(after_help = "\
Re-proves this outlet's records in a bundle it made against the latest
checkpoint, with every witness cosignature gathered since. The payload and the
envelope are unchanged.

Example:
  custody refresh-bundle memo.bundle")]
pub struct RefreshArgs {
    /// The bundle made by `custody share` here.
    file: PathBuf,
    /// Write the refreshed bundle here instead of replacing FILE.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn refresh(ctx: &Ctx, a: RefreshArgs) -> Result<i32, StoreError> {
    let arch = ctx.open()?;
    let r = arch.refresh_bundle(&a.file, a.output.as_deref())?;
    if ctx.out.json {
        ctx.out.json(&r);
    } else {
        ctx.out.data_line(&format!(
            "{}: proven against checkpoint {} with {} cosignature(s){}",
            r.bundle.display(),
            r.checkpoint_size,
            r.cosignatures,
            r.old_checkpoint_size
                .map(|s| format!(" (was checkpoint {s} with {})", r.old_cosignatures))
                .unwrap_or_default()
        ));
    }
    Ok(EXIT_OK)
}

#[derive(Debug, Args)]
#[command(after_help = "\
Needs no archive and no network. Checks every record signature, every inclusion
proof against the checkpoint it comes with, the checkpoint's signature by a
trusted log key, the links between outlets, the witness quorum if asked, the
payload digest, and with -i (or CUSTODY_IDENTITY) the plaintext against the
content commitment; an identity the bundle was not shared with is an error
(exit 2): to check all but the document, give no -i and unset CUSTODY_IDENTITY.
Inside an archive, also each hop's checkpoint against the archive's mirror of
that log and against the checkpoints of the same log kept from earlier
receives (a split view is `checkpoint_consistency`), as `receive` does.
A derived document's bundle carries its parents' custody too: every hop of
it is checked and shown. FILE may also be an evidence file alone (the
`evidence` of a `custody export` package, FORMAT.md §15): the same checks but
the envelope and payload.
Exit 0: every check passed; 1: findings (listed); 2: the bundle could not be read.

Examples:
  custody verify-bundle memo.bundle --trust keys-example/dropsite/signing.vkey
  custody verify-bundle memo.bundle --trust dropsite.vkey -i guardian/identity.age \\
      --witness 972mag/witness.vkey --witness localcall/witness.vkey --quorum 1")]
pub struct VerifyBundleArgs {
    /// The bundle file.
    file: PathBuf,
    #[command(flatten)]
    trust: TrustArgs,
    /// age identity to decrypt and check the document (optional; as for every
    /// command, CUSTODY_IDENTITY when no -i is given).
    #[arg(
        short,
        long = "identity",
        value_name = "FILE",
        env = "CUSTODY_IDENTITY"
    )]
    identity: Vec<PathBuf>,
}

/// Hops whose log this archive mirrors (`custody mirror`): whether the
/// mirrored log holds the hop's checkpoint.
fn print_mirrored(ctx: &Ctx, mirrored: &[MirroredHop]) {
    for m in mirrored {
        let what = match m.status {
            "included" => ctx.out.paint("in the mirrored log", Paint::Ok),
            "mirror_behind" => "the mirror is older; run `custody mirror`".to_string(),
            _ => ctx.out.paint("NOT in the mirrored log", Paint::Bad),
        };
        ctx.out.line(&format!(
            "hop {}  checkpoint {} of {}: {what} (mirrored at size {})",
            m.hop,
            m.checkpoint_size,
            shown(&m.origin),
            m.mirrored_at
        ));
    }
}

fn print_hops(ctx: &Ctx, hops: &[CheckedHop]) {
    print_hops_at(ctx, hops, "");
}

/// The custody of a derived document's parents (FORMAT.md §10.4 step 8),
/// each under a line naming how it was derived, indented by generation.
fn print_lineage(ctx: &Ctx, lineage: &[CheckedLineage], not_carried: bool, pad: &str) {
    if not_carried {
        ctx.out.line(&format!(
            "{pad}derived here from parents whose custody this evidence does not carry (made before custody carried lineage)"
        ));
    }
    for l in lineage {
        ctx.out.line(&format!(
            "{pad}{} of {} record {} (commitment {}), whose custody is:",
            l.relation,
            shown(&l.origin),
            l.document,
            l.commitment
        ));
        let inner = format!("{pad}    ");
        print_hops_at(ctx, &l.hops, &inner);
        print_lineage(ctx, &l.lineage, l.lineage_not_carried, &inner);
    }
}

fn print_hops_at(ctx: &Ctx, hops: &[CheckedHop], pad: &str) {
    for (n, h) in hops.iter().enumerate() {
        let o = &ctx.out;
        let key = h.key_id.map(|k| format!("+{k}")).unwrap_or_default();
        let trust = if h.trusted {
            o.paint("trusted", Paint::Ok)
        } else {
            o.paint("NOT TRUSTED", Paint::Bad)
        };
        let cp = match h.checkpoint_size {
            Some(s) => format!("checkpoint {s}"),
            None => "no valid checkpoint".into(),
        };
        let cos = if h.cosigned_by.is_empty() {
            "no witness cosignature".to_string()
        } else {
            format!("cosigned by {}", shown(&h.cosigned_by.join(", ")))
        };
        o.line(&format!(
            "{pad}hop {}  {}{key}  {trust}  {cp}, {cos}",
            n + 1,
            shown(&h.origin)
        ));
        for e in &h.events {
            let status = if e.verified {
                o.paint("ok", Paint::Ok)
            } else {
                o.paint("FAIL", Paint::Bad)
            };
            o.line(&format!(
                "{pad}  {:>6}  {:<7}  {}  signed by {} ({})  {status}{}",
                e.index,
                e.kind.as_str(),
                time::rfc3339(e.time_ms),
                shown(&e.signed_by),
                e.signer,
                e.detail
                    .as_ref()
                    .map(|d| format!("  ({})", shown(d)))
                    .unwrap_or_default()
            ));
        }
    }
}

fn print_bundle_report(ctx: &Ctx, r: &BundleReport) {
    let mirrored = &r.mirrored[..];
    if ctx.out.json {
        ctx.out
            .json(&serde_json::json!({ "ok": r.ok(), "report": r, "mirrored": mirrored }));
        return;
    }
    ctx.out.data_line(&format!(
        "bundle {}  ({}, payload {})",
        r.bundle.display(),
        human_bytes(r.bundle_size),
        human_bytes(r.payload_size)
    ));
    print_hops(ctx, &r.hops);
    print_lineage(ctx, &r.lineage, r.lineage_not_carried, "");
    print_mirrored(ctx, mirrored);
    if let (Some(name), Some(size), Some(sha)) = (&r.name, r.size, &r.sha256) {
        ctx.out.data_line(&format!(
            "document {name}  {}  sha256 {sha}",
            human_bytes(size)
        ));
    }
    if let Some(n) = &r.note {
        ctx.out.data_line(&format!("note     {n}"));
    }
    print_findings(ctx, &r.findings);
    if r.ok() {
        ctx.out.line(&format!(
            "{} every check passed{}",
            ctx.out.paint("verified:", Paint::Ok),
            if r.decrypted {
                ", and the decrypted document matches its commitment"
            } else {
                " (give -i IDENTITY to check the document itself)"
            }
        ));
    } else {
        ctx.out.line(&format!(
            "{} {} finding(s)",
            ctx.out.paint("NOT VERIFIED:", Paint::Bad),
            r.findings.len()
        ));
    }
}

/// The partners' policy of the archive at `root`, if it sets one.
pub(crate) fn partners_policy(
    root: Option<&std::path::Path>,
) -> Result<Option<(u64, String)>, StoreError> {
    let Some(root) = root else {
        return Ok(None);
    };
    let arch = crate::store::Archive::open(root)?;
    Ok(arch.archived_policies()?.map(|(i, p, _)| (i, p)))
}

pub fn verify_bundle(ctx: &Ctx, a: VerifyBundleArgs) -> Result<i32, StoreError> {
    let ids = if a.identity.is_empty() {
        None
    } else {
        Some(ctx.load_identities(&a.identity)?)
    };
    // Inside an archive, the bundle is also checked against what it holds
    // (its mirrors, the checkpoints in kept evidence), as `receive` does.
    let root = ctx
        .archive_dir()
        .ok()
        .filter(|r| crate::store::archive::is_archive(r));
    let trust = TrustSet::from_args(ctx, &a.trust, partners_policy(root.as_deref())?)?;
    let pb = ctx.out.progress(0, true, "verify");
    let r = trust.with(|t| {
        bundle_file::verify_bundle(&a.file, t, ids.as_ref(), root.as_deref(), &mut |n| {
            pb.inc(n)
        })
    });
    pb.finish_and_clear();
    let r = r?;
    print_bundle_report(ctx, &r);
    Ok(if r.ok() { EXIT_OK } else { EXIT_FINDING })
}

#[derive(Debug, Args)]
#[command(after_help = "\
Verifies the bundle exactly as `custody verify-bundle` does in this archive
(its mirrors and the checkpoints kept from earlier receives included: a
second history of a log is refused); if every check passes, stores the document re-encrypted to this archive's recipients, keeps
the bundle's evidence under evidence/, and appends a signed `receive` record
naming the sender's log, its share record and the checkpoint it was proven
against. Nothing is stored if any check fails (exit 1) or the bundle cannot be
decrypted with your identity (exit 2).

Example:
  custody receive memo.bundle -i keys-example/guardian/identity.age \\
      --trust keys-example/dropsite/signing.vkey")]
pub struct ReceiveArgs {
    /// The bundle file.
    file: PathBuf,
    #[command(flatten)]
    trust: TrustArgs,
    /// age identity the bundle was encrypted to.
    #[arg(
        short,
        long = "identity",
        value_name = "FILE",
        env = "CUSTODY_IDENTITY",
        required = true
    )]
    identity: Vec<PathBuf>,
    /// This archive's signing key (default: $CUSTODY_SIGNING_KEY, else custody.toml).
    #[arg(long, value_name = "FILE")]
    signing_key: Option<PathBuf>,
}

pub fn receive(ctx: &Ctx, a: ReceiveArgs) -> Result<i32, StoreError> {
    let mut arch = ctx.open_as_actor()?;
    let archived = arch.archived_policies()?.map(|(i, p, _)| (i, p));
    let trust = TrustSet::from_args(ctx, &a.trust, archived)?;
    let ids = ctx.load_identities(&a.identity)?;
    let signer = ctx.archive_signer(&mut arch, a.signing_key.as_deref())?;
    let (source, text) = trust.applied();
    arch.set_receive_policy(source, text.as_deref());
    let pb = ctx.out.progress(0, true, "receive");
    let r = trust.with(|t| arch.receive(&a.file, t, &ids, &signer, &mut |n| pb.inc(n)));
    pb.finish_and_clear();
    match r? {
        ReceiveOutcome::Refused(rep) => {
            print_bundle_report(ctx, &rep);
            ctx.out
                .error("the bundle was refused; nothing was stored in the archive");
            Ok(EXIT_FINDING)
        }
        ReceiveOutcome::Received(x) => {
            if ctx.out.json {
                ctx.out.json(&x);
            } else {
                ctx.out.data_line(&format!(
                    "received {} ({}, sha256 {}) as record {}{}",
                    x.name,
                    human_bytes(x.size),
                    x.sha256,
                    x.index,
                    if x.deduplicated {
                        " (content already stored here)"
                    } else {
                        ""
                    }
                ));
                ctx.out.data_line(&format!(
                    "linked to {} record {} (checkpoint {}); {} ledger(s) of evidence kept; checkpoint {} signed",
                    x.from.origin, x.from.index, x.from.checkpoint_size, x.hops, x.checkpoint_size
                ));
            }
            Ok(EXIT_OK)
        }
    }
}

#[derive(Debug, Args)]
#[command(after_help = "\
Every hop of the document's custody, oldest first: the outlet's log, each
record (arrival, shares) with its signer, time and verification status. Earlier
outlets' hops are re-verified from the evidence kept when the document was
received; this archive's own hop from its ledger. For a derived document, the
custody of each parent follows, back to each original ingest at whichever
outlet (FORMAT.md §10.2). Exit 1 if any check fails.

This archive's shares name the partner (`to partner NAME`) where the identity
(-i, else the one custody.toml names) opens their sealed details (FORMAT.md §5.4).

Example:
  custody trace 14 --trust keys-example/dropsite/signing.vkey --trust keys-example/guardian/signing.vkey")]
pub struct TraceArgs {
    /// The document: any record about it (index, hex digest prefix, or its name or path with an identity).
    reference: String,
    #[command(flatten)]
    trust: TrustArgs,
    #[command(flatten)]
    identity: super::RefIdentityArg,
}

/// Names the partner of each of this archive's own shares in the last hop
/// of `hops` (FORMAT.md §5.4), where an identity opens their details: the
/// one given (an error if it cannot be loaded), else custody.toml's (left
/// out if it cannot be).
fn name_partners(
    ctx: &Ctx,
    arch: &crate::store::Archive,
    hops: &mut [CheckedHop],
    identity: &[PathBuf],
) -> Result<(), StoreError> {
    let Some(own) = hops.last_mut().filter(|h| h.origin == arch.config().origin) else {
        return Ok(());
    };
    let shares: Vec<usize> = (0..own.events.len())
        .filter(|&n| own.events[n].kind == crate::core::record::Kind::Share)
        .collect();
    if shares.is_empty() {
        return Ok(());
    }
    let ids = match ctx.archive_identities(arch, identity) {
        Ok(Some(ids)) => ids,
        Ok(None) => return Ok(()),
        Err(e) if !identity.is_empty() => return Err(e),
        Err(_) => return Ok(()),
    };
    for n in shares {
        let e = &mut own.events[n];
        let Ok(rec) = arch.record(e.index) else {
            continue;
        };
        if rec.leaf_hash() != e.leaf_hash {
            continue;
        }
        if let Some(p) = arch.share_partner(&rec, &ids) {
            e.detail = Some(match e.detail.take() {
                Some(d) => format!("{d}; to partner {p}"),
                None => format!("to partner {p}"),
            });
        }
    }
    Ok(())
}

pub fn trace(ctx: &Ctx, a: TraceArgs) -> Result<i32, StoreError> {
    let arch = ctx.open()?;
    let archived = arch.archived_policies()?.map(|(i, p, _)| (i, p));
    let trust = TrustSet::from_args(ctx, &a.trust, archived)?;
    let i = ctx.resolve(&arch, &a.reference, None, &a.identity.identity)?;
    let mut t = trust.with(|t| arch.trace(i, t))?;
    name_partners(ctx, &arch, &mut t.hops, &a.identity.identity)?;
    let h = arch.check_held(&t.all_hops())?;
    t.findings.extend(h.findings);
    let mirrored = h.mirrored;
    let ok = t.findings.is_empty();
    if ctx.out.json {
        ctx.out
            .json(&serde_json::json!({ "ok": ok, "trace": t, "mirrored": mirrored }));
    } else {
        ctx.out.line(&format!(
            "document of record {} (commitment {})",
            t.document, t.commitment
        ));
        print_hops(ctx, &t.hops);
        print_lineage(ctx, &t.lineage, t.lineage_not_carried, "");
        print_mirrored(ctx, &mirrored);
        print_findings(ctx, &t.findings);
        if ok {
            let lineage = t.all_hops().len() - t.hops.len();
            ctx.out.line(&format!(
                "{} {} hop(s){}, every record and link verified",
                ctx.out.paint("verified:", Paint::Ok),
                t.hops.len(),
                if lineage > 0 {
                    format!(" and {lineage} in its lineage")
                } else {
                    String::new()
                }
            ));
        } else {
            ctx.out.line(&format!(
                "{} {} finding(s)",
                ctx.out.paint("NOT VERIFIED:", Paint::Bad),
                t.findings.len()
            ));
        }
    }
    Ok(if ok { EXIT_OK } else { EXIT_FINDING })
}
