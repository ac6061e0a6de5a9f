"""Every refusal of `switch`: a one-line reason, exit 1, and nothing changed.

Each test takes a snapshot (every node's role, the record, the serial, the
TXT) right before the refused switch and compares it after.
"""

import fcntl
import os
import re
import subprocess
import sys

import pytest

from failover_env import LEASE_MOVES, Cluster
from servers import wait_until

UPDATE_SCRIPT = r'''
import base64, os, sys
import dns.message, dns.query, dns.tsigkeyring, dns.update, dns.name
if os.environ.get("REDISFO_STEP") != sys.argv[5]:
    sys.exit(0)
ring = dns.tsigkeyring.from_text({sys.argv[2]: sys.argv[3]})
u = dns.update.Update("svc.test.", keyring=ring, keyname=dns.name.from_text(sys.argv[2]),
                      keyalgorithm="hmac-sha256")
u.replace("redis", 5, "A", sys.argv[4])
r = dns.query.tcp(u, "127.0.0.1", port=int(sys.argv[1]), timeout=2)
assert r.rcode() == 0, r
'''


@pytest.fixture
def cluster(tmp_path, procs):
    return Cluster(tmp_path, procs, failover={"pause_timeout_ms": 600})


def update_script(c, tmp_path, addr, step="now"):
    path = tmp_path / "change_record.py"
    path.write_text(UPDATE_SCRIPT)
    cmd = "%s %s %d %s %s %s %s" % (sys.executable, path, c.rf.port, c.rf.key_name,
                                    c.rf.key_secret, addr, step)
    # as a step hook, python starts only at the step wanted
    return 'test "${REDISFO_STEP:-now}" = %s || exit 0; %s' % (step, cmd)


def live_in_group(pgid):
    """Processes of process group pgid that are not zombies."""
    live = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open("/proc/%s/stat" % d).read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            live.append(int(d))
    return live


def refused(r, text):
    assert r.returncode == 1, r.stdout + r.stderr
    assert "switch refused" in r.stderr or "nothing changed" in r.stderr, r.stderr
    assert text in r.stderr, r.stderr


def test_refuses_target_not_replica_of_served_primary(cluster):
    c = cluster
    c.nodes["r3"].client().replicaof(c.nodes["r2"].host, c.port)
    wait_until(lambda: c.info("r3").get("master_link_status") == "up", what="r3 follows r2")
    before = c.snapshot()
    r = c.switch("-y", "--to", "r3")
    refused(r, "the target r3 is not a replica of the served primary r1")
    assert c.snapshot() == before


def test_refuses_target_whose_link_is_down(cluster):
    c = cluster
    # r3 needs a full sync that r1 holds back for 30 s: its link stays down
    c.nodes["r1"].client().config_set("repl-diskless-sync", "yes")
    c.nodes["r1"].client().config_set("repl-diskless-sync-delay", "30")
    r3 = c.nodes["r3"].client()
    r3.replicaof("no", "one")
    r3.set("diverged", "1")
    r3.replicaof(c.nodes["r1"].host, c.port)
    wait_until(lambda: c.info("r3").get("master_link_status") == "down"
               and "partial resynchronization" in c.nodes["r3"].log(), what="r3 syncing")
    before = c.snapshot()
    r = c.switch("-y", "--to", "r3")
    refused(r, "the target r3's replication link to r1 is down")
    assert c.snapshot() == before


def test_refuses_lagging_target_unless_forced(tmp_path, procs):
    c = Cluster(tmp_path, procs, failover={"max_lag_bytes": 1000})
    r2 = c.nodes["r2"].client()
    r2.execute_command("CLIENT", "PAUSE", "20000", "WRITE")   # r2 stops applying
    try:
        c.nodes["r1"].client().set("big", "x" * 5000)
        wait_until(lambda: int(c.info("r1")["master_repl_offset"])
                   - int(c.info("r2")["slave_repl_offset"]) > 5000, what="r2 lagging")
        before = c.snapshot()
        r = c.switch("-y", "--to", "r2")
        refused(r, "bytes behind r1 (max_lag_bytes 1000); use --force")
        assert c.snapshot() == before
        r = c.switch("--dry-run", "--to", "r2", "--force")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "--force" in r.stdout
    finally:
        r2.execute_command("CLIENT", "UNPAUSE")


def test_refuses_when_catchup_times_out_and_unpauses(tmp_path, procs):
    c = Cluster(tmp_path, procs, failover={"pause_timeout_ms": 400})
    r2 = c.nodes["r2"].client()
    r2.execute_command("CLIENT", "PAUSE", "20000", "WRITE")
    try:
        c.nodes["r1"].client().set("k", "v")
        wait_until(lambda: int(c.info("r1")["master_repl_offset"])
                   > int(c.info("r2")["slave_repl_offset"]), what="r2 behind")
        before = c.snapshot()
        r = c.switch("-y", "--to", "r2")
        assert r.returncode == 1, r.stdout + r.stderr
        assert "catch-up timed out" in r.stderr
        assert "nothing changed" in r.stderr
        assert c.snapshot() == before
        # r1 takes writes at once (unpaused, not waiting for the pause to end)
        c1 = c.nodes["r1"].client(socket_timeout=0.2)
        assert c1.set("after", "1")
    finally:
        r2.execute_command("CLIENT", "UNPAUSE")


def test_refuses_record_matching_no_node(cluster, tmp_path):
    c = cluster
    cmd = update_script(c, tmp_path, "127.0.0.9")
    subprocess.run(cmd, shell=True, check=True, env=dict(os.environ, REDISFO_STEP="now"))
    assert c.record() == ["127.0.0.9"]
    before = c.snapshot()
    r = c.switch("-y")
    refused(r, "does not match any node")
    assert c.snapshot() == before


def test_refuses_while_another_switch_holds_the_lock(cluster):
    c = cluster
    lock = c.rf.failover_cfg["lock_file"]
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, b"4242 switch\n")
        before = c.snapshot()
        r = c.switch("-y")
        refused(r, "another switch is running (pid 4242)")
        assert c.snapshot() == before
    finally:
        os.close(fd)
    r = c.switch("-y")
    assert r.returncode == 0, r.stderr


def test_refuses_without_confirmation_and_without_terminal(cluster):
    c = cluster
    before = c.snapshot()
    r = c.switch("--to", "r2")
    refused(r, "no terminal to ask on; run with -y")
    assert c.snapshot() == before


def test_refuses_when_pre_hook_fails(tmp_path, procs):
    c = Cluster(tmp_path, procs, failover={"pre_hook": "exit 7"})
    before = c.snapshot()
    r = c.switch("-y")
    refused(r, "pre_hook exited with 7")
    assert c.snapshot() == before

    # A hung pre_hook is killed, with everything it started, after the
    # hook timeout: the switch is refused instead of hanging with the lock.
    pidfile = tmp_path / "hook.pid"
    c.rf.failover_cfg["hook_timeout_ms"] = 500
    c.rf.failover_cfg["pre_hook"] = "echo $$ > %s; sleep 30; true" % pidfile
    c.rf.write_conf()
    r = c.switch("-y", timeout=10)
    refused(r, "pre_hook killed after 500 ms (the hook timeout): switch aborted")
    assert c.snapshot() == before
    pgid = int(pidfile.read_text())
    wait_until(lambda: not live_in_group(pgid), timeout=3,
               what="the hook's sleep killed with it")

    # A hung post_hook is killed and reported; the switch is done.
    c.rf.failover_cfg["pre_hook"] = ""
    c.rf.failover_cfg["post_hook"] = "sleep 30"
    c.rf.write_conf()
    r = c.switch("-y", "--to", "r2", timeout=10)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "post_hook killed after 500 ms" in r.stdout
    assert c.served() == "r2"


def test_prerequisite_failed_when_record_changed_since_read(cluster, tmp_path):
    """Someone else moves the record between the preflight and the swap:
    the UPDATE's prerequisite fails, the switch rolls back the promotion."""
    c = cluster
    c.rf.env["REDISFO_STEP_HOOK"] = update_script(c, tmp_path, c.nodes["r3"].host,
                                                  step="promote")
    roles = c.roles()
    serial = c.serial()
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "prerequisite failed" in r.stderr
    assert "nothing changed" in r.stderr
    # the switch changed nothing; the record is what the other writer set
    wait_until(lambda: c.roles() == roles, what="roles restored")
    assert c.record() == [c.nodes["r3"].host]
    assert c.serial() == serial + 1 + LEASE_MOVES
    assert c.txt().startswith("primary=r1 epoch=1 ")
    c.wait_links("r1")


def test_unknown_node_and_bad_arguments_are_usage_errors(cluster):
    c = cluster
    before = c.snapshot()
    assert c.switch("-y", "--to", "r9").returncode == 2
    assert c.switch("--bogus").returncode == 2
    assert c.switch("nosuchservice", "-y").returncode == 2
    assert c.snapshot() == before


def test_record_naming_a_replica_is_repaired_only_on_request(cluster, tmp_path):
    """The record names r2, a replica of r1 (a late UPDATE, a hand edit):
    a plain switch is refused with the way out; `--to r1` moves the record
    to the master and touches no node."""
    c = cluster
    subprocess.run(update_script(c, tmp_path, c.nodes["r2"].host), shell=True,
                   check=True, env=dict(os.environ, REDISFO_STEP="now"))
    assert c.rf.run("check").returncode == 2
    before = c.snapshot()
    r = c.switch("-y")
    refused(r, "the served node r2 is not a master")
    assert "run switch --to r1" in r.stderr
    assert c.snapshot() == before
    r = c.switch("-y", "--to", "r1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "plan: record repair redis: r2" in r.stdout
    assert "pause" not in re.findall(r"^  (\w+) +[0-9.]+ ms", r.stdout, re.M)
    assert c.record() == [c.nodes["r1"].host]
    assert c.roles() == before["roles"]
    assert c.txt().startswith("primary=r1 epoch=2 ")
    assert c.rf.run("check").returncode == 0
