#!/usr/bin/env bash
# Benchmarks whose goals are ratios measured in the same run (design.md, "Cost"):
#   1. policy admission (classify + decide) vs ENR decode + signature check: goal <= 2%;
#   2. RSS of the service with 10,000 known ENRs: goal <= 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p discguard-policy --bench admission -- ingest
python3 - <<'PY'
import json
def mean(name):
    with open(f"target/criterion/ingest/{name}/new/estimates.json") as f:
        return json.load(f)["mean"]["point_estimate"]
enr, policy = mean("enr_decode_verify"), mean("policy_classify_decide")
print(f"ENR decode+verify {enr/1000:.1f} us, policy classify+decide {policy:.0f} ns: {100*policy/enr:.2f}% (goal <= 2%)")
PY
cargo run --release -q -p discguard-service --example rss_10k
