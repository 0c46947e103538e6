//! `custody trust add|list|remove`: the per-user store of named log and witness keys.

use clap::{Args, Subcommand};

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

Examples:
  custody trust add guardian-witness keys/guardian/witness.vkey
  custody trust add dropsite 'dropsite.example/leaks+1a2b3c4d+AX…'
  custody trust list --json
  custody trust remove dropsite")]
pub struct TrustArgs {
    #[command(subcommand)]
    action: TrustAction,
}

#[derive(Debug, Subcommand)]
enum TrustAction {
    /// Trust a key under NAME (vkey text or a file holding it).
    #[command(
        after_help = "Examples:\n  custody trust add guardian-witness keys/guardian/witness.vkey\n  custody trust add dropsite 'dropsite.example/leaks+1a2b3c4d+AX…'"
    )]
    Add { name: String, vkey: String },
    /// List the trusted keys.
    #[command(after_help = "Examples:\n  custody trust list\n  custody trust list --json")]
    List,
    /// Forget the key named NAME.
    #[command(after_help = "Examples:\n  custody trust remove dropsite")]
    Remove { name: String },
}

pub fn run(ctx: &Ctx, a: TrustArgs) -> Result<i32, StoreError> {
    let path = trust::default_path()?;
    let mut store = trust::TrustStore::load(&path)?;
    match a.action {
        TrustAction::Add { name, vkey } => {
            // A secret key (or a bare seed) typed as the name would be
            // stored in trust.toml and printed by `trust list`.
            if let Some(k) = crate::core::redact::secret_kind(&name) {
                return Err(StoreError::Input(format!(
                    "trust add NAME: the name is a secret key ({k}); give a short name, then the verifier key"
                )));
            }
            if crate::core::redact::is_blob(&name)
                || !crate::core::redact::seed_spans(&name).is_empty()
            {
                return Err(StoreError::Input(format!(
                    "trust add NAME: the name is a {}-character encoded value that could be a key seed; give a short name, then the verifier key",
                    name.chars().count()
                )));
            }
            let key = read_vkey("trust add VKEY", &vkey, None)?;
            let others: Vec<String> = store
                .same_name(&key)
                .iter()
                .map(|k| k.name.clone())
                .collect();
            let added = store.add(&name, key)?.clone();
            store.save(&path)?;
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
                ctx.out.info(&format!(
                    "trust store: {}",
                    crate::core::redact::path(&path)
                ));
            }
        }
        TrustAction::List => {
            if ctx.out.json {
                ctx.out.json(&serde_json::json!({
                    "trust_store": path, "keys": store.entries(),
                }));
            } else if store.entries().is_empty() {
                ctx.out.info(&format!(
                    "no trusted keys in {}",
                    crate::core::redact::path(&path)
                ));
            } else {
                for k in store.entries() {
                    // Tab-separated: the name and vkey escaped, not the tabs.
                    let shown = crate::core::redact::shown;
                    ctx.out.line(&format!(
                        "{}\t{}\t{}",
                        shown(&k.name),
                        kind_str(k.kind),
                        shown(&k.vkey.to_string())
                    ));
                }
            }
        }
        TrustAction::Remove { name } => {
            let removed = store.remove(&name)?;
            store.save(&path)?;
            if ctx.out.json {
                ctx.out.json(&serde_json::json!({
                    "removed": removed, "trust_store": path,
                }));
            } else {
                ctx.out
                    .data_line(&format!("removed {} ({})", removed.name, removed.vkey));
            }
        }
    }
    Ok(EXIT_OK)
}

fn kind_str(k: trust::TrustKind) -> &'static str {
    match k {
        trust::TrustKind::Log => "log",
        trust::TrustKind::Witness => "witness",
    }
}
