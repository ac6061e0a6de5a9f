"""Planned switchover: under write load, back and forth, nothing lost.

A client resolves redis.svc.test. over DNS before each connection, writes
increasing numbers and reconnects on any error. After every switch, every
write the old primary acknowledged must be on the new one; the record, the
TXT, the serial and every node's role must say the same thing.
"""

import json
import re

import pytest

from failover_env import Cluster, HOSTS
from writeload import WriteLoad


@pytest.fixture
def cluster(tmp_path, procs):
    return Cluster(tmp_path, procs)


def test_switch_back_and_forth_under_load_loses_nothing(cluster):
    c = cluster
    load = WriteLoad(c.rf.port, redis_port=c.port).start()
    try:
        load.wait_acks(200)
        targets = ["r2", "r1", "r3", "r1"] * 5          # 20 switches
        serial = c.serial()
        for i, to in enumerate(targets):
            r = c.switch("-y", "--to", to)
            assert r.returncode == 0, r.stdout + r.stderr
            assert "write pause window:" in r.stdout
            assert c.record() == [c.nodes[to].host]
            assert c.serial() > serial
            serial = c.serial()
            txt = c.txt()
            assert txt.startswith("primary=%s epoch=%d " % (to, i + 2)), txt
            roles = c.roles()
            assert roles[to] == "master"
            for n in roles:
                if n != to:
                    assert roles[n] == "replica of %s" % to, roles
            load.wait_acks(100)                          # written on the new one
            missing = load.missing_on(c.nodes[to].client())
            assert missing == [], "switch %d to %s lost %d acknowledged writes" % (
                i + 1, to, len(missing))
    finally:
        load.stop()
    acked, acks = load.snapshot()
    missing = load.missing_on(c.nodes["r1"].client())
    assert missing == []
    assert len(acked) > 2000
    # the client did move: it acknowledged writes on all three addresses
    assert {a for _, a in acks} == set(HOSTS)


def test_switch_prints_plan_timeline_and_writes_audit(cluster, tmp_path):
    c = cluster
    r = c.switch("-y")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "plan: planned switchover redis: r1" in r.stdout
    for step in ("lock", "preflight", "pause", "catchup", "promote", "swap",
                 "demote", "repoint"):
        assert re.search(r"^  %s +[0-9.]+ ms  ok" % step, r.stdout, re.M), step
    window = float(re.search(r"write pause window: ([0-9.]+) ms", r.stdout).group(1))
    assert 0 < window < 2000
    lines = [json.loads(x) for x in
             open(c.rf.failover_cfg["audit_log"]).read().splitlines()]
    steps = [x["step"] for x in lines]
    assert steps[:2] == ["lock", "preflight"] and "swap" in steps
    assert all(x["result"] == "ok" for x in lines)
    assert lines[-1]["from"] == "r1" and lines[-1]["to"] in ("r2", "r3")


LOG_LINE = re.compile(r"^\S+Z redisfo-dns\[\d+\] (info|warning): (.*)$")


def test_switch_says_each_step_in_the_log(cluster):
    """The journal (stderr, or syslog) gets a line per step, saying what
    happened to the record; stdout, where the timeline is, gets none."""
    c = cluster
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    logged = [LOG_LINE.match(x) for x in r.stderr.splitlines()]
    assert all(logged), r.stderr
    assert [m.group(1) for m in logged] == ["info"] * len(logged)
    texts = [m.group(2) for m in logged]
    steps = [re.match(r"switch redis(?: \(planned r1 -> r2\))?: (\w+) ok [0-9.]+ ms",
                      t).group(1) for t in texts]
    assert steps == ["lock", "preflight", "confirm", "pre_hook", "pause", "catchup",
                     "promote", "swap", "demote", "repoint", "post_hook", "sweep"], texts
    serial = c.serial()
    assert any(re.match(r"switch redis \(planned r1 -> r2\): swap ok [0-9.]+ ms: "
                        r"record names r2, serial %d -> %d$" % (serial - 2, serial - 1), t)
               for t in texts), texts
    assert "redisfo-dns[" not in r.stdout
    # a refusal is a warning; -q leaves only the errors
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 1
    assert re.search(r"\] warning: switch redis: preflight failed [0-9.]+ ms: "
                     r"r2 is already the served primary\n", r.stderr), r.stderr
    assert re.search(r"\] warning: switch redis: refused: r2 is already the served "
                     r"primary\n", r.stderr), r.stderr
    r = c.rf.run("-q", "switch", "-y", "--to", "r1", input="")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "redisfo-dns[" not in r.stderr


def test_dry_run_prints_verdicts_and_changes_nothing(cluster):
    c = cluster
    before = c.snapshot()
    r = c.switch("--dry-run", "--to", "r3")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[ ok ] target r3 is a replica of the served primary r1" in r.stdout
    assert "nothing was changed" in r.stdout
    assert c.snapshot() == before
    # a dry run of a refused switch says so, and still changes nothing
    r = c.switch("--dry-run", "--to", "r1")
    assert r.returncode == 1
    assert "[FAIL]" in r.stdout
    assert c.snapshot() == before


def test_hooks_get_the_switch_in_their_environment(tmp_path, procs):
    out = tmp_path / "hooks.txt"
    c = Cluster(tmp_path, procs, failover={
        "pre_hook": "echo pre $REDISFO_SERVICE $REDISFO_OLD $REDISFO_NEW $REDISFO_NEW_ADDRESS >> %s" % out,
        "post_hook": "echo post $REDISFO_MODE $REDISFO_EPOCH >> %s; "
                     "ls -l /proc/$$/fd > %s.fds; exit 3" % (out, out)})
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr      # a failing post_hook is reported only
    assert "post_hook exited with 3" in r.stdout
    assert out.read_text().splitlines() == ["pre redis r1 r2 127.0.0.3", "post planned 2"]
    # a hook inherits neither the lock nor the connections to the nodes
    fds = (tmp_path / "hooks.txt.fds").read_text()
    assert "socket:" not in fds and "redisfo.lock" not in fds, fds


def pause_calls(c, name):
    """How many CLIENT PAUSE the node has run (INFO commandstats)."""
    stats = c.nodes[name].client().info("commandstats")
    return stats.get("cmdstat_client|pause", {}).get("calls", 0)


def test_acl_user_and_password(tmp_path, procs):
    """The service's user + password (Redis ACL), not the default user's."""
    c = Cluster(tmp_path, procs, password="default-pass",
                extra=["user failover on >fo-pass ~* &* +@all"],
                service_auth={"user": "failover", "password": "fo-pass"})
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.role("r1") == "replica of r2"
    # a wrong password: the primary answers (with an error), so this is no
    # unplanned failover; the switch is refused and says why
    c.rf.services[0]["password"] = "wrong"
    c.rf.write_conf()
    r = c.switch("-y", "--to", "r1")
    assert r.returncode == 1
    assert "the primary r2 answers but cannot be probed" in r.stderr
    assert "AUTH" in r.stderr and "UNPLANNED" not in r.stdout
    assert c.role("r2") == "master" and c.served() == "r2"
    # a user without CLIENT PAUSE: refused at the preflight (ACL DRYRUN),
    # naming the command and the node; nothing was paused
    c.rf.services[0]["password"] = "fo-pass"
    c.rf.write_conf()
    c.nodes["r2"].client().execute_command(
        "ACL", "SETUSER", "failover", "-client|pause", "-client|unpause")
    pauses = pause_calls(c, "r2")
    r = c.switch("-y", "--to", "r1")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "switch refused: CLIENT PAUSE is not available on r2" in r.stderr
    assert "user failover may not run it" in r.stderr
    assert pause_calls(c, "r2") == pauses
    assert c.role("r2") == "master" and c.served() == "r2"
    assert c.role("r1") == "replica of r2"
    # a target whose user may not run REPLICAOF: refused before anything
    # changed, naming REPLICAOF and the target
    c.nodes["r2"].client().execute_command(
        "ACL", "SETUSER", "failover", "+client|pause", "+client|unpause")
    c.nodes["r1"].client().execute_command(
        "ACL", "SETUSER", "failover", "-replicaof", "-slaveof")
    r = c.switch("-y", "--to", "r1")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "switch refused: REPLICAOF is not available on r1" in r.stderr
    assert "[FAIL] r1 (127.0.0.2:%d) lets the switch run REPLICAOF" % c.port in r.stdout
    assert pause_calls(c, "r2") == pauses
    assert c.role("r2") == "master" and c.served() == "r2"
    assert c.role("r1") == "replica of r2"
    assert c.nodes["r2"].client(socket_timeout=0.5).set("k", "1")


def test_password_protected_nodes(tmp_path, procs):
    c = Cluster(tmp_path, procs, password="s3cret-pass")
    r = c.switch("-y", "--to", "r3")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.record() == [c.nodes["r3"].host]
    assert c.role("r1") == "replica of r3"


def test_node_without_config_file_is_switched_with_a_warning(tmp_path, procs):
    c = Cluster(tmp_path, procs, bare=("r2",))
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "r2: no config file, CONFIG REWRITE skipped" in r.stdout
    assert c.role("r2") == "master" and c.role("r1") == "replica of r2"
    assert "replicaof" in (c.nodes["r1"].conf_path.read_text().lower())


def run_on_terminal(c, answer, *args):
    """switch with a terminal on stdin, answering the question with answer."""
    import os
    import pty
    import subprocess
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([str(c.rf.binary), "-c", str(c.rf.conf_path), "switch", *args],
                             stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=c.rf.env)
        os.write(master, answer.encode() + b"\n")
        out, err = p.communicate(timeout=60)
        return p.returncode, out, err
    finally:
        os.close(master)
        os.close(slave)


def test_asks_on_the_terminal(cluster):
    c = cluster
    before = c.snapshot()
    code, out, err = run_on_terminal(c, "n", "--to", "r2")
    assert code == 1, out + err
    assert "Switch redis from r1 to r2? [y/N]" in out
    assert "not confirmed by the operator" in err
    assert c.snapshot() == before
    code, out, err = run_on_terminal(c, "y", "--to", "r2")
    assert code == 0, out + err
    assert c.served() == "r2"


def test_connections_closed_while_idle_are_reopened(tmp_path, procs):
    """Redis closes idle clients (its `timeout`, a CLIENT KILL, a restart)
    while a pre_hook runs or an operator is slow to answer. The switch's
    first command after that must not be the one that finds out."""
    c = Cluster(tmp_path, procs)
    kill = "; ".join("redis-cli -h %s -p %d client kill type normal >/dev/null"
                     % (c.nodes[n].host, c.port) for n in ("r1", "r2"))
    c.rf.failover_cfg["pre_hook"] = kill
    c.rf.write_conf()
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.served() == "r2" and c.role("r1") == "replica of r2"


def test_switch_under_load_with_min_replicas_to_write(tmp_path, procs):
    """min-replicas-to-write 1 on every node (the README's advice against a
    hung primary's writes): switches still go through and lose nothing. The
    new primary may answer NOREPLICAS until the old one has attached as its
    replica; the client takes that as an error and retries."""
    c = Cluster(tmp_path, procs, extra=["min-replicas-to-write 1", "min-replicas-max-lag 10"])
    load = WriteLoad(c.rf.port, redis_port=c.port).start()
    try:
        load.wait_acks(200)
        for to in ("r2", "r1", "r3", "r1"):
            r = c.switch("-y", "--to", to)
            assert r.returncode == 0, r.stdout + r.stderr
            assert c.roles()[to] == "master"
            load.wait_acks(100)                          # written on the new one
            assert load.missing_on(c.nodes[to].client()) == []
    finally:
        load.stop()
    assert load.missing_on(c.nodes["r1"].client()) == []
