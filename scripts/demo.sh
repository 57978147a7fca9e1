#!/usr/bin/env bash
# A whole province on one machine: build, provision a 16-node tree, start it,
# migrate a year's register at the counties, run the next year's changes
# through 两公示一公告 at every level, and show what the province knows. Every
# node started here is stopped on exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)

usage() {
	cat <<'USAGE'
usage: scripts/demo.sh [--bin DIR] [--dir DIR] [--households N] [--http ADDR] [--linger] [--keep]

Runs scripts/deps.sh --no-test and scripts/build.sh normal jzfpd jzfpctl (what a
node's host needs; scripts/test.sh installs and builds the rest), then in a fresh
directory:
  1. writes the demo tree (gen_data.py tree): province 630000000000, two
     counties in two prefectures, five townships (one stands in for its two
     villages), eight village nodes: 16 nodes
  2. provisions it (scripts/provision.sh) and starts it (scripts/localtree.sh)
  3. the province signs its policy (7-day windows, exit threshold 3 %)
  4. each county migrates its villages' 2019 register (N households per
     village, import --recorded); the census is imported where each village
     is served (the stand-in township's villages in the Chinese layout)
  5. 2020: every village re-imports its updated register; the changes of
     status are proposals, and go through the village notice, the township
     review and notice, the county review and announcement, at every node
     that takes each step (nodes run with --test-clock: clocks move 8 days
     instead of waiting a week)
  6. prints the province's rollup by county and by prefecture, checks 2019
     and 2020 against the generated files, runs `rollup --verify` everywhere,
     shows one household at its village and (sealed) at the province, prints
     `tree` at the province and every node's status
  7. the province serves HTTP ([http] listen, default 127.0.0.1 and a free
     port): the demo prints its dashboard URL and a few of its metrics
Every node it started is stopped on exit, also on error or Ctrl-C.

  --bin DIR        use the jzfpd and jzfpctl in DIR; skip the build
  --dir DIR        work here (must not exist or be empty) and keep it; default:
                   a new temporary directory, removed at the end unless --keep
                   or something failed
  --households N   households per village (default 200)
  --http ADDR      the province's HTTP address (default 127.0.0.1:0, a free port)
  --linger         at the end, keep the tree running until Enter or Ctrl-C, to
                   look at the dashboard in a browser
  --keep           keep the temporary directory (configs, data, logs)
USAGE
}

bin=
work=
keep=0
households=200
http_addr=127.0.0.1:0
linger=0
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help) usage; exit 0 ;;
	--bin) [ $# -ge 2 ] || { usage >&2; exit 2; }; bin=$2; shift 2 ;;
	--dir) [ $# -ge 2 ] || { usage >&2; exit 2; }; work=$2; keep=1; shift 2 ;;
	--households) [ $# -ge 2 ] || { usage >&2; exit 2; }; households=$2; shift 2 ;;
	--http) [ $# -ge 2 ] || { usage >&2; exit 2; }; http_addr=$2; shift 2 ;;
	--linger) linger=1; shift ;;
	--keep) keep=1; shift ;;
	*) usage >&2; exit 2 ;;
	esac
done
if ! [[ "$households" =~ ^[1-9][0-9]*$ ]] || [ "$households" -gt 9999 ]; then
	echo "demo: --households must be 1..9999" >&2
	exit 2
fi

t_all=$(date +%s.%N)
t_sec=$t_all
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
section() {
	if [ -n "${cur_section:-}" ]; then
		echo "   ($(elapsed "$t_sec") s)"
	fi
	t_sec=$(date +%s.%N)
	cur_section=$1
	echo
	echo "=============================================================================="
	echo "== $1"
	echo "=============================================================================="
}

# ---------------------------------------------------------------- build
section "Dependencies and build"
bash "$here/deps.sh" --no-test
if [ -z "$bin" ]; then
	# What the demo runs, not the tests (scripts/test.sh builds those).
	bash "$here/build.sh" normal jzfpd jzfpctl
	bin=$top/build/bin
fi
bin=$(cd "$bin" && pwd)
for b in jzfpd jzfpctl; do
	[ -x "$bin/$b" ] || { echo "demo: $bin/$b: not found" >&2; exit 1; }
done
echo "binaries: $bin"
t_run=$(date +%s.%N)

# ---------------------------------------------------------------- work dir
if [ -z "$work" ]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/jzfp-demo.XXXXXX")
else
	mkdir -p "$work"
	[ -z "$(ls -A "$work")" ] || { echo "demo: $work: not empty" >&2; exit 1; }
	work=$(cd "$work" && pwd)
fi
tree=$work/tree
gen=$work/input
ok=0
started=0
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "$started" = 1 ]; then
		echo
		echo "== Stopping every node"
		bash "$here/localtree.sh" stop "$tree" --bin "$bin" || rc=1
	fi
	if [ "$ok" = 1 ] && [ "$keep" = 0 ]; then
		rm -rf "$work"
	else
		echo "demo: work directory kept: $work (logs in $tree/*/jzfpd.log)"
	fi
	if [ "$ok" = 1 ] && [ "$rc" = 0 ]; then
		echo "demo: done in $(elapsed "$t_all") s ($(elapsed "$t_run") s after the build)"
	else
		echo "demo: FAILED" >&2
		[ "$rc" != 0 ] || rc=1
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

conf_of() { echo "$tree/$1/jzfpd.conf"; }
# alive AREA: the node's recorded jzfpd is still running (not a zombie).
alive() {
	local pid
	pid=$(cat "$tree/$1/jzfpd.pid" 2>/dev/null) || return 1
	[ -r "/proc/$pid/stat" ] && [ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$pid/stat")" != Z ]
}
# at AREA ARGS...: jzfpctl -c <AREA's config> ARGS..., after checking that the
# node still runs (a dead node's stale socket would make jzfpctl wait for its
# whole timeout).
at() {
	local area=$1
	shift
	if ! alive "$area"; then
		echo "demo: node $area is not running; end of $tree/$area/jzfpd.log:" >&2
		tail -n 20 "$tree/$area/jzfpd.log" | sed 's/^/    /' >&2
		return 1
	fi
	"$bin/jzfpctl" -c "$(conf_of "$area")" "$@"
}
province=630000000000
year=2019

# ---------------------------------------------------------------- tree
section "The tree"
mkdir -p "$gen"
python3 "$here/gen_data.py" tree --out "$gen/nodes.csv" --villages-out "$gen/villages.csv"
echo "nodes ($gen/nodes.csv):"
column -s, -t <"$gen/nodes.csv" | sed 's/^/  /'
echo "villages and the node that serves each ($gen/villages.csv):"
column -s, -t <"$gen/villages.csv" | sed 's/^/  /'

section "Provisioning"
bash "$here/provision.sh" --bin "$bin" --receipt-ms 1000 "$gen/nodes.csv" "$tree"
# The province serves its dashboard and metrics (README: HTTP).
printf '\n[http]\nlisten = %s\n' "$http_addr" >>"$(conf_of $province)"

section "Starting every node, top down"
echo "(with jzfpd --test-clock, so that the demo need not wait out the 7-day windows)"
started=1
bash "$here/localtree.sh" start "$tree" --bin "$bin" --test-clock

# ---------------------------------------------------------------- policy
section "The province's policy (Qinghai is a western province: exit threshold 3 %)"
at $province policy set --notice-days 7 --threshold-pct 3 --line 2019:3747 --line 2020:4000 \
	--area-name 630100000000=西宁市 --area-name 632200000000=海北藏族自治州
bash "$here/localtree.sh" wait "$tree" --bin "$bin" --timeout 60 >/dev/null

# ---------------------------------------------------------------- data
section "Generating data: the $year register ($households households per village) and census"
villages=()
declare -A serving=() county_of=()
zh_villages=()
while IFS=, read -r v _ node; do
	[ "$v" = village ] && continue
	villages+=("$v")
	serving[$v]=$node
	county_of[$v]=${v:0:6}000000
	[ "$v" != "$node" ] && zh_villages+=(--chinese-village "$v")
done <"$gen/villages.csv"
vargs=()
for v in "${villages[@]}"; do vargs+=(--village "$v"); done
# One run for all villages, so no person appears twice anywhere.
python3 "$here/gen_data.py" households "${vargs[@]}" --households "$households" \
	--seed demo --year "$year" "${zh_villages[@]}" --out "$gen/households_{village}.csv"
regs=()
for v in "${villages[@]}"; do regs+=(--registry "$gen/households_$v.csv"); done
python3 "$here/gen_data.py" census "${vargs[@]}" --year "$year" --seed demo "${regs[@]}" \
	--out "$gen/census_all.csv"
# Split the census by serving node.
declare -A node_villages=() county_villages=()
for v in "${villages[@]}"; do
	node_villages[${serving[$v]}]+="$v "
	county_villages[${county_of[$v]}]+="$v "
done
for node in "${!node_villages[@]}"; do
	{
		head -n 1 "$gen/census_all.csv"
		for v in ${node_villages[$node]}; do grep "^$v," "$gen/census_all.csv"; done
	} >"$gen/census_$node.csv"
done
persons=$(cat "$gen"/households_*.csv | grep -c '^[0-9]' || true)
echo "${#villages[@]} villages, $((${#villages[@]} * households)) households, $persons persons"

section "Migrating the $year register: each county imports it as already announced"
echo "(import households --recorded: the statuses count at once; the households flow"
echo " down to the villages' nodes, sealed for the villages, townships and counties)"
for c in $(printf '%s\n' "${!county_villages[@]}" | sort); do
	for v in ${county_villages[$c]}; do
		at "$c" import households "$gen/households_$v.csv" --recorded
	done
done
for node in $(printf '%s\n' "${!node_villages[@]}" | sort); do
	at "$node" import census "$gen/census_$node.csv"
done
bash "$here/localtree.sh" wait "$tree" --bin "$bin" --timeout 60

section "Province: poverty incidence by county ($year, as migrated)"
at $province rollup --level county --year "$year" --format table

# ---------------------------------------------------------------- 2020
next=$((year + 1))
section "$next: each village re-imports its updated register (动态调整)"
for v in "${villages[@]}"; do
	python3 "$here/gen_data.py" update --register "$gen/households_$v.csv" --seed demo \
		--out "$gen/households_${next}_$v.csv"
done
for node in $(printf '%s\n' "${!node_villages[@]}" | sort); do
	for v in ${node_villages[$node]}; do
		echo "-- $node: register $next of $v"
		at "$node" import households "$gen/households_${next}_$v.csv"
	done
done
bash "$here/localtree.sh" wait "$tree" --bin "$bin" --timeout 60 >/dev/null
echo "The changes of status are proposals; the official figures do not count them yet:"
at $province rollup --level county --year "$next" --format table

# Every step of 两公示一公告 at every node that takes it. The nodes run with
# jzfpd --test-clock: `clock advance 8d` stands in for the 7-day windows.
townships=()
counties=()
while IFS=, read -r area level _; do
	case "$level" in
	township) townships+=("$area") ;;
	county) counties+=("$area") ;;
	esac
done <"$gen/nodes.csv"
advance() {
	while IFS=, read -r area _; do
		[ "$area" = area ] && continue
		at "$area" clock advance 8d >/dev/null
	done <"$tree/nodes.csv"
	echo "(every node's clock moved 8 days on)"
}
step() { # step NODE ARGS...: one workflow command, its answer on one line
	local node=$1
	shift
	printf '  %s %-9s %s: ' "$node" "$(sed -n 's/^level = //p' "$(conf_of "$node")")" "$*"
	at "$node" "$@"
}
settle() { bash "$here/localtree.sh" wait "$tree" --bin "$bin" --timeout 60 >/dev/null; }

section "两公示一公告, 1: the village notice (第一次公示), at the node serving each village"
for node in $(printf '%s\n' "${!node_villages[@]}" | sort); do
	step "$node" consent --all
	step "$node" notice open --all
done
first=${villages[0]}
echo
echo "The notice as posted in village $first (names and ID numbers masked):"
# (captured first: a pipe into head would end jzfpctl with SIGPIPE under pipefail)
notice=$(at "${serving[$first]}" notice print --all)
sed -n 1,16p <<<"$notice"
advance
for node in $(printf '%s\n' "${!node_villages[@]}" | sort); do
	step "$node" notice close --all
done
settle

section "两公示一公告, 2: township review and notice (乡镇审核, 第二次公示)"
for tw in "${townships[@]}"; do
	step "$tw" review approve --all
	step "$tw" notice open --all
done
advance
for tw in "${townships[@]}"; do step "$tw" notice close --all; done
settle

section "两公示一公告, 3: county review and announcement (县级复审, 公告), then recorded"
for c in "${counties[@]}"; do
	step "$c" review approve --all
	step "$c" notice open --all
done
advance
for c in "${counties[@]}"; do step "$c" notice close --all; done
settle
# the receipts and the decisions come back down
sleep 1.5
settle

# ---------------------------------------------------------------- results
section "Province: poverty incidence by county ($next, recorded)"
at $province rollup --level county --year "$next" --format table

section "Province: poverty incidence by prefecture ($next)"
at $province rollup --level prefecture --year "$next" --format table

section "Checking the province's rollups against the generated files"
check_rc=0
verify_rc=0
for y in "$year" "$next"; do
	hh_files=()
	for v in "${villages[@]}"; do
		hh_files+=(--households "$gen/households_$v.csv")
		[ "$y" = "$next" ] && hh_files+=(--households "$gen/households_${next}_$v.csv")
	done
	for level in village township county prefecture province; do
		at $province rollup --level "$level" --year "$y" --format csv >"$gen/rollup_${y}_$level.csv"
		printf '%s %-10s ' "$y" "$level:"
		python3 "$here/gen_data.py" rollup --level "$level" --year "$y" \
			--census "$gen/census_all.csv" "${hh_files[@]}" \
			--compare "$gen/rollup_${y}_$level.csv" || check_rc=1
	done
done
pending=$(at $province proposals --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
echo "open proposals left at the province: $pending"
[ "$pending" = 0 ] || check_rc=1
echo "rollup --verify at every node:"
while IFS=, read -r area level _; do
	[ "$area" = area ] && continue
	if out=$(at "$area" rollup --verify 2>&1); then
		printf '  %s %-8s ok\n' "$area" "$level"
	else
		printf '  %s %-8s FAILED: %s\n' "$area" "$level" "$out"
		verify_rc=1
	fi
done <"$tree/nodes.csv"

section "One household: at its village, and at the province"
hid=$(at "$first" proposals --state RECORDED --json |
	python3 -c 'import json,sys; p=json.load(sys.stdin)["proposals"]; print(p[0]["household"] if p else "")')
if [ -n "$hid" ]; then
	at "$first" household show "$hid"
	echo
	echo "-- the same household at the province, which reads statistics only:"
	shown=$(at $province household show "$hid")
	sed -n '1,/^members/p' <<<"$shown" # up to the sealed members' line
	echo "-- and opened with the audit key, which is kept apart from every node:"
	shown=$(at $province household show "$hid" --audit-key "$tree/audit/audit.key")
	sed -n '/^audit:/,$p' <<<"$shown"
fi

section "Province: tree"
# Heartbeats climb one level every few seconds: wait (bounded) until the
# province's tree shows every node as it is now.
at $province status --json >/dev/null
python3 - "$bin/jzfpctl" "$tree" 30 <<'PY' || true
import csv, json, os, subprocess, sys, time
ctl, tree, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
def q(area, *args):
    p = subprocess.run([ctl, "-c", os.path.join(tree, area, "jzfpd.conf"), *args, "--json"],
                       capture_output=True, text=True, timeout=30)
    return json.loads(p.stdout) if p.returncode == 0 else None
nodes = [r["area"] for r in csv.DictReader(open(os.path.join(tree, "nodes.csv")))]
want = {a: (q(a, "status") or {}).get("records") for a in nodes}
start = time.monotonic()
while True:
    t = q(nodes[0], "tree") or {}
    have = {n["area"]: n for n in t.get("nodes", [])}
    late = [a for a in nodes if a not in have or have[a].get("records") != want[a]
            or have[a].get("backlog") != 0]
    if not late:
        print(f"(every node reported to the province, {time.monotonic() - start:.1f} s)")
        break
    if time.monotonic() - start > limit:
        print(f"demo: after {limit:g} s the province's tree is still behind for: "
              + " ".join(late), file=sys.stderr)
        sys.exit(1)
    time.sleep(0.5)
PY
at $province tree

section "Province: HTTP (dashboard, metrics, API)"
http_bound=$(at $province status --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["http_listen"])')
python3 - "$http_bound" <<'PY'
import sys, urllib.request
base = f"http://{sys.argv[1]}"
with urllib.request.urlopen(base + "/", timeout=30) as r:
    page = r.read().decode("utf-8")
    print(f"dashboard: {base}/  ({r.status}, {len(page)} bytes of HTML)")
with urllib.request.urlopen(base + "/metrics", timeout=30) as r:
    lines = r.read().decode("utf-8").splitlines()
print(f"metrics:   {base}/metrics  ({len(lines)} lines), among them:")
for line in lines:
    if line.startswith(("jzfp_records_held", "jzfp_child_connected", "jzfp_open_proposals",
                        "jzfp_area_poverty_incidence_ratio")):
        print("  " + line)
print(f"API:       {base}/api/rollup?level=county&format=csv, /api/tree, /api/status")
print("Grafana:   configs/grafana/jzfp-dashboard.json (a Prometheus scraping the metrics above)")
PY

section "Status of every node"
bash "$here/localtree.sh" status "$tree" --bin "$bin"

section "Status of the province and of one village (jzfpctl status)"
at $province status
echo
at "${villages[0]}" status
echo "   ($(elapsed "$t_sec") s)"
cur_section=

if [ "$check_rc" != 0 ]; then
	echo "demo: the province's rollups do not agree with the data imported" >&2
fi
if [ "$verify_rc" != 0 ]; then
	echo "demo: rollup --verify failed at some node (see above)" >&2
fi
[ "$check_rc" = 0 ] && [ "$verify_rc" = 0 ] || exit 1
if [ "$linger" = 1 ]; then
	echo
	echo "The province's dashboard: http://$http_bound/ (Enter or Ctrl-C stops every node)"
	read -r _ || true
fi
ok=1
