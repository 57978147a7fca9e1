#!/usr/bin/env bash
# Build the libFuzzer targets (tests/fuzz) in build-fuzz/ with clang and run
# them for a bounded time. See --help.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build-fuzz
work=$build/fuzz-work

usage() {
	cat <<EOF
usage: scripts/fuzz.sh [--keep-going] [--jobs N] TARGET SECONDS
       scripts/fuzz.sh [--keep-going] [--jobs N] --all SECONDS
       scripts/fuzz.sh --help

Build the libFuzzer targets in build-fuzz/ (clang, -DJZFP_FUZZ=ON: ASan, UBSan
and coverage on the whole project) and run TARGET for SECONDS seconds, or with --all every
target, N at a time (--jobs; default: as many as there are cores, which is
also the build's number of jobs).

TARGET is one of: $(targets | xargs)
(tests/fuzz/fuzz_TARGET.c; "fuzz_wire" works as well as "wire").

Each run starts from build-fuzz/fuzz-work/TARGET/corpus, a working copy that
keeps what earlier runs found and gets the committed seeds of
tests/fuzz/corpus/TARGET/ copied in every time (the committed corpus is never
written). Crash, leak and timeout inputs are written to
build-fuzz/fuzz-work/TARGET/; the full log is build-fuzz/fuzz-work/TARGET/log.

Prints one line per target:
  fuzz: wire: ok, 60 s, 1234567 runs, corpus 321 inputs
  fuzz: wire: CRASH build-fuzz/fuzz-work/wire/crash-<sha1> (log: ...)
and exits 1 if any target crashed, leaked or timed out, 2 on a usage error.

--keep-going: run libFuzzer in fork mode (-fork=1 -ignore_crashes=1
-ignore_timeouts=1 -ignore_ooms=1) so that one known crash does not end the
run; every crashing input is still saved, and the run still fails.

Reproduce a crash:   build-fuzz/bin/fuzz_TARGET FILE
Minimise it:         build-fuzz/bin/fuzz_TARGET -minimize_crash=1 -runs=10000 FILE

Needs clang and libFuzzer (Debian: clang libclang-rt-14-dev); when they are
missing and this runs as root, they are installed with apt-get. The libraries
the project itself needs come from scripts/deps.sh.
EOF
}

targets() {
	local f
	for f in "$top"/tests/fuzz/fuzz_*.c; do
		f=${f##*/fuzz_}
		echo "${f%.c}"
	done
}

die() {
	echo "fuzz: $*" >&2
	exit 2
}

# clang with libFuzzer's runtime, installed when missing (root only).
need_clang() {
	local rt=""
	if command -v clang >/dev/null; then
		rt=$(clang -print-file-name="libclang_rt.fuzzer-$(uname -m).a" 2>/dev/null || true)
		# -print-file-name echoes the bare name when it finds nothing
		[ -f "$rt" ] || rt=$(clang -print-resource-dir 2>/dev/null)/lib/linux/libclang_rt.fuzzer-$(uname -m).a
	fi
	if [ -n "$rt" ] && [ -f "$rt" ]; then
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		die "clang and libFuzzer are missing: install them (Debian: apt-get install clang libclang-rt-14-dev)"
	fi
	echo "fuzz: installing clang libclang-rt-14-dev" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null
}

build() {
	bash "$top/scripts/deps.sh"
	need_clang
	cmake -S "$top" -B "$build" -DCMAKE_C_COMPILER=clang -DJZFP_FUZZ=ON >/dev/null
	cmake --build "$build" --target "$@" -j"$njobs" >/dev/null
}

# run TARGET SECONDS: prints the one-line result; returns 1 on a finding.
run() {
	local t=$1 secs=$2
	local dir=$work/$t
	local log=$dir/log
	local rc=0
	local mode=()
	[ "$keep_going" = 1 ] && mode=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)

	mkdir -p "$dir/corpus"
	cp -f "$top/tests/fuzz/corpus/$t"/* "$dir/corpus/" 2>/dev/null || true
	rm -f "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*

	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		"$build/bin/fuzz_$t" -max_total_time="$secs" -timeout=30 -rss_limit_mb=4096 \
		-print_final_stats=1 -artifact_prefix="$dir/" "${mode[@]}" "$dir/corpus" \
		>"$log" 2>&1 || rc=$?

	local runs inputs finding more="" found=()
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	# fork mode prints no final stats; its progress lines read "#N: cov: ..."
	[ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9][0-9]*\): .*/\1/p' "$log" | tail -1)
	inputs=$(find "$dir/corpus" -type f | wc -l)
	mapfile -t found < <(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' \
		-o -name 'timeout-*' -o -name 'oom-*' \) | sort)
	finding=${found[0]:-}
	[ ${#found[@]} -gt 1 ] && more=" (and $((${#found[@]} - 1)) more)"
	if [ "$rc" -eq 0 ] && [ -z "$finding" ]; then
		echo "fuzz: $t: ok, $secs s, ${runs:-?} runs, corpus $inputs inputs"
		return 0
	fi
	# The sanitizer's or the check's summary, then the one line.
	grep -m1 -E '^(SUMMARY|==[0-9]+==ERROR)|fuzz check failed|runtime error' "$log" >&2 || true
	echo "fuzz: $t: CRASH ${finding:-"(no input saved, exit $rc)"}$more (log: $log)"
	return 1
}

# In a function, so that bash has read all of it before it runs: editing this
# file during a long run cannot change what the run does.
main() {
	local keep_going=0 secs t list=()
	njobs=$(nproc)
	while [ $# -gt 0 ]; do
		case "$1" in
		--keep-going)
			keep_going=1
			shift
			;;
		--jobs)
			[[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || die "--jobs takes a positive whole number, not '${2:-}'"
			njobs=$2
			shift 2
			;;
		*) break ;;
		esac
	done
	[ $# -ge 1 ] || { usage >&2; exit 2; }
	case "$1" in
	-h | --help)
		usage
		exit 0
		;;
	esac
	[ $# -eq 2 ] || { usage >&2; exit 2; }
	secs=$2
	[[ "$secs" =~ ^[1-9][0-9]*$ ]] || die "SECONDS must be a positive whole number, not '$secs'"

	if [ "$1" = "--all" ]; then
		mapfile -t list < <(targets)
	else
		t=${1#fuzz_}
		[ -f "$top/tests/fuzz/fuzz_$t.c" ] || die "no target '$1' (targets: $(targets | xargs))"
		list=("$t")
	fi

	build "${list[@]/#/fuzz_}"
	run_all "$secs" "${list[@]}"
}

# run_all SECONDS TARGET...: $njobs targets at a time (each libFuzzer run is
# one process on one core), their lines printed in the targets' order;
# returns 1 if any found something.
run_all() {
	local secs=$1 t i status=0 pids=() todo=()
	shift
	todo=("$@")
	for ((i = 0; i < ${#todo[@]}; i += njobs)); do
		pids=()
		for t in "${todo[@]:i:njobs}"; do
			mkdir -p "$work/$t"
			run "$t" "$secs" >"$work/$t/result" 2>"$work/$t/result.err" &
			pids+=($!)
		done
		for t in "${todo[@]:i:njobs}"; do
			wait "${pids[0]}" || status=1
			pids=("${pids[@]:1}")
			cat "$work/$t/result.err" >&2
			cat "$work/$t/result"
		done
	done
	return $status
}

main "$@"; exit $?
