//! email
