//! `gen-archive` (hidden): builds a benchmark archive of N really-signed
//! records that `custody verify` accepts with no finding (BENCHMARKS.md,
//! "Verify at 10^6 records").

use std::path::PathBuf;

use clap::Args;

use super::{Ctx, EXIT_OK};
use crate::store::ops::ingest::{IngestOptions, NoObserver};
use crate::store::ops::synthetic::SyntheticOptions;
use crate::store::{files::walk, io_err, Archive, StoreError};

#[derive(Debug, Args)]
pub struct GenArchiveArgs {
    /// Directory to create the archive in (as for `init`).
    dir: PathBuf,
    /// Synthetic `access` records to append after the documents.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Small real documents to ingest first (the accesses are about them),
    /// named document-N with the extensions .txt, .pdf, .eml, .docx, .csv in turn.
    #[arg(long, default_value_t = 3)]
    documents: u32,
    /// One metadata envelope per document, as one ingest per file makes
    /// (default: the documents of a batch share envelopes, FORMAT.md §5.2).
    #[arg(long)]
    envelope_per_document: bool,
    /// Records per commit.
    #[arg(long, default_value_t = 20_000)]
    batch: usize,
    /// Sign a checkpoint every this many records (and at the end).
    #[arg(long, default_value_t = 100_000)]
    checkpoint_every: u64,
    /// The log's secret signing key.
    #[arg(long, value_name = "FILE")]
    signing_key: PathBuf,
    /// The administrator's personal key, which signs the records.
    #[arg(long, value_name = "FILE")]
    admin_key: PathBuf,
    /// age recipient or file of them; repeatable.
    #[arg(
        short,
        long = "recipient",
        value_name = "RECIPIENT|FILE",
        required = true
    )]
    recipients: Vec<String>,
}

pub fn run(ctx: &Ctx, a: GenArchiveArgs) -> Result<i32, StoreError> {
    let started = std::time::Instant::now();
    let signer = ctx.load_signer(&a.signing_key)?;
    let recipients = super::archive::parse_recipients("--recipient", &a.recipients)?;
    let origin = signer.name().to_string();
    let admin = crate::store::archive::InitAdmin {
        key: ctx.load_signer(&a.admin_key)?,
        name: "admin".into(),
        path: None,
        identity: None,
    };
    let (mut arch, _) = Archive::init(&a.dir, &origin, &signer, &recipients, None, admin)?;
    // A few small real documents, written outside the archive and removed after.
    let tmp = std::env::temp_dir().join(format!("custody-gen-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| io_err(&tmp, e))?;
    let made = (|| {
        const EXT: [&str; 5] = ["txt", "pdf", "eml", "docx", "csv"];
        for d in 0..a.documents.max(1) {
            let p = tmp.join(format!("document-{d}.{}", EXT[d as usize % EXT.len()]));
            let text = format!("synthetic benchmark document {d}\n").repeat(64);
            std::fs::write(&p, text).map_err(|e| io_err(&p, e))?;
        }
        let w = walk::collect(std::slice::from_ref(&tmp), false, Some(arch.root()))?;
        w.refuse_unreadable()?;
        let opts = IngestOptions {
            source: Some("gen-archive".into()),
            envelope_per_document: a.envelope_per_document,
            ..IngestOptions::default()
        };
        arch.ingest(&w.files, &signer, &opts, &mut NoObserver)
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    made?;
    let pb = ctx.out.progress(a.records, false, "records");
    let opts = SyntheticOptions {
        records: a.records,
        batch: a.batch,
        checkpoint_every: a.checkpoint_every,
    };
    arch.append_synthetic(&opts, &signer, &mut |n| pb.set_position(n))?;
    pb.finish_and_clear();
    let size = arch.size()?;
    let secs = started.elapsed().as_secs_f64();
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({
            "archive": a.dir, "records": size, "seconds": secs
        }));
    } else {
        ctx.out.line(&format!(
            "generated {}: {size} records in {secs:.1} s",
            a.dir.display()
        ));
    }
    Ok(EXIT_OK)
}
