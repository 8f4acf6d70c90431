//! Diversity policy (in progress).
