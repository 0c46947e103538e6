//! The pure core: no sled, no paths, no terminal. Everything here is
//! deterministic given its inputs (and the OS RNG for keys, salts and the
//! coefficients of batch signature verification). One exception, said in
//! its own documentation: [`plugin`] has the `age` crate run age plugins
//! (child processes) under a deadline, and answers them through a host the
//! command line registers.

pub mod actors;
pub mod agestream;
pub mod audit;
pub mod bundle;
pub mod checkpoint;
pub mod cosignature;
pub mod crypto;
pub mod domain_tags;
pub mod encrypt_pipeline;
pub mod evidence;
pub mod export;
pub mod find;
pub mod findings;
pub mod hash;
pub mod held;
pub mod keys;
pub mod merkle;
pub mod meta;
pub mod note;
pub mod padding;
pub mod plugin;
pub mod policy;
pub mod record;
pub mod redact;
pub mod sealed;
pub mod securedrop;
pub mod sigbatch;
#[cfg(test)]
pub(crate) mod testing;
pub mod tiles;
pub mod time;
pub mod tlog_proof;
pub mod witness;
pub mod x25519;
