//! Integration tests (in progress).
