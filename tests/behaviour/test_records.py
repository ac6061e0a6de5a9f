"""What clients can learn from DNS besides the primary's address: the
_redis._tcp SRV record (the primary's port, moved with the address) and
the reader record <reader_name>.<zone> (the replicas that follow the
primary with their link up, the primary when none does), kept by
switch, rejoin and `readers`, and watched by check. Real redis-server
nodes (failover_env.Cluster) behind a real `serve`; dig and dnspython
ask."""

import re
import signal
import subprocess

import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest
from dns.rdtypes.IN.A import A

from dnstools import need_tool
from failover_env import LEASE_MOVES, Cluster
from servers import Redisfo, wait_until

SRV = "_redis._tcp.redis.svc.test."
READER = "redis-ro.svc.test."


def srv_dig(c):
    """The SRV as dig prints it, +short: ["0 0 PORT redis.svc.test."]."""
    need_tool("dig")
    r = subprocess.run(["dig", "@127.0.0.1", "-p", str(c.rf.port), SRV, "SRV", "+short",
                        "+tries=1", "+time=2", "+nocookie"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.split("\n")[:-1]


def srv_records(c):
    r = c.rf.query(SRV, "SRV")
    assert r.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)
    return [(rd.priority, rd.weight, rd.port, rd.target.to_text())
            for rrset in r.answer if rrset.rdtype == dns.rdatatype.SRV for rd in rrset]


def readers(c, name=READER):
    """The reader record's A values as served, sorted ([] when none)."""
    r = c.rf.query(name, "A")
    return sorted(rd.address for rrset in r.answer if rrset.rdtype == dns.rdatatype.A
                  for rd in rrset)


def hosts(c, *names):
    return sorted(c.nodes[n].host for n in names)


def test_srv_created_with_the_zone_and_moved_by_a_switch(tmp_path, procs):
    """Nodes on three ports: the zone serve creates has r1's port in the
    SRV; a switch to r2 puts r2's port there in the same UPDATE."""
    c = Cluster(tmp_path, procs, ports="distinct", create_zone=True)
    ports = {n: c.nodes[n].port for n in c.nodes}
    assert len(set(ports.values())) == 3
    assert srv_records(c) == [(0, 0, ports["r1"], "redis.svc.test.")]
    assert srv_dig(c) == ["0 0 %d redis.svc.test." % ports["r1"]]
    # the reader record starts at the primary: nothing probed it yet
    assert readers(c) == hosts(c, "r1")
    serial = c.serial()
    r = c.switch("--to", "r2", "-y")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.record() == hosts(c, "r2")
    assert srv_records(c) == [(0, 0, ports["r2"], "redis.svc.test.")]
    assert srv_dig(c) == ["0 0 %d redis.svc.test." % ports["r2"]]
    # one UPDATE moved all three; the lease's take and release are the rest
    assert c.serial() == serial + 1 + LEASE_MOVES
    # the demoted r1 and the re-pointed r3 read from r2 now
    assert readers(c) == hosts(c, "r1", "r3")
    c.wait_links("r2")
    r = c.rf.run("check")
    assert r.returncode == 0, r.stdout


def test_srv_added_by_the_first_switch_of_an_older_zone(tmp_path, procs):
    """A zone written before SRV records (no SRV, no reader record) gets
    both at the next switch; check says nothing about the missing reader
    record before."""
    c = Cluster(tmp_path, procs)
    assert srv_records(c) == []
    assert readers(c) == []
    r = c.rf.run("check")
    assert r.returncode == 0, r.stdout
    r = c.switch("--to", "r3", "-y")
    assert r.returncode == 0, r.stdout + r.stderr
    assert srv_records(c) == [(0, 0, c.nodes["r3"].port, "redis.svc.test.")]
    assert readers(c) == hosts(c, "r1", "r2")


def checkconf(tmp_path, ports):
    nodes = [{"name": "r%d" % (i + 1), "host": "127.0.0.%d" % (i + 2), "port": p}
             for i, p in enumerate(ports)]
    rf = Redisfo(tmp_path / ("rf-%d" % len(set(ports))), services=[{"name": "redis", "nodes": nodes}])
    return rf.run("checkconf")


def test_checkconf_warns_when_ports_differ(tmp_path):
    r = checkconf(tmp_path, [6379, 6380, 6379])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("configuration OK")
    assert re.search(r"warning: service redis: node r1 listens on port 6379 and node r2 "
                     r"on 6380: .*clients that ignore the SRV record "
                     r"_redis\._tcp\.redis\.svc\.test\. connect to the wrong port", r.stderr), \
        r.stderr
    r = checkconf(tmp_path, [6379, 6379, 6379])
    assert r.returncode == 0 and r.stdout.startswith("configuration OK")
    assert "warning" not in r.stderr


@pytest.fixture
def created(tmp_path, procs):
    """A Cluster whose zone serve created (SRV and reader record in it)."""
    return Cluster(tmp_path, procs, create_zone=True)


def test_readers_refreshes_from_a_probe(created):
    c = created
    assert readers(c) == hosts(c, "r1")
    serial = c.serial()
    r = c.rf.run("readers")
    assert r.returncode == 0, r.stdout + r.stderr
    assert readers(c) == hosts(c, "r2", "r3")
    assert "%s: %s (was %s)" % (READER, ",".join(hosts(c, "r2", "r3")),
                                c.nodes["r1"].host) in r.stdout
    assert c.serial() == serial + 1
    # nothing to do: no UPDATE
    r = c.rf.run("readers", "redis")
    assert r.returncode == 0 and "unchanged" in r.stdout, r.stdout + r.stderr
    assert c.serial() == serial + 1
    # a replica down leaves the record
    c.nodes["r3"].kill(signal.SIGKILL)
    r = c.rf.run("readers")
    assert r.returncode == 0, r.stdout + r.stderr
    assert readers(c) == hosts(c, "r2")
    # no healthy replica: the primary
    c.nodes["r2"].kill(signal.SIGKILL)
    r = c.rf.run("readers")
    assert r.returncode == 0, r.stdout + r.stderr
    assert readers(c) == hosts(c, "r1")
    assert "the primary r1: no replica follows it with its link up" in r.stdout
    r = c.rf.run("readers", "nosuch")
    assert r.returncode == 2 and "no service named 'nosuch'" in r.stderr
    r = c.rf.run("readers", "redis", "extra")
    assert r.returncode == 2 and "unexpected argument 'extra'" in r.stderr


def test_readers_refuses_a_record_changed_under_it(created):
    """The primary down: readers leaves the record as it is (exit 1)."""
    c = created
    serial = c.serial()
    c.nodes["r1"].kill(signal.SIGKILL)
    r = c.rf.run("readers")
    assert r.returncode == 1
    assert "the served node r1 is not a reachable master" in r.stderr
    assert readers(c) == hosts(c, "r1") and c.serial() == serial


def write_readers(c, *addrs):
    u = c.rf.update_message()
    u.delete("redis-ro", "A")
    for a in addrs:
        u.add("redis-ro", 5, A(dns.rdataclass.IN, dns.rdatatype.A, a))
    assert dns.query.tcp(u, "127.0.0.1", port=c.rf.port, timeout=3).rcode() == 0


def test_check_warns_when_the_reader_record_is_stale(created):
    c = created
    assert c.rf.run("readers").returncode == 0
    r = c.rf.run("check")
    assert r.returncode == 0, r.stdout
    write_readers(c, "127.0.0.9")
    r = c.rf.run("check")
    assert r.returncode == 1, r.stdout
    assert r.stdout.startswith("REDISFO WARNING - ")
    assert "%s names 127.0.0.9, the probes see %s (readers redis)" % (
        READER, ",".join(hosts(c, "r2", "r3"))) in r.stdout
    # one replica missing from it is stale too
    write_readers(c, c.nodes["r2"].host)
    r = c.rf.run("check")
    assert r.returncode == 1 and READER + " names " in r.stdout, r.stdout
    assert c.rf.run("readers").returncode == 0
    assert c.rf.run("check").returncode == 0


def test_failover_and_rejoin_keep_the_reader_record(tmp_path, procs):
    """Unplanned: the record names the replicas the failover re-points
    (not the dead, fenced r1); rejoin r1 adds it in the UPDATE that clears
    the fence; a rejoin of a node not fenced refreshes it by itself."""
    c = Cluster(tmp_path, procs, failover={"probe_timeout_ms": 250, "probes": 2},
                create_zone=True)
    c.nodes["r1"].kill(signal.SIGKILL)
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fenced=r1" in c.txt()
    assert readers(c) == hosts(c, "r3")
    c.nodes["r1"].start()
    r = c.rf.run("rejoin", "r1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fenced" not in c.txt()
    assert readers(c) == hosts(c, "r1", "r3")
    assert "%s: %s" % (READER, ",".join(hosts(c, "r1", "r3"))) in r.stdout
    # r3 leaves and comes back by rejoin: not fenced, its own UPDATE
    c.nodes["r3"].client().replicaof("no", "one")
    wait_until(lambda: c.role("r3") == "master", what="r3 detached")
    write_readers(c, c.nodes["r1"].host)
    r = c.rf.run("rejoin", "r3")
    assert r.returncode == 0, r.stdout + r.stderr
    assert readers(c) == hosts(c, "r1", "r3")
    wait_until(lambda: c.rf.run("check").returncode == 0, timeout=10, what="check OK")


def test_no_reader_record_when_reader_name_is_empty(tmp_path, procs):
    c = Cluster(tmp_path, procs, service_auth={"reader_name": ""}, create_zone=True)
    assert c.rf.query(READER, "A").rcode() == dns.rcode.NXDOMAIN
    assert srv_records(c) == [(0, 0, c.port, "redis.svc.test.")]
    r = c.switch("--to", "r2", "-y")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.rf.query(READER, "A").rcode() == dns.rcode.NXDOMAIN
    r = c.rf.run("readers")
    assert r.returncode == 0 and r.stdout == ""      # no service has one
    r = c.rf.run("readers", "redis")
    assert r.returncode == 1 and 'reader_name is "": the service has no reader record' \
        in r.stderr
    c.wait_links("r2")
    assert c.rf.run("check").returncode == 0


def test_reader_name_of_its_own(tmp_path, procs):
    c = Cluster(tmp_path, procs, service_auth={"reader_name": "replicas"}, create_zone=True)
    assert readers(c, "replicas.svc.test.") == hosts(c, "r1")
    assert c.rf.query(READER, "A").rcode() == dns.rcode.NXDOMAIN
    assert c.rf.run("readers").returncode == 0
    assert readers(c, "replicas.svc.test.") == hosts(c, "r2", "r3")
