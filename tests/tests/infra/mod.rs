//! Checks of what gets deployed: the state machine's contract (`infra/CONTRACT.md`), the SAM
//! template, the two linters, and real executions of the definition in moto against a
//! scripted Lambda host that answers like the handlers the contract describes.

mod definition;
mod executions;
mod lint;
mod next_steps;
mod parameter_table;
pub(crate) mod support;
mod template;
