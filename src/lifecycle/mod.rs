//! The secret lifecycle: generators, rotation policies and status, format validation.

pub mod exposure;
pub mod generate;
pub mod policy;
pub mod rotation;
pub mod validate;
pub mod x509;
