#!/usr/bin/env bash
# Builds the Debian package with cargo-deb and prints its path.
#
# cargo-deb packs files that must exist first: the release binary, and the man pages
# (one per command, gzipped as Debian policy wants) and the bash, zsh and fish
# completions that the binary generates from its own clap definition. The package metadata (assets,
# dependencies) is [package.metadata.deb] in Cargo.toml.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! cargo deb --version >/dev/null 2>&1; then
  echo "build-deb.sh: cargo-deb is not installed (cargo install cargo-deb --locked)" >&2
  exit 1
fi
cargo build --release --locked --quiet
bin=target/release/agevault
assets=target/deb-assets
rm -rf "$assets"
mkdir -p "$assets/man"
"$bin" man --out-dir "$assets/man"
gzip -9n "$assets"/man/*.1
"$bin" completions bash > "$assets/agevault.bash"
"$bin" completions zsh > "$assets/_agevault"
"$bin" completions fish > "$assets/agevault.fish"
cargo deb --no-build >&2
deb=$(ls -t target/debian/agevault_*.deb | head -n 1)
echo "$deb"
