//! Real ENRs: every record in the built-in bootnode lists and in the crawled
//! execution-layer lists (`tests/data`, from ethereum/discv4-dns-lists)
//! decodes, and the policy groups them without crashing. The report (run
//! with `--nocapture`) shows how the policy treats the real population.

use std::collections::BTreeMap;

use discguard_netgroup::{AsnDb, Classifier, GroupKind, addr_class};
use discguard_policy::{PolicyConfig, View, audit};
use discguard_service::discv5::Enr;
use discguard_service::network::Network;
use discguard_tests::{data_dir, hex};

/// Built-in bootnodes (decoding and counts are checked by the `network`
/// unit tests) all announce a public address, so they pass the policy's
/// routability check on a real network.
#[test]
fn every_builtin_bootnode_is_publicly_routable() {
    for network in Network::ALL {
        for enr in network
            .bootnodes()
            .unwrap_or_else(|e| panic!("{network}: {e}"))
        {
            let ip = enr.ip4().map(Into::into).or(enr.ip6().map(Into::into));
            assert!(
                ip.is_some_and(|ip| addr_class(ip).is_public()),
                "{network}: {enr}"
            );
        }
    }
}

fn crawled(file: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(data_dir().join(file)).unwrap();
    let map: BTreeMap<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    map.into_iter()
        .map(|(id, v)| (id, v["record"].as_str().unwrap().to_owned()))
        .collect()
}

/// The real IP→ASN data (npm `@ip-location-db/asn`, CC BY 4.0), installed
/// by the README's test command.
fn real_asn_db() -> AsnDb {
    let dir = discguard_adversary::lodestar::js_dir()
        .expect("npm packages of tests/js are installed (scripts/test.sh)")
        .join("node_modules/@ip-location-db/asn");
    AsnDb::open_many(&[dir.join("asn-ipv4.csv"), dir.join("asn-ipv6.csv")])
        .expect("ip-location-db ASN data opens")
}

#[test]
fn every_crawled_enr_decodes_and_the_policy_groups_them() {
    let classifier = Classifier::new(Some(real_asn_db()));
    for (file, expected) in [
        ("mainnet-el-nodes.json", 3000),
        ("sepolia-el-nodes.json", 250),
        ("holesky-el-nodes.json", 250),
        ("hoodi-el-nodes.json", 354),
    ] {
        let records = crawled(file);
        assert_eq!(records.len(), expected, "{file}");
        let mut enrs = Vec::new();
        for (id, text) in &records {
            let enr: Enr = text.parse().unwrap_or_else(|e| panic!("{file}: {id}: {e}"));
            assert_eq!(
                &hex(&enr.node_id().raw()),
                id,
                "{file}: node ID is keccak256 of the key"
            );
            enrs.push(enr);
        }

        // Offer every record to an empty view, in file order.
        let local = [0x55; 32];
        let mut view: View<()> = View::new(local, PolicyConfig::default()).unwrap();
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        let mut not_public = 0;
        for enr in &enrs {
            let Some(ip) = enr.ip4().map(Into::into).or(enr.ip6().map(Into::into)) else {
                continue;
            };
            if !addr_class(ip).is_public() {
                not_public += 1;
                continue;
            }
            let groups = classifier.groups(ip);
            match view.insert(enr.node_id().raw(), groups, 0, ()) {
                Ok(_) => *reasons.entry("admitted".into()).or_default() += 1,
                Err(r) => {
                    *reasons
                        .entry(format!("{}:{:?}", r.reason.as_str(), r.reason.kind()))
                        .or_default() += 1
                }
            }
        }
        let admitted = reasons.get("admitted").copied().unwrap_or(0);
        eprintln!(
            "{file}: {} records, {not_public} not public, view {} ({} /24s, {} /16s, {} ASNs, top ASN {:?}), decisions {reasons:?}",
            enrs.len(),
            view.len(),
            view.distinct_groups(GroupKind::Narrow),
            view.distinct_groups(GroupKind::Wide),
            view.distinct_groups(GroupKind::Asn),
            view.top_group(GroupKind::Asn)
                .map(|(g, n)| format!("{g} x{n}")),
        );
        let asn_cap = PolicyConfig::default().caps().table(GroupKind::Asn);
        assert!(
            view.top_group(GroupKind::Asn)
                .is_none_or(|(_, n)| n <= asn_cap)
        );
        assert_eq!(admitted, view.len());
        assert!(!view.is_empty());
        // The view passes its own audit: no cap broken.
        let entries: Vec<_> = view.iter().map(|e| (e.id, e.groups)).collect();
        assert!(
            audit(&PolicyConfig::default(), &local, entries).is_empty(),
            "{file}"
        );
        // One IP carries 15 node IDs on mainnet: at most 10 of them get in.
        assert!(
            view.top_group(GroupKind::Narrow)
                .is_none_or(|(_, n)| n <= 10)
        );
    }
}

/// The crawled lists in `../shared/data/enrs` (the planning data beside the
/// repository, when present: CI has it) decode too, whatever files it holds.
#[test]
fn every_enr_in_the_shared_data_decodes_when_present() {
    let dir = discguard_tests::repo_root().join("../shared/data/enrs");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "{} not present: covered by the copies in tests/data",
            dir.display()
        );
        return;
    };
    let mut decoded = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let map: BTreeMap<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
        for (id, v) in map {
            let record = v["record"]
                .as_str()
                .unwrap_or_else(|| panic!("{}: {id}: no record", path.display()));
            let enr: Enr = record
                .parse()
                .unwrap_or_else(|e| panic!("{}: {id}: {e}", path.display()));
            assert_eq!(hex(&enr.node_id().raw()), id);
            decoded += 1;
        }
    }
    assert!(decoded > 0, "{} holds no ENR lists", dir.display());
}
