#!/usr/bin/env bash
# crawler check against linkchecker on the bench's `fast` site, side by side.
#
#   sudo unshare -n bash tests/benchmarks/vs_linkchecker.sh   # from the project root
#
# Runs inside a network namespace of its own (`unshare -n`): only loopback
# exists there, so neither checker can reach anything but the site. The
# site is the bench harness's (../shared/bench: its generator and its nginx
# setup), served with a `LinkChecker` response header, without which
# linkchecker caps itself at 10 requests a second per host whatever its
# configuration says. Both checkers run at 16 threads over the whole site.
#
# Environment: LINKCHECKER (default: linkchecker on PATH; `pip install
# linkchecker` in a venv of its own), BENCH (default ../shared/bench),
# WORK (default /tmp/crawler-bench: the site is generated there once),
# LC_TIMEOUT (default 600 s).
set -euo pipefail
[ "$(cat /proc/net/dev | grep -vc 'lo:\|Inter-\| face')" -eq 0 ] || {
    echo "run me inside unshare -n (only loopback may exist)" >&2; exit 2; }
ip link set lo up
ROOT=$(pwd)
BENCH=${BENCH:-$ROOT/../shared/bench}
WORK=${WORK:-/tmp/crawler-bench}
LINKCHECKER=${LINKCHECKER:-linkchecker}
OUT=$(mktemp -d)
chmod 777 "$OUT"  # linkchecker run as root drops to nobody, who writes its report here

cat > "$OUT/serve.py" <<EOF
import signal, sys, time
sys.path.insert(0, "$BENCH")
import make_site, run, servers
site = run.ensure_site("$WORK", "fast", 5000, 4, 8401)
hosts = make_site.Manifest.load(site).data["hosts"]
write = servers.Nginx.write_config
def with_header(self):
    write(self)
    text = open(self.conf).read().replace("http {\n", "http {\n  add_header LinkChecker 1;\n", 1)
    open(self.conf, "w").write(text)
servers.Nginx.write_config = with_header
nginx = servers.Nginx("$OUT/nginx", [{"name": "fast", "dir": site, "hosts": hosts, "port": 8401, "delay_s": 0}])
nginx.start()
print("serving", flush=True)
signal.signal(signal.SIGTERM, lambda *_: (nginx.stop(), sys.exit(0)))
while True:
    time.sleep(3600)
EOF
python3 "$OUT/serve.py" > "$OUT/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do grep -q serving "$OUT/serve.log" && break; sleep 0.5; done
grep -q serving "$OUT/serve.log" || { cat "$OUT/serve.log" >&2; exit 1; }

SEEDS="http://127.0.0.2:8401/ http://127.0.0.3:8401/ http://127.0.0.4:8401/ http://127.0.0.5:8401/"
printf '[checking]\nthreads=16\nmaxrequestspersecond=1000\n' > "$OUT/lcrc"
# shellcheck disable=SC2086
/usr/bin/time -f "crawler check: %e s wall, %U + %S s CPU" \
    .venv/bin/python -m crawler check $SEEDS -c 16 --no-progress -q -o "$OUT/check.jsonl" || true
# shellcheck disable=SC2086
/usr/bin/time -o "$OUT/linkchecker.time" -f "linkchecker:   %e s wall, %U + %S s CPU" \
    timeout "${LC_TIMEOUT:-600}" "$LINKCHECKER" \
    -f "$OUT/lcrc" --no-status --ignore-url '^mailto:' --ignore-url '^tel:' --ignore-url '^javascript:' \
    -F "csv/utf-8/$OUT/linkchecker.csv" -o none $SEEDS > "$OUT/linkchecker.log" 2>&1 || true
cat "$OUT/linkchecker.time"
python3 - "$OUT" <<'EOF'
import csv, json, sys
out = sys.argv[1]
ours = {r["url"] for r in map(json.loads, open(f"{out}/check.jsonl")) if r.get("status") == 404}
with open(f"{out}/linkchecker.csv") as f:
    rows = csv.DictReader((line for line in f if not line.startswith("#")), delimiter=";")
    theirs = {row["url"] for row in rows if row["result"].startswith("404")}
print(f"missing pages: crawler check {len(ours)}, linkchecker {len(theirs)}, in both {len(ours & theirs)}")
EOF
echo "outputs in $OUT"
