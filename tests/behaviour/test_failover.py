"""Unplanned failover: the primary SIGKILLed, or hung with SIGSTOP.

Without confirmation it is refused and nothing changes; with -y a replica
is promoted, the record names it, the other replica follows it and the old
primary is marked fenced in the TXT. When the old primary comes back as a
master, `check` says CRITICAL (split brain) until `rejoin` makes it a
replica, then OK. With min-replicas-to-write set on the nodes, the old
primary back from a hang refuses writes from the clients it still has.
"""

import json
import signal

import pytest
import redis

from failover_env import LEASE_MOVES, Cluster
from servers import wait_until


@pytest.fixture
def cluster(tmp_path, procs):
    c = Cluster(tmp_path, procs, failover={"probe_timeout_ms": 250, "probes": 2})
    c.nodes["r1"].client().set("before", "1")
    wait_until(lambda: c.nodes["r2"].client().get("before") == "1", what="replicated")
    wait_until(lambda: c.nodes["r3"].client().get("before") == "1", what="replicated")
    return c


def fail_over(c):
    before = c.snapshot_dns()
    serial = c.serial()
    r = c.switch()                       # no -y, no terminal: refused
    assert r.returncode == 1, r.stdout + r.stderr
    assert "does not answer after 2 probes" in r.stdout
    assert "no terminal to ask on" in r.stderr
    assert c.snapshot_dns() == before
    r = c.switch("-y")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "UNPLANNED FAILOVER" in r.stdout
    assert "what may be lost" in r.stdout
    new = c.served()
    assert new in ("r2", "r3")
    other = "r3" if new == "r2" else "r2"
    assert c.role(new) == "master"
    wait_until(lambda: c.role(other) == "replica of %s" % new, what="replica follows")
    assert "fenced=r1" in c.txt()
    assert c.txt().startswith("primary=%s epoch=2 " % new)
    # the refusal and the failover each took and gave back the lease
    assert c.serial() == serial + 1 + 2 * LEASE_MOVES
    assert c.nodes[new].client().get("before") == "1"
    assert c.nodes[new].client().set("after", "1")
    return new


def check(c):
    r = c.rf.run("check")
    assert r.stdout.count("\n") == 1, r.stdout
    return r.returncode, r.stdout


def rejoin_and_check_ok(c, new):
    code, out = check(c)
    assert code == 2, out
    assert out.startswith("REDISFO CRITICAL - ")
    assert "split brain" in out
    st = json.loads(c.rf.run("status", "--json").stdout)
    assert st["verdict"] == "fenced node back as master"
    assert st["record"]["fenced"] == "r1"
    # the served primary cannot be "rejoined"
    r = c.rf.run("rejoin", new)
    assert r.returncode == 1 and "is the served primary" in r.stderr
    r = c.rf.run("rejoin", "r1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.role("r1") == "replica of %s" % new
    assert "fenced" not in c.txt()
    wait_until(lambda: c.nodes["r1"].client().get("after") == "1", what="r1 synced")
    code, out = check(c)
    assert code == 0, out
    assert out.startswith("REDISFO OK - ")


def test_failover_primary_killed(cluster):
    c = cluster
    c.nodes["r1"].kill(signal.SIGKILL)
    new = fail_over(c)
    code, out = check(c)             # r1 down: served master fine, a node missing
    assert code == 1, out
    assert "r1 unreachable" in out
    c.nodes["r1"].start()            # back, empty, and a master again
    wait_until(lambda: c.role("r1") == "master", what="r1 back")
    rejoin_and_check_ok(c, new)


def test_failover_primary_hung(cluster):
    c = cluster
    c.nodes["r1"].kill(signal.SIGSTOP)
    new = fail_over(c)
    c.nodes["r1"].kill(signal.SIGCONT)
    wait_until(lambda: c.role("r1") == "master", what="r1 answers again")
    rejoin_and_check_ok(c, new)


def test_failover_to_named_node_with_lower_offset_says_what_is_lost(tmp_path, procs):
    c = Cluster(tmp_path, procs, failover={"probe_timeout_ms": 250, "probes": 2})
    r3 = c.nodes["r3"].client()
    r3.execute_command("CLIENT", "PAUSE", "20000", "WRITE")   # r3 stops applying
    try:
        c.nodes["r1"].client().set("k", "v" * 100)
        wait_until(lambda: int(c.info("r2")["slave_repl_offset"])
                   > int(c.info("r3")["slave_repl_offset"]), what="r3 behind r2")
        c.nodes["r1"].kill(signal.SIGKILL)
        r = c.switch("-y", "--to", "r3")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "note: r2 has" in r.stdout and "--to r2 to lose less" in r.stdout
        assert c.served() == "r3"
    finally:
        r3.execute_command("CLIENT", "UNPAUSE")


def test_hung_primary_with_min_replicas_refuses_writes_when_back(tmp_path, procs):
    """With min-replicas-to-write 1 on the nodes (as the README advises), a
    primary that hung and comes back after the failover has no replica left
    (they follow the new primary), so a client still connected to it gets
    NOREPLICAS instead of an acknowledgement that rejoin would throw away."""
    c = Cluster(tmp_path, procs, failover={"probe_timeout_ms": 250, "probes": 2},
                extra=["min-replicas-to-write 1", "min-replicas-max-lag 10"])
    c.nodes["r1"].client().set("before", "1")
    wait_until(lambda: c.nodes["r2"].client().get("before") == "1", what="replicated")
    wait_until(lambda: c.nodes["r3"].client().get("before") == "1", what="replicated")
    held = c.nodes["r1"].client()
    assert held.set("held", "0")                 # connected before the hang
    c.nodes["r1"].kill(signal.SIGSTOP)
    new = fail_over(c)
    c.nodes["r1"].kill(signal.SIGCONT)
    wait_until(lambda: c.role("r1") == "master", what="r1 answers again")
    with pytest.raises(redis.exceptions.ResponseError, match="NOREPLICAS"):
        held.set("held", "1")
    assert held.get("held") == "0"
    rejoin_and_check_ok(c, new)
