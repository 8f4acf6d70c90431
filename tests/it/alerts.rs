//! The Prometheus alerting rules are valid and behave as specified:
//! `promtool check rules` accepts `prometheus/rules/discguard.rules.yml`, and
//! `promtool test rules` passes `prometheus/tests/discguard.rules.test.yml`,
//! whose input series make every alert fire (exact labels and annotations)
//! and keep it silent below its threshold, before its `for`, outside its
//! label filters, and (groups-to-majority) on a view too small to judge.
//! `promtool` comes from the Debian package `prometheus`, which
//! `scripts/test.sh` installs; without it these tests fail and say so.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use discguard_tests::repo_root;

/// The directory holding `rules/` and `tests/`.
fn prometheus_dir() -> PathBuf {
    repo_root().join("prometheus")
}

/// Runs `promtool args` in `dir`; panics with a clear message when promtool
/// is not installed or cannot be run.
fn promtool(args: &[&str], dir: &Path) -> Output {
    match Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "0")
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "promtool is not installed (not found on PATH): install the Debian package \
             `prometheus` (`apt-get install prometheus`), as scripts/test.sh does"
        ),
        Err(e) => panic!("could not run promtool {args:?} in {}: {e}", dir.display()),
    }
}

/// promtool's stdout and stderr, for assertion messages.
fn report(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn promtool_is_installed() {
    let out = promtool(&["--version"], &repo_root());
    assert!(
        out.status.success(),
        "`promtool --version` failed ({}):\n{}",
        out.status,
        report(&out)
    );
}

#[test]
fn alerting_rules_pass_promtool_check_rules() {
    let rules = prometheus_dir().join("rules/discguard.rules.yml");
    assert!(rules.is_file(), "missing {}", rules.display());
    let out = promtool(
        &["check", "rules", &rules.display().to_string()],
        &repo_root(),
    );
    let text = report(&out);
    assert!(
        out.status.success(),
        "promtool check rules {} failed ({}):\n{text}",
        rules.display(),
        out.status
    );
    assert!(
        text.contains("SUCCESS: 6 rules found"),
        "expected the six discguard alerts, promtool said:\n{text}"
    );
}

#[test]
fn alerting_rules_pass_their_promtool_unit_tests() {
    // The test file names its rules relative to itself
    // (`../rules/discguard.rules.yml`): run it from its directory.
    let dir = prometheus_dir().join("tests");
    assert!(
        dir.join("discguard.rules.test.yml").is_file(),
        "missing {}/discguard.rules.test.yml",
        dir.display()
    );
    let out = promtool(&["test", "rules", "discguard.rules.test.yml"], &dir);
    let text = report(&out);
    assert!(
        out.status.success(),
        "promtool test rules discguard.rules.test.yml (in {}) failed ({}):\n{text}",
        dir.display(),
        out.status
    );
    assert!(
        text.contains("SUCCESS"),
        "promtool did not report success:\n{text}"
    );
}
