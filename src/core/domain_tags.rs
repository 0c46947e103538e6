//! Every domain-separation tag and fixed label the archive hashes or signs, in one list.
//!
//! Each tag ends in a newline so that no tag is a prefix of another followed by
//! data that could be mistaken for it. `docs/FORMAT.md` §2 lists them.

/// Prefix of the message an Ed25519 signature over a ledger record covers (FORMAT.md §4.3).
pub const RECORD_SIGNATURE: &[u8] = b"custody/v1/record-signature\n";

/// Prefix of the salted content commitment (FORMAT.md §5.1).
pub const CONTENT_COMMITMENT: &[u8] = b"custody/v1/content-commitment\n";

/// Prefix of a recipient fingerprint (FORMAT.md §5.3).
pub const RECIPIENT_FINGERPRINT: &[u8] = b"custody/v1/recipient\n";

/// Prefix used to derive the deduplication key from the log signing key (FORMAT.md §7.3).
pub const DEDUP_KEY: &[u8] = b"custody/v1/dedup-key\n";

/// Hashed to the database key under which every `actor` record is listed (FORMAT.md §7.2).
pub const ACTOR_INDEX: &[u8] = b"custody/v1/actor-index\n";
