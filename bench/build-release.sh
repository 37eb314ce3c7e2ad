#!/usr/bin/env bash
# The release build that ships, and that the benchmarks measure; prints the binary's path.
#
# On Linux with glibc it links statically (`+crt-static`: a static-PIE binary). That
# saves the dynamic loader's work, about 0.5 ms of every `agevault exec` (BENCHMARKS.md,
# "Dynamic vs static linking"), and keeps address-space randomisation. The flags are
# passed for the host's own triple with an explicit --target, so they apply to agevault
# and not to build scripts and proc macros, which cannot be static; the binary then
# lands in target/<triple>/release/. Elsewhere (macOS, musl) it is a plain
# `cargo build --release`. The everyday build (`cargo build`, `cargo install --path .`)
# stays the default, portable one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
args=(build --release --locked --quiet --message-format=json)
case "$host" in
  *-linux-gnu)
    var="CARGO_TARGET_$(printf '%s' "$host" | tr 'a-z-' 'A-Z_')_RUSTFLAGS"
    export "$var=${!var:-} -C target-feature=+crt-static"
    args+=(--target "$host")
    ;;
esac
cargo "${args[@]}" \
    | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "agevault":
        print(m["executable"])' | tail -n 1
