#!/usr/bin/env bash
# The cost of signature verification: `exec -- true` and `get` on the same signed
# 100-secret vault, timed with a build from before signing (BASE_BIN, e.g. commit
# 583d683, which ignores the .sig file) and the current one (AGEVAULT_BIN).
#
#   BASE_BIN=/path/old AGEVAULT_BIN=/path/new bench/trust-cost.sh
#   BENCH_RUNS=200 BENCH_SECRETS=100
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${AGEVAULT_BIN:-$("$here/build-release.sh")}
BASE=${BASE_BIN:?set BASE_BIN to a build from before signing (git worktree add /tmp/base 583d683)}
RUNS=${BENCH_RUNS:-200}
SECRETS=${BENCH_SECRETS:-100}
command -v hyperfine >/dev/null || { echo "needs hyperfine" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME=$work/home AGEVAULT_TRUST_DIR=$work/trust
mkdir -p "$HOME" "$work/repo"
cd "$work/repo"
"$BIN" -q init --name bench
python3 - "$SECRETS" > "$work/tree.json" <<'EOF'
import json, secrets, sys
n = int(sys.argv[1])
print(json.dumps({f"svc{s:02d}": {f"key{k}": secrets.token_urlsafe(24) for k in range(10)} for s in range(n // 10)}))
EOF
EDITOR="cp $work/tree.json" "$BIN" -q edit
"$BIN" -q get svc00/key0 >/dev/null   # pins the vault in the trust store
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$work/r.json" \
    -n "before: exec -- true" "$BASE exec -- /bin/true" \
    -n "after: exec -- true" "$BIN exec -- /bin/true" \
    -n "before: get" "$BASE get svc00/key0" \
    -n "after: get" "$BIN get svc00/key0" >/dev/null
python3 - "$work/r.json" <<'EOF'
import json, sys
m = {r["command"]: r["median"] * 1000 for r in json.load(open(sys.argv[1]))["results"]}
for k, v in m.items():
    print(f"| {k} | {v:.2f} ms |")
for what in ["exec -- true", "get"]:
    b, a = m[f"before: {what}"], m[f"after: {what}"]
    print(f"| added by verification, {what} | {a - b:+.2f} ms ({a / b:.2f}x) |")
EOF
