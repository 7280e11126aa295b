//! Test peers for the product: the Alma simulator (REST API and course loader) and the
//! harnesses that start the local stack's services on loopback.

pub mod alma_sim;
pub mod cem_edit;
pub mod dispatch;
pub mod iam;
pub mod lambda_host;
pub mod minimum;
pub mod moto;
pub mod slack_receiver;
pub mod sshd;
pub mod stack;
pub mod support;
pub mod template;
