//! End-to-end: the real `infra/statemachine.asl.json` executed by moto, every Task answered by
//! the real step handlers in the local Lambda host, against sshd, the Alma simulator and the
//! Slack receiver (`leganto_tests::stack`). Needs root (sshd accounts) and the `.venv`.

mod day;
mod day_page;
mod failures;
mod forwarding;
mod full_load;
mod hold;
mod iam;
mod late_export;
mod loader_profile;
mod one_day;
mod preflight;
mod resume;
mod rollovers;
mod rules;
mod support;
