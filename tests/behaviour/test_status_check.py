"""`status` (table and --json) and `check` (Nagios: OK, WARNING, CRITICAL,
UNKNOWN, one line with perfdata) against real nodes and the real server."""

import json
import re
import signal

import pytest

from failover_env import Cluster
from servers import wait_until

LINE = re.compile(r"^REDISFO (OK|WARNING|CRITICAL|UNKNOWN) - [^\n|]+ \| lag=\d+B;\d+;;0"
                  r"( serial=\d+)?\n$")


@pytest.fixture
def cluster(tmp_path, procs):
    return Cluster(tmp_path, procs, failover={"max_lag_bytes": 1000})


def check(c):
    r = c.rf.run("check")
    assert LINE.match(r.stdout), repr(r.stdout)
    return r.returncode, r.stdout


def status(c):
    r = c.rf.run("status", "--json")
    return r.returncode, json.loads(r.stdout)


def test_status_json_consistent(cluster):
    c = cluster
    c.nodes["r1"].client().set("k", "v")
    wait_until(lambda: c.nodes["r3"].client().get("k") == "v", what="replicated")
    code, st = status(c)
    assert code == 0
    assert st["service"] == "redis"
    assert st["verdict"] == "consistent"
    rec = st["record"]
    assert rec["name"] == "redis.svc.test."
    assert rec["a"] == ["127.0.0.2"] and rec["aaaa"] == []
    assert rec["node"] == "r1" and rec["ttl"] == 5
    assert rec["serial"] == c.serial() and rec["epoch"] == 1 and rec["fenced"] is None
    nodes = {n["name"]: n for n in st["nodes"]}
    assert nodes["r1"]["role"] == "master" and nodes["r1"]["served"] is True
    assert nodes["r1"]["connected_replicas"] == 2
    for n in ("r2", "r3"):
        assert nodes[n]["role"] == "replica"
        assert nodes[n]["master_host"] == "127.0.0.2" and nodes[n]["master_port"] == c.port
        assert nodes[n]["link"] == "up" and nodes[n]["reachable"] is True
        assert nodes[n]["offset"] <= nodes["r1"]["offset"]
        assert nodes[n]["lag_bytes"] == nodes["r1"]["offset"] - nodes[n]["offset"]
    table = c.rf.run("status").stdout
    assert "verdict consistent" in table and "* r1" in table


def test_status_and_check_with_a_replica_down(cluster):
    c = cluster
    c.nodes["r3"].kill(signal.SIGKILL)
    code, st = status(c)
    r3 = [n for n in st["nodes"] if n["name"] == "r3"][0]
    assert r3["reachable"] is False and r3["error"] and r3["role"] is None
    assert st["verdict"] == "consistent"
    code, out = check(c)
    assert code == 1 and "r3 unreachable" in out


def test_check_ok(cluster):
    code, out = check(cluster)
    assert code == 0
    assert out.startswith("REDISFO OK - redis: r1 is served and master, 2 replica(s)")
    assert "serial=%d" % cluster.serial() in out


def test_check_warning_on_lag(cluster):
    c = cluster
    r2 = c.nodes["r2"].client()
    r2.execute_command("CLIENT", "PAUSE", "20000", "WRITE")
    try:
        c.nodes["r1"].client().set("big", "x" * 5000)
        wait_until(lambda: int(c.info("r1")["master_repl_offset"])
                   - int(c.info("r2")["slave_repl_offset"]) > 5000, what="r2 lagging")
        code, out = check(c)
        assert code == 1, out
        assert "r2 lags" in out
        lag = int(re.search(r"lag=(\d+)B", out).group(1))
        assert lag > 5000
    finally:
        r2.execute_command("CLIENT", "UNPAUSE")
    wait_until(lambda: check(c)[0] == 0, what="check OK again")


def test_check_warning_on_link_down(cluster):
    c = cluster
    c.nodes["r1"].client().config_set("repl-diskless-sync-delay", "30")
    r3 = c.nodes["r3"].client()
    r3.replicaof("no", "one")
    r3.set("diverged", "1")
    r3.replicaof(c.nodes["r1"].host, c.port)
    wait_until(lambda: c.info("r3").get("master_link_status") == "down", what="r3 down")
    code, out = check(c)
    assert code == 1, out
    assert "r3 link down" in out


def test_check_critical_split_brain(cluster):
    c = cluster
    c.nodes["r3"].client().replicaof("no", "one")
    code, out = check(c)
    assert code == 2, out
    assert "split brain: r3 claims master while r1 is served" in out
    code, st = status(c)
    assert code == 1 and st["verdict"] == "split brain"
    table = c.rf.run("status").stdout
    assert "verdict split brain: r3 claims master while r1 is served" in table, table
    assert "split brain: split brain" not in table


def test_check_critical_when_served_node_is_not_master(cluster):
    c = cluster
    c.nodes["r2"].client().replicaof("no", "one")
    c.nodes["r1"].client().replicaof(c.nodes["r2"].host, c.port)
    code, out = check(c)
    assert code == 2, out
    assert "served node r1 is a replica, not a master" in out


def test_check_critical_when_served_node_is_down(cluster):
    c = cluster
    c.nodes["r1"].kill(signal.SIGKILL)
    code, out = check(c)
    assert code == 2, out
    assert "served node r1 is unreachable" in out


def test_check_unknown_without_dns(cluster):
    c = cluster
    c.rf.stop()
    code, out = check(c)
    assert code == 3, out
    assert out.startswith("REDISFO UNKNOWN - ")
    code, st = status(c)
    assert st["verdict"] == "record unknown" and st["record"]["error"]


def test_status_wrong_master(cluster):
    c = cluster
    c.nodes["r3"].client().replicaof(c.nodes["r2"].host, c.port)
    code, st = status(c)
    assert code == 1
    assert st["verdict"] == "replica of the wrong master"
    code, out = check(c)
    assert code == 1, out


def test_status_json_stays_valid_with_any_bytes_in_the_txt(cluster):
    """The TXT is whatever was last written to the zone: control bytes,
    DEL and bytes that are not UTF-8 must still make valid JSON."""
    import dns.name
    import dns.query
    import dns.rdataclass
    import dns.rdatatype
    import dns.tsigkeyring
    import dns.update
    from dns.rdtypes.ANY.TXT import TXT
    c = cluster
    raw = b"primary=r1 epoch=1 \xff\xc3(\x01\x7f\"\\ caf\xc3\xa9"
    ring = dns.tsigkeyring.from_text({c.rf.key_name: c.rf.key_secret})
    u = dns.update.Update("svc.test.", keyring=ring,
                          keyname=dns.name.from_text(c.rf.key_name),
                          keyalgorithm=c.rf.key_algorithm)
    u.replace("_redisfo.redis", 5, TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [raw]))
    assert dns.query.tcp(u, "127.0.0.1", port=c.rf.port, timeout=2).rcode() == 0
    r = c.rf.run("status", "--json")
    st = json.loads(r.stdout)           # text mode: also valid UTF-8
    assert st["record"]["txt"] == "primary=r1 epoch=1 \u00ff\u00c3(\x01\x7f\"\\ caf\u00e9"
    assert st["record"]["epoch"] == 1 and st["verdict"] == "consistent"
