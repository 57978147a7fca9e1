"""jzfptest - harness for the jzfp integration tests (style.md §3.8).

Python 3, standard library only. Each test file builds a Tree of nodes in a
temporary directory, starts real `jzfpd` processes on 127.0.0.1, drives them
with `jzfpctl --json` and checks what they answer against expectations it
computes itself from the input CSV files (Expect).

Environment: JZFP_BIN (directory of jzfpd, jzfpctl and the test tools) and
JZFP_SRC (the repository, for scripts/gen_data.py and tests/data).

Rules kept here so that the tests need not think about them:
  - no wait sleeps: between two looks at the state a wait blocks on what
    can change it (Waker: a node's `status --wait-change` long poll, a line
    in its log, its exit);
  - every wait has a deadline and a bounded number of rounds, and no
    deadline passes the test's budget (BUDGET_S from the start, inside
    ctest's 600 s TIMEOUT): a test that hangs fails with its logs printed
    instead of being killed by ctest;
  - parents bind tcp://127.0.0.1:* and the harness reads the bound port from
    `jzfpctl status --json` before writing the children's configs (top-down
    start, so `ctest -j` is safe); the port is then written into the
    parent's config so that a restarted parent listens where its children
    look for it;
  - only the PIDs the harness started are signalled; a stop is SIGTERM and
    must end with exit status 0 (LeakSanitizer makes leaks a non-zero exit);
  - on failure the temporary directory is kept and the tail of every node's
    log is printed; on success it is removed.

Usage:

    import jzfptest as jt

    def test(t):                      # t: jt.Tree
        prov = t.add("630000000000", "province", "青海省")
        ...
        t.start_all()
        t.wait_synced()

    if __name__ == "__main__":
        jt.main(test)
"""

import csv
import ctypes
import http.client
import io
import json
import os
import re
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

BIN = os.environ.get("JZFP_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "bin")
SRC = os.environ.get("JZFP_SRC") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")
JZFPD = os.path.join(BIN, "jzfpd")
JZFPCTL = os.path.join(BIN, "jzfpctl")
GEN_DATA = os.path.join(SRC, "scripts", "gen_data.py")
PROVISION_SH = os.path.join(SRC, "scripts", "provision.sh")

NODE_LEVELS = ["province", "county", "township", "village"]
DIGITS = {"province": 2, "prefecture": 4, "county": 6, "township": 9, "village": 12}
ROLLUP_LEVELS = ["village", "township", "county", "prefecture", "province"]


def rollup_levels(n):
    """The levels node N answers rollups at: its own and those below."""
    return ROLLUP_LEVELS[:ROLLUP_LEVELS.index(n.level) + 1]

HEARTBEAT_MS = 300
RECEIPT_MS = 300
# Upper bounds only: nothing waits this long when things work. The ASan
# build is several times slower, hence the margins.
START_TIMEOUT = 30.0
SYNC_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
CTL_TIMEOUT_S = 30
# ctest kills an integration test after 600 s (tests/CMakeLists.txt: an ASan
# build on a busy machine is slow); every deadline here ends BUDGET_S after
# this module was loaded, which leaves time to stop the nodes and print their
# logs.
BUDGET_S = float(os.environ.get("JZFP_TEST_BUDGET_S", "570"))
_T0 = time.monotonic()


class Failure(Exception):
    """A test expectation that did not hold."""


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def check_eq(got, want, what):
    if got != want:
        raise Failure(f"{what}: got {got!r}, expected {want!r}")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def is_sanitized():
    """Is BIN an ASan build? (only used to scale deadlines)"""
    cache = os.path.join(BIN, "..", "CMakeCache.txt")
    try:
        with open(cache) as f:
            for line in f:
                if line.startswith("JZFP_SANITIZE:"):
                    v = line.split("=", 1)[1].strip()
                    return v.upper() not in ("", "OFF", "0", "FALSE", "NO")
    except OSError:
        pass
    return False


SLOW = 3.0 if is_sanitized() else 1.0


_libc = ctypes.CDLL(None, use_errno=True)
_IN_MODIFY, _IN_NONBLOCK, _IN_CLOEXEC = 0x2, 0o4000, 0o2000000
# Rounds of every wait in this test, and the long polls they started: printed
# at the end of a test, so that a wait that spins shows.
WAIT_STATS = {"waits": 0, "rounds": 0, "long_polls": 0}
# The long polls running, at most one per target: {id(target): (target, the
# process of the target it asks, Popen)}. They outlive the wait that started
# them and serve the next one, so the nodes hold no request of a client that
# left; stop_long_polls() ends them when the test does.
_LONG_POLLS = {}


def _long_poll(x):
    argv = [JZFPCTL, "-c", x.conf, "status", "--json", "--wait-change", str(x.changes_seen),
            "--wait", "60"]
    argv, env = _ctl_argv_env(argv, plain_ok=True)
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env)
    _LONG_POLLS[id(x)] = (x, x.proc, p)
    WAIT_STATS["long_polls"] += 1


def _long_poll_ended(key):
    """Take the answer of an ended long poll: the change count it saw, if
    it is of the target's current process. False if it failed for that
    process (one of a process gone since is no failure: the next round
    starts one for the new process)."""
    x, proc, p = _LONG_POLLS.pop(key)
    out = p.stdout.read()
    p.stdout.close()
    p.wait()
    if proc is not x.proc:
        return True
    try:
        seen = json.loads(out)["changes"] if p.returncode == 0 else None
    except (ValueError, KeyError):
        seen = None
    if seen is not None:
        x.changes_seen = seen
    return seen is not None


def stop_long_polls():
    for _, _, p in _LONG_POLLS.values():
        p.terminate()
        p.stdout.close()
        p.wait()
    _LONG_POLLS.clear()


class Waker:
    """What a wait blocks on between two looks at the state; no wait sleeps.

    Each target (a Node, or anything with .conf, .logfile, .proc and
    .changes_seen) wakes the wait when
      - its state changes: `jzfpctl status --wait-change N` (a long poll,
        node/control/server.c) answers once the node's change count passes
        N, the count the harness last saw (target.changes_seen, kept by
        Tree.status and by these polls);
      - with LOGS, a line is written to its log (inotify), for what a node
        logs and does not show in status (a refused handshake);
      - its process exits (a pidfd).
    Made before the wait's first look at the state, so nothing after that
    look is missed: the inotify watches are in place, and a long poll
    waits for a change after what was seen before it. A long poll runs
    only for a target whose control socket answered once (changes_seen
    known); before that (a node starting up) its log and exit wake the
    wait. A long poll that failed (the node refused it as busy, say) is
    tried again after RETRY_S, and the wait looks at the state again then:
    the one wait on elapsed time, for a node that cannot say it changed.
    WAKE_AT (time.monotonic()) wakes the wait at that moment, for a
    predicate on the clock itself."""

    RETRY_S = 1.0

    def __init__(self, targets, logs=True, wake_at=None):
        self.targets = [x for x in targets if x.proc is not None and x.proc.poll() is None]
        self.wake_at = wake_at
        self.ino = _libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC) if logs else -1
        if logs and self.ino < 0:
            raise Failure(f"inotify_init1: {os.strerror(ctypes.get_errno())}")
        self.pidfds, self.retry = {}, {}  # retry: id(target) -> when to poll it again
        try:
            for x in self.targets:
                if logs and _libc.inotify_add_watch(self.ino, os.fsencode(x.logfile),
                                                    _IN_MODIFY) < 0:
                    raise Failure(f"inotify_add_watch {x.logfile}: "
                                  f"{os.strerror(ctypes.get_errno())}")
                try:
                    self.pidfds[os.pidfd_open(x.proc.pid)] = x
                except ProcessLookupError:
                    pass  # reaped already: nothing to wait for
        except BaseException:
            self.close()
            raise
        WAIT_STATS["waits"] += 1

    def wait(self, end, only=None):
        """Block until something may have changed at the targets (at ONLY's
        state, when given: the ones whose change the caller needs), or
        until END (time.monotonic())."""
        WAIT_STATS["rounds"] += 1
        now = time.monotonic()
        for x in self.targets if only is None else only:
            if (id(x) not in _LONG_POLLS and self.retry.get(id(x), 0) <= now
                    and getattr(x, "changes_seen", None) is not None
                    and x.proc is not None and x.proc.poll() is None):
                _long_poll(x)
        mine = {id(x) for x in self.targets}
        polls = {p.stdout.fileno(): key for key, (_, _, p) in _LONG_POLLS.items()
                 if key in mine}
        fds = list(self.pidfds) + list(polls) + ([self.ino] if self.ino >= 0 else [])
        if not fds:
            raise Failure("a wait with nothing to wait on (no running node)")
        until = min([end] + [t for t in self.retry.values() if t > now] +
                    ([self.wake_at] if self.wake_at is not None and self.wake_at > now else []))
        with selectors.DefaultSelector() as sel:
            for fd in fds:
                sel.register(fd, selectors.EVENT_READ)
            ready = [k.fd for k, _ in sel.select(max(0.0, until - time.monotonic()))]
        for fd in ready:
            if fd == self.ino:
                try:
                    while os.read(self.ino, 65536):
                        pass
                except BlockingIOError:
                    pass
            elif fd in self.pidfds:
                del self.pidfds[fd]  # exited: readable for good
                os.close(fd)
            elif not _long_poll_ended(polls[fd]):
                self.retry[polls[fd]] = time.monotonic() + self.RETRY_S

    def close(self):
        for fd in self.pidfds:
            os.close(fd)
        self.pidfds.clear()
        if self.ino >= 0:
            os.close(self.ino)
            self.ino = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def poll(what, fn, targets, timeout=30.0, logs=True, wake_at=None):
    """Call fn() until it returns a true value and return that, waiting
    between two calls for something to happen at TARGETS (Waker); a Failure
    naming WHAT after TIMEOUT (scaled by SLOW, within the test's budget)."""
    end = deadline(timeout)
    with Waker(targets, logs=logs, wake_at=wake_at) as w:
        for _ in range(10**6):
            v = fn()
            if v:
                return v
            if time.monotonic() > end:
                raise Failure(f"timed out after {timeout * SLOW:.0f} s waiting for {what}")
            w.wait(end)
    raise Failure(f"poll {what}: too many rounds")


def deadline(timeout):
    """time.monotonic() value at which a wait of TIMEOUT seconds (scaled by
    SLOW) ends, but no later than the end of the test's budget."""
    return min(time.monotonic() + timeout * SLOW, _T0 + BUDGET_S)


def left(timeout):
    """Seconds a wait of TIMEOUT (scaled by SLOW) may take now, within the
    test's budget (at least 1)."""
    return max(1.0, deadline(timeout) - time.monotonic())


# ---------------------------------------------------------------- areas

def area_at(code, level):
    n = DIGITS[level]
    return code[:n] + "0" * (12 - n)


def level_of(code):
    """The level of a 12-digit area code (assumed valid)."""
    groups = [code[0:2], code[2:4], code[4:6], code[6:9], code[9:12]]
    names = ["province", "prefecture", "county", "township", "village"]
    level = None
    for g, n in zip(groups, names):
        if int(g):
            level = n
    return level


def is_under(code, ancestor):
    """code == ancestor or code lies in ancestor's subtree."""
    n = DIGITS[level_of(ancestor)]
    return code[:n] == ancestor[:n]


# ---------------------------------------------------------------- nodes

class Node:
    def __init__(self, tree, area, level, name, parent):
        self.tree = tree
        self.area = area
        self.level = level
        self.name = name
        self.parent = parent
        self.children = []
        self.dir = os.path.join(tree.dir, area)
        self.conf = os.path.join(self.dir, "jzfpd.conf")
        self.key = os.path.join(self.dir, "node.key")
        self.data = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "jzfpd.log")
        self.pub = None
        self.endpoint = None  # bound listen endpoint, once known
        self.proc = None
        self.started = False  # ever, by the harness: a node may join later
        self.batch_max = None
        self.window = None
        self.extra_conf = {}
        self.test_clock = False
        self.env = {}  # added to this node's jzfpd environment (test_commit_fault's shim)
        self.parent_override = None  # an endpoint to use instead of the parent's
        self.timezone = None  # [node] timezone, when not the default
        # The change count of its last status read (Waker): None until this
        # run of jzfpd has answered, as a new process counts from the start.
        self.changes_seen = None

    def __repr__(self):
        return f"{self.level} {self.area}"

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        try:
            with open(self.logfile, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self, n=25):
        return "\n".join(self.log_text().splitlines()[-n:])


class CtlError(Failure):
    def __init__(self, args, rc, out, err):
        self.rc, self.out, self.err = rc, out, err
        super().__init__(f"jzfpctl {' '.join(args)}: exit {rc}: {err.strip()[-500:]}")


class Tree:
    """A tree of jzfp nodes in one temporary directory."""

    def __init__(self, name, test_clock=False):
        self.dir = tempfile.mkdtemp(prefix=f"jzfp-{name}-")
        self.test_clock = test_clock
        self.receipt_ms = RECEIPT_MS  # a test that counts records exactly sets it high
        self.nodes = {}  # area -> Node, in insertion order
        self.tag_key = secrets.token_hex(32)
        self.problems = []  # soft failures

    # ------------------------------------------------------------ building

    def add(self, area, level, name, parent=None, batch_max=None, window=None,
            test_clock=None):
        """Add a node. Its parent is the nearest ancestor node already
        added, unless given. test_clock (default: the tree's) starts it with
        jzfpd --test-clock."""
        check(area not in self.nodes, f"{area} added twice")
        check(level_of(area) == level, f"{area} is not a {level} code")
        if parent is None and level != "province":
            for up in NODE_LEVELS[NODE_LEVELS.index(level) - 1::-1]:
                cand = area_at(area, up)
                if cand in self.nodes and self.nodes[cand].level == up:
                    parent = self.nodes[cand]
                    break
            check(parent is not None, f"{area}: no parent node added yet")
        n = Node(self, area, level, name, parent)
        n.batch_max, n.window = batch_max, window
        n.test_clock = self.test_clock if test_clock is None else test_clock
        if parent:
            parent.children.append(n)
        os.mkdir(n.dir, 0o700)
        n.pub = self.keygen(n.key)
        self.nodes[area] = n
        return n

    def keygen(self, path):
        p = run([JZFPCTL, "keygen", "--out", path])
        check(p.returncode == 0, f"keygen --out {path}: exit {p.returncode}: {p.stderr}")
        pub = p.stdout.strip()
        check(re.fullmatch(r"[0-9a-f]{64}", pub) is not None, f"keygen printed {pub!r}")
        return pub

    def write_conf(self, n):
        lines = ["; written by tests/integration/jzfptest.py", "[node]",
                 f"level = {n.level}", f"area = {n.area}", f"name = {n.name}",
                 "data_dir = data", "key = node.key", "log_level = info"]
        if n.timezone:
            lines.append(f"timezone = {n.timezone}")
        lines += ["", "[link]"]
        if n.children or n.level == "province":
            lines.append(f"listen = {n.endpoint or 'tcp://127.0.0.1:*'}")
        if n.parent:
            check(n.parent.endpoint, f"{n}: parent {n.parent} has no endpoint yet")
            lines.append(f"parent = {n.parent_override or n.parent.endpoint}")
            lines.append(f"parent_key = {n.parent.pub}")
        lines.append(f"heartbeat_ms = {HEARTBEAT_MS}")
        if n.level == "province":
            lines.append(f"receipt_ms = {self.receipt_ms}")
        if n.batch_max:
            lines.append(f"batch_max = {n.batch_max}")
        if n.window:
            lines.append(f"window = {n.window}")
        # The tag key only at importing nodes (never the province); no
        # certificates here, so jzfpd must be told it runs insecure
        # (Tree.provision certifies instead).
        lines += ["", "[trust]", "insecure = yes"]
        if n.level != "province":
            lines.append(f"tag_key = {self.tag_key}")
        for section, keys in n.extra_conf.items():  # {"registry": {"defer_ms": 0}}
            lines += ["", f"[{section}]"] + [f"{k} = {v}" for k, v in keys.items()]
        lines.append("")
        fd = os.open(n.conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # it holds a key: the owner's only, from the start
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))

    def top_down(self):
        return sorted(self.nodes.values(), key=lambda n: NODE_LEVELS.index(n.level))

    def bottom_up(self):
        return list(reversed(self.top_down()))

    def province(self):
        return next(n for n in self.nodes.values() if n.level == "province")

    def subtree(self, n):
        """n and every node below it."""
        out = [n]
        for c in n.children:
            out += self.subtree(c)
        return out

    def provision(self, nodes, receipt_ms=RECEIPT_MS):
        """Provision NODES [(area, level, name)] with scripts/provision.sh into
        self.dir/tree and register them with the harness, which runs them with the
        configs provision.sh wrote (keys, certificates, [trust], fixed ports)."""
        out = os.path.join(self.dir, "tree")
        spec = os.path.join(self.dir, "nodes.csv")
        with open(spec, "w", encoding="utf-8") as f:
            f.write("area,level,name\n" + "".join(f"{a},{lv},{nm}\n" for a, lv, nm in nodes))
        p = run(["bash", PROVISION_SH, "-q", "--bin", BIN, "--receipt-ms", str(receipt_ms),
                    spec, out])
        check(p.returncode == 0, f"provision.sh: exit {p.returncode}: {p.stderr.strip()}")
        self.write_conf = lambda n: None  # provision.sh wrote every config
        for area, level, name in nodes:
            parent = None
            for up in NODE_LEVELS[:NODE_LEVELS.index(level)][::-1]:
                cand = self.nodes.get(area_at(area, up))
                if cand is not None and cand.level == up:
                    parent = cand
                    break
            n = Node(self, area, level, name, parent)
            n.dir = os.path.join(out, area)
            n.conf = os.path.join(n.dir, "jzfpd.conf")
            n.key = os.path.join(n.dir, "node.key")
            n.cert = os.path.join(n.dir, "node.cert")
            n.data = os.path.join(n.dir, "data")
            n.logfile = os.path.join(n.dir, "jzfpd.log")
            with open(os.path.join(n.dir, "node.pub")) as f:
                n.pub = f.read().strip()
            if parent:
                parent.children.append(n)
            self.nodes[area] = n
        return out

    # ------------------------------------------------------------ processes

    def start(self, n, wait=True):
        """Start n (its parent must be running or have run once)."""
        check(not n.running, f"{n} is already running")
        self.write_conf(n)
        logf = open(n.logfile, "a", encoding="utf-8")
        logf.write(f"--- jzfptest start {time.strftime('%H:%M:%S')}\n")
        logf.flush()
        argv = [JZFPD, "--config", n.conf] + (["--test-clock"] if n.test_clock else [])
        n.changes_seen = None
        n.started = True
        n.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                  cwd=n.dir, env={**os.environ, **n.env} if n.env else None)
        logf.close()
        if wait:
            self.wait_up(n)

    def wait_up(self, n, timeout=START_TIMEOUT, wait_sign=True):
        """Wait until n answers on its control socket (and, if its parent is
        running, may sign records); learn its endpoint."""
        end = deadline(timeout)
        with Waker([n]) as w:
            return self._wait_up(n, w, end, timeout, wait_sign)

    def _wait_up(self, n, w, end, timeout, wait_sign):
        last = ""
        for _ in range(100000):
            if n.proc.poll() is not None:
                raise Failure(f"{n}: jzfpd exited with {n.proc.returncode} during start")
            p = self.run_ctl(n, "status", "--json", timeout_s=2, plain_ok=True)
            if p.returncode == 0:
                st = json.loads(p.stdout)
                n.changes_seen = st.get("changes")
                if n.children or n.level == "province":
                    ep = st.get("listen") or ""
                    check(re.fullmatch(r"tcp://127\.0\.0\.1:\d+", ep) is not None,
                          f"{n}: status listen is {ep!r}, expected the bound tcp endpoint")
                    if n.endpoint is None:
                        n.endpoint = ep
                        self.write_conf(n)  # restarts listen on the same port
                    else:
                        check_eq(ep, n.endpoint, f"{n}: listen endpoint after restart")
                # A node with an empty store signs nothing until its parent
                # has answered (DESIGN §7): wait for that when the parent runs.
                if (wait_sign and n.parent is not None and n.parent.running
                        and not st.get("may_sign")):
                    last = f"not signing yet: {st.get('why_not_signing')}"
                else:
                    return st
            else:
                last = p.stderr.strip()
            if time.monotonic() > end:
                raise Failure(f"{n}: not up within {timeout * SLOW:.0f} s (or the test's "
                              f"budget): {last}")
            w.wait(end)
        raise Failure(f"{n}: wait_up: too many rounds")

    def start_all(self):
        for n in self.top_down():
            if not n.running:
                self.start(n)

    def stop(self, n, timeout=STOP_TIMEOUT):
        """SIGTERM n and require a clean exit (status 0)."""
        check(n.proc is not None, f"{n}: not started by the harness")
        if n.proc.poll() is None:
            n.proc.send_signal(signal.SIGTERM)
            try:
                n.proc.wait(left(timeout))
            except subprocess.TimeoutExpired:
                n.proc.kill()
                n.proc.wait(10)
                n.proc = None
                raise Failure(f"{n}: still running {timeout * SLOW:.0f} s after SIGTERM "
                              f"(killed)\n{n.log_tail()}")
        rc = n.proc.returncode
        n.proc = None
        if rc != 0:
            raise Failure(f"{n}: jzfpd exited with status {rc} after SIGTERM "
                          f"(a sanitizer report, if any, is in its log)\n{n.log_tail(60)}")

    def stop_all(self):
        for n in self.bottom_up():
            if n.proc is not None:
                self.stop(n)

    def kill9(self, n):
        check(n.running, f"{n}: not running")
        n.proc.send_signal(signal.SIGKILL)
        n.proc.wait(10)
        n.proc = None

    def restart(self, n):
        if n.proc is not None:
            self.stop(n)
        self.start(n)

    def cleanup_processes(self):
        """Kill whatever the harness started and is still running (after a
        failure)."""
        for n in self.nodes.values():
            if n.proc is not None and n.proc.poll() is None:
                n.proc.kill()
                try:
                    n.proc.wait(10)
                except subprocess.TimeoutExpired:
                    pass

    # ------------------------------------------------------------ jzfpctl

    def run_ctl(self, n, *args, timeout_s=CTL_TIMEOUT_S, plain_ok=False):
        return run([JZFPCTL, "-c", n.conf, "--timeout", str(timeout_s), *args],
                   timeout=min(timeout_s * 2 + 30, left(timeout_s * 2 + 30)), plain_ok=plain_ok)

    def ctl(self, n, *args, timeout_s=CTL_TIMEOUT_S, plain_ok=False):
        """jzfpctl -c CONF ARGS; the output parsed as JSON. Fails on exit != 0."""
        p = self.run_ctl(n, *args, timeout_s=timeout_s, plain_ok=plain_ok)
        if p.returncode != 0:
            raise CtlError(args, p.returncode, p.stdout, p.stderr)
        try:
            return json.loads(p.stdout)
        except ValueError as e:
            raise Failure(f"jzfpctl {' '.join(args)}: not JSON ({e}): {p.stdout[:300]!r}")

    def ctl_text(self, n, *args, timeout_s=CTL_TIMEOUT_S):
        p = self.run_ctl(n, *args, timeout_s=timeout_s)
        if p.returncode != 0:
            raise CtlError(args, p.returncode, p.stdout, p.stderr)
        return p.stdout

    def status(self, n):
        st = self.ctl(n, "status", "--json", plain_ok=True)
        n.changes_seen = st.get("changes")
        return st

    def import_file(self, n, kind, path, *extra):
        """jzfpctl import KIND PATH; returns the CompletedProcess (any exit)."""
        return self.run_ctl(n, "import", kind, path, *extra, timeout_s=120)

    def import_ok(self, n, kind, path):
        """Import and require success; returns the number of new versions
        (households) or new records (census) it reports."""
        p = self.import_file(n, kind, path)
        if p.returncode != 0:
            raise CtlError(("import", kind, path), p.returncode, p.stdout, p.stderr)
        m = re.search(r"(\d+) new", p.stdout)
        check(m is not None, f"import {kind} {path}: unexpected output {p.stdout!r}")
        return int(m.group(1))

    def import_census_each(self, villages, year, seed):
        """One generated census of VILLAGES (village nodes) for YEAR, each
        imported at its own village."""
        census = os.path.join(self.dir, "census.csv")
        gen_census(census, [v.area for v in villages], year, seed=seed)
        for v in villages:
            part = os.path.join(self.dir, f"census-{v.area}.csv")
            split_census(census, part, [v.area])
            self.import_ok(v, "census", part)

    def import_many(self, jobs):
        """Run several imports at once: jobs is [(node, kind, path, *options)].
        All must succeed; returns the new-record counts in job order."""
        procs = []
        for n, kind, path, *opts in jobs:
            argv = [JZFPCTL, "-c", n.conf, "--timeout", "120", "import", kind, path, *opts]
            procs.append((argv, subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                                 stdout=subprocess.PIPE,
                                                 stderr=subprocess.PIPE, text=True)))
        counts, errors = [], []
        for argv, p in procs:
            try:
                out, err = p.communicate(timeout=left(300))
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
                errors.append(f"{' '.join(argv[3:])}: no exit within 300 s")
                continue
            m = re.search(r"(\d+) new", out)
            if p.returncode != 0 or not m:
                errors.append(f"{' '.join(argv)}: exit {p.returncode}: {err.strip()[-300:]}")
            else:
                counts.append(int(m.group(1)))
        check(not errors, "imports failed:\n  " + "\n  ".join(errors))
        return counts

    def rollup(self, n, level, under=None, year=None):
        """`rollup --format csv` as a list of dicts (strings)."""
        args = ["rollup", "--level", level, "--format", "csv"]
        if under:
            args += ["--under", under]
        if year:
            args += ["--year", str(year)]
        text = self.ctl_text(n, *args)
        return list(csv.DictReader(io.StringIO(text)))

    def verify(self, n, what=""):
        """rollup --verify at n must exit 0. A failure is recorded (see
        soft_fail) and the test goes on, so that one run shows every node
        that disagrees; the daemon must still be alive afterwards."""
        p = self.run_ctl(n, "rollup", "--verify", timeout_s=120)
        if p.returncode != 0:
            self.soft_fail(f"{what}{': ' if what else ''}{n}: rollup --verify: exit "
                           f"{p.returncode}: {p.stderr.strip()} {p.stdout.strip()}")
        check(n.running, f"{n}: jzfpd died during rollup --verify (exit {n.proc.poll()})")

    def soft_fail(self, msg):
        """Record a failure and go on; main() fails the test at the end."""
        print(f"FAILED CHECK: {msg}", file=sys.stderr, flush=True)
        self.problems.append(msg)

    # ------------------------------------------------------------ waiting

    @staticmethod
    def _own_behind(n, st, receipts):
        """Why non-province node n, by its own status ST, is not in step
        (see wait_synced) with n (only a change at n puts it in step), or None."""
        if n.level == "province":
            return None
        par = st.get("parent") or {}
        up, down = st.get("up") or {}, st.get("down") or {}
        rc = st.get("receipt") or {}
        if par.get("connected") is not True:
            return n, f"{n}: parent link down ({par.get('why')!r})"
        if up.get("acked") != up.get("head"):
            return n, f"{n}: up acked {up.get('acked')} of head {up.get('head')}"
        if down.get("applied") != down.get("head"):
            return n, f"{n}: down applied {down.get('applied')} of head {down.get('head')}"
        if receipts and rc.get("seq") != st.get("own_records"):
            # The province's receipt for our last record has not come
            # down yet: it will move heads when it does.
            return n, f"{n}: receipt for {rc.get('seq')} of its {st.get('own_records')} records"
        return None

    @staticmethod
    def _kids_behind(n, st, sts):
        """(node, why) when a child of n is not in step by n's status ST
        (read after the children's, in STS): why, and the node whose change
        puts it in step. None when all are."""
        for c in n.children:
            if not c.started:
                continue  # never started yet (wait_synced)
            kid = next((k for k in st.get("children") or [] if k.get("area") == c.area), {})
            down = sts[c.area].get("down") or {}
            if kid.get("connected") is not True:
                return n, f"{c}: not (yet) a connected child of {n}"
            if down.get("head") != kid.get("down_head"):
                return c, (f"{c}: down head told {down.get('head')}, the parent's is "
                           f"{kid.get('down_head')}")
            if kid.get("down_acked") != kid.get("down_head"):
                return n, (f"{c}: {n} has its ack up to {kid.get('down_acked')} of "
                           f"{kid.get('down_head')}")
        return None

    def wait_synced(self, timeout=SYNC_TIMEOUT, receipts=True):
        """Wait until the tree is in step, on the exact cursors of both
        directions (node/replication/link.h) and nothing else. One pass reads every
        node's status bottom up (each child before its parent) and requires,
        for every non-province node: its parent link connected; up.acked ==
        up.head (the parent holds its whole log); its parent lists it as a
        connected child whose down_head (the parent's downlog head, read
        after the child) equals the child's down.head; down.applied ==
        down.head (it holds all of it), and the parent has its ack for that
        (down_acked == down_head); and, with RECEIPTS, a receipt for
        all of its own records. Heads only grow, so a child read before its
        parent with equal heads held everything the parent had until the
        parent was read; what the parent applies from below later moves a
        head. The wait ends after two such passes in a row that saw the same
        heads everywhere (the fixed point: what came up went down, the
        province's receipts came down and went back up as log entries).
        Returns the province's record count."""
        # A node provisioned but never started yet is not part of the tree
        # (a node that joins later: test_sealed).
        order = [n for n in self.bottom_up() if n.started]
        with Waker(order, logs=False) as w:
            return self._wait_synced(order, w, deadline(timeout), timeout, receipts)

    def _wait_synced(self, order, w, end, timeout, receipts):
        prov = self.province()
        last_heads = None
        why = "not checked yet"
        for _ in range(100000):
            for n in order:
                if not n.running:
                    raise Failure(f"wait_synced: {n} is not running")
            sts, behind = {}, None
            # Each node's own numbers as soon as it is read, and its
            # children's against it (they were read before it): the first
            # one behind ends the pass.
            for n in order:
                st = sts[n.area] = self.status(n)
                behind = self._own_behind(n, st, receipts) or self._kids_behind(n, st, sts)
                if behind:
                    break
            if behind is None:
                heads = {a: (st["records"], (st.get("up") or {}).get("head"),
                             (st.get("down") or {}).get("head")) for a, st in sts.items()}
                if heads == last_heads:
                    return sts[prov.area]["records"]
                moved = [f"{self.nodes[a]} {last_heads[a]} -> {h}" for a, h in heads.items()
                         if last_heads and last_heads.get(a) != h]
                last_heads = heads  # confirmed at once by a second pass
                why = f"(records, up head, down head) moved between two passes: {moved[:3]}"
            else:
                last_heads = None
                who, why = behind
            if time.monotonic() > end:
                raise Failure(f"wait_synced: not in step after {timeout * SLOW:.0f} s (or the "
                              f"test's budget): {why}")
            if last_heads is None:
                w.wait(end, only=[who])  # until WHO changes since its status above
        raise Failure("wait_synced: too many rounds")

    def running(self):
        return [n for n in self.nodes.values() if n.running]

    def wait_for(self, what, fn, timeout=30.0, nodes=None, wake_at=None):
        """Call fn() until it returns a true value, and return it; between
        two calls wait for a change at NODES (default: every running node),
        a line in their logs or an exit, or WAKE_AT (poll, Waker)."""
        return poll(what, fn, self.running() if nodes is None else nodes, timeout,
                    wake_at=wake_at)

    # ------------------------------------------------------------ reporting

    def dump_logs(self, lines=30):
        for n in self.nodes.values():
            print(f"----- {n} ({n.name}) log tail: {n.logfile}", file=sys.stderr)
            print(n.log_tail(lines), file=sys.stderr)

    def grep_log(self, n, pattern):
        rx = re.compile(pattern)
        return [line for line in n.log_text().splitlines() if rx.search(line)]


# Under the sanitizers (scripts/test.sh sets ASAN_OPTIONS with detect_leaks=1),
# LeakSanitizer's check at exit costs a jzfpctl about 50 ms of CPU, and a test
# starts hundreds of them: a third of the sanitized suite. So each test checks
# the first run of every jzfpctl command (its first two words, --json counted
# as one: "status --json", "household show") for leaks and not the repeats;
# the daemons and the unit tests are always checked.
#
# A sanitized jzfpctl also takes three times a plain one's CPU to start and
# stop (ASan's runtime: 33 against 10 ms), and half the runs of a test are
# `status --json` of the harness's own (Tree.status, the start and sync
# waits, the long polls). With JZFP_PLAIN_CTL naming the plain build's
# jzfpctl (scripts/test.sh sets it for the sanitized run), those run that one
# after the test's first `status --json` has run sanitized; every other run (a
# test's own `jzfpctl status` in text, or with a bad config), every other
# command, and the daemons stay sanitized.
_LEAK_CHECKED = set()
PLAIN_CTL = os.environ.get("JZFP_PLAIN_CTL") or None


def _ctl_words(argv):
    """The words of a jzfpctl ARGV that name its command: options and their
    values left out, but --json (text and JSON are rendered apart)."""
    words, skip = [], False
    for a in argv[1:]:
        if skip:
            skip = False
        elif a in ("-c", "--config", "--timeout", "--wait-change", "--wait", "--count"):
            skip = True
        elif a == "--json" or not a.startswith("-"):
            words.append(a)
    return words


def _ctl_argv_env(argv, plain_ok=False):
    """ARGV and the environment to run it with (None: inherit): for a
    jzfpctl command already run in this test, no leak check, and for one
    PLAIN_OK (a harness's `status --json`), the plain build's jzfpctl (see
    above)."""
    opts = os.environ.get("ASAN_OPTIONS", "")
    if argv[0] != JZFPCTL or "detect_leaks=1" not in opts:
        return argv, None
    key = tuple(_ctl_words(argv)[:2])
    if key not in _LEAK_CHECKED:
        _LEAK_CHECKED.add(key)
        return argv, None
    if PLAIN_CTL and plain_ok:
        return [PLAIN_CTL, *argv[1:]], None
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = opts.replace("detect_leaks=1", "detect_leaks=0")
    return argv, env


def incidence_pct(poor, pop, tbp):
    """贫困发生率 as rollup gives it (rollup_incidence_hundredths): percent
    with two decimals, half up, but never up onto the exit line TBP (basis
    points) from below it."""
    poor = max(poor, 0)
    h = (poor * 20000 + pop) // (pop * 2)
    if poor * 10000 < tbp * pop and h >= tbp:
        h = tbp - 1
    return f"{h // 100}.{h % 100:02d}"


def run(argv, timeout=120, plain_ok=False, **kw):
    """ARGV run to its end, its output captured as text; PLAIN_OK: a
    `status --json` of the harness's own, which may run the plain build's
    jzfpctl (see _ctl_argv_env)."""
    if "env" not in kw:
        argv, kw["env"] = _ctl_argv_env(argv, plain_ok)
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, **kw)
    except subprocess.TimeoutExpired:
        raise Failure(f"{' '.join(argv)}: no exit within {timeout} s")


def cert_issue(issuer, pub, level, area, out, days=30):
    """Certify PUB as LEVEL AREA for DAYS with ISSUER's key and chain (the
    province's key is the root), offline."""
    argv = [JZFPCTL, "cert", "issue", "--issuer-key", issuer.key]
    argv += ["--root"] if issuer.level == "province" else ["--issuer-cert", issuer.cert]
    argv += ["--pub", pub, "--level", level, "--area", area, "--days", str(days), "--out", out]
    p = run(argv)
    check(p.returncode == 0, f"cert issue {level} {area}: exit {p.returncode}: {p.stderr}")
    return out


# ---------------------------------------------------------------- data

def gen_households(out_pattern, villages, households, seed, year=2020, chinese=(),
                   first_serial=None, new=False):
    """scripts/gen_data.py households; out_pattern contains {village}.
    Returns {village: path}."""
    argv = [sys.executable, GEN_DATA, "households", "--households", str(households),
            "--seed", str(seed), "--year", str(year), "--out", out_pattern]
    for v in villages:
        argv += ["--village", v]
    for v in chinese:
        argv += ["--chinese-village", v]
    if first_serial:
        argv += ["--first-serial", str(first_serial)]
    if new:
        argv.append("--new")
    p = run(argv)
    check(p.returncode == 0, f"gen_data.py households: exit {p.returncode}: {p.stderr}")
    paths = {v: out_pattern.replace("{village}", v) for v in villages}
    for v, path in paths.items():
        check(os.path.isfile(path), f"gen_data.py did not write {path}")
    return paths


def gen_census(path, villages, year, seed):
    argv = [sys.executable, GEN_DATA, "census", "--year", str(year), "--seed", str(seed),
            "--out", path]
    for v in villages:
        argv += ["--village", v]
    p = run(argv)
    check(p.returncode == 0, f"gen_data.py census: exit {p.returncode}: {p.stderr}")
    return path


def split_census(src, dst, villages):
    """Write the rows of census file src for the given villages into dst."""
    with open(src, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    col = next(i for i, h in enumerate(header) if h.strip() in ("village", "村代码"))
    keep = [r for r in body if r and r[col].strip() in villages]
    check(len(keep) == len(set(villages)), f"{src}: census rows for {villages} missing")
    with open(dst, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(keep)
    return dst


# ---------------------------------------------------------------- oracle

STATUS_NAMES = {"非贫困": 0, "非贫困户": 0, "未识别": 0, "未脱贫": 1, "已脱贫享受政策": 2,
                "已脱贫（享受政策）": 2, "已脱贫(享受政策)": 2, "已脱贫不再享受政策": 3,
                "已脱贫（不再享受政策）": 3, "已脱贫(不再享受政策)": 3, "返贫": 4, "剔除": 5}
HH_COLS = {"household_id": "户编号", "village": "村代码", "relation": "与户主关系",
           "status": "状态", "year": "年度"}
CENSUS_COLS = {"village": "村代码", "name": "村名", "year": "年度",
               "households": "总户数", "population": "户籍人口"}


def _columns(header, names):
    """{english name: index} for the columns in names, header in either language."""
    idx = {}
    clean = [h.strip().lstrip("\ufeff") for h in header]
    for en, zh in names.items():
        for i, h in enumerate(clean):
            if h in (en, zh):
                idx[en] = i
    return idx


class Expect:
    """What the rollups should say, computed from the CSV files fed to the
    nodes (independently of the daemon). Households and persons from the
    household files (one row per person; household fields from the head's
    row, relation 01); population from each village's latest census.

    The official status (what the rollups count, DESIGN §6) is the file's
    status for a register migrated as recorded (import --recorded at a
    county), and 非贫困户 (0) for a register a village imports, whose other
    statuses are proposals: pending until the test says they were recorded
    (record) or rejected (reject)."""

    def __init__(self, threshold_pct="2.00"):
        self.households = {}  # household id -> dict
        self.census = {}      # (village, year) -> (name, households, population)
        self.threshold_pct = threshold_pct

    def add_households(self, path, recorded=False):
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = [r for r in csv.reader(f) if r and any(x.strip() for x in r)]
        col = _columns(rows[0], HH_COLS)
        check(set(col) == set(HH_COLS), f"{path}: columns {sorted(col)} found")
        members, heads = {}, {}
        for r in rows[1:]:
            hid = r[col["household_id"]].strip()
            members[hid] = members.get(hid, 0) + 1
            if int(r[col["relation"]].strip()) == 1:
                heads[hid] = r
        for hid, cnt in members.items():
            h = heads[hid]
            st = h[col["status"]].strip()
            status = int(st) if st.isdigit() else STATUS_NAMES[st]
            official = status if recorded else 0
            self.households[hid] = {
                "village": h[col["village"]].strip(), "status": official,
                "year": int(h[col["year"]].strip()), "members": cnt,
                "proposed": None if recorded or status == 0 else status, "event": None}

    def record(self, hid):
        """The proposal of household hid was recorded: its status counts,
        and the year counts the change (identified, exited or returned)."""
        h = self.households[hid]
        check(h["proposed"] is not None, f"Expect.record({hid}): no proposal")
        old, new = h["status"], h["proposed"]
        h["status"], h["proposed"] = new, None
        if new == 1 and old in (0, 5):
            h["event"] = "identified_in_year"
        elif new in (2, 3) and old in (1, 4):
            h["event"] = "exited_in_year"
        elif new == 4 and old in (2, 3):
            h["event"] = "returned_in_year"

    def reject(self, hid):
        self.households[hid]["proposed"] = None

    def propose(self, hid, status):
        self.households[hid]["proposed"] = status

    def pending_ids(self, village=None):
        return sorted(k for k, h in self.households.items()
                      if h["proposed"] is not None and (village is None or h["village"] == village))

    def add_census(self, path):
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = [r for r in csv.reader(f) if r and any(x.strip() for x in r)]
        col = _columns(rows[0], CENSUS_COLS)
        for r in rows[1:]:
            v = r[col["village"]].strip()
            name = r[col["name"]].strip() if "name" in col else ""
            self.census[(v, int(r[col["year"]]))] = (name, int(r[col["households"]]),
                                                     int(r[col["population"]]))

    def add_household(self, hid, village, status, year, members):
        self.households[hid] = {"village": village, "status": status, "year": year,
                                "members": members, "proposed": None, "event": None}

    def latest_year(self):
        years = [h["year"] for h in self.households.values()] + [y for _, y in self.census]
        return max(years) if years else 0

    def rollup(self, level, under=None, year=None, names=None):
        """Expected `rollup --format csv` rows (dicts of strings) at LEVEL
        under UNDER, as of YEAR (default: the latest year held). names maps
        an area to the name of its node (township, county, province)."""
        year = year or self.latest_year()
        names = names or {}
        rows = {}
        tp = self.threshold_pct
        tbp = int(round(float(tp) * 100))

        def row(area):
            if area not in rows:
                rows[area] = {"area": area, "level": level, "name": names.get(area, ""),
                              "year": str(year), "rural_population": 0,
                              "poor_households": 0, "poor_persons": 0, "households": 0,
                              "persons": 0, "exited_households": 0, "exited_persons": 0,
                              "identified_in_year": 0, "exited_in_year": 0,
                              "returned_in_year": 0, "pending": 0}
            return rows[area]

        for h in self.households.values():
            if h["year"] > year or (under and not is_under(h["village"], under)):
                continue
            r = row(area_at(h["village"], level))
            r["households"] += 1
            r["persons"] += h["members"]
            if h["status"] in (1, 4):
                r["poor_households"] += 1
                r["poor_persons"] += h["members"]
            elif h["status"] in (2, 3):
                r["exited_households"] += 1
                r["exited_persons"] += h["members"]
            if h["event"] and h["year"] == year:
                r[h["event"]] += 1
        for h in self.households.values():
            # pending counts the open proposals of the year or before
            if (h["proposed"] is not None and h["year"] <= year and
                    not (under and not is_under(h["village"], under))):
                row(area_at(h["village"], level))["pending"] += 1
        latest = {}
        for (v, y), c in self.census.items():
            if y <= year and (v not in latest or y > latest[v][0]):
                latest[v] = (y, c)
        for v, (_, (cname, _hh, pop)) in latest.items():
            if under and not is_under(v, under):
                continue
            r = row(area_at(v, level))
            r["rural_population"] += pop
            if level == "village" and cname:
                r["name"] = cname
        out = []
        for area in sorted(rows):
            r = rows[area]
            pop, poor = r["rural_population"], r["poor_persons"]
            r["threshold_pct"] = tp
            if pop:
                r["incidence_pct"] = incidence_pct(poor, pop, tbp)
                r["below_threshold"] = "yes" if poor * 10000 < tbp * pop else "no"
            else:
                r["incidence_pct"] = ""
                r["below_threshold"] = ""
            out.append({k: str(v) for k, v in r.items()})
        return out


ROLLUP_COLUMNS = ["area", "level", "name", "year", "rural_population", "poor_households",
                  "poor_persons", "incidence_pct", "threshold_pct", "below_threshold",
                  "households", "persons", "exited_households", "exited_persons",
                  "identified_in_year", "exited_in_year", "returned_in_year", "pending"]


def compare_rollup(got, want, what, columns=ROLLUP_COLUMNS):
    """Fail with a readable difference unless the rows agree on columns."""
    g = {r.get("area"): r for r in got}
    w = {r["area"]: r for r in want}
    problems = []
    for a in sorted(set(g) | set(w)):
        if a not in g:
            problems.append(f"  {a}: missing (expected {w[a]})")
        elif a not in w:
            problems.append(f"  {a}: unexpected row {g[a]}")
        else:
            for c in columns:
                if g[a].get(c) != w[a].get(c):
                    problems.append(f"  {a} {c}: got {g[a].get(c)!r}, expected {w[a].get(c)!r}")
    if len(got) != len(g):
        problems.append(f"  duplicate areas in the answer ({len(got)} rows, {len(g)} areas)")
    if problems:
        raise Failure(f"{what}: rollup differs:\n" + "\n".join(problems[:40]))


def node_names(tree):
    return {a: n.name for a, n in tree.nodes.items()}


# ---------------------------------------------------------------- http

HTTP_TIMEOUT_S = 30


def http_addr(t, n):
    """(host, port) of N's HTTP listener, as its status says (127.0.0.1 in tests)."""
    addr = t.status(n).get("http_listen") or ""
    check(re.fullmatch(r"127\.0\.0\.1:\d+", addr) is not None and not addr.endswith(":0"),
          f"{n}: status http_listen is {addr!r}, expected 127.0.0.1 and the bound port")
    host, port = addr.rsplit(":", 1)
    return host, int(port)


def http_request(addr, method, path, body=None, headers=None, timeout=HTTP_TIMEOUT_S):
    """One request; returns (status, headers dict (lower-case), body bytes)."""
    c = http.client.HTTPConnection(addr[0], addr[1], timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def label_unescape(v):
    return v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def parse_metrics(text):
    """{(name, frozenset(labels)): float} and the families (HELP and TYPE)."""
    samples, helps, types = {}, set(), {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split(" ", 3)[2])
        elif line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
        elif line and not line.startswith("#"):
            m = SAMPLE.match(line)
            check(m is not None, f"metrics: cannot parse {line!r}")
            labels = {}
            for k, v in LABEL.findall(m.group(2) or ""):
                labels[k] = label_unescape(v)
            key = (m.group(1), frozenset(labels.items()))
            check(key not in samples, f"metrics: {line!r} twice")
            samples[key] = float(m.group(3))
    return samples, helps, types


# ---------------------------------------------------------------- main

def main(test, name=None, test_clock=False):
    """Run test(tree) and exit 0 on success, 1 on failure (tree kept).
    test_clock: start every node with jzfpd --test-clock."""
    name = name or os.path.splitext(os.path.basename(sys.argv[0]))[0]
    for prog in (JZFPD, JZFPCTL):
        if not os.access(prog, os.X_OK):
            print(f"{name}: {prog} not found; set JZFP_BIN to the build's bin directory",
                  file=sys.stderr)
            sys.exit(1)
    # Every jzfpd the tests start merges its version index at 4 versions
    # kept apart and folds a household's at 2 (node/registry/version.h;
    # 65,536 and 32 in production), so that both happen in the middle of
    # what the tests do, under kills and restarts, and every rollup --verify
    # checks the result.
    os.environ.setdefault("JZFP_TEST_VERSION_MERGE_AT", "4")
    os.environ.setdefault("JZFP_TEST_VERSION_PEND_MAX", "2")
    t = Tree(name, test_clock=test_clock)
    start = time.monotonic()
    ok = False
    try:
        test(t)
        t.stop_all()
        stop_long_polls()
        if t.problems:
            raise Failure(f"{len(t.problems)} check(s) failed:\n  " + "\n  ".join(t.problems))
        ok = True
    except Failure as e:
        print(f"\nFAIL {name}: {e}", file=sys.stderr)
    except Exception:
        print(f"\nFAIL {name}: unexpected exception", file=sys.stderr)
        traceback.print_exc()
    if not ok:
        stop_long_polls()
        t.cleanup_processes()
        t.dump_logs()
        print(f"\n{name}: FAILED after {time.monotonic() - start:.1f} s ({WAIT_STATS}); "
              f"test directory kept: {t.dir}", file=sys.stderr)
        sys.exit(1)
    shutil.rmtree(t.dir, ignore_errors=True)
    log(f"{name}: passed in {time.monotonic() - start:.1f} s ({WAIT_STATS['waits']} waits, "
        f"{WAIT_STATS['rounds']} rounds, {WAIT_STATS['long_polls']} long polls)")
    sys.exit(0)
