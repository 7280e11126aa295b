//! The Alma simulator: Alma's courses, reading-list and jobs APIs and its course loader.
