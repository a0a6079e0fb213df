#!/usr/bin/env bash
# Revocations per second against the reference key service on loopback: KEYS fresh keys in
# files, one `keysweep dir --revoke` per concurrency level, wall time of the whole run (scan,
# two fsynced journal records per key, one HTTP request per key).
#
#   scripts/bench-revoke.sh [KEYS] [CONCURRENCY...]      # default: 1000 keys, levels 1 4 16
#   LATENCY_MS=50 scripts/bench-revoke.sh                # the service answers after 50 ms
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${1:-1000}
shift || true
levels=("$@")
[ ${#levels[@]} -gt 0 ] || levels=(1 4 16)

cargo build --release --locked --bin keysweep --example key_service >&2
work=$(mktemp -d)
# Copies: another checkout building into a shared CARGO_TARGET_DIR must not swap the binaries
# mid-benchmark.
bin="$work/bin"
mkdir -p "$bin/examples"
cp "${CARGO_TARGET_DIR:-target}/release/keysweep" "$bin/"
cp "${CARGO_TARGET_DIR:-target}/release/examples/key_service" "$bin/examples/"
"$bin/examples/key_service" > "$work/service.out" &
service=$!
trap 'kill $service 2>/dev/null; rm -rf "$work"' EXIT
until grep -q '^admin token: ' "$work/service.out" 2>/dev/null; do sleep 0.1; done
url=$(sed -n 's/^reference key service listening on //p' "$work/service.out")
token=$(sed -n 's/^admin token: //p' "$work/service.out")

echo "keys concurrency latency_ms seconds revocations/s"
run=0
for level in "${levels[@]}"; do
  run=$((run + 1))
  dir="$work/run$run"
  mkdir -p "$dir/src"
  printf '[revoke]\nendpoint = "%s/v1/revocations"\n' "$url" > "$dir/keysweep.toml"
  for ((i = 0; i < keys; i++)); do
    key=$(curl -sf -X POST "$url/v1/keys" -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/json' -d '{"type": "sk_live_"}' |
      sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
    echo "KEY=$key" >> "$dir/src/keys$((i / 100)).env"
  done
  if [ "${LATENCY_MS:-0}" -gt 0 ]; then
    curl -sf -o /dev/null -X POST "$url/v1/faults" -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/json' \
      -d "{\"kind\": \"slow_before\", \"millis\": $LATENCY_MS, \"times\": $keys}"
  fi
  start=$(date +%s.%N)
  KEYSWEEP_REVOKE_TOKEN=$token "$bin/keysweep" dir "$dir" --revoke --concurrency "$level" \
    --quiet --format jsonl -o "$dir/report.jsonl" || [ $? -eq 1 ]
  end=$(date +%s.%N)
  # Counted from the report: a random key the scanner misses (rare) is not a revocation.
  found=$(wc -l < "$dir/report.jsonl")
  revoked=$(grep -c '"revocation":"revoked"' "$dir/report.jsonl")
  if [ "$revoked" -ne "$found" ]; then
    echo "only $revoked of $found found keys revoked:" >&2
    grep -v '"revocation":"revoked"' "$dir/report.jsonl" | head -3 >&2
    exit 1
  fi
  awk -v k="$revoked" -v c="$level" -v l="${LATENCY_MS:-0}" -v s="$start" -v e="$end" \
    'BEGIN { printf "%d %d %d %.2f %.0f\n", k, c, l, e - s, k / (e - s) }'
done
