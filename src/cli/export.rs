//! `custody export`: an evidence package for a court, an ombudsman or a
//! fact-checker (FORMAT.md §15).

use std::path::PathBuf;

use clap::Args;

use super::sharing::{TrustArgs, TrustSet};
use super::{Ctx, EXIT_OK};
use crate::store::ops::export::ExportOptions;
use crate::store::StoreError;

#[derive(Debug, Args)]
#[command(after_help = "\
Writes a new directory that someone without custody can check: for each
document, the document itself (or, with --digest-only, only its SHA-256),
the opening of its content commitment, every record of its custody across
outlets (derivations included) as C2SP tlog-proofs with the signed
checkpoints and cosignatures, a consistency proof that this log was not
rewritten since the document arrived, the stored age file, and the audit
report (JSON and HTML); with README.txt, which says how to check each part
with sha256sum, the age CLI or custody, and verify.py, which checks them all
with Python 3's standard library. The directory appears complete or not at
all; it must not exist yet, nor be inside the archive. Writes nothing to
the archive.

Examples:
  custody export 3 -o memo-evidence -i keys-example/dropsite/identity.age
  python3 memo-evidence/verify.py
  custody export 3 7 --digest-only -o for-the-ombudsman
  custody export 3 7 9 --format ftm --dataset gaza-memos -o lakehouse   (for OpenAleph, Datashare)")]
pub struct ExportArgs {
    /// The documents: any record about each (index, hex digest prefix, or
    /// its name or path).
    #[arg(required = true, value_name = "REF")]
    references: Vec<String>,
    /// The directory to create.
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
    /// Leave the documents out: their SHA-256 and openings only.
    #[arg(long, conflicts_with = "format")]
    digest_only: bool,
    /// `ftm`: the documents, decrypted, in the FollowTheMoney lakehouse
    /// layout that OpenAleph, Datashare and Liquid import (files by
    /// SHA-256 and entities.ftm.json, each entity naming its custody record
    /// and commitment; FORMAT.md §15.1), instead of an evidence package.
    #[arg(long, value_parser = ["ftm"])]
    format: Option<String>,
    /// The lakehouse dataset's name (with --format ftm).
    #[arg(long, default_value = "custody", requires = "format")]
    dataset: String,
    /// age identity that opens the documents (default: custody.toml's `identity`).
    #[arg(
        short,
        long = "identity",
        value_name = "FILE",
        env = "CUSTODY_IDENTITY"
    )]
    identity: Vec<PathBuf>,
    #[command(flatten)]
    trust: TrustArgs,
}

pub fn export(ctx: &Ctx, a: ExportArgs) -> Result<i32, StoreError> {
    let arch = ctx.open()?;
    let ids = ctx.archive_identities(&arch, &a.identity)?.ok_or_else(|| {
        StoreError::Input(
            "an export needs the documents' openings: give -i IDENTITY (or set `identity` in custody.toml)"
                .into(),
        )
    })?;
    let refs = a
        .references
        .iter()
        .map(|r| ctx.resolve(&arch, r, Some(&ids), &a.identity))
        .collect::<Result<Vec<u64>, _>>()?;
    if a.format.is_some() {
        return export_ftm(ctx, &arch, &refs, &ids, &a);
    }
    let archived = arch.archived_policies()?.map(|(i, p, _)| (i, p));
    let trust = TrustSet::from_args(ctx, &a.trust, archived)?;
    let pb = ctx.out.progress(0, true, "export");
    let r = trust.with(|t| {
        arch.export(
            &refs,
            &a.output,
            &ExportOptions {
                ids: &ids,
                trust: t,
                digest_only: a.digest_only,
            },
            &mut |n| pb.inc(n),
        )
    });
    pb.finish_and_clear();
    let x = r?;
    if ctx.out.json {
        ctx.out.json(&x);
        return Ok(EXIT_OK);
    }
    for d in &x.manifest.documents {
        ctx.out.data_line(&format!(
            "record {}  {}  sha256 {}  {} record(s) of custody{}",
            d.index,
            crate::core::redact::shown(&d.name),
            d.sha256,
            d.proofs.len(),
            if d.document.is_some() {
                ""
            } else {
                "  (digest only)"
            }
        ));
    }
    ctx.out.line(&format!(
        "exported {} document(s) to {}; anyone checks it with `python3 {}/verify.py` (README.txt says how, part by part)",
        x.manifest.documents.len(),
        x.directory.display(),
        x.directory.display()
    ));
    Ok(EXIT_OK)
}

/// `--format ftm`: the documents in the FollowTheMoney lakehouse layout.
fn export_ftm(
    ctx: &Ctx,
    arch: &crate::store::Archive,
    refs: &[u64],
    ids: &crate::core::crypto::Identities,
    a: &ExportArgs,
) -> Result<i32, StoreError> {
    let pb = ctx.out.progress(0, true, "export");
    let r = arch.export_ftm(refs, &a.output, ids, &a.dataset, &mut |n| pb.inc(n));
    pb.finish_and_clear();
    let x = r?;
    if ctx.out.json {
        ctx.out.json(&x);
        return Ok(EXIT_OK);
    }
    for d in &x.documents {
        ctx.out.data_line(&format!(
            "record {}  {}  sha256 {}  entity {}",
            d.index,
            crate::core::redact::shown(&d.name),
            d.sha256,
            d.entity
        ));
    }
    ctx.out.line(&format!(
        "exported {} document(s), decrypted, to {}/{} (FollowTheMoney lakehouse: archive/ and entities.ftm.json)",
        x.documents.len(),
        x.directory.display(),
        x.dataset
    ));
    Ok(EXIT_OK)
}
