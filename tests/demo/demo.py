#!/usr/bin/python3
"""demo.py - the first five minutes of redisfo-dns, run by `make demo`.

It starts three real Redis nodes (r1 primary on 127.0.0.2, r2 and r3 its
replicas on 127.0.0.3 and 127.0.0.4, one random free port on the three
addresses, each with its own config file so CONFIG REWRITE works), writes
a redisfo.conf and a zone for them, and starts `redisfo-dns serve` on a
random free port of 127.0.0.1. A writer then does what a well-behaved
application does: it resolves redis.svc.test. through that server before
every (re)connection, writes increasing keys, counts each acknowledged
write, and on a connection error or READONLY drops the connection and
resolves again. Once the replicas are linked, the primary is switched to
r2 and back to r1 with `redisfo-dns switch`, whose timelines are printed.
Last, every key the writer saw acknowledged is looked up on the final
primary: "acked N, lost 0".

Everything lives in a temporary folder and on loopback addresses only.
Each process runs in its own process group and is stopped at the end,
after a failure, and on Ctrl-C, SIGTERM or SIGHUP. The exit status is 0
only when both switches worked and nothing acknowledged was lost.

Usage: /usr/bin/python3 tests/demo/demo.py [--rate N] [--keep]
Environment: REDISFO_BIN (default: ./redisfo-dns at the top of the tree),
REDIS_SERVER (default: redis-server).
"""

import argparse
import base64
import contextlib
import datetime
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rdatatype
import dns.resolver
import redis

TOP = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("REDISFO_BIN", str(TOP / "redisfo-dns"))).resolve()
REDIS_SERVER = os.environ.get("REDIS_SERVER", "redis-server")

ZONE = "svc.test."
SERVICE = "redis." + ZONE
DNS_HOST = "127.0.0.1"
NODES = (("r1", "127.0.0.2"), ("r2", "127.0.0.3"), ("r3", "127.0.0.4"))
KEY_PREFIX = "demo:"


class DemoError(Exception):
    """A step of the demo failed; the message says which and why."""


class Interrupted(BaseException):
    """SIGINT, SIGTERM or SIGHUP arrived: stop everything and exit."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class Signals:
    """Turns SIGINT, SIGTERM and SIGHUP into Interrupted, except inside
    `with Signals.held():`, which starts a process and registers it: there
    the signal waits until the block is over, so nothing started escapes
    the cleanup."""

    STOP = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    depth = 0
    pending = None

    @classmethod
    def install(cls):
        for sig in cls.STOP:
            # started with SIGINT or SIGHUP ignored (in the background, under
            # nohup): keep it so
            if sig != signal.SIGTERM and signal.getsignal(sig) == signal.SIG_IGN:
                continue
            signal.signal(sig, cls._handler)

    @classmethod
    def ignore(cls):
        for sig in cls.STOP:
            signal.signal(sig, signal.SIG_IGN)

    @classmethod
    def _handler(cls, signum, _frame):
        if cls.depth:
            cls.pending = cls.pending or signum
            return
        raise Interrupted(signum)

    @classmethod
    @contextlib.contextmanager
    def held(cls):
        cls.depth += 1
        try:
            yield
        finally:
            cls.depth -= 1
            if cls.depth == 0 and cls.pending is not None:
                signum, cls.pending = cls.pending, None
                raise Interrupted(signum)


def say(line=""):
    try:
        print(line, flush=True)
    except OSError:         # nobody reads any more (| head): carry on quietly
        pass


def wait_for(pred, timeout, what, interval=0.02):
    """Poll pred until it returns something truthy and return that; an
    exception from pred counts as "not yet". DemoError after timeout s."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = pred()
            if value:
                return value
        except DemoError:
            raise
        except Exception as exc:  # noqa: BLE001 - "not yet"
            last = exc
        if time.monotonic() >= deadline:
            raise DemoError("timed out after %.0f s waiting for %s%s"
                            % (timeout, what, " (last error: %s)" % last if last else ""))
        time.sleep(interval)


# ------------------------------------------------------------------ ports

def _port_range():
    """Ports below (or above) the kernel's ephemeral range, so no outgoing
    connection (a replica's, a DNS client's) can be handed the same port."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    if low - 10000 >= 2000:
        return 10000, low - 1
    if 65535 - high >= 2000:
        return high + 1, 65535
    return 1024, 65535


def _port_free(host, port):
    socks = []
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            socks.append(s)
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def free_port(*hosts):
    """A port free for TCP and UDP on every one of hosts."""
    low, high = _port_range()
    for _ in range(500):
        port = random.randint(low, high)
        if all(_port_free(h, port) for h in hosts):
            return port
    raise DemoError("no free port on %s" % ", ".join(hosts))


# -------------------------------------------------------------- processes

class Proc:
    """A child in its own process group (its own session, so a Ctrl-C at
    the terminal reaches only this script, which then stops it)."""

    def __init__(self, name, argv, log_path, cwd):
        self.name = name
        self.log_path = Path(log_path)
        with open(self.log_path, "ab") as logf:
            self.popen = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, cwd=str(cwd),
                                          start_new_session=True)

    def running(self):
        return self.popen.poll() is None

    def signal_group(self, sig):
        try:
            os.killpg(self.popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def log_tail(self, lines=15):
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip("\n").split("\n")[-lines:])


class Procs:
    """Everything started, stopped together: SIGTERM to every group, a
    shared deadline, then SIGKILL to whatever is left."""

    def __init__(self):
        self.items = []

    def start(self, name, argv, log_path, cwd):
        with Signals.held():
            return self.add(Proc(name, argv, log_path, cwd))

    def add(self, proc):
        self.items.append(proc)
        return proc

    def stop(self, procs=None, timeout=5.0):
        procs = list(self.items if procs is None else procs)
        for p in procs:
            if p.running():
                p.signal_group(signal.SIGCONT)
                p.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in procs:
            try:
                p.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for p in procs:
            # the group may outlive its leader: kill it in any case
            p.signal_group(signal.SIGKILL)
            if p.running():
                p.popen.wait(timeout=5)
        for p in procs:
            if p in self.items:
                self.items.remove(p)


# ------------------------------------------------------------------ redis

class Node:
    def __init__(self, name, host, port, folder, primary=None):
        self.name = name
        self.host = host
        self.port = port
        self.dir = Path(folder) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "redis.conf"
        lines = [
            "port %d" % port,
            "bind %s" % host,
            # a replica connects from its bind address; announce it too,
            # so the primary lists it as the address it really has
            "replica-announce-ip %s" % host,
            'dir "%s"' % self.dir,
            'save ""',
            "appendonly no",
            "protected-mode no",
            "daemonize no",
            'logfile ""',
            # full syncs start at once (the default waits 5 s for more replicas)
            "repl-diskless-sync-delay 0",
        ]
        if primary is not None:
            lines.append("replicaof %s %d" % (primary.host, primary.port))
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc = None

    def start(self, procs):
        self.proc = procs.start("redis %s" % self.name, [REDIS_SERVER, str(self.conf)],
                                self.dir / "redis.log", self.dir)

    def client(self, timeout=1.0):
        return redis.Redis(host=self.host, port=self.port, socket_timeout=timeout,
                           socket_connect_timeout=timeout, decode_responses=True)

    def wait_up(self, timeout=10):
        c = self.client(timeout=0.5)
        try:
            def up():
                if not self.proc.running():
                    raise DemoError("redis-server %s (%s:%d) exited:\n%s"
                                    % (self.name, self.host, self.port, self.proc.log_tail()))
                return c.ping()
            wait_for(up, timeout, "redis-server %s to answer PING" % self.name)
        finally:
            c.close()

    def replication(self):
        c = self.client()
        try:
            return c.info("replication")
        finally:
            c.close()


def wait_replicas(nodes, primary, timeout=15):
    """Until every other node is a replica of primary with its link up and
    the replication stream flowing: after a full sync the primary holds
    the stream back until the replica's first ACK, and a switch whose
    target is not fed would time out in its catch-up step."""
    others = [n for n in nodes if n is not primary]

    def linked():
        for n in others:
            inf = n.replication()
            if inf.get("role") != "slave" or inf.get("master_link_status") != "up":
                return False
            if inf.get("master_host") != primary.host or int(inf["master_port"]) != primary.port:
                return False
        return True
    wait_for(linked, timeout, "%s to be linked to %s"
             % (" and ".join(n.name for n in others), primary.name))
    c = primary.client()
    try:
        c.incr("demo-linkcheck")
        want = int(c.info("replication")["master_repl_offset"])
    finally:
        c.close()
    wait_for(lambda: all(int(n.replication()["slave_repl_offset"]) >= want for n in others),
             timeout, "the replication stream from %s" % primary.name)


# -------------------------------------------------------------------- dns

def zone_text(primary, ttl):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ("$ORIGIN %s\n"
            "@ 3600 IN SOA ns1 hostmaster 1 3600 600 86400 5\n"
            "@ 3600 IN NS ns1\n"
            "ns1 3600 IN A %s\n"
            "redis %d IN A %s\n"
            '_redisfo.redis %d IN TXT "primary=%s epoch=1 at=%s"\n'
            % (ZONE, DNS_HOST, ttl, primary.host, ttl, primary.name, now))


def conf_text(dns_port, secret, nodes):
    node_lines = ",\n".join(
        '      { name = "%s"; host = "%s"; port = %d;%s }'
        % (n.name, n.host, n.port, " priority = 100;" if n.name == "r2" else "")
        for n in nodes)
    return """\
# redisfo.conf written by tests/demo/demo.py: the shape of the shipped
# redisfo.conf (every key is documented there), with random free ports.
dns = {
  listen = [ "%(host)s:%(port)d" ];
  zone = "%(zone)s";
  zone_file = "svc.test.zone";
  ttl = 5;
  workers = 1;
  update_key = {
    name = "redisfo-key.";
    algorithm = "hmac-sha256";
    secret = "%(secret)s";
  };
  allow_transfer = [ "%(host)s" ];
  notify = [ ];
};

failover = {
  server = "%(host)s:%(port)d";
  probe_timeout_ms = 500;
  probes = 3;
  pause_timeout_ms = 2000;
  max_lag_bytes = 1048576;
  lock_file = "redisfo.lock";
  audit_log = "redisfo-audit.log";
};

services = (
  {
    name = "redis";
    nodes = (
%(nodes)s
    );
  }
);
""" % {"host": DNS_HOST, "port": dns_port, "zone": ZONE, "secret": secret,
       "nodes": node_lines}


def served_address(dns_port):
    q = dns.message.make_query(SERVICE, "A")
    r = dns.query.udp(q, DNS_HOST, port=dns_port, timeout=0.5)
    for rrset in r.answer:
        if rrset.rdtype == dns.rdatatype.A:
            for rr in rrset:
                return rr.address
    raise DemoError("%s has no A record" % SERVICE)


# ----------------------------------------------------------------- writer

class Writer:
    """An application: it resolves the service name before each connection,
    SETs demo:<n> = n with n increasing, and keeps its own record of the
    acknowledged writes. Any error (a killed connection, READONLY from a
    node that is no longer primary, a timeout) means: that write is not
    acknowledged; drop the connection, resolve again, reconnect, retry."""

    def __init__(self, dns_port, redis_port, rate):
        self.resolver = dns.resolver.Resolver(configure=False)
        self.resolver.nameservers = [DNS_HOST]
        self.resolver.port = dns_port
        self.resolver.timeout = 0.5
        self.resolver.lifetime = 1.0
        self.resolver.cache = None
        self.redis_port = redis_port
        self.interval = 1.0 / rate if rate else 0.0
        self.acked = 0               # demo:0 .. demo:<acked-1> were acknowledged
        self.last_ack = None         # (monotonic time, address) of the latest ack
        self.moves = []              # (last ack on old, old, first ack on new, new)
        self.connections = 0
        self.errors = {}             # kind -> count
        self.fatal = None
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="writer", daemon=True)

    def _error(self, kind):
        with self.lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1

    def _run(self):
        conn = None
        addr = None
        fresh = False
        t_next = time.monotonic()
        try:
            while not self._stop.is_set():
                if conn is None:
                    try:
                        addr = self.resolver.resolve(SERVICE, "A")[0].address
                    except dns.exception.DNSException:
                        self._error("DNS")
                        time.sleep(0.01)
                        continue
                    conn = redis.Redis(host=addr, port=self.redis_port, socket_timeout=2,
                                       socket_connect_timeout=1)
                    self.connections += 1
                    fresh = True
                n = self.acked
                try:
                    conn.set("%s%d" % (KEY_PREFIX, n), n)
                except redis.exceptions.ReadOnlyError:
                    kind = "READONLY"
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                    kind = "connection"
                except redis.exceptions.RedisError as exc:
                    kind = type(exc).__name__
                else:
                    kind = None
                if kind is not None:
                    self._error(kind)
                    conn.close()
                    conn = None
                    time.sleep(0.001)
                    continue
                now = time.monotonic()
                with self.lock:
                    self.acked = n + 1
                    if fresh and self.last_ack and self.last_ack[1] != addr:
                        self.moves.append(self.last_ack + (now, addr))
                    self.last_ack = (now, addr)
                fresh = False
                if self.interval:
                    t_next += self.interval
                    delay = t_next - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    else:
                        t_next = time.monotonic()
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            self.fatal = exc
        finally:
            if conn is not None:
                conn.close()

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)
        if self._thread.is_alive():
            raise DemoError("the writer did not stop")

    def check_alive(self):
        if self.fatal is not None:
            raise DemoError("the writer failed: %r" % (self.fatal,))
        if not self._thread.is_alive():
            raise DemoError("the writer stopped")

    def wait_moved_to(self, addr, since, count, timeout=10):
        """Until the writer has moved to addr (after `since`) and had `count`
        writes acknowledged there; returns that move."""
        def moved():
            self.check_alive()
            with self.lock:
                for m in self.moves:
                    if m[3] == addr and m[2] >= since:
                        return m, self.acked
            return None
        move, start = wait_for(moved, timeout, "the writer to write to %s" % addr)
        self.wait_acks(start + count, timeout)
        return move

    def wait_acks(self, n, timeout=10):
        wait_for(lambda: self.check_alive() or self.acked >= n, timeout,
                 "%d acknowledged writes" % n)

    def lost_on(self, node):
        """The acknowledged keys node does not hold (with the value written)."""
        c = node.client(timeout=5)
        lost = 0
        try:
            for lo in range(0, self.acked, 1000):
                nums = range(lo, min(lo + 1000, self.acked))
                vals = c.mget(["%s%d" % (KEY_PREFIX, n) for n in nums])
                lost += sum(1 for n, v in zip(nums, vals) if v != str(n))
        finally:
            c.close()
        return lost


# ------------------------------------------------------------------- demo

class Demo:
    def __init__(self, args):
        self.args = args
        self.procs = Procs()
        self.dir = None
        self.conf = None
        self.nodes = []
        self.server = None
        self.dns_port = None
        self.writer = None

    def by_name(self, name):
        return next(n for n in self.nodes if n.name == name)

    def by_addr(self, addr):
        return next((n for n in self.nodes if n.host == addr), None)

    # -- starting

    def start_nodes(self):
        for attempt in range(3):
            port = free_port(*(h for _, h in NODES))
            self.nodes = []
            primary = None
            for name, host in NODES:
                node = Node(name, host, port, self.dir, primary)
                self.nodes.append(node)
                primary = primary or node
            for n in self.nodes:
                n.start(self.procs)
            try:
                for n in self.nodes:
                    n.wait_up()
                return
            except DemoError:
                # most likely someone took the port in the meantime
                self.procs.stop([n.proc for n in self.nodes])
                if attempt == 2:
                    raise

    def start_server(self):
        secret = base64.b64encode(os.urandom(32)).decode()
        for attempt in range(3):
            self.dns_port = free_port(DNS_HOST)
            self.conf.write_text(conf_text(self.dns_port, secret, self.nodes))
            (self.dir / "svc.test.zone").write_text(zone_text(self.nodes[0], 5))
            self.server = self.procs.start(
                "redisfo-dns serve", [str(BINARY), "-c", str(self.conf), "serve"],
                self.dir / "redisfo-dns.log", self.dir)

            def answers():
                if not self.server.running():
                    return "exited"
                return served_address(self.dns_port)
            try:
                addr = wait_for(answers, 10, "redisfo-dns to answer on port %d"
                                % self.dns_port, interval=0.05)
                if addr == "exited":
                    raise DemoError("redisfo-dns serve exited:\n%s" % self.server.log_tail())
                return addr
            except DemoError:
                self.procs.stop([self.server])
                if attempt == 2:
                    raise

    # -- the switch

    def switch(self, to):
        old = self.by_addr(served_address(self.dns_port))
        new = self.by_name(to)
        argv = [str(BINARY), "-c", str(self.conf), "switch", "--to", to, "-y"]
        say()
        say("$ ./redisfo-dns -c %s switch --to %s -y" % (self.conf, to))
        t0 = time.monotonic()
        p = self.procs.start("switch", argv, self.dir / ("switch-to-%s.log" % to), self.dir)
        try:
            p.popen.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise DemoError("the switch to %s did not finish within 60 s" % to) from None
        finally:
            self.procs.stop([p])
        out = p.log_path.read_text(errors="replace")
        if p.popen.returncode != 0:
            say(out.rstrip("\n"))
            raise DemoError("the switch to %s exited with %d" % (to, p.popen.returncode))
        # every check's verdict and the steps are in its log: show the plan
        # line, then the timeline and what follows it
        lines = out.rstrip("\n").split("\n")
        start = next((i for i, l in enumerate(lines) if l.startswith("timeline:")), None)
        if start is None:
            say(out.rstrip("\n"))
            raise DemoError("the switch to %s printed no timeline" % to)
        for line in [l for l in lines[:start] if l.startswith("plan:")] + lines[start:]:
            say("  " + line.rstrip())
        addr = served_address(self.dns_port)
        if addr != new.host:
            raise DemoError("after the switch %s still resolves to %s" % (SERVICE, addr))
        last_old, _, first_new, _ = self.writer.wait_moved_to(new.host, t0, 100)
        say("  writer: moved from %s to %s %.0f ms after the switch began; no write "
            "was acknowledged for %.0f ms" % (old.name, new.name, (first_new - t0) * 1000.0,
                                             (first_new - last_old) * 1000.0))

    # -- the whole thing

    def run(self):
        if not BINARY.is_file():
            raise DemoError("%s is missing: run `make redisfo-dns` first" % BINARY)
        if shutil.which(REDIS_SERVER) is None:
            raise DemoError("%s is missing: run `make deps` first" % REDIS_SERVER)
        self.dir = Path(tempfile.mkdtemp(prefix="redisfo-demo."))
        self.conf = self.dir / "redisfo.conf"
        say("redisfo-dns demo: three Redis nodes, the DNS server, a writer, "
            "and a switch there and back")
        say("  folder       %s" % self.dir)
        self.start_nodes()
        for n in self.nodes:
            role = "primary" if n is self.nodes[0] else "replica of r1"
            say("  redis %s     %s:%d, %s" % (n.name, n.host, n.port, role))
        addr = self.start_server()
        say("  redisfo-dns  serve on %s port %d: %s -> %s"
            % (DNS_HOST, self.dns_port, SERVICE, addr))
        self.writer = Writer(self.dns_port, self.nodes[0].port, self.args.rate).start()
        say("  writer       SET demo:<n> at %s/s, resolving %s before each connection"
            % (self.args.rate or "full speed", SERVICE))
        t0 = time.monotonic()
        wait_replicas(self.nodes, self.nodes[0])
        self.writer.wait_acks(100)
        say("  replicas     r2 and r3 linked to r1 (%.1f s)" % (time.monotonic() - t0))

        self.switch("r2")
        wait_replicas(self.nodes, self.by_name("r2"))
        self.switch("r1")

        self.writer.stop()
        if self.writer.fatal is not None:
            raise DemoError("the writer failed: %r" % (self.writer.fatal,))
        final = self.by_addr(served_address(self.dns_port))
        if final is None or final.replication().get("role") != "master":
            raise DemoError("%s does not name a primary at the end" % SERVICE)
        lost = self.writer.lost_on(final)
        errs = ", ".join("%d %s" % (v, k) for k, v in sorted(self.writer.errors.items()))
        say()
        say("writer: %d connections, errors seen and retried: %s"
            % (self.writer.connections, errs or "none"))
        say("acked %d, lost %d" % (self.writer.acked, lost))
        return 0 if lost == 0 and self.writer.acked > 0 else 1

    def cleanup(self, keep):
        """Stop the writer and every process; the folder stays when keep."""
        if self.writer is not None:
            try:
                self.writer.stop()
            except DemoError:
                pass
        self.procs.stop()
        if self.dir is None:
            return
        if keep or self.args.keep:
            say("(config and logs left in %s)" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=int, default=1000,
                    help="writes per second, 0 = as fast as it can (default 1000)")
    ap.add_argument("--keep", action="store_true",
                    help="leave the temporary folder (config, zone, logs)")
    args = ap.parse_args()

    demo = Demo(args)
    status, keep = 1, True  # a failure keeps the folder, for its logs
    Signals.install()
    try:
        status = demo.run()
        keep = status != 0
    except DemoError as exc:
        say("demo FAILED: %s" % exc)
    except Exception:  # noqa: BLE001 - a bug or a surprise: say so, clean up
        traceback.print_exc()
        say("demo FAILED: unexpected error (above)")
    except Interrupted as exc:
        say("\n%s: stopping everything" % signal.Signals(exc.signum).name)
        status, keep = 128 + exc.signum, False
    finally:
        Signals.ignore()        # a second ^C must not cut the cleanup short
        demo.cleanup(keep)
    return status


if __name__ == "__main__":
    sys.exit(main())
