#!/usr/bin/env python3
"""The read-only HTTP server ([http] listen, node/http/): metrics, API, dashboard.

A province (青海省) with two counties, each with a township and a village with
a census and households; the province and one county serve HTTP on
127.0.0.1 port 0, and the test reads the bound port from `status --json`
(http_listen).

  - GET /metrics is valid under `promtool check metrics` (Debian
    `prometheus`) and its figures are those of `status --json`: each value
    read between two status calls equals one of them (exactly for what does
    not move, between them for what can); every required family is there,
    with a sample per child, per refusal reason and per open state. Its
    area figures (jzfp_area_*) are the rows of `jzfpctl rollup --format
    csv` at the node's own level down to its children's, exactly, for those
    areas and no other. The subtree's nodes are counted by level and state
    (jzfp_tree_nodes), and a stopped township is listed stale alone
    (jzfp_tree_stale_seconds), not its village below it.
  - a rollup asked twice at the same store snapshot is answered from the
    kept copy (metrics count the hit), and after a change it is read anew;
  - /api/rollup at every level (and with under and year) is byte for byte
    `jzfpctl rollup --format csv` and `--json`; /api/status and /api/tree
    have the keys of `status --json` and `tree --json`, and the same nodes.
  - configs/prometheus/jzfp-alerts.yml passes promtool check and test rules
    (tests/data/prometheus) and names only metrics found here.
  - Anything but GET/HEAD of a known path is 404 or 405 (with Allow); bad
    query values, unknown and repeated parameters are 400 with a JSON error
    naming them; /api/proposals equals `jzfpctl proposals --json`, and read
    in pages (limit, after) it is the same list; no household is reachable.
  - Idle and half-sent connections and a huge header do not stop the
    server: a request made while they are open is answered. Requests that
    come in a byte at a time (headers, a GET's body, a keep-alive's second
    request) are closed at [http] header_timeout, none before, counted;
    an idle keep-alive connection and an answer read after the deadline
    (also a 7 MB one, in the answer budget's check) are not cut.
  - configs/grafana/jzfp-dashboard.json: its layout is checked, and a real
    Prometheus server on 127.0.0.1 scraping the province and a county
    answers every panel's query, the province's incidence as rollup's, and
    evaluates the alert rules without error.
  - The dashboard in headless Chromium (Debian `chromium`): the DOM holds
    every county's name and incidence figure from `rollup`, and a
    screenshot is kept in the build tree (path in the log). Only this part
    is skipped, with a message, when Chromium cannot run at all.
"""

import csv
import decimal
import html
import http.client
import io
import json
import os
import re
import select
import shutil
import socket
import subprocess
import time
import urllib.parse

import chromium
import jzfptest as jt
from jzfptest import check, check_eq, http_addr, parse_metrics
from jzfptest import http_request as request

YEAR = 2020
PROV = "630000000000"
# The second county's name tests escaping: HTML, CSV, JSON and label values.
COUNTIES = {"630121000000": "大通县", "630122000000": '湟中区<i>"&\\'}
TOWNSHIPS = {"630121101000": "桥头镇", "630122102000": "鲁沙尔镇"}
VILLAGES = {"630121101001": "630121101000", "630122102003": "630122102000"}
REQUIRED = ["jzfp_records_held", "jzfp_up_backlog_records", "jzfp_down_backlog_records",
            "jzfp_parent_connected", "jzfp_child_connected", "jzfp_child_last_seen_seconds",
            "jzfp_refused_total", "jzfp_workflow_steps_total", "jzfp_open_proposals",
            "jzfp_receipt_age_seconds", "jzfp_store_used_bytes", "jzfp_store_map_bytes",
            "jzfp_disk_free_bytes", "jzfp_build_info", "jzfp_node_info", "jzfp_receipt_intact",
            "jzfp_disk_low", "jzfp_own_steps_refused", "jzfp_child_refused_total",
            "jzfp_may_sign", "jzfp_clock_behind_seconds", "jzfp_store_failing",
            "jzfp_store_write_failures_total", "jzfp_store_damaged",
            "jzfp_registry_failing", "jzfp_receipt_unconfirmed_records",
            "jzfp_tree_stale_seconds",
            # Prometheus's client libraries' process collector, same names.
            "process_cpu_seconds_total", "process_resident_memory_bytes",
            "process_virtual_memory_bytes", "process_start_time_seconds", "process_threads",
            "process_open_fds", "process_max_fds"]
# Shown only while a node of the subtree is stale (check_tree_metrics).
WHEN_STALE = ("jzfp_tree_stale_seconds",)
# What a node without a parent (the province) does not show.
PARENT_ONLY = ("jzfp_up_backlog_records", "jzfp_down_backlog_records", "jzfp_parent_connected",
               "jzfp_receipt_age_seconds", "jzfp_receipt_intact",
               "jzfp_receipt_unconfirmed_records")
ALERTS = os.path.join(jt.SRC, "configs", "prometheus", "jzfp-alerts.yml")
ALERTS_TEST = os.path.join(jt.SRC, "tests", "data", "prometheus", "jzfp-alerts-test.yml")
# [http] header_timeout of the test's HTTP nodes (default 10). They run with
# the test clock, which moves the deadline too: the test moves it a minute at
# a time (`clock advance`), 60 s below it and 120 s past it, never waiting.
HEADER_TIMEOUT = 90
PER_IP = 6          # [http] per_address of the test's nodes (default 16)


def with_http(t, nodes):
    """Make the harness write [http] listen = 127.0.0.1:0 into NODES' configs,
    with the debug log: its line for each request answered and each one
    begun or closed at the deadline is what the test's waits wake on."""
    write = t.write_conf

    def write_conf(n):
        write(n)
        if n in nodes:
            with open(n.conf, encoding="utf-8") as f:
                text = f.read().replace("log_level = info", "log_level = debug", 1)
            with open(n.conf, "w", encoding="utf-8") as f:
                f.write(text + f"\n[http]\nlisten = 127.0.0.1:0\n"
                        f"header_timeout = {HEADER_TIMEOUT}\nper_address = {PER_IP}\n")
    t.write_conf = write_conf


def began(t, n, sock):
    """Wait until N's request deadline has seen the request on SOCK begin
    (its debug line, by the client's port)."""
    port = sock.getsockname()[1]
    t.wait_for(f"{n}: the request from port {port} seen",
               lambda: t.grep_log(n, rf"http: a request from port {port} began"), nodes=[n])


def advance(t, n, minutes):
    """Move N's test clock, and with it its request deadline, MINUTES on."""
    t.ctl_text(n, "clock", "advance", f"{minutes}m")


def wait_closed(n, socks, what):
    """Block until the server has closed every socket of SOCKS (each reads
    its end): no data may come first. Bounded by the test's budget."""
    left_ = set(socks)
    end = jt.deadline(60)
    for _ in range(100000):
        if not left_:
            return
        wait = end - time.monotonic()
        check(wait > 0, f"{n}: {len(left_)} of {len(socks)} {what} still open after 60 s")
        readable, _, _ = select.select(list(left_), [], [], wait)
        for s in readable:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            check(data == b"", f"{n}: {what}: answered instead of closed: {data[:80]!r}")
            left_.discard(s)


def still_open(n, socks, what):
    """None of SOCKS closed or answered yet (checked at once)."""
    readable, _, _ = select.select(list(socks), [], [], 0)
    check(not readable, f"{n}: {len(readable)} of the {what} closed or answered too soon")


def get(addr, path):
    st, hd, body = request(addr, "GET", path)
    check_eq(st, 200, f"GET {path}: status (body {body[:200]!r})")
    return hd, body


# ---------------------------------------------------------------- metrics

def promtool_check(text, what):
    promtool = shutil.which("promtool")
    check(promtool is not None,
          "promtool not found: install Debian's prometheus (bash scripts/deps.sh --test)")
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 0,
          f"{what}: promtool check metrics: exit {p.returncode}: {p.stdout}{p.stderr}")
    jt.log(f"{what}: promtool check metrics: ok ({len(text.splitlines())} lines)")


ANSWER_BUDGET = 256 << 20  # node/http/http.c HTTP_MAX_INFLIGHT
KEPT_BUDGET = 32 << 20     # node/http/rcache.h: the kept rollups, counted in it too


def metric_of(addr, name):
    samples, _, _ = parse_metrics(get(addr, "/metrics")[1].decode("utf-8"))
    return samples[(name, frozenset())]


def check_answer_budget(t, n, addr):
    """Clients that ask for large fresh rollups (Cache-Control: no-cache) and
    read none of them: the node holds at most its budget of answers, refuses
    the next with 503 and Retry-After (counted in jzfp_http_busy_total), goes
    on answering /metrics, and answers fresh rollups again once they are
    gone. The village-level answer is made large by a census of 15,000
    villages under N."""
    villages = [f"{n.area[:6]}{tw:03d}{v:03d}" for tw in range(201, 351) for v in range(1, 101)]
    census = jt.gen_census(os.path.join(t.dir, "census-15000.csv"), villages, YEAR, seed=21)
    t.import_ok(n, "census", census)
    path = f"/api/rollup?level=village&year={YEAR}&format=json"
    size = len(get(addr, path)[1])
    held = ANSWER_BUDGET // size + 2  # answers that must pass the budget
    clients = held + 4
    check(clients <= 60, f"{size}-byte answers: {clients} slow clients, more than 60")
    before = metric_of(addr, "jzfp_http_busy_total")
    req = (f"GET {path} HTTP/1.1\r\nHost: t\r\nCache-Control: no-cache\r\n\r\n").encode()
    socks = []
    try:
        for i in range(clients):  # PER_IP connections per address at most
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(jt.HTTP_TIMEOUT_S)
            s.bind((f"127.0.0.{2 + i // PER_IP}", 0))
            s.connect(addr)
            s.sendall(req)
            socks.append(s)
        heads = []
        for s in socks:
            line = b""
            while not line.endswith(b"\r\n") and len(line) < 64:
                line += s.recv(1)
            heads.append(line.decode().strip())
        served = sum(h.startswith("HTTP/1.1 200") for h in heads)
        busy = sum(h.startswith("HTTP/1.1 503") for h in heads)
        jt.log(f"{n}: {clients} slow clients of {size}-byte rollups: {served} served, "
               f"{busy} refused")
        # Each of the server's two threads may go one answer over; the kept
        # rollups take their part of the budget.
        check(served + busy == clients and busy >= 2
              and (ANSWER_BUDGET - KEPT_BUDGET) // size - 1 <= served
              and served * size <= ANSWER_BUDGET + 2 * size,
              f"{n}: slow clients' answers: {heads}")
        st, hd, body = request(addr, "GET", path, headers={"Cache-Control": "no-cache"})
        check(st == 503 and hd.get("retry-after") == "5" and body.startswith(b"busy: "),
              f"{n}: a fresh rollup while they wait: {st} {hd} {body[:120]!r}")
        check_eq(metric_of(addr, "jzfp_http_busy_total"), before + busy + 1,
                 f"{n}: jzfp_http_busy_total")
        check(metric_of(addr, "jzfp_http_answer_bytes") >= served * size,
              f"{n}: jzfp_http_answer_bytes while {served} answers are held")
        # An answer read slowly is not cut at the request deadline: the clock
        # moved past it, a probe's request cut (so the deadline's watch has
        # looked at every connection since), then read whole.
        probe = socket.create_connection(addr, timeout=jt.HTTP_TIMEOUT_S,
                                         source_address=("127.0.0.9", 0))
        probe.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        began(t, n, probe)
        advance(t, n, 2)
        wait_closed(n, [probe], "probe (a request begun before the clock moved)")
        probe.close()
        k = next(i for i, h in enumerate(heads) if h.startswith("HTTP/1.1 200"))
        line, body = read_answer(socks[k], heads[k].encode() + b"\r\n")
        check(len(body) == size and body.rstrip().endswith(b"}"),
              f"{n}: a slow reader's answer after the deadline: {len(body)} of {size} bytes")
    finally:
        for s in socks:
            s.close()
    # Freed as libmicrohttpd closes those connections: answered again.
    t.wait_for(f"{n}: a fresh rollup answered once the slow clients are gone",
               lambda: request(addr, "GET", path, headers={"Cache-Control": "no-cache"})[0]
               == 200, timeout=60)


def check_alert_rules():
    """configs/prometheus/jzfp-alerts.yml: promtool accepts it, its unit tests
    (tests/data/prometheus) pass, and every jzfp metric it names is one this
    test finds on a node's /metrics (REQUIRED): a renamed metric would leave
    an alert that never fires."""
    promtool = shutil.which("promtool")
    check(promtool is not None, "promtool not found: install Debian's prometheus")
    for args in (["check", "rules", ALERTS], ["test", "rules", ALERTS_TEST]):
        p = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120,
                           cwd=os.path.dirname(ALERTS_TEST))
        check(p.returncode == 0, f"promtool {' '.join(args[:2])}: exit {p.returncode}: "
              f"{p.stdout[-1500:]}{p.stderr[-500:]}")
    with open(ALERTS, encoding="utf-8") as f:
        named = set(re.findall(r"\bjzfp_[a-z_]+\b", f.read()))
    check(named and named <= set(REQUIRED),
          f"alert rules name metrics no node shows: {sorted(named - set(REQUIRED))}")
    jt.log(f"alert rules: promtool check and test ok; {len(named)} metrics, all on /metrics")


GRAFANA = os.path.join(jt.SRC, "configs", "grafana", "jzfp-dashboard.json")


def check_dashboard_model(d):
    """The Grafana dashboard's shape: each panel with a unique id, the
    datasource variable, a place on the 24-column grid that no other panel
    covers, queries with unique refIds, thresholds of its own, and no
    sparkline over an instant query. Returns [(panel title, expr)]."""
    check([v["name"] for v in d["templating"]["list"] if v["type"] == "datasource"] ==
          ["datasource"], "grafana: no datasource variable")
    ids, cells, exprs = set(), {}, []
    for p in d["panels"]:
        title = p["title"]
        check(p["id"] not in ids, f"grafana: panel id {p['id']} twice")
        ids.add(p["id"])
        g = p["gridPos"]
        check(g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24 and g["h"] > 0,
              f"grafana: {title}: off the grid: {g}")
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                check((x, y) not in cells, f"grafana: {title} overlaps {cells.get((x, y))}")
                cells[(x, y)] = title
        check(p["datasource"] == {"type": "prometheus", "uid": "${datasource}"},
              f"grafana: {title}: datasource {p['datasource']}")
        refs = [q["refId"] for q in p["targets"]]
        check(refs and len(set(refs)) == len(refs), f"grafana: {title}: refIds {refs}")
        exprs += [(title, q["expr"]) for q in p["targets"]]
        # Grafana's default thresholds (red from 80) would paint any count red.
        steps = p["fieldConfig"]["defaults"].get("thresholds", {}).get("steps")
        check(steps and steps[0]["value"] is None, f"grafana: {title}: thresholds {steps}")
        if p["type"] == "stat" and any(q.get("instant") for q in p["targets"]):
            check(p["options"].get("graphMode", "area") == "none",
                  f"grafana: {title}: a sparkline of an instant query")
    return exprs


def prom_get(port, path, **query):
    """GET Prometheus's API PATH; its data. A failure names the answer."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=jt.HTTP_TIMEOUT_S)
    try:
        c.request("GET", path + ("?" + urllib.parse.urlencode(query) if query else ""))
        r = c.getresponse()
        body = r.read()
    finally:
        c.close()
    check(r.status == 200, f"prometheus {path} {query}: {r.status} {body[:300]!r}")
    doc = json.loads(body)
    check(doc.get("status") == "success", f"prometheus {path} {query}: {doc}")
    return doc["data"]


def start_prometheus(t, targets):
    """A Prometheus server (Debian's) on 127.0.0.1 scraping TARGETS every
    second and evaluating the alert rules every second: (process, port). A
    port another process took meanwhile is tried again with another."""
    prom = shutil.which("prometheus")
    check(prom is not None, "prometheus not found: install Debian's prometheus")
    conf = os.path.join(t.dir, "prometheus.yml")
    with open(conf, "w", encoding="utf-8") as f:
        f.write("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                f"rule_files: ['{ALERTS}']\n"
                "scrape_configs:\n  - job_name: jzfp\n    static_configs:\n"
                f"      - targets: {json.dumps([f'{h}:{p}' for h, p in targets])}\n")
    for attempt in range(5):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = os.path.join(t.dir, f"prometheus-{attempt}.log")
        logf = open(log, "wb")
        proc = subprocess.Popen([prom, f"--config.file={conf}",
                                 f"--storage.tsdb.path={os.path.join(t.dir, 'prom', str(attempt))}",
                                 f"--web.listen-address=127.0.0.1:{port}", "--log.level=info"],
                                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        logf.close()
        server = Process(proc, log)

        def ready():
            if proc.poll() is not None:
                return "exited"
            return "ready" if "Server is ready to receive web requests" in server.text() else None
        # Woken by its log's lines, or its exit.
        state = t.wait_for("prometheus ready", ready, timeout=60, nodes=[server])
        if state == "ready":
            return proc, port
        check("address already in use" in server.text(),
              f"prometheus exited: {server.text()[-800:]}")
    raise jt.Failure("prometheus: no free port in 5 tries")


class Process:
    """A server the test started that is not a node, as the harness's waits
    take it: woken by its log file's writes and by its exit."""

    def __init__(self, proc, logfile):
        self.proc, self.logfile = proc, logfile

    def text(self):
        with open(self.logfile, encoding="utf-8", errors="replace") as f:
            return f.read()


def check_grafana(t, prov, nodes, addrs):
    """configs/grafana/jzfp-dashboard.json against a real Prometheus server
    scraping the province and a county: every query of every panel returns
    series (a renamed metric or a wrong label would leave a panel empty),
    the province's incidence is the rollup's, and the server loaded the
    alert rules and evaluates them without error. Grafana itself is not run
    (not a Debian package)."""
    with open(GRAFANA, encoding="utf-8") as f:
        exprs = check_dashboard_model(json.load(f))
    proc, port = start_prometheus(t, addrs)
    try:
        def empty():
            return [(title, e) for title, e in exprs
                    if not prom_get(port, "/api/v1/query", query=e)["result"]]
        left = []

        def all_answer():
            left[:] = empty()
            return not left
        # Woken by each scrape (the nodes' debug line for GET /metrics).
        try:
            t.wait_for("every dashboard query answered", all_answer, timeout=60, nodes=nodes)
        except jt.Failure:
            raise jt.Failure(f"grafana: queries without series: {left}")
        inc_expr = next(e for _, e in exprs
                        if "jzfp_area_poverty_incidence_ratio{level=\"province\"}" in e)
        inc = prom_get(port, "/api/v1/query", query=inc_expr)["result"]
        row = next(csv.DictReader(io.StringIO(t.ctl_text(
            prov, "rollup", "--level", "province", "--format", "csv"))))
        check_eq([(r["metric"]["area"], float(r["value"][1])) for r in inc],
                 [(prov.area, area_value("incidence_pct", row))],
                 "grafana: the province's incidence through Prometheus")

        def rules_evaluated():
            groups = prom_get(port, "/api/v1/rules")["groups"]
            rules = [r for g in groups for r in g["rules"]]
            return rules if rules and all(r["health"] != "unknown" for r in rules) else None
        rules = t.wait_for("alert rules evaluated", rules_evaluated, timeout=60, nodes=nodes)
        bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
        check(not bad, f"prometheus: alert rules failing: {bad}")
        jt.log(f"grafana: {len(exprs)} queries of the dashboard answered by Prometheus; "
               f"{len(rules)} alert rules evaluated ok")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def between(v, a, b, what):
    lo, hi = min(a, b), max(a, b)
    check(lo <= v <= hi, f"{what}: metric {v} not between the status values {a} and {b}")


def check_process(n, pid, val):
    """The process_* families against what /proc says of the daemon's PID:
    its resident size and threads now (within a factor: it may change in
    between), its start time, its CPU seconds, its descriptors."""
    with open(f"/proc/{pid}/statm") as f:
        resident = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    rss = val("process_resident_memory_bytes")
    check(resident / 2 < rss < resident * 2, f"{n}: resident {rss}, /proc says {resident}")
    check(val("process_virtual_memory_bytes") >= rss, f"{n}: virtual below resident")
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        btime = next(int(x.split()[1]) for x in f if x.startswith("btime "))
    started = btime + int(fields[22 - 3]) / tick
    check(abs(val("process_start_time_seconds") - started) < 2,
          f"{n}: start time {val('process_start_time_seconds')}, /proc says {started}")
    check(started <= time.time(), f"{n}: started in the future")
    cpu = (int(fields[14 - 3]) + int(fields[15 - 3])) / tick
    check(0 <= val("process_cpu_seconds_total") <= cpu,
          f"{n}: cpu {val('process_cpu_seconds_total')} s, /proc says {cpu} s since")
    threads = len(os.listdir(f"/proc/{pid}/task"))
    check(val("process_threads") >= 3 and abs(val("process_threads") - threads) <= 2,
          f"{n}: threads {val('process_threads')}, /proc has {threads}")
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    check(3 <= val("process_open_fds") <= val("process_max_fds"),
          f"{n}: open fds {val('process_open_fds')} of {val('process_max_fds')}")
    check(abs(val("process_open_fds") - fds) <= 16, f"{n}: open fds {val('process_open_fds')}, "
          f"/proc has {fds}")


def check_metrics(t, n, addr, children):
    t0 = time.monotonic()
    st1 = t.status(n)
    hd, body = get(addr, "/metrics")
    st2 = t.status(n)
    elapsed = time.monotonic() - t0
    check(hd.get("content-type", "").startswith("text/plain; version=0.0.4"),
          f"{n}: /metrics content type {hd.get('content-type')!r}")
    text = body.decode("utf-8")
    promtool_check(text, f"{n} /metrics")
    m, helps, types = parse_metrics(text)
    # The province makes the receipts: none of its own in its status.
    check((st1.get("receipt") is None) == (not st1.get("parent")),
          f"{n}: receipt {st1.get('receipt')} with parent {st1.get('parent')}")

    def val(metric_, **labels):
        key = (metric_, frozenset(labels.items()))
        check(key in m, f"{n}: /metrics has no {metric_}{labels or ''}")
        return m[key]

    for fam in REQUIRED:
        if fam in PARENT_ONLY and not st1.get("parent"):
            check(fam not in types, f"{n}: the province has no parent, yet {fam} is shown")
            continue
        if (fam.startswith("jzfp_child_") and not children) or fam in WHEN_STALE:
            continue
        check(fam in types and fam in helps, f"{n}: /metrics has no HELP/TYPE for {fam}")
        check(any(k[0] == fam for k in m), f"{n}: /metrics has no sample of {fam}")
    for name, typ in types.items():
        check((typ == "counter") == name.endswith("_total"), f"{n}: {name} is a {typ}")

    check_eq(val("jzfp_build_info", version=st1["version"]), 1.0, f"{n}: build_info")
    check_eq(val("jzfp_node_info", area=st1["area"], level=st1["level"], name=st1["name"]), 1.0,
             f"{n}: node_info (a Chinese name as a label value)")
    between(val("jzfp_records_held"), st1["records"], st2["records"], f"{n}: records_held")
    between(val("jzfp_store_used_bytes"), st1["store"]["used_bytes"],
            st2["store"]["used_bytes"], f"{n}: store_used_bytes")
    check_eq(val("jzfp_store_map_bytes"), float(st1["store"]["map_bytes"]),
             f"{n}: store_map_bytes")
    check_eq(val("jzfp_store_failing"), float(bool(st1["store"]["error"])), f"{n}: store_failing")
    check_eq(val("jzfp_may_sign"), float(st1["may_sign"]), f"{n}: may_sign")
    # Other processes write to the disk: equal to a status value, or near.
    free = val("jzfp_disk_free_bytes")
    check(min(abs(free - st1["store"]["disk_free_bytes"]),
              abs(free - st2["store"]["disk_free_bytes"])) < 256 << 20,
          f"{n}: disk_free_bytes {free} far from status {st1['store']['disk_free_bytes']}")
    check_process(n, n.proc.pid, val)
    reasons = st1["refused_by_reason"]
    check_eq(sorted(reasons), ["equivocation", "gap", "other"], f"{n}: refusal reasons")
    for r, v in reasons.items():
        between(val("jzfp_refused_total", reason=r), v, st2["refused_by_reason"][r],
                f"{n}: refused_total{{reason={r}}}")
    check_eq(sum(reasons.values()), st1["refused"], f"{n}: refusals by reason add up")
    between(val("jzfp_workflow_steps_total", result="applied"), st1["workflow"]["applied"],
            st2["workflow"]["applied"], f"{n}: workflow steps applied")
    between(val("jzfp_workflow_steps_total", result="refused"), st1["workflow"]["refused"],
            st2["workflow"]["refused"], f"{n}: workflow steps refused")
    by_state = st1["workflow"]["open_by_state"]
    check("VILLAGE_NOTICE" in by_state and "RECORDED" not in by_state,
          f"{n}: open_by_state has the open states only: {sorted(by_state)}")
    for state, v in by_state.items():
        check_eq(val("jzfp_open_proposals", state=state), float(v),
                 f"{n}: open_proposals{{state={state}}}")
    check_eq(sum(by_state.values()), st1["workflow"]["open_proposals"],
             f"{n}: open proposals by state add up")
    between(val("jzfp_own_steps_refused"), st1["workflow"]["own_steps_refused"],
            st2["workflow"]["own_steps_refused"], f"{n}: own steps refused")
    if st1.get("parent"):
        check_eq(val("jzfp_parent_connected"), float(st1["parent"]["connected"]),
                 f"{n}: parent_connected")
        between(val("jzfp_up_backlog_records"), st1["parent"]["backlog"],
                st2["parent"]["backlog"], f"{n}: up_backlog_records")
        between(val("jzfp_down_backlog_records"), st1["down"]["backlog"],
                st2["down"]["backlog"], f"{n}: down_backlog_records")
        check(st1["receipt"]["at"] is not None, f"{n}: no receipt time in status")
        # The metric is the age of the same receipt status shows: between the
        # two readings when no receipt came in between; else a new one reset it.
        # (No bound in wall-clock seconds: receipts come every RECEIPT_MS, but a
        # loaded machine may delay them.)
        unconfirmed = [x["receipt"]["of"] - x["receipt"]["seq"] for x in (st1, st2)]
        between(val("jzfp_receipt_unconfirmed_records"), min(unconfirmed), max(unconfirmed),
                f"{n}: receipt_unconfirmed_records")
        age = val("jzfp_receipt_age_seconds")
        if st1["receipt"]["at"] == st2["receipt"]["at"]:
            between(age, st1["receipt"]["age_s"] - 1, st2["receipt"]["age_s"] + 1,
                    f"{n}: receipt_age_seconds")
        else:
            between(age, 0, max(st1["receipt"]["age_s"] + elapsed, st2["receipt"]["age_s"]) + 1,
                    f"{n}: receipt_age_seconds (a receipt came in between)")
    by_child = {c["area"]: c for c in st1["children"]}
    check_eq(sorted(by_child), sorted(children), f"{n}: children in status")
    for area, c in by_child.items():
        c2 = next(x for x in st2["children"] if x["area"] == area)
        check_eq(val("jzfp_child_connected", child=area, name=c["name"], level=c["level"]), 1.0,
                 f"{n}: child_connected{{child={area}}}")
        # Heartbeats reset it: within what counts as connected.
        between(val("jzfp_child_last_seen_seconds", child=area, name=c["name"]), 0,
                3 * jt.HEARTBEAT_MS / 1000 + 2, f"{n}: child_last_seen_seconds{{child={area}}}")
        check(c["connected"] and c2["connected"], f"{n}: child {area} not connected")
    check_area_metrics(t, n, text, m)
    # HEAD: the headers, no body.
    st, hd, body = request(addr, "HEAD", "/metrics")
    check_eq((st, body), (200, b""), f"{n}: HEAD /metrics")


# The registry's figures on /metrics: the metric, the rollup CSV's column.
AREA_FIGS = {"jzfp_area_rural_population": "rural_population",
             "jzfp_area_poor_households": "poor_households",
             "jzfp_area_poor_persons": "poor_persons",
             "jzfp_area_poverty_incidence_ratio": "incidence_pct",
             "jzfp_area_below_threshold": "below_threshold",
             "jzfp_area_pending_proposals": "pending"}
# The rollup levels a node's /metrics shows: its own, down to its children's.
AREA_LEVELS = {"province": ["province", "prefecture", "county"], "county": ["county", "township"],
               "township": ["township", "village"], "village": ["village"]}


def area_value(col, row):
    """The metric's value for column COL of rollup CSV row ROW; None when
    the metric has no sample for it. The incidence is the quotient itself
    (the CSV's is rounded to 0.01 %), as a double."""
    cell = row[col]
    if col == "below_threshold":
        return {"yes": 1.0, "no": 0.0}.get(cell)
    if col == "incidence_pct":
        pop = int(row["rural_population"])
        return int(row["poor_persons"]) / pop if pop else None
    return float(int(cell))


def check_area_metrics(t, n, text, m):
    """Each area figure on N's /metrics (TEXT, parsed M) is its row of
    `jzfpctl rollup --format csv` at N's levels, exactly (the incidence the
    double nearest poor persons / population), for every row and no other
    area."""
    got = {}
    for line in text.splitlines():
        s = jt.SAMPLE.match(line)
        if s and s.group(1) in AREA_FIGS:
            labels = dict(jt.LABEL.findall(s.group(2)))
            got[(s.group(1), labels["area"])] = (labels, float(s.group(3)))
    want, year, threshold = {}, None, None
    for level in AREA_LEVELS[n.level]:
        rows = csv.DictReader(io.StringIO(t.ctl_text(n, "rollup", "--level", level, "--under",
                                                     n.area, "--format", "csv")))
        for r in rows:
            year, threshold = r["year"], r["threshold_pct"]
            for fam, col in AREA_FIGS.items():
                v = area_value(col, r)
                if v is not None:
                    want[(fam, r["area"])] = (r["level"], r["name"], v)
    check(len(want) >= 2 * len(AREA_FIGS), f"{n}: rollups too small to check: {want}")
    check_eq(sorted(got), sorted(want), f"{n}: /metrics area figures (metric, area)")
    for key, (level, name, v) in want.items():
        labels, value = got[key]
        check_eq((labels["level"], jt.label_unescape(labels["name"])), (level, name),
                 f"{n}: {key[0]}{{area={key[1]}}} labels")
        check_eq(value, v, f"{n}: {key[0]}{{area={key[1]}}}")
    check_eq(m[("jzfp_rollup_year", frozenset())], float(year), f"{n}: jzfp_rollup_year")
    check_eq(decimal.Decimal(repr(m[("jzfp_exit_threshold_ratio", frozenset())])),
             decimal.Decimal(threshold) / 100, f"{n}: jzfp_exit_threshold_ratio")
    jt.log(f"{n}: /metrics: {len(got)} area figures equal to the rollups")


# ---------------------------------------------------------------- api

def check_api(t, n, addr):
    cases = []
    for level in jt.rollup_levels(n):
        cases.append(["--level", level])
    for under, more in (("630121000000", ["--level", "village"]),
                        ("630122000000", ["--level", "township", "--year", str(YEAR)])):
        if n.level == "province" or under == n.area:
            cases.append([*more, "--under", under])
        else:  # another county's: this one holds nothing there, and says so
            st, _, body = request(addr, "GET", f"/api/rollup?under={under}")
            check(st == 400 and f"--under {under} is outside this node's area" in
                  json.loads(body).get("error", ""), f"{n}: /api/rollup?under={under}: {st}")
    cases.append(["--year", str(YEAR - 1)])
    cases.append([])
    for args in cases:
        q = "&".join(f"{args[i][2:]}={args[i + 1]}" for i in range(0, len(args), 2))
        want_csv = t.ctl_text(n, "rollup", *args, "--format", "csv").encode("utf-8")
        hd, got = get(addr, f"/api/rollup?{q}&format=csv")
        check_eq(got, want_csv, f"{n}: /api/rollup?{q}&format=csv against rollup --format csv")
        check(hd.get("content-type", "").startswith("text/csv"), f"CSV content type {hd}")
        want_json = t.ctl_text(n, "rollup", *args, "--json").encode("utf-8")
        hd, got = get(addr, f"/api/rollup?{q}")
        check_eq(got, want_json, f"{n}: /api/rollup?{q} against rollup --json")
        check(hd.get("content-type", "").startswith("application/json"), f"JSON type {hd}")
    jt.log(f"{n}: /api/rollup equals jzfpctl rollup in {len(cases)} cases, CSV and JSON")
    # A level above the node's: its share under the whole's name, refused.
    for level in jt.ROLLUP_LEVELS[len(jt.rollup_levels(n)):]:
        st, _, body = request(addr, "GET", f"/api/rollup?level={level}")
        p = t.run_ctl(n, "rollup", "--level", level)
        says = f"--level {level} is above this {n.level}"
        check(st == 400 and says in json.loads(body).get("error", "") and
              p.returncode == 1 and says in p.stderr,
              f"{n}: rollup --level {level}: HTTP {st} {body[:200]!r}, jzfpctl exit "
              f"{p.returncode} {p.stderr.strip()!r}")

    st = json.loads(get(addr, "/api/status")[1])
    want = t.status(n)
    check_eq(sorted(st), sorted(want), f"{n}: /api/status keys")
    for k in ("area", "level", "name", "version", "http_listen", "listen", "insecure"):
        check_eq(st[k], want[k], f"{n}: /api/status {k}")
    check(st["now"].endswith("+08:00"), f"{n}: /api/status time {st['now']!r} not in +08:00")
    tree = json.loads(get(addr, "/api/tree")[1])
    want = t.ctl(n, "tree", "--json")
    check_eq(sorted(tree), sorted(want), f"{n}: /api/tree keys")
    check_eq([x["area"] for x in tree["nodes"]], [x["area"] for x in want["nodes"]],
             f"{n}: /api/tree nodes")


def rollup_answers(addr, kinds=("hit", "miss")):
    """jzfp_http_rollup_answers_total of each cache= in KINDS in ADDR's metrics."""
    samples, _, _ = parse_metrics(get(addr, "/metrics")[1].decode("utf-8"))
    return tuple(samples.get(("jzfp_http_rollup_answers_total", frozenset({("cache", c)})))
                 for c in kinds)


def request_no_cache(addr, path):
    st, hd, body = request(addr, "GET", path, headers={"Cache-Control": "no-cache"})
    check_eq(st, 200, f"GET {path} with no-cache")
    return hd, body


def check_rollup_cache(t, n, addr, village, more):
    """A rollup asked again at the same store snapshot is the kept answer
    (a hit, the same bytes); with Cache-Control: no-cache it is read (a
    miss); after a commit it is read anew: it equals jzfpctl's, which the
    village's new households changed."""
    path = "/api/rollup?level=village&format=csv"
    for _ in range(50):  # a commit between the two (a receipt) makes an update: again
        h0, m0, u0 = rollup_answers(addr, ("hit", "miss", "update"))
        _, first = get(addr, path)
        _, again = get(addr, path)
        h1, m1, u1 = rollup_answers(addr, ("hit", "miss", "update"))
        check(None not in (h0, m0, u0), f"{n}: no rollup cache counters")
        check_eq(h1 + m1 + u1, h0 + m0 + u0 + 2,
                 f"{n}: rollups counted between two metrics reads")
        if h1 == h0 + 1:
            break
    else:
        raise jt.Failure(f"{n}: the same rollup at the same snapshot was never a cache hit")
    check_eq(again, first, f"{n}: the kept rollup against the one read")
    h0, m0 = rollup_answers(addr)
    _, fresh = request_no_cache(addr, path)
    h1, m1 = rollup_answers(addr)
    check_eq((h1, m1), (h0, m0 + 1), f"{n}: (hits, misses) after a GET with no-cache")
    check_eq(fresh, first, f"{n}: the rollup read anew against the kept one")
    # The dashboard keeps its rollup sections the same way: loaded twice, the
    # second takes them kept; check_dashboard, after the import below, finds
    # the page as the rollups are then.
    for _ in range(50):
        h0, _ = rollup_answers(addr)
        get(addr, "/")
        get(addr, "/")
        h1, _ = rollup_answers(addr)
        if h1 > h0:
            break
    else:
        raise jt.Failure(f"{n}: the dashboard's rollup sections were never kept")
    t.import_ok(village, "households", more)
    t.wait_synced()
    _, after = get(addr, path)
    want = t.ctl_text(n, "rollup", "--level", "village", "--format", "csv").encode("utf-8")
    check_eq(after, want, f"{n}: /api/rollup after a change against rollup --format csv")
    check(after != first, f"{n}: the village's new households did not change its rollup row")
    jt.log(f"{n}: rollup over HTTP kept per snapshot, read anew after a change")


def check_rollup_update(t, n, addr, village, county, step, files):
    """After a commit, a rollup kept with its rows apart is updated: only the
    rows the commit may have changed are read again (metrics count an
    update, not a miss), and the answer is byte for byte the one read whole
    (no-cache) and jzfpctl's, at every level, under a county, and as JSON.
    STEP names the change; FILES are (node, kind, path) imports that make it."""
    queries = [("village", None, "csv"), ("township", None, "csv"), ("county", None, "csv"),
               ("village", county, "csv"), ("village", None, "json")]
    paths = [f"/api/rollup?level={lv}&format={fmt}" + (f"&under={u.area}" if u else "")
             for lv, u, fmt in queries]
    before = {p: get(addr, p)[1] for p in paths}  # kept, with their rows apart
    for node, kind, path in files:
        t.import_ok(node, kind, path)
    t.wait_synced()
    u0, m0 = rollup_answers(addr, ("update", "miss"))
    for (lv, u, fmt), p in zip(queries, paths):
        _, kept = get(addr, p)
        _, whole = request_no_cache(addr, p)
        args = ["rollup", "--level", lv] + (["--under", u.area] if u else [])
        args += ["--format", "csv"] if fmt == "csv" else ["--json"]
        want = t.ctl_text(n, *args).encode("utf-8")
        check_eq(kept, whole, f"{n}: {step}: {p} updated against read whole")
        check_eq(kept, want, f"{n}: {step}: {p} updated against jzfpctl {' '.join(args)}")
    u1, m1 = rollup_answers(addr, ("update", "miss"))
    check_eq(u1 - u0, len(paths), f"{n}: {step}: rollups updated, not read whole")
    check_eq(m1 - m0, len(paths), f"{n}: {step}: misses (the no-cache reads alone)")
    changed = [p for p in paths if before[p] != get(addr, p)[1]]
    check_eq(changed, paths, f"{n}: {step}: answers the change moved")
    jt.log(f"{n}: {step}: {len(paths)} rollups updated in place, equal to those read whole")


def check_refusals(n, addr):
    for path in ("/nope", "/api", "/api/household", "/api/households", "/api/household/show",
                 "/metrics/", "/index.html", "/../etc/passwd"):
        st, _, _ = request(addr, "GET", path)
        check_eq(st, 404, f"{n}: GET {path}")
    for method, path in (("POST", "/metrics"), ("PUT", "/"), ("DELETE", "/api/status"),
                         ("POST", "/api/rollup"), ("OPTIONS", "/api/tree")):
        st, hd, _ = request(addr, method, path, body=b"x" * 10 if method != "OPTIONS" else None)
        check_eq(st, 405, f"{n}: {method} {path}")
        check_eq(hd.get("allow"), "GET, HEAD", f"{n}: {method} {path}: Allow")
    st, _, _ = request(addr, "POST", "/nope", body=b"{}")
    check_eq(st, 404, f"{n}: POST of an unknown path")
    for q in ("level=street", "under=63012", "under=abc", "year=12", "year=2020x",
              "format=xlsx", "level=province&under=630121000000"):
        st, hd, body = request(addr, "GET", f"/api/rollup?{q}")
        check_eq(st, 400, f"{n}: /api/rollup?{q}")
        err = json.loads(body)
        check(err.get("error"), f"{n}: /api/rollup?{q}: no error in {body!r}")
    st, _, body_all = request(addr, "GET", "/api/proposals")
    check_eq(st, 200, f"{n}: /api/proposals")
    check_eq(json.loads(body_all), n.tree.ctl(n, "proposals", "--json"),
             f"{n}: /api/proposals equals jzfpctl proposals --json")
    st, _, body = request(addr, "GET", "/api/proposals?under=abc")
    check_eq(st, 400, f"{n}: /api/proposals with a bad area")
    # Pages of 2, each after the one before's next: the whole list, in order.
    whole = [p["household"] + p["proposal"] for p in json.loads(body_all)["proposals"]]
    check(len(whole) >= 3, f"{n}: too few open proposals to page: {whole}")
    paged, after = [], ""
    for _ in range(len(whole)):
        page = json.loads(get(addr, f"/api/proposals?limit=2&after={after}")[1])
        paged += [p["household"] + p["proposal"] for p in page["proposals"]]
        after = page["next"]
        if not after:
            break
    check_eq(paged, whole, f"{n}: /api/proposals in pages of 2")
    # jzfpctl: the text ends with the cursor, which --after takes
    text = n.tree.ctl_text(n, "proposals", "--limit", "1")
    m = re.search(r"^more follow: --after ([0-9a-f]{32})$", text, re.M)
    check(m is not None, f"{n}: proposals --limit 1 says no cursor: {text}")
    # The state with its label, as the dashboard says it.
    first = n.tree.ctl(n, "proposals", "--limit", "1", "--json")["proposals"][0]
    check(f"{first['state']} {first['state_label']}" in text and first["state_label"],
          f"{n}: proposals' state column: {text}")
    rest = n.tree.ctl(n, "proposals", "--after", m.group(1), "--json")["proposals"]
    check_eq([p["household"] + p["proposal"] for p in rest], whole[1:],
             f"{n}: proposals --after the first's cursor")
    for q in ("limit=0", "limit=x", "after=zz"):
        st, _, body = request(addr, "GET", f"/api/proposals?{q}")
        check_eq(st, 400, f"{n}: /api/proposals?{q}")
    # A typo or a repeated parameter is told, not answered with the default.
    for path, says in (("/api/rollup?levle=village", "levle: not a parameter here (known: "
                        "level under year format)"),
                       ("/api/rollup?level=county&level=village", "level: given twice"),
                       ("/api/proposals?sate=RECORDED", "sate: not a parameter here"),
                       ("/api/status?x=1", "x: this path takes no parameters"),
                       ("/api/tree?x=1", "x: this path takes no parameters"),
                       ("/api/rollup?%FF%FE=1", "(a name that is not UTF-8): not a parameter"),
                       ("/api/proposals?state=NOTICED", "state: 'NOTICED' is not a state (one "
                        "of PROPOSED 待公示, VILLAGE_NOTICE 第一次公示, VILLAGE_PASSED")):
        st, _, body = request(addr, "GET", path)
        check_eq(st, 400, f"{n}: {path}")
        check(says in json.loads(body).get("error", ""), f"{n}: {path}: {body!r}")
    # Case does not matter in format, as in state.
    upper = request(addr, "GET", "/api/rollup?format=CSV")
    lower = request(addr, "GET", "/api/rollup?format=csv")
    check_eq((upper[0], upper[2]), (200, lower[2]), f"{n}: /api/rollup?format=CSV")
    # A state as the dashboard names it asks the same as its code.
    label = request(addr, "GET", "/api/proposals?state=" + urllib.parse.quote("已录入"))
    code = request(addr, "GET", "/api/proposals?state=RECORDED")
    check_eq((label[0], label[2]), (200, code[2]), f"{n}: /api/proposals?state=已录入")
    jt.log(f"{n}: 404, 405 and 400 as expected; /api/proposals as jzfpctl")


def check_limits(n, addr):
    """Idle, half-sent and huge requests do not stop the server."""
    held = []
    src = ("127.0.0.9", 0)  # an address of their own: the whole of its PER_IP places
    try:
        for i in range(PER_IP - 1):
            s = socket.create_connection(addr, timeout=jt.HTTP_TIMEOUT_S, source_address=src)
            if i % 2:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
            held.append(s)
        big = socket.create_connection(addr, timeout=jt.HTTP_TIMEOUT_S, source_address=src)
        held.append(big)
        hdr = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (256 << 10) + b"\r\n\r\n"
        try:
            big.sendall(hdr)
            answer = big.recv(200)
        except OSError:
            answer = b""  # the server closed the connection: also fine
        check(not answer.startswith(b"HTTP/1.1 200"), f"{n}: a 256 KiB header was served")
        t0 = time.monotonic()
        get(addr, "/metrics")
        get(addr, "/api/status")
        jt.log(f"{n}: answered beside {len(held)} idle, half-sent and huge requests in "
               f"{time.monotonic() - t0:.2f} s")
    finally:
        for s in held:
            s.close()


def ask_from(source, addr):
    """A whole GET /api/status from SOURCE (a loopback address): the status
    line answered, or "" when the server closed the connection instead."""
    try:
        with socket.create_connection(addr, timeout=jt.HTTP_TIMEOUT_S,
                                      source_address=(source, 0)) as s:
            s.sendall(b"GET /api/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(64).split(b"\r\n")[0].decode("latin-1")
    except OSError:
        return ""


def read_answer(s, data=b""):
    """One HTTP answer from socket S, of which DATA was read already: (status
    line, body), the body whole by its Content-Length."""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        check(chunk != b"", f"connection closed in an answer's head: {data[:200]!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    length = next((int(ln.split(":", 1)[1]) for ln in lines
                   if ln.lower().startswith("content-length:")), None)
    check(length is not None, f"an answer without Content-Length: {lines}")
    while len(body) < length:
        chunk = s.recv(1 << 20)
        check(chunk != b"", f"connection closed after {len(body)} of {length} body bytes")
        body += chunk
    return lines[0], body


def slow_conn(addr, source, first):
    """A connection from SOURCE that has sent FIRST."""
    s = socket.create_connection(addr, timeout=jt.HTTP_TIMEOUT_S, source_address=(source, 0))
    s.sendall(first)
    return s


def check_slow_headers(t, n, addr):
    """Slow requests (slowloris), with [http] header_timeout HEADER_TIMEOUT on
    N's test clock:
      - PER_IP connections from one address each with a request begun and
        never finished (a byte at a time is the same to the deadline, and
        the idle timeout alone would keep such a sender);
      - a GET whose body has not all come;
      - a keep-alive connection whose second request has not;
    with the clock a minute on (below the deadline) none is cut, while a
    probe begun a minute earlier is; a minute more and all are closed and
    counted, exactly. Meanwhile the full address is refused and another
    answered; afterwards the full one is answered again. Not cut at all: a
    keep-alive connection idle between two requests past the deadline, and
    an answer read only after it."""
    before = metric_of(addr, "jzfp_http_header_timeouts_total")
    req = b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
    # Idle, and an answer unread, from before the probe: the watch has
    # looked at them once the probe's request is seen, and they are 180 s
    # old on the clock at the end (libmicrohttpd's own idle limit, 10 s, is
    # real time).
    idle = slow_conn(addr, "127.0.0.4", req + b"\r\n")
    check(read_answer(idle)[0].startswith("HTTP/1.1 200"), f"{n}: a keep-alive request")
    reader = slow_conn(addr, "127.0.0.4", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    probe = slow_conn(addr, "127.0.0.5", req)
    slow = []
    try:
        began(t, n, probe)
        advance(t, n, 1)  # the probe at 60 s of 90; the others begin now
        slow += [slow_conn(addr, "127.0.0.2", req) for _ in range(PER_IP)]
        slow.append(slow_conn(addr, "127.0.0.3", req + b"Content-Length: 100000\r\n\r\nab"))
        keep = slow_conn(addr, "127.0.0.3", req + b"\r\n")
        check(read_answer(keep)[0].startswith("HTTP/1.1 200"), f"{n}: a keep-alive request")
        keep.sendall(req)
        slow.append(keep)
        for s in slow:
            began(t, n, s)
        # Every place of 127.0.0.2 is taken (each request was seen): refused,
        # and counted (the server counts it before it closes the socket).
        refused = metric_of(addr, "jzfp_http_per_address_refused_total")
        check_eq(ask_from("127.0.0.2", addr), "",
                 f"{n}: a {PER_IP + 1}th connection from 127.0.0.2 answered")
        check_eq(metric_of(addr, "jzfp_http_per_address_refused_total"), refused + 1,
                 f"{n}: jzfp_http_per_address_refused_total after one refused")
        check(ask_from("127.0.0.1", addr).startswith("HTTP/1.1 200"),
              f"{n}: another address not answered during the slow requests")
        advance(t, n, 1)  # the probe at 120 s: past; the others at 60 s: not
        wait_closed(n, [probe], "probe past the deadline")
        still_open(n, slow, "slow requests below the deadline")
        advance(t, n, 1)  # the others at 120 s: past
        wait_closed(n, slow, "slow requests past the deadline")
        # In the same passes of the deadline's watch: the idle keep-alive
        # connection (idle 180 s on the clock) and the late reader were not.
        idle.sendall(req + b"\r\n")
        check(read_answer(idle)[0].startswith("HTTP/1.1 200"),
              f"{n}: a keep-alive connection idle past the deadline was not answered")
        line, body = read_answer(reader)
        check(line.startswith("HTTP/1.1 200") and body.rstrip().endswith(b"</html>"),
              f"{n}: an answer read after the deadline: {line!r}, {len(body)} bytes")
    finally:
        for s in slow + [idle, reader, probe]:
            s.close()
    cut = metric_of(addr, "jzfp_http_header_timeouts_total") - before
    check_eq(cut, float(len(slow) + 1), f"{n}: jzfp_http_header_timeouts_total's rise")
    # The places freed as libmicrohttpd closes the connections cut (its
    # debug line for each wakes the wait).
    t.wait_for(f"{n}: 127.0.0.2 answered again after the cut",
               lambda: ask_from("127.0.0.2", addr).startswith("HTTP/1.1 200"), nodes=[n])
    jt.log(f"{n}: {len(slow)} slow requests kept below the deadline and closed past it, a "
           "probe with them; an idle keep-alive connection and a late reader served")


def tree_metrics(addr):
    text = get(addr, "/metrics")[1].decode("utf-8")
    samples, _, _ = parse_metrics(text)
    nodes = {(dict(k[1])["level"], dict(k[1])["state"]): v for k, v in samples.items()
             if k[0] == "jzfp_tree_nodes"}
    stale = {dict(k[1])["area"]: v for k, v in samples.items()
             if k[0] == "jzfp_tree_stale_seconds"}
    backlog = {dict(k[1])["level"]: v for k, v in samples.items()
               if k[0] == "jzfp_tree_up_backlog_records"}
    return nodes, stale, backlog, text


def check_tree_metrics(t, n, addr):
    """The subtree on N's /metrics: every node of `tree` counted by level and
    by the state its row shows, their backlogs summed by level; then, a
    township and its village stopped, the township alone listed as stale
    (the topmost of its branch, tree's stale_root), both counted stale; and
    once their county restarts, the township shown not heard from, its
    figures unknown, on the dashboard in Chromium."""
    tree = t.ctl(n, "tree", "--json")["nodes"][1:]
    nodes, stale, backlog, _ = tree_metrics(addr)
    want, want_backlog = {}, {}
    for level in {r["level"] for r in tree}:
        for state in ("reporting", "disconnected", "stale"):
            want[(level, state)] = 0.0
        want_backlog[level] = 0.0
    for r in tree:
        state = "stale" if r["stale"] else "reporting" if r["connected"] else "disconnected"
        want[(r["level"], state)] += 1
        want_backlog[r["level"]] += r["backlog"]
    check(want[("village", "reporting")] >= 2, f"{n}: the tree to compare with: {tree}")
    check_eq(nodes, want, f"{n}: jzfp_tree_nodes")
    check_eq(backlog, want_backlog, f"{n}: jzfp_tree_up_backlog_records")
    check_eq(stale, {}, f"{n}: jzfp_tree_stale_seconds with every node reporting")
    township, village = t.nodes["630122102000"], t.nodes["630122102003"]
    t.stop(village)
    t.stop(township)
    # Their last reports age at the county, which passes them on: stale
    # after three heartbeats and a margin (woken then too: a report's age
    # moving is no change a node announces).
    got = t.wait_for(f"{n}: {township} listed stale on /metrics",
                     lambda: (lambda m: m if township.area in m[1] else None)(
                         tree_metrics(addr)), timeout=60,
                     wake_at=time.monotonic() + 3 * jt.HEARTBEAT_MS / 1000 + 2.5)
    nodes, stale, _, text = got
    promtool_check(text, f"{n} /metrics with a stale branch")
    check_eq(sorted(stale), [township.area], f"{n}: the topmost stale node only")
    roots = [r["area"] for r in t.ctl(n, "tree", "--json")["nodes"] if r["stale_root"]]
    check_eq(roots, [township.area], f"{n}: tree's stale_root rows")
    check(stale[township.area] >= 3 * jt.HEARTBEAT_MS / 1000,
          f"{n}: {township}'s report age {stale[township.area]}")
    check_eq((nodes[("township", "stale")], nodes[("village", "stale")]), (1.0, 1.0),
             f"{n}: stale nodes counted by level")
    jt.log(f"{n}: tree metrics: {len(tree)} nodes counted; a stopped township listed stale, "
           "its village counted")
    # Its county restarted with the township still down: the township crosses
    # the heartbeats as not heard from (silent), and the dashboard shows it
    # so, its figures unknown, the way a person sees the page (Chromium).
    county = t.nodes["630122000000"]
    t.restart(county)
    row = t.wait_for(f"{n}: {township} not heard from, after {county} restarted",
                     lambda: next((r for r in t.ctl(n, "tree", "--json")["nodes"]
                                   if r["area"] == township.area and not r["heard"]), None),
                     timeout=60)
    check_eq((row["connected"], row["parent"]), (False, county.area),
             f"{n}: {township}'s row from the restarted {county}")
    browser = chromium.start(t, "the dashboard's silent child in Chromium")
    if browser is None:
        return
    url = f"http://{addr[0]}:{addr[1]}/"
    p = browser("--dump-dom", url)
    check(p.returncode == 0, f"chromium --dump-dom {url}: exit {p.returncode}: {p.stderr[-500:]}")
    m = re.search(r"<tr><td>" + re.escape(html.escape(TOWNSHIPS[township.area], quote=False)) +
                  r"</td><td>(.*?)</tr>", p.stdout)
    check(m is not None, f"{n}: the dashboard's sync tree has no row for {township}")
    check("未上报（自上级启动）" in m.group(1) and m.group(1).count("<td>—</td>") == 4,
          f"{n}: {township}'s row on the dashboard: {m.group(0)}")
    # Its 上级 is named as the county's own row is, not by its code.
    county_name = next(r["name"] for r in t.ctl(n, "tree", "--json")["nodes"]
                       if r["area"] == county.area)
    check(county_name and m.group(0).endswith(
        f"<td>{html.escape(county_name, quote=False)}</td></tr>"),
          f"{n}: {township}'s 上级 on the dashboard: {m.group(0)}")
    jt.log(f"{n}: the dashboard shows {township} as not heard from, its figures unknown")


# ---------------------------------------------------------------- dashboard

def check_dashboard(t, n, addr):
    url = f"http://{addr[0]}:{addr[1]}/"
    hd, body = get(addr, "/")
    page = body.decode("utf-8")
    check(hd.get("content-type", "").startswith("text/html"), f"{n}: / content type {hd}")
    check('name="viewport"' in page and "<!doctype html>" in page, f"{n}: / is not a page")
    check(not re.search(r"(src|href)=\"(https?:)?//", page), f"{n}: / loads something remote")
    counties = t.rollup(n, "county")
    check_eq(sorted(r["area"] for r in counties), sorted(COUNTIES), f"{n}: counties")
    check("<i>" not in page and "&lt;i&gt;&quot;&amp;\\" in page,
          f"{n}: the name {COUNTIES['630122000000']!r} is not escaped into HTML")
    def pct2(r):
        """The incidence as the page shows it, from the row's counts:
        hundredths, never up onto the line from below."""
        return jt.incidence_pct(int(r["poor_persons"]), int(r["rural_population"]),
                                int(round(float(r["threshold_pct"]) * 100)))
    own = t.rollup(n, "province")
    check_eq(len(own), 1, f"{n}: rollup at its own level")
    want = f"{html.escape(own[0]['name'])}贫困发生率 {pct2(own[0])}%"
    check(want in page and f"农村户籍人口 {own[0]['rural_population']}" in page,
          f"{n}: / lacks its own figure {want!r}")
    for level in ("county", "township", "village"):
        for r in t.rollup(n, level):
            check(html.escape(r["name"]) in page and
                  f'<td class="inc">{pct2(r)}</td>' in page,
                  f"{n}: / lacks {level} {r['name']} {pct2(r)}")
            # the row's figures as they are now (the sections are kept per snapshot)
            tail = (f"<td>{r['poor_persons']}</td><td>{r['rural_population']}</td>"
                    f"<td>{r['poor_households']}</td><td>{r['pending']}</td>"
                    f"<td>{r['area']}</td></tr>")
            check(tail in page, f"{n}: / lacks {level} {r['area']}'s figures {tail}")

    for x in t.ctl(n, "tree", "--json")["nodes"]:
        check(f"<tr><td>{html.escape(x['name'])}</td>" in page,
              f"{n}: the sync tree on / lacks {x['area']} {x['name']}")
        # Its parent by name (this node's own parent too, from its store),
        # and so in its row's 上级 column.
        if x["parent"] in t.nodes:
            want = t.nodes[x["parent"]].name
            check_eq(x.get("parent_name"), want, f"{n}: tree: {x['area']}'s parent's name")
            check(re.search(r"<tr><td>" + re.escape(html.escape(x["name"])) +
                            r"</td>.*?<td>" + re.escape(html.escape(want)) + r"</td></tr>",
                            page), f"{n}: the sync tree's 上级 of {x['area']} is not {want}")

    browser = chromium.start(t, "the dashboard in Chromium")
    if browser is None:
        return
    p = browser("--dump-dom", url)
    check(p.returncode == 0, f"chromium --dump-dom {url}: exit {p.returncode}: {p.stderr[-500:]}")
    dom = p.stdout
    check("扶贫数据看板" in dom, f"{n}: the DOM has no dashboard title")
    for r in counties:
        name = html.escape(r["name"], quote=False)  # as Chromium serialises text
        check(name in dom, f"{n}: the DOM lacks county {r['name']}")
        check(r["incidence_pct"], f"{n}: county {r['name']} has no incidence")
        row = re.search(r"<tr[^>]*><td>" + re.escape(name) +
                        r"</td><td class=\"inc\">([^<]*)</td>.*?<td>" + re.escape(r["area"]) +
                        r"</td></tr>", dom)
        check(row is not None, f"{n}: the DOM has no table row for {r['name']}")
        check_eq(row.group(1), pct2(r), f"{n}: {r['name']} incidence in the DOM")
        check(f"{pct2(r)}%" in dom, f"{n}: the chart lacks {r['name']}'s figure")
    check(dom.count("<svg") >= 1, f"{n}: the DOM has no chart")
    jt.log(f"{n}: the dashboard in Chromium shows {len(counties)} counties with their figures")

    shot = os.path.join(t.dir, "dashboard.png")
    p = browser(f"--screenshot={shot}", "--window-size=412,2300", url)
    check(p.returncode == 0 and os.path.isfile(shot) and os.path.getsize(shot) > 1000,
          f"chromium --screenshot: exit {p.returncode}: {p.stderr[-500:]}")
    with open(shot, "rb") as f:
        check(f.read(8) == b"\x89PNG\r\n\x1a\n", f"{shot} is not a PNG")
    dst = os.path.join(chromium.artifacts(), "http-dashboard.png")
    shutil.copyfile(shot, dst)
    jt.log(f"{n}: dashboard screenshot (phone width, 412 px): {dst}")


def test(t):
    # The HTTP nodes run with the test clock: it moves the request deadline.
    prov = t.add(PROV, "province", "青海省", test_clock=True)
    counties = [t.add(a, "county", nm, test_clock=a == "630121000000")
                for a, nm in COUNTIES.items()]
    towns = [t.add(a, "township", nm) for a, nm in TOWNSHIPS.items()]
    villages = [t.add(v, "village", f"村{v[-3:]}") for v in VILLAGES]
    with_http(t, [prov, counties[0], towns[0]])
    t.start_all()
    t.wait_synced()

    census = os.path.join(t.dir, "census.csv")
    jt.gen_census(census, list(VILLAGES), YEAR, seed=11)
    hh = jt.gen_households(os.path.join(t.dir, "hh-{village}.csv"), list(VILLAGES), 30,
                           seed=12, year=YEAR)
    for v in villages:
        t.import_ok(v, "census", jt.split_census(census, os.path.join(t.dir, f"c-{v.area}.csv"),
                                                 [v.area]))
        # The existing register, migrated at the county: the figures.
        county = t.nodes[jt.area_at(v.area, "county")]
        p = t.import_file(county, "households", hh[v.area], "--recorded")
        check(p.returncode == 0, f"import --recorded at {county}: {p.stderr.strip()}")
    # New households proposed at a village: open proposals.
    new = jt.gen_households(os.path.join(t.dir, "new-{village}.csv"), [villages[0].area], 4,
                            seed=13, year=YEAR, new=True, first_serial=900)
    t.import_ok(villages[0], "households", new[villages[0].area])
    t.wait_synced()

    paddr = http_addr(t, prov)
    caddr = http_addr(t, counties[0])
    check(paddr != caddr, "two nodes on one HTTP port")
    text = t.ctl_text(prov, "status")
    check(f"http      http://{paddr[0]}:{paddr[1]}/" in text,
          f"{prov}: status does not show its HTTP address:\n{text}")
    check_eq(t.status(counties[1]).get("http_listen"), "", f"{counties[1]}: HTTP is off")

    # A township's rollup asked with no level: its own level, as jzfpctl's.
    taddr = http_addr(t, towns[0])
    for q, args in (("", ["--json"]), ("?format=csv", ["--format", "csv"])):
        st, _, body = request(taddr, "GET", f"/api/rollup{q}")
        check(st == 200 and body == t.ctl_text(towns[0], "rollup", *args).encode("utf-8") and
              b"township" in body, f"{towns[0]}: /api/rollup{q} with no level: {st} {body[:200]!r}")

    check_metrics(t, prov, paddr, list(COUNTIES))
    check_metrics(t, counties[0], caddr, ["630121101000"])
    check_alert_rules()
    check_grafana(t, prov, [prov, counties[0]], [paddr, caddr])
    check_api(t, prov, paddr)
    check_api(t, counties[0], caddr)
    more = jt.gen_households(os.path.join(t.dir, "more-{village}.csv"), [villages[0].area], 3,
                             seed=14, year=YEAR, new=True, first_serial=950)
    check_rollup_cache(t, prov, paddr, villages[0], more[villages[0].area])
    # Rows updated in place: new households at a village (its counters
    # and open proposals), then censuses at the county, one of a village
    # new to the rollup (a row appears) and one changed.
    again = jt.gen_households(os.path.join(t.dir, "again-{village}.csv"), [villages[0].area], 2,
                              seed=15, year=YEAR, new=True, first_serial=970)
    check_rollup_update(t, prov, paddr, villages[0], counties[0], "new households",
                        [(villages[0], "households", again[villages[0].area])])
    newv = "630121101002"
    c2 = jt.gen_census(os.path.join(t.dir, "census2.csv"), [villages[0].area, newv], YEAR,
                       seed=16)
    check_rollup_update(t, prov, paddr, villages[0], counties[0], "censuses",
                        [(counties[0], "census", c2)])
    check_refusals(prov, paddr)
    check_limits(prov, paddr)
    check_slow_headers(t, prov, paddr)
    check_dashboard(t, prov, paddr)
    # A county's own parent, which no row of its tree holds, named from
    # its store (the province's node record), on its dashboard too.
    own = t.ctl(counties[0], "tree", "--json")["nodes"][0]
    check_eq((own["area"], own["parent_name"]), (counties[0].area, prov.name),
             f"{counties[0]}: tree: its own parent's name")
    check(f"<td>{html.escape(prov.name)}</td></tr>" in get(caddr, "/")[1].decode("utf-8"),
          f"{counties[0]}: the dashboard's 上级 of its own row")
    check_answer_budget(t, counties[0], caddr)
    check_tree_metrics(t, prov, paddr)
    # After all those bad requests, the province's log is still the log's own
    # lines (libmicrohttpd's messages go through it, at debug level), and a
    # server on loopback is not warned about.
    stray = [ln for ln in prov.log_text().splitlines()
             if ln and not ln.startswith("--- jzfptest") and
             not re.match(r"(debug|info|warn|error) \d{4}-\d\d-\d\dT", ln)]
    check(not stray, f"{prov}: log lines not in the log's format: {stray[:5]}")
    check(not t.grep_log(prov, r"reachable from other machines"),
          f"{prov}: warned about a server on 127.0.0.1")

    # Stopped with the node: the port is closed.
    t.stop(prov)
    try:
        socket.create_connection(paddr, timeout=5).close()
        refused = False
    except OSError:
        refused = True
    check(refused, f"{prov}: HTTP still answers after the node stopped")


if __name__ == "__main__":
    jt.main(test)
