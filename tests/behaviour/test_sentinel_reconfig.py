"""sentinel-reconfig alone, called as Sentinel calls its
client-reconfig-script but with no Sentinel running: a real server and
three real Redis nodes (failover_env.Cluster) whose service has
sentinel_name = "mymaster".

What each test sends is the script's seven arguments (MASTER-NAME ROLE
STATE FROM-IP FROM-PORT TO-IP TO-PORT); what it checks is the exit code
in Sentinel's convention (0 done, 1 retry, 2 do not retry), the record,
the TXT and the serial as served, and that Redis was left alone (the
command never touches it: the roles stay as they were).
"""

import fcntl
import json
import os
import time

import pytest

from failover_env import Cluster, HOSTS

MASTER = "mymaster"


@pytest.fixture
def cluster(tmp_path, procs):
    return Cluster(tmp_path, procs, service_auth={"sentinel_name": MASTER})


def reconfig(c, *args, timeout=30):
    return c.rf.run("sentinel-reconfig", *args, timeout=timeout)


def call(c, frm, to, role="leader", state="start", master=MASTER):
    return reconfig(c, master, role, state, c.nodes[frm].host, str(c.nodes[frm].port),
                    c.nodes[to].host, str(c.nodes[to].port))


def audit_lines(c):
    path = c.rf.dir / "redisfo-audit.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_first_call_moves_the_record_and_leaves_redis_alone(cluster):
    c = cluster
    roles = c.roles()
    serial = c.serial()
    r = call(c, "r1", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.record() == [HOSTS[1]]
    assert "primary=r2 epoch=2 " in c.txt()
    assert c.serial() > serial
    assert c.roles() == roles, "sentinel-reconfig touched Redis"
    assert "now names r2" in r.stderr
    last = audit_lines(c)[-1]
    assert (last["service"], last["mode"], last["from"], last["to"], last["result"]) == \
        ("redis", "sentinel", "r1", "r2", "ok")


def test_every_other_call_finds_it_moved_and_changes_nothing(cluster):
    c = cluster
    assert call(c, "r1", "r2").returncode == 0
    after = c.snapshot_dns()
    for role, state in (("observer", "start"), ("observer", "start"), ("leader", "failover")):
        r = call(c, "r1", "r2", role=role, state=state)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "already names r2" in r.stderr
        assert c.snapshot_dns() == after


@pytest.mark.parametrize("state", ["end", "abort", "Start", ""])
def test_other_states_are_ignored_with_exit_0(cluster, state):
    c = cluster
    before = c.snapshot_dns()
    r = call(c, "r1", "r2", state=state)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ignored" in r.stderr
    assert c.snapshot_dns() == before


def test_the_documented_failover_state_moves_it_too(cluster):
    c = cluster
    r = call(c, "r1", "r3", role="leader", state="failover")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.record() == [HOSTS[2]]


@pytest.mark.parametrize("args, said", [
    (("othermaster", "leader", "start", HOSTS[0], "{p}", HOSTS[1], "{p}"),
     'no service has sentinel_name = "othermaster"'),
    (("redis", "leader", "start", HOSTS[0], "{p}", HOSTS[1], "{p}"),
     'no service has sentinel_name = "redis"'),
    ((MASTER, "leader", "start", HOSTS[0], "{p}", "127.0.0.9", "{p}"),
     "no node of redis is 127.0.0.9 port"),
    ((MASTER, "leader", "start", HOSTS[0], "{p}", HOSTS[1], "1"),
     "no node of redis is 127.0.0.3 port 1 "),
    ((MASTER, "leader", "start", HOSTS[0], "{p}", HOSTS[1], "port"),
     "bad port 'port'"),
    ((MASTER, "leader", "start", HOSTS[0], "{p}", HOSTS[1], "70000"),
     "bad port '70000'"),
    ((MASTER, "leader", "start", HOSTS[0], "{p}", HOSTS[1]),
     "6 argument(s), 7 expected"),
])
def test_a_mapping_that_fails_is_do_not_retry(cluster, args, said):
    c = cluster
    before = c.snapshot_dns()
    r = reconfig(c, *[a.format(p=c.port) for a in args])
    assert r.returncode == 2, r.stdout + r.stderr
    assert said in r.stderr
    assert c.snapshot_dns() == before


def test_a_record_naming_neither_from_nor_to_is_left_alone(cluster):
    """A late call of an older failover (r1 -> r2) after a newer one
    (r1 -> r3) must not move the record back to a replica."""
    c = cluster
    assert call(c, "r1", "r3").returncode == 0
    before = c.snapshot_dns()
    r = call(c, "r1", "r2")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "names r3, neither r1 nor r2" in r.stderr
    assert c.snapshot_dns() == before


def test_to_may_be_a_served_address_rather_than_the_host(tmp_path, procs):
    c = Cluster(tmp_path, procs, service_auth={"sentinel_name": MASTER},
                node_conf={"r2": {"address": ["10.9.0.2", "fd00::2"]}})
    r = reconfig(c, MASTER, "leader", "start", HOSTS[0], str(c.port), "10.9.0.2",
                 str(c.port))
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.record() == ["10.9.0.2"]
    assert c.record("AAAA") == ["fd00::2"]


def test_dns_server_down_is_retry(cluster):
    c = cluster
    c.rf.stop()
    t0 = time.monotonic()
    r = call(c, "r1", "r2")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "cannot read the record" in r.stderr
    assert time.monotonic() - t0 < 10
    c.rf.start()
    assert c.record() == [HOSTS[0]]
    # Sentinel's retry then moves it
    assert call(c, "r1", "r2").returncode == 0
    assert c.record() == [HOSTS[1]]


def test_lock_held_by_a_switch_or_rejoin_is_retry_after_a_short_wait(cluster):
    c = cluster
    before = c.snapshot_dns()
    fd = os.open(str(c.rf.dir / "redisfo.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"%d rejoin\n" % os.getpid())
        fcntl.flock(fd, fcntl.LOCK_EX)
        t0 = time.monotonic()
        r = call(c, "r1", "r2")
        waited = time.monotonic() - t0
    finally:
        os.close(fd)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "another rejoin is running" in r.stderr
    assert 0.9 < waited < 5
    assert c.snapshot_dns() == before


def test_switch_refuses_a_sentinel_managed_service(cluster):
    c = cluster
    before = c.snapshot()
    for args in (("-y", "--to", "r2"), ("--dry-run",)):
        r = c.switch(*args)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "switch refused: Sentinel manages redis: use SENTINEL FAILOVER mymaster" \
            in r.stderr
    assert c.snapshot() == before


def test_sentinel_name_must_be_unique(tmp_path, procs):
    c = Cluster(tmp_path, procs, start_server=False)
    svc2 = dict(c.rf.services[0], name="redis2")
    c.rf.services[0]["sentinel_name"] = MASTER
    svc2["sentinel_name"] = MASTER
    c.rf.services.append(svc2)
    c.rf.write_conf()
    r = c.rf.run("checkconf")
    assert r.returncode == 2
    assert 'sentinel_name: "mymaster" is already service "redis"\'s' in r.stderr
