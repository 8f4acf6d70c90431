#!/usr/bin/env bash
# Runs every check of the project, after setting up what the tests need:
#   - Debian package `prometheus` (promtool, prometheus) when missing,
#   - Debian package `docker-compose` (checks docker-compose.yml; no container engine) when missing,
#   - the npm packages of tests/js (Lodestar's discv5, ASN data), pinned by package-lock.json.
# Then: rustfmt, clippy (-D warnings), rustdoc (-D warnings), cargo test.
# Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

need_apt=()
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
if [ ${#need_apt[@]} -gt 0 ]; then
  say "installing Debian packages: ${need_apt[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

say "npm packages (tests/js)"
lock_sum=$(sha256sum tests/js/package-lock.json | cut -d' ' -f1)
if [ "$(cat tests/js/node_modules/.discguard-lock-sha256 2>/dev/null)" != "$lock_sum" ]; then
  npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > tests/js/node_modules/.discguard-lock-sha256
fi

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

say "cargo doc -D warnings"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

say "cargo build (the binaries the integration tests run)"
cargo build --workspace --bins --locked

say "cargo test"
cargo test --workspace --locked "$@"
