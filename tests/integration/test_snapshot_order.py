#!/usr/bin/env python3
"""A relay restored from a snapshot, its children resending in another order:
test_backup_order's scenario with the copy taken as a VM snapshot or a hand
copy would take it, the running township paused (SIGSTOP) while its data
file is copied. Such a copy is not marked as restored; it holds the log's
epoch as it was, which the township ends at the copy's head when it starts.
"""

import jzfptest as jt
from test_backup_order import scenario


def test(t):
    scenario(t, "snapshot")


if __name__ == "__main__":
    jt.main(test)
