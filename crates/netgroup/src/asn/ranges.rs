//! CSV/TSV range files (ip-location-db, iptoasn.com).
//!
//! Real range files are sorted and disjoint, so lines are appended to a plain
//! list per family. A line that overlaps or precedes what came before, or
//! overlaps such a line, goes to a [`RangeInclusiveMap`] instead, which
//! resolves overlaps (later lines win); [`RangeBuilder::finish`] lays the map
//! over the list, merges adjacent ranges of the same AS and organisation, and
//! freezes the result into sorted arrays searched by bisection. For the full
//! ip-location-db data (515,000 ranges, one overlap) that is 13 MiB of heap,
//! about a third of what a map of every range takes, and faster to search.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::BufRead;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::ops::RangeInclusive;
use std::path::Path;

use rangemap::{RangeInclusiveMap, StepLite};

use super::{AsnDbError, AsnInfo, LineProblem};

/// The most fields a CSV line may have: start, end, asn, org.
const CSV_MAX_FIELDS: usize = 4;
/// The most fields a TSV line may have: start, end, asn, country, description.
const TSV_MAX_FIELDS: usize = 5;

/// The value stored per range: small and `Copy`, and equal for equal
/// (AS, organisation) so that adjacent ranges merge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    asn: NonZeroU32,
    /// Index + 1 into [`Orgs::spans`].
    org: Option<NonZeroU32>,
}

/// Organisation names, interned: one string holding them all.
#[derive(Default)]
struct Orgs {
    text: String,
    /// `(offset, len)` of each name in `text`.
    spans: Vec<(u32, u32)>,
}

impl Orgs {
    fn get(&self, id: NonZeroU32) -> Option<&str> {
        let &(offset, len) = self.spans.get(id.get() as usize - 1)?;
        self.text
            .get(offset as usize..(offset as usize).checked_add(len as usize)?)
    }
}

/// The ranges of one address family while files are read.
struct Ranges<K> {
    /// Disjoint, in ascending order: lines that came in order.
    sorted: Vec<(K, K, Entry)>,
    /// Lines that overlapped or preceded earlier lines, and lines that
    /// overlapped those; they win over `sorted` where they overlap it.
    overrides: RangeInclusiveMap<K, Entry>,
}

impl<K> Default for Ranges<K> {
    fn default() -> Self {
        Self {
            sorted: Vec::new(),
            overrides: RangeInclusiveMap::default(),
        }
    }
}

impl<K: Ord + Copy + StepLite> Ranges<K> {
    /// Adds a range; where it overlaps earlier ranges, it wins.
    fn insert(&mut self, range: RangeInclusive<K>, entry: Entry) {
        let (start, end) = (*range.start(), *range.end());
        let in_order = self
            .sorted
            .last()
            .is_none_or(|&(_, last_end, _)| start > last_end);
        // An override that `range` overlaps is earlier than `range`, so it
        // must not win: send `range` to the overrides too, where later wins.
        if in_order && (self.overrides.is_empty() || !self.overrides.overlaps(&range)) {
            self.sorted.push((start, end, entry));
        } else {
            self.overrides.insert(range, entry);
        }
    }

    /// Every range, disjoint and sorted, with neighbours of equal entries
    /// merged.
    fn freeze(self) -> Sorted<K> {
        let Self { sorted, overrides } = self;
        let mut all = if overrides.is_empty() {
            sorted
        } else {
            let mut all = Vec::with_capacity(sorted.len() + overrides.len());
            for &(start, end, entry) in &sorted {
                for gap in overrides.gaps(&(start..=end)) {
                    all.push((*gap.start(), *gap.end(), entry));
                }
            }
            drop(sorted);
            all.extend(
                overrides
                    .into_iter()
                    .map(|(r, e)| (*r.start(), *r.end(), e)),
            );
            all.sort_unstable_by_key(|&(start, _, _)| start);
            all
        };
        all.dedup_by(|next, prev| {
            let adjacent = prev.1 < next.0 && prev.1.add_one() == next.0;
            if adjacent && prev.2 == next.2 {
                prev.1 = next.1;
                true
            } else {
                false
            }
        });
        let mut starts = Vec::with_capacity(all.len());
        let mut ends = Vec::with_capacity(all.len());
        let mut entries = Vec::with_capacity(all.len());
        for (start, end, entry) in all {
            starts.push(start);
            ends.push(end);
            entries.push(entry);
        }
        Sorted {
            starts: starts.into(),
            ends: ends.into(),
            entries: entries.into(),
        }
    }
}

/// Disjoint inclusive ranges sorted by start, in three parallel arrays.
struct Sorted<K> {
    starts: Box<[K]>,
    ends: Box<[K]>,
    entries: Box<[Entry]>,
}

impl<K: Ord + Copy> Sorted<K> {
    fn get(&self, key: K) -> Option<Entry> {
        let i = self.starts.partition_point(|&s| s <= key).checked_sub(1)?;
        (key <= self.ends[i]).then(|| self.entries[i])
    }

    fn len(&self) -> usize {
        self.starts.len()
    }
}

/// Ranges read from one or more files.
pub(crate) struct RangeTable {
    v4: Sorted<u32>,
    v6: Sorted<u128>,
    orgs: Orgs,
}

impl RangeTable {
    pub(crate) fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn v4_len(&self) -> usize {
        self.v4.len()
    }

    pub(crate) fn v6_len(&self) -> usize {
        self.v6.len()
    }

    pub(crate) fn org_count(&self) -> usize {
        self.orgs.spans.len()
    }

    /// `ip` must be canonical (IPv4-mapped addresses already turned to IPv4).
    pub(crate) fn lookup(&self, ip: IpAddr) -> Option<AsnInfo<'_>> {
        let entry = match ip {
            IpAddr::V4(v4) => self.v4.get(v4.to_bits()),
            IpAddr::V6(v6) => self.v6.get(v6.to_bits()),
        }?;
        Some(AsnInfo {
            asn: entry.asn.get(),
            org: entry.org.and_then(|id| self.orgs.get(id)),
        })
    }
}

/// Reads range files into a [`RangeTable`].
#[derive(Default)]
pub(crate) struct RangeBuilder {
    v4: Ranges<u32>,
    v6: Ranges<u128>,
    orgs: Orgs,
    org_ids: HashMap<Box<str>, NonZeroU32>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Delimiter {
    Comma,
    Tab,
}

/// One end of a range as written.
#[derive(Clone, Copy)]
enum Bound {
    V4(u32),
    V6(u128),
    /// A decimal integer (the `-num` files): family decided by the range.
    Num(u128),
}

/// A parsed data line.
enum Range {
    V4(RangeInclusive<u32>),
    V6(RangeInclusive<u128>),
}

impl RangeBuilder {
    /// Parses one file, line by line, and adds its ranges.
    pub(crate) fn add_file(
        &mut self,
        path: &Path,
        mut input: impl BufRead,
    ) -> Result<(), AsnDbError> {
        let io_error = |source| AsnDbError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut delimiter = None;
        let mut raw = Vec::new();
        for line in 1.. {
            raw.clear();
            if input.read_until(b'\n', &mut raw).map_err(io_error)? == 0 {
                return Ok(());
            }
            let malformed = |problem| AsnDbError::Malformed {
                path: path.to_path_buf(),
                line,
                problem,
            };
            if delimiter.is_none() && raw.contains(&0) {
                return Err(AsnDbError::NotADatabase {
                    path: path.to_path_buf(),
                    reason: "binary data without a maxmind db metadata marker",
                });
            }
            let bytes = raw.strip_suffix(b"\n").unwrap_or(&raw);
            let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
            let text = std::str::from_utf8(bytes).map_err(|_| malformed(LineProblem::NotUtf8))?;
            // Strip a UTF-8 byte-order mark on the first line.
            let text = if line == 1 {
                text.trim_start_matches('\u{feff}')
            } else {
                text
            };
            let trimmed = text.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let first_data_line = delimiter.is_none();
            let delim = match delimiter {
                Some(d) => d,
                None => {
                    let d = if text.contains('\t') {
                        Delimiter::Tab
                    } else if text.contains(',') {
                        Delimiter::Comma
                    } else {
                        return Err(AsnDbError::NotADatabase {
                            path: path.to_path_buf(),
                            reason: "first data line has neither commas nor tabs",
                        });
                    };
                    delimiter = Some(d);
                    d
                }
            };
            self.add_line(text, delim, first_data_line)
                .map_err(malformed)?;
        }
        Ok(())
    }

    /// Parses one non-blank, non-comment line.
    fn add_line(
        &mut self,
        text: &str,
        delim: Delimiter,
        may_be_header: bool,
    ) -> Result<(), LineProblem> {
        let mut fields: [Cow<'_, str>; TSV_MAX_FIELDS] = Default::default();
        let (count, max) = match delim {
            Delimiter::Tab => (split_tsv(text, &mut fields), TSV_MAX_FIELDS),
            Delimiter::Comma => (split_csv(text, &mut fields)?, CSV_MAX_FIELDS),
        };
        if may_be_header && parse_bound(fields[0].trim()).is_none() {
            // A header line such as `range_start,range_end,asn,org`.
            return Ok(());
        }
        if count > max {
            return Err(LineProblem::TooManyFields { found: count, max });
        }
        if let Some(&field) = ["start", "end", "asn"].get(count) {
            return Err(LineProblem::MissingField { field });
        }
        let (start, end) = (fields[0].trim(), fields[1].trim());
        let range = parse_range(start, end)?;
        let asn = parse_asn(fields[2].trim())?;
        let Some(asn) = NonZeroU32::new(asn) else {
            // AS 0: not routed (iptoasn.com). Leave the range unmapped.
            return Ok(());
        };
        let org_field = match delim {
            Delimiter::Comma => 3,
            Delimiter::Tab => 4,
        };
        let org = if org_field < count {
            self.intern(fields[org_field].trim())
        } else {
            None
        };
        let entry = Entry { asn, org };
        match range {
            Range::V4(r) => self.v4.insert(r, entry),
            Range::V6(r) => self.v6.insert(r, entry),
        }
        Ok(())
    }

    fn intern(&mut self, org: &str) -> Option<NonZeroU32> {
        if org.is_empty() {
            return None;
        }
        if let Some(&id) = self.org_ids.get(org) {
            return Some(id);
        }
        // Offsets are 32-bit: past 4 GiB of names (impossible for real data),
        // stay total and drop the name.
        let offset = u32::try_from(self.orgs.text.len()).ok()?;
        let len = u32::try_from(org.len()).ok()?;
        offset.checked_add(len)?;
        let id = u32::try_from(self.orgs.spans.len() + 1)
            .ok()
            .and_then(NonZeroU32::new)?;
        self.orgs.text.push_str(org);
        self.orgs.spans.push((offset, len));
        self.org_ids.insert(org.into(), id);
        Some(id)
    }

    /// Freezes the ranges read so far into a table.
    pub(crate) fn finish(self) -> RangeTable {
        let Self {
            v4,
            v6,
            mut orgs,
            org_ids,
        } = self;
        drop(org_ids);
        orgs.text.shrink_to_fit();
        orgs.spans.shrink_to_fit();
        RangeTable {
            v4: v4.freeze(),
            v6: v6.freeze(),
            orgs,
        }
    }
}

/// Splits a TSV line into `fields`, returning how many fields it has (which
/// may exceed `fields.len()`; the extra fields are dropped).
fn split_tsv<'a>(text: &'a str, fields: &mut [Cow<'a, str>]) -> usize {
    let mut count = 0;
    for (i, field) in text.split('\t').enumerate() {
        if let Some(slot) = fields.get_mut(i) {
            *slot = Cow::Borrowed(field);
        }
        count = i + 1;
    }
    count
}

/// Splits an RFC 4180 CSV line into `fields`, returning how many fields it
/// has. Quoted fields may hold commas and doubled quotes (`""`).
fn split_csv<'a>(text: &'a str, fields: &mut [Cow<'a, str>]) -> Result<usize, LineProblem> {
    let mut count = 0;
    let mut rest = text;
    loop {
        let (field, next) = csv_field(rest)?;
        if let Some(slot) = fields.get_mut(count) {
            *slot = field;
        }
        count += 1;
        match next {
            Some(next) => rest = next,
            None => return Ok(count),
        }
    }
}

/// Reads one CSV field from the start of `s`; returns it and the text after
/// its comma, or `None` at the end of the line.
fn csv_field(s: &str) -> Result<(Cow<'_, str>, Option<&str>), LineProblem> {
    let lead = s.len() - s.trim_start_matches([' ', '\t']).len();
    let body = &s[lead..];
    let Some(quoted) = body.strip_prefix('"') else {
        return Ok(match s.split_once(',') {
            Some((field, next)) => (Cow::Borrowed(field), Some(next)),
            None => (Cow::Borrowed(s), None),
        });
    };
    let bad = || LineProblem::BadQuoting {
        field: s.split(',').next().unwrap_or(s).to_owned(),
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    let close = loop {
        match chars.next() {
            None => return Err(bad()),
            Some((i, '"')) => {
                if quoted[i + 1..].starts_with('"') {
                    value.push('"');
                    chars.next();
                } else {
                    break i;
                }
            }
            Some((_, c)) => value.push(c),
        }
    };
    let after = quoted[close + 1..].trim_start_matches([' ', '\t']);
    if after.is_empty() {
        Ok((Cow::Owned(value), None))
    } else if let Some(next) = after.strip_prefix(',') {
        Ok((Cow::Owned(value), Some(next)))
    } else {
        Err(bad())
    }
}

fn parse_bound(s: &str) -> Option<Bound> {
    if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
        return s.parse::<u128>().ok().map(Bound::Num);
    }
    match s.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(Bound::V4(v4.to_bits())),
        IpAddr::V6(v6) => Some(Bound::V6(v6.to_bits())),
    }
}

fn parse_range(start: &str, end: &str) -> Result<Range, LineProblem> {
    let s = parse_bound(start).ok_or_else(|| LineProblem::BadStart(start.to_owned()))?;
    let e = parse_bound(end).ok_or_else(|| {
        if end.bytes().all(|b| b.is_ascii_digit()) && !end.is_empty() {
            LineProblem::OutOfRange(end.to_owned())
        } else {
            LineProblem::BadEnd(end.to_owned())
        }
    })?;
    let mixed = || LineProblem::MixedFamilies {
        start: start.to_owned(),
        end: end.to_owned(),
    };
    let reversed = || LineProblem::Reversed {
        start: start.to_owned(),
        end: end.to_owned(),
    };
    let range = match (s, e) {
        (Bound::V4(s), Bound::V4(e)) => Range::V4(s..=e),
        (Bound::V6(s), Bound::V6(e)) => Range::V6(s..=e),
        (Bound::Num(s), Bound::Num(e)) => match (u32::try_from(s), u32::try_from(e)) {
            (Ok(s), Ok(e)) => Range::V4(s..=e),
            _ => Range::V6(s..=e),
        },
        _ => return Err(mixed()),
    };
    match range {
        Range::V4(r) if r.start() <= r.end() => Ok(Range::V4(r)),
        Range::V6(r) if r.start() <= r.end() => Ok(unmap(r)),
        _ => Err(reversed()),
    }
}

/// An IPv6 range wholly inside `::ffff:0:0/96` is the IPv4 range it maps;
/// lookups turn mapped addresses into IPv4 first.
fn unmap(r: RangeInclusive<u128>) -> Range {
    let (s, e) = (
        Ipv6Addr::from_bits(*r.start()),
        Ipv6Addr::from_bits(*r.end()),
    );
    match (s.to_ipv4_mapped(), e.to_ipv4_mapped()) {
        (Some(s), Some(e)) => Range::V4(s.to_bits()..=e.to_bits()),
        _ => Range::V6(r),
    }
}

fn parse_asn(s: &str) -> Result<u32, LineProblem> {
    let digits = match s.get(..2) {
        Some(p) if p.eq_ignore_ascii_case("as") => &s[2..],
        _ => s,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LineProblem::BadAsn(s.to_owned()));
    }
    digits
        .parse()
        .map_err(|_| LineProblem::BadAsn(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Result<RangeTable, AsnDbError> {
        let mut b = RangeBuilder::default();
        b.add_file(Path::new("test.csv"), text.as_bytes())?;
        Ok(b.finish())
    }

    fn problem(text: &str) -> (usize, LineProblem) {
        match table(text) {
            Err(AsnDbError::Malformed { line, problem, .. }) => (line, problem),
            Err(e) => panic!("expected a malformed line, got {e}"),
            Ok(_) => panic!("expected a malformed line, got a table"),
        }
    }

    fn asn(t: &RangeTable, ip: &str) -> Option<(u32, Option<String>)> {
        t.lookup(ip.parse::<IpAddr>().unwrap().to_canonical())
            .map(|i| (i.asn, i.org.map(str::to_owned)))
    }

    #[test]
    fn ip_location_db_csv() {
        let t = table(
            "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n\
             2.26.200.0,2.26.215.255,201907,\"LLC \"\"SPUTNIK\"\"\"\n\
             5.9.0.0,5.9.255.255,24940,Hetzner Online GmbH\n\
             2a01:4f8::,2a01:4f9:ffff:ffff:ffff:ffff:ffff:ffff,24940,Hetzner Online GmbH\n",
        )
        .unwrap();
        assert_eq!(
            asn(&t, "1.0.0.1"),
            Some((13335, Some("Cloudflare, Inc.".into())))
        );
        assert_eq!(
            asn(&t, "2.26.201.1"),
            Some((201907, Some("LLC \"SPUTNIK\"".into())))
        );
        assert_eq!(
            asn(&t, "5.9.1.2"),
            Some((24940, Some("Hetzner Online GmbH".into())))
        );
        assert_eq!(
            asn(&t, "::ffff:5.9.1.2"),
            Some((24940, Some("Hetzner Online GmbH".into())))
        );
        assert_eq!(
            asn(&t, "2a01:4f9:1::1"),
            Some((24940, Some("Hetzner Online GmbH".into())))
        );
        assert_eq!(asn(&t, "1.0.1.0"), None);
        assert_eq!(asn(&t, "2a01:4fa::"), None);
        assert_eq!((t.v4_len(), t.v6_len(), t.org_count()), (3, 1, 3));
    }

    #[test]
    fn iptoasn_tsv() {
        let t = table(
            "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n\
             1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n\
             1.0.4.0\t1.0.7.255\t38803\tAU\tGTELECOM-AUSTRALIA Gtelecom Pty Ltd\n\
             2001:200::\t2001:200:5ff:ffff:ffff:ffff:ffff:ffff\t2500\tJP\tWIDE-BB WIDE Project\n",
        )
        .unwrap();
        assert_eq!(
            asn(&t, "1.0.0.9"),
            Some((13335, Some("CLOUDFLARENET".into())))
        );
        assert_eq!(asn(&t, "1.0.2.0"), None, "AS 0 is not routed");
        assert_eq!(asn(&t, "1.0.5.5").map(|a| a.0), Some(38803));
        assert_eq!(asn(&t, "2001:200::1").map(|a| a.0), Some(2500));
    }

    #[test]
    fn numeric_ranges_header_comments_and_as_prefix() {
        let t = table(
            "\u{feff}# generated\r\n\
             ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization\r\n\
             \r\n\
             16777216,16777471,AS13335,\"Cloudflare, Inc.\"\r\n\
             42540528726795050063891204319802818560,42540528727329395276160870415022948351,as2500,WIDE Project\r\n\
             # trailing comment\n\
             3.0.0.0, 3.0.0.255 , 16509 ,\n",
        )
        .unwrap();
        assert_eq!(asn(&t, "1.0.0.200").map(|a| a.0), Some(13335));
        assert_eq!(asn(&t, "2001:200::1").map(|a| a.0), Some(2500));
        assert_eq!(asn(&t, "3.0.0.1"), Some((16509, None)));
    }

    #[test]
    fn mapped_ranges_are_ipv4() {
        let t = table("::ffff:9.0.0.0,::ffff:9.0.0.255,3356\n").unwrap();
        assert_eq!((t.v4_len(), t.v6_len()), (1, 0));
        assert_eq!(asn(&t, "9.0.0.7").map(|a| a.0), Some(3356));
    }

    #[test]
    fn later_lines_win_and_neighbours_merge() {
        let t = table(
            "10.0.0.0,10.0.255.255,1,A\n\
             10.0.1.0,10.0.1.255,2,B\n\
             10.1.0.0,10.1.0.255,1,A\n",
        )
        .unwrap();
        assert_eq!(asn(&t, "10.0.0.1").map(|a| a.0), Some(1));
        assert_eq!(asn(&t, "10.0.1.1").map(|a| a.0), Some(2));
        assert_eq!(asn(&t, "10.0.2.1").map(|a| a.0), Some(1));
        // [10.0.0.0, 10.0.0.255], [10.0.1.*] (AS2), [10.0.2.0, 10.1.0.255] merged.
        assert_eq!(t.v4_len(), 3);
    }

    #[test]
    fn a_later_line_in_order_beats_an_earlier_override() {
        let t = table(
            "1.0.0.0,1.0.0.255,1\n\
             1.0.0.0,1.0.5.255,2\n\
             1.0.1.0,1.0.1.255,3\n\
             0.255.0.0,0.255.0.255,4\n\
             1.0.9.0,1.0.9.255,5\n",
        )
        .unwrap();
        let got: Vec<_> = [
            "1.0.0.1",
            "1.0.1.1",
            "1.0.2.1",
            "0.255.0.1",
            "1.0.9.1",
            "1.0.6.1",
        ]
        .iter()
        .map(|ip| asn(&t, ip).map(|a| a.0))
        .collect();
        assert_eq!(got, [Some(2), Some(3), Some(2), Some(4), Some(5), None]);
    }

    proptest::proptest! {
        /// Whatever the order and overlaps of the lines, every address maps
        /// to the AS of the last line covering it, as in a naive model.
        #[test]
        fn later_lines_win_like_a_naive_model(
            lines in proptest::collection::vec((0u32..64, 0u32..8, 1u32..4), 0..24),
        ) {
            let mut text = String::new();
            let mut model = [None; 72];
            for &(start, len, asn) in &lines {
                let end = start + len;
                text.push_str(&format!("{start},{end},{asn}\n"));
                for slot in &mut model[start as usize..=end as usize] {
                    *slot = Some(asn);
                }
            }
            if lines.is_empty() {
                return Ok(());
            }
            let t = table(&text).unwrap();
            for (key, want) in model.iter().enumerate() {
                let got = t.lookup(IpAddr::V4(std::net::Ipv4Addr::from_bits(key as u32))).map(|i| i.asn);
                proptest::prop_assert_eq!(got, *want, "address {}", key);
            }
            // Stored ranges are disjoint, sorted, and never adjacent with the same AS.
            for w in t.v4.starts.windows(2).zip(t.v4.ends.windows(2)).zip(t.v4.entries.windows(2)) {
                let ((s, e), n) = w;
                proptest::prop_assert!(e[0] < s[1]);
                proptest::prop_assert!(s[0] <= e[0]);
                proptest::prop_assert!(!(e[0] + 1 == s[1] && n[0] == n[1]));
            }
        }
    }

    #[test]
    fn extremes_of_the_address_space() {
        let t = table(
            "0.0.0.0,255.255.255.255,1\n\
             ::,ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,2\n\
             255.255.255.255,255.255.255.255,3\n\
             ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,4\n\
             0.0.0.0,0.0.0.0,5\n",
        )
        .unwrap();
        assert_eq!(asn(&t, "255.255.255.255").map(|a| a.0), Some(3));
        assert_eq!(asn(&t, "255.255.255.254").map(|a| a.0), Some(1));
        assert_eq!(asn(&t, "0.0.0.0").map(|a| a.0), Some(5));
        assert_eq!(
            asn(&t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").map(|a| a.0),
            Some(4)
        );
    }

    #[test]
    fn malformed_lines_name_the_line_and_value() {
        assert_eq!(
            problem("1.0.0.0,1.0.0.255,13335\n1.0.1.0,1.0.1.x,1\n"),
            (2, LineProblem::BadEnd("1.0.1.x".into()))
        );
        // A bad first data line whose first field looks like an address is not a header.
        assert_eq!(
            problem("1.0.0.0,1.0.0.255,x13335\n"),
            (1, LineProblem::BadAsn("x13335".into()))
        );
        assert_eq!(
            problem("#c\n\n1.0.0.0,1.0.0.255\n"),
            (3, LineProblem::MissingField { field: "asn" })
        );
        assert_eq!(
            problem("1.0.0.0,1.0.0.255,1,a,b\n"),
            (1, LineProblem::TooManyFields { found: 5, max: 4 })
        );
        assert_eq!(
            problem("a\tb\tc\n1.0.0.0\t1.0.0.255\t1\tUS\tX\tY\n"),
            (2, LineProblem::TooManyFields { found: 6, max: 5 })
        );
        assert_eq!(
            problem("1.0.0.0,::1,1\n"),
            (
                1,
                LineProblem::MixedFamilies {
                    start: "1.0.0.0".into(),
                    end: "::1".into()
                }
            )
        );
        assert_eq!(
            problem("1.0.0.9,1.0.0.0,1\n"),
            (
                1,
                LineProblem::Reversed {
                    start: "1.0.0.9".into(),
                    end: "1.0.0.0".into()
                }
            )
        );
        assert_eq!(
            problem("1,9999999999999999999999999999999999999999,1\n").1,
            LineProblem::OutOfRange("9999999999999999999999999999999999999999".into())
        );
        assert_eq!(
            problem("1.0.0.0,1.0.0.1,99999999999\n").1,
            LineProblem::BadAsn("99999999999".into())
        );
        assert_eq!(
            problem("1.0.0.0,1.0.0.1,AS\n").1,
            LineProblem::BadAsn("AS".into())
        );
        assert!(matches!(
            problem("1.0.0.0,1.0.0.1,1,\"open\n").1,
            LineProblem::BadQuoting { .. }
        ));
        assert!(matches!(
            problem("1.0.0.0,1.0.0.1,1,\"a\"b\n").1,
            LineProblem::BadQuoting { .. }
        ));
        assert_eq!(problem("1.0.0.0,1.0.0.1,1\n\u{0}\u{ff}bad\n").0, 2);
        let bytes = b"1.0.0.0,1.0.0.1,1\n\xff\xfe,1,1\n";
        let mut b = RangeBuilder::default();
        match b.add_file(Path::new("x.csv"), &bytes[..]) {
            Err(AsnDbError::Malformed {
                line: 2,
                problem: LineProblem::NotUtf8,
                ..
            }) => {}
            other => panic!("{:?}", other.err()),
        }
    }

    #[test]
    fn error_messages_are_lowercase_and_name_the_value() {
        let e = table("1.0.0.0,1.0.0.255,x\n").err().unwrap();
        assert_eq!(e.to_string(), "test.csv line 1: bad as number \"x\"");
        let e = table("just words\n").err().unwrap();
        assert_eq!(
            e.to_string(),
            "test.csv is not an asn database: first data line has neither commas nor tabs"
        );
    }

    #[test]
    fn csv_fields() {
        let mut f: [Cow<'_, str>; 5] = Default::default();
        assert_eq!(split_csv("a,\"b,c\",\"\",d", &mut f).unwrap(), 4);
        assert_eq!(
            f.iter().map(|c| c.as_ref()).collect::<Vec<_>>(),
            ["a", "b,c", "", "d", ""]
        );
        assert_eq!(split_csv("a,b,c,d,e,f,g", &mut f).unwrap(), 7);
        assert_eq!(split_csv("", &mut f).unwrap(), 1);
        assert_eq!(split_csv(" \"x\" ,y", &mut f).unwrap(), 2);
        assert_eq!(f[0], "x");
    }
}
