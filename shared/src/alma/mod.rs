//! Alma REST API client and course cache.
