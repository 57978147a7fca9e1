#!/usr/bin/env bash
# Run a provisioned tree of jzfp nodes on this machine (see scripts/provision.sh).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat <<'USAGE'
usage: scripts/localtree.sh start|stop|wait|status OUTDIR [--timeout SECONDS] [--bin DIR]
                           [--test-clock]

OUTDIR is a directory written by scripts/provision.sh (it holds nodes.csv).

  start   start every node top down: `jzfpd --config OUTDIR/AREA/jzfpd.conf` in
          the background, stderr to OUTDIR/AREA/jzfpd.log, pid in
          OUTDIR/AREA/jzfpd.pid; the nodes of one level must answer `jzfpctl
          status` before the level below starts. Nodes already running are
          left alone. If a node fails, the nodes this command started are
          stopped again and the end of the failed node's log is shown.
  stop    SIGTERM to exactly the recorded pids, bottom up, one level at a time;
          waits for them to exit (SIGKILL after the timeout, which is an
          error), removes the pid files.
  wait    poll `jzfpctl status --json` of every node until every node but the
          province has its parent link connected and a backlog of 0; exits 1
          on timeout and lists the nodes still behind.
  status  one line per node: pid state, records, parent link, backlog,
          children connected.

  --timeout SECONDS  start: per level (default 30); stop: per level (default
                     15); wait: in all (default 120); status: per node (10)
  --bin DIR          where jzfpd and jzfpctl are (default: $JZFP_BIN, else
                     build/bin of this repository)
  --test-clock       start: run every node with jzfpd --test-clock (for the
                     demo and tests: `jzfpctl clock advance` moves its time)
USAGE
}

die() {
	echo "localtree: $*" >&2
	exit 1
}

cmd=
outdir=
timeout=
bin=${JZFP_BIN:-$here/../build/bin}
test_clock=()
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help) usage; exit 0 ;;
	--test-clock) test_clock=(--test-clock); shift ;;
	--timeout)
		[ $# -ge 2 ] || die "--timeout needs a value"
		timeout=$2; shift 2 ;;
	--timeout=*) timeout=${1#*=}; shift ;;
	--bin)
		[ $# -ge 2 ] || die "--bin needs a value"
		bin=$2; shift 2 ;;
	--bin=*) bin=${1#*=}; shift ;;
	-*) usage >&2; exit 2 ;;
	*)
		if [ -z "$cmd" ]; then cmd=$1
		elif [ -z "$outdir" ]; then outdir=$1
		else usage >&2; exit 2
		fi
		shift ;;
	esac
done
case "$cmd" in
start | stop | wait | status) ;;
*) usage >&2; exit 2 ;;
esac
[ -n "$outdir" ] || { usage >&2; exit 2; }
if [ -n "$timeout" ] && ! [[ "$timeout" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
	die "--timeout must be a number of seconds, not '$timeout'"
fi
[ -f "$outdir/nodes.csv" ] || die "$outdir/nodes.csv: not found (provision with scripts/provision.sh first)"
outdir=$(cd "$outdir" && pwd)
bin=$(cd "$bin" 2>/dev/null && pwd) || die "--bin: no such directory"
jzfpd=$bin/jzfpd
jzfpctl=$bin/jzfpctl

# The helper half, in Python (standard library): reads nodes.csv, and polls
# and formats `jzfpctl status --json` for wait and status.
read -r -d '' pyhelper <<'PY' || true
import csv, json, os, signal, subprocess, sys, time

signal.signal(signal.SIGPIPE, signal.SIG_DFL)

LEVELS = ["province", "county", "township", "village"]

def nodes(outdir):
    """(depth, area, level, parent, conf, name), top down."""
    with open(os.path.join(outdir, "nodes.csv"), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        lvl = r["level"]
        if lvl not in LEVELS:
            sys.exit(f"localtree: nodes.csv: unknown level {lvl!r}")
        conf = os.path.join(outdir, r["conf"])
        out.append((LEVELS.index(lvl), r["area"], lvl, r["parent"], conf, r["name"]))
    out.sort(key=lambda n: (n[0], n[1]))
    return out

def status(jzfpctl, conf, limit):
    """(dict, None) or (None, one-line reason)."""
    try:
        p = subprocess.run([jzfpctl, "-c", conf, "status", "--json"], capture_output=True,
                           text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return None, f"jzfpctl status: no answer in {limit:g} s"
    except OSError as e:
        return None, f"{jzfpctl}: {e.strerror}"
    if p.returncode != 0:
        lines = p.stderr.strip().splitlines()
        return None, lines[-1] if lines else f"jzfpctl status: exit {p.returncode}"
    try:
        return json.loads(p.stdout), None
    except ValueError as e:
        return None, f"jzfpctl status --json: not JSON ({e})"

def behind(node, st):
    """Why this node is not in step with its parent, or None."""
    if node[2] == "province":
        return None
    par = st.get("parent")
    if not isinstance(par, dict):
        return "status has no parent link"
    if par.get("connected") is not True:
        return f"parent link down (backlog {par.get('backlog')})"
    if par.get("backlog") != 0:
        return f"backlog {par.get('backlog')}"
    return None

def cmd_list(outdir):
    for n in nodes(outdir):
        print("\x1f".join(str(x) for x in n))

def cmd_wait(outdir, jzfpctl, limit):
    ns = nodes(outdir)
    bottom_up = sorted(ns, key=lambda n: (-n[0], n[1]))
    deadline = time.monotonic() + limit
    start = time.monotonic()
    while True:
        # Bottom up: once a child shows backlog 0, what it sent is already in
        # its parent's log, so the parent's backlog read afterwards covers it.
        # A node whose recorded jzfpd died will not catch up: say so at once.
        dead = []
        for n in bottom_up:
            pid, state = alive(os.path.join(os.path.dirname(n[4]), "jzfpd.pid"), n[4])
            if state == "dead":
                dead.append((n, f"jzfpd (pid {pid}) is no longer running"))
        if dead:
            print("localtree: wait: nodes died:", file=sys.stderr)
            for n, why in dead:
                print(f"  {n[1]} {n[2]:<8} {n[5]}: {why}", file=sys.stderr)
            return 1
        late = []
        sts = {}
        for n in bottom_up:
            left = max(1.0, min(10.0, deadline - time.monotonic()))
            st, err = status(jzfpctl, n[4], left)
            sts[n[1]] = st
            why = err or behind(n, st)
            if why:
                late.append((n, why, n[1] if st else None))
                if time.monotonic() < deadline:
                    break  # no need to ask the others yet
        # A child sees a restarted parent only when it next hears from it:
        # the link is up when the parent, too, lists the child as connected.
        for n in ns if not late else ():
            par = sts.get(n[3]) if n[3] else None
            kids = par.get("children", []) if isinstance(par, dict) else []
            if n[3] and not any(k.get("area") == n[1] and k.get("connected") for k in kids):
                late.append((n, "its parent does not list it as connected yet", n[3]))
        if not late:
            print(f"localtree: all {len(ns)} nodes in step with their parents "
                  f"({time.monotonic() - start:.1f} s)")
            return 0
        if time.monotonic() >= deadline:
            print(f"localtree: wait: timed out after {limit:g} s; nodes still behind:",
                  file=sys.stderr)
            for n, why, _ in late:
                print(f"  {n[1]} {n[2]:<8} {n[5]}: {why}", file=sys.stderr)
            return 1
        # Until the node that must move does (status --wait-change: a long
        # poll), or, when a node does not answer yet, a moment.
        who = late[0][2]
        conf = next((m[4] for m in ns if m[1] == who), None)
        if who in sts and sts[who] is not None and conf:
            left = max(1, min(10, int(deadline - time.monotonic())))
            p = subprocess.run([jzfpctl, "-c", conf, "status", "--json", "--wait-change",
                                str(sts[who].get("changes", 0)), "--wait", str(left)],
                               capture_output=True, timeout=left + 15)
            if p.returncode != 0:
                time.sleep(0.2)  # it did not wait (an older jzfpd, a node going down)
        else:
            time.sleep(0.2)

def alive(pidfile, conf):
    try:
        pid = int(open(pidfile).read().strip())
    except (OSError, ValueError):
        return None, "stopped"
    try:
        stat = open(f"/proc/{pid}/stat").read()
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    except OSError:
        return pid, "dead"
    if stat.rsplit(")", 1)[1].split()[0] == "Z" or conf.encode() not in cmdline:
        return pid, "dead"
    return pid, "running"

def cmd_status(outdir, jzfpctl, limit):
    rc = 0
    fmt = "{:<12}  {:<8}  {:<14}  {:>8}  {:<12}  {:<4}  {:>7}  {:>8}  {}"
    print(fmt.format("area", "level", "process", "records", "parent", "link", "backlog",
                     "children", "name"))
    for n in nodes(outdir):
        d = os.path.dirname(n[4])
        pid, state = alive(os.path.join(d, "jzfpd.pid"), n[4])
        proc = f"{state} {pid}" if state == "running" else state
        rec = link = backlog = kids = par = "-"
        note = ""
        if state == "running":
            st, err = status(jzfpctl, n[4], limit)
            if err:
                note = f"  ({err})"
                rc = 1
            else:
                rec = str(st.get("records", "?"))
                p = st.get("parent")
                if isinstance(p, dict):
                    par = str(p.get("area", "?"))
                    link = "up" if p.get("connected") else "down"
                    backlog = str(p.get("backlog", "?"))
                ch = st.get("children") or []
                kids = f"{sum(1 for c in ch if c.get('connected'))}/{len(ch)}"
        elif n[2] != "province":
            par = n[3]
        print(fmt.format(n[1], n[2], proc, rec, par if n[2] != "province" else "-", link,
                         backlog, kids, n[5]) + note)
    return rc

def main():
    what, outdir = sys.argv[1], sys.argv[2]
    if what == "list":
        return cmd_list(outdir)
    jzfpctl, limit = sys.argv[3], float(sys.argv[4])
    if what == "wait":
        return cmd_wait(outdir, jzfpctl, limit)
    if what == "status":
        return cmd_status(outdir, jzfpctl, limit)
    if what == "alive":
        return 0 if alive(sys.argv[5], sys.argv[6])[1] == "running" else 1

try:
    sys.exit(main())
except KeyboardInterrupt:
    sys.exit(130)
PY

# Node list: depth, area, level, parent, absolute conf, name (separated by
# the unit separator 0x1f: a tab would merge the empty parent of the province).
mapfile -t nodes < <(python3 -c "$pyhelper" list "$outdir")
[ ${#nodes[@]} -gt 0 ] || die "$outdir/nodes.csv: no nodes"

# running PIDFILE CONF: true when PIDFILE names a live jzfpd for CONF
# (guards against a recycled pid: the command line must name the config).
running() {
	local pid
	pid=$(cat "$1" 2>/dev/null) || return 1
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	[ -r "/proc/$pid/cmdline" ] || return 1
	# A zombie has exited.
	[ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 1
	grep -qxF -- "$2" < <(tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline")
}

need_bins() {
	local b
	for b in "$@"; do
		[ -x "$bin/$b" ] || die "$bin/$b: not found (build with scripts/build.sh or pass --bin DIR)"
	done
}

now() { date +%s.%N; }
# past DEADLINE: true once the time is past DEADLINE
past() { awk -v d="$1" -v n="$(now)" 'BEGIN { exit !(n >= d) }'; }
deadline() { awk -v n="$(now)" -v t="$1" 'BEGIN { printf "%.3f", n + t }'; }

# stop_nodes AREA...: SIGTERM, bottom up one level at a time, bounded wait.
stop_nodes() {
	local want=" $* " limit=${timeout:-15} rc=0 d
	for d in 3 2 1 0; do
		local line depth area level conf dir pidf
		local -a pids=() confs=() pidfs=() areas=()
		for line in "${nodes[@]}"; do
			IFS=$'\x1f' read -r depth area level _ conf _ <<<"$line"
			[ "$depth" = "$d" ] || continue
			[[ "$want" == *" $area "* ]] || continue
			dir=$(dirname "$conf")
			pidf=$dir/jzfpd.pid
			[ -e "$pidf" ] || continue
			if running "$pidf" "$conf"; then
				local pid
				pid=$(cat "$pidf")
				kill -TERM "$pid" 2>/dev/null || true
				pids+=("$pid"); confs+=("$conf"); pidfs+=("$pidf"); areas+=("$area")
			else
				echo "localtree: $area $level: not running (stale pid file removed)"
				rm -f "$pidf"
			fi
		done
		[ ${#pids[@]} -gt 0 ] || continue
		local end i left
		end=$(deadline "$limit")
		while :; do
			left=0
			for i in "${!pids[@]}"; do
				running "${pidfs[$i]}" "${confs[$i]}" && left=$((left + 1))
			done
			[ "$left" -eq 0 ] && break
			if past "$end"; then
				for i in "${!pids[@]}"; do
					if running "${pidfs[$i]}" "${confs[$i]}"; then
						echo "localtree: ${areas[$i]}: still running ${limit}s after SIGTERM; sending SIGKILL to ${pids[$i]}" >&2
						kill -KILL "${pids[$i]}" 2>/dev/null || true
						rc=1
					fi
				done
				sleep 0.2
				break
			fi
			sleep 0.1
		done
		for i in "${!pids[@]}"; do
			rm -f "${pidfs[$i]}"
			echo "localtree: stopped ${areas[$i]} (pid ${pids[$i]})"
		done
	done
	return $rc
}

do_start() {
	need_bins jzfpd jzfpctl
	local limit=${timeout:-30} d started=() rc=0
	for d in 0 1 2 3; do
		local line depth area level conf dir pidf
		local -a level_areas=() level_confs=() level_new=()
		for line in "${nodes[@]}"; do
			IFS=$'\x1f' read -r depth area level _ conf _ <<<"$line"
			[ "$depth" = "$d" ] || continue
			dir=$(dirname "$conf")
			pidf=$dir/jzfpd.pid
			[ -f "$conf" ] || { rc=1; echo "localtree: $conf: not found" >&2; break 2; }
			if running "$pidf" "$conf"; then
				echo "localtree: $area $level: already running (pid $(cat "$pidf"))"
				level_new+=(0)
			else
				level_new+=(1)
				rm -f "$pidf"
				echo "--- localtree start $(date '+%F %T')" >>"$dir/jzfpd.log"
				"$jzfpd" --config "$conf" "${test_clock[@]}" </dev/null >>"$dir/jzfpd.log" 2>&1 &
				echo $! >"$pidf"
				started+=("$area")
			fi
			level_areas+=("$area"); level_confs+=("$conf")
		done
		[ ${#level_areas[@]} -gt 0 ] || continue
		# The whole level must answer before the level below starts.
		local end i ok err
		end=$(deadline "$limit")
		for i in "${!level_areas[@]}"; do
			conf=${level_confs[$i]}
			dir=$(dirname "$conf")
			ok=0
			while :; do
				if ! running "$dir/jzfpd.pid" "$conf"; then
					echo "localtree: ${level_areas[$i]}: jzfpd exited during start; end of $dir/jzfpd.log:" >&2
					tail -n 15 "$dir/jzfpd.log" | sed 's/^/    /' >&2
					break
				fi
				if err=$(timeout 10 "$jzfpctl" -c "$conf" status 2>&1 >/dev/null); then
					ok=1
					break
				fi
				if past "$end"; then
					echo "localtree: ${level_areas[$i]}: no answer to status within ${limit}s: ${err##*$'\n'}" >&2
					tail -n 15 "$dir/jzfpd.log" | sed 's/^/    /' >&2
					break
				fi
				sleep 0.1
			done
			if [ $ok -eq 0 ]; then
				rc=1
				break 2
			fi
			if [ "${level_new[$i]}" = 1 ]; then
				echo "localtree: started ${level_areas[$i]} $(sed -n 's/^level = //p' "$conf") (pid $(cat "$dir/jzfpd.pid"))"
			fi
		done
	done
	if [ $rc -ne 0 ]; then
		if [ ${#started[@]} -gt 0 ]; then
			echo "localtree: start failed; stopping the nodes it started" >&2
			stop_nodes "${started[@]}" >&2 || true
		fi
		return 1
	fi
	echo "localtree: ${#nodes[@]} nodes running in $outdir"
}

do_stop() {
	local all=() line depth area rest
	for line in "${nodes[@]}"; do
		IFS=$'\x1f' read -r depth area rest <<<"$line"
		all+=("$area")
	done
	stop_nodes "${all[@]}"
}

case "$cmd" in
start) do_start ;;
stop) do_stop ;;
wait)
	need_bins jzfpctl
	python3 -c "$pyhelper" wait "$outdir" "$jzfpctl" "${timeout:-120}"
	;;
status)
	need_bins jzfpctl
	python3 -c "$pyhelper" status "$outdir" "$jzfpctl" "${timeout:-10}"
	;;
esac
