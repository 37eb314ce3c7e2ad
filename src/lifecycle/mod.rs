//! The secret lifecycle: generators, rotation policies and status, format validation,
//! offboarding and the exposure it leaves.

pub mod exposure;
pub mod generate;
pub mod offboard;
pub mod policy;
pub mod rotation;
pub mod validate;
pub mod x509;
