//! `gc`, `migrate` and `rekey`: the blob store (FORMAT.md §7.7, §4.17).

use clap::Args;
use indicatif::ProgressBar;

use super::{Ctx, EXIT_FINDING, EXIT_OK};
use crate::store::files::remote::S3Settings;
use crate::store::ops::verify::VerifyObserver;
use crate::store::StoreError;

#[derive(Debug, Args)]
#[command(after_help = "\
Re-encrypts every blob (documents, metadata envelopes, sealed details, notes)
that is not encrypted to exactly the recipients of the configuration in force
(`custody config show`): after `config set --recipient` removed a revoked
journalist's or a lost laptop's key, or moved the archive to post-quantum
recipients. Each blob gets a new file key and a new file; a `rekey` record,
signed by an administrator (--key), puts the new file in the old one's place,
and the old file is removed once the record is durable. Documents keep their
commitments: `verify --deep` opens each one as before. Interrupted, run it
again: it finishes what was recorded and rekeys the rest.

The identity (-i) must open the blobs written before: an identity of the old
recipients, such as the outlet's escrow key. A removed identity decrypts
nothing the archive holds afterwards; copies made before stay readable to it.

Examples:
  custody --key keys/admin.key config set --recipient escrow.txt --recipient bob.txt
  custody --key keys/admin.key rekey -i keys/escrow.age --dry-run
  custody --key keys/admin.key rekey -i keys/escrow.age

A blob that cannot be read or opened (missing, damaged, not to the identity
given) is left as it was and listed, the others are re-encrypted, and the exit
code is 1: restore those files (from a copy, or a partner's bundle with
`receive`) and run rekey again.

Exit codes: 0 done (or nothing to do), 1 done except the blobs listed, which
still open with the old recipients' keys, 2 it could not run or stopped (what
was recorded before stays recorded: run it again).")]
pub struct RekeyArgs {
    /// age identity file(s) that open the blobs written before.
    #[arg(
        short,
        long = "identity",
        value_name = "FILE",
        env = "CUSTODY_IDENTITY"
    )]
    identity: Vec<std::path::PathBuf>,
    /// Count what would be re-encrypted, change nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    log: super::events::LogKeyArg,
}

pub fn rekey(ctx: &Ctx, a: RekeyArgs) -> Result<i32, StoreError> {
    let mut arch = ctx.open_as_actor()?;
    let ids = ctx.archive_identities(&arch, &a.identity)?.ok_or_else(|| {
        StoreError::Input(
            "rekey needs an identity that opens the blobs written before: give -i FILE".into(),
        )
    })?;
    let log = ctx.archive_signer(&mut arch, a.log.signing_key.as_deref())?;
    let pb = ctx.out.progress(0, true, "rekey");
    let r = arch.rekey(&ids, a.dry_run, &log, &mut |n| pb.inc(n));
    pb.finish_and_clear();
    let rep = r?;
    let code = if rep.skipped.is_empty() {
        EXIT_OK
    } else {
        EXIT_FINDING
    };
    if ctx.out.json {
        ctx.out.json(&rep);
        return Ok(code);
    }
    let verb = if rep.dry_run {
        "would re-encrypt"
    } else {
        "re-encrypted"
    };
    ctx.out.line(&format!(
        "{verb} {} document(s) and {} envelope(s), sealed details or note(s), {}, to the {} recipient(s) in force; {} already were",
        rep.documents,
        rep.small,
        super::archive::human_bytes(rep.bytes),
        rep.recipients.len(),
        rep.current
    ));
    if rep.grants_kept + rep.grants_dropped > 0 {
        ctx.out.line(&format!(
            "recipients grants added to documents' files: {} kept (the actor is active and it is still their own), {} dropped",
            rep.grants_kept, rep.grants_dropped
        ));
    }
    if !rep.dry_run {
        ctx.out.line(&format!(
            "{} rekey record(s) appended and checkpointed; {} old file(s) removed, {} file(s) no record names removed",
            rep.records, rep.removed, rep.unreferenced
        ));
    }
    for s in &rep.skipped {
        ctx.out
            .line(&format!("blob {} left as it was: {}", s.blob, s.reason));
    }
    if !rep.skipped.is_empty() {
        ctx.out.warn(&format!(
            "{} blob(s) could not be re-encrypted and still open with the old recipients' keys; restore them (from a copy, or a partner's bundle with `receive`) and run rekey again",
            rep.skipped.len()
        ));
    }
    Ok(code)
}

#[derive(Debug, Args)]
#[command(after_help = "\
Removes what no record names: unreferenced blobs in blobs/ and, with an object
store ([blobs] in custody.toml), unreferenced objects and uploads an
interrupted ingest, receive or migrate left under incoming/. A blob a record
names is never removed. (An upload cut off before it completed is not an
object; set a lifecycle rule on the bucket that aborts incomplete multipart
uploads, see docs/OPERATIONS.md.)

Examples:
  custody gc --dry-run
  custody gc --json

Exit codes: 0 done (or nothing to do), 2 it could not run (nothing removed
after the first error).")]
pub struct GcArgs {
    /// List what would be removed, remove nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn gc(ctx: &Ctx, a: GcArgs) -> Result<i32, StoreError> {
    let mut arch = ctx.open()?;
    let rep = arch.gc(a.dry_run)?;
    if ctx.out.json {
        ctx.out.json(&rep);
        return Ok(EXIT_OK);
    }
    let verb = if rep.dry_run {
        "would remove"
    } else {
        "removed"
    };
    // An object's name in a store is listed, not made here: data (§1.2).
    for r in &rep.removed {
        ctx.out.data_line(&format!(
            "{verb} {} {} ({}, {} bytes)",
            r.store, r.name, r.kind, r.size
        ));
    }
    ctx.out.line(&format!(
        "{verb} {} object(s), {}; kept {} referenced blob(s)",
        rep.removed.len(),
        super::archive::human_bytes(rep.removed_bytes),
        rep.referenced
    ));
    Ok(EXIT_OK)
}

#[derive(Debug, Args)]
#[command(after_help = "\
Copies every document blob of this archive from blobs/ to an object store
(same names: <prefix>/<h[0..2]>/<h>), each streamed to <prefix>/incoming/,
renamed to its address, then downloaded again and hashed. Only when every
blob is there and hashes to its name is custody.toml's [blobs] switched to the
store. Interrupted, run it again: blobs already there are re-checked by digest
and not uploaded again. Run again with the same URL and --delete-local to
remove the local copies later. Metadata envelopes and notes stay in blobs/.
Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or an AWS
profile), never from the archive.

Example:
  AWS_ACCESS_KEY_ID=GK… AWS_SECRET_ACCESS_KEY=… \\
    custody migrate --to s3://leaks/dropsite --endpoint http://127.0.0.1:3900 --region garage

Exit codes: 0 migrated, 2 it could not run (custody.toml unchanged).")]
pub struct MigrateArgs {
    /// The object store: s3://bucket/prefix (or a directory, file:///srv/blobs).
    #[arg(long, value_name = "URL")]
    to: String,
    /// S3 endpoint kept in custody.toml (default: AWS_ENDPOINT_URL, the profile, AWS).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// S3 region kept in custody.toml (default: AWS_REGION, the profile).
    #[arg(long)]
    region: Option<String>,
    /// Remove the local copies of the document blobs once the switch is made.
    #[arg(long)]
    delete_local: bool,
}

struct Bar<'a> {
    out: &'a super::Out,
    pb: Option<ProgressBar>,
}

impl VerifyObserver for Bar<'_> {
    fn phase(&mut self, name: &str, total: u64) {
        if let Some(pb) = self.pb.take() {
            pb.finish_and_clear();
        }
        self.pb = Some(self.out.progress(total, true, name));
    }
    fn advance(&mut self, n: u64) {
        if let Some(pb) = &self.pb {
            pb.inc(n);
        }
    }
}

pub fn migrate(ctx: &Ctx, a: MigrateArgs) -> Result<i32, StoreError> {
    let mut arch = ctx.open()?;
    let settings = S3Settings {
        endpoint: a.endpoint,
        region: a.region,
    };
    let mut bar = Bar {
        out: &ctx.out,
        pb: None,
    };
    let rep = arch.migrate(&a.to, &settings, a.delete_local, &mut bar);
    if let Some(pb) = bar.pb.take() {
        pb.finish_and_clear();
    }
    let rep = rep?;
    if ctx.out.json {
        ctx.out.json(&rep);
        return Ok(EXIT_OK);
    }
    ctx.out.data_line(&format!(
        "migrated to {}: {} blob(s) copied, {} already there, {} checked by digest; custody.toml [blobs] now names it",
        rep.to,
        rep.copied,
        rep.present,
        super::archive::human_bytes(rep.bytes)
    ));
    if rep.deleted_local > 0 {
        ctx.out.info(&format!(
            "removed {} local copies from blobs/",
            rep.deleted_local
        ));
    } else {
        ctx.out.info(
            "the local copies stay in blobs/ as a backup; run the same migrate with --delete-local to remove them",
        );
    }
    Ok(EXIT_OK)
}
