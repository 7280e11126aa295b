//! Adapters against real peers on loopback: S3, Secrets Manager and SES v2 in moto,
//! Slack posts to a loopback receiver, configuration from a lookup.

mod config;
mod email;
mod secrets;
mod slack;
mod store;
