//! `custody publish DEST` and `custody mirror SRC`: the log as static C2SP
//! tlog-tiles, and a partner's published log kept as a verified local copy.
//! Formats: docs/FORMAT.md §13.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::archive::{human_bytes, print_findings};
use super::output::Paint;
use super::policy_args::{read_vkey, PolicyArgs};
use super::{Ctx, EXIT_FINDING, EXIT_OK};
use crate::store::files::remote::{Location, Remote, S3Settings};
use crate::store::ops::mirror::{self, MirrorRequest};
use crate::store::ops::publish;
use crate::store::StoreError;

#[derive(Debug, Args)]
#[command(after_help = "\
Writes the log as C2SP tlog-tiles: tile/<L>/<N>, tile/entries/<N> (the signed
records) and `checkpoint` (the latest signed checkpoint with its cosignatures),
written last. Only records and hashes are published: records hold digests,
commitments and signatures, never names or plaintext digests (FORMAT.md §5).
Incremental and idempotent; takes no lock (an ingest may run meanwhile).

DEST: a directory, s3://bucket/prefix (AWS_* environment or profile), or file://DIR.

Examples:
  custody publish /srv/www/dropsite-log
  custody publish s3://dropsite-log/v1 --recheck")]
pub struct PublishArgs {
    /// Where to publish: a directory or s3://bucket/prefix.
    dest: String,
    /// Re-read every object the checkpoint implies and rewrite any that is missing or differs.
    #[arg(long)]
    recheck: bool,
    #[command(flatten)]
    s3: S3Args,
}

/// Where an `s3://` location's server is. Not secret: credentials come only
/// from the AWS environment variables or a profile (src/store/files/remote/mod.rs).
#[derive(clap::Args, Debug, Default)]
pub struct S3Args {
    /// S3 endpoint for an s3:// location (default: AWS_ENDPOINT_URL, the profile, AWS).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// S3 region for an s3:// location (default: AWS_REGION, the profile).
    #[arg(long)]
    region: Option<String>,
}

impl S3Args {
    pub fn settings(&self) -> S3Settings {
        S3Settings {
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
        }
    }
}

pub fn publish(ctx: &Ctx, a: PublishArgs) -> Result<i32, StoreError> {
    let root = ctx.archive_dir()?;
    let loc = Location::parse(&a.dest)?;
    if matches!(loc, Location::Http { .. }) {
        return Err(StoreError::Input(format!(
            "{} is read only; publish to a directory or s3://bucket/prefix and serve that over HTTP",
            a.dest
        )));
    }
    let dest = Remote::open(&loc, &a.s3.settings())?;
    let started = Instant::now();
    let pb = ctx.out.progress(0, false, "publish");
    let r = publish::publish(&root, &dest, a.recheck, &mut |n| pb.inc(n));
    pb.finish_and_clear();
    let r = r?;
    let secs = started.elapsed().as_secs_f64();
    if ctx.out.json {
        let mut v = serde_json::to_value(&r).map_err(|e| StoreError::Internal(e.to_string()))?;
        v["seconds"] = serde_json::json!(secs);
        ctx.out.json(&v);
        return Ok(EXIT_OK);
    }
    if r.superseded {
        ctx.out.warn(&format!(
            "{} received a larger checkpoint from another publish while this one ran; it was left in place",
            r.destination
        ));
    }
    let wrote = r.hash_tiles_written + r.bundles_written;
    if wrote == 0 && !r.checkpoint_written {
        ctx.out.data_line(&format!(
            "{} is already published at size {} in {}; nothing to write{}",
            r.origin,
            r.size,
            r.destination,
            if a.recheck {
                format!(" ({} objects re-checked)", r.rechecked)
            } else {
                String::new()
            }
        ));
        return Ok(EXIT_OK);
    }
    let from = match r.previous_size {
        Some(s) => format!("from size {s} "),
        None => String::new(),
    };
    ctx.out.data_line(&format!(
        "published {} {from}to size {} in {}: {} hash tile(s), {} entry bundle(s), {} in {secs:.2} s",
        r.origin,
        r.size,
        r.destination,
        r.hash_tiles_written,
        r.bundles_written,
        human_bytes(r.bytes_written)
    ));
    if a.recheck {
        ctx.out.info(&format!(
            "re-checked {} object(s) already there; rewrote {} that were missing or differed",
            r.rechecked, r.repaired
        ));
    }
    Ok(EXIT_OK)
}

#[derive(Debug, Args)]
#[command(after_help = "\
Fetches a published log (custody publish, or any C2SP tlog-tiles log of
custody records), verifies the checkpoint's signature (and the witness quorum
if asked), every new record's signature, that every tile hashes to the one
above it and to the checkpoint's root, and that the log extends what was
mirrored before. Keeps the verified copy in ARCHIVE/mirrors/<origin>/.
Refusals exit 1: a rollback, a tampered tile or record, a missing tile; on a
split view (a checkpoint inconsistent with the mirrored one) split-view
evidence is written for `custody verify-evidence`.

SRC: a directory, s3://bucket/prefix, or an http(s):// URL.

Examples:
  custody mirror https://dropsite.example/log --vkey dropsite.vkey
  custody mirror https://dropsite.example/log --quorum 1")]
pub struct MirrorArgs {
    /// Where the log is published.
    src: String,
    /// The log's verifier key: vkey text, a file holding it, or a trust-store
    /// name (default: the trust store's log key named as the origin).
    #[arg(long, value_name = "VKEY|FILE|NAME")]
    vkey: Option<String>,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Where to write split-view evidence (default: in the mirror's directory).
    #[arg(long, value_name = "FILE")]
    evidence_out: Option<PathBuf>,
    #[command(flatten)]
    s3: S3Args,
}

pub fn mirror(ctx: &Ctx, a: MirrorArgs) -> Result<i32, StoreError> {
    let root = ctx.archive_dir()?;
    if !crate::store::archive::is_archive(&root) {
        return Err(StoreError::NotAnArchive(crate::core::redact::path(&root)));
    }
    let src = Remote::open(&Location::parse(&a.src)?, &a.s3.settings())?;
    let trust = Some(ctx.trust_store()?);
    let policy = ctx.policy_or_archived(
        &a.policy,
        super::sharing::partners_policy(Some(&root))?,
        "partners'",
    )?;
    let keys = match &a.vkey {
        Some(v) => vec![read_vkey("--vkey", v, trust.as_ref())?],
        None => {
            let mut k = trust.as_ref().map(|t| t.log_keys()).unwrap_or_default();
            if let Some(p) = &policy {
                k.extend(p.log_keys().iter().cloned());
            }
            k
        }
    };
    let started = Instant::now();
    let pb = ctx.out.progress(0, false, "mirror");
    let r = mirror::mirror(
        &root,
        &MirrorRequest {
            source: &src,
            log_keys: &keys,
            policy: policy.as_ref(),
            evidence_out: a.evidence_out.clone(),
        },
        &mut |n| pb.inc(n),
    );
    pb.finish_and_clear();
    let out = r?;
    let secs = started.elapsed().as_secs_f64();
    let ok = out.findings.ok();
    let rep = &out.report;
    if ctx.out.json {
        let mut v = serde_json::to_value(rep).map_err(|e| StoreError::Internal(e.to_string()))?;
        v["ok"] = serde_json::json!(ok);
        v["findings"] = serde_json::to_value(&out.findings.findings)
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        v["seconds"] = serde_json::json!(secs);
        ctx.out.json(&v);
    } else if ok {
        let what = match rep.status {
            "unchanged" => format!("{} is unchanged at size {}", rep.origin, rep.size),
            "first" => format!(
                "{} mirrored at size {} (first mirror; the log key is what you trusted)",
                rep.origin, rep.size
            ),
            _ => format!(
                "{} extended consistently from size {} to {}",
                rep.origin,
                rep.previous_size.unwrap_or(0),
                rep.size
            ),
        };
        // The origin, the witnesses' names and paths are data (§1.2).
        let what = crate::core::redact::shown(&what);
        ctx.out
            .line(&format!("{} {what}", ctx.out.paint("verified:", Paint::Ok)));
        if rep.status != "unchanged" {
            ctx.out.data_line(&format!(
                "{} record(s) verified; fetched {} hash tile(s), {} entry bundle(s), {}{} in {secs:.2} s; kept in {}",
                rep.records_verified,
                rep.hash_tiles_fetched,
                rep.bundles_fetched,
                human_bytes(rep.bytes_fetched),
                if rep.reused_staged > 0 {
                    format!(" ({} reused from an interrupted run)", rep.reused_staged)
                } else {
                    String::new()
                },
                rep.dir.display()
            ));
        }
        if !rep.cosigned_by.is_empty() {
            ctx.out
                .data_line(&format!("cosigned by {}", rep.cosigned_by.join(", ")));
        }
    } else {
        print_findings(ctx, &out.findings.findings);
        let tail = match &rep.evidence {
            Some(p) => format!(
                "; split-view evidence written to {}",
                crate::core::redact::shown(&p.display().to_string())
            ),
            None => String::new(),
        };
        ctx.out.line(&format!(
            "{} the mirror was not updated{tail}",
            ctx.out.paint("REFUSED:", Paint::Bad)
        ));
    }
    Ok(if ok { EXIT_OK } else { EXIT_FINDING })
}
