#!/usr/bin/env bash
# Benchmark replication village -> township -> county -> province on this
# machine, as ratios against a raw ZeroMQ 4-process forwarding chain measured
# in the same run (DESIGN §11). Not a test: it asserts nothing about speed.
#
# usage: scripts/bench.sh [--records N] [--rate R] [--count C] [--keep]
#   --records N  household versions in the village backlog (default 200000)
#   --rate R     light-load rate for the latency figure (default 200/s)
#   --count C    records sent for the latency figure (default 2000)
#   --keep       keep the work directory (node logs, stores)
#   --no-nats    skip the NATS JetStream peer chain (../shared/peers)
#   --batch B, --window W   override [link] batch_max and window on every node
#   --province [--scale N] [--keep]   a Qinghai-sized migration instead (bench/province.sh)
#   --compare DIR [--rounds R]   the chain only, R times (default 3) alternately with the
#                binaries in DIR (another build's bin/, e.g. of an older commit) and
#                with this tree's: medians and ratios of records/s and CPU per record
#   --bin DIR    run this side with the binaries in DIR instead of this tree's build
#   --versus-nats R   the chain and the NATS chain only, in turn R times: each round's
#                ratio and the median (the machine's speed moves from minute to minute)
#   --no-build   neither install nor build: the binaries as they are (test_bench runs
#                the bench small this way, inside the test suite)
set -euo pipefail
for arg in "$@"; do
	[ "$arg" = --province ] && exec bash "$(dirname "$0")/../bench/province.sh" "$@"
done
top=$(cd "$(dirname "$0")/.." && pwd)
records=200000 rate=200 count=2000 keep=0 batch="" window="" no_nats=0 compare="" rounds=3 bin="" versus="" build=1
while [ $# -gt 0 ]; do
	case "$1" in
	--records) records=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--count) count=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--no-nats) no_nats=1; shift ;;
	--batch) batch=$2; shift 2 ;;
	--window) window=$2; shift 2 ;;
	--compare) compare=$(cd "$2" && pwd); shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--versus-nats) versus=$2; shift 2 ;;
	--bin) bin=$(cd "$2" && pwd); shift 2 ;;
	--no-build) build=0; shift ;;
	-h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done

if [ "$build" = 1 ]; then
	bash "$top/scripts/deps.sh"
	bash "$top/scripts/build.sh" normal >/dev/null
fi
B=${bin:-$top/build/bin}
THIS=$B
# The waiter, one for both sides of --compare: this tree's build, or the
# binaries' own when it has none (--no-build --bin DIR).
TOOLS=$top/build/bin
[ -x "$TOOLS/jzfp_bench" ] || TOOLS=$B
work=$(mktemp -d "${TMPDIR:-/tmp}/jzfp-bench.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ "$keep" = 1 ]; then echo "bench: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

now() { date +%s.%N; }
json_field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(d'"$1"')'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# CPU microseconds a record of process $1 since it had used $2 ticks, over $3 records.
us_per_record() { python3 -c "print(round(($(cpu_ticks "$1") - $2) / $(getconf CLK_TCK) * 1e6 / $3, 2))"; }
# Anonymous resident memory (heap, stacks): LMDB's pages are file-backed and
# belong to the page cache, so RssAnon is what would grow with the backlog.
# Into $ANON, with bash's own read: sampling every 20 ms starts no process.
anon_kb() {
	local k v _
	ANON=0
	while read -r k v _; do
		[ "$k" = RssAnon: ] && { ANON=$v; return; }
	done <"/proc/$1/status" 2>/dev/null || true
}
# The state of process $1's main thread (the loop) into $STATE: R running
# or waiting for a core, S waiting for the network or a timer, D waiting on
# the disk (a commit's writes and fdatasync). With bash's own read, too.
thread_state() {
	local line=""
	STATE=?
	read -r line <"/proc/$1/task/$1/stat" 2>/dev/null || return 0
	line=${line##*) }
	STATE=${line%% *}
}

V=630121101001 T=630121101000 C=630121000000 P=630000000000
# One chain. Run it twice (N/4 and N records) to see whether memory grows
# with the backlog; the N run gives the figures.
run_chain() {
	local n=$1 dir=$2
	mkdir -p "$dir"
	printf 'area,level,name\n%s,province,province\n%s,county,county\n%s,township,township\n%s,village,village\n' \
		$P $C $T $V >"$dir/nodes.csv"
	# No receipts during the run: the province's record count is the measure.
	bash "$top/scripts/provision.sh" -q --bin "$B" --log-level warning --receipt-ms 3600000 \
		"$dir/nodes.csv" "$dir/tree"
	for conf in "$dir"/tree/*/jzfpd.conf; do
		python3 - "$conf" "$batch" "$window" <<'PY'
import sys
path, batch, window = sys.argv[1:]
extra = "".join(f"{k} = {v}\n" for k, v in (("batch_max", batch), ("window", window)) if v)
text = open(path).read()
if extra:
    text = text.replace("[link]\n", "[link]\n" + extra, 1) if "[link]\n" in text else text + "[link]\n" + extra
    open(path, "w").write(text)
PY
	done
	gen=$("$B/jzfp_bench" gen --config "$dir/tree/$V/jzfpd.conf" --records "$n")
	local -A pid
	for a in $P $C $T; do
		"$B/jzfpd" --config "$dir/tree/$a/jzfpd.conf" 2>"$dir/$a.log" &
		pid[$a]=$!; pids+=("$!")
		for _ in $(seq 100); do
			"$B/jzfpctl" -c "$dir/tree/$a/jzfpd.conf" status >/dev/null 2>&1 && break
			sleep 0.05
		done
	done
	# the households, four node records, and one key record per 1,000
	# households (the data key of their sealed personal parts)
	local want=$((n + 4 + (n + 999) / 1000)) t0 t1
	declare -A c0
	for a in $P $C $T; do c0[$a]=$(cpu_ticks "${pid[$a]}"); done
	t0=$(now)
	"$B/jzfpd" --config "$dir/tree/$V/jzfpd.conf" 2>"$dir/$V.log" &
	pid[$V]=$!; pids+=("$!"); c0[$V]=0
	declare -A peak=([$V]=0 [$T]=0 [$C]=0 [$P]=0) samples=([$V]=0 [$T]=0 [$C]=0 [$P]=0)
	declare -A dwait=([$V]=0 [$T]=0 [$C]=0 [$P]=0)
	# The wait polls the province over its control socket in one process;
	# this loop only samples memory and each loop's state (a polling
	# script that started jzfpctl and python3 each time took a good part
	# of a core from the chain it timed).
	"$TOOLS/jzfp_bench" wait --config "$dir/tree/$P/jzfpd.conf" --records "$want" --timeout 240 \
		>"$dir/wait.json" &
	local waiter=$!
	while kill -0 "$waiter" 2>/dev/null; do
		for a in $V $T $C $P; do
			anon_kb "${pid[$a]}"
			[ "$ANON" -gt "${peak[$a]}" ] && peak[$a]=$ANON
			thread_state "${pid[$a]}"
			samples[$a]=$((samples[$a] + 1))
			[ "$STATE" = D ] && dwait[$a]=$((dwait[$a] + 1))
		done
		sleep 0.02
	done
	wait "$waiter" || { echo "bench: the province holds $(cat "$dir/wait.json") of $want records after 240 s" >&2; exit 1; }
	t1=$(json_field '["at"]' <"$dir/wait.json")
	cpu=() hwm=() disk=()
	for a in $V $T $C $P; do
		disk+=("$((100 * dwait[$a] / (samples[$a] > 0 ? samples[$a] : 1)))")
		cpu+=("$(us_per_record "${pid[$a]}" "${c0[$a]}" "$n")")
		hwm+=("${peak[$a]}")
	done
	rps=$(python3 -c "print(round($n / ($t1 - $t0)))")
	# The registry behind replication (apply.h, "Deferred"): a rollup at
	# the province waits until its household tables have caught up with
	# its log; then the relays below it are caught up the same way, and
	# their CPU a record counted again with that work in it.
	"$B/jzfpctl" -c "$dir/tree/$P/jzfpd.conf" rollup --level province >/dev/null
	t2=$(now)
	# (Each at its own level: a relay's province row would be a part.)
	for a in $C $T; do "$B/jzfpctl" -c "$dir/tree/$a/jzfpd.conf" rollup >/dev/null; done
	cpu_all=()
	for a in $V $T $C $P; do
		cpu_all+=("$(us_per_record "${pid[$a]}" "${c0[$a]}" "$n")")
	done
	reg_rps=$(python3 -c "print(round($n / ($t2 - $t0)))")
	signed=$(echo "$gen" | json_field '["signed_per_s"]')
	chain_v=$dir/tree/$V/jzfpd.conf chain_p=$dir/tree/$P/jzfpd.conf
	chain_pids=("${pid[$V]}" "${pid[$T]}" "${pid[$C]}" "${pid[$P]}")
}

stop_chain() {
	for p in "${chain_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${chain_pids[@]}"; do wait "$p" 2>/dev/null || true; done
}

# The system users would pick instead: a NATS JetStream sourcing chain of four
# servers (the shared peers/ harness beside this repository), same record
# count, same run. nats-server is the bench's own dependency, not the tests'.
peers=$top/../shared/peers
nats_ready() {
	[ -f "$peers/nats_chain.sh" ] || return 1
	command -v nats-server >/dev/null 2>&1 ||
		{ apt-get install -y -qq nats-server >/dev/null 2>&1 || true; }
	command -v nats-server >/dev/null 2>&1
}
# One NATS chain of $records records in directory $1: its RESULT lines into
# $nats as JSON (e2e_throughput is the figure to compare with).
run_nats() {
	echo "== peer: NATS JetStream 4-level sourcing chain, $records records"
	nats=$(WORK="$1" bash -c 'mkdir -p "$WORK" && bash "$0" "$1" "$2"' \
		"$peers/nats_chain.sh" "$records" "$count" 2>&1 |
		python3 -c '
import json, sys
out = {}
for line in sys.stdin:
    p = line.split()
    if len(p) >= 3 and p[0] == "RESULT":
        out[p[1]] = float(p[2])
print(json.dumps(out))')
	rm -rf "$1"
}

# --versus-nats: the chain and the NATS chain in turn, ROUNDS times. The
# machine's speed (its disk above all) moves from one minute to the next, so
# one pair of runs can land on either side of a goal; each round's ratio is
# printed, and their median.
if [ -n "$versus" ]; then
	[[ "$versus" =~ ^[1-9][0-9]*$ ]] || { echo "bench: --versus-nats takes a number of rounds, not '$versus'" >&2; exit 2; }
	nats_ready || { echo "bench: --versus-nats needs nats-server and $peers/nats_chain.sh" >&2; exit 2; }
	results=()
	for r in $(seq "$versus"); do
		echo "== round $r of $versus: jzfp chain, $records records"
		run_chain "$records" "$work/chain$r"
		stop_chain
		rm -rf "$work/chain$r"
		run_nats "$work/nats$r"
		results+=("$rps $(echo "$nats" | json_field '.get("e2e_throughput", 0)') $reg_rps ${cpu[*]} ${disk[*]}")
	done
	printf '%s\n' "${results[@]}" | python3 -c '
import json, statistics, sys
rows = [[float(x) for x in line.split()] for line in sys.stdin if line.strip()]
if any(r[1] <= 0 for r in rows):
    sys.exit("bench: a NATS round gave no throughput figure")
print()
print("round  jzfp/s    NATS/s   ratio  registry/s ratio  relay cpu us (T/C/P)  disk wait % (T/C/P)")
for i, r in enumerate(rows, 1):
    print(f"{i:5d} {r[0]:8,.0f} {r[1]:9,.0f} {r[0] / r[1]:7.2f} {r[2]:11,.0f} {r[2] / r[1]:5.2f}"
          f"  {r[4]:5.2f} {r[5]:5.2f} {r[6]:5.2f}        {r[8]:3.0f} {r[9]:3.0f} {r[10]:3.0f}")
ratios = [r[0] / r[1] for r in rows]
reg = [r[2] / r[1] for r in rows]
print(f"median ratio {statistics.median(ratios):.2f} (records durable at the province), "
      f"{statistics.median(reg):.2f} (registry caught up); goal 2.6 met in "
      f"{sum(x >= 2.6 for x in ratios)} of {len(ratios)} rounds")
print(json.dumps({"versus_nats": {"rounds": len(rows),
                  "records_per_s": [r[0] for r in rows], "nats_records_per_s": [r[1] for r in rows],
                  "ratios": [round(x, 3) for x in ratios], "median_ratio": round(statistics.median(ratios), 3),
                  "registry_ratios": [round(x, 3) for x in reg],
                  "median_registry_ratio": round(statistics.median(reg), 3)}}))'
	exit 0
fi

if [ -n "$compare" ]; then
	[ -x "$compare/jzfpd" ] || { echo "bench: no jzfpd in $compare" >&2; exit 2; }
	results=()
	for r in $(seq "$rounds"); do
		for side in other this; do
			if [ "$side" = other ]; then B=$compare; else B=$THIS; fi
			echo "== round $r: $side ($B), $records records"
			run_chain "$records" "$work/$side$r"
			stop_chain
			results+=("$side $rps ${cpu[*]} ${hwm[*]} $reg_rps ${cpu_all[*]}")
			rm -rf "$work/$side$r"
		done
	done
	printf '%s\n' "${results[@]}" | python3 -c '
import json, statistics, sys
rows = {"other": [], "this": []}
for line in sys.stdin:
    p = line.split()
    rows[p[0]].append([float(x) for x in p[1:]])
def med(side, i):
    return statistics.median(r[i] for r in rows[side])
names = ["records/s", "cpu us/record village", "  township", "  county", "  province",
         "peak anon KiB village", "  township ", "  county ", "  province ",
         "registry caught up/s", "cpu us/record, caught up, village", "  township  ",
         "  county  ", "  province  "]
levels = ("village", "township", "county", "province")
keys = ["records_per_s"] + ["cpu_us_" + x for x in levels] \
    + ["peak_anon_kib_" + x for x in levels] + ["registry_caught_up_records_per_s"] \
    + ["cpu_us_caught_up_" + x for x in levels]
print()
print("%-26s %10s %10s %10s   (medians of %d rounds)" % ("", "other", "this", "this/other", len(rows["this"])))
out = {}
for i, n in enumerate(names):
    o, t = med("other", i), med("this", i)
    print(f"{n:26s} {o:10.1f} {t:10.1f} {t / o:10.3f}")
    out[keys[i]] = {"other": o, "this": t, "ratio": round(t / o, 3)}
print()
print(json.dumps({"compare": out, "rounds": len(rows["this"])}))'
	exit 0
fi

small=$((records / 4))
echo "== jzfp chain, backlog of $small records (memory check)"
run_chain "$small" "$work/small"
hwm_small=("${hwm[@]}")
stop_chain
echo "== jzfp chain, backlog of $records records"
run_chain "$records" "$work/large"
echo "== jzfp light-load latency, $count records at $rate/s"
lat=$("$B/jzfp_bench" latency --village "$chain_v" --province "$chain_p" --rate "$rate" --count "$count")
stop_chain

# Baseline: raw ZeroMQ forwarding of messages of the same size (a stored
# envelope is about 600 bytes here: read it off the village's store size).
size=600
echo "== baseline: raw ZeroMQ 4-process chain (median of 3 runs)"
base_runs=()
for _ in 1 2 3; do
	base_runs+=("$("$B/zmqchain" --stages 4 --count "$records" --size $size --batch 512 --json)")
done
base=$(printf '%s\n' "${base_runs[@]}" | python3 -c '
import json,sys
runs=[json.loads(l) for l in sys.stdin if l.strip()]
runs.sort(key=lambda r: r["records_per_s"])
print(json.dumps(runs[len(runs)//2]))')
base_lat=$("$B/zmqchain" --stages 4 --count "$count" --size $size --rate "$rate" --json)

nats='{}'
if [ "$no_nats" = 0 ]; then
	if nats_ready; then
		run_nats "$work/nats"
	else
		echo "== peer: nats-server or $peers/nats_chain.sh is missing; no NATS figures"
	fi
fi

python3 - "$records" "$rps" "$signed" "$base" "$lat" "$base_lat" "${cpu[*]}" "${hwm[*]}" "${hwm_small[*]}" "$nats" "$reg_rps" "${cpu_all[*]}" "${disk[*]}" <<'PY'
import json, sys
n, rps, signed = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
reg_rps = float(sys.argv[11])
cpu_all = [float(x) for x in sys.argv[12].split()]
disk = [int(x) for x in sys.argv[13].split()]
base, lat, blat = json.loads(sys.argv[4]), json.loads(sys.argv[5]), json.loads(sys.argv[6])
nats = json.loads(sys.argv[10] or "{}")
cpu = [float(x) for x in sys.argv[7].split()]
hwm = [int(x) for x in sys.argv[8].split()]
hwm_small = [int(x) for x in sys.argv[9].split()]
bcpu = base["cpu_us_per_record"]
names = ["village", "township", "county", "province"]
print()
print(f"records replicated           {n}")
print(f"end to end                   {rps:,.0f} records/s   baseline {base['records_per_s']:,.0f}/s   ratio {rps / base['records_per_s']:.4f}")
if nats.get("e2e_throughput"):
    print(f"NATS JetStream chain         {nats['e2e_throughput']:,.0f} records/s   jzfp/NATS ratio {rps / nats['e2e_throughput']:.2f}")
if nats.get("oneway_latency_p50"):
    print(f"NATS one-way latency         median {nats['oneway_latency_p50']:,.0f} us, p99 {nats.get('oneway_latency_p99', 0):,.0f} us")
if nats.get("e2e_throughput"):
    print(f"registry caught up           {reg_rps:,.0f} records/s   (the province's household tables and rollups; jzfp/NATS ratio {reg_rps / nats['e2e_throughput']:.2f})")
else:
    print(f"registry caught up           {reg_rps:,.0f} records/s   (the province's household tables and rollups)")
print(f"village signing (offline)    {signed:,.0f} records/s")
for i, name in enumerate(names):
    print(f"cpu per record, {name:9s}    {cpu[i]:7.2f} us   baseline {bcpu[i]:.3f} us   ratio {cpu[i] / max(bcpu[i], 1e-9):.0f}x   ({cpu_all[i]:.2f} us with its registry caught up)")
for i, name in enumerate(names):
    print(f"disk wait, {name:9s}          {disk[i]:3d} % of the time   (its loop in D state, sampled every 20 ms while the backlog replicated)")
print(f"latency at {lat['rate']:.0f}/s, median      {lat['median_us']:,.0f} us   baseline {blat['median_us']:,.0f} us   ratio {lat['median_us'] / blat['median_us']:.1f}x")
print(f"latency at {lat['rate']:.0f}/s, p99         {lat['p99_us']:,.0f} us   baseline {blat['p99_us']:,.0f} us   ratio {lat['p99_us'] / blat['p99_us']:.1f}x")
for i, name in enumerate(names):
    print(f"peak anon memory, {name:9s}  {hwm[i] / 1024:6.1f} MiB with {n} records backlog, {hwm_small[i] / 1024:6.1f} MiB with {n // 4} (ratio {hwm[i] / max(hwm_small[i], 1):.2f})")
print()
print(json.dumps({"records": n, "records_per_s": round(rps), "baseline_records_per_s": base["records_per_s"],
                  "throughput_ratio": round(rps / base["records_per_s"], 4),
                  "registry_caught_up_records_per_s": round(reg_rps),
                  "cpu_us_per_record": cpu, "cpu_us_per_record_registry_caught_up": cpu_all,
                  "baseline_cpu_us_per_record": bcpu,
                  "latency_median_us": lat["median_us"], "latency_p99_us": lat["p99_us"],
                  "baseline_latency_median_us": blat["median_us"], "baseline_latency_p99_us": blat["p99_us"],
                  "peak_anon_kib": hwm, "peak_anon_kib_quarter_backlog": hwm_small,
                  "disk_wait_pct": disk,
                  "nats_records_per_s": nats.get("e2e_throughput"),
                  "nats_ratio": round(rps / nats["e2e_throughput"], 3) if nats.get("e2e_throughput") else None,
                  "nats_ratio_registry_caught_up": round(reg_rps / nats["e2e_throughput"], 3) if nats.get("e2e_throughput") else None,
                  "nats_latency_median_us": nats.get("oneway_latency_p50"),
                  "nats_latency_p99_us": nats.get("oneway_latency_p99")}))
PY
