//! The Alma simulator's behaviour, over real HTTP on loopback.

mod api;
mod binary;
mod common;
mod during_a_load;
mod governance;
mod jobs;
mod loader;
mod schedule;
