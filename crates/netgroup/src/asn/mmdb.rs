//! MaxMind DB files (GeoLite2-ASN, DB-IP ASN Lite, IPinfo ASN).

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use maxminddb::{MaxMindDbError, Reader, WithinOptions};
use serde::de::{self, Deserializer, IgnoredAny, Visitor};

use super::{AsnDbError, AsnInfo};

/// How many records [`MmdbTable::open`] decodes, at most, looking for one
/// with an AS number before deciding the file is not an ASN database. Every
/// record of an ASN database has one; an ISP database may leave a few out.
const PROBE_RECORDS: usize = 1024;

/// A MaxMind DB held in memory.
pub(crate) struct MmdbTable {
    reader: Reader<Vec<u8>>,
}

impl MmdbTable {
    /// Opens and verifies a MaxMind DB and checks that its records carry AS
    /// numbers.
    pub(crate) fn open(bytes: Vec<u8>, path: &Path) -> Result<Self, AsnDbError> {
        let mmdb_error = |source| AsnDbError::Mmdb {
            path: path.to_path_buf(),
            source,
        };
        let reader = Reader::from_source(bytes).map_err(mmdb_error)?;
        // Walks the whole search tree and data section once, so that a
        // corrupt file fails here rather than as silent misses later.
        reader.verify().map_err(mmdb_error)?;
        let table = Self { reader };
        let mut records = 0;
        for result in table
            .reader
            .networks(WithinOptions::default())
            .map_err(mmdb_error)?
        {
            let record = result.map_err(mmdb_error)?;
            let decoded: Option<AsnRecord<'_>> = record.decode().map_err(mmdb_error)?;
            if decoded.is_some_and(|r| r.asn().is_some()) {
                return Ok(table);
            }
            records += 1;
            if records >= PROBE_RECORDS {
                break;
            }
        }
        if records == 0 {
            return Err(AsnDbError::Empty {
                path: path.to_path_buf(),
            });
        }
        Err(AsnDbError::NoAsnField {
            path: path.to_path_buf(),
            database_type: table.database_type().to_owned(),
        })
    }

    pub(crate) fn node_count(&self) -> usize {
        self.reader.metadata().node_count as usize
    }

    pub(crate) fn build_epoch(&self) -> u64 {
        self.reader.metadata().build_epoch
    }

    pub(crate) fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    pub(crate) fn ip_version(&self) -> u16 {
        self.reader.metadata().ip_version
    }

    /// `ip` must be canonical (IPv4-mapped addresses already turned to IPv4).
    pub(crate) fn lookup(&self, ip: IpAddr) -> Result<Option<AsnInfo<'_>>, MaxMindDbError> {
        if ip.is_ipv6() && self.ip_version() == 4 {
            return Ok(None);
        }
        let record: Option<AsnRecord<'_>> = self.reader.lookup(ip)?.decode()?;
        Ok(record.and_then(|r| {
            let asn = r.asn()?;
            Some(AsnInfo { asn, org: r.org() })
        }))
    }
}

/// The fields of an ASN record in the databases we know. Every field is
/// optional and read leniently (a field of an unexpected type counts as
/// absent), so one schema covers them all:
///
/// | database | AS number | organisation |
/// |---|---|---|
/// | GeoLite2-ASN, GeoIP2-ISP, DB-IP ASN Lite | `autonomous_system_number` (uint32) | `autonomous_system_organization` |
/// | IPinfo ASN | `asn` (`"AS16509"`) | `name` |
/// | IPinfo Lite | `asn` (`"AS16509"`) | `as_name` |
#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct AsnRecord<'a> {
    autonomous_system_number: AsnField,
    #[serde(borrow)]
    autonomous_system_organization: StrField<'a>,
    asn: AsnField,
    #[serde(borrow)]
    name: StrField<'a>,
    #[serde(borrow)]
    as_name: StrField<'a>,
}

impl<'a> AsnRecord<'a> {
    fn asn(&self) -> Option<u32> {
        self.autonomous_system_number
            .0
            .or(self.asn.0)
            .filter(|&n| n != 0)
    }

    fn org(&self) -> Option<&'a str> {
        self.autonomous_system_organization
            .0
            .or(self.as_name.0)
            .or(self.name.0)
            .filter(|s| !s.is_empty())
    }
}

/// An AS number written as any unsigned integer or as a string `"16509"` /
/// `"AS16509"`; anything else reads as absent.
#[derive(Default)]
struct AsnField(Option<u32>);

impl<'de> serde::Deserialize<'de> for AsnField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AsnField;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an as number")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<AsnField, E> {
                Ok(AsnField(u32::try_from(v).ok()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<AsnField, E> {
                Ok(AsnField(u32::try_from(v).ok()))
            }

            fn visit_u128<E: de::Error>(self, v: u128) -> Result<AsnField, E> {
                Ok(AsnField(u32::try_from(v).ok()))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<AsnField, E> {
                let digits = match v.get(..2) {
                    Some(p) if p.eq_ignore_ascii_case("as") => &v[2..],
                    _ => v,
                };
                Ok(AsnField(digits.parse().ok()))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<AsnField, E> {
                Ok(AsnField(None))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<AsnField, E> {
                Ok(AsnField(None))
            }

            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<AsnField, E> {
                Ok(AsnField(None))
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<AsnField, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(AsnField(None))
            }

            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<AsnField, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(AsnField(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A string borrowed from the database; anything that is not a string reads
/// as absent.
#[derive(Default)]
struct StrField<'a>(Option<&'a str>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for StrField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = StrField<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<StrField<'a>, E> {
                Ok(StrField(Some(v)))
            }

            // A string the decoder cannot lend (never the case for MaxMind DB
            // files, which are held in memory) is dropped rather than copied.
            fn visit_str<E: de::Error>(self, _: &str) -> Result<StrField<'a>, E> {
                Ok(StrField(None))
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<StrField<'a>, E> {
                Ok(StrField(None))
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<StrField<'a>, E> {
                Ok(StrField(None))
            }

            fn visit_u128<E: de::Error>(self, _: u128) -> Result<StrField<'a>, E> {
                Ok(StrField(None))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<StrField<'a>, E> {
                Ok(StrField(None))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<StrField<'a>, E> {
                Ok(StrField(None))
            }

            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<StrField<'a>, E> {
                Ok(StrField(None))
            }

            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<StrField<'a>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(StrField(None))
            }

            fn visit_map<A: de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<StrField<'a>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(StrField(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}
