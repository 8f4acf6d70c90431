//! The discguard service (in progress).
