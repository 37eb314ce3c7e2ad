#!/usr/bin/env bash
# Builds the Debian package and prints its path.
#
#   packaging/build-deb.sh                      cargo-deb, from a release build (the default)
#   packaging/build-deb.sh --dpkg-deb [--bin PATH]
#   AGEVAULT_DEB_BIN=PATH packaging/build-deb.sh
#                                               plain dpkg-deb, no cargo-deb needed
#
# Both pack files that must exist first: the binary, and the man pages (one per command,
# gzipped as Debian policy wants) and the bash, zsh and fish completions that the binary
# generates from its own clap definition. The package metadata (assets, dependencies) is
# [package.metadata.deb] in Cargo.toml.
#
# The dpkg-deb mode (--dpkg-deb, or AGEVAULT_DEB_BIN set) is the fallback for hosts without
# cargo-deb, such as CI: packaging/deb-fallback.py lays the package out from the same
# `assets` list and control fields, taking the binary from PATH (--bin or AGEVAULT_DEB_BIN,
# e.g. target/debug/agevault that `cargo test` built; without either, a release build)
# instead of target/release, strips it as cargo-deb does, computes Depends with
# dpkg-shlibdeps, and builds target/debian-dpkg-deb/agevault_*.deb with
# `dpkg-deb --build --root-owner-group`. Needs python3 and dpkg-deb (dpkg-dev for
# dpkg-shlibdeps and strip). Everything it writes is under target/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

builder=cargo-deb
bin=${AGEVAULT_DEB_BIN:-}
[ -z "$bin" ] || builder=dpkg-deb
while [ $# -gt 0 ]; do
  case $1 in
    --dpkg-deb) builder=dpkg-deb ;;
    --bin) [ $# -ge 2 ] || { echo "build-deb.sh: --bin needs a path" >&2; exit 2; }
           bin=$2; builder=dpkg-deb; shift ;;
    --bin=*) bin=${1#--bin=}; builder=dpkg-deb ;;
    *) echo "build-deb.sh: unknown argument $1 (want --dpkg-deb, --bin PATH)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$builder" = cargo-deb ]; then
  if ! cargo deb --version >/dev/null 2>&1; then
    echo "build-deb.sh: cargo-deb is not installed (cargo install cargo-deb --locked," \
      "or build with plain dpkg-deb: packaging/build-deb.sh --dpkg-deb)" >&2
    exit 1
  fi
  cargo build --release --locked --quiet
  bin=target/release/agevault
else
  for tool in python3 dpkg-deb; do
    command -v "$tool" >/dev/null 2>&1 || { echo "build-deb.sh: --dpkg-deb needs $tool" >&2; exit 1; }
  done
  if [ -z "$bin" ]; then
    cargo build --release --locked --quiet
    bin=target/release/agevault
  fi
  [ -x "$bin" ] || { echo "build-deb.sh: $bin is not an executable" >&2; exit 1; }
fi

assets=target/deb-assets
rm -rf "$assets"
mkdir -p "$assets/man"
"$bin" man --out-dir "$assets/man"
gzip -9n "$assets"/man/*.1
"$bin" completions bash > "$assets/agevault.bash"
"$bin" completions zsh > "$assets/_agevault"
"$bin" completions fish > "$assets/agevault.fish"

if [ "$builder" = cargo-deb ]; then
  cargo deb --no-build >&2
  deb=$(ls -t target/debian/agevault_*.deb | head -n 1)
else
  deb=$(python3 packaging/deb-fallback.py --bin "$bin")
  echo "build-deb.sh: built with dpkg-deb from $bin (no cargo-deb)" >&2
fi
echo "$deb"
