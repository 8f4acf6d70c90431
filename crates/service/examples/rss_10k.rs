//! Resident memory of the service with 10,000 known ENRs (design.md goal:
//! ≤ 64 MiB).
//!
//! Starts the real service on loopback, then hands it 10,000 distinct signed
//! ENRs (each on its own 127.x.y.z address, so that no packet could leave the
//! machine): every one is added to discv5's table (`add_enr`) and offered to
//! the curated view (`admit`, as if it had answered), which keeps what the
//! policy allows. The ENRs stay alive in this process too. Prints VmRSS
//! before and after, and VmHWM (peak).
//!
//! `cargo run --release -p discguard-service --example rss_10k`

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use discguard_netgroup::Classifier;
use discguard_service::discv5::Enr;
use discguard_service::enr::CombinedKey;
use discguard_service::{Admission, ServiceConfig, ServiceHandle};

fn status(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    const N: u32 = 10_000;
    let config = ServiceConfig {
        listen_address: IpAddr::V4(Ipv4Addr::new(127, 250, 0, 1)),
        discovery_port: 0,
        allow_private_addresses: true,
        ..ServiceConfig::default()
    };
    let service = ServiceHandle::start(
        config,
        CombinedKey::generate_secp256k1(),
        Classifier::new(None),
        Vec::new(),
    )
    .await?;
    let before = status("VmRSS:");

    let started = Instant::now();
    let enrs: Vec<Enr> = (0..N)
        .map(|i| {
            let key = CombinedKey::generate_secp256k1();
            // 127.1.0.0 .. 127.40.255.255: 40 /16s, 10,240 /24s.
            let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 1, 0, 1)) + (i << 8) + (i % 7));
            Enr::builder()
                .ip4(ip)
                .udp4(9000)
                .tcp4(9000)
                .build(&key)
                .expect("ENR builds")
        })
        .collect();
    let (mut admitted, mut in_table) = (0, 0);
    for enr in &enrs {
        if service.with_discv5(|d| d.add_enr(enr.clone())).is_ok() {
            in_table += 1;
        }
        if matches!(
            service.admit(enr, None, Instant::now()),
            Admission::Admitted { .. }
        ) {
            admitted += 1;
        }
    }
    let after = status("VmRSS:");
    let peak = status("VmHWM:");
    println!(
        "10,000 known ENRs ({:.1} s): view {} entries ({admitted} admitted), discv5 table {} ({in_table} accepted by add_enr)",
        started.elapsed().as_secs_f64(),
        service.table().view_size,
        service.with_discv5(|d| d.table_entries_id().len()),
    );
    println!(
        "RSS: {:.1} MiB after start, {:.1} MiB with 10,000 ENRs, peak {:.1} MiB (goal <= 64 MiB)",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    service.shutdown().await;
    Ok(())
}
