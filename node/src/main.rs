//! The discguard binary (in progress).

fn main() {}
