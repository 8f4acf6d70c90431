//! Cost of the admission decision on the ENR-ingest path.
//!
//! Budget (design.md, "Cost"): policy and scoring together ≤ 2% of ingesting
//! one ENR (decode + signature check ≈ 145 µs), i.e. well under 3 µs.
//!
//! The view holds 208 entries (buckets 255..=243 full) with ASNs drawn from
//! the real distribution of Ethereum nodes; candidates land at log-distances
//! 240..=256 with groups from the same distribution. `decide` is measured per
//! outcome (admit, reject, evict), and `select_diverse` for one `/v1/peers`
//! answer. [`filled_view`] and [`candidates`] are the reusable setup.

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{Criterion, criterion_group, criterion_main};
use discguard_netgroup::{NetGroup, NetGroups};
use discguard_policy::{Decision, NodeId, PolicyConfig, View, select_diverse};

#[path = "../tests/it/common.rs"]
mod common;

use common::{SplitMix64, id_at};

/// A candidate node for [`View::decide`].
#[derive(Clone, Copy, Debug)]
struct Candidate {
    id: NodeId,
    groups: NetGroups,
    rank: i64,
}

/// Draws groups like the Ethereum population: ASN by its share of nodes, a
/// random /24 inside a few /16s per ASN.
struct Population {
    asns: Vec<u32>,
    cumulative: Vec<u64>,
    rng: SplitMix64,
}

impl Population {
    fn new(seed: u64) -> Self {
        let csv = include_str!("../tests/data/ethereum-node-asn-distribution.csv");
        let (mut asns, mut cumulative, mut total) = (Vec::new(), Vec::new(), 0);
        for line in csv.lines().skip(1) {
            let mut right = line.rsplitn(3, ',');
            let _hosting = right.next();
            let nodes: Option<u64> = right.next().and_then(|n| n.parse().ok());
            let asn: Option<u32> = line
                .split(',')
                .next()
                .and_then(|a| a.strip_prefix("AS")?.parse().ok());
            if let (Some(asn), Some(nodes)) = (asn, nodes) {
                total += nodes;
                asns.push(asn);
                cumulative.push(total);
            }
        }
        Self {
            asns,
            cumulative,
            rng: SplitMix64(seed),
        }
    }

    fn groups(&mut self) -> NetGroups {
        let total = *self.cumulative.last().unwrap_or(&1);
        let pick = self.rng.below(total);
        let asn = self.asns[self.cumulative.partition_point(|&c| c <= pick)];
        // 4 /16s per ASN, 256 /24s each.
        let slash16 = (asn.wrapping_mul(2_654_435_761) >> 16) as u16 ^ self.rng.below(4) as u16;
        let ip = Ipv4Addr::from(u32::from(slash16) << 16 | (self.rng.below(256) as u32) << 8 | 1);
        NetGroups {
            asn: NetGroup::Asn(asn),
            ..NetGroups::prefixes_only(ip.into())
        }
    }

    fn rng(&mut self) -> &mut SplitMix64 {
        &mut self.rng
    }
}

/// A view around a random local ID with buckets 255..=243 filled as far as
/// the default caps allow (≈ 200 entries), ranks 0..10.
fn filled_view(seed: u64) -> (View<()>, Population) {
    let mut pop = Population::new(seed);
    let local = id_at(&[0; 32], 256, pop.rng().next_u64());
    let mut view = View::new(local, PolicyConfig::default()).expect("default config is valid");
    for distance in 244..=256u16 {
        for _ in 0..64 {
            let id = id_at(&local, distance, pop.rng().next_u64());
            let groups = pop.groups();
            let rank = pop.rng().below(10) as i64;
            let _ = view.insert(id, groups, rank, ());
        }
    }
    (view, pop)
}

/// `n` candidates at log-distances 240..=256, ranks 0..10.
fn candidates(view: &View<()>, pop: &mut Population, n: usize) -> Vec<Candidate> {
    (0..n)
        .map(|_| {
            let distance = 240 + pop.rng().below(17) as u16;
            let id = id_at(view.local_id(), distance, pop.rng().next_u64());
            Candidate {
                id,
                groups: pop.groups(),
                rank: pop.rng().below(10) as i64,
            }
        })
        .collect()
}

fn bench_decide(c: &mut Criterion) {
    let (view, mut pop) = filled_view(7);
    let all = candidates(&view, &mut pop, 20_000);
    let mut group = c.benchmark_group("decide");
    for label in ["mixed", "admit", "reject", "admit_evicting"] {
        let set: Vec<Candidate> = all
            .iter()
            .filter(|x| label == "mixed" || view.decide(&x.id, &x.groups, x.rank).as_str() == label)
            .copied()
            .take(1024)
            .collect();
        if set.is_empty() {
            continue;
        }
        let mut i = 0;
        group.bench_function(label, |b| {
            b.iter(|| {
                let x = &set[i % set.len()];
                i += 1;
                black_box(view.decide(black_box(&x.id), &x.groups, x.rank))
            })
        });
    }
    group.finish();
    let counts = |label: &str| {
        all.iter()
            .filter(|x| view.decide(&x.id, &x.groups, x.rank).as_str() == label)
            .count()
    };
    let evicting: Vec<Decision> = all
        .iter()
        .map(|x| view.decide(&x.id, &x.groups, x.rank))
        .filter(|d| matches!(d, Decision::AdmitEvicting { .. }))
        .collect();
    println!(
        "view: {} entries; candidates: {} admit, {} reject, {} admit_evicting",
        view.len(),
        counts("admit"),
        counts("reject"),
        evicting.len(),
    );
}

fn bench_select(c: &mut Criterion) {
    let (view, _) = filled_view(7);
    c.bench_function("select_diverse/16_of_view", |b| {
        b.iter(|| black_box(select_diverse(view.iter(), black_box(16), 0).len()))
    });
}

/// The budget check, in one run: ingesting one real ENR (decode + secp256k1
/// signature check: `enr::Enr::from_str`) against what the policy adds to it
/// (classify the address, then `decide`). Real records: the crawled mainnet
/// ENRs in `tests/data`. `scripts/bench.sh` prints the ratio.
fn bench_ingest(c: &mut Criterion) {
    let text = include_str!("../../../tests/data/mainnet-el-nodes.json");
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).expect("crawled ENR file is JSON");
    let records: Vec<String> = map
        .values()
        .filter_map(|v| v["record"].as_str().map(str::to_owned))
        .take(1024)
        .collect();
    let enrs: Vec<enr::Enr<enr::k256::ecdsa::SigningKey>> = records
        .iter()
        .map(|r| r.parse().expect("real ENRs decode"))
        .collect();
    let classifier = discguard_netgroup::Classifier::new(None);
    let (view, _) = filled_view(7);
    let mut group = c.benchmark_group("ingest");
    let mut i = 0;
    group.bench_function("enr_decode_verify", |b| {
        b.iter(|| {
            i += 1;
            black_box(records[i % records.len()].parse::<enr::Enr<enr::k256::ecdsa::SigningKey>>())
        })
    });
    let mut i = 0;
    group.bench_function("policy_classify_decide", |b| {
        b.iter(|| {
            i += 1;
            let enr = &enrs[i % enrs.len()];
            let ip = enr
                .ip4()
                .map_or(std::net::IpAddr::from([0, 0, 0, 0]), Into::into);
            let groups = classifier.groups(black_box(ip));
            black_box(view.decide(&enr.node_id().raw(), &groups, 0))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_decide, bench_select, bench_ingest);
criterion_main!(benches);
