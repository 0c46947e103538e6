//! `--witness VKEY… --quorum K | --policy FILE`: the witness quorum a
//! verifying command demands, and the trust store that names keys.

use std::path::PathBuf;

use clap::Args;

use super::Ctx;
use crate::core::keys::{SigAlg, VerifierKey};
use crate::core::policy::Policy;
use crate::core::redact;
use crate::store::files::input::read_input;
use crate::store::ops::trust::{self, TrustStore};
use crate::store::StoreError;

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
/// given) as a trust-store name; `what` names the argument in errors. A
/// secret key, inline or in the file, is refused naming only its kind.
pub(crate) fn read_vkey(
    what: &str,
    s: &str,
    trust: Option<&TrustStore>,
) -> Result<VerifierKey, StoreError> {
    const WANT: &str =
        "give the verifier key (name+keyid+base64, e.g. signing.vkey or witness.vkey)";
    if let Some(k) = redact::secret_kind(s) {
        return Err(StoreError::Input(format!(
            "{what}: the value is a secret key ({k}), not a verifier key; {WANT}"
        )));
    }
    if let Ok(k) = VerifierKey::parse(s.trim()) {
        return Ok(k);
    }
    if let Some(k) = trust.and_then(|t| t.find(s)) {
        return Ok(k.vkey.clone());
    }
    let p = std::path::Path::new(s);
    // A file, or a pipe such as `<(…)` (read within a time limit).
    if std::fs::metadata(p).is_ok_and(|m| !m.is_dir()) {
        let data = read_input(p, MAX_VKEY_FILE, "a verifier key file")?;
        if let Some(k) = redact::file_secret_kind(s, &data) {
            return Err(StoreError::Input(format!(
                "{what}: {} holds a secret key ({k}), not a verifier key; {WANT}",
                redact::path(p)
            )));
        }
        // Never quoted: a file that is not text is not a key file.
        let Ok(text) = std::str::from_utf8(&data) else {
            return Err(StoreError::Input(format!(
                "{what}: {} is not a key file (not UTF-8 text); {WANT}",
                redact::path(p)
            )));
        };
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        return VerifierKey::parse(line).map_err(|e| {
            StoreError::Input(format!(
                "{what}: {} does not hold a verifier key ({e}); {WANT}",
                redact::path(p)
            ))
        });
    }
    Err(StoreError::Input(format!(
        "{what}: {} is not a verifier key (name+keyid+base64), a file holding one, or a trust-store name; {WANT}",
        redact::quote(s)
    )))
}

/// Largest vkey file read (a vkey line is under 200 bytes; FORMAT.md §3.4).
const MAX_VKEY_FILE: u64 = 64 * 1024;

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

    /// The policy the options ask for or, when they ask for none, the one
    /// the archive's latest configuration record sets (FORMAT.md §4.15:
    /// `archived` is its index and policy text). Options that override a
    /// policy the archive sets print a warning.
    pub(crate) fn policy_or_archived(
        &self,
        args: &PolicyArgs,
        archived: Option<(u64, String)>,
        what: &str,
    ) -> Result<Option<Policy>, StoreError> {
        let archived = archived.filter(|(_, t)| !t.is_empty());
        match (self.policy(args)?, archived) {
            (Some(p), Some((at, _))) => {
                self.out.warn(&format!(
                    "the command line overrides the archive's {what} policy (configuration record {at})"
                ));
                Ok(Some(p))
            }
            (Some(p), None) => Ok(Some(p)),
            (None, Some((at, text))) => Policy::parse(&text).map(Some).map_err(|e| {
                StoreError::Input(format!(
                    "the archive's {what} policy (configuration record {at}) does not parse: {e}; replace it with `custody config set`"
                ))
            }),
            (None, None) => Ok(None),
        }
    }

    /// The policy the options ask for; `None` when no quorum is requested.
    pub(crate) fn policy(&self, args: &PolicyArgs) -> Result<Option<Policy>, StoreError> {
        if let Some(p) = &args.policy {
            // FORMAT.md §11.6: at most 64 KiB, from a file or a pipe.
            let max = crate::core::policy::MAX_POLICY_BYTES as u64;
            let data = read_input(p, max, "a tlog-policy file")?;
            if let Some(k) = redact::file_secret_kind(&p.to_string_lossy(), &data) {
                return Err(StoreError::Input(format!(
                    "--policy: {} holds a secret key ({k}), not a policy; give a C2SP tlog-policy file (log, witness, group and quorum lines)",
                    redact::path(p)
                )));
            }
            let text = String::from_utf8(data).map_err(|_| {
                StoreError::Input(format!(
                    "--policy: {} is not text; give a C2SP tlog-policy file (log, witness, group and quorum lines)",
                    redact::path(p)
                ))
            })?;
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
                let k = read_vkey("--witness", w, Some(&trust))?;
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
