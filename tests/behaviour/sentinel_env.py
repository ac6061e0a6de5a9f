"""sentinel_env.py - three Redis nodes watched by three real Redis
Sentinels whose client-reconfig-script is `redisfo-dns sentinel-reconfig`,
behind a real redisfo-dns server.

The nodes are failover_env's (r1 master on 127.0.0.2, r2 and r3 its
replicas on 127.0.0.3 and 127.0.0.4, one random port), each with
`replica-announce-ip` its own address: a replica bound to its own
loopback address otherwise announces 127.0.0.1 and Sentinel then finds
no replica it can promote. The sentinels listen on 127.0.0.1 (random
ports), each with its own config file in its own folder (Sentinel
rewrites it), and run a small wrapper script that writes the time of
each call to a file and then execs the command, as a deployment would.

Everything started is registered with the `procs` fixture; every wait is
a bounded poll.
"""

import os
import subprocess
import threading
import time
from pathlib import Path

from failover_env import HOSTS, NAMES, Cluster
from servers import RedisNode, Redisfo, free_port, stop_popen, wait_until
from confgen import service_zone

MASTER = "mymaster"
REDIS_SENTINEL = os.environ.get("REDIS_SENTINEL", "redis-sentinel")


def have_sentinel():
    try:
        subprocess.run([REDIS_SENTINEL, "--version"], capture_output=True, timeout=10)
        return True
    except (OSError, subprocess.TimeoutExpired):
        return False


class Sentinel:
    """One redis-sentinel on 127.0.0.1 with its config in its own folder."""

    def __init__(self, folder, master_host, master_port, script, quorum=2,
                 down_after_ms=1000, failover_timeout_ms=3000):
        self.dir = Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = free_port(self.host)
        self.conf_path = self.dir / "sentinel.conf"
        self.log_path = self.dir / "sentinel.log"
        self.conf_path.write_text(
            "port %d\nbind %s\ndaemonize no\nlogfile \"\"\ndir \"%s\"\n"
            "sentinel monitor %s %s %d %d\n"
            "sentinel down-after-milliseconds %s %d\n"
            "sentinel failover-timeout %s %d\n"
            "sentinel parallel-syncs %s 2\n"
            "sentinel client-reconfig-script %s %s\n"
            % (self.port, self.host, self.dir, MASTER, master_host, master_port,
               quorum, MASTER, down_after_ms, MASTER, failover_timeout_ms, MASTER,
               MASTER, script))
        self.proc = None

    def client(self, **kw):
        import redis
        args = dict(host=self.host, port=self.port, socket_timeout=2,
                    socket_connect_timeout=2, decode_responses=True)
        args.update(kw)
        return redis.Redis(**args)

    def start(self, timeout=10.0):
        logf = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen([REDIS_SENTINEL, str(self.conf_path)],
                                         stdout=logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=str(self.dir))
        finally:
            logf.close()
        c = self.client(socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            wait_until(lambda: self.proc.poll() is None and c.ping(), timeout=timeout,
                       what="redis-sentinel on port %d" % self.port)
        finally:
            c.close()
        return self

    def master(self):
        """SENTINEL MASTER mymaster, as a dict."""
        return self.client().sentinel_master(MASTER)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc is not None:
            return stop_popen(self.proc)
        return None


class SwitchMasterWatch:
    """Subscribes to +switch-master on every sentinel; keeps the wall
    time (time.time()) each sentinel published it, per new master port
    and address."""

    def __init__(self, sentinels):
        self.events = []        # (time.time(), sentinel port, message)
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._subs = []
        self._threads = []
        for s in sentinels:
            ps = s.client(socket_timeout=None).pubsub(ignore_subscribe_messages=True)
            ps.subscribe("+switch-master")
            self._subs.append(ps)
            t = threading.Thread(target=self._loop, args=(s.port, ps), daemon=True)
            t.start()
            self._threads.append(t)

    def _loop(self, port, ps):
        while not self._stop.is_set():
            try:
                m = ps.get_message(timeout=0.05)
            except Exception:  # noqa: BLE001 - the sentinel went away
                return
            if m is not None and m.get("type") == "message":
                with self.lock:
                    self.events.append((time.time(), port, m["data"]))

    def first(self, new_host, since):
        """Time of the first +switch-master naming new_host at or after
        since (a time.time()), or None."""
        with self.lock:
            ts = [t for t, _, d in self.events if d.split()[3] == new_host and t >= since]
        return min(ts) if ts else None

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        for ps in self._subs:
            try:
                ps.close()
            except Exception:  # noqa: BLE001
                pass


class SentinelCluster(Cluster):
    """Cluster's three nodes and server (service redis, sentinel_name
    mymaster), and three sentinels watching r1."""

    def __init__(self, tmp_path, procs, down_after_ms=1000):
        self.tmp = Path(tmp_path)
        self.procs = procs
        self.nodes = {}
        self.port = free_port(HOSTS[0], also=HOSTS[1:])
        master = None
        for name, host in zip(NAMES, HOSTS):
            node = RedisNode(self.tmp / name, host=host, port=self.port, replicaof=master,
                             extra=["repl-diskless-sync-delay 0",
                                    "replica-announce-ip %s" % host])
            procs(node)
            node.start()
            self.nodes[name] = node
            master = master or node
        svc = {"name": "redis", "sentinel_name": MASTER,
               "nodes": [{"name": n, "host": self.nodes[n].host, "port": self.port}
                         for n in NAMES]}
        self.rf = Redisfo(self.tmp / "rf", services=[svc],
                          failover={"probe_timeout_ms": 300, "probes": 2},
                          zone_text=service_zone("svc.test.", "r1", HOSTS[0]))
        procs(self.rf)
        self.rf.start()
        self.wait_links()

        # The script Sentinel runs, with the time of each call and of its
        # exit (and the exit code) noted on either side ($EPOCHREALTIME:
        # bash's clock, read without starting a process).
        self.calls_path = self.tmp / "reconfig-calls"
        self.script = self.tmp / "redisfo-reconfig.sh"
        self.script.write_text(
            "#!/bin/bash\n"
            "echo \"call $EPOCHREALTIME - $*\" >> '%s'\n"
            "'%s' -c '%s' sentinel-reconfig \"$@\" 2>> '%s'\n"
            "rc=$?\n"
            "echo \"exit $EPOCHREALTIME $rc $*\" >> '%s'\n"
            "exit $rc\n"
            % (self.calls_path, self.rf.binary, self.rf.conf_path,
               self.tmp / "reconfig.log", self.calls_path))
        self.script.chmod(0o755)
        self.sentinels = []
        for i in range(3):
            s = Sentinel(self.tmp / ("sentinel%d" % (i + 1)), HOSTS[0], self.port,
                         self.script, down_after_ms=down_after_ms)
            procs(s)
            s.start()
            self.sentinels.append(s)
        assert self.settle() == "r1"

    def settle(self, timeout=30):
        """Until every sentinel names the same master M and knows the other
        two sentinels and two replicas with their link up, the two other
        nodes follow M with their link up, and the record names M; returns
        M's name. (Under load a sentinel may fail over once more on its
        own: the record follows, and so does this.) The roles and the
        sentinels' logs are in the error when it does not happen."""
        def agreed():
            masters = set()
            for s in self.sentinels:
                m = s.master()
                if int(m["num-other-sentinels"]) < 2:
                    return None
                up = [r for r in s.client().sentinel_slaves(MASTER)
                      if "s_down" not in r["flags"] and "disconnected" not in r["flags"]
                      and r.get("master-link-status") == "ok"]
                if len(up) < 2:
                    return None
                masters.add(m["ip"])
            if len(masters) != 1:
                return None
            name = self.node_by_addr(masters.pop())
            roles = self.roles()
            if name is None or self.served() != name or roles[name] != "master":
                return None
            for n in self.nodes:
                if n != name and (roles[n] != "replica of %s" % name or
                                  self.info(n).get("master_link_status") != "up"):
                    return None
            return name
        try:
            return wait_until(agreed, timeout=timeout, interval=0.1,
                              what="sentinels, nodes and record agreeing on one master")
        except AssertionError as exc:
            raise AssertionError("%s\nroles: %s, record: %s\n%s" % (
                exc, self.roles(), self.record(), "\n".join(
                    "--- sentinel %d log ---\n%s" % (s.port, "\n".join(s.log().splitlines()[-30:]))
                    for s in self.sentinels))) from None

    def calls(self):
        """("call" or "exit", time.time(), exit code or "-", args) of each
        call of the script so far and of each exit."""
        try:
            lines = self.calls_path.read_text().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            what, t, rc, *args = line.split()
            out.append((what, float(t), rc, args))
        return out

    def reconfig_log(self):
        try:
            return (self.tmp / "reconfig.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def restart_as_replica(self, name, master):
        """Start the node name again, as a replica of master."""
        node = self.nodes[name]
        node.replicaof = self.nodes[master]
        node._write_conf()
        node.start()
