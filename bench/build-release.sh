#!/usr/bin/env bash
# Builds agevault in release mode and prints the binary's path. Cargo is asked for
# the path because .cargo/config.toml sets an explicit target (target/<triple>/release).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --locked --quiet --message-format=json \
    | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "agevault":
        print(m["executable"])' | tail -n 1
