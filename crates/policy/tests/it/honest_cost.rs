//! How often the default ASN caps turn away honest nodes, on the real
//! distribution of Ethereum nodes over ASNs (17,356 IPs, Nov 2025).
//!
//! Model: a network of 10,000 nodes (Ethereum's consensus layer is about
//! 9,500); bucket `255 - j` has `10,000 / 2^(j+1)` candidates. Candidates are
//! drawn from the ASN distribution in random order until the bucket is full or
//! its candidates run out. Every candidate gets its own /24 and /16, so only
//! the ASN caps can bind; all ranks are equal, so nothing is evicted.

use discguard_netgroup::{GroupKind, NetGroup, NetGroups};
use discguard_policy::{PolicyConfig, RejectReason, View};

use crate::common::{SplitMix64, id_at};

const NETWORK: u64 = 10_000;
const TRIALS: u64 = 100;

/// `(asn, nodes)` rows of the CSV, without the 5 nodes of unknown ASN.
fn population() -> Vec<(u32, u64)> {
    let csv = include_str!("../data/ethereum-node-asn-distribution.csv");
    let rows: Vec<(u32, u64)> = csv
        .lines()
        .skip(1)
        .filter_map(|line| {
            // asn,"name, maybe with commas",nodes,hosting_nodes
            let mut right = line.rsplitn(3, ',');
            let _hosting = right.next();
            let nodes: u64 = right.next()?.parse().ok()?;
            let asn: u32 = line.split(',').next()?.strip_prefix("AS")?.parse().ok()?;
            Some((asn, nodes))
        })
        .collect();
    assert_eq!(rows.len(), 1425, "1,426 rows, one of them 'unknown'");
    assert_eq!(rows.iter().map(|&(_, n)| n).sum::<u64>(), 17_351);
    rows
}

struct Outcome {
    drawn: u64,
    bucket_cap: u64,
    table_cap: u64,
    /// Entropy (nats) of the ASN distribution of the resulting views, mean.
    entropy: f64,
    /// Largest ASN's share of the view, mean.
    top_share: f64,
}

fn simulate(config: &PolicyConfig, seed: u64) -> Outcome {
    let pop = population();
    let total: u64 = pop.iter().map(|&(_, n)| n).sum();
    let cumulative: Vec<u64> = pop
        .iter()
        .scan(0, |acc, &(_, n)| {
            *acc += n;
            Some(*acc)
        })
        .collect();
    let mut rng = SplitMix64(seed);
    let mut out = Outcome {
        drawn: 0,
        bucket_cap: 0,
        table_cap: 0,
        entropy: 0.0,
        top_share: 0.0,
    };
    for _ in 0..TRIALS {
        let mut unique = 0u32;
        let local = id_at(&[0; 32], 256, rng.next_u64());
        let mut view: View<()> = View::new(local, config.clone()).unwrap();
        for j in 0..16u16 {
            let candidates = NETWORK >> (j + 1);
            for _ in 0..candidates {
                if view.bucket_lens()[usize::from(255 - j)] >= config.bucket_size {
                    break;
                }
                let pick = rng.below(total);
                let asn = pop[cumulative.partition_point(|&c| c <= pick)].0;
                unique += 1;
                // Its own /16 (and /24): at most a few hundred draws per view.
                let ip = std::net::Ipv4Addr::from(unique << 16);
                let groups = NetGroups {
                    asn: NetGroup::Asn(asn),
                    ..NetGroups::prefixes_only(ip.into())
                };
                let id = id_at(&local, 256 - j, rng.next_u64());
                out.drawn += 1;
                match view.insert(id, groups, 0, ()) {
                    Ok(evicted) => assert!(evicted.is_none(), "equal ranks never evict"),
                    Err(e) => match e.reason {
                        RejectReason::BucketCap {
                            kind: GroupKind::Asn,
                            ..
                        } => out.bucket_cap += 1,
                        RejectReason::TableCap {
                            kind: GroupKind::Asn,
                            ..
                        } => out.table_cap += 1,
                        other => panic!("unexpected rejection {other}"),
                    },
                }
            }
        }
        let n = view.len() as f64;
        let mut counts = std::collections::BTreeMap::new();
        for e in view.iter() {
            *counts.entry(e.groups.asn).or_insert(0u32) += 1;
        }
        out.entropy += counts
            .values()
            .map(|&c| -(f64::from(c) / n) * (f64::from(c) / n).ln())
            .sum::<f64>();
        out.top_share += f64::from(*counts.values().max().unwrap()) / n;
    }
    out.entropy /= TRIALS as f64;
    out.top_share /= TRIALS as f64;
    out
}

fn percent(part: u64, whole: u64) -> f64 {
    part as f64 * 100.0 / whole as f64
}

#[test]
fn default_asn_caps_rarely_bind_for_honest_nodes() {
    let default = simulate(&PolicyConfig::default(), 1);
    let uncapped = simulate(
        &PolicyConfig {
            bucket_asn: 16,
            table_asn_share: 1.0,
            ..PolicyConfig::default()
        },
        1,
    );
    let tight = simulate(
        &PolicyConfig {
            bucket_asn: 3,
            ..PolicyConfig::default()
        },
        1,
    );
    for (name, o) in [
        ("default (4, 26)", &default),
        ("bucket_asn 3", &tight),
        ("uncapped", &uncapped),
    ] {
        println!(
            "{name}: {} draws, rejected by bucket ASN cap {:.2}%, by table ASN cap {:.2}%, \
             view ASN entropy {:.2} nats, top ASN share {:.1}%",
            o.drawn,
            percent(o.bucket_cap, o.drawn),
            percent(o.table_cap, o.drawn),
            o.entropy,
            o.top_share * 100.0,
        );
    }
    // The figures quoted in DEFAULT_BUCKET_ASN and DEFAULT_TABLE_ASN_SHARE.
    assert!(percent(default.bucket_cap, default.drawn) < 1.5);
    assert!(percent(default.table_cap, default.drawn) < 0.5);
    assert!(percent(tight.bucket_cap, tight.drawn) > 2.0);
    // Caps can only spread the view.
    assert!(default.entropy >= uncapped.entropy);
    assert!(default.top_share <= uncapped.top_share);
    assert_eq!(uncapped.bucket_cap + uncapped.table_cap, 0);
}
