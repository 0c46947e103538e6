//! `config show|set` and `upgrade`: the archive's configuration as signed
//! ledger records (FORMAT.md §4.15), and the one-time move of an archive of
//! made before separation of duties (FORMAT.md §4.14).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{Ctx, EXIT_OK};
use crate::core::crypto::fingerprints;
use crate::core::policy::Policy;
use crate::core::record::{ArchiveConfig, Record, Role, MAX_POLICY_LEN};
use crate::core::time;
use crate::store::{io_err, StoreError};

#[derive(Debug, Args)]
#[command(after_help = "\
The configuration is a signed record of the ledger (an admin's), not the file:
custody.toml only caches it, and `verify` reports a custody.toml that differs.
`set` keeps what it is not told to change.

Examples:
  custody config show
  custody config set --recipient keys/recipient.txt --recipient age1… --key keys/admin.key
  custody config set --approvals editor,legal
  custody config set --partner-policy partners.policy --own-policy witnesses.policy
  custody config set --partner-policy none")]
pub struct ConfigArgs {
    #[command(subcommand)]
    cmd: ConfigCmd,
}

#[derive(Debug, Subcommand)]
enum ConfigCmd {
    /// Show the latest configuration record and whether custody.toml agrees.
    #[command(after_help = "Examples:\n  custody config show\n  custody config show --json")]
    Show,
    /// Sign a new configuration record (admin's --key) and update custody.toml.
    #[command(
        after_help = "Examples:\n  custody config set --recipient keys/recipient.txt --recipient age1… --key keys/admin.key\n  custody config set --approvals editor,legal\n  custody config set --partner-policy partners.policy --own-policy none"
    )]
    Set(SetArgs),
}

#[derive(Debug, Args)]
struct SetArgs {
    /// The archive's recipients from now on (replaces the list; repeatable):
    /// age1…, ssh-ed25519 …, or a file of them.
    #[arg(long = "recipient", value_name = "RECIPIENT|FILE")]
    recipients: Vec<String>,
    /// Roles whose approval publication needs, comma-separated (`none` for no approval).
    #[arg(long, value_name = "ROLES")]
    approvals: Option<String>,
    /// C2SP tlog-policy file that partners' bundles must meet (`none` to drop it).
    #[arg(long, value_name = "FILE|none")]
    partner_policy: Option<String>,
    /// C2SP tlog-policy file that this log's own checkpoints must meet (`none` to drop it).
    #[arg(long, value_name = "FILE|none")]
    own_policy: Option<String>,
    /// The log's signing key, for the checkpoint (default: $CUSTODY_SIGNING_KEY, else custody.toml).
    #[arg(long, value_name = "FILE")]
    signing_key: Option<PathBuf>,
}

#[derive(Serialize)]
struct ConfigView {
    record: Option<u64>,
    time: Option<String>,
    recipients: Vec<String>,
    approvals: Vec<&'static str>,
    partner_policy: String,
    own_policy: String,
    custody_toml_agrees: bool,
    disagreement: Option<String>,
}

fn view(rec: Option<&Record>, c: &ArchiveConfig, disagreement: Option<String>) -> ConfigView {
    ConfigView {
        record: rec.map(|r| r.body.index),
        time: rec.map(|r| time::rfc3339(r.body.time_ms)),
        recipients: c.recipients.iter().map(|d| d.to_hex()).collect(),
        approvals: c.approvals.iter().map(|r| r.as_str()).collect(),
        partner_policy: c.partner_policy.clone(),
        own_policy: c.own_policy.clone(),
        custody_toml_agrees: disagreement.is_none(),
        disagreement,
    }
}

fn print_view(ctx: &Ctx, v: &ConfigView) {
    if ctx.out.json {
        ctx.out.json(v);
        return;
    }
    match (v.record, &v.time) {
        (Some(i), Some(t)) => ctx.out.line(&format!("configuration record {i} ({t})")),
        _ => ctx.out.line(
            "no configuration record: made before separation of duties (run `custody upgrade`)",
        ),
    }
    for r in &v.recipients {
        ctx.out.line(&format!("recipient:       {r}"));
    }
    ctx.out.line(&format!(
        "approvals:       {}",
        if v.approvals.is_empty() {
            "none".to_string()
        } else {
            v.approvals.join(", ")
        }
    ));
    for (what, p) in [
        ("partner policy:", &v.partner_policy),
        ("own policy:    ", &v.own_policy),
    ] {
        if p.is_empty() {
            ctx.out.line(&format!("{what}  none"));
        } else {
            ctx.out.line(what);
            for l in p.lines() {
                ctx.out.data_line(&format!("  {l}"));
            }
        }
    }
    match &v.disagreement {
        None => ctx.out.line("custody.toml:    agrees"),
        Some(d) => ctx
            .out
            .data_line(&format!("custody.toml:    DISAGREES: {d}")),
    }
}

pub fn config(ctx: &Ctx, a: ConfigArgs) -> Result<i32, StoreError> {
    match a.cmd {
        ConfigCmd::Show => {
            let arch = ctx.open()?;
            let v = match arch.ledger_config()? {
                Some((i, c)) => view(Some(&arch.record(i)?), &c, arch.config_disagreement()?),
                None => view(None, &arch.config_from_toml(), None),
            };
            print_view(ctx, &v);
            Ok(EXIT_OK)
        }
        ConfigCmd::Set(s) => set(ctx, s),
    }
}

/// Reads a policy argument: `none`, or a C2SP tlog-policy file that parses.
fn read_policy(arg: &str, flag: &str) -> Result<String, StoreError> {
    if arg == "none" {
        return Ok(String::new());
    }
    let p = PathBuf::from(arg);
    // FORMAT.md §4.15: a policy a configuration record holds, from a file or a pipe.
    let bytes = crate::store::files::input::read_input(&p, MAX_POLICY_LEN as u64, "a policy")?;
    let shown = crate::core::redact::path(&p);
    let text = String::from_utf8(bytes)
        .map_err(|_| StoreError::Input(format!("{flag} {shown}: not UTF-8")))?;
    Policy::parse(&text).map_err(|e| StoreError::Input(format!("{flag} {shown}: {e}")))?;
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(StoreError::Input(format!(
            "{flag} {shown}: holds control characters (only line feeds may separate lines)"
        )));
    }
    Ok(text)
}

fn parse_approvals(s: &str) -> Result<Vec<Role>, StoreError> {
    if s == "none" {
        return Ok(Vec::new());
    }
    let mut v = Vec::new();
    let approvers = crate::core::actors::allowed_roles(crate::core::record::Kind::Approve);
    for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match Role::parse(name) {
            Some(r) if approvers.contains(&r) => v.push(r),
            _ => {
                return Err(StoreError::Input(format!(
                    "--approvals: {} is not a role that may approve (editor, legal, or none)",
                    crate::core::redact::quote(name)
                )))
            }
        }
    }
    v.sort();
    v.dedup();
    Ok(v)
}

fn set(ctx: &Ctx, s: SetArgs) -> Result<i32, StoreError> {
    if s.recipients.is_empty()
        && s.approvals.is_none()
        && s.partner_policy.is_none()
        && s.own_policy.is_none()
    {
        return Err(StoreError::Input(
            "nothing to change: give --recipient, --approvals, --partner-policy or --own-policy"
                .into(),
        ));
    }
    // Read and check every input before anything is written.
    let recipients = if s.recipients.is_empty() {
        None
    } else {
        Some(super::archive::parse_recipients(
            "--recipient",
            &s.recipients,
        )?)
    };
    let approvals = s.approvals.as_deref().map(parse_approvals).transpose()?;
    let partner = s
        .partner_policy
        .as_deref()
        .map(|p| read_policy(p, "--partner-policy"))
        .transpose()?;
    let own = s
        .own_policy
        .as_deref()
        .map(|p| read_policy(p, "--own-policy"))
        .transpose()?;
    let mut arch = ctx.open_as_actor()?;
    let log = ctx.archive_signer(&mut arch, s.signing_key.as_deref())?;
    let (_, mut cfg) = arch
        .ledger_config()?
        .ok_or_else(|| StoreError::Internal("a configured archive has no config record".into()))?;
    let mut toml = arch.config().clone();
    if let Some(r) = &recipients {
        let mut fps = fingerprints(r);
        fps.sort();
        fps.dedup();
        if fps.len() > 255 {
            return Err(StoreError::Input("at most 255 recipients".into()));
        }
        cfg.recipients = fps;
        toml.recipients = r.iter().map(|k| k.canonical()).collect();
    }
    if let Some(a) = approvals {
        toml.publication_approvals = a.iter().map(|r| r.as_str().to_string()).collect();
        cfg.approvals = a;
    }
    if let Some(p) = partner {
        cfg.partner_policy = p;
    }
    if let Some(p) = own {
        cfg.own_policy = p;
    }
    let rec = arch.set_config(cfg.clone(), toml, &log)?;
    let v = view(Some(&rec), &cfg, arch.config_disagreement()?);
    if !ctx.out.json {
        ctx.out.data_line(&format!(
            "signed configuration record {} as {}",
            rec.body.index,
            arch.signer().name()
        ));
    }
    print_view(ctx, &v);
    Ok(EXIT_OK)
}

#[derive(Debug, Args)]
#[command(after_help = "\
Moves an archive made before separation of duties (no configuration record;
the log key signed its records) forward, once: the whole ledger is verified first; then the log
key adds --admin-key's holder as an admin (unless they already are one), the
admin signs the archive's first configuration record (custody.toml's recipients
and publication approvals), and the log key signs a checkpoint. From then on
the log key signs checkpoints only and every record is signed by an actor.
Everything recorded before stays as it was and keeps verifying.

Example:
  custody upgrade --admin-key ~/custody-keys/admin.key --signing-key ~/custody-keys/signing.key")]
pub struct UpgradeArgs {
    /// The first administrator's personal key (admin.key from `custody keygen`).
    #[arg(long, value_name = "FILE")]
    admin_key: PathBuf,
    /// Their actor name, if they are not an actor yet.
    #[arg(long, value_name = "NAME", default_value = "admin")]
    admin_name: String,
    /// The log's signing key (default: $CUSTODY_SIGNING_KEY, else custody.toml).
    #[arg(long, value_name = "FILE")]
    signing_key: Option<PathBuf>,
    /// Remember --admin-key's path in custody.toml as the default `key`.
    #[arg(long)]
    remember_key: bool,
}

pub fn upgrade(ctx: &Ctx, a: UpgradeArgs) -> Result<i32, StoreError> {
    if !crate::core::record::valid_actor_name(&a.admin_name) {
        return Err(StoreError::Input(format!(
            "--admin-name {}: an actor name is 1 to 64 of a-z 0-9 . _ -, starting with a letter or digit",
            crate::core::redact::quote(&a.admin_name)
        )));
    }
    let admin = ctx.load_signer(&a.admin_key)?;
    let mut arch = ctx.open()?;
    ctx.check_before_write(&mut arch)?;
    if let Some(at) = arch.configured_at()? {
        return Err(StoreError::Input(format!(
            "the archive is already configured (record {at}); nothing to upgrade"
        )));
    }
    let log = ctx.archive_signer(&mut arch, a.signing_key.as_deref())?;
    let rec = arch.configure(&log, admin, &a.admin_name)?;
    // What the administrator just signed, and who else may administer.
    let cfg = arch.config_from_toml();
    let admins: Vec<String> = arch
        .actors_at(arch.size()?)?
        .all()
        .filter(|x| x.role == Role::Admin && x.revoked.is_none())
        .map(|x| x.name.clone())
        .collect();
    if a.remember_key {
        let p = std::fs::canonicalize(&a.admin_key).map_err(|e| io_err(&a.admin_key, e))?;
        arch.remember_actor_key(p)?;
    }
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({
            "configured_at": rec.body.index,
            "admin": arch.signer().name(),
            "admins": admins,
            "recipients": arch.config().recipients,
            "approvals": cfg.approvals.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            "size": arch.size()?,
        }));
    } else {
        ctx.out.data_line(&format!(
            "upgraded: configuration record {} signed by {}; from now on the log key signs checkpoints only",
            rec.body.index,
            arch.signer().name()
        ));
        for r in &arch.config().recipients {
            ctx.out.line(&format!("recipient:  {r}"));
        }
        ctx.out.line(&format!(
            "approvals:  {}",
            cfg.approvals
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        ctx.out.line(&format!(
            "admins:     {} (check that each is yours: `custody actor list`)",
            admins.join(", ")
        ));
    }
    Ok(EXIT_OK)
}
