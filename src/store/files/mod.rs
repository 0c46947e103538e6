//! Files and stores that know nothing of an archive: durable writes and the
//! fault injection that tests them, bounded input, append-only frames, the
//! flat index files and their Merkle nodes, the sled database, blob stores
//! on disk and on object stores, key files, and the age plugin processes
//! to stop after their deadline (`children`). Nothing here imports from
//! [`crate::store::archive`] or [`crate::store::ops`].

pub mod blobs;
pub mod children;
pub mod db;
pub mod dedup_log;
pub mod fault;
pub mod flat_index;
pub mod input;
pub mod keystore;
pub mod latest_checkpoint;
pub mod layout;
pub mod logfile;
pub mod merkle_nodes;
pub(crate) mod outfile;
pub(crate) mod parallel;
pub mod remote;
pub mod walk;
