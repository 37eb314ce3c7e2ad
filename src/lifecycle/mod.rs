//! The secret lifecycle: generators, rotation policies and status, format validation.

pub mod generate;
pub mod policy;
pub mod validate;
