//! Git integration: the textconv diff view (values as keyed fingerprints), the three-way
//! merge driver, the vault's history, and `git setup` (config, attributes, hook).
//!
//! The public surface is small on purpose: commands compose these functions; nothing
//! here prints or knows about the command line.

pub mod history;
pub mod merge;
pub mod repo;
pub mod setup;
pub mod signatures;
pub mod textconv;

pub use merge::unresolved_conflicts;
