//! Who is on the harness network, and where: honest nodes spread over ASNs
//! as the real Ethereum population is, attacker nodes in the network groups
//! the scenario gives them, and the ASN database that tells the victims
//! which address belongs to which AS.
//!
//! Address plan (all of it inside 127.0.0.0/8, so nothing leaves the machine):
//!
//! | range | who |
//! |---|---|
//! | 127.0.0.0/16 | victims (`127.0.<run>.<1..3>`) |
//! | 127.1.0.0 – 127.127.255.255 | honest nodes (and lookup poisoners among them), one /24 each, at host `.1` |
//! | 127.128.0.0 – 127.255.255.255 | attacker nodes (Sybils) |
//!
//! A flaky honest node (`flaky-honest`) keeps `.1` of its /24 as the
//! address its ENR advertises, where its lossy relay listens; the node's
//! own socket binds `.2` of the same /24 and the relay's per-peer sockets
//! bind `.3` ([`flaky_internal_ips`]). No other node uses hosts `.2`–`.255`
//! of an honest /24, and victims never see these internal addresses.
//!
//! Honest nodes are drawn from the ASN distribution of 17,356 Ethereum node
//! IPs crawled on 2025-11-22 (`data/ethereum-node-asn-distribution.csv`,
//! counts from DecentralizedGeo/geobeat; 1,426 ASNs, the top 10 holding more
//! than half), with replacement and weighted by node count, so a small
//! network keeps the real concentration (Amazon AS16509 ≈ 12%, Hetzner
//! AS24940 ≈ 11%, …). Each honest node gets its own /24; the nodes of one AS
//! sit in consecutive /24s, so a large AS spans several /16s and small ASes
//! share one. Loopback has only 127 /16s for honest nodes where mainnet has
//! 6,125, so /16 groups hold more nodes here than there (≈ 16 per /16 with
//! 2,000 nodes); /24 and ASN groups keep their real shapes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;

use anyhow::{Context as _, bail};
use rand::distr::Distribution as _;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

/// The real distribution of Ethereum nodes over ASNs (Nov 2025), carried in
/// the binary: `asn,as_name,nodes,hosting_nodes`.
pub const ASN_DISTRIBUTION_CSV: &str = include_str!("../data/ethereum-node-asn-distribution.csv");

/// First /16 (second octet) of the honest range.
pub const HONEST_FIRST_SLASH16: u8 = 1;
/// Number of /16s of the honest range (127.1 – 127.127).
pub const HONEST_SLASH16S: usize = 127;
/// First /16 (second octet) of the attacker range.
pub const ATTACKER_FIRST_SLASH16: u8 = 128;
/// Number of /16s of the attacker range (127.128 – 127.255).
pub const ATTACKER_SLASH16S: usize = 128;
/// Most honest nodes a layout holds: one /24 each in the honest range.
pub const MAX_HONEST: usize = HONEST_SLASH16S * 256;
/// First attacker AS number: the 16-bit private-use range (RFC 6996), so
/// attacker ASes never collide with the real ones of honest nodes.
pub const ATTACKER_FIRST_ASN: u32 = 64_512;

/// Whether `ip` is in the attacker range (127.128.0.0/9). A plain function,
/// so it can serve as a discv5 `table_filter` (which takes no state).
pub fn is_attacker_ip(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    o[0] == 127 && o[1] >= ATTACKER_FIRST_SLASH16
}

/// The address of victim `slot` (0, 1, 2) in run `run`: `127.0.<run>.<slot+1>`.
pub fn victim_ip(run: u8, slot: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, run, slot + 1)
}

/// The internal addresses of a flaky honest node whose ENR advertises
/// `ip` (host `.1` of its /24): where its discv5 socket binds (host `.2`)
/// and where its relay's per-peer sockets bind (host `.3`). See the
/// address plan in the module docs.
pub fn flaky_internal_ips(ip: Ipv4Addr) -> (Ipv4Addr, Ipv4Addr) {
    let [a, b, c, _] = ip.octets();
    (Ipv4Addr::new(a, b, c, 2), Ipv4Addr::new(a, b, c, 3))
}

/// The AS number of nodes the distribution lists as `unknown` (no AS
/// announced their address): AS0, which RFC 7607 reserves and nobody
/// announces. Their ranges are left out of the ASN database, so the victims
/// see them without an AS, as they would on mainnet.
pub const NO_ASN: u32 = 0;

/// One AS of the real distribution.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct AsnCount {
    /// AS number.
    pub asn: u32,
    /// Organisation.
    pub name: String,
    /// Ethereum nodes seen in it.
    pub nodes: u32,
}

#[derive(Deserialize)]
struct Row {
    asn: String,
    as_name: String,
    nodes: u32,
}

/// Parses the distribution file (`asn,as_name,nodes,…`, AS numbers written
/// `AS16509` or `16509`).
///
/// # Errors
///
/// A bad row, named by its line, or an empty file.
pub fn parse_distribution(csv_text: &str) -> anyhow::Result<Vec<AsnCount>> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let mut out = Vec::new();
    for (i, row) in reader.deserialize::<Row>().enumerate() {
        let line = i + 2;
        let row = row.with_context(|| format!("ASN distribution line {line}"))?;
        let asn: u32 = match row.asn.trim() {
            // Nodes whose address no AS announced: kept, without an AS.
            "unknown" => NO_ASN,
            text => text.trim_start_matches("AS").parse().with_context(|| {
                format!("ASN distribution line {line}: bad AS number {:?}", row.asn)
            })?,
        };
        out.push(AsnCount {
            asn,
            name: row.as_name,
            nodes: row.nodes,
        });
    }
    if out.iter().all(|a| a.nodes == 0) {
        bail!("ASN distribution holds no nodes");
    }
    Ok(out)
}

/// The built-in distribution, [`ASN_DISTRIBUTION_CSV`].
pub fn real_distribution() -> Vec<AsnCount> {
    parse_distribution(ASN_DISTRIBUTION_CSV).expect("the built-in distribution parses")
}

/// The kind of network group an attacker spreads over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum AttackGroup {
    /// Each group is one /24 in its own /16 and AS: the /24 caps bind.
    Slash24,
    /// Each group is one /16 (its own AS), one node per /24: the /16 caps bind.
    Slash16,
    /// Each group is one AS spanning several /16s, one node per /24: the
    /// ASN caps bind.
    Asn,
}

impl AttackGroup {
    /// The flag value and JSON name (`slash24`, `slash16`, `asn`).
    pub fn key(self) -> &'static str {
        match self {
            Self::Slash24 => "slash24",
            Self::Slash16 => "slash16",
            Self::Asn => "asn",
        }
    }
}

/// Where one node sits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Its IPv4 address.
    pub ip: Ipv4Addr,
    /// Its AS number (as written into the ASN database).
    pub asn: u32,
}

impl Placement {
    /// The /24 it is in.
    pub fn slash24(&self) -> [u8; 3] {
        let o = self.ip.octets();
        [o[0], o[1], o[2]]
    }

    /// The /16 it is in.
    pub fn slash16(&self) -> [u8; 2] {
        let o = self.ip.octets();
        [o[0], o[1]]
    }
}

/// An address range of the ASN database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsnRange {
    /// First address.
    pub start: Ipv4Addr,
    /// Last address.
    pub end: Ipv4Addr,
    /// AS number.
    pub asn: u32,
    /// Organisation.
    pub name: String,
}

/// Places `n` honest nodes: ASNs drawn from `dist` with replacement,
/// weighted by node count; one /24 per node, the nodes of an AS in
/// consecutive /24s, spread evenly over the 127 honest /16s. Returns the
/// placements (in address order) and the ranges for the ASN database.
///
/// # Errors
///
/// `n` above [`MAX_HONEST`], or a distribution without nodes.
pub fn place_honest(
    n: usize,
    dist: &[AsnCount],
    rng: &mut StdRng,
) -> anyhow::Result<(Vec<Placement>, Vec<AsnRange>)> {
    if n > MAX_HONEST {
        bail!("{n} honest nodes do not fit the honest range (at most {MAX_HONEST})");
    }
    let weights =
        WeightedIndex::new(dist.iter().map(|a| a.nodes)).context("ASN distribution weights")?;
    let mut per_asn: BTreeMap<usize, usize> = BTreeMap::new();
    for _ in 0..n {
        *per_asn.entry(weights.sample(rng)).or_default() += 1;
    }
    // Largest AS first, so the big ones get whole /16s.
    let mut order: Vec<(usize, usize)> = per_asn.into_iter().collect();
    order.sort_by_key(|&(idx, count)| (std::cmp::Reverse(count), idx));

    let per16 = n.div_ceil(HONEST_SLASH16S).max(1);
    let stride = (256 / per16).max(1);
    let mut placements = Vec::with_capacity(n);
    let mut ranges = Vec::with_capacity(n);
    let mut slot = 0usize;
    for (idx, count) in order {
        let asn = &dist[idx];
        for _ in 0..count {
            let a = HONEST_FIRST_SLASH16 as usize + slot / per16;
            let b = (slot % per16) * stride;
            let ip = Ipv4Addr::new(127, a as u8, b as u8, 1);
            placements.push(Placement { ip, asn: asn.asn });
            ranges.push(AsnRange {
                start: Ipv4Addr::new(127, a as u8, b as u8, 0),
                end: Ipv4Addr::new(127, a as u8, b as u8, 255),
                asn: asn.asn,
                name: asn.name.clone(),
            });
            slot += 1;
        }
    }
    Ok((placements, ranges))
}

/// Places `m` attacker nodes in `groups` network groups of `kind`, spread as
/// widely as the kind allows below the group (so the group's own cap is the
/// one that binds), round-robin over the groups. Returns the placements and
/// the ASN database ranges (one AS per group, numbered from
/// [`ATTACKER_FIRST_ASN`]). With `ips_per_group`, the nodes of a group share
/// that many addresses (different ports), as in an ID-mining attack from a
/// few hosts.
///
/// # Errors
///
/// `groups` is 0 or does not fit the attacker range (at most 128), or a
/// /24 group would need more than 254 addresses.
pub fn place_attackers(
    m: usize,
    groups: usize,
    kind: AttackGroup,
    ips_per_group: Option<usize>,
) -> anyhow::Result<(Vec<Placement>, Vec<AsnRange>)> {
    if groups == 0 || groups > ATTACKER_SLASH16S {
        bail!("attacker groups = {groups} is out of range 1..={ATTACKER_SLASH16S}");
    }
    // /16s per group: ASN groups share the attacker range out (up to 4
    // /16s each); /24 and /16 groups get one /16 each.
    let n16 = match kind {
        AttackGroup::Asn => (ATTACKER_SLASH16S / groups).clamp(1, 4),
        AttackGroup::Slash16 | AttackGroup::Slash24 => 1,
    };
    let per_group = m.div_ceil(groups);
    if kind == AttackGroup::Slash24 && ips_per_group.is_none() && per_group > 254 {
        bail!("{per_group} attacker nodes per /24 exceed its 254 addresses");
    }
    let mut placements = Vec::with_capacity(m);
    for j in 0..m {
        let g = j % groups;
        let i = j / groups; // index of this node within its group
        let i = ips_per_group.map_or(i, |ips| i % ips.max(1));
        let first16 = ATTACKER_FIRST_SLASH16 as usize + g * n16;
        let ip = match kind {
            AttackGroup::Slash24 => Ipv4Addr::new(127, first16 as u8, 0, (1 + i % 254) as u8),
            AttackGroup::Slash16 | AttackGroup::Asn => {
                let sub16 = i % n16;
                let n24 = i / n16;
                Ipv4Addr::new(
                    127,
                    (first16 + sub16) as u8,
                    (n24 % 256) as u8,
                    (1 + (n24 / 256) % 254) as u8,
                )
            }
        };
        placements.push(Placement {
            ip,
            asn: ATTACKER_FIRST_ASN + g as u32,
        });
    }
    let ranges = (0..groups)
        .map(|g| {
            let first16 = (ATTACKER_FIRST_SLASH16 as usize + g * n16) as u8;
            let last16 = first16 + (n16 as u8 - 1);
            AsnRange {
                start: Ipv4Addr::new(127, first16, 0, 0),
                end: Ipv4Addr::new(127, last16, 255, 255),
                asn: ATTACKER_FIRST_ASN + g as u32,
                name: format!("Sybil AS {g}"),
            }
        })
        .collect();
    Ok((placements, ranges))
}

/// Writes the ranges as an ASN database in the CSV range format that
/// `discguard --asn-db` reads (`start,end,asn,name`, as ip-location-db).
///
/// # Errors
///
/// The file cannot be written (the error names it).
pub fn write_asn_csv(path: &Path, ranges: &[AsnRange]) -> anyhow::Result<()> {
    let mut text = String::with_capacity(ranges.len() * 48);
    text.push_str("# discguard-adversary: ASN database of the harness network\n");
    for r in ranges.iter().filter(|r| r.asn != NO_ASN) {
        let name = r.name.replace('"', "'");
        let _ = writeln!(text, "{},{},{},\"{name}\"", r.start, r.end, r.asn);
    }
    std::fs::write(path, text).with_context(|| format!("write ASN database {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn real_distribution_matches_its_readme() {
        let d = real_distribution();
        assert_eq!(d.len(), 1426);
        assert_eq!(d.iter().map(|a| a.nodes).sum::<u32>(), 17_356);
        assert_eq!((d[0].asn, d[0].name.as_str()), (16509, "Amazon.com, Inc."));
        assert_eq!(
            d.iter()
                .filter(|a| a.asn == NO_ASN)
                .map(|a| a.nodes)
                .sum::<u32>(),
            5
        );
        let mut counts: Vec<u32> = d.iter().map(|a| a.nodes).collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        assert!(
            counts[..10].iter().sum::<u32>() * 2 > 17_356,
            "top 10 hold more than half"
        );
    }

    #[test]
    fn bad_distribution_rows_are_named() {
        let err = parse_distribution("asn,as_name,nodes\nASx,Foo,3\n").unwrap_err();
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");
        let err = parse_distribution("asn,as_name,nodes\nAS1,Foo,-3\n").unwrap_err();
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");
        assert!(parse_distribution("asn,as_name,nodes\n").is_err());
    }

    #[test]
    fn honest_nodes_follow_the_distribution_and_stay_in_their_range() {
        let d = real_distribution();
        let mut rng = StdRng::seed_from_u64(7);
        let (p, ranges) = place_honest(4000, &d, &mut rng).unwrap();
        assert_eq!(p.len(), 4000);
        assert_eq!(ranges.len(), 4000);
        let ips: HashSet<_> = p.iter().map(|x| x.ip).collect();
        assert_eq!(ips.len(), 4000, "addresses are distinct");
        let s24: HashSet<_> = p.iter().map(Placement::slash24).collect();
        assert_eq!(s24.len(), 4000, "one /24 per node");
        assert!(
            p.iter()
                .all(|x| !is_attacker_ip(x.ip) && x.ip.octets()[1] >= 1)
        );
        let mut per_asn: HashMap<u32, usize> = HashMap::new();
        for x in &p {
            *per_asn.entry(x.asn).or_default() += 1;
        }
        // Amazon AS16509 holds 12.4% of the real population.
        let amazon = per_asn[&16509] as f64 / 4000.0;
        assert!((0.10..0.15).contains(&amazon), "AS16509 share {amazon}");
        // Every /16 holds about the same number of nodes.
        let mut per16: HashMap<[u8; 2], usize> = HashMap::new();
        for x in &p {
            *per16.entry(x.slash16()).or_default() += 1;
        }
        assert!(
            per16
                .values()
                .all(|&c| c <= 4000usize.div_ceil(HONEST_SLASH16S))
        );
        // The same seed gives the same network.
        let (again, _) = place_honest(4000, &d, &mut StdRng::seed_from_u64(7)).unwrap();
        assert_eq!(p, again);
        assert!(place_honest(MAX_HONEST + 1, &d, &mut rng).is_err());
    }

    #[test]
    fn attackers_bind_on_the_group_kind_they_are_given() {
        for kind in [AttackGroup::Slash24, AttackGroup::Slash16, AttackGroup::Asn] {
            for groups in [1, 4, 16, 64] {
                let (p, ranges) = place_attackers(250, groups, kind, None).unwrap();
                assert_eq!(p.len(), 250);
                assert!(p.iter().all(|x| is_attacker_ip(x.ip)));
                let ips: HashSet<_> = p.iter().map(|x| x.ip).collect();
                assert_eq!(ips.len(), 250, "{kind:?} {groups}: addresses are distinct");
                let asns: HashSet<_> = p.iter().map(|x| x.asn).collect();
                assert_eq!(asns.len(), groups);
                assert_eq!(ranges.len(), groups);
                let n16: HashSet<_> = p.iter().map(Placement::slash16).collect();
                let n24: HashSet<_> = p.iter().map(Placement::slash24).collect();
                match kind {
                    AttackGroup::Slash24 => assert_eq!(n24.len(), groups),
                    AttackGroup::Slash16 => {
                        assert_eq!(n16.len(), groups);
                        assert_eq!(n24.len(), 250, "one node per /24");
                    }
                    AttackGroup::Asn => {
                        assert!(n16.len() >= groups);
                        assert_eq!(n24.len(), 250);
                    }
                }
                // Every node lies in its AS's range.
                for x in &p {
                    let r = ranges.iter().find(|r| r.asn == x.asn).unwrap();
                    assert!(r.start <= x.ip && x.ip <= r.end, "{:?} outside {r:?}", x.ip);
                }
            }
        }
        assert!(place_attackers(10, 0, AttackGroup::Asn, None).is_err());
        assert!(place_attackers(10, 129, AttackGroup::Asn, None).is_err());
        assert!(place_attackers(300, 1, AttackGroup::Slash24, None).is_err());
        // A few shared hosts.
        let (p, _) = place_attackers(40, 1, AttackGroup::Asn, Some(2)).unwrap();
        let ips: HashSet<_> = p.iter().map(|x| x.ip).collect();
        assert_eq!(ips.len(), 2);
    }

    #[test]
    fn the_asn_database_is_read_back_by_discguard() {
        let d = real_distribution();
        let (honest, mut ranges) = place_honest(300, &d, &mut StdRng::seed_from_u64(1)).unwrap();
        let (sybils, att) = place_attackers(50, 4, AttackGroup::Asn, None).unwrap();
        ranges.extend(att);
        // A range of nodes of unknown AS is left out of the database.
        let unknown = Ipv4Addr::new(127, 127, 255, 1);
        ranges.push(AsnRange {
            start: Ipv4Addr::new(127, 127, 255, 0),
            end: Ipv4Addr::new(127, 127, 255, 255),
            asn: NO_ASN,
            name: "unknown".into(),
        });
        let path = std::env::temp_dir().join(format!("adv-asn-{}.csv", std::process::id()));
        write_asn_csv(&path, &ranges).unwrap();
        let db = discguard_netgroup::AsnDb::open(&path).unwrap();
        for x in honest.iter().chain(&sybils) {
            assert_eq!(
                db.lookup(x.ip.into()).map(|i| i.asn),
                (x.asn != NO_ASN).then_some(x.asn),
                "{}",
                x.ip
            );
        }
        assert_eq!(db.lookup(unknown.into()).map(|i| i.asn), None);
        std::fs::remove_file(&path).unwrap();
    }
}
