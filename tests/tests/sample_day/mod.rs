//! Course-loading core: the sample day end to end, offline from the fixture and through the
//! pipeline against the Alma simulator.

mod encodings;
mod fixture;
mod golden_offline;
mod golden_sim;
mod minimum;
mod renamed;
