#!/usr/bin/env bash
# scripts/bench.sh --province: a Qinghai-sized tree (33 nodes, 4,008 villages
# times the scale, 40 households each) migrated at its counties; times the
# migration to convergence, rollups at the province, `rollup --verify`, and
# peak memory (bench/province.py). Not a test: it asserts nothing about speed.
#
# usage: scripts/bench.sh --province [--scale N] [--keep] [--calls C] [--work DIR] [--nice N]
#   --scale N    times Qinghai's size (default 1; 5 takes long)
#   --keep       keep the work directory (node logs, stores, generated data)
#   --calls C    rollup calls per level for the median (default 20)
#   --nice N     the counties' daemons and imports at nice N during the migration
#                (default 0): they stand for 32 other machines
#   --work DIR   work directory (default a new one under $TMPDIR)
#   --data DIR   generated data made once there and reused (same scale)
#   --profile F  a system-wide `perf record -a` of the migration alone, into F
#   --bin DIR    the binaries in DIR instead of this tree's build
#   --no-build   neither install nor build (test_bench runs it small this way)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
args=() bin=$top/build/bin build=1
while [ $# -gt 0 ]; do
	case "$1" in
	--province) shift ;;
	--bin) bin=$(cd "$2" && pwd); shift 2 ;;
	--no-build) build=0; shift ;;
	--scale | --calls | --work | --data | --timeout | --nice | --profile) args+=("$1" "$2"); shift 2 ;;
	--keep) args+=("$1"); shift ;;
	-h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench.sh --province: unknown argument $1 (see --province --help)" >&2; exit 2 ;;
	esac
done
if [ "$build" = 1 ]; then
	bash "$top/scripts/deps.sh"
	bash "$top/scripts/build.sh" normal >/dev/null
fi
exec python3 "$top/bench/province.py" --bin "$bin" "${args[@]}"
