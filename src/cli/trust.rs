//! `custody trust add|list|remove`: the per-user store of named log and
//! witness keys, and of partners' age recipients under their names.

use clap::{Args, Subcommand};

use std::path::Path;

use super::archive::parse_recipients;
use super::policy_args::read_vkey;
use super::{Ctx, EXIT_OK};
use crate::store::ops::trust;
use crate::store::StoreError;

#[derive(Debug, Args)]
#[command(after_help = "\
The trust store is $CUSTODY_TRUST_STORE, else $XDG_CONFIG_HOME/custody/trust.toml,
else ~/.config/custody/trust.toml. A key's kind comes from its algorithm:
alg 0x01 vkeys are logs (signing.vkey), alg 0x04 vkeys are witnesses (witness.vkey).
`verify --quorum K` without --witness counts the trusted witnesses.
A partner's age recipient (--recipient) names the partner in `share`: a share
to it records NAME, sealed (docs/FORMAT.md §5.4, §11.5).

Examples:
  custody trust add guardian-witness keys/guardian/witness.vkey
  custody trust add dropsite 'dropsite.example/leaks+1a2b3c4d+AX…'
  custody trust add guardian --recipient keys/guardian/recipient.txt
  custody trust list --json
  custody trust remove dropsite")]
pub struct TrustArgs {
    #[command(subcommand)]
    action: TrustAction,
}

#[derive(Debug, Subcommand)]
enum TrustAction {
    /// Trust a key under NAME (vkey text or a file holding it), or record a
    /// partner's age recipient(s) under the partner's NAME (--recipient).
    #[command(
        after_help = "A partner's NAME is 1 to 64 of a-z 0-9 . _ - (it may be the name of its log key too);\n`custody share --to` one of its recipients records the share as to NAME.\n\nExamples:\n  custody trust add guardian-witness keys/guardian/witness.vkey\n  custody trust add dropsite 'dropsite.example/leaks+1a2b3c4d+AX…'\n  custody trust add guardian --recipient keys/guardian/recipient.txt"
    )]
    Add {
        name: String,
        #[arg(required_unless_present = "recipient")]
        vkey: Option<String>,
        /// A partner's age recipient (age1pq1…, age1…, ssh-ed25519 …) or a
        /// file of them, recorded under NAME instead of a key; repeatable.
        #[arg(long, value_name = "RECIPIENT|FILE", conflicts_with = "vkey")]
        recipient: Vec<String>,
    },
    /// List the trusted keys.
    #[command(after_help = "Examples:\n  custody trust list\n  custody trust list --json")]
    List,
    /// Forget the key named NAME (--recipient: the partner NAME's recipients).
    #[command(
        after_help = "Examples:\n  custody trust remove dropsite\n  custody trust remove guardian --recipient"
    )]
    Remove {
        name: String,
        /// Forget the partner's recipients recorded under NAME, not a key.
        #[arg(long)]
        recipient: bool,
    },
}

pub fn run(ctx: &Ctx, a: TrustArgs) -> Result<i32, StoreError> {
    let path = trust::default_path()?;
    let mut store = trust::TrustStore::load(&path)?;
    match a.action {
        TrustAction::Add {
            name,
            vkey,
            recipient,
        } => {
            check_name(&name)?;
            match vkey {
                Some(vkey) => add_key(ctx, &path, &mut store, &name, &vkey)?,
                None => add_recipients(ctx, &path, &mut store, &name, &recipient)?,
            }
        }
        TrustAction::List => list(ctx, &path, &store),
        TrustAction::Remove { name, recipient } => {
            remove(ctx, &path, &mut store, &name, recipient)?
        }
    }
    Ok(EXIT_OK)
}

/// A secret key (or a bare seed) typed as the name would be stored in
/// trust.toml and printed by `trust list`.
fn check_name(name: &str) -> Result<(), StoreError> {
    if let Some(k) = crate::core::redact::secret_kind(name) {
        return Err(StoreError::Input(format!(
            "trust add NAME: the name is a secret key ({k}); give a short name, then the verifier key"
        )));
    }
    if crate::core::redact::is_blob(name) || !crate::core::redact::seed_spans(name).is_empty() {
        return Err(StoreError::Input(format!(
            "trust add NAME: the name is a {}-character encoded value that could be a key seed; give a short name, then the verifier key",
            name.chars().count()
        )));
    }
    Ok(())
}

/// `trust add NAME VKEY`.
fn add_key(
    ctx: &Ctx,
    path: &Path,
    store: &mut trust::TrustStore,
    name: &str,
    vkey: &str,
) -> Result<(), StoreError> {
    let key = read_vkey("trust add VKEY", vkey, None)?;
    let others: Vec<String> = store
        .same_name(&key)
        .iter()
        .map(|k| k.name.clone())
        .collect();
    let added = store.add(name, key)?.clone();
    store.save(path)?;
    if !others.is_empty() {
        ctx.out.warn(&format!(
            "the trust store already trusts another key named {} (as {}): two keys for one name are a key change or two histories of one log; confirm with its outlet by another channel, and `custody trust remove` the one that is not theirs",
            crate::core::redact::quote(added.vkey.name()),
            others.join(", ")
        ));
    }
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({
            "added": added, "trust_store": path,
        }));
    } else {
        ctx.out.data_line(&format!(
            "trusted {} as {} key {}",
            added.name,
            kind_str(added.kind),
            added.vkey
        ));
        ctx.out
            .info(&format!("trust store: {}", crate::core::redact::path(path)));
    }
    Ok(())
}

/// `trust add NAME --recipient R…`: the partner's recipients under its name.
fn add_recipients(
    ctx: &Ctx,
    path: &Path,
    store: &mut trust::TrustStore,
    name: &str,
    values: &[String],
) -> Result<(), StoreError> {
    let keys = parse_recipients("trust add --recipient", values)?;
    let mut added = Vec::new();
    for k in &keys {
        let r = store.add_recipient(name, k).map_err(|e| {
            StoreError::Input(format!("trust add {name}: {e}; nothing was written"))
        })?;
        added.push(r.clone());
    }
    store.save(path)?;
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({
            "added_recipients": added, "trust_store": path,
        }));
    } else {
        for (r, k) in added.iter().zip(&keys) {
            ctx.out.data_line(&format!(
                "recorded {} [{}] as partner {}",
                r.recipient,
                &k.fingerprint().to_hex()[..8],
                r.name
            ));
        }
        ctx.out
            .info(&format!("trust store: {}", crate::core::redact::path(path)));
    }
    Ok(())
}

/// `trust list`.
fn list(ctx: &Ctx, path: &Path, store: &trust::TrustStore) {
    let recipients: Vec<serde_json::Value> = store
        .recipients()
        .iter()
        .map(|(r, fp)| {
            serde_json::json!({"name": r.name, "recipient": r.recipient, "fingerprint": fp})
        })
        .collect();
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({
            "trust_store": path, "keys": store.entries(), "recipients": recipients,
        }));
    } else if store.entries().is_empty() && recipients.is_empty() {
        ctx.out.info(&format!(
            "no trusted keys in {}",
            crate::core::redact::path(path)
        ));
    } else {
        // Tab-separated: the name and vkey escaped, not the tabs.
        let shown = crate::core::redact::shown;
        for k in store.entries() {
            ctx.out.line(&format!(
                "{}\t{}\t{}",
                shown(&k.name),
                kind_str(k.kind),
                shown(&k.vkey.to_string())
            ));
        }
        for (r, _) in store.recipients() {
            ctx.out.line(&format!(
                "{}\trecipient\t{}",
                shown(&r.name),
                shown(&r.recipient)
            ));
        }
    }
}

/// `trust remove NAME [--recipient]`.
fn remove(
    ctx: &Ctx,
    path: &Path,
    store: &mut trust::TrustStore,
    name: &str,
    recipients: bool,
) -> Result<(), StoreError> {
    if recipients {
        let removed = store.remove_recipients(name)?;
        store.save(path)?;
        if ctx.out.json {
            ctx.out.json(&serde_json::json!({
                "removed_recipients": removed, "trust_store": path,
            }));
        } else {
            for r in &removed {
                ctx.out
                    .data_line(&format!("removed {} (partner {})", r.recipient, r.name));
            }
        }
        return Ok(());
    }
    if store.find(name).is_none() && store.recipients().iter().any(|(r, _)| r.name == name) {
        return Err(StoreError::Input(format!(
            "the trust store has no key named {}, only that partner's recipients; remove those with `custody trust remove {name} --recipient`",
            crate::core::redact::quote(name)
        )));
    }
    let removed = store.remove(name)?;
    store.save(path)?;
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({
            "removed": removed, "trust_store": path,
        }));
    } else {
        ctx.out
            .data_line(&format!("removed {} ({})", removed.name, removed.vkey));
    }
    Ok(())
}

fn kind_str(k: trust::TrustKind) -> &'static str {
    match k {
        trust::TrustKind::Log => "log",
        trust::TrustKind::Witness => "witness",
    }
}
