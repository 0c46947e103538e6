//! `custody shares [PARTNER]`: what went to each partner (FORMAT.md §4.5,
//! §5.4): every share record, its document, the partner's name and
//! recipients, the payload's size and the note.

use std::path::{Path, PathBuf};

use clap::Args;

use super::archive::{human_bytes, parse_recipients};
use super::{Ctx, EXIT_OK};
use crate::core::crypto::RecipientKey;
use crate::core::record::valid_actor_name;
use crate::store::ops::shares::{PartnerFilter, ShareEntry, FROM_TRUST_STORE};
use crate::store::StoreError;

#[derive(Debug, Args)]
#[command(after_help = "\
Lists every share record of the log, oldest first: its time and index, the
document (its index, and its file name when the identity opens its envelope),
the partner's name, the fingerprints of the partner's recipients, the size of
the payload the bundle carried, and the note. The name and the note are
sealed with the record (FORMAT.md §5.4): the identity opens them (-i, else
the identity custody.toml names). A share whose details name no partner is
named from the trust store when it names all its recipients as one partner
(`custody trust add NAME --recipient FILE`), marked `(trust store)`; else its
recipients' fingerprints stand for the partner. A share whose sealed details
the identity does not open is listed with what its record says in clear, and
marked; it is left out when PARTNER is given.

PARTNER: a partner's name, an age recipient, a recipients file, or 8 to 64
hex digits of a recipient's fingerprint.

Examples:
  custody shares
  custody shares guardian --json
  custody shares keys-example/guardian/recipient.txt -i keys-example/dropsite/identity.age
  custody shares 3688b1a1")]
pub struct SharesArgs {
    /// Only the shares to this partner (name, recipient, recipients file, or fingerprint prefix).
    partner: Option<String>,
    /// age identity file(s) that open the sealed details (default: custody.toml's identity).
    #[arg(
        short,
        long = "identity",
        value_name = "FILE",
        env = "CUSTODY_IDENTITY"
    )]
    identity: Vec<PathBuf>,
}

/// What PARTNER selects (see [`SharesArgs`]).
fn parse_partner(p: &str) -> Result<PartnerFilter, StoreError> {
    let mut f = PartnerFilter::default();
    if let Ok(k) = RecipientKey::parse(p) {
        f.fingerprints.push(k.fingerprint());
        return Ok(f);
    }
    // A recipients file; a file that is not one may still be a name.
    if Path::new(p).is_file() {
        if let Ok(keys) = parse_recipients("shares PARTNER", &[p.to_string()]) {
            f.fingerprints = keys.iter().map(RecipientKey::fingerprint).collect();
        }
    }
    if valid_actor_name(p) {
        f.name = Some(p.to_string());
    }
    let hex = (8..=64).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_hexdigit());
    if hex {
        f.prefix = Some(p.to_ascii_lowercase());
    }
    if f.name.is_none() && f.prefix.is_none() && f.fingerprints.is_empty() {
        return Err(StoreError::Input(format!(
            "shares PARTNER: {} is not a partner's name (1 to 64 of a-z 0-9 . _ -), an age recipient, a recipients file or 8 to 64 hex digits of a fingerprint; give one of those (`custody shares` lists them)",
            crate::core::redact::quote(p)
        )));
    }
    Ok(f)
}

pub fn shares(ctx: &Ctx, a: SharesArgs) -> Result<i32, StoreError> {
    let filter = a.partner.as_deref().map(parse_partner).transpose()?;
    let arch = ctx.open()?;
    let Some(ids) = ctx.archive_identities(&arch, &a.identity)? else {
        return Err(StoreError::Input(
            "shares: the partners' names, recipients and notes are sealed (FORMAT.md §5.4) and no identity was given; give -i IDENTITY (or set `identity` in custody.toml)".into(),
        ));
    };
    let trust = ctx.trust_store()?;
    let all = arch.shares(&ids, Some(&trust))?;
    let total = all.len();
    let (list, unopened): (Vec<ShareEntry>, usize) = match &filter {
        None => (all, 0),
        Some(f) => {
            let unopened = all.iter().filter(|e| e.details_error.is_some()).count();
            (all.into_iter().filter(|e| f.matches(e)).collect(), unopened)
        }
    };
    if ctx.out.json {
        let mut v = serde_json::json!({ "shares": list });
        if let Some(p) = &a.partner {
            v["partner"] = p.as_str().into();
            v["unopened_left_out"] = unopened.into();
        }
        ctx.out.json(&v);
    } else {
        for e in &list {
            print_share(ctx, e);
        }
        if list.is_empty() {
            ctx.out.info(&match &a.partner {
                Some(p) => format!("no share to {p} among the {total} share record(s)"),
                None => "no share records (`custody share` makes them)".into(),
            });
        }
    }
    if unopened > 0 {
        ctx.out.warn(&format!(
            "{unopened} share record(s) whose sealed details this identity does not open are left out: it cannot tell whom they went to"
        ));
    }
    Ok(EXIT_OK)
}

/// One share, on one line (and a second when its details did not open).
fn print_share(ctx: &Ctx, e: &ShareEntry) {
    let doc = match &e.name {
        Some(n) => format!("document {} {n}", e.document),
        None => format!("document {}", e.document),
    };
    let fps: Vec<String> = e
        .recipients
        .iter()
        .map(|r| r.to_hex()[..8].to_string())
        .collect();
    let fps = fps.join(" ");
    let to = match (&e.partner, e.partner_from, &e.details_error) {
        (Some(p), Some(FROM_TRUST_STORE), _) => format!("to {p} (trust store) [{fps}]"),
        (Some(p), _, _) => format!("to {p} [{fps}]"),
        (None, _, Some(_)) => "to ? (sealed, NOT OPENED)".to_string(),
        (None, _, None) => format!("to [{fps}]"),
    };
    let note = e
        .note
        .as_ref()
        .map(|n| format!("  note: {n}"))
        .unwrap_or_default();
    ctx.out.data_line(&format!(
        "{:>6}  {}  {doc}  {to}  payload {}{note}",
        e.index,
        e.time,
        human_bytes(e.payload_size)
    ));
    if let Some(err) = &e.details_error {
        ctx.out
            .data_line(&format!("        sealed details not opened: {err}"));
    }
}
