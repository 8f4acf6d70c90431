//! ASN databases: which autonomous system announces an address. The
//! formats are described on [`AsnDb`].

mod mmdb;
mod ranges;

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use self::mmdb::MmdbTable;
use self::ranges::{RangeBuilder, RangeTable};

/// The MaxMind DB metadata marker (spec: "Database Metadata").
const MMDB_METADATA_MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";

/// How far from the end of a file the MaxMind DB metadata marker may start:
/// 128 KiB, the metadata size limit of the MaxMind DB spec.
const MMDB_METADATA_MAX_BYTES: usize = 128 * 1024;

/// The read buffer for range files, in bytes.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// The origin AS of an address, borrowed from the database.
///
/// Lookups neither allocate nor copy: the organisation name points into the
/// database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AsnInfo<'a> {
    /// The AS number (never 0: AS 0 means "not routed" and yields no info).
    pub asn: u32,
    /// The organisation holding the AS, when the database names it.
    pub org: Option<&'a str>,
}

/// The on-disk format of an ASN database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AsnDbFormat {
    /// MaxMind DB (GeoLite2-ASN, DB-IP ASN Lite, IPinfo ASN).
    Mmdb,
    /// CSV or TSV ranges (ip-location-db, iptoasn.com).
    Ranges,
}

impl AsnDbFormat {
    /// A stable lowercase name, for logs and metrics labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Mmdb => "mmdb",
            Self::Ranges => "ranges",
        }
    }
}

impl fmt::Display for AsnDbFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Errors opening or reading an ASN database.
#[derive(Debug, thiserror::Error)]
pub enum AsnDbError {
    /// A file could not be read.
    #[error("cannot read asn database {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// [`AsnDb::open_many`] was given no files.
    #[error("no asn database files given")]
    NoFiles,
    /// The file is neither a MaxMind DB nor a range file.
    #[error("{} is not an asn database: {reason}", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
        /// What gave it away.
        reason: &'static str,
    },
    /// A MaxMind DB was given together with other files; a MaxMind DB must be
    /// opened on its own.
    #[error("{} is a maxmind db, which must be opened alone, not merged with other files", path.display())]
    MixedFormats {
        /// The MaxMind DB file.
        path: PathBuf,
    },
    /// A line of a range file does not parse.
    #[error("{} line {line}: {problem}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// What is wrong with the line.
        problem: LineProblem,
    },
    /// The database maps no address to an AS.
    #[error("asn database {} holds no ranges with an as number", path.display())]
    Empty {
        /// The (first) file.
        path: PathBuf,
    },
    /// A MaxMind DB failed to open, verify or decode.
    #[error("cannot decode maxmind db {}: {source}", path.display())]
    Mmdb {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: maxminddb::MaxMindDbError,
    },
    /// A MaxMind DB has data, but none of the records checked carries an AS
    /// number (`autonomous_system_number` or `asn`): probably a City or
    /// Country database given by mistake.
    #[error(
        "maxmind db {} (type {database_type:?}) has no autonomous_system_number or asn field",
        path.display()
    )]
    NoAsnField {
        /// The file.
        path: PathBuf,
        /// The `database_type` from its metadata.
        database_type: String,
    },
    /// A MaxMind DB record could not be decoded during a lookup.
    #[error("cannot look up {ip} in maxmind db: {source}")]
    Lookup {
        /// The address looked up.
        ip: IpAddr,
        /// The cause.
        #[source]
        source: maxminddb::MaxMindDbError,
    },
}

/// What is wrong with one line of a range file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    /// The line is not UTF-8.
    #[error("not valid utf-8")]
    NotUtf8,
    /// A required field is missing.
    #[error("missing field {field} (expected start, end, asn)")]
    MissingField {
        /// The field's name.
        field: &'static str,
    },
    /// The line has more fields than the format allows.
    #[error("{found} fields, at most {max} allowed")]
    TooManyFields {
        /// Fields found.
        found: usize,
        /// Fields allowed.
        max: usize,
    },
    /// A quoted CSV field is not closed, or text follows its closing quote.
    #[error("bad quoting in field {field:?}")]
    BadQuoting {
        /// The raw field.
        field: String,
    },
    /// The range start is not an IP address or integer.
    #[error("bad range start {0:?}")]
    BadStart(String),
    /// The range end is not an IP address or integer.
    #[error("bad range end {0:?}")]
    BadEnd(String),
    /// The range ends are of different address families.
    #[error("range start {start:?} and end {end:?} are of different address families")]
    MixedFamilies {
        /// The start as written.
        start: String,
        /// The end as written.
        end: String,
    },
    /// The range start is after its end.
    #[error("range start {start:?} is after end {end:?}")]
    Reversed {
        /// The start as written.
        start: String,
        /// The end as written.
        end: String,
    },
    /// An integer range end does not fit in 128 bits.
    #[error("range end {0:?} is beyond the ipv6 space")]
    OutOfRange(String),
    /// The AS number is not `N` or `ASN` with `N` a 32-bit integer.
    #[error("bad as number {0:?}")]
    BadAsn(String),
}

/// An IP → ASN database, read into memory.
///
/// Lookups are read-only (`&self`), allocation-free and safe to share across
/// threads.
///
/// Two on-disk formats are read, told apart by content, not by file name:
///
/// - **MaxMind DB** (`.mmdb`, spec: <https://maxmind.github.io/MaxMind-DB/>):
///   GeoLite2-ASN and DB-IP ASN Lite (`autonomous_system_number`,
///   `autonomous_system_organization`) and IPinfo (`asn` as `"AS16509"`,
///   `name` or `as_name`). Recognised by the metadata marker
///   `\xab\xcd\xefMaxMind.com` in the last 128 KiB of the file.
/// - **Range files** (CSV or TSV, one inclusive range a line):
///   - ip-location-db (`@ip-location-db/asn`):
///     `start,end,asn[,org]`, the organisation quoted as in RFC 4180 when it
///     holds commas or quotes;
///   - iptoasn.com: `start<TAB>end<TAB>asn[<TAB>country[<TAB>description]]`.
///
///   The delimiter is chosen per file from its first data line (a tab means
///   TSV). Addresses are IPv4 or IPv6 text, or decimal integers as in the
///   `-num` variants (a range whose ends both fit in 32 bits is IPv4). Both
///   families may share a file. The AS number may be written `16509` or
///   `AS16509`; AS 0 means "not routed" and the range is left out. Blank lines
///   and lines starting with `#` are skipped, and a first line whose first
///   field is not an address is taken as a header. Where ranges overlap, the
///   later line (or file) wins.
///
/// [`AsnDb::open`] reads one file; [`AsnDb::open_many`] merges several range
/// files (say `asn-ipv4.csv` and `asn-ipv6.csv`). Directories are not
/// searched: name the files. Every error names the file, and for range files
/// the line and the bad value; no input panics.
///
/// Memory: a MaxMind DB is held whole (its file size) and verified once at
/// open; range files are kept as sorted arrays, 13 MiB for the full
/// ip-location-db data (515,000 ranges, 81,000 organisations).
///
/// ```
/// use discguard_netgroup::{AsnDb, Classifier, NetGroup};
///
/// let path = std::env::temp_dir().join(format!("asn-doc-{}.csv", std::process::id()));
/// std::fs::write(&path, "3.128.0.0,3.151.255.255,16509,\"Amazon.com, Inc.\"\n")?;
/// let db = AsnDb::open(&path)?;
/// let info = db.lookup("3.147.37.9".parse()?).unwrap();
/// assert_eq!((info.asn, info.org), (16509, Some("Amazon.com, Inc.")));
///
/// let classifier = Classifier::new(Some(db));
/// assert_eq!(classifier.groups("3.147.37.9".parse()?).asn, NetGroup::Asn(16509));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AsnDb {
    table: Table,
    paths: Vec<PathBuf>,
}

enum Table {
    Mmdb(MmdbTable),
    Ranges(RangeTable),
}

impl AsnDb {
    /// Opens one database file: a MaxMind DB or a range file (see [`AsnDb`]
    /// for the formats).
    ///
    /// # Errors
    ///
    /// [`AsnDbError::Io`] if it cannot be read, [`AsnDbError::NotADatabase`]
    /// for binary data without a MaxMind DB marker, [`AsnDbError::Malformed`]
    /// for a bad line, [`AsnDbError::Mmdb`] or [`AsnDbError::NoAsnField`] for
    /// a bad MaxMind DB and [`AsnDbError::Empty`] when nothing maps to an AS.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AsnDbError> {
        Self::open_many(&[path.as_ref()])
    }

    /// Opens several range files as one database (say `asn-ipv4.csv` and
    /// `asn-ipv6.csv`); later files win where ranges overlap. A MaxMind DB
    /// may be given only on its own.
    ///
    /// # Errors
    ///
    /// As [`AsnDb::open`], plus [`AsnDbError::NoFiles`] for an empty list and
    /// [`AsnDbError::MixedFormats`] for a MaxMind DB among other files.
    pub fn open_many<P: AsRef<Path>>(paths: &[P]) -> Result<Self, AsnDbError> {
        let paths: Vec<PathBuf> = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
        let Some(first) = paths.first() else {
            return Err(AsnDbError::NoFiles);
        };
        let mut builder = RangeBuilder::default();
        for path in &paths {
            let io_error = |source| AsnDbError::Io {
                path: path.clone(),
                source,
            };
            let mut file = File::open(path).map_err(io_error)?;
            if let Some(bytes) = read_if_mmdb(&mut file).map_err(io_error)? {
                if paths.len() > 1 {
                    return Err(AsnDbError::MixedFormats { path: path.clone() });
                }
                let table = MmdbTable::open(bytes, path)?;
                return Ok(Self {
                    table: Table::Mmdb(table),
                    paths,
                });
            }
            builder.add_file(path, BufReader::with_capacity(READ_BUFFER_BYTES, file))?;
        }
        let table = builder.finish();
        if table.is_empty() {
            return Err(AsnDbError::Empty {
                path: first.clone(),
            });
        }
        Ok(Self {
            table: Table::Ranges(table),
            paths,
        })
    }

    /// The on-disk format.
    pub fn format(&self) -> AsnDbFormat {
        match self.table {
            Table::Mmdb(_) => AsnDbFormat::Mmdb,
            Table::Ranges(_) => AsnDbFormat::Ranges,
        }
    }

    /// The files it was read from.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// The number of entries: ranges (after merging adjacent ranges of the
    /// same AS) for range files, search-tree nodes for a MaxMind DB.
    pub fn len(&self) -> usize {
        match &self.table {
            Table::Mmdb(t) => t.node_count(),
            Table::Ranges(t) => t.len(),
        }
    }

    /// Whether it has no entries (never true for an opened database).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When a MaxMind DB was built (its `build_epoch`); `None` for range
    /// files, which carry no date.
    pub fn build_time(&self) -> Option<SystemTime> {
        match &self.table {
            Table::Mmdb(t) => {
                SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(t.build_epoch()))
            }
            Table::Ranges(_) => None,
        }
    }

    /// A one-line summary for logs: files, format, entries and, for a
    /// MaxMind DB, its type and build date.
    pub fn description(&self) -> String {
        let files = self
            .paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        match &self.table {
            Table::Mmdb(t) => format!(
                "{files} (maxmind db {:?}, ipv{}, {} nodes, built {})",
                t.database_type(),
                t.ip_version(),
                t.node_count(),
                utc_date(t.build_epoch()),
            ),
            Table::Ranges(t) => format!(
                "{files} (csv/tsv ranges, {} ipv4 + {} ipv6 ranges, {} organisations)",
                t.v4_len(),
                t.v6_len(),
                t.org_count(),
            ),
        }
    }

    /// The origin AS number of `ip`, if the database knows one.
    ///
    /// The hot-path lookup: no allocation; a MaxMind DB record that fails to
    /// decode counts as unknown. IPv4-mapped IPv6 addresses are looked up as
    /// the IPv4 address they carry.
    pub fn lookup_asn(&self, ip: IpAddr) -> Option<u32> {
        self.lookup(ip).map(|info| info.asn)
    }

    /// The origin AS of `ip` with its organisation name, if the database knows
    /// it. Allocation-free like [`AsnDb::lookup_asn`].
    pub fn lookup(&self, ip: IpAddr) -> Option<AsnInfo<'_>> {
        self.try_lookup(ip).ok().flatten()
    }

    /// As [`AsnDb::lookup`], but reports a MaxMind DB record that fails to
    /// decode.
    ///
    /// # Errors
    ///
    /// [`AsnDbError::Lookup`] when the record for `ip` cannot be decoded.
    pub fn try_lookup(&self, ip: IpAddr) -> Result<Option<AsnInfo<'_>>, AsnDbError> {
        let ip = ip.to_canonical();
        match &self.table {
            Table::Mmdb(t) => t
                .lookup(ip)
                .map_err(|source| AsnDbError::Lookup { ip, source }),
            Table::Ranges(t) => Ok(t.lookup(ip)),
        }
    }
}

impl fmt::Debug for AsnDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsnDb")
            .field("format", &self.format())
            .field("paths", &self.paths)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// The whole file if it is a MaxMind DB; otherwise `None`, with the file
/// rewound for reading as text.
fn read_if_mmdb(file: &mut File) -> std::io::Result<Option<Vec<u8>>> {
    let len = file.metadata()?.len();
    let tail_len = len.min(MMDB_METADATA_MAX_BYTES as u64);
    file.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = Vec::with_capacity(tail_len as usize);
    file.by_ref().take(tail_len).read_to_end(&mut tail)?;
    file.seek(SeekFrom::Start(0))?;
    if !is_mmdb(&tail) {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// Whether `bytes` carry the MaxMind DB metadata marker where the spec puts
/// it: within the last 128 KiB.
fn is_mmdb(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(MMDB_METADATA_MAX_BYTES)..];
    tail.windows(MMDB_METADATA_MARKER.len())
        .any(|w| w == MMDB_METADATA_MARKER)
}

/// `YYYY-MM-DD` (UTC) of a Unix time in seconds, for logs (via `humantime`;
/// a time past year 9999 is shown as raw seconds).
fn utc_date(epoch_secs: u64) -> String {
    const YEAR_10000: u64 = 253_402_300_800;
    if epoch_secs >= YEAR_10000 {
        return format!("unix time {epoch_secs}");
    }
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch_secs);
    humantime::format_rfc3339_seconds(time).to_string()[..10].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmdb_writer::{MmdbValue, MmdbWriter};
    use proptest::prelude::*;
    use std::io::Write;

    fn file(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    fn asn<'a>(db: &'a AsnDb, ip: &str) -> Option<(u32, Option<&'a str>)> {
        db.lookup(ip.parse().unwrap()).map(|i| (i.asn, i.org))
    }

    fn str_(s: &str) -> MmdbValue {
        MmdbValue::Str(s.to_owned())
    }

    /// AWS and Hetzner in the schema of GeoLite2-ASN and DB-IP ASN Lite.
    fn geolite2_style() -> Vec<u8> {
        let mut w = MmdbWriter::new("GeoLite2-ASN");
        let aws = [
            ("autonomous_system_number", MmdbValue::U32(16509)),
            ("autonomous_system_organization", str_("AMAZON-02")),
        ];
        w.insert_v4_range(
            "3.128.0.0".parse().unwrap(),
            "3.151.255.255".parse().unwrap(),
            &aws,
        );
        let hetzner = [
            ("autonomous_system_number", MmdbValue::U32(24940)),
            (
                "autonomous_system_organization",
                str_("Hetzner Online GmbH"),
            ),
        ];
        w.insert_v4_range(
            "5.9.0.0".parse().unwrap(),
            "5.9.255.255".parse().unwrap(),
            &hetzner,
        );
        w.insert_v6_range(
            "2a01:4f8::".parse().unwrap(),
            "2a01:4f9:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
            &hetzner,
        );
        w.to_bytes()
    }

    #[test]
    fn mmdb_geolite2_schema() {
        let f = file(&geolite2_style());
        let db = AsnDb::open(f.path()).unwrap();
        assert_eq!(db.format(), AsnDbFormat::Mmdb);
        assert_eq!(asn(&db, "3.147.37.9"), Some((16509, Some("AMAZON-02"))));
        assert_eq!(
            asn(&db, "::ffff:3.147.37.9"),
            Some((16509, Some("AMAZON-02")))
        );
        assert_eq!(asn(&db, "3.152.0.0"), None);
        assert_eq!(
            asn(&db, "5.9.200.1"),
            Some((24940, Some("Hetzner Online GmbH")))
        );
        assert_eq!(
            asn(&db, "2a01:4f9:abcd::1"),
            Some((24940, Some("Hetzner Online GmbH")))
        );
        assert_eq!(asn(&db, "2a01:4fa::1"), None);
        assert_eq!(db.lookup_asn("3.128.0.0".parse().unwrap()), Some(16509));
        assert!(!db.is_empty());
        assert_eq!(
            db.build_time(),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        let d = db.description();
        assert!(d.contains("maxmind db \"GeoLite2-ASN\""), "{d}");
        assert!(d.contains("built 2023-11-14"), "{d}");
    }

    #[test]
    fn mmdb_ipinfo_schemas() {
        let mut w = MmdbWriter::new("ipinfo asn.mmdb");
        let rec = [
            ("asn", str_("AS16509")),
            ("name", str_("Amazon.com, Inc.")),
            ("domain", str_("amazon.com")),
            ("route", str_("3.128.0.0/12")),
            ("type", str_("hosting")),
        ];
        w.insert_v4_range(
            "3.128.0.0".parse().unwrap(),
            "3.143.255.255".parse().unwrap(),
            &rec,
        );
        // IPinfo Lite: `as_name`, plus country fields.
        let lite = [
            ("asn", str_("AS24940")),
            ("as_name", str_("Hetzner Online GmbH")),
            ("as_domain", str_("hetzner.com")),
            ("country_code", str_("DE")),
        ];
        w.insert_v6_range(
            "2a01:4f8::".parse().unwrap(),
            "2a01:4f8:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
            &lite,
        );
        // A numeric `asn` and a record with only country data.
        w.insert_v4_range(
            "9.9.9.0".parse().unwrap(),
            "9.9.9.255".parse().unwrap(),
            &[("asn", MmdbValue::U64(19281))],
        );
        w.insert_v4_range(
            "8.8.8.0".parse().unwrap(),
            "8.8.8.255".parse().unwrap(),
            &[("country_code", str_("US"))],
        );
        let f = file(&w.to_bytes());
        let db = AsnDb::open(f.path()).unwrap();
        assert_eq!(
            asn(&db, "3.130.1.1"),
            Some((16509, Some("Amazon.com, Inc.")))
        );
        assert_eq!(
            asn(&db, "2a01:4f8::1"),
            Some((24940, Some("Hetzner Online GmbH")))
        );
        assert_eq!(asn(&db, "9.9.9.9"), Some((19281, None)));
        assert_eq!(asn(&db, "8.8.8.8"), None);
    }

    #[test]
    fn mmdb_field_types_are_read_leniently() {
        let mut w = MmdbWriter::new("odd");
        let odd = [
            ("autonomous_system_number", str_("not a number")),
            ("asn", MmdbValue::U16(64500)),
            ("autonomous_system_organization", MmdbValue::U32(7)),
        ];
        w.insert_v4_range(
            "1.0.0.0".parse().unwrap(),
            "1.0.0.255".parse().unwrap(),
            &odd,
        );
        w.insert_v4_range(
            "1.0.1.0".parse().unwrap(),
            "1.0.1.255".parse().unwrap(),
            &[("asn", MmdbValue::U64(1 << 40))],
        );
        w.insert_v4_range(
            "1.0.2.0".parse().unwrap(),
            "1.0.2.255".parse().unwrap(),
            &[("asn", str_("AS0"))],
        );
        let f = file(&w.to_bytes());
        let db = AsnDb::open(f.path()).unwrap();
        assert_eq!(asn(&db, "1.0.0.1"), Some((64500, None)));
        assert_eq!(asn(&db, "1.0.1.1"), None, "too large for an AS number");
        assert_eq!(asn(&db, "1.0.2.1"), None, "AS 0 is not routed");
    }

    #[test]
    fn mmdb_errors() {
        let mut w = MmdbWriter::new("GeoLite2-City");
        w.insert_v4_range(
            "1.0.0.0".parse().unwrap(),
            "1.0.0.255".parse().unwrap(),
            &[("city", str_("Brisbane"))],
        );
        let f = file(&w.to_bytes());
        let e = AsnDb::open(f.path()).unwrap_err();
        assert!(
            matches!(&e, AsnDbError::NoAsnField { database_type, .. } if database_type == "GeoLite2-City"),
            "{e}"
        );

        let f = file(&MmdbWriter::new("GeoLite2-ASN").to_bytes());
        assert!(matches!(
            AsnDb::open(f.path()),
            Err(AsnDbError::Empty { .. })
        ));

        let bytes = geolite2_style();
        // Cut out the middle of the search tree: still carries the marker.
        let mut cut = bytes[..10].to_vec();
        cut.extend_from_slice(&bytes[bytes.len() - 300..]);
        let f = file(&cut);
        assert!(matches!(
            AsnDb::open(f.path()),
            Err(AsnDbError::Mmdb { .. })
        ));

        let good = file(&bytes);
        let csv = file(b"1.0.0.0,1.0.0.255,13335\n");
        assert!(matches!(
            AsnDb::open_many(&[csv.path(), good.path()]),
            Err(AsnDbError::MixedFormats { .. })
        ));
    }

    #[test]
    fn open_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.csv");
        let e = AsnDb::open(&missing).unwrap_err();
        assert!(matches!(e, AsnDbError::Io { .. }));
        assert!(
            e.to_string().starts_with("cannot read asn database "),
            "{e}"
        );
        assert!(
            matches!(AsnDb::open(dir.path()), Err(AsnDbError::Io { .. })),
            "a directory"
        );
        assert!(matches!(
            AsnDb::open_many::<&Path>(&[]),
            Err(AsnDbError::NoFiles)
        ));
        let f = file(b"");
        assert!(matches!(
            AsnDb::open(f.path()),
            Err(AsnDbError::Empty { .. })
        ));
        let f = file(b"# only a comment\nstart,end,asn\n1.0.0.0,1.0.0.255,0\n");
        assert!(matches!(
            AsnDb::open(f.path()),
            Err(AsnDbError::Empty { .. })
        ));
        let f = file(b"\x7fELF\x02\x01\x01\x00\x00");
        assert!(matches!(
            AsnDb::open(f.path()),
            Err(AsnDbError::NotADatabase { .. })
        ));
    }

    #[test]
    fn open_many_merges_files() {
        let v4 = file(b"1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n");
        let v6 = file(
            b"2606:4700::,2606:4700:ffff:ffff:ffff:ffff:ffff:ffff,13335,\"Cloudflare, Inc.\"\n",
        );
        let later = file(b"1.0.0.128\t1.0.0.255\t64496\tZZ\tlater file\n");
        let db = AsnDb::open_many(&[v4.path(), v6.path(), later.path()]).unwrap();
        assert_eq!(db.format(), AsnDbFormat::Ranges);
        assert_eq!(db.paths().len(), 3);
        assert_eq!(asn(&db, "1.0.0.1"), Some((13335, Some("Cloudflare, Inc."))));
        assert_eq!(asn(&db, "1.0.0.200"), Some((64496, Some("later file"))));
        assert_eq!(
            asn(&db, "2606:4700::1111"),
            Some((13335, Some("Cloudflare, Inc.")))
        );
        assert_eq!(db.len(), 3);
        assert_eq!(db.build_time(), None);
        let d = db.description();
        assert!(d.contains("2 ipv4 + 1 ipv6 ranges, 2 organisations"), "{d}");
        assert!(format!("{db:?}").starts_with("AsnDb { format: Ranges"));
    }

    #[test]
    fn databases_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<AsnDb>();
        assert_send_sync::<AsnDbError>();
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(1_700_000_000), "2023-11-14");
        assert_eq!(utc_date(4_102_444_800), "2100-01-01");
        // Far future epochs do not overflow.
        let _ = utc_date(u64::MAX);
    }

    #[test]
    fn marker_must_be_near_the_end() {
        let mut bytes = MMDB_METADATA_MARKER.to_vec();
        assert!(is_mmdb(&bytes));
        bytes.extend(std::iter::repeat_n(b'x', MMDB_METADATA_MAX_BYTES));
        assert!(!is_mmdb(&bytes));
        assert!(!is_mmdb(b""));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Arbitrary bytes, raw or behind a MaxMind DB marker or after a valid
        /// range line, open or fail with an error: never a panic.
        #[test]
        fn arbitrary_files_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..2048),
            wrap in 0u8..3,
        ) {
            let bytes = match wrap {
                0 => bytes,
                1 => {
                    let mut b = bytes;
                    b.extend_from_slice(MMDB_METADATA_MARKER);
                    b
                }
                _ => [&b"1.0.0.0,1.0.0.255,13335\n"[..], &bytes].concat(),
            };
            let f = file(&bytes);
            if let Ok(db) = AsnDb::open(f.path()) {
                let _ = db.lookup("1.0.0.1".parse().unwrap());
                let _ = db.lookup("2001:db8::1".parse().unwrap());
                let _ = db.description();
            }
        }

        /// Text made of range-file characters: stresses the line parser.
        #[test]
        fn arbitrary_range_text_never_panics(text in "[0-9a-fA-F:.,\t\"# \n\r-]{0,400}") {
            let f = file(text.as_bytes());
            if let Ok(db) = AsnDb::open(f.path()) {
                let _ = db.lookup("::ffff:1.2.3.4".parse().unwrap());
            }
        }

        /// Mutations of a valid MaxMind DB either open or fail cleanly, and
        /// lookups in what opens do not panic.
        #[test]
        fn mutated_mmdb_never_panics(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
            let mut bytes = geolite2_style();
            for (i, b) in flips {
                let i = i.index(bytes.len());
                bytes[i] ^= b;
            }
            let f = file(&bytes);
            if let Ok(db) = AsnDb::open(f.path()) {
                for ip in ["3.147.37.9", "5.9.1.1", "2a01:4f8::1", "8.8.8.8"] {
                    let _ = db.try_lookup(ip.parse().unwrap());
                }
            }
        }
    }
}
