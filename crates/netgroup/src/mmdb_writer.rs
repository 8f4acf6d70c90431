//! A minimal MaxMind DB writer, for tests and simulated networks.
//!
//! Writes IPv6 databases (IPv4 networks live at `::a.b.c.d/96+n`, as in
//! GeoLite2) whose records are flat maps of strings and unsigned integers:
//! enough to produce GeoLite2-ASN, DB-IP ASN Lite and IPinfo-style files that
//! [`AsnDb::open`](crate::AsnDb::open) reads. Follows the MaxMind DB spec
//! (<https://maxmind.github.io/MaxMind-DB/>), record size 24 or 32 bits.
//!
//! ```
//! use discguard_netgroup::mmdb_writer::{MmdbValue, MmdbWriter};
//!
//! let mut w = MmdbWriter::new("GeoLite2-ASN");
//! w.insert_v4_range(
//!     "3.128.0.0".parse().unwrap(),
//!     "3.151.255.255".parse().unwrap(),
//!     &[
//!         ("autonomous_system_number", MmdbValue::U32(16509)),
//!         ("autonomous_system_organization", MmdbValue::Str("AMAZON-02".into())),
//!     ],
//! );
//! let bytes = w.to_bytes();
//! assert!(bytes.len() < 4096);
//! ```

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A value in a record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MmdbValue {
    /// A UTF-8 string.
    Str(String),
    /// An unsigned 16-bit integer.
    U16(u16),
    /// An unsigned 32-bit integer.
    U32(u32),
    /// An unsigned 64-bit integer.
    U64(u64),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Child {
    Empty,
    Node(usize),
    Data(usize),
}

/// Builds a MaxMind DB in memory.
pub struct MmdbWriter {
    database_type: String,
    build_epoch: u64,
    nodes: Vec<[Child; 2]>,
    /// Encoded records, deduplicated.
    records: Vec<Vec<u8>>,
    record_ids: HashMap<Vec<u8>, usize>,
}

impl MmdbWriter {
    /// An empty database of the given `database_type` (metadata), built at
    /// Unix time 1,700,000,000 (2023-11-14) unless [`MmdbWriter::build_epoch`]
    /// says otherwise.
    pub fn new(database_type: &str) -> Self {
        Self {
            database_type: database_type.to_owned(),
            build_epoch: 1_700_000_000,
            nodes: vec![[Child::Empty; 2]],
            records: Vec::new(),
            record_ids: HashMap::new(),
        }
    }

    /// Sets the build time (Unix seconds) written to the metadata.
    pub fn build_epoch(&mut self, epoch_secs: u64) -> &mut Self {
        self.build_epoch = epoch_secs;
        self
    }

    /// Maps every address in `start..=end` to `record` (later inserts win).
    pub fn insert_v4_range(
        &mut self,
        start: Ipv4Addr,
        end: Ipv4Addr,
        record: &[(&str, MmdbValue)],
    ) {
        let (s, e) = (u128::from(start.to_bits()), u128::from(end.to_bits()));
        self.insert_range(s, e, 32, 96, record);
    }

    /// Maps every address in `start..=end` to `record` (later inserts win).
    pub fn insert_v6_range(
        &mut self,
        start: Ipv6Addr,
        end: Ipv6Addr,
        record: &[(&str, MmdbValue)],
    ) {
        self.insert_range(start.to_bits(), end.to_bits(), 128, 0, record);
    }

    /// Splits `[s, e]` of a `width`-bit space into CIDR blocks and inserts
    /// each one `depth` bits below the root.
    fn insert_range(
        &mut self,
        mut s: u128,
        e: u128,
        width: u32,
        depth: u32,
        record: &[(&str, MmdbValue)],
    ) {
        if s > e {
            return;
        }
        let data = self.record_id(record);
        loop {
            // The largest aligned block starting at `s` that ends by `e`.
            let mut bits = if s == 0 {
                width
            } else {
                s.trailing_zeros().min(width)
            };
            let last = loop {
                let span = if bits == 128 {
                    u128::MAX
                } else {
                    (1u128 << bits) - 1
                };
                let last = s + span;
                if last <= e {
                    break last;
                }
                bits -= 1;
            };
            let prefix_len = width - bits;
            self.insert_prefix(s, width, prefix_len, depth, data);
            if last == e {
                break;
            }
            s = last + 1;
        }
    }

    fn insert_prefix(&mut self, addr: u128, width: u32, prefix_len: u32, depth: u32, data: usize) {
        let total = depth + prefix_len;
        let full = if width == 32 {
            addr << 96 >> depth
        } else {
            addr
        };
        if total == 0 {
            // The whole space: both halves of the root.
            self.nodes[0] = [Child::Data(data); 2];
            return;
        }
        let mut node = 0;
        for i in 0..total {
            let bit = ((full >> (127 - i)) & 1) as usize;
            if i + 1 == total {
                self.nodes[node][bit] = Child::Data(data);
                return;
            }
            node = match self.nodes[node][bit] {
                Child::Node(n) => n,
                leaf => {
                    // Split an empty or data leaf into a node whose halves
                    // keep its old value.
                    self.nodes.push([leaf; 2]);
                    let n = self.nodes.len() - 1;
                    self.nodes[node][bit] = Child::Node(n);
                    n
                }
            };
        }
    }

    fn record_id(&mut self, record: &[(&str, MmdbValue)]) -> usize {
        let mut bytes = Vec::new();
        encode_size(&mut bytes, 7, record.len());
        for (k, v) in record {
            encode_str(&mut bytes, k);
            encode_value(&mut bytes, v);
        }
        if let Some(&id) = self.record_ids.get(&bytes) {
            return id;
        }
        self.records.push(bytes.clone());
        self.record_ids.insert(bytes, self.records.len() - 1);
        self.records.len() - 1
    }

    /// The database file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let node_count = self.nodes.len();
        let mut offsets = Vec::with_capacity(self.records.len());
        let mut data = Vec::new();
        for r in &self.records {
            offsets.push(data.len());
            data.extend_from_slice(r);
        }
        let value = |c: Child| -> u64 {
            match c {
                Child::Node(n) => n as u64,
                Child::Empty => node_count as u64,
                Child::Data(d) => (node_count + 16 + offsets[d]) as u64,
            }
        };
        let max = (node_count + 16 + data.len()) as u64;
        let record_size: u16 = if max < (1 << 24) { 24 } else { 32 };
        let mut out =
            Vec::with_capacity(node_count * usize::from(record_size) / 4 + 16 + data.len() + 256);
        for node in &self.nodes {
            for child in node {
                let v = value(*child);
                if record_size == 24 {
                    out.extend_from_slice(&v.to_be_bytes()[5..]);
                } else {
                    out.extend_from_slice(&v.to_be_bytes()[4..]);
                }
            }
        }
        out.extend_from_slice(&[0; 16]);
        out.extend_from_slice(&data);
        out.extend_from_slice(b"\xab\xcd\xefMaxMind.com");
        let mut meta = Vec::new();
        encode_size(&mut meta, 7, 9);
        let mut pair = |k: &str, v: MmdbValue| {
            encode_str(&mut meta, k);
            encode_value(&mut meta, &v);
        };
        pair("node_count", MmdbValue::U32(node_count as u32));
        pair("record_size", MmdbValue::U16(record_size));
        pair("ip_version", MmdbValue::U16(6));
        pair("database_type", MmdbValue::Str(self.database_type.clone()));
        pair("binary_format_major_version", MmdbValue::U16(2));
        pair("binary_format_minor_version", MmdbValue::U16(0));
        pair("build_epoch", MmdbValue::U64(self.build_epoch));
        encode_str(&mut meta, "languages");
        // Array (extended type 11) of one string.
        meta.extend_from_slice(&[1, 11 - 7]);
        encode_str(&mut meta, "en");
        encode_str(&mut meta, "description");
        encode_size(&mut meta, 7, 1);
        encode_str(&mut meta, "en");
        encode_str(&mut meta, "written by discguard-netgroup's test writer");
        out.extend_from_slice(&meta);
        out
    }
}

/// A control byte (and size bytes) for a standard type `ty` (1..=7).
fn encode_size(out: &mut Vec<u8>, ty: u8, size: usize) {
    let ty = ty << 5;
    if size < 29 {
        out.push(ty | size as u8);
    } else if size < 29 + 256 {
        out.extend_from_slice(&[ty | 29, (size - 29) as u8]);
    } else if size < 285 + 65_536 {
        let s = ((size - 285) as u16).to_be_bytes();
        out.extend_from_slice(&[ty | 30, s[0], s[1]]);
    } else {
        let s = ((size - 65_821) as u32).to_be_bytes();
        out.extend_from_slice(&[ty | 31, s[1], s[2], s[3]]);
    }
}

fn encode_str(out: &mut Vec<u8>, s: &str) {
    encode_size(out, 2, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn encode_uint(out: &mut Vec<u8>, ty: u8, v: u64, width: usize) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let payload = &bytes[skip.max(8 - width)..];
    if ty <= 7 {
        encode_size(out, ty, payload.len());
    } else {
        // Extended type: size in the control byte, type - 7 after it.
        out.extend_from_slice(&[payload.len() as u8, ty - 7]);
    }
    out.extend_from_slice(payload);
}

fn encode_value(out: &mut Vec<u8>, v: &MmdbValue) {
    match v {
        MmdbValue::Str(s) => encode_str(out, s),
        MmdbValue::U16(n) => encode_uint(out, 5, u64::from(*n), 2),
        MmdbValue::U32(n) => encode_uint(out, 6, u64::from(*n), 4),
        MmdbValue::U64(n) => encode_uint(out, 9, *n, 8),
    }
}
