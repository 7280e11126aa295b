//! The Alma simulator's behaviour, over real HTTP on loopback.

mod api;
mod binary;
mod common;
mod governance;
mod jobs;
mod loader;
