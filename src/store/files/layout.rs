//! The names of an archive's directories that several modules share
//! (FORMAT.md §7): what lives where, in one place, below every module that
//! reads or writes there.

/// Evidence kept for each received document (FORMAT.md §7.5).
pub const EVIDENCE_DIR: &str = "evidence";
/// This archive's state as a witness (FORMAT.md §12).
pub const WITNESS_DIR: &str = "witness";
/// Pending work: temporary names recorded, interrupted shares (FORMAT.md §7.8).
pub const PENDING_DIR: &str = "pending";
/// Mirrored logs, one directory each (FORMAT.md §13.5).
pub const MIRRORS_DIR: &str = "mirrors";
