//! `compartment set` and `compartment list` (FORMAT.md §4.18).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{Ctx, EXIT_OK};
use crate::store::StoreError;

#[derive(Debug, Args)]
#[command(after_help = "\
A compartment is a named set of age recipients that alone decrypt the
documents put in it (`ingest --compartment NAME`); what is derived from them
or noted about them stays in it. Give its members' own recipients (`custody
keygen` makes one; `actor add --recipient` records whose it is) and the
outlet's escrow recipient, or nobody outside the compartment can recover its
documents. The ledger shows a compartment's number and its recipients'
fingerprints; its name and the recipients are sealed to those recipients.

Changing the members takes effect for what is written next; `custody rekey`
re-encrypts what the compartment holds to its new members.

Examples:
  custody --key keys/admin.key compartment set c-17 --recipient escrow.txt \
      --recipient jo/recipient.txt --recipient al/recipient.txt -i keys/escrow.age
  custody compartment list -i keys/escrow.age
  custody ingest memo.pdf --compartment c-17 -i keys/escrow.age
  custody ingest memo.pdf --compartment '#1'")]
pub struct CompartmentArgs {
    #[command(subcommand)]
    cmd: CompartmentCmd,
    /// age identity file(s): read compartments' sealed names (default:
    /// custody.toml's `identity`).
    #[arg(
        short,
        long = "identity",
        value_name = "FILE",
        env = "CUSTODY_IDENTITY",
        global = true
    )]
    identity: Vec<PathBuf>,
    #[command(flatten)]
    log: super::events::LogKeyArg,
}

#[derive(Debug, Subcommand)]
enum CompartmentCmd {
    /// Make compartment NAME, or change its members (signed by an admin, --key).
    #[command(
        after_help = "Example:\n  custody --key keys/admin.key compartment set c-17 --recipient escrow.txt --recipient jo/recipient.txt -i keys/escrow.age"
    )]
    Set {
        /// Its name (1 to 64 of a-z 0-9 . _ -), sealed.
        name: String,
        /// A recipient of its documents (a member's own, the escrow's; text or a file); repeat for each.
        #[arg(long = "recipient", value_name = "RECIPIENT", required = true)]
        recipients: Vec<String>,
    },
    /// List the compartments (names with -i).
    #[command(
        after_help = "Examples:\n  custody compartment list\n  custody compartment list -i keys/escrow.age --json"
    )]
    List,
}

pub fn compartment(ctx: &Ctx, a: CompartmentArgs) -> Result<i32, StoreError> {
    match a.cmd {
        CompartmentCmd::List => {
            let arch = ctx.open()?;
            let ids = ctx.archive_identities(&arch, &a.identity)?;
            let all = arch.compartments(ids.as_ref())?;
            if ctx.out.json {
                ctx.out.json(&all);
                return Ok(EXIT_OK);
            }
            if all.is_empty() {
                ctx.out
                    .info("no compartments (make one with `custody compartment set`)");
            }
            for c in &all {
                ctx.out.data_line(&format!(
                    "#{:<4} {:<20} {} member recipient(s) [{}], set by record {}{}",
                    c.id,
                    c.name.as_deref().unwrap_or("(name sealed)"),
                    c.members.len(),
                    c.members
                        .iter()
                        .map(|m| m.to_hex()[..8].to_string())
                        .collect::<Vec<_>>()
                        .join(" "),
                    c.record,
                    if c.cached {
                        ""
                    } else {
                        "; not in custody.toml: run `compartment set` again to write to it here"
                    }
                ));
            }
            Ok(EXIT_OK)
        }
        CompartmentCmd::Set { name, recipients } => {
            if !crate::core::record::valid_actor_name(&name) {
                return Err(StoreError::Input(format!(
                    "compartment name {}: use 1 to 64 of a-z 0-9 . _ -",
                    crate::core::redact::quote(&name)
                )));
            }
            let members = super::archive::parse_recipients("--recipient", &recipients)?;
            let mut arch = ctx.open_as_actor()?;
            let log = ctx.archive_signer(&mut arch, a.log.signing_key.as_deref())?;
            let ids = ctx.archive_identities(&arch, &a.identity)?.ok_or_else(|| {
                StoreError::Input(
                    "compartment names are sealed: give -i IDENTITY (one of the archive's recipients) so that an existing one is found".into(),
                )
            })?;
            let escrow = arch
                .recipients()
                .iter()
                .any(|r| members.iter().any(|m| m.fingerprint() == r.fingerprint()));
            let (id, rec) = arch.set_compartment(&name, members, &ids, &log)?;
            if !escrow {
                ctx.out.warn(
                    "none of the archive's recipients (`custody config show`) is among the compartment's: only its members can decrypt its documents, and no escrow identity can recover them",
                );
            }
            match rec {
                Some(r) if ctx.out.json => ctx.out.json(&serde_json::json!({
                    "id": id,
                    "index": r.body.index,
                    "summary": r.body.payload.summary(),
                })),
                Some(r) => ctx.out.data_line(&format!(
                    "compartment {name} is #{id}, recorded as record {}: {}",
                    r.body.index,
                    r.body.payload.summary()
                )),
                None if ctx.out.json => ctx.out.json(&serde_json::json!({ "id": id })),
                None => ctx.out.data_line(&format!(
                    "compartment {name} is #{id}, already with these members; custody.toml holds them"
                )),
            }
            Ok(EXIT_OK)
        }
    }
}
