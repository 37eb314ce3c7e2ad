#!/usr/bin/env bash
# Builds the .deb, installs it with dpkg -i, and checks what a Debian host gets: the
# binary on PATH at the crate's version, every man page `man -w` finds, the bash, zsh
# and fish completions and the systemd unit example; then removes the package. Any mismatch
# fails (exit 1). Run as root (CI containers) or with sudo.
#
# Takes build-deb.sh's switches and passes them on: by default the package is built with
# cargo-deb; `--dpkg-deb [--bin PATH]` or AGEVAULT_DEB_BIN=PATH builds it with plain
# dpkg-deb from that binary (CI without cargo-deb: the debug build). The checks are the same.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
deb=$(packaging/build-deb.sh "$@")
[ -f "$deb" ] || { echo "test-deb.sh: no package was built" >&2; exit 1; }
echo "test-deb.sh: built $deb"
# Slim container images exclude /usr/share/man from every package; the man pages are
# what this test checks, so they are let in explicitly.
$sudo dpkg --path-include='/usr/share/man/man1/agevault*' -i "$deb"
trap '$sudo dpkg -r agevault >/dev/null 2>&1 || true' EXIT
want=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
got=$(agevault --version)
[ "$got" = "agevault $want" ] || { echo "test-deb.sh: agevault --version says '$got', want 'agevault $want'" >&2; exit 1; }
[ "$(command -v agevault)" = /usr/bin/agevault ] || { echo "test-deb.sh: agevault is not /usr/bin/agevault" >&2; exit 1; }
for page in agevault agevault-exec agevault-recipients-add; do
  found=$(man -w "$page") || { echo "test-deb.sh: man -w $page finds nothing" >&2; exit 1; }
  echo "test-deb.sh: man -w $page: $found"
done
completions="/usr/share/bash-completion/completions/agevault /usr/share/zsh/vendor-completions/_agevault
  /usr/share/fish/vendor_completions.d/agevault.fish"
for file in $completions /usr/share/doc/agevault/examples/agevault-app.service; do
  dpkg -L agevault | grep -qx "$file" || { echo "test-deb.sh: the package lacks $file" >&2; exit 1; }
  [ -s "$file" ] || { echo "test-deb.sh: $file is missing or empty after dpkg -i" >&2; exit 1; }
done
for file in $completions; do
  grep -q '_agevault_dynamic' "$file" \
    || { echo "test-deb.sh: the installed completion $file is not the dynamic one" >&2; exit 1; }
done
# The shells find the installed scripts where they look by themselves (no sourcing).
if command -v fish >/dev/null 2>&1; then
  # (Not --no-config: that also empties fish_complete_path; a fresh HOME keeps user config out.)
  found=$(cd /tmp && HOME=$(mktemp -d) fish -c 'complete -C "agevault recip"' | cut -f1)
  [ "$found" = recipients ] || { echo "test-deb.sh: fish does not load the installed completion (got '$found')" >&2; exit 1; }
  echo "test-deb.sh: fish completes 'agevault recip' to $found"
fi
if command -v zsh >/dev/null 2>&1; then
  found=$(cd /tmp && zsh -f -c 'autoload -U compinit; compinit -u -D; print -r -- $_comps[agevault]')
  [ "$found" = _agevault ] || { echo "test-deb.sh: zsh's compinit does not find _agevault (got '$found')" >&2; exit 1; }
  echo "test-deb.sh: zsh's compinit registers $found from /usr/share/zsh/vendor-completions"
fi
echo "test-deb.sh: ok ($got, man pages, bash/zsh/fish completions, systemd example)"
