#!/usr/bin/env bash
# Provision a local tree of jzfp nodes: one directory per node with its config
# and key. The work is done by scripts/provision.py (Python 3, standard library).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat <<'USAGE'
usage: scripts/provision.sh [--bin DIR] [--log-level LEVEL] [--receipt-ms MS] [-q]
                           NODES.csv OUTDIR

NODES.csv: header area,level,name, one line per node (levels village, township,
county, province; exactly one province). Each node's parent is the nearest
ancestor node by area prefix; villages without a node are served by their
township.

Writes, for every node AREA:
  OUTDIR/AREA/jzfpd.conf   level, area, name, data_dir = data, key = node.key,
                           listen (nodes with children: a free 127.0.0.1 port),
                           parent and parent_key (all but the province), tag_key
                           (all but the province); mode 0600
  OUTDIR/AREA/node.key     made by `jzfpctl keygen --out` (mode 0600)
  OUTDIR/AREA/node.pub     its public key, 64 hex
and OUTDIR/nodes.csv (area,level,name,parent,conf), top down, for
scripts/localtree.sh. One random tag_key is shared by all nodes of OUTDIR but
the province (tags plus the key reveal ID numbers). Every node gets [trust]
root_key, and every node below the province its certificate chain
(OUTDIR/AREA/node.cert, [trust] cert); a tree that cannot be certified (a node
whose parent is not one level up) gets [trust] insecure = yes instead. The
province's audit key is OUTDIR/audit/audit.key,
apart from every node; its public key is [trust] audit_key everywhere.

Refuses a tree without exactly one province, a node without a parent node, and
an OUTDIR that exists and is not empty. On error nothing is left behind.

  --bin DIR          where jzfpctl is (default: $JZFP_BIN, else build/bin)
  --log-level LEVEL  error|warning|info|debug for every node (default info)
  --receipt-ms MS    how often the province signs receipts (default 30000)
  -q, --quiet        print nothing on success
USAGE
}

for a in "$@"; do
	case "$a" in
	-h | --help) usage; exit 0 ;;
	esac
done
if [ $# -lt 2 ]; then
	usage >&2
	exit 2
fi
exec python3 "$here/provision.py" "$@"
