//! The operations, one file each: what a command does to an archive, as
//! methods of [`crate::store::archive::Archive`] or functions over it
//! (ingest, extract, share and the list of shares, receive, verify, audit, gc, publish, mirror,
//! witness), and the files they read and write (bundles, the trust store).

pub mod audit;
pub mod bundle_file;
pub mod compartment;
pub mod export;
pub mod extract;
pub mod find;
pub mod gc;
pub mod grant;
pub mod held;
pub mod ingest;
pub mod mirror;
pub mod publish;
pub mod receive;
pub mod rekey;
pub mod share;
pub mod shares;
pub mod synthetic;
pub mod trust;
pub mod verify;
mod verify_records;
pub mod witness;
