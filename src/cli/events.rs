//! `actor`, `derive`, `annotate`, `approve`, `grant`: people and the custody
//! events they sign (FORMAT.md §4.7–§4.14).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::archive::human_bytes;
use super::policy_args::read_vkey;
use super::{Ctx, EXIT_OK};
use crate::core::crypto;
use crate::core::hash::Digest;
use crate::core::keys::{SigAlg, VerifierKey};
use crate::core::record::{ActorAction, Purpose, Record, Relation, Role};
use crate::core::time;
use crate::store::archive::actors::ActorSealed;
use crate::store::archive::Archive;
use crate::store::files::walk;
use crate::store::ops::grant::FileAccess;
use crate::store::ops::trust::TrustStore;
use crate::store::{IngestOptions, NoObserver, StoreError};

/// The log key, which signs checkpoints (records are signed by `--key`'s actor
/// if given).
#[derive(Debug, Args)]
pub(crate) struct LogKeyArg {
    /// The log's signing key (default: $CUSTODY_SIGNING_KEY, else custody.toml).
    #[arg(long, value_name = "FILE")]
    pub(crate) signing_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
An archive's records are signed by actors: people with their own signing
keys (`custody keygen`) and a role, added by an admin (--key). Each person
signs what they do with --key FILE (or CUSTODY_KEY), and `verify` checks every
record against the signer's role at that point of the log.

The ledger names no one: an actor record states the role and the key; the
name, the key's name and the reason are sealed to the archive's recipients
(FORMAT.md §4.16). Actors are labelled #N (N: the record that added them);
with -i IDENTITY commands show and accept their names.

Each person can have their own age recipient (`custody keygen` makes one with
their signing key), sealed in their record with --recipient. Put it among the
archive's recipients (`custody config set --recipient`) and they decrypt with
their own identity, while the outlet's identity stays with the administrators
as escrow. `actor list -i` shows whose recipient is in force; `actor revoke`
says when the revoked person's recipient still is, and what to do.

Roles and what they may sign:
  journalist  ingest, derive, receive, share, access (extract), annotate
  editor      the same, and approve, grant, audit
  legal       access, annotate, approve, audit
  admin       everything but approve, and actor and config records

Examples:
  custody actor add alice keys/alice/signing.vkey --role journalist \
      --recipient keys/alice/recipient.txt
  custody actor list -i keys/identity.age
  custody actor rotate alice keys/alice-2026/signing.vkey -i keys/identity.age
  custody actor revoke '#5' --reason 'left the outlet'")]
pub struct ActorArgs {
    #[command(subcommand)]
    cmd: ActorCmd,
    #[command(flatten)]
    log: LogKeyArg,
    /// age identity file(s): show actors' names, and accept them for #N.
    #[arg(
        short,
        long = "identity",
        value_name = "FILE",
        env = "CUSTODY_IDENTITY",
        global = true
    )]
    identity: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum ActorCmd {
    /// Add an actor with a role and a verifier key (vkey text, file, or trust-store name).
    #[command(
        after_help = "Examples:\n  custody actor add alice keys/alice/signing.vkey --role journalist\n  custody actor add legal-desk keys/legal/signing.vkey --role legal --key keys/admin.key"
    )]
    Add {
        name: String,
        vkey: String,
        #[arg(long, value_parser = ["journalist", "editor", "legal", "admin"])]
        role: String,
        /// The person's own age recipient (text or recipient.txt), sealed in
        /// the record: what the archive's recipients should include for them.
        #[arg(long, value_name = "RECIPIENT")]
        recipient: Option<String>,
    },
    /// Revoke an actor (#N, or a name with -i): records signed by their key after this are findings.
    #[command(
        after_help = "Examples:\n  custody actor revoke '#5' --reason 'left the outlet'\n  custody actor revoke alice -i keys/identity.age --reason 'laptop stolen'"
    )]
    Revoke {
        name: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Replace an actor's key (#N, or a name with -i; their old key stops being valid).
    #[command(
        after_help = "Examples:\n  custody actor rotate '#5' keys/alice-2026/signing.vkey\n  custody actor rotate alice keys/alice-2026/signing.vkey -i keys/identity.age"
    )]
    Rotate {
        name: String,
        new_vkey: String,
        /// The person's new age recipient (text or recipient.txt), sealed in the record.
        #[arg(long, value_name = "RECIPIENT")]
        recipient: Option<String>,
    },
    /// List the actors, their roles and keys.
    #[command(
        after_help = "Examples:\n  custody actor list\n  custody actor list -i keys/identity.age --json"
    )]
    List,
}

#[derive(Serialize)]
struct ActorView {
    /// `#N` for an actor whose name is sealed, else its name.
    label: String,
    /// The name, when known (a version 1 record, or opened with -i).
    name: Option<String>,
    role: &'static str,
    key: String,
    added: u64,
    revoked: Option<u64>,
    /// Fingerprint (FORMAT.md §5.3) of the person's own age recipient,
    /// when sealed in their record and opened with -i.
    recipient: Option<String>,
    /// Whether that recipient is among the configuration's in force.
    recipient_in_configuration: Option<bool>,
    /// Fingerprints of recipients the person had before a `rotate` that are
    /// still among the configuration's recipients.
    earlier_recipients_in_configuration: Vec<String>,
}

/// A record as the event commands print it in JSON.
fn record_json(r: &Record) -> serde_json::Value {
    serde_json::json!({
        "index": r.body.index,
        "kind": r.body.payload.kind(),
        "time": time::rfc3339(r.body.time_ms),
        "signer": r.body.signer,
        "leaf_hash": r.leaf_hash(),
        "summary": r.body.payload.summary(),
    })
}

fn print_record(ctx: &Ctx, what: &str, r: &Record) {
    if ctx.out.json {
        ctx.out.json(&record_json(r));
    } else {
        ctx.out.data_line(&format!(
            "{what} as record {}: {}",
            r.body.index,
            r.body.payload.summary()
        ));
    }
}

pub fn actor(ctx: &Ctx, a: ActorArgs) -> Result<i32, StoreError> {
    let ids = ctx.optional_identities(&a.identity)?;
    if let ActorCmd::List = a.cmd {
        return list_actors(ctx, ids.as_ref());
    }
    let mut arch = ctx.open_as_actor()?;
    let log = ctx.archive_signer(&mut arch, a.log.signing_key.as_deref())?;
    let trust = ctx.trust_store()?;
    // Names are sealed: custody.toml's identity reads them when -i is not given.
    let ids = match ids {
        Some(ids) => Some(ids),
        None => ctx.archive_identities(&arch, &[])?,
    };
    let unchecked_name = matches!(a.cmd, ActorCmd::Add { .. }) && ids.is_none();
    let mut revoked = None;
    let change = match a.cmd {
        ActorCmd::Add {
            name,
            vkey,
            role,
            recipient,
        } => {
            let (k, role) = check_new_actor(&arch, &trust, ids.as_ref(), &name, &vkey, &role)?;
            let rc = one_recipient(recipient.as_deref())?;
            let sealed = ActorSealed {
                recipient: rc.as_ref(),
                ..ActorSealed::named(&name)
            };
            arch.sealed_change(ActorAction::Add, 0, role, &k, sealed)?
        }
        ActorCmd::Revoke { name, reason } => {
            let who = arch.actor_by_name(&name, ids.as_ref())?;
            revoked = Some(who.clone());
            arch.actor_change(ActorAction::Revoke, &who, None, &reason, None)?
        }
        ActorCmd::Rotate {
            name,
            new_vkey,
            recipient,
        } => {
            let k = read_vkey("actor rotate NEW_VKEY", &new_vkey, Some(&trust))?;
            let rc = one_recipient(recipient.as_deref())?;
            let who = arch.actor_by_name(&name, ids.as_ref())?;
            arch.actor_change(ActorAction::Rotate, &who, Some(&k), "", rc.as_ref())?
        }
        ActorCmd::List => unreachable!("handled above"),
    };
    let r = arch.change_actor(change, &log)?;
    print_record(ctx, "recorded", &r);
    if let Some(who) = revoked {
        warn_recipient_in_force(ctx, &arch, &who, ids.as_ref())?;
    }
    if unchecked_name {
        ctx.out.info(
            "note: actors' names are sealed, and without -i IDENTITY custody could not check that no other actor has this name",
        );
    }
    Ok(EXIT_OK)
}

/// The one recipient of `--recipient` (text or a file holding one).
fn one_recipient(arg: Option<&str>) -> Result<Option<crypto::RecipientKey>, StoreError> {
    let Some(a) = arg else {
        return Ok(None);
    };
    let mut v = super::archive::parse_recipients("--recipient", &[a.to_string()])?;
    if v.len() != 1 {
        return Err(StoreError::Input(format!(
            "--recipient: {} holds {} recipients; give the person's one recipient",
            crate::core::redact::quote(a),
            v.len()
        )));
    }
    Ok(v.pop())
}

/// After a revoke: each of the revoked person's own recipients (every one
/// their records named) that the archive still encrypts to is named with
/// what to do (FORMAT.md §4.17): until then, their identity opens what the
/// archive writes and holds. Active people who have the same recipient are
/// named too: removing it locks them out.
fn warn_recipient_in_force(
    ctx: &Ctx,
    arch: &Archive,
    who: &str,
    ids: Option<&crypto::Identities>,
) -> Result<(), StoreError> {
    let unknown = |why: &str| {
        ctx.out.info(&format!(
            "note: {why}, custody cannot tell whether this person's own age recipient is among the archive's recipients; if it is, remove it with `custody config set --recipient …` and run `custody rekey`"
        ))
    };
    let Some(ids) = ids else {
        unknown("without -i IDENTITY");
        return Ok(());
    };
    let people = arch.actor_recipients(ids)?;
    if people.unopened.contains(who) {
        unknown("as the identity given does not open this person's sealed details");
        return Ok(());
    }
    let Some(mine) = people.recipients.get(who) else {
        return Ok(());
    };
    let shown = |label: &str| {
        people
            .names
            .get(label)
            .cloned()
            .unwrap_or_else(|| label.to_string())
    };
    let actors = arch.actors_at(arch.size()?)?;
    let config = arch
        .ledger_config()?
        .map(|(_, c)| c.recipients)
        .unwrap_or_default();
    for r in mine {
        let fp = crypto::RecipientKey::parse(r)?.fingerprint();
        if !config.contains(&fp) {
            continue;
        }
        let others: Vec<String> = people
            .recipients
            .iter()
            .filter(|(l, v)| l.as_str() != who && v.contains(r))
            .filter(|(l, _)| actors.get(l).is_some_and(|a| a.revoked.is_none()))
            .map(|(l, _)| shown(l))
            .collect();
        let shared = if others.is_empty() {
            String::new()
        } else {
            format!(
                " ({} still active, sealed the same recipient: give them their own first)",
                others.join(", ")
            )
        };
        ctx.out.warn(&format!(
            "{}'s own age recipient [{}] is still among the archive's recipients: their identity opens every file written to them. Remove it (`custody config set --recipient …` with the others), then run `custody rekey -i ESCROW-IDENTITY`{shared}",
            shown(who),
            &fp.to_hex()[..8]
        ));
    }
    Ok(())
}

/// `actor list`: the actors at the log's end, as text or JSON.
fn list_actors(ctx: &Ctx, ids: Option<&crypto::Identities>) -> Result<i32, StoreError> {
    let arch = ctx.open()?;
    let actors = arch.actors_at(arch.size()?)?;
    let (names, recipients) = match ids {
        Some(ids) => (arch.actor_names(ids)?, arch.actor_recipients(ids)?),
        None => Default::default(),
    };
    let config = arch.ledger_config()?.map(|(_, c)| c.recipients);
    let fps = |label: &str| -> Vec<Digest> {
        recipients
            .recipients
            .get(label)
            .into_iter()
            .flatten()
            .filter_map(|r| crypto::RecipientKey::parse(r).ok())
            .map(|k| k.fingerprint())
            .collect()
    };
    // The current recipient is the last named; earlier ones may still be in force.
    let fingerprint = |label: &str| fps(label).last().copied();
    let earlier_in_force = |label: &str| -> Vec<String> {
        let all = fps(label);
        all[..all.len().saturating_sub(1)]
            .iter()
            .filter(|f| config.as_ref().is_some_and(|c| c.contains(f)))
            .map(|f| f.to_hex())
            .collect()
    };
    let v: Vec<ActorView> = actors
        .all()
        .map(|x| ActorView {
            label: x.name.clone(),
            name: if x.sealed {
                names.get(&x.name).cloned()
            } else {
                Some(x.name.clone())
            },
            role: x.role.as_str(),
            key: if x.key_sealed {
                format!("key ID {}", x.key.key_id())
            } else {
                x.key.encode()
            },
            added: x.added,
            revoked: x.revoked,
            recipient: fingerprint(&x.name).map(|f| f.to_hex()),
            recipient_in_configuration: fingerprint(&x.name)
                .and_then(|f| config.as_ref().map(|c| c.contains(&f))),
            earlier_recipients_in_configuration: earlier_in_force(&x.name),
        })
        .collect();
    print_actors(ctx, &v);
    Ok(EXIT_OK)
}

/// Prints `actor list`'s actors, as text or JSON.
fn print_actors(ctx: &Ctx, v: &[ActorView]) {
    if ctx.out.json {
        ctx.out.json(&v);
    } else if v.is_empty() {
        ctx.out
            .info("no actors: the log key signs everything (add one with `custody actor add`)");
    } else {
        for x in v {
            let who = match &x.name {
                Some(n) if *n != x.label => format!("{} {n}", x.label),
                Some(_) => x.label.clone(),
                None => format!("{} (name sealed)", x.label),
            };
            ctx.out.data_line(&format!(
                "{:<20} {:<10} {}  added at record {}{}",
                who,
                x.role,
                x.key,
                x.added,
                x.revoked
                    .map(|r| format!(", REVOKED at record {r}"))
                    .unwrap_or_default()
            ));
            if let Some(fp) = &x.recipient {
                let state = match x.recipient_in_configuration {
                    Some(true) => "among the archive's recipients",
                    Some(false) => "not among the archive's recipients",
                    None => "no configuration record",
                };
                ctx.out
                    .data_line(&format!("{:<20} age recipient [{}]: {state}", "", &fp[..8]));
            }
            for fp in &x.earlier_recipients_in_configuration {
                ctx.out.data_line(&format!(
                    "{:<20} earlier age recipient [{}]: still among the archive's recipients",
                    "",
                    &fp[..8]
                ));
            }
        }
    }
}

/// Checks `actor add`'s inputs: a signing vkey, a valid and free name, a role.
fn check_new_actor(
    arch: &Archive,
    trust: &TrustStore,
    ids: Option<&crypto::Identities>,
    name: &str,
    vkey: &str,
    role: &str,
) -> Result<(VerifierKey, Role), StoreError> {
    let k = read_vkey("actor add VKEY", vkey, Some(trust))?;
    if k.alg() != SigAlg::Ed25519 {
        return Err(StoreError::Input(format!(
            "{vkey} is not a signing key's vkey (Ed25519, alg 0x01): give the actor's signing.vkey"
        )));
    }
    if !crate::core::record::valid_actor_name(name) {
        return Err(StoreError::Input(format!(
            "actor name {}: use 1 to 64 of a-z 0-9 . _ -",
            crate::core::redact::quote(name)
        )));
    }
    // Found once, or several times: the name is taken.
    match arch.actor_by_name(name, ids) {
        Err(StoreError::NotFound(_)) => {}
        Ok(_) | Err(StoreError::Input(_)) => {
            return Err(StoreError::Input(format!(
                "an actor is already called {}: choose another name",
                crate::core::redact::quote(name)
            )))
        }
        Err(e) => return Err(e),
    }
    let role =
        Role::parse(role).ok_or_else(|| StoreError::Input(format!("unknown role {role}")))?;
    Ok((k, role))
}

#[derive(Debug, Args)]
#[command(after_help = "\
Ingests FILE (hashed, encrypted, stored like `custody ingest`) as a document
derived from PARENT: its record names each parent by index and content
commitment, so the lineage from the original to what is published is in the
ledger. Give --parent again for a document made from several.

Examples:
  custody derive 3 memo-en.pdf --relation translation --note 'EN translation by A.'
  custody derive 7 memo-en-redacted.pdf --relation redaction --parent 3")]
pub struct DeriveArgs {
    /// The parent document (any record about it, or its name or path).
    parent: String,
    /// The derived file.
    file: PathBuf,
    /// What the new document is to its parent(s).
    #[arg(long, value_parser = ["translation", "redaction", "excerpt", "ocr", "conversion"])]
    relation: String,
    /// More parents (a document made from several).
    #[arg(long = "parent", value_name = "REF")]
    more_parents: Vec<String>,
    /// A note, stored encrypted with the document's metadata.
    #[arg(long)]
    note: Option<String>,
    /// The compartment of the new document (its name with -i, or #N);
    /// default: that of its parents (FORMAT.md §4.18).
    #[arg(long, value_name = "NAME")]
    compartment: Option<String>,
    /// age identity file(s) that open the deduplication secret (default:
    /// custody.toml's `identity`; FORMAT.md §7.3).
    #[arg(
        short,
        long = "identity",
        value_name = "FILE",
        env = "CUSTODY_IDENTITY"
    )]
    identity: Vec<PathBuf>,
    #[command(flatten)]
    log: LogKeyArg,
}

pub fn derive(ctx: &Ctx, a: DeriveArgs) -> Result<i32, StoreError> {
    let mut arch = ctx.open_as_actor()?;
    let log = ctx.archive_signer(&mut arch, a.log.signing_key.as_deref())?;
    ctx.dedup_identities(&mut arch, &a.identity)?;
    let ids = ctx.archive_identities(&arch, &a.identity)?;
    // Each parent's document (a record about one stands for it), so that
    // what is printed is what the record names.
    let mut parents = Vec::new();
    for r in std::iter::once(&a.parent).chain(&a.more_parents) {
        let i = ctx.resolve(&arch, r, ids.as_ref(), &a.identity)?;
        parents.push(arch.document_of(arch.record(i)?)?.body.index);
    }
    parents.sort_unstable();
    parents.dedup();
    let into = match &a.compartment {
        Some(sel) => Some(arch.resolve_compartment(sel, ids.as_ref())?),
        None => parents_compartment(&arch, &parents)?,
    };
    if let Some(id) = into {
        arch.use_compartment(id)?;
    }
    let w = walk::collect(std::slice::from_ref(&a.file), false, Some(arch.root()))?;
    w.refuse_unreadable()?;
    let [file] = &w.files[..] else {
        return Err(StoreError::Input(format!(
            "{} is not one regular file",
            crate::core::redact::path(&a.file)
        )));
    };
    let relation = Relation::parse(&a.relation)
        .ok_or_else(|| StoreError::Input(format!("unknown relation {}", a.relation)))?;
    let opts = IngestOptions {
        source: None,
        case: None,
        note: a.note,
        again: false,
        envelope_per_document: false,
    };
    let (d, _) = arch.derive(file, &parents, relation, &log, &opts, &mut NoObserver)?;
    ctx.dedup_note(&arch);
    if ctx.out.json {
        ctx.out.json(&d);
    } else {
        ctx.out.data_line(&format!(
            "derived {} ({}, {}) as record {}: {} of record(s) {}",
            d.path,
            human_bytes(d.size),
            d.sha256,
            d.index,
            relation.as_str(),
            parents
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(EXIT_OK)
}

/// The compartment the parents are in (FORMAT.md §4.18): a document derived
/// from a compartment's stays in it; parents in two compartments need
/// `--compartment`.
fn parents_compartment(arch: &Archive, parents: &[u64]) -> Result<Option<u16>, StoreError> {
    let mut found: Option<u16> = None;
    for p in parents {
        let Some(id) = arch.document_compartment(&arch.record(*p)?)? else {
            continue;
        };
        match found {
            Some(f) if f != id => {
                return Err(StoreError::Input(format!(
                    "the parents are in compartments #{f} and #{id}: give --compartment for the derived document; nothing was written"
                )))
            }
            Some(_) | None => found = Some(id),
        }
    }
    Ok(found)
}

#[derive(Debug, Args)]
#[command(after_help = "\
The text is stored encrypted to the archive's recipients (to a compartment's,
for a document in one); the ledger records
who wrote a note about which document, and when.

Example:
  custody annotate 3 'authenticity confirmed with a second source'")]
pub struct AnnotateArgs {
    /// The document (any record about it; a name or path with an identity).
    reference: String,
    /// The note.
    text: String,
    #[command(flatten)]
    identity: super::RefIdentityArg,
    #[command(flatten)]
    log: LogKeyArg,
}

pub fn annotate(ctx: &Ctx, a: AnnotateArgs) -> Result<i32, StoreError> {
    let mut arch = ctx.open_as_actor()?;
    let log = ctx.archive_signer(&mut arch, a.log.signing_key.as_deref())?;
    let i = ctx.resolve(&arch, &a.reference, None, &a.identity.identity)?;
    // A note on a compartment's document is its members' (FORMAT.md §4.18).
    let doc = arch.document_of(arch.record(i)?)?;
    if let Some(id) = arch.document_compartment(&doc)? {
        arch.use_compartment(id)?;
    }
    let r = arch.annotate(i, &a.text, &log)?;
    print_record(ctx, "noted", &r);
    Ok(EXIT_OK)
}

#[derive(Debug, Args)]
#[command(after_help = "\
Only an actor with role editor or legal may approve (sign with --key). The
archive's config lists which roles must approve before publication
(publication_approvals, default editor and legal); `custody audit` reports the
approvals present and missing.

Example:
  custody --key keys/ed/signing.key approve 9 --for publication")]
pub struct ApproveArgs {
    /// The document (any record about it; a name or path with an identity).
    reference: String,
    #[command(flatten)]
    identity: super::RefIdentityArg,
    /// What the approval is for.
    #[arg(long = "for", value_parser = ["publication"], default_value = "publication")]
    purpose: String,
    #[command(flatten)]
    log: LogKeyArg,
}

pub fn approve(ctx: &Ctx, a: ApproveArgs) -> Result<i32, StoreError> {
    let mut arch = ctx.open_as_actor()?;
    let log = ctx.archive_signer(&mut arch, a.log.signing_key.as_deref())?;
    let i = ctx.resolve(&arch, &a.reference, None, &a.identity.identity)?;
    let r = arch.approve(i, Purpose::Publication, &log)?;
    print_record(ctx, "approved", &r);
    Ok(EXIT_OK)
}

#[derive(Debug, Args)]
#[command(after_help = "\
A journalist may decrypt a document they brought in, or one granted to them;
editors, lawyers and admins may decrypt any. `custody audit` flags a decryption
by anyone else.

With an identity that opens the document's file and the people's details
(the escrow's), the grant also gives the actor the document's key: their own
recipient is added to its file (a new age header, the payload unchanged),
recorded by a rewrap record after the grant. A document in a compartment
needs it. The envelope (name, path) is not given.

The record names the actor by the record that added them (#N), not by name.

Examples:
  custody --key keys/ed/signing.key grant 3 '#7'
  custody --key keys/ed/signing.key grant 3 bob -i keys/escrow.age")]
pub struct GrantArgs {
    /// The document (any record about it, or its name or path).
    reference: String,
    /// The actor given access: #N (`custody actor list`), or a name with -i.
    actor: String,
    /// age identity file(s): accept the actor's name (names are sealed), and
    /// add the actor's own recipient to the document's file.
    #[arg(
        short,
        long = "identity",
        value_name = "FILE",
        env = "CUSTODY_IDENTITY"
    )]
    identity: Vec<PathBuf>,
    #[command(flatten)]
    log: LogKeyArg,
}

pub fn grant(ctx: &Ctx, a: GrantArgs) -> Result<i32, StoreError> {
    let mut arch = ctx.open_as_actor()?;
    let log = ctx.archive_signer(&mut arch, a.log.signing_key.as_deref())?;
    let ids = ctx.archive_identities(&arch, &a.identity)?;
    let i = ctx.resolve(&arch, &a.reference, ids.as_ref(), &a.identity)?;
    let who = arch.actor_by_name(&a.actor, ids.as_ref())?;
    let g = arch.grant_access(i, &who, ids.as_ref(), &log)?;
    if ctx.out.json {
        let mut v = record_json(&g.grant);
        v["rewrap"] = g
            .rewrap
            .as_ref()
            .map_or(serde_json::Value::Null, record_json);
        v["document_file"] = serde_json::to_value(&g.file).unwrap_or_default();
        ctx.out.json(&v);
        return Ok(EXIT_OK);
    }
    print_record(ctx, "granted", &g.grant);
    if let Some(r) = &g.rewrap {
        print_record(ctx, "key given", r);
    }
    let who = &a.actor;
    let line = match &g.file {
        FileAccess::RecipientAdded { recipient } => format!(
            "{who}'s recipient [{}] now opens the document's file (its name and path stay in its envelope, sealed to its recipients as before)",
            &recipient.to_hex()[..8]
        ),
        FileAccess::AlreadyRecipient { recipient } => format!(
            "the document's file is already encrypted to {who}'s recipient [{}]",
            &recipient.to_hex()[..8]
        ),
        FileAccess::NoRecipient => format!(
            "{who} has no recipient of their own on record: the grant is a right; they decrypt with an identity the document is encrypted to"
        ),
        FileAccess::NotAsked => "the document's file is unchanged (give -i IDENTITY to add the actor's own recipient to it)".to_string(),
    };
    ctx.out.data_line(&line);
    Ok(EXIT_OK)
}
