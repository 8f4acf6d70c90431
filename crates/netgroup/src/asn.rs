//! ASN databases.
//!
//! STUB: to be completed (netgroup helper).

use std::net::IpAddr;
use std::path::Path;

/// The origin AS of an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsnInfo {
    /// The AS number.
    pub asn: u32,
}

/// The on-disk format of an ASN database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsnDbFormat {
    /// MaxMind DB.
    Mmdb,
    /// CSV or TSV ranges.
    Ranges,
}

/// Errors opening an ASN database.
#[derive(Debug, thiserror::Error)]
pub enum AsnDbError {
    /// The file could not be read.
    #[error("cannot read ASN database {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// An IP → ASN database.
#[derive(Debug)]
pub struct AsnDb {
    format: AsnDbFormat,
}

impl AsnDb {
    /// Opens a database file.
    pub fn open(path: &Path) -> Result<Self, AsnDbError> {
        std::fs::metadata(path).map_err(|source| AsnDbError::Io { path: path.display().to_string(), source })?;
        Ok(Self { format: AsnDbFormat::Ranges })
    }

    /// The format.
    pub fn format(&self) -> AsnDbFormat {
        self.format
    }

    /// The origin AS of `ip`.
    pub fn lookup(&self, _ip: IpAddr) -> Option<AsnInfo> {
        None
    }
}
