#!/usr/bin/env bash
# Install the Debian packages jzfp needs to build, test and run. Idempotent:
# installs only what is missing. Needs root (or sudo) when something is missing.
#   --no-test   only what building and running need, not the test tools
set -euo pipefail

usage() {
	cat <<'USAGE'
usage: scripts/deps.sh [--no-test]
Install the Debian packages jzfp needs that are missing (apt-get; root or
sudo), and nothing when none is. README, Dependencies, says why each is there.
  --no-test   only what building and running need (a node's host), not the
              test tools (promtool, Chromium, CJK fonts, pdftoppm)
USAGE
}
with_test=1
case "${1:-}" in
"") ;;
--no-test) with_test=0 ;;
-h | --help) usage; exit 0 ;;
*) echo "deps.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "deps.sh: one option at most" >&2; usage >&2; exit 2; }

pkgs=(
	build-essential cmake pkg-config python3   # toolchain and test harness
	libzmq3-dev             # links between nodes (ZeroMQ, CurveZMQ)
	liblmdb-dev             # each node's durable store
	libprotobuf-c-dev protobuf-c-compiler   # wire and record encoding
	libsodium-dev           # Ed25519 signatures, BLAKE2b, sealing
	libinih-dev             # INI config parsing
	libxlsxwriter-dev       # jzfpctl export/rollup --format xlsx
	libmicrohttpd-dev       # the read-only HTTP server ([http] listen: metrics, API, dashboard)
	libcmocka-dev           # unit tests
	clang-format            # the code style check in scripts/test.sh
	bsdextrautils           # column(1), used by scripts/demo.sh
	tzdata                  # /usr/share/zoneinfo: [node] timezone (common/timefmt.c)
)
# Test tools (tests/integration/test_http.py, test_notice.py): promtool checks /metrics
# and a Prometheus server answers the Grafana dashboard's queries,
# headless Chromium loads the dashboard (CJK fonts for its screenshot).
test_pkgs=(
	prometheus              # promtool check metrics, a server for the Grafana queries
	chromium                # chromium --headless --dump-dom / --screenshot
	fonts-noto-cjk          # Chinese glyphs in the screenshot
	poppler-utils           # pdftoppm: the printed notice's first page as PNG (test_notice)
)
[ "$with_test" = 1 ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
# Debian's prometheus package starts a Prometheus server on every address
# (port 9090) and enables it at boot; jzfp uses only its programs (promtool,
# and a server the tests start on 127.0.0.1). While installing it, Debian's
# policy-rc.d (unless the machine has one) keeps services from starting;
# afterwards it is disabled at boot.
prom_new=0
[[ " ${missing[*]} " == *" prometheus "* ]] && prom_new=1
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ "$prom_new" = 1 ] && [ ! -e "$policy" ]; then
	trap '[ "$own_policy" = 0 ] || $SUDO rm -f "$policy"' EXIT
	printf '#!/bin/sh\n# scripts/deps.sh: no service starts while it installs\nexit 101\n' |
		$SUDO tee "$policy" >/dev/null && $SUDO chmod 755 "$policy" && own_policy=1
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [ "$own_policy" = 1 ]; then
	$SUDO rm -f "$policy"
	own_policy=0
fi
if [ "$prom_new" = 1 ]; then
	if [ -d /run/systemd/system ]; then
		$SUDO systemctl disable --now prometheus.service >/dev/null 2>&1 &&
			echo "deps: prometheus.service disabled (only its programs are used)" >&2
	elif command -v update-rc.d >/dev/null; then
		$SUDO update-rc.d prometheus disable >/dev/null 2>&1 &&
			echo "deps: the prometheus service disabled (only its programs are used)" >&2
	fi
fi
exit 0
