//! Integration tests of discguard-policy: property tests of the view's
//! invariants against a brute-force model, and the honest cost of the default
//! caps on the real ASN distribution.

mod common;
mod honest_cost;
mod invariants;
