//! `--witness VKEY… --quorum K | --policy FILE`: the witness quorum a
//! verifying command demands, and the trust store that names keys.

use std::path::PathBuf;

use clap::Args;

use super::Ctx;
use crate::core::keys::{SigAlg, VerifierKey};
use crate::core::policy::Policy;
use crate::store::trust::{self, TrustStore};
use crate::store::{io_err, StoreError};

/// Witness quorum options, flattened into verifying commands.
///
/// `--witness` without `--quorum` requires every given witness; `--quorum K`
/// without `--witness` takes the trust store's witness keys; `--policy`
/// reads a C2SP tlog-policy file instead.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct PolicyArgs {
    /// A witness key: vkey text, a file holding it, or a trust-store name (repeatable).
    #[arg(
        long = "witness",
        value_name = "VKEY|FILE|NAME",
        conflicts_with = "policy"
    )]
    pub witness: Vec<String>,
    /// Require K cosignatures from the --witness keys (default: all of them), or
    /// from the trust store's witnesses when no --witness is given.
    #[arg(long, value_name = "K", conflicts_with = "policy")]
    pub quorum: Option<usize>,
    /// A C2SP tlog-policy file (log, witness, group and quorum lines).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

/// Reads a vkey given as text, as a file holding it, or (when `trust` is
/// given) as a trust-store name.
pub(crate) fn read_vkey(s: &str, trust: Option<&TrustStore>) -> Result<VerifierKey, StoreError> {
    if let Ok(k) = VerifierKey::parse(s.trim()) {
        return Ok(k);
    }
    if let Some(k) = trust.and_then(|t| t.find(s)) {
        return Ok(k.vkey.clone());
    }
    let p = std::path::Path::new(s);
    if p.is_file() {
        let text = std::fs::read_to_string(p).map_err(|e| io_err(p, e))?;
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        return VerifierKey::parse(line)
            .map_err(|e| StoreError::Input(format!("{}: not a verifier key: {e}", p.display())));
    }
    Err(StoreError::Input(format!(
        "{s:?} is not a verifier key (name+keyid+base64), a file holding one, or a trust-store name"
    )))
}

impl Ctx {
    /// The trust store at `$CUSTODY_TRUST_STORE`, `$XDG_CONFIG_HOME/custody/trust.toml`
    /// or `~/.config/custody/trust.toml` (empty if missing).
    /// Without any location (no HOME), the store is empty.
    pub(crate) fn trust_store(&self) -> Result<TrustStore, StoreError> {
        match trust::default_path() {
            Ok(p) => TrustStore::load(&p),
            Err(_) => Ok(TrustStore::default()),
        }
    }

    /// The policy the options ask for; `None` when no quorum is requested.
    pub(crate) fn policy(&self, args: &PolicyArgs) -> Result<Option<Policy>, StoreError> {
        if let Some(p) = &args.policy {
            let meta = std::fs::metadata(p).map_err(|e| io_err(p, e))?;
            if meta.len() > crate::core::policy::MAX_POLICY_BYTES as u64 {
                return Err(crate::core::policy::PolicyError::TooLarge.into());
            }
            let text = std::fs::read_to_string(p).map_err(|e| io_err(p, e))?;
            return Ok(Some(Policy::parse(&text)?));
        }
        if args.witness.is_empty() && args.quorum.is_none() {
            return Ok(None);
        }
        let trust = self.trust_store()?;
        let keys: Vec<VerifierKey> = if args.witness.is_empty() {
            let k = trust.witness_keys();
            if k.is_empty() && args.quorum != Some(0) {
                return Err(StoreError::Input(
                    "--quorum without --witness uses the trust store's witnesses, and it has none; add one with `custody trust add NAME VKEY`".into(),
                ));
            }
            k
        } else {
            let mut v = Vec::new();
            for w in &args.witness {
                let k = read_vkey(w, Some(&trust))?;
                if k.alg() != SigAlg::CosignatureV1 {
                    return Err(StoreError::Input(format!(
                        "--witness {k} is not a witness key (cosignature/v1, alg 0x04); witnesses hand out their witness.vkey"
                    )));
                }
                v.push(k);
            }
            v
        };
        let k = args.quorum.unwrap_or(keys.len());
        Ok(Some(Policy::from_witnesses(keys, k)?))
    }
}
