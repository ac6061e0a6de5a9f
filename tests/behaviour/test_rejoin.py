"""`rejoin`: bring a node back as a replica of the served primary; its
refusals (the served primary itself, an unreachable node, no reachable
primary) change nothing. Also a dual-stack node (A and AAAA served) and
a config with two services."""

import json
import re
import signal

import pytest

from failover_env import LEASE_MOVES, Cluster
from servers import wait_until


@pytest.fixture
def cluster(tmp_path, procs):
    return Cluster(tmp_path, procs)


def test_rejoin_replica_of_the_wrong_master(cluster):
    c = cluster
    c.nodes["r3"].client().replicaof(c.nodes["r2"].host, c.port)
    wait_until(lambda: c.role("r3") == "replica of r2", what="r3 follows r2")
    serial = c.serial()
    r = c.rf.run("rejoin", "r3")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "r3 is now a replica of r1" in r.stdout
    assert "replication link to r1 is up" in r.stdout
    assert c.role("r3") == "replica of r1"
    assert c.info("r3")["master_link_status"] == "up"
    # nothing fenced: only the lease was taken and given back
    assert c.serial() == serial + LEASE_MOVES and c.lease() == ""
    assert c.rf.run("check").returncode == 0
    # rejoin writes the audit log too, one JSON line per step
    lines = [json.loads(line) for line in
             open(c.rf.failover_cfg["audit_log"]).read().splitlines()]
    assert [(a["mode"], a["to"], a["step"], a["result"]) for a in lines] == [
        ("rejoin", "r3", "replicaof", "ok"), ("rejoin", "r3", "link", "ok"),
        ("rejoin", "r3", "rejoin", "ok")]
    # and says each step in the log (stderr here), not on stdout
    for step in ("replicaof", "link", "rejoin"):
        assert re.search(r"\] info: rejoin redis r3: %s ok [0-9.]+ ms" % step, r.stderr), \
            r.stderr
    assert "redisfo-dns[" not in r.stdout
    r = c.rf.run("rejoin", "r1")
    assert r.returncode == 1 and "rejoin refused: r1 is the served primary" in r.stderr
    last = json.loads(open(c.rf.failover_cfg["audit_log"]).read().splitlines()[-1])
    assert (last["step"], last["result"]) == ("rejoin", "refused")
    assert last["detail"] == "r1 is the served primary"


def test_rejoin_refusals_change_nothing(cluster):
    c = cluster
    before = c.snapshot()
    r = c.rf.run("rejoin", "r1")
    assert r.returncode == 1 and "r1 is the served primary" in r.stderr
    assert c.rf.run("rejoin", "r9").returncode == 2
    assert c.rf.run("rejoin").returncode == 2
    assert c.snapshot() == before
    c.nodes["r3"].kill(signal.SIGKILL)
    r = c.rf.run("rejoin", "r3")
    assert r.returncode == 1 and "r3 does not answer" in r.stderr
    c.nodes["r1"].kill(signal.SIGKILL)
    before = c.snapshot_dns()
    r = c.rf.run("rejoin", "r2")
    assert r.returncode == 1 and "not a reachable master" in r.stderr
    assert c.role("r2") == "replica of r1"
    assert c.snapshot_dns() == before


def test_dual_stack_node_serves_a_and_aaaa(tmp_path, procs):
    c = Cluster(tmp_path, procs,
                node_conf={"r2": {"address": ["127.0.0.3", "fd00::3"]}})
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.record("A") == ["127.0.0.3"]
    assert c.record("AAAA") == ["fd00::3"]
    st = json.loads(c.rf.run("status", "--json").stdout)
    assert st["record"]["node"] == "r2" and st["verdict"] == "consistent"
    assert st["record"]["aaaa"] == ["fd00::3"]
    # back: the prerequisite names both RRsets of r2
    r = c.switch("-y", "--to", "r1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.record("A") == ["127.0.0.2"]
    assert c.record("AAAA") == []


def test_two_services_need_a_name(cluster):
    c = cluster
    c.rf.services.append({"name": "cache", "nodes": [
        {"name": "c1", "host": "127.0.0.2", "port": 1}]})
    c.rf.write_conf()
    r = c.switch("-y")
    assert r.returncode == 2 and "name one" in r.stderr
    # status, unlike switch, needs no name: it shows both (cache has no record)
    r = c.rf.run("status")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "service redis" in r.stdout and "service cache" in r.stdout
    r = c.switch("redis", "-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.served() == "r2"
    assert c.rf.run("check", "redis").returncode == 0


def test_rejoin_waits_for_no_switch(cluster):
    """rejoin takes the switch lock: a switch half-way must not see its
    target re-pointed under it. While another process holds the lock,
    rejoin is refused and changes nothing."""
    import fcntl
    import os
    c = cluster
    c.nodes["r3"].client().replicaof(c.nodes["r2"].host, c.port)
    wait_until(lambda: c.role("r3") == "replica of r2", what="r3 follows r2")
    lock = c.rf.dir / "redisfo.lock"
    fd = os.open(str(lock), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, b"4242\n")
        r = c.rf.run("rejoin", "r3")
        assert r.returncode == 1, r.stdout + r.stderr
        assert "rejoin refused: another switch or rejoin is running (pid 4242)" \
            in r.stderr
        os.ftruncate(fd, 0)
        os.pwrite(fd, b"4243 rejoin\n", 0)
        r = c.rf.run("switch", "-y", "--to", "r2")
        assert r.returncode == 1, r.stdout + r.stderr
        assert "switch refused: another rejoin is running (pid 4243)" in r.stderr
        assert c.role("r3") == "replica of r2"
    finally:
        os.close(fd)
    r = c.rf.run("rejoin", "r3")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.role("r3") == "replica of r1"


def test_rejoin_of_a_node_already_following_leaves_its_clients(cluster):
    """rejoin kills a node's clients so that writers reconnect and resolve
    again; a node that already replicates the served primary has only
    readers, and they keep their connections."""
    import socket
    c = cluster
    s = socket.create_connection((c.nodes["r3"].host, c.port), timeout=2)
    try:
        s.sendall(b"PING\r\n")
        assert s.recv(64) == b"+PONG\r\n"
        r = c.rf.run("rejoin", "r3")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "r3 already is a replica of r1" in r.stdout
        assert "killed" not in r.stdout
        s.sendall(b"PING\r\n")
        assert s.recv(64) == b"+PONG\r\n"
    finally:
        s.close()
    assert c.role("r3") == "replica of r1"


def write_txt_strings(c, server_port, *strings):
    """Replace the _redisfo TXT with one RR of several strings, signed with
    the update key, as any RFC 2136 tool may write it."""
    import dns.query
    import dns.rdataclass
    import dns.rdatatype
    from dns.rdtypes.ANY.TXT import TXT
    u = c.rf.update_message()
    u.replace("_redisfo.redis", 5, TXT(dns.rdataclass.IN, dns.rdatatype.TXT,
                                       [s.encode() for s in strings]))
    assert dns.query.tcp(u, "127.0.0.1", port=server_port, timeout=3).rcode() == 0


def txt_strings(client):
    r = client.query("_redisfo.redis.svc.test.", "TXT")
    return [[s.decode() for s in rd.strings] for rrset in r.answer for rd in rrset]


def test_rejoin_clears_a_fence_written_as_two_strings(cluster):
    """fenced= in a string of its own: status reads it, and rejoin sends the
    TXT back exactly as read as its prerequisite, so the UPDATE applies and
    the fence goes; the other string stays as it was written."""
    c = cluster
    c.nodes["r3"].client().replicaof("no", "one")
    wait_until(lambda: c.role("r3") == "master", what="r3 detached")
    write_txt_strings(c, c.rf.port, "primary=r1 epoch=12", "fenced=r3")
    st = json.loads(c.rf.run("status", "--json").stdout)
    assert st["record"]["fenced"] == "r3" and st["record"]["epoch"] == 12
    assert st["record"]["txt"] == "primary=r1 epoch=12 fenced=r3"
    assert c.rf.run("check").returncode == 2          # a fenced node is master
    r = c.rf.run("rejoin", "r3")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fenced=r3 cleared" in r.stdout
    assert txt_strings(c.rf) == [["primary=r1 epoch=12"]]
    assert c.role("r3") == "replica of r1"
    assert c.rf.run("check").returncode == 0


def test_rejoin_keeps_every_other_string_as_written(cluster):
    """fenced= inside the first of three strings: only that word goes; the
    boundaries and the quote and backslash of the third string stay."""
    c = cluster
    c.nodes["r3"].client().replicaof("no", "one")
    wait_until(lambda: c.role("r3") == "master", what="r3 detached")
    write_txt_strings(c, c.rf.port, "primary=r1 fenced=r3", "epoch=4",
                      'note="a b"\\')
    r = c.rf.run("rejoin", "r3")
    assert r.returncode == 0, r.stdout + r.stderr
    assert txt_strings(c.rf) == [["primary=r1", "epoch=4", 'note="a b"\\']]
