//! The adversary harness (in progress).
