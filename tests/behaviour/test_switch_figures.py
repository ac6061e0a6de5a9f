"""Figures of the planned switch on loopback, median of 20, without and with
a write load of about 10,000 writes/s. Run with -s to see them:

    cd tests/behaviour && /usr/bin/python3 -m pytest -s -q test_switch_figures.py

Printed: the switch's total time and write-pause window (from its own
timeline), the command's wall time, lost acknowledged writes (must be 0),
and for a client that resolves before every connection: the time from the
switch's start until its first write acknowledged by the new primary, and
its gap between the last write on the old primary and the first on the new.
"""

import re
import time

import pytest

from failover_env import Cluster, knot_cluster, median
from servers import have_knotd
from writeload import WriteLoad

ROUNDS = 20


@pytest.fixture
def cluster(tmp_path, procs):
    return Cluster(tmp_path, procs)


def one_switch(c, to):
    t0 = time.monotonic()
    r = c.switch("-y", "--to", to)
    wall = time.monotonic() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    total = float(re.search(r"^total: ([0-9.]+) ms", r.stdout, re.M).group(1))
    pause = float(re.search(r"write pause window: ([0-9.]+) ms", r.stdout).group(1))
    swap = float(re.search(r"^  swap +([0-9.]+) ms", r.stdout, re.M).group(1))
    return t0, wall * 1000, total, pause, swap


def run_rounds(c, load=None):
    rows = []
    cur = "r1"
    for i in range(ROUNDS):
        to = "r2" if cur == "r1" else "r1"
        old_addr, new_addr = c.nodes[cur].host, c.nodes[to].host
        t0, wall, total, pause, swap = one_switch(c, to)
        row = {"wall": wall, "total": total, "pause": pause, "swap": swap}
        if load is not None:
            load.wait_acks(500, timeout=10)
            last_old, first_new = load.switch_gap(t0, old_addr, new_addr)
            assert first_new is not None
            row["to_new"] = (first_new - t0) * 1000
            row["gap"] = (first_new - last_old) * 1000 if last_old else float("nan")
            row["lost"] = len(load.missing_on(c.nodes[to].client()))
        rows.append(row)
        cur = to
    return rows


def report(title, rows):
    keys = [k for k in ("total", "pause", "swap", "wall", "to_new", "gap") if k in rows[0]]
    names = {"total": "switch total (timeline)", "pause": "write-pause window",
             "wall": "command wall time (with config load)",
             "swap": "record swap step (signed UPDATE + serial query)",
             "to_new": "switch start -> first write acked by new primary",
             "gap": "client gap: last ack on old -> first ack on new"}
    print("\n%s (median of %d):" % (title, len(rows)))
    for k in keys:
        vals = [r[k] for r in rows]
        print("  %-50s %8.2f ms   (min %.2f, max %.2f)" % (names[k], median(vals),
                                                         min(vals), max(vals)))
    if "lost" in rows[0]:
        print("  %-50s %8d" % ("lost acknowledged writes (all switches)",
                               sum(r["lost"] for r in rows)))


def test_figures_without_and_with_write_load(cluster):
    c = cluster
    rows = run_rounds(c)
    report("planned switch, no load", rows)
    assert median([r["pause"] for r in rows]) < 1000

    load = WriteLoad(c.rf.port, redis_port=c.port, rate=10000, batch=10).start()
    try:
        load.wait_acks(1000)
        rate = load.rate_measured(1.0)
        rows = run_rounds(c, load)
        acked, _ = load.snapshot()
    finally:
        load.stop()
    report("planned switch, write load %.0f writes/s" % rate, rows)
    print("  acknowledged writes in total: %d, client errors (reconnects): %d, "
          "DNS resolutions: %d" % (len(acked), load.errors, load.resolves))
    assert sum(r["lost"] for r in rows) == 0
    assert rate > 5000


@pytest.mark.skipif(not have_knotd(), reason="knotd not installed")
def test_figures_with_knot_as_the_dns_server(tmp_path, procs):
    c, knot = knot_cluster(tmp_path, procs)
    rows = run_rounds(c)
    report("planned switch, knotd as the DNS server, no load", rows)
    ans = knot.query("redis.svc.test.", "A")
    assert [rr.address for rrset in ans.answer for rr in rrset] == ["127.0.0.2"]
