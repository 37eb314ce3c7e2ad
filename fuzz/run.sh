#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60) with cargo-fuzz on the nightly
# toolchain, installing cargo-fuzz when it is missing. Without a nightly toolchain it
# says so and exits 0, so CI can call it everywhere. A crash fails the run and leaves
# its input under fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")"

seconds=${1:-60}
case $seconds in
  '' | *[!0-9]*) echo "usage: fuzz/run.sh [SECONDS]" >&2; exit 2 ;;
esac

if ! command -v rustup >/dev/null 2>&1 || ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz: SKIPPED: no nightly toolchain (install one with \`rustup toolchain install nightly\`)"
  exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  if ! cargo install cargo-fuzz --locked; then
    echo "fuzz: SKIPPED: cargo-fuzz could not be installed"
    exit 0
  fi
fi

targets=$(cargo +nightly fuzz list)
summary=()
for target in $targets; do
  mkdir -p "corpus/$target"
  echo "fuzz: $target for ${seconds}s"
  log=$(mktemp)
  # -rss_limit_mb: the parsers must stay small on any input; -max_len keeps inputs near
  # the size of real documents so the time goes into shapes, not bulk.
  if ! cargo +nightly fuzz run "$target" "corpus/$target" -- \
      -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
      >"$log" 2>&1; then
    tail -n 60 "$log"
    rm -f "$log"
    echo "fuzz: $target FAILED (the input is under fuzz/artifacts/$target/)"
    exit 1
  fi
  runs=$(awk '/stat::number_of_executed_units:/ { print $2 }' "$log" | tail -n 1)
  rm -f "$log"
  summary+=("$target: ${runs:-?} executions in ${seconds}s, no crash")
done
printf 'fuzz: %s\n' "${summary[@]}"
