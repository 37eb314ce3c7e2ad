#!/usr/bin/env bash
# Generates a git history in which every commit changes the vault, then times
# `agevault log` (and `agevault log --json`) on it: the issue's target is 1,000
# commits in under 2 s.
#
#   bench/log-history.sh                    # from the repository root: 1,000 commits
#   LOG_COMMITS=5000 bench/log-history.sh   # a longer history
#   LOG_RUNS=10 bench/log-history.sh        # more timed runs
#   LOG_KEEP=/tmp/hist bench/log-history.sh # keep the generated repo there (must not exist)
#
# It builds the release binary, works in a temp directory (removed on exit unless
# LOG_KEEP is set) with its own $HOME, identity and repository, and prints the
# wall time of each run plus the minimum and median.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COMMITS=${LOG_COMMITS:-1000}
RUNS=${LOG_RUNS:-5}

log() { printf 'log-history: %s\n' "$*" >&2; }

BIN=$("$ROOT/bench/build-release.sh")

if [ -n "${LOG_KEEP:-}" ]; then
  WORK=$LOG_KEEP
  mkdir "$WORK"
else
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK/home" "$WORK/repo"
export HOME="$WORK/home" USER=bench GIT_CONFIG_NOSYSTEM=1 LANG=C.UTF-8
unset AGEVAULT_IDENTITY AGEVAULT_IDENTITY_FILE AGEVAULT_CONFIG AGEVAULT_VAULT
cd "$WORK/repo"
git init -q -b main
"$BIN" -q init --name bench
for n in $(seq 1 40); do
  printf 'initial-value-%s-%s' "$n" "$RANDOM$RANDOM" | "$BIN" -q set "ns$((n % 8))/secret$n"
done
git add -A
GIT_AUTHOR_NAME=Alice GIT_AUTHOR_EMAIL=alice@example.org GIT_COMMITTER_NAME=Alice \
  GIT_COMMITTER_EMAIL=alice@example.org git commit -q -m "initial secrets"

log "generating $COMMITS commits that each change the vault (this takes a while)"
authors=(Alice Bob Carol)
for i in $(seq 2 "$COMMITS"); do
  case $((i % 10)) in
    0) "$BIN" -q rm "ns$(( (i - 5) % 8 ))/extra$((i - 5))" ;;
    5) printf 'added-%s-%s' "$i" "$RANDOM" | "$BIN" -q set "ns$((i % 8))/extra$i" ;;
    *) printf 'rotated-%s-%s' "$i" "$RANDOM$RANDOM" | "$BIN" -q set "ns$((i % 8))/secret$(( (i % 40) + 1 ))" ;;
  esac
  a=${authors[$((i % 3))]}
  GIT_AUTHOR_NAME=$a GIT_AUTHOR_EMAIL="${a,,}@example.org" GIT_COMMITTER_NAME=$a \
    GIT_COMMITTER_EMAIL="${a,,}@example.org" git commit -q --no-verify -am "change $i"
  if [ $((i % 100)) -eq 0 ]; then log "$i commits"; fi
done

commits=$(git rev-list --count HEAD)
versions=$(git rev-list HEAD -- secrets.json.age | wc -l)
log "history: $commits commits, $versions of them change secrets.json.age"

time_run() {
  local start end
  start=$(date +%s%N)
  "$BIN" "$@" > /dev/null
  end=$(date +%s%N)
  echo $(( (end - start) / 1000000 ))
}

for args in "log" "log --json"; do
  times=()
  for _ in $(seq 1 "$RUNS"); do
    # shellcheck disable=SC2086
    times+=("$(time_run $args)")
  done
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  min=$(echo "$sorted" | head -1)
  median=$(echo "$sorted" | sed -n "$(( (RUNS + 1) / 2 ))p")
  printf 'agevault %-10s %s commits: runs %s ms; min %s ms, median %s ms\n' \
    "$args" "$commits" "${times[*]}" "$min" "$median"
done
lines=$("$BIN" log | grep -c '^[0-9a-f]\{7\} ' || true)
printf 'agevault log listed %s commits\n' "$lines"
