//! The monitoring stack of `docker-compose.yml` holds together without a
//! container engine: Debian's `docker-compose` accepts the file
//! (`config -q`); it names the services docs/operations.md describes
//! (discguard, prometheus, grafana); every file or directory it mounts from
//! the repository exists, the alert rules directory among Prometheus's
//! mounts; Prometheus scrapes the port discguard serves metrics on, and
//! Grafana loads dashboards from where they are mounted; discguard's
//! command line parses with the real binary; every host port but
//! discv5's is bound to 127.0.0.1; and `promtool check config` accepts
//! `prometheus/prometheus.yml`.

use std::path::{Path, PathBuf};
use std::process::Command;

use discguard_tests::{discguard_bin, repo_root};
use serde_norway::Value;

const SERVICES: [&str; 3] = ["discguard", "prometheus", "grafana"];

fn compose_file() -> PathBuf {
    repo_root().join("docker-compose.yml")
}

fn read_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_norway::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose
        .get("services")
        .and_then(|s| s.get(name))
        .unwrap_or_else(|| panic!("docker-compose.yml has no service {name:?}"))
}

/// The strings of a YAML sequence (`command`, `ports`, `volumes`, ...), empty
/// when the key is absent.
fn strings<'a>(value: &'a Value, key: &str) -> Vec<&'a str> {
    match value.get(key) {
        None => Vec::new(),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .unwrap_or_else(|| panic!("{key}: expected strings, got {v:?}"))
            })
            .collect(),
        Some(other) => panic!("{key}: expected a list, got {other:?}"),
    }
}

/// A bind mount or named volume: (source, target).
fn mounts(service: &Value) -> Vec<(String, String)> {
    let Some(Value::Sequence(volumes)) = service.get("volumes") else {
        return Vec::new();
    };
    volumes
        .iter()
        .map(|v| match v {
            Value::String(short) => {
                let mut parts = short.split(':');
                let source = parts.next().unwrap_or_default().to_owned();
                let target = parts
                    .next()
                    .unwrap_or_else(|| panic!("volume {short:?} has no target"))
                    .to_owned();
                (source, target)
            }
            long => {
                let field = |k: &str| {
                    long.get(k)
                        .and_then(Value::as_str)
                        .unwrap_or_else(|| panic!("volume {long:?} has no {k}"))
                        .to_owned()
                };
                (field("source"), field("target"))
            }
        })
        .collect()
}

/// Whether a volume source is a host path (bind mount) rather than a named
/// volume.
fn is_host_path(source: &str) -> bool {
    source.starts_with('.') || source.starts_with('/') || source.starts_with('~')
}

#[test]
fn docker_compose_accepts_the_compose_file() {
    let root = repo_root();
    let output = Command::new("docker-compose")
        .arg("--file")
        .arg(compose_file())
        .arg("--project-directory")
        .arg(&root)
        .args(["config", "-q"])
        .current_dir(&root)
        // The file's own defaults, not whatever the caller's shell holds.
        .env_remove("DISCGUARD_ENR_ADDRESS")
        .env_remove("GRAFANA_ADMIN_PASSWORD")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run docker-compose ({e}): install the Debian package docker-compose \
                 (scripts/test.sh does when it is missing)"
            )
        });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "docker-compose config -q rejected docker-compose.yml ({}):\n{stderr}",
        output.status
    );
    assert!(
        !stderr.to_ascii_lowercase().contains("warn"),
        "docker-compose config -q warned about docker-compose.yml:\n{stderr}"
    );
}

#[test]
fn compose_services_mount_what_the_repository_has() {
    let root = repo_root();
    let compose = read_yaml(&compose_file());
    for name in SERVICES {
        service(&compose, name);
    }

    // discguard is built from the repository's Dockerfile.
    let discguard = service(&compose, "discguard");
    let (context, dockerfile) = match discguard.get("build") {
        Some(Value::String(context)) => (context.clone(), "Dockerfile".to_owned()),
        Some(build) => (
            build
                .get("context")
                .and_then(Value::as_str)
                .unwrap_or(".")
                .to_owned(),
            build
                .get("dockerfile")
                .and_then(Value::as_str)
                .unwrap_or("Dockerfile")
                .to_owned(),
        ),
        None => panic!("the discguard service is not built from the repository"),
    };
    let dockerfile = root.join(&context).join(dockerfile);
    assert!(
        dockerfile.is_file(),
        "discguard builds from {}, which does not exist",
        dockerfile.display()
    );
    assert!(
        root.join(&context).join(".dockerignore").is_file(),
        "the build context {context} has no .dockerignore (target/ would be sent to the engine)"
    );

    // Every host path mounted is in the repository and exists.
    for name in SERVICES {
        for (source, target) in mounts(service(&compose, name)) {
            if !is_host_path(&source) {
                continue;
            }
            assert!(
                source.starts_with("./"),
                "service {name} mounts {source}: mount only paths of the repository (./...)"
            );
            assert!(
                root.join(&source).exists(),
                "service {name} mounts {source} at {target}, but {} does not exist",
                root.join(&source).display()
            );
        }
    }

    // Prometheus mounts its config and the alert rules, and loads the rules
    // from where they are mounted.
    let prometheus = mounts(service(&compose, "prometheus"));
    let mount_of = |mounts: &[(String, String)], source: &str| {
        mounts
            .iter()
            .find(|(s, _)| s.trim_end_matches('/') == source)
            .map(|(_, t)| t.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| panic!("{source} is not mounted: {mounts:?}"))
    };
    let rules_dir = mount_of(&prometheus, "./prometheus/rules");
    let config_target = mount_of(&prometheus, "./prometheus/prometheus.yml");
    assert_eq!(config_target, "/etc/prometheus/prometheus.yml");
    let prometheus_yml = read_yaml(&root.join("prometheus/prometheus.yml"));
    let rule_files = strings(&prometheus_yml, "rule_files");
    assert!(
        rule_files
            .iter()
            .any(|glob| glob.starts_with(&format!("{rules_dir}/"))),
        "prometheus.yml loads rules from {rule_files:?}, not from {rules_dir} where \
         ./prometheus/rules is mounted"
    );

    // Prometheus scrapes the metrics port discguard listens on.
    let command = strings(discguard, "command");
    let metrics_address = command
        .iter()
        .find_map(|a| a.strip_prefix("--metrics-address="))
        .expect("discguard's command sets --metrics-address=<ip>:<port>");
    let metrics_port = metrics_address.rsplit(':').next().unwrap();
    let scrape_targets: Vec<&str> = prometheus_yml["scrape_configs"]
        .as_sequence()
        .expect("prometheus.yml has scrape_configs")
        .iter()
        .filter(|job| job["job_name"].as_str() == Some("discguard"))
        .flat_map(|job| job["static_configs"].as_sequence().unwrap())
        .flat_map(|config| strings(config, "targets"))
        .collect();
    assert_eq!(
        scrape_targets,
        [format!("discguard:{metrics_port}")],
        "job discguard scrapes discguard's --metrics-address ({metrics_address})"
    );

    // Grafana's dashboard provider reads the directory the dashboards are
    // mounted at, and its datasource is the prometheus service.
    let grafana = mounts(service(&compose, "grafana"));
    let dashboards_dir = mount_of(&grafana, "./grafana/dashboards");
    let provisioning_dir = mount_of(&grafana, "./grafana/provisioning");
    assert_eq!(provisioning_dir, "/etc/grafana/provisioning");
    let provider = read_yaml(&root.join("grafana/provisioning/dashboards/discguard.yml"));
    let provider_path = provider["providers"][0]["options"]["path"].as_str();
    assert_eq!(
        provider_path,
        Some(dashboards_dir.as_str()),
        "the dashboard provider reads {provider_path:?}; the dashboards are mounted at {dashboards_dir}"
    );
    let datasources = read_yaml(&root.join("grafana/provisioning/datasources/prometheus.yml"));
    assert_eq!(
        datasources["datasources"][0]["uid"].as_str(),
        Some("prometheus")
    );
    assert_eq!(
        datasources["datasources"][0]["url"].as_str(),
        Some("http://prometheus:9090")
    );

    // Host ports: discv5's UDP port for the world, the rest on loopback.
    for name in SERVICES {
        for port in strings(service(&compose, name), "ports") {
            assert!(
                port.starts_with("127.0.0.1:") || (name == "discguard" && port == "9100:9100/udp"),
                "service {name} publishes {port:?} beyond 127.0.0.1; only discv5's 9100/udp may be"
            );
        }
    }
}

/// discguard's command in the compose file parses: the flags exist and
/// their values are valid (clap stops at the trailing `--help`).
#[test]
fn compose_discguard_command_parses() -> anyhow::Result<()> {
    let compose = read_yaml(&compose_file());
    let command = strings(service(&compose, "discguard"), "command");
    let output = Command::new(discguard_bin()?)
        .args(&command)
        .arg("--help")
        .env("RUST_BACKTRACE", "0")
        .output()?;
    assert!(
        output.status.success(),
        "discguard {} rejected its command line from docker-compose.yml:\n{}",
        command.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

#[test]
fn prometheus_config_passes_promtool() {
    let config = repo_root().join("prometheus/prometheus.yml");
    let output = Command::new("promtool")
        .args(["check", "config"])
        .arg(&config)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run promtool ({e}): install the Debian package prometheus \
                 (scripts/test.sh does when it is missing)"
            )
        });
    assert!(
        output.status.success(),
        "promtool check config rejected {}:\n{}{}",
        config.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
