//! Git integration: keyed value fingerprints, the textconv diff view, the three-way
//! merge driver, the vault's history, and `git setup` (config, attributes, hook).
//!
//! The public surface is small on purpose: commands compose these functions; nothing
//! here prints or knows about the command line.

pub mod fingerprint;
pub mod history;
pub mod markers;
pub mod merge;
pub mod repo;
pub mod setup;
pub mod signatures;
pub mod textconv;

pub use merge::unresolved_conflicts;
