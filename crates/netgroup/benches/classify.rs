//! Cost of classifying one address on the ENR-ingest path.
//!
//! Budget (design.md, "Cost"): policy and scoring together ≤ 2% of ingesting
//! one ENR (decode + signature check ≈ 145 µs). [`Classifier::groups`] runs
//! once per ENR; it is measured without a database, over MaxMind's
//! GeoLite2-ASN test database and, when `@ip-location-db/asn` is installed in
//! `tests/js` (or `DISCGUARD_JS_DIR`), over its full CSV ranges.
//! [`addr_class`] is measured too.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use discguard_netgroup::{AsnDb, Classifier, addr_class};

/// 4,096 addresses spread over IPv4 and the allocated IPv6 space.
fn addresses() -> Vec<IpAddr> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..4_096)
        .map(|i| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            if i % 4 == 0 {
                IpAddr::V6(Ipv6Addr::from_bits(
                    (0x2u128 << 124) | (u128::from(x) << 60),
                ))
            } else {
                IpAddr::V4(Ipv4Addr::from_bits((x >> 32) as u32))
            }
        })
        .collect()
}

fn classify(c: &mut Criterion) {
    let addrs = addresses();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut classifiers = vec![("no_db", Classifier::new(None))];
    let mmdb = manifest.join("tests/data/maxmind/GeoLite2-ASN-Test.mmdb");
    match AsnDb::open(&mmdb) {
        Ok(db) => classifiers.push(("mmdb_test_db", Classifier::new(Some(db)))),
        Err(e) => eprintln!("skipping the MaxMind DB: {e}"),
    }
    let js = std::env::var_os("DISCGUARD_JS_DIR")
        .map(Into::into)
        .unwrap_or_else(|| manifest.join("../../tests/js"));
    let csv_dir = js.join("node_modules/@ip-location-db/asn");
    match AsnDb::open_many(&[csv_dir.join("asn-ipv4.csv"), csv_dir.join("asn-ipv6.csv")]) {
        Ok(db) => classifiers.push(("ip_location_db_csv", Classifier::new(Some(db)))),
        Err(e) => eprintln!("skipping ip-location-db (run the README's test command): {e}"),
    }

    let mut group = c.benchmark_group("classifier_groups");
    for (name, classifier) in &classifiers {
        let mut i = 0;
        group.bench_function(*name, |b| {
            b.iter(|| {
                i = (i + 1) % addrs.len();
                black_box(classifier.groups(black_box(addrs[i])))
            })
        });
    }
    group.finish();

    let mut i = 0;
    c.bench_function("addr_class", |b| {
        b.iter(|| {
            i = (i + 1) % addrs.len();
            black_box(addr_class(black_box(addrs[i])))
        })
    });
}

criterion_group!(benches, classify);
criterion_main!(benches);
