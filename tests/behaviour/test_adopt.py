"""A master made outside `switch`, and a node whose addresses changed.

Adopt: once a replica was promoted by something else (an operator's
REPLICAOF NO ONE, a switch that died after its promote step) and the
served primary is gone, `switch --to NODE` moves the record to it and
fences the old one, promoting and pausing nothing; with the served primary
a master too it refuses, naming both histories and the two ways out,
unless --force (which demotes the old primary and names the writes at
risk). status and check name the situation.

Addresses: a record holding some of the served node's addresses (one was
added to or removed from its `address` list) still names it; check warns,
and `switch --to <served node>` rewrites the record to the node's
addresses with the record as read as the prerequisite. The addresses are
only served in DNS, never contacted.

Figures (run with -s -k figures): the adopt path's total time, median of 5.
"""

import json
import re
import signal

import pytest

from failover_env import Cluster, median
from servers import wait_until


@pytest.fixture
def cluster(tmp_path, procs):
    return Cluster(tmp_path, procs)


def check(c):
    r = c.rf.run("check")
    return r.returncode, r.stdout


def promote_outside(c, name):
    """REPLICAOF NO ONE sent by hand, as an operator would."""
    c.nodes[name].client().execute_command("REPLICAOF", "NO", "ONE")
    wait_until(lambda: c.role(name) == "master", what="%s master" % name)


def set_addresses(c, name, addrs):
    for n in c.rf.services[0]["nodes"]:
        if n["name"] == name:
            n["address"] = list(addrs)
    c.rf.write_conf()


# ------------------------------------------------------------------ adopt

def test_adopt_master_when_served_primary_is_gone(cluster):
    c = cluster
    c.nodes["r1"].client().set("before", "1")
    wait_until(lambda: c.nodes["r2"].client().get("before") == "1", what="r2 synced")
    promote_outside(c, "r2")
    c.nodes["r1"].kill(signal.SIGKILL)
    # status and check name it, check's state stays what it was
    code, out = check(c)
    assert code == 2, out
    assert "r2 is master outside the record: `switch --to r2` adopts it" in out
    st = json.loads(c.rf.run("status", "--json").stdout)
    assert "`switch --to r2` adopts it" in st["verdict_text"], st
    # without --to, promoting r3 would make a second master: refused
    before = c.snapshot_dns()
    r = c.switch("-y")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "r2 is master outside the record: `switch --to r2` adopts it" in r.stderr
    assert c.role("r3") == "replica of r1" and c.snapshot_dns() == before
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "plan: adopt a master redis: r1" in r.stdout
    steps = re.findall(r"^  (\w+) +[0-9.]+ ms", r.stdout.split("timeline:")[1], re.M)
    assert steps == ["lock", "preflight", "confirm", "pre_hook", "swap", "repoint", "post_hook"], r.stdout
    assert c.served() == "r2"
    assert "fenced=r1" in c.txt()
    assert c.role("r3") == "replica of r2"
    assert c.nodes["r2"].client().get("before") == "1"
    lines = [json.loads(x) for x in
             (c.rf.dir / "redisfo-audit.log").read_text().splitlines()]
    assert [x["step"] for x in lines if x["mode"] == "adopt" and x["to"] == "r2"] == \
        ["preflight", "confirm", "pre_hook", "swap", "repoint", "post_hook"], lines
    # r1 back as an empty master: fenced, rejoin brings it under r2
    c.nodes["r1"].start()
    wait_until(lambda: c.role("r1") == "master", what="r1 back")
    r = c.rf.run("rejoin", "r1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.role("r1") == "replica of r2"
    c.wait_links("r2")
    code, out = check(c)
    assert code == 0, out


def test_without_a_promoted_target_a_dead_primary_still_fails_over(cluster):
    """The adopt path is only for a master: a replica of the dead primary
    is promoted as before (failover mode, promote step run)."""
    c = cluster
    c.nodes["r1"].kill(signal.SIGKILL)
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "UNPLANNED FAILOVER" in r.stdout
    assert re.search(r"^  promote +[0-9.]+ ms +ok", r.stdout, re.M), r.stdout


def two_masters(c):
    """r2 promoted by hand while r1 stays served, then writes on r1 that
    r2 never gets: the bytes at risk."""
    promote_outside(c, "r2")
    m = c.nodes["r1"].client()
    for i in range(50):
        m.set("split:%d" % i, "x" * 100)
    i1, i2 = c.info("r1"), c.info("r2")
    return int(i1["master_repl_offset"]) - (int(i2["second_repl_offset"]) - 1)


def test_two_masters_refused_then_forced(cluster):
    c = cluster
    at_risk = two_masters(c)
    assert at_risk > 5000
    i1, i2 = c.info("r1"), c.info("r2")
    code, out = check(c)
    assert code == 2 and "split brain" in out, out
    assert "`switch --to r2 --force` adopts r2, `rejoin r2` keeps r1" in out
    before = c.snapshot()
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "two masters" in r.stderr
    for i in (i1, i2):
        assert i["master_replid"] in r.stderr
    assert "offset %s" % i1["master_repl_offset"] in r.stderr
    assert "`switch --to r2 --force` adopts r2 and demotes r1" in r.stderr
    assert "`rejoin r2` keeps r1" in r.stderr
    assert "%d bytes that r1 acknowledged since r2 left it are at risk" % at_risk in r.stderr
    after = c.snapshot()
    # r1's offset moves by its own pings: compare what a refusal must keep
    assert after["record"] == before["record"] and after["txt"] == before["txt"]
    assert after["lease"] == ""
    assert after["txt"] == before["txt"] and after["roles"] == before["roles"]
    r = c.switch("-y", "--force", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "at risk" in r.stdout
    steps = re.findall(r"^  (\w+) +[0-9.]+ ms +ok", r.stdout.split("timeline:")[1], re.M)
    # r1 paused before the swap, demoted after it; nothing promoted
    assert steps == ["lock", "preflight", "confirm", "pre_hook", "pause", "swap",
                     "demote", "repoint", "post_hook"], r.stdout
    assert "write pause window: " in r.stdout
    assert c.served() == "r2"
    assert "fenced" not in c.txt()
    assert c.role("r1") == "replica of r2" and c.role("r3") == "replica of r2"
    c.wait_links("r2")
    code, out = check(c)
    assert code == 0, out


def test_two_masters_with_diverged_histories(cluster):
    c = cluster
    # r2 gets a history of its own: promoted from r3, which was promoted first
    promote_outside(c, "r3")
    c.nodes["r2"].client().execute_command("REPLICAOF", c.nodes["r3"].host,
                                           c.nodes["r3"].port)
    wait_until(lambda: c.info("r2").get("master_link_status") == "up", what="r2 on r3")
    promote_outside(c, "r2")
    c.nodes["r3"].client().execute_command("REPLICAOF", c.nodes["r1"].host,
                                           c.nodes["r1"].port)
    wait_until(lambda: c.role("r3") == "replica of r1", what="r3 back on r1")
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "the histories diverged" in r.stderr
    assert c.served() == "r1" and c.role("r1") == "master"


# -------------------------------------------------------------- addresses

def test_served_node_gains_an_ipv6_address(cluster):
    c = cluster
    set_addresses(c, "r1", ["127.0.0.2", "fd77::11"])
    code, out = check(c)
    assert code == 1, out
    assert out.startswith("REDISFO WARNING - ")
    assert "record lacks fd77::11 of r1: `switch --to r1` repairs it" in out
    # the service is not stranded: rejoin works against the served r1
    r = c.rf.run("rejoin", "r3")
    assert r.returncode == 0, r.stdout + r.stderr
    serial = c.serial()
    r = c.switch("-y", "--to", "r1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "plan: record repair redis: r1" in r.stdout
    assert c.record("A") == ["127.0.0.2"] and c.record("AAAA") == ["fd77::11"]
    assert c.serial() != serial
    assert c.roles() == {"r1": "master", "r2": "replica of r1", "r3": "replica of r1"}
    code, out = check(c)
    assert code == 0, out


def test_served_node_gains_an_ipv4_address(tmp_path, procs):
    c = Cluster(tmp_path, procs, node_conf={"r2": {"address": ["fd77::12"]}})
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.record("A") == [] and c.record("AAAA") == ["fd77::12"]
    set_addresses(c, "r2", ["fd77::12", "10.77.0.12"])
    code, out = check(c)
    assert code == 1, out
    assert "record lacks 10.77.0.12 of r2: `switch --to r2` repairs it" in out
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.record("A") == ["10.77.0.12"] and c.record("AAAA") == ["fd77::12"]
    assert check(c)[0] == 0


@pytest.mark.parametrize("keep,drop,family", [
    ("10.77.0.12", "fd77::12", "AAAA"), ("fd77::12", "10.77.0.12", "A")])
def test_served_node_loses_an_address(tmp_path, procs, keep, drop, family):
    c = Cluster(tmp_path, procs,
                node_conf={"r2": {"address": ["10.77.0.12", "fd77::12"]}})
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    set_addresses(c, "r2", [keep])
    code, out = check(c)
    assert code == 1, out
    assert "record has %s that r2 no longer has" % drop in out
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.record(family) == []
    assert c.record("A" if family == "AAAA" else "AAAA") == [keep]
    assert check(c)[0] == 0


def test_switch_away_from_a_node_whose_record_lacks_an_address(cluster):
    """The prerequisite is the record as read, not r1's config addresses."""
    c = cluster
    set_addresses(c, "r1", ["127.0.0.2", "fd77::11"])
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.record("A") == ["127.0.0.3"] and c.record("AAAA") == []
    assert c.role("r1") == "replica of r2"
    assert check(c)[0] == 0


def test_record_matching_two_nodes_is_named(cluster):
    c = cluster
    set_addresses(c, "r1", ["127.0.0.2", "fd77::11"])
    set_addresses(c, "r2", ["127.0.0.3", "127.0.0.2"])
    code, out = check(c)
    assert code == 2, out
    assert "matches more than one node of redis (r1 and r2)" in out
    before = c.snapshot()
    r = c.switch("-y", "--to", "r1")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "matches more than one node of redis (r1 and r2)" in r.stderr
    after = c.snapshot()
    assert after["record"] == before["record"] and after["txt"] == before["txt"]
    assert after["lease"] == ""


# ---------------------------------------------------------------- figures

def test_figures_adopt(tmp_path, procs):
    """The adopt path's total (its own timeline), median of 5: each round
    promotes the next node by hand, kills the served one, adopts, then
    brings the old one back with rejoin."""
    c = Cluster(tmp_path, procs)
    order = ["r1", "r2", "r3"]
    totals = []
    for i in range(5):
        old, new = order[i % 3], order[(i + 1) % 3]
        promote_outside(c, new)
        c.nodes[old].kill(signal.SIGKILL)
        r = c.switch("-y", "--to", new)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "plan: adopt a master" in r.stdout
        totals.append(float(re.search(r"^total: ([0-9.]+) ms", r.stdout, re.M).group(1)))
        assert c.served() == new
        c.nodes[old].start()
        wait_until(lambda n=old: c.role(n) != "down", what="%s back" % old)
        r = c.rf.run("rejoin", old)
        assert r.returncode == 0, r.stdout + r.stderr
        c.wait_links(new)
    print("\nadopt: total %.3f ms (median of 5; min %.3f, max %.3f)"
          % (median(totals), min(totals), max(totals)))
    assert median(totals) < 5000
