"""`check` and `status` with no SERVICE cover every service of the config:
two services of two real nodes each (redis: r1, r2; cache: c1, c2)
behind the real server. check's first line is the worst state and a
count per state, its perfdata a lag per replica and a serial per
service, and a line per service follows; -w/-c set the lag thresholds,
-t bounds the whole check, -V prints the version. status --json is one
document with the version and every service."""

import json
import re
import socket
import time

import pytest

from servers import RedisNode, Redisfo, free_port, wait_until

HOSTS = ("127.0.0.2", "127.0.0.3")
FIRST = re.compile(r"^REDISFO (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]+) \|([^\n]*)$")
PERF = re.compile(r"^([a-z0-9_-]+)=(\d+|U)(B?)((?:;[0-9]*){0,4})$")


def two_services_zone():
    return ("$ORIGIN svc.test.\n"
            "@ 3600 IN SOA ns1 hostmaster 1 3600 600 86400 5\n"
            "@ 3600 IN NS ns1\n"
            "ns1 3600 IN A 127.0.0.1\n"
            "redis 5 IN A %s\n"
            '_redisfo.redis 5 IN TXT "primary=r1 epoch=1 at=2026-01-01T00:00:00Z"\n'
            "cache 5 IN A %s\n"
            '_redisfo.cache 5 IN TXT "primary=c1 epoch=1 at=2026-01-01T00:00:00Z"\n'
            % (HOSTS[0], HOSTS[0]))


class TwoServices:
    """redis (r1 master, r2 its replica) and cache (c1, c2), each pair on
    127.0.0.2 and 127.0.0.3 with a port of its own, and a server whose
    zone names r1 and c1."""

    def __init__(self, tmp_path, procs, failover=None):
        self.nodes = {}
        self.ports = {}
        services = []
        extra = ["repl-diskless-sync-delay 0"]
        for svc, names in (("redis", ("r1", "r2")), ("cache", ("c1", "c2"))):
            port = free_port(HOSTS[0], also=HOSTS[1:])
            self.ports[svc] = port
            master = None
            for name, host in zip(names, HOSTS):
                node = procs(RedisNode(tmp_path / name, host=host, port=port,
                                       replicaof=master, extra=extra))
                node.start()
                self.nodes[name] = node
                master = master or node
            services.append({"name": svc, "nodes": [
                {"name": n, "host": self.nodes[n].host, "port": port} for n in names]})
        fo = {"probe_timeout_ms": 300, "probes": 2, "max_lag_bytes": 1000}
        fo.update(failover or {})
        self.rf = procs(Redisfo(tmp_path / "rf", services=services, failover=fo,
                                zone_text=two_services_zone()))
        self.rf.start()
        for master, replica in (("r1", "r2"), ("c1", "c2")):
            self.wait_synced(master, replica)

    def info(self, name):
        return self.nodes[name].client().info("replication")

    def wait_synced(self, master, replica):
        """The link is up and a write made on master has reached replica."""
        wait_until(lambda: self.info(replica).get("master_link_status") == "up",
                   timeout=15, what="%s linked to %s" % (replica, master))
        m = self.nodes[master].client()
        m.incr("monitor:warmup")
        want = int(m.info("replication")["master_repl_offset"])
        wait_until(lambda: int(self.info(replica)["slave_repl_offset"]) >= want,
                   timeout=15, what="%s caught up with %s" % (replica, master))

    def check(self, *args, timeout=60):
        r = self.rf.run("check", *args, timeout=timeout)
        return r.returncode, r.stdout, r.stderr


def parse_check(out):
    """(state, summary, {perf label: (value, rest)}, [service lines])."""
    lines = out.split("\n")
    assert lines[-1] == "", repr(out)
    m = FIRST.match(lines[0])
    assert m, repr(out)
    perf = {}
    for item in m.group(3).split():
        p = PERF.match(item)
        assert p, (item, out)
        assert p.group(1) not in perf, out
        perf[p.group(1)] = (p.group(2), p.group(3) + p.group(4))
    return m.group(1), m.group(2), perf, lines[1:-1]


@pytest.fixture
def two(tmp_path, procs):
    return TwoServices(tmp_path, procs)


def test_check_covers_every_service(two):
    code, out, err = two.check()
    assert code == 0, out + err
    state, summary, perf, lines = parse_check(out)
    assert state == "OK" and summary == "2 ok"
    assert lines == ["OK - redis: r1 is served and master, 1 replica(s) following",
                     "OK - cache: c1 is served and master, 1 replica(s) following"]
    serial = two.rf.serial()
    # a lag per replica (the served nodes have none), a serial per service
    assert set(perf) == {"lag_redis_r2", "lag_cache_c2", "serial_redis", "serial_cache"}
    for label in ("lag_redis_r2", "lag_cache_c2"):
        value, rest = perf[label]
        assert int(value) <= 1000 and rest == "B;1000;;0", (label, out)
    assert perf["serial_redis"] == (str(serial), "")
    assert perf["serial_cache"] == (str(serial), "")


def test_a_service_in_trouble_sets_the_first_line(two):
    two.nodes["c2"].client().replicaof("no", "one")     # a second master
    code, out, err = two.check()
    assert code == 2, out + err
    state, summary, perf, lines = parse_check(out)
    assert state == "CRITICAL" and summary == "1 critical, 1 ok"
    assert lines[0].startswith("OK - redis: ")
    assert lines[1] == ("CRITICAL - cache: split brain: c2 claims master while c1 is served; "
                        "`switch --to c2 --force` adopts c2, `rejoin c2` keeps c1")
    # c2 no longer follows c1: its lag is not known, and says so
    assert perf["lag_cache_c2"] == ("U", ";1000;;0")
    # naming a service is the one-line check of that service alone
    code, out, err = two.check("cache")
    assert code == 2 and out.count("\n") == 1, out
    assert out.startswith("REDISFO CRITICAL - cache: split brain: ")
    code, out, err = two.check("redis")
    assert code == 0 and out.startswith("REDISFO OK - redis: r1 is served"), out
    assert re.search(r" \| lag=\d+B;1000;;0 serial=\d+\n$", out), out


def lag_r2(two, nbytes):
    """Pause r2 for writes (it stops applying the stream) and write nbytes
    on r1: r2 lags. Returns r2's client, to unpause it."""
    r2 = two.nodes["r2"].client()
    r2.execute_command("CLIENT", "PAUSE", "20000", "WRITE")
    two.nodes["r1"].client().set("big", "x" * nbytes)
    wait_until(lambda: int(two.info("r1")["master_repl_offset"])
               - int(two.info("r2")["slave_repl_offset"]) > nbytes, what="r2 lagging")
    return r2


def test_lag_thresholds(two):
    r2 = lag_r2(two, 5000)
    try:
        # above -w, below -c: WARNING, with the thresholds in the perfdata
        code, out, err = two.check("-w", "1000", "-c", "1000000")
        assert code == 1, out + err
        state, summary, perf, lines = parse_check(out)
        assert state == "WARNING" and summary == "1 warning, 1 ok"
        value, rest = perf["lag_redis_r2"]
        assert int(value) > 5000 and rest == "B;1000;1000000;0"
        assert perf["lag_cache_c2"][1] == "B;1000;1000000;0"
        assert re.match(r"WARNING - redis: r1 is served and master; r2 lags \d+ bytes "
                        r"\(max 1000\)$", lines[0]), lines
        assert lines[1].startswith("OK - cache: ")
        # above -c: CRITICAL
        code, out, err = two.check("-w", "100", "-c", "2000")
        assert code == 2, out + err
        state, summary, perf, lines = parse_check(out)
        assert state == "CRITICAL" and summary == "1 critical, 1 ok"
        assert re.search(r"r2 lags \d+ bytes \(critical above 2000\)$", lines[0]), lines
        # a threshold above the lag: OK (the default -w, max_lag_bytes, is not)
        code, out, err = two.check("-w", "100000")
        assert code == 0, out + err
        code, out, err = two.check()
        assert code == 1, out + err
        # one service named: its one line, the thresholds in its lag item
        code, out, err = two.check("redis", "-w", "100", "-c", "2000")
        assert code == 2 and out.count("\n") == 1, out
        assert re.search(r" \| lag=\d+B;100;2000;0 serial=\d+\n$", out), out
    finally:
        r2.execute_command("CLIENT", "UNPAUSE")
    wait_until(lambda: two.check()[0] == 0, what="check OK again")


def test_timeout_bounds_the_whole_check(tmp_path, procs):
    """A node that takes the connection and never answers, with a probe
    timeout far longer than -t: UNKNOWN, saying it timed out, in time."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    port = free_port("127.0.0.1")
    silent.bind(("127.0.0.1", port))
    silent.listen(16)                   # the kernel accepts; nobody reads
    try:
        two = TwoServices(tmp_path, procs, failover={"probe_timeout_ms": 20000})
        two.rf.services[1]["nodes"].append({"name": "c3", "host": "127.0.0.1",
                                            "port": port})
        two.rf.write_conf()
        t0 = time.monotonic()
        code, out, err = two.check("-t", "1", timeout=30)
        took = time.monotonic() - t0
        assert code == 3, out + err
        assert out.startswith("REDISFO UNKNOWN - check timed out after 1 s"), out
        assert "while checking cache" in out and out.count("\n") == 1, out
        assert took < 4, took
        # without -t, the same check waits for the probe (not run: 20 s)
    finally:
        silent.close()


def test_version_and_bad_options(two):
    want = two.rf.run("--version").stdout
    assert re.match(r"^redisfo-dns \d+\.\d+\.\d+\n$", want), want
    for flag in ("-V", "--version"):
        code, out, err = two.check(flag)
        assert code == 0 and out == want, out + err
    for args in (["-w", "lots"], ["-c", "-5"], ["-w"], ["-t", "0"], ["-t", "1.5"],
                 ["-w", "10", "-c", "5"], ["nosuch"], ["--bogus"], ["redis", "cache"]):
        code, out, err = two.check(*args)
        assert code == 3, (args, out, err)
        assert out.startswith("REDISFO UNKNOWN - ") and out.count("\n") == 1, (args, out)
        assert "usage: check [SERVICE] [-w BYTES] [-c BYTES] [-t SECONDS] [-V]" in out


def test_status_json_has_every_service_and_the_version(two):
    version = two.rf.run("--version").stdout.split()[1]
    r = two.rf.run("status", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["version"] == version
    assert [s["service"] for s in doc["services"]] == ["redis", "cache"]
    assert "service" not in doc           # several: only the list
    for s, primary, replica in zip(doc["services"], ("r1", "c1"), ("r2", "c2")):
        assert s["verdict"] == "consistent"
        assert s["record"]["node"] == primary and s["record"]["serial"] == two.rf.serial()
        nodes = {n["name"]: n for n in s["nodes"]}
        assert nodes[primary]["role"] == "master"
        assert nodes[replica]["role"] == "replica" and nodes[replica]["link"] == "up"
    # one named: the list of one, and its fields at the top as before
    doc = json.loads(two.rf.run("status", "--json", "cache").stdout)
    assert doc["version"] == version and doc["service"] == "cache"
    assert [s["service"] for s in doc["services"]] == ["cache"]
    assert doc["services"][0] == {k: v for k, v in doc.items()
                                  if k not in ("version", "services")}
    # the table: a block per service; exit 1 when one is not consistent
    two.nodes["c2"].client().replicaof("no", "one")
    r = two.rf.run("status")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "service redis" in r.stdout and "verdict consistent" in r.stdout
    assert "service cache" in r.stdout and "verdict split brain" in r.stdout
    assert two.rf.run("status", "nosuch").returncode == 2
