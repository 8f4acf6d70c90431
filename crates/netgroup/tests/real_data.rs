//! Tests against real ASN data:
//!
//! - `@ip-location-db/asn` (npm, CSV ranges; CC BY 4.0), installed by the
//!   README's test command into `tests/js/node_modules` (`npm ci` in
//!   `tests/js`). Set `DISCGUARD_JS_DIR` to use another `tests/js` directory.
//! - MaxMind's own GeoLite2-ASN test database and corrupt databases, in
//!   `tests/data/maxmind` (see its README).
//! - MaxMind DBs in the GeoLite2-ASN / DB-IP and IPinfo schemas, written here
//!   from real rows of the CSV files.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use discguard_netgroup::mmdb_writer::{MmdbValue, MmdbWriter};
use discguard_netgroup::{AsnDb, AsnDbError, AsnDbFormat, Classifier, NetGroup};

// ---------------------------------------------------------------------------
// An allocator that counts allocations per thread, to check that lookups do
// not allocate.

struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Bytes allocated and not yet freed, by all threads.
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

fn count_allocation() {
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// How many allocations this thread makes while running `f`.
fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

// ---------------------------------------------------------------------------
// Locating the data.

/// `tests/js` of the workspace, or `DISCGUARD_JS_DIR`.
fn js_dir() -> PathBuf {
    std::env::var_os("DISCGUARD_JS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/js"))
}

/// A file of `@ip-location-db/asn`; fails the test, naming the fix, when the
/// package is not installed.
fn ip_location_db(file: &str) -> PathBuf {
    let path = js_dir().join("node_modules/@ip-location-db/asn").join(file);
    assert!(
        path.is_file(),
        "{} is missing: install the test data with the README's test command \
         (it runs `npm ci` in tests/js), or point DISCGUARD_JS_DIR at a tests/js \
         directory where it has been run",
        path.display()
    );
    path
}

fn maxmind(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/maxmind")
        .join(file)
}

/// Both CSV files of `@ip-location-db/asn`, opened once.
fn csv_db() -> &'static Arc<AsnDb> {
    static DB: OnceLock<Arc<AsnDb>> = OnceLock::new();
    DB.get_or_init(|| {
        let paths = [
            ip_location_db("asn-ipv4.csv"),
            ip_location_db("asn-ipv6.csv"),
        ];
        let (rss_before, live_before) = (rss_kib(), LIVE_BYTES.load(Ordering::Relaxed));
        let start = Instant::now();
        let db = AsnDb::open_many(&paths).unwrap_or_else(|e| panic!("{e}"));
        let elapsed = start.elapsed();
        // Other tests allocate concurrently: exact only when run alone.
        eprintln!(
            "opened {} in {elapsed:.2?}; heap in use grew by {} KiB, resident memory by {} KiB",
            db.description(),
            LIVE_BYTES
                .load(Ordering::Relaxed)
                .saturating_sub(live_before)
                / 1024,
            rss_kib().saturating_sub(rss_before),
        );
        Arc::new(db)
    })
}

/// Resident set size of this process, in KiB (Linux; 0 elsewhere).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn info(db: &AsnDb, addr: &str) -> Option<(u32, Option<String>)> {
    db.lookup(ip(addr))
        .map(|i| (i.asn, i.org.map(str::to_owned)))
}

// ---------------------------------------------------------------------------
// ip-location-db CSV files.

#[test]
fn ip_location_db_known_mappings() {
    let db = csv_db();
    assert_eq!(db.format(), AsnDbFormat::Ranges);
    let amazon = Some((16509, Some("Amazon.com, Inc.".to_owned())));
    // A mainnet consensus-layer bootnode's /24 (AWS us-east-2).
    assert_eq!(info(db, "3.147.37.0"), amazon);
    assert_eq!(info(db, "3.147.37.9"), amazon);
    assert_eq!(info(db, "::ffff:3.147.37.9"), amazon);
    let hetzner = Some((24940, Some("Hetzner Online GmbH".to_owned())));
    for addr in [
        "5.9.10.11",
        "65.108.1.1",
        "88.99.1.1",
        "135.181.1.1",
        "2a01:4f8:c17::1",
    ] {
        assert_eq!(info(db, addr), hetzner, "{addr}");
    }
    assert_eq!(
        info(db, "1.1.1.1"),
        Some((13335, Some("Cloudflare, Inc.".to_owned())))
    );
    assert_eq!(info(db, "2606:4700:4700::1111").map(|i| i.0), Some(13335));
    assert_eq!(
        info(db, "8.8.8.8"),
        Some((15169, Some("Google LLC".to_owned())))
    );
    assert_eq!(info(db, "2001:4860:4860::8888").map(|i| i.0), Some(15169));
    assert_eq!(
        info(db, "2600:1f18::1").map(|i| i.0),
        Some(14618),
        "AWS us-east-1 IPv6"
    );
    assert_eq!(
        info(db, "2a05:d014::1").map(|i| i.0),
        Some(16509),
        "AWS eu-central-1 IPv6"
    );
    // The one overlap in the data: 215.0.0.0-215.1.3.255 (AS721) follows
    // 214.95.0.0-215.0.255.255 (AS749); the later line wins.
    assert_eq!(info(db, "214.95.0.1").map(|i| i.0), Some(749));
    assert_eq!(info(db, "215.0.0.1").map(|i| i.0), Some(721));
    assert_eq!(info(db, "215.1.3.255").map(|i| i.0), Some(721));
    // Quoted organisation names with commas and doubled quotes.
    assert_eq!(
        info(db, "2.26.200.1").and_then(|i| i.1),
        Some("LLC \"SPUTNIK\"".to_owned())
    );
    // Not routed or special-purpose: unknown.
    for addr in [
        "10.0.0.1",
        "192.168.1.1",
        "127.0.0.1",
        "::1",
        "fd00::1",
        "2001:db8::1",
    ] {
        assert_eq!(info(db, addr), None, "{addr}");
    }
    assert!(db.len() > 400_000, "{}", db.len());
}

#[test]
fn ip_location_db_numeric_files_agree() {
    let text = csv_db();
    let num = AsnDb::open_many(&[
        ip_location_db("asn-ipv4-num.csv"),
        ip_location_db("asn-ipv6-num.csv"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(num.len(), text.len());
    // A deterministic spread of addresses over both families.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let v4 = IpAddr::V4(Ipv4Addr::from_bits((x >> 32) as u32));
        // IPv6 inside 2000::/4, where the allocations are.
        let v6 = IpAddr::V6(Ipv6Addr::from_bits(
            (0x2u128 << 124) | (u128::from(x) << 60),
        ));
        for addr in [v4, v6] {
            assert_eq!(num.lookup(addr), text.lookup(addr), "{addr}");
        }
    }
}

#[test]
fn classifier_groups_by_real_asn() {
    let classifier = Classifier::with_shared_db(Arc::clone(csv_db()));
    let groups = classifier.groups(ip("3.147.37.9"));
    assert_eq!(groups.asn, NetGroup::Asn(16509));
    assert_eq!(groups.asn.to_string(), "AS16509");
    assert_eq!(
        classifier.groups(ip("2a01:4f8::1")).asn_number(),
        Some(24940)
    );
    // Unknown to the database: the /16 fallback.
    let private = classifier.groups(ip("10.1.2.3"));
    assert_eq!(private.asn, private.wide);
}

// ---------------------------------------------------------------------------
// MaxMind's test databases.

#[test]
fn maxmind_geolite2_asn_test_database() {
    let db = AsnDb::open(maxmind("GeoLite2-ASN-Test.mmdb")).unwrap();
    assert_eq!(db.format(), AsnDbFormat::Mmdb);
    assert_eq!(
        info(&db, "1.128.0.1"),
        Some((1221, Some("Telstra Pty Ltd".to_owned())))
    );
    assert_eq!(info(&db, "::ffff:1.128.0.1").map(|i| i.0), Some(1221));
    assert_eq!(
        info(&db, "2600:6000::1"),
        Some((237, Some("Merit Network Inc.".to_owned())))
    );
    assert_eq!(
        info(&db, "2001:1700::1"),
        Some((6730, Some("Sunrise Communications AG".to_owned())))
    );
    // A record with a number and no organisation.
    assert_eq!(info(&db, "12.81.96.1"), Some((7018, None)));
    assert_eq!(info(&db, "10.0.0.1"), None);
    let d = db.description();
    assert!(d.contains("GeoLite2-ASN"), "{d}");
    assert!(db.build_time().is_some());
}

#[test]
fn maxmind_isp_database_has_asns() {
    let db = AsnDb::open(maxmind("GeoIP2-ISP-Test.mmdb")).unwrap();
    assert_eq!(info(&db, "1.128.0.1").map(|i| i.0), Some(1221));
}

#[test]
fn maxmind_city_database_is_refused() {
    let e = AsnDb::open(maxmind("GeoLite2-City-Test.mmdb")).unwrap_err();
    assert!(matches!(e, AsnDbError::NoAsnField { .. }), "{e}");
    assert!(e.to_string().contains("GeoLite2-City"), "{e}");
}

#[test]
fn maxmind_corrupt_databases_are_refused() {
    let dir = maxmind("bad-data");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        match AsnDb::open(&path) {
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains(&*path.to_string_lossy()), "{msg}");
            }
            // Some are corrupt only in places a lookup never reaches; they
            // must still answer without panicking.
            Ok(db) => {
                for addr in ["1.1.1.1", "::1.1.1.1", "2001:db8::1"] {
                    let _ = db.try_lookup(ip(addr));
                }
            }
        }
        seen += 1;
    }
    assert!(seen >= 20, "only {seen} files in {}", dir.display());
}

// ---------------------------------------------------------------------------
// MaxMind DBs written from real CSV rows, in each schema we read.

/// Makes the MaxMind DB record of a CSV row.
type RecordFn = dyn Fn(&Row) -> Vec<(&'static str, MmdbValue)>;

/// One CSV row: start, end, AS number, organisation.
struct Row {
    start: IpAddr,
    end: IpAddr,
    asn: u32,
    org: String,
}

/// Every `step`-th row of an ip-location-db CSV file, plus the rows holding
/// the addresses in `keep`.
fn sample_rows(path: &Path, step: usize, keep: &[IpAddr]) -> Vec<Row> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut parts = line.splitn(4, ',');
        let (Some(start), Some(end), Some(asn)) = (parts.next(), parts.next(), parts.next()) else {
            panic!("{}:{}: short line", path.display(), i + 1);
        };
        let org = parts.next().unwrap_or("");
        let org = match org.strip_prefix('"').and_then(|o| o.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\"\"", "\""),
            None => org.to_owned(),
        };
        let row = Row {
            start: ip(start),
            end: ip(end),
            asn: asn.parse().unwrap(),
            org,
        };
        if i % step == 0 || keep.iter().any(|k| (row.start..=row.end).contains(k)) {
            rows.push(row);
        }
    }
    rows
}

fn write_mmdb(
    database_type: &str,
    rows: &[Row],
    record: impl Fn(&Row) -> Vec<(&'static str, MmdbValue)>,
) -> Vec<u8> {
    let mut w = MmdbWriter::new(database_type);
    for row in rows {
        let r = record(row);
        match (row.start, row.end) {
            (IpAddr::V4(s), IpAddr::V4(e)) => w.insert_v4_range(s, e, &r),
            (IpAddr::V6(s), IpAddr::V6(e)) => w.insert_v6_range(s, e, &r),
            _ => panic!("mixed row"),
        }
    }
    w.to_bytes()
}

#[test]
fn mmdb_from_real_rows_in_every_schema() {
    let keep = [ip("3.147.37.9"), ip("5.9.10.11"), ip("2a01:4f8:c17::1")];
    let mut rows = sample_rows(&ip_location_db("asn-ipv4.csv"), 997, &keep);
    rows.extend(sample_rows(&ip_location_db("asn-ipv6.csv"), 251, &keep));
    assert!(rows.len() > 800, "{}", rows.len());

    let geolite2 = |r: &Row| {
        vec![
            ("autonomous_system_number", MmdbValue::U32(r.asn)),
            (
                "autonomous_system_organization",
                MmdbValue::Str(r.org.clone()),
            ),
        ]
    };
    let ipinfo = |r: &Row| {
        vec![
            ("asn", MmdbValue::Str(format!("AS{}", r.asn))),
            ("name", MmdbValue::Str(r.org.clone())),
            ("domain", MmdbValue::Str("example.com".to_owned())),
            ("type", MmdbValue::Str("isp".to_owned())),
        ]
    };
    let ipinfo_lite = |r: &Row| {
        vec![
            ("asn", MmdbValue::Str(format!("AS{}", r.asn))),
            ("as_name", MmdbValue::Str(r.org.clone())),
            ("country_code", MmdbValue::Str("ZZ".to_owned())),
        ]
    };
    let dir = tempfile::tempdir().unwrap();
    let schemas: [(&str, &RecordFn); 4] = [
        ("GeoLite2-ASN", &geolite2),
        ("DBIP-ASN-Lite (compat=GeoLite2-ASN)", &geolite2),
        ("ipinfo asn.mmdb", &ipinfo),
        ("ipinfo ipinfo_lite.mmdb", &ipinfo_lite),
    ];
    for (i, (database_type, record)) in schemas.into_iter().enumerate() {
        let path = dir.path().join(format!("db{i}.mmdb"));
        std::fs::write(&path, write_mmdb(database_type, &rows, record)).unwrap();
        let db = AsnDb::open(&path).unwrap_or_else(|e| panic!("{database_type}: {e}"));
        assert_eq!(db.format(), AsnDbFormat::Mmdb);
        assert!(db.description().contains(database_type));
        for row in &rows {
            for addr in [row.start, row.end] {
                let got = db.lookup(addr).map(|i| (i.asn, i.org));
                assert_eq!(
                    got,
                    Some((row.asn, Some(row.org.as_str()))),
                    "{database_type}: {addr}"
                );
            }
        }
        assert_eq!(
            db.lookup_asn(ip("3.147.37.9")),
            Some(16509),
            "{database_type}"
        );
        assert_eq!(
            db.lookup_asn(ip("2a01:4f8:c17::1")),
            Some(24940),
            "{database_type}"
        );
    }
}

// ---------------------------------------------------------------------------
// The hot path does not allocate.

#[test]
fn classifier_groups_does_not_allocate() {
    let addrs: Vec<IpAddr> = (0..2_000u32)
        .flat_map(|i| {
            let x = i.wrapping_mul(2_654_435_761);
            [
                IpAddr::V4(Ipv4Addr::from_bits(x)),
                IpAddr::V6(Ipv6Addr::from_bits((0x2a01_04f8u128 << 96) | u128::from(x))),
                IpAddr::V6(Ipv4Addr::from_bits(x).to_ipv6_mapped()),
            ]
        })
        .collect();
    let mmdb = AsnDb::open(maxmind("GeoLite2-ASN-Test.mmdb")).unwrap();
    let csv = Classifier::with_shared_db(Arc::clone(csv_db()));
    for classifier in [Classifier::new(None), Classifier::new(Some(mmdb)), csv] {
        let mut known = 0;
        let n = allocations_in(|| {
            for &addr in &addrs {
                let groups = std::hint::black_box(classifier.groups(addr));
                known += usize::from(groups.asn_number().is_some());
                if let Some(db) = classifier.asn_db() {
                    std::hint::black_box(db.lookup(addr));
                }
            }
        });
        assert_eq!(n, 0, "{:?} allocated", classifier.asn_db());
        if classifier.asn_db().is_some() {
            assert!(known > 0, "{:?} knew no address", classifier.asn_db());
        }
    }
}

/// Lookup cost, for the record (not a pass/fail check: timings belong to
/// benchmarks). Run with `--ignored --nocapture` in release mode.
#[test]
#[ignore = "a measurement, not a check"]
fn measure_lookup_cost() {
    let addrs: Vec<IpAddr> = (0..200_000u32)
        .map(|i| IpAddr::V4(Ipv4Addr::from_bits(i.wrapping_mul(2_654_435_761))))
        .collect();
    let csv = csv_db();
    let dir = tempfile::tempdir().unwrap();
    let mut rows = sample_rows(&ip_location_db("asn-ipv4.csv"), 1, &[]);
    rows.extend(sample_rows(&ip_location_db("asn-ipv6.csv"), 1, &[]));
    let path = dir.path().join("full.mmdb");
    let start = Instant::now();
    let bytes = write_mmdb("GeoLite2-ASN", &rows, |r| {
        vec![
            ("autonomous_system_number", MmdbValue::U32(r.asn)),
            (
                "autonomous_system_organization",
                MmdbValue::Str(r.org.clone()),
            ),
        ]
    });
    eprintln!(
        "wrote a {} KiB mmdb of {} rows in {:.2?}",
        bytes.len() / 1024,
        rows.len(),
        start.elapsed()
    );
    std::fs::write(&path, bytes).unwrap();
    drop(rows);
    let live_before = LIVE_BYTES.load(Ordering::Relaxed);
    let start = Instant::now();
    let mmdb = AsnDb::open(&path).unwrap();
    eprintln!(
        "opened {} in {:.2?}; heap in use grew by {} KiB",
        mmdb.description(),
        start.elapsed(),
        LIVE_BYTES
            .load(Ordering::Relaxed)
            .saturating_sub(live_before)
            / 1024,
    );
    for (name, db) in [("csv ranges", &**csv), ("mmdb", &mmdb)] {
        for _ in 0..2 {
            let start = Instant::now();
            let mut known = 0usize;
            for &addr in &addrs {
                known += usize::from(std::hint::black_box(db.lookup_asn(addr)).is_some());
            }
            let per = start.elapsed() / addrs.len() as u32;
            eprintln!(
                "{name}: lookup_asn {per:.0?}/op ({known} of {} known)",
                addrs.len()
            );
        }
    }
}
