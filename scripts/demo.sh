#!/usr/bin/env bash
# The local testnet: real Lodestar and sigp discv5 nodes on 127.0.0.0/8 with
# discguard in front, serving vetted peers. Needs only Rust and Node.js.
# Extra arguments go to `discguard-adversary testnet` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
lock_sum=$(sha256sum tests/js/package-lock.json | cut -d' ' -f1)
if [ "$(cat tests/js/node_modules/.discguard-lock-sha256 2>/dev/null)" != "$lock_sum" ]; then
  echo "==> installing Lodestar's discv5 (npm, pinned)"
  npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > tests/js/node_modules/.discguard-lock-sha256
fi
echo "==> building discguard"
cargo build --quiet -p discguard -p discguard-adversary
exec target/debug/discguard-adversary testnet "$@"
