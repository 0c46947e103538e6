//! `custody audit`: the report an editor or a lawyer reads before publication.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::sharing::{TrustArgs, TrustSet};
use super::{Ctx, EXIT_FINDING, EXIT_OK};
use crate::core::audit::{render_html, render_text};
use crate::store::ops::audit::AuditOptions;
use crate::store::StoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Html,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Re-verifies from the ledger files, for the document and its whole lineage (the
documents it was derived from, and those derived from it): every record's
signature and signer's role at that point of the log, every inclusion proof
against the latest checkpoint, its witness cosignatures, the evidence of
documents received from other outlets; then lists every event in time order
(who, role, when), every copy that left the outlet (shares) and every
decryption, the derivation path to the audited bytes, and the approvals
present and missing (custody.toml: publication_approvals).

Named findings: record_signature, inclusion_proof, actor_revoked, actor_role,
lineage_parent, approval_missing, access_unshared, custody_gap,
witness_quorum, evidence, and those of the other outlets' hops.
Exit 0: no finding; 1: findings (the report lists them); 2: could not run.

Examples:
  custody audit 9
  custody audit --file published/memo-en-redacted.pdf -i keys/identity.age
  custody audit 9 --format html -o audit-memo.html
  custody audit 9 --format json --sign       (records the audit in the ledger)")]
pub struct AuditArgs {
    /// The document (any record about it, or its name or path); or give --file.
    #[arg(required_unless_present = "file")]
    reference: Option<String>,
    /// The published file: the document is found by its content.
    #[arg(long, value_name = "FILE", conflicts_with = "reference")]
    file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Append an `audit` record (report digest and outcome) signed by you.
    #[arg(long)]
    sign: bool,
    /// age identity: shows names and notes, and finds --file without the log key.
    #[arg(short, long = "identity", value_name = "FILE")]
    identity: Vec<PathBuf>,
    #[command(flatten)]
    trust: TrustArgs,
    /// The log's signing key (default: $CUSTODY_SIGNING_KEY, else custody.toml).
    #[arg(long, value_name = "FILE")]
    signing_key: Option<PathBuf>,
}

pub fn audit(ctx: &Ctx, a: AuditArgs) -> Result<i32, StoreError> {
    let mut arch = if a.sign {
        ctx.open_as_actor()?
    } else {
        ctx.open()?
    };
    let ids = if a.identity.is_empty() {
        None
    } else {
        Some(ctx.load_identities(&a.identity)?)
    };
    // The log key is needed to sign, and helps find a file by content.
    let log = match (a.sign, &a.file) {
        (true, _) => Some(ctx.archive_signer(&mut arch, a.signing_key.as_deref())?),
        (false, Some(_)) => ctx.archive_signer(&mut arch, a.signing_key.as_deref()).ok(),
        (false, None) => None,
    };
    let (target, by) = match (&a.reference, &a.file) {
        (Some(r), _) => (ctx.resolve(&arch, r, ids.as_ref(), &a.identity)?, "ref"),
        (None, Some(f)) => (arch.find_by_content(f, log.as_ref(), ids.as_ref())?, "file"),
        (None, None) => return Err(StoreError::Input("give a REF or --file".into())),
    };
    let archived = arch.archived_policies()?.map(|(i, p, _)| (i, p));
    let trust = TrustSet::from_args(ctx, &a.trust, archived)?;
    let report = trust.with(|t| {
        arch.audit(
            target,
            by,
            &AuditOptions {
                ids: ids.as_ref(),
                trust: t,
            },
        )
    })?;
    // The JSON as printed by --format json is what an `audit` record commits to.
    let mut json =
        serde_json::to_vec_pretty(&report).map_err(|e| StoreError::Internal(e.to_string()))?;
    json.push(b'\n');
    // The global --json asks for the JSON report, as on every command.
    let format = match a.format {
        Format::Text if ctx.out.json => Format::Json,
        f => f,
    };
    let body = match format {
        Format::Json => json.clone(),
        Format::Html => render_html(&report).into_bytes(),
        Format::Text => {
            let color = a.output.is_none()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal();
            render_text(&report, color).into_bytes()
        }
    };
    let json_copy = match (a.sign, format, &a.output) {
        (false, _, _) | (true, Format::Json, _) => None,
        (true, _, Some(o)) => Some(PathBuf::from(format!("{}.json", o.display()))),
        (true, _, None) => {
            return Err(StoreError::Input(
                "--sign records the digest of the JSON report: use --format json, or -o FILE to keep FILE.json beside the report".into(),
            ))
        }
    };
    match &a.output {
        Some(p) => {
            crate::store::files::outfile::write_durable(p, &body, Some(arch.root()))?;
            ctx.out.info(&format!("report written to {}", p.display()));
        }
        None => ctx.out.raw(&body),
    }
    if let Some(p) = &json_copy {
        crate::store::files::outfile::write_durable(p, &json, Some(arch.root()))?;
        ctx.out
            .info(&format!("JSON report written to {}", p.display()));
    }
    if a.sign {
        let log = log.ok_or_else(|| StoreError::Internal("no log key".into()))?;
        let r = arch.record_audit(target, &json, report.findings.len() as u32, &log)?;
        ctx.out.info(&format!(
            "audit recorded as record {} (report sha256 {})",
            r.body.index,
            crate::core::hash::Digest::of(&json)
        ));
    }
    // Written to a file, the report says nothing on the terminal: the exit
    // code alone would not tell why.
    if a.output.is_some() && !report.ok {
        let checks: std::collections::BTreeSet<&str> =
            report.findings.iter().map(|f| f.check.as_str()).collect();
        ctx.out.warn(&format!(
            "{} finding(s) ({}): see the report (exit 1)",
            report.findings.len(),
            checks.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(if report.ok { EXIT_OK } else { EXIT_FINDING })
}
