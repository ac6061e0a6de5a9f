#!/usr/bin/python3
"""bench.py - the `make bench` driver: redisfo-dns, NSD and Knot side by side.

It generates the zones, the query files and each server's configuration in
a temporary folder, starts one server at a time on a free loopback port
(pinned to one core), loads it with dnsperf (pinned to the other core),
reads the server's CPU time and peak memory from /proc, stops it, and
prints medians over interleaved rounds. It must never leave a server
running: every process it starts is registered and stopped on exit, error,
Ctrl-C or SIGTERM. It sends traffic to 127.0.0.1 only.
"""

import base64
import os
import random
import re
import secrets
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("REDISFO_BIN", REPO / "redisfo-dns"))
ZONE = "svc.test."
QUICK = "--quick" in sys.argv[1:]
SECONDS = int(os.environ.get("BENCH_SECONDS", "2" if QUICK else "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1" if QUICK else "5"))
BIG_SERVICES = 10000
# Start-up with a zone ten times larger: a few rounds are enough, as each
# start is one figure (and each takes a second or two). The time to the
# first answer is wall-clock time, which others' work on a shared machine
# stretches; the CPU time spent until then is printed beside it.
HUGE_SERVICES = 100000
HUGE_ROUNDS = int(os.environ.get("BENCH_HUGE_ROUNDS", "1" if QUICK else "3"))
# UPDATE latency: this many signed UPDATEs per zone, idle and under load.
UPDATES = int(os.environ.get("BENCH_UPDATES", "10" if QUICK else "15"))
# Planned switches there and back, per zone (each way counts one).
SWITCHES = int(os.environ.get("BENCH_SWITCHES", "2" if QUICK else "5"))
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = len(os.sched_getaffinity(0))
# Server on the last core, load generator on the first: on 2 cores this
# gives the server's one worker a core of its own and dnsperf the other.
SERVER_CPU = {NCPU - 1} if NCPU >= 2 else None
LOAD_CPU = {0} if NCPU >= 2 else None
# Two dnsperf clients in one thread with at most 100 queries outstanding.
# On a 2-core machine dnsperf needs about as much CPU per query as the
# server, so it cannot saturate a server with a core of its own; more
# clients or threads only add noise, and more than ~150 outstanding
# queries overflow the server's default socket buffer at the start and
# show up as lost queries that say nothing about the server.
DNSPERF_OPTS = ["-c", "2", "-T", "1", "-q", "100", "-O", "suppress=timeout"]
# Saturation: twice as many queries outstanding, the load under which a
# server whose socket buffer is too small drops queries unseen. Fewer
# rounds than the main runs, with NSD in the same rounds to compare.
SAT_OPTS = ["-c", "2", "-T", "1", "-q", "200", "-O", "suppress=timeout"]
SAT_SECONDS = int(os.environ.get("BENCH_SAT_SECONDS", "2" if QUICK else "5"))
SAT_ROUNDS = int(os.environ.get("BENCH_SAT_ROUNDS", "1" if QUICK else "3"))

T_A, T_NS, T_SOA, T_MX, T_TXT, T_AAAA = 1, 2, 6, 15, 16, 28
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN",
          4: "NOTIMP", 5: "REFUSED", 9: "NOTAUTH", 10: "NOTZONE"}

STARTED = []		# every process we started and have not stopped yet


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- zone and queries

def zone_text(n_services):
    """The sample zone; with n_services > 0 also svc0..svcN-1, each with
    A, AAAA and a _redisfo TXT, like a service the product manages."""
    lines = [
        "$ORIGIN svc.test.",
        "$TTL 300",
        "@\tIN SOA ns.svc.test. hostmaster.svc.test. 1 3600 600 86400 60",
        "@\tIN NS ns.svc.test.",
        "ns\tIN A 127.0.0.1",
        "redis\t5 IN A 127.0.0.2",
        "redis\t5 IN AAAA fd00::2",
        '_redisfo.redis\t5 IN TXT "primary=r1 epoch=1 at=2026-01-01T00:00:00Z"',
        "cache\t5 IN A 127.0.0.5",
        '_redisfo.cache\t5 IN TXT "primary=c1 epoch=1 at=2026-01-01T00:00:00Z"',
        "www\tIN A 192.0.2.80",
        "www\tIN AAAA 2001:db8::80",
    ]
    for i in range(n_services):
        lines.append("svc%d\t5 IN A 10.%d.%d.%d" % (i, i >> 16, (i >> 8) & 255, i & 255))
        v6 = i + 1
        lines.append("svc%d\t5 IN AAAA fd00::%s" % (
            i, "%x" % v6 if v6 < 0x10000 else "%x:%x" % (v6 >> 16, v6 & 0xFFFF)))
        lines.append('_redisfo.svc%d\t5 IN TXT "primary=n1 epoch=1 at=2026-01-01T00:00:00Z"' % i)
    return "\n".join(lines) + "\n"


MIX = [(70, "A"), (10, "AAAA"), (5, "SOA"), (10, "NXDOMAIN"), (5, "NODATA")]


def query_lines(n_lines, n_services, seed):
    """dnsperf input with the fixed mix, in a fixed shuffled order. With
    n_services = 0 every positive query is for redis; otherwise the names
    are spread over all services."""
    rnd = random.Random(seed)

    def svc():
        return "redis" if n_services == 0 else "svc%d" % rnd.randrange(n_services)

    out = []
    for share, kind in MIX:
        for _ in range(n_lines * share // 100):
            if kind == "A":
                out.append("%s.svc.test A" % svc())
            elif kind == "AAAA":
                out.append("%s.svc.test AAAA" % svc())
            elif kind == "SOA":
                out.append("svc.test SOA")
            elif kind == "NXDOMAIN":
                out.append("nx%d.svc.test A" % rnd.randrange(1 << 20))
            else:
                out.append("%s.svc.test MX" % svc())
    rnd.shuffle(out)
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- tiny DNS client

def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def wire_query(qid, name, qtype):
    return struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + wire_name(name) + struct.pack("!HH", qtype, 1)


def skip_name(msg, off):
    while True:
        n = msg[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n


def parse_reply(msg):
    """(id, rcode, [(type, rdata), ...] of the answer section); None if short."""
    if len(msg) < 12:
        return None
    qid, flags, qd, an, _ns, _ar = struct.unpack("!HHHHHH", msg[:12])
    off = 12
    try:
        for _ in range(qd):
            off = skip_name(msg, off) + 4
        answers = []
        for _ in range(an):
            off = skip_name(msg, off)
            rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
            off += 10
            answers.append((rtype, msg[off:off + rdlen]))
            off += rdlen
    except (IndexError, struct.error):
        return None
    return qid, flags & 0xF, answers


class Prober:
    """A UDP socket that asks one server simple questions, quickly."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.qid = random.randrange(65536)

    def close(self):
        self.sock.close()

    def send(self, name, qtype):
        self.qid = (self.qid + 1) & 0xFFFF
        try:
            self.sock.send(wire_query(self.qid, name, qtype))
        except OSError:	# ECONNREFUSED from an earlier query: not up yet
            pass

    def replies(self, timeout):
        """Every reply that arrives within timeout (at least one wait)."""
        out = []
        r, _, _ = select.select([self.sock], [], [], timeout)
        while r:
            try:
                msg = self.sock.recv(65535)
            except BlockingIOError:
                break
            except OSError:
                break
            p = parse_reply(msg)
            if p:
                out.append(p)
        return out


# ---------------------------------------------------------------- processes and /proc

def pin(cpus):
    def fn():
        if cpus:
            os.sched_setaffinity(0, cpus)
    return fn


def free_port():
    while True:
        # below the kernel's ephemeral range (32768 up): a client can never be
        # given the server's port and talk to itself
        port = random.randrange(10000, 32768)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            u.bind(("127.0.0.1", port))
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()


def proc_stat(pid):
    """(ppid, user ticks, system ticks) of a process, all its threads and
    its reaped children; None when it is gone."""
    try:
        data = open("/proc/%d/stat" % pid).read()
    except OSError:
        return None
    f = data[data.rindex(")") + 2:].split()
    return int(f[1]), int(f[11]) + int(f[13]), int(f[12]) + int(f[14])


def proc_tree(root):
    """root and all its descendants (NSD serves from child processes)."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st:
                parent[int(d)] = st[0]
    tree, todo = [], [root]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(c for c, pp in parent.items() if pp == p)
    return tree


def tree_cpu_seconds(root):
    """(user, system) CPU seconds of root and its descendants."""
    user = system = 0
    for p in proc_tree(root):
        st = proc_stat(p)
        if st:
            user += st[1]
            system += st[2]
    return user / CLK_TCK, system / CLK_TCK


def tree_sleeps(root):
    """Voluntary context switches of every thread of root and its
    descendants: how often the server went to sleep waiting for work."""
    total = 0
    for p in proc_tree(root):
        try:
            tids = os.listdir("/proc/%d/task" % p)
        except OSError:
            continue
        for tid in tids:
            try:
                for line in open("/proc/%d/task/%s/status" % (p, tid)):
                    if line.startswith("voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
            except OSError:
                pass
    return total


def tree_hwm_kb(root):
    total = 0
    for p in proc_tree(root):
        try:
            for line in open("/proc/%d/status" % p):
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def tree_tasks(root):
    """(pid, tid) of every thread of root and its descendants."""
    out = []
    for p in proc_tree(root):
        try:
            out.extend((p, int(t)) for t in os.listdir("/proc/%d/task" % p))
        except OSError:
            pass
    return out


def tree_pin(root, cpus):
    """Pin every thread of root and its descendants to cpus: some servers
    set their workers' affinity themselves when they start them (Knot binds
    its UDP workers to cores in turn), which would put a worker on the load
    generator's core. Returns how many threads had left cpus."""
    moved = 0
    if not cpus:
        return 0
    for _pid, tid in tree_tasks(root):
        try:
            if os.sched_getaffinity(tid) != cpus:
                moved += 1
                os.sched_setaffinity(tid, cpus)
        except OSError:
            pass
    return moved


def start_proc(argv, cpus, logpath, cwd=None):
    logf = open(logpath, "ab")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                         preexec_fn=pin(cpus), start_new_session=True, cwd=cwd)
    logf.close()
    STARTED.append(p)
    return p


def stop_proc(p, sig=signal.SIGTERM, grace=5.0):
    """Stop p (and what it forked: it leads its own process group)."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    # NSD's children may outlive the main process for a moment.
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(p.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.02)
    else:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if p in STARTED:
        STARTED.remove(p)


def stop_all():
    for p in list(STARTED):
        stop_proc(p, grace=3.0)


def tail(path, n=15):
    try:
        return "".join(open(path, errors="replace").readlines()[-n:])
    except OSError:
        return ""


# ---------------------------------------------------------------- the servers

class Server:
    """One server configuration serving one zone file on one port."""

    label = "?"

    def __init__(self, work, zone_file):
        self.dir = work / self.key
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.zone = self.dir / "svc.test.zone"
        shutil.copyfile(zone_file, self.zone)
        self.logpath = self.dir / "server.log"
        self.proc = None
        self.load_s = None
        self.repinned = 0
        self.write_config()

    def start(self, timeout=60.0):
        """Start, and wait until it answers the zone's SOA; records the
        time from start to that first answer."""
        t0 = time.monotonic()
        self.proc = start_proc(self.argv(), SERVER_CPU, self.logpath, cwd=self.dir)
        pr = Prober(self.port)
        try:
            while time.monotonic() - t0 < timeout:
                if self.proc.poll() is not None:
                    raise RuntimeError("%s exited (%s) at start:\n%s" %
                                       (self.label, self.proc.returncode, tail(self.logpath)))
                pr.send(ZONE, T_SOA)
                for _qid, rcode, ans in pr.replies(0.001):
                    if self.ready(rcode, ans):
                        self.load_s = time.monotonic() - t0
                        self.repinned = tree_pin(self.proc.pid, SERVER_CPU)
                        return
            raise RuntimeError("%s did not answer SOA within %.0f s:\n%s" %
                               (self.label, timeout, tail(self.logpath)))
        finally:
            pr.close()

    @staticmethod
    def ready(rcode, ans):
        return rcode == 0 and any(t == T_SOA for t, _ in ans)

    def stop(self):
        if self.proc:
            stop_proc(self.proc)
            self.proc = None

    def check(self, name, qtype, want_rcode):
        """One question; True when the rcode is want_rcode and, for
        NOERROR, an answer of that type came back (a sanity check that the
        server serves the zone we think it does)."""
        pr = Prober(self.port)
        try:
            for _ in range(50):
                pr.send(name, qtype)
                for _qid, rcode, ans in pr.replies(0.1):
                    if rcode != want_rcode:
                        return False
                    return rcode != 0 or any(t == qtype for t, _ in ans)
            return False
        finally:
            pr.close()


class Echo(Server):
    """The loopback floor: echo.c reflects each query, no DNS work."""
    key = "echo"
    label = "floor"
    binary = None		# built by main() when a compiler is there

    def write_config(self):
        pass

    def argv(self):
        return [str(self.binary), str(self.port)]

    @staticmethod
    def ready(rcode, ans):
        return True

    def check(self, name, qtype, want_rcode):
        return True


def build_echo(work):
    src = Path(__file__).resolve().parent / "echo.c"
    out = work / "echo"
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None
    p = subprocess.run([cc, "-O2", "-D_GNU_SOURCE", "-o", str(out), str(src)],
                       capture_output=True, text=True)
    return out if p.returncode == 0 else None


class Redisfo(Server):
    key = "redisfo"
    label = "redisfo-dns"
    metrics = False     # dns.metrics_listen off: nothing is counted

    def write_config(self):
        self.key_name = "bench-key."
        self.key_secret = base64.b64encode(secrets.token_bytes(32)).decode()
        (self.dir / "redisfo.conf").write_text("""\
dns = {
  listen = [ "127.0.0.1:%d" ];
  zone = "%s";
  zone_file = "svc.test.zone";
  ttl = 5;
  workers = 1;
  update_key = { name = "%s"; algorithm = "hmac-sha256"; secret = "%s"; };
  allow_transfer = [ "127.0.0.1" ];
  rrl = { rate = 0; slip = 2; };
  metrics_listen = "%s";
};
failover = {
  lock_file = "redisfo.lock";
  audit_log = "redisfo-audit.log";
};
services = (
  { name = "redis";
    nodes = (
      { name = "r1"; host = "127.0.0.2"; port = 6379; },
      { name = "r2"; host = "127.0.0.3"; port = 6379; }
    );
  }
);
""" % (self.port, ZONE, self.key_name, self.key_secret,
       "127.0.0.1:%d" % free_port() if self.metrics else ""))

    def argv(self):
        return [str(BINARY), "-c", str(self.dir / "redisfo.conf"), "serve"]


class RedisfoMetrics(Redisfo):
    """The same server with its Prometheus endpoint on: every reply counted."""
    key = "redisfo-metrics"
    label = "redisfo-dns (metrics on)"
    metrics = True


class Nsd(Server):
    key = "nsd"
    label = "NSD"
    rrl = True

    def write_config(self):
        d = self.dir
        text = """\
server:
  server-count: 1
  ip-address: 127.0.0.1@%d
  do-ip6: no
  username: ""
  pidfile: ""
  database: ""
  zonesdir: "%s"
  zonelistfile: "%s/zone.list"
  xfrdfile: "%s/xfrd.state"
  xfrdir: "%s"
  verbosity: 0
%sremote-control:
  control-enable: no
zone:
  name: "%s"
  zonefile: "%s"
""" % (self.port, d, d, d, d, "  rrl-ratelimit: 0\n" if self.rrl else "", ZONE, self.zone)
        (d / "nsd.conf").write_text(text)
        # rrl-ratelimit exists only when NSD was built with RRL; without it
        # there is no rate limiting to turn off.
        if self.rrl and subprocess.run(["nsd-checkconf", str(d / "nsd.conf")],
                                       capture_output=True).returncode != 0:
            self.rrl = False
            self.write_config()

    def argv(self):
        return ["nsd", "-d", "-c", str(self.dir / "nsd.conf")]


class Knot(Server):
    key = "knot"
    label = "Knot"

    def write_config(self):
        d = self.dir
        (d / "db").mkdir(exist_ok=True)
        (d / "knot.conf").write_text("""\
server:
  rundir: "%s"
  listen: 127.0.0.1@%d
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
control:
  listen: "%s/knot.sock"
database:
  storage: "%s/db"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "%s"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: %s
    file: "%s"
""" % (d, self.port, d, d, d, ZONE, self.zone))

    def argv(self):
        return ["knotd", "-c", str(self.dir / "knot.conf")]


def server_version(kind):
    try:
        if kind is Nsd:
            out = subprocess.run(["nsd", "-v"], capture_output=True, text=True).stderr
            return "NSD " + out.split()[2]
        if kind is Knot:
            out = subprocess.run(["knotd", "-V"], capture_output=True, text=True).stdout
            return "Knot " + out.split()[-1]
    except (OSError, IndexError):
        pass
    return kind.label


# ---------------------------------------------------------------- dnsperf

def dnsperf_argv(port, qfile, seconds, opts=None):
    return ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(qfile),
            "-l", str(seconds)] + (DNSPERF_OPTS if opts is None else opts)


def udp_socket_drops(port):
    """Datagrams the kernel dropped at the sockets bound to 127.0.0.1:port
    (their receive buffer was full): the "drops" of /proc/net/udp."""
    drops = 0
    try:
        with open("/proc/net/udp") as f:
            next(f)
            for line in f:
                fields = line.split()
                addr, p = fields[1].split(":")
                if int(p, 16) == port:
                    drops += int(fields[-1])
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return drops


def parse_dnsperf(out):
    def num(pat):
        m = re.search(pat, out)
        return float(m.group(1)) if m else None

    r = {
        "sent": num(r"Queries sent:\s+(\d+)"),
        "completed": num(r"Queries completed:\s+(\d+)"),
        "lost": num(r"Queries lost:\s+(\d+)"),
        "qps": num(r"Queries per second:\s+([\d.]+)"),
        "rcodes": {},
    }
    m = re.search(r"Response codes:\s+(.*)", out)
    if m:
        for code, cnt in re.findall(r"([A-Z]+) (\d+) \(", m.group(1)):
            r["rcodes"][code] = int(cnt)
    if r["completed"] is None or r["qps"] is None:
        raise RuntimeError("cannot read dnsperf's output:\n" + out[-2000:])
    return r


def answers_ok(rcodes):
    """The response codes match the mix: 10% NXDOMAIN, the rest NOERROR."""
    total = sum(rcodes.values())
    if not total:
        return False
    nx = rcodes.get("NXDOMAIN", 0) / total
    ok = rcodes.get("NOERROR", 0) / total
    return abs(nx - 0.10) < 0.02 and abs(ok - 0.90) < 0.02


def measure(server, qfile, seconds, opts=None):
    """One dnsperf run against a started server: figures of that run."""
    pid = server.proc.pid
    cpu0 = tree_cpu_seconds(pid)
    sleeps0 = tree_sleeps(pid)
    drops0 = udp_socket_drops(server.port)
    p = subprocess.run(dnsperf_argv(server.port, qfile, seconds, opts), capture_output=True,
                       text=True, preexec_fn=pin(LOAD_CPU), timeout=seconds + 60)
    drops1 = udp_socket_drops(server.port)
    cpu1 = tree_cpu_seconds(pid)
    sleeps1 = tree_sleeps(pid)
    if tree_pin(pid, SERVER_CPU):
        raise RuntimeError("%s moved a thread off CPU %s during the run" %
                           (server.label, SERVER_CPU))
    if server.proc.poll() is not None:
        raise RuntimeError("%s died during the run:\n%s" % (server.label, tail(server.logpath)))
    r = parse_dnsperf(p.stdout)
    r["cpu_s"] = (cpu1[0] + cpu1[1]) - (cpu0[0] + cpu0[1])
    r["user_s"] = cpu1[0] - cpu0[0]
    r["user_us_per_q"] = r["user_s"] / r["completed"] * 1e6 if r["completed"] else float("nan")
    r["capacity"] = r["completed"] / r["cpu_s"] if r["cpu_s"] else float("nan")
    r["us_per_q"] = r["cpu_s"] / r["completed"] * 1e6 if r["completed"] else float("nan")
    r["busy"] = r["cpu_s"] / seconds
    r["q_per_sleep"] = r["completed"] / max(1, sleeps1 - sleeps0)
    r["rss_mb"] = tree_hwm_kb(pid) / 1024.0
    r["ok"] = answers_ok(r["rcodes"]) if not isinstance(server, Echo) else True
    r["load_s"] = server.load_s
    r["drops"] = drops1 - drops0 if drops0 is not None and drops1 is not None else None
    return r


# ---------------------------------------------------------------- the runs

def run_rounds(entries, work):
    """ROUNDS rounds, each running every entry (name, server class, zone
    file, query file) once, in order: ({name: [result, ...]}, {name: error}).
    An entry that fails is reported and left out of later rounds."""
    results = {e[0]: [] for e in entries}
    failed = {}
    repinned = {}
    for rnd in range(1, ROUNDS + 1):
        for name, kind, zone_file, qfile in entries:
            if name in failed:
                continue
            srv = kind(work / ("r%d-%s" % (rnd, name.replace(" ", "-"))), zone_file)
            try:
                srv.start()
                if not srv.check("redis.svc.test.", T_A, 0) or \
                   not srv.check("nx.svc.test.", T_A, 3):
                    raise RuntimeError("%s does not serve the zone as expected:\n%s" %
                                       (kind.label, tail(srv.logpath)))
                r = measure(srv, qfile, SECONDS)
                r["round"] = rnd
                if srv.repinned:
                    repinned[name] = srv.repinned
                results[name].append(r)
                log("  round %d  %-16s %7.0f qps  lost %-4d %5.2f us/query (user %4.2f)  "
                    "busy %3.0f%%  q/sleep %4.1f  RSS %5.1f MB  start %4.0f ms%s" %
                    (rnd, name, r["qps"], r["lost"], r["us_per_q"], r["user_us_per_q"],
                     r["busy"] * 100, r["q_per_sleep"],
                     r["rss_mb"], r["load_s"] * 1000,
                     ("" if r["ok"] else "  WRONG RCODES %s" % r["rcodes"]) +
                     ("" if r["cpu_s"] >= 1.0 else "  (under 1 s of CPU: coarse)")))
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                failed[name] = str(e)
                log("  round %d  %-16s FAILED: %s" % (rnd, name, str(e).strip()))
            finally:
                srv.stop()
    for name, n in repinned.items():
        log("  note: %s set the CPU affinity of %d of its threads itself; the bench pins them "
            "back to CPU %s once it answers" % (name, n, ",".join(map(str, sorted(SERVER_CPU)))))
    return results, failed


def tree_hwm_largest_kb(root):
    """VmHWM of the largest process of root's tree (NSD's are several)."""
    best = 0
    for p in proc_tree(root):
        try:
            for line in open("/proc/%d/status" % p):
                if line.startswith("VmHWM:"):
                    best = max(best, int(line.split()[1]))
        except OSError:
            pass
    return best


def startup_rounds(entries, work, zone_file, n_services):
    """HUGE_ROUNDS rounds, each starting every entry (name, server class)
    on the same zone file in turn: time to the first answer and peak
    memory, read as soon as it answers. ({name: [result, ...]}, {name: error})."""
    results = {e[0]: [] for e in entries}
    failed = {}
    last = "svc%d.svc.test." % (n_services - 1)
    for rnd in range(1, HUGE_ROUNDS + 1):
        for name, kind in entries:
            if name in failed:
                continue
            srv = kind(work / ("huge-r%d-%s" % (rnd, name.replace(" ", "-"))), zone_file)
            try:
                srv.start(timeout=180.0)
                user, system = tree_cpu_seconds(srv.proc.pid)
                r = {"round": rnd, "load_ms": srv.load_s * 1000, "cpu_ms": (user + system) * 1000,
                     "rss_mb": tree_hwm_kb(srv.proc.pid) / 1024.0,
                     "rss_largest_mb": tree_hwm_largest_kb(srv.proc.pid) / 1024.0}
                if not srv.check(last, T_A, 0):
                    raise RuntimeError("%s does not serve %s A:\n%s" %
                                       (kind.label, last, tail(srv.logpath)))
                results[name].append(r)
                log("  round %d  %-12s start %5.0f ms (CPU %4.0f ms)  peak RSS %6.1f MB "
                    "(largest process %6.1f MB)" %
                    (rnd, name, r["load_ms"], r["cpu_ms"], r["rss_mb"], r["rss_largest_mb"]))
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                failed[name] = str(e)
                log("  round %d  %-12s FAILED: %s" % (rnd, name, str(e).strip()))
            finally:
                srv.stop()
    return results, failed


def saturation_rounds(entries, work, zone_file, qfile):
    """SAT_ROUNDS rounds of SAT_OPTS load on each entry in turn."""
    results = {e[0]: [] for e in entries}
    failed = {}
    for rnd in range(1, SAT_ROUNDS + 1):
        for name, kind in entries:
            if name in failed:
                continue
            srv = kind(work / ("sat-r%d-%s" % (rnd, name.replace(" ", "-"))), zone_file)
            try:
                srv.start()
                r = measure(srv, qfile, SAT_SECONDS, SAT_OPTS)
                r["round"] = rnd
                results[name].append(r)
                log("  round %d  %-12s %7.0f qps  sent %8d  lost %-4d  dropped at its socket %s%s" %
                    (rnd, name, r["qps"], r["sent"], r["lost"],
                     "n/a" if r["drops"] is None else "%d" % r["drops"],
                     "" if r["ok"] else "  WRONG RCODES %s" % r["rcodes"]))
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                failed[name] = str(e)
                log("  round %d  %-12s FAILED: %s" % (rnd, name, str(e).strip()))
            finally:
                srv.stop()
    return results, failed


def med(rs, key):
    """(median, min, max) of one figure over rounds, or None."""
    vals = [r[key] for r in rs if r.get(key) is not None]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)


def fmt(t, spec):
    if t is None:
        return "n/a"
    m, lo, hi = t
    if (spec % lo) == (spec % hi):
        return spec % m
    return "%s [%s-%s]" % (spec % m, spec % lo, spec % hi)


def print_table(results, failed, columns):
    """columns: [(entry name, header)]."""
    rows = [("qps", "qps", "%.0f"), ("lost queries", "lost", "%.0f"),
            ("CPU/query (us)", "us_per_q", "%.2f"), ("  of which user (us)", "user_us_per_q", "%.2f"),
            ("queries per CPU second", "capacity", "%.0f"), ("server busy (%)", "busy_pct", "%.0f"),
            ("queries per sleep", "q_per_sleep", "%.1f"),
            ("peak RSS (MB)", "rss_mb", "%.1f"), ("start to 1st answer (ms)", "load_ms", "%.0f")]
    for rs in results.values():
        for r in rs:
            r["load_ms"] = r["load_s"] * 1000 if r.get("load_s") is not None else None
            r["busy_pct"] = r["busy"] * 100
    w = 22
    log("  %-25s" % "" + "".join("%-*s" % (w, h) for _, h in columns))
    for title, key, spec in rows:
        cells = []
        for name, _ in columns:
            rs = results.get(name, [])
            cells.append("FAILED" if name in failed and not rs else fmt(med(rs, key), spec))
        log("  %-25s" % title + "".join("%-*s" % (w, c) for c in cells))
    cells = []
    for name, _ in columns:
        rs = results.get(name, [])
        cells.append("n/a" if not rs else ("yes" if all(r["ok"] for r in rs) else "NO"))
    log("  %-25s" % "rcodes match the mix" + "".join("%-*s" % (w, c) for c in cells))


def ratio(results, a, b, key):
    """a/b of one figure, round by round (the runs of one round are
    minutes apart at most, so they share the machine's condition):
    (median, min, max) over rounds, or None."""
    ra = {r["round"]: r[key] for r in results.get(a, [])}
    rb = {r["round"]: r[key] for r in results.get(b, [])}
    vals = [ra[k] / rb[k] for k in ra if k in rb and rb[k]]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)


def ratio_cross(results, a, akey, b, bkey):
    """a's akey / b's bkey, round by round, as ratio()."""
    ra = {r["round"]: r[akey] for r in results.get(a, [])}
    rb = {r["round"]: r[bkey] for r in results.get(b, [])}
    vals = [ra[k] / rb[k] for k in ra if k in rb and rb[k]]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)


def rstr(t):
    return fmt(t, "%.2f")


# ---------------------------------------------------------------- UPDATE latency

def update_series(srv, keyring, dnsmod, net):
    """UPDATES signed UPDATEs, each replacing redis A with an address of
    net (a /16 of 127/8): ([reply ms], [new answer ms]), or an error
    string. "reply" is the time to the NOERROR reply; "new answer" until a
    UDP query sent after the UPDATE sees the new address."""
    usock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    usock.connect(("127.0.0.1", srv.port))
    usock.setblocking(False)
    pr = Prober(srv.port)
    try:
        seen_ms, reply_ms = [], []
        for i in range(UPDATES):
            addr = "%s.%d.%d" % (net, i // 250, i % 250 + 1)
            want = socket.inet_aton(addr)
            u = dnsmod.update.UpdateMessage(ZONE, keyring=keyring, keyname=srv.key_name,
                                            keyalgorithm=dnsmod.tsig.HMAC_SHA256)
            u.replace("redis", 5, "A", addr)
            wire = u.to_wire()
            t0 = time.monotonic()
            usock.send(wire)
            t_reply = t_seen = None
            while time.monotonic() - t0 < 10.0 and (t_reply is None or t_seen is None):
                pr.send("redis.svc.test.", T_A)
                r, _, _ = select.select([pr.sock, usock], [], [], 0.001)
                now = time.monotonic()
                if usock in r and t_reply is None:
                    msg = usock.recv(65535)
                    if len(msg) < 4 or msg[:2] != wire[:2]:
                        continue
                    rcode = msg[3] & 0xF
                    if rcode != 0:
                        return "update refused (%s)" % RCODES.get(rcode, rcode)
                    t_reply = now
                if pr.sock in r and t_seen is None:
                    for _qid, rcode, ans in pr.replies(0):
                        if any(t == T_A and rd == want for t, rd in ans):
                            t_seen = now
                            break
            if t_reply is None:
                return "no reply to the update within 10 s"
            if t_seen is None:
                return "update answered NOERROR, new address not served within 10 s"
            seen_ms.append((t_seen - t0) * 1000)
            reply_ms.append((t_reply - t0) * 1000)
            # let the replies to the last probes drain before the next one
            pr.replies(0.05)
        return reply_ms, seen_ms
    finally:
        pr.close()
        usock.close()


def update_latency(work, zone_file, qfile):
    """One server on zone_file: UPDATE latency idle, then while dnsperf
    loads it. {"idle": (reply, seen), "load": (reply, seen)}, or an error
    string."""
    try:
        import dns.tsig
        import dns.tsigkeyring
        import dns.update
    except ImportError as e:
        return "dnspython missing (%s)" % e
    srv = Redisfo(work, zone_file)
    load = None
    out = {}
    try:
        srv.start(timeout=180.0)
        keyring = dns.tsigkeyring.from_text({srv.key_name: srv.key_secret})
        r = update_series(srv, keyring, dns, "127.1")
        if isinstance(r, str):
            return r
        out["idle"] = r
        load = start_proc(dnsperf_argv(srv.port, qfile, 300), LOAD_CPU, srv.dir / "dnsperf.log")
        time.sleep(1.0)	# let dnsperf reach full speed
        if load.poll() is not None:
            return "dnsperf exited: " + tail(srv.dir / "dnsperf.log", 3)
        r = update_series(srv, keyring, dns, "127.2")
        if isinstance(r, str):
            return r
        out["load"] = r
        if load.poll() is not None:
            return "dnsperf stopped before the updates were done"
        return out
    except (RuntimeError, OSError) as e:
        return str(e).strip().splitlines()[0]
    finally:
        if load:
            stop_proc(load, signal.SIGINT)
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)	# the copy of the zone (and its journal)


def ms_stats(vals):
    return statistics.median(vals), min(vals), max(vals)


def update_section(work, small_zone, small_q, big_zone, big_q):
    """UPDATE reply and UPDATE-to-new-answer latency for the sample zone,
    BIG_SERVICES and HUGE_SERVICES, idle and under load, printed."""
    log("== UPDATE (TSIG-signed, replaces redis A): time to the NOERROR reply, and until a "
        "UDP query sees the new address;")
    log("   median [min-max] over %d updates, idle and while dnsperf loads the server "
        "(%s)" % (UPDATES, " ".join(DNSPERF_OPTS)))
    huge_zone = work / "huge-update.zone"
    huge_q = work / "huge.queries"
    huge_zone.write_text(zone_text(HUGE_SERVICES))
    huge_q.write_text(query_lines(20000, HUGE_SERVICES, 3))
    cols = [("sample zone", 0, small_zone, small_q),
            ("%d services" % BIG_SERVICES, BIG_SERVICES, big_zone, big_q),
            ("%d services" % HUGE_SERVICES, HUGE_SERVICES, huge_zone, huge_q)]
    res = {}
    try:
        for title, n, zf, qf in cols:
            res[title] = update_latency(work / ("update-%d" % n), zf, qf)
    finally:
        huge_zone.unlink()
        huge_q.unlink()
    w = 24
    log("  %-25s" % "" + "".join("%-*s" % (w, t) for t, _, _, _ in cols))
    rows = (("idle: UPDATE reply (ms)", "idle", 0), ("idle: new answer (ms)", "idle", 1),
            ("load: UPDATE reply (ms)", "load", 0), ("load: new answer (ms)", "load", 1))
    for label, phase, k in rows:
        cells = []
        for t, _, _, _ in cols:
            r = res[t]
            cells.append("FAILED" if isinstance(r, str) else fmt(ms_stats(r[phase][k]), "%.1f"))
        log("  %-25s" % label + "".join("%-*s" % (w, c) for c in cells))
    for t, _, _, _ in cols:
        if isinstance(res[t], str):
            log("  %s: %s" % (t, res[t]))
    small, huge = res[cols[0][0]], res[cols[2][0]]
    if isinstance(small, str) or isinstance(huge, str):
        log("  %d services / sample zone: n/a" % HUGE_SERVICES)
        return 1
    def r(phase, k):
        h, sm = statistics.median(huge[phase][k]), statistics.median(small[phase][k])
        return "%.1f" % (h / sm) if sm else "n/a"
    log("  %d services / sample zone, medians: UPDATE reply %s idle, %s under load; "
        "new answer %s idle, %s under load" %
        (HUGE_SERVICES, r("idle", 0), r("load", 0), r("idle", 1), r("load", 1)))
    log("  goal: 100,000 services at most 3x the sample zone and under 10 ms")
    log("")
    return 0


# ---------------------------------------------------------------- planned switch

SWITCH_HOSTS = (("r1", "127.0.0.2"), ("r2", "127.0.0.3"), ("r3", "127.0.0.4"))


def service_zone_text(n_services):
    """The zone of the one configured service, `redis` naming r1 (its A and
    _redisfo TXT), and n_services more (svcN, as zone_text) that no switch
    touches."""
    lines = [
        "$ORIGIN svc.test.",
        "$TTL 300",
        "@\t3600 IN SOA ns1 hostmaster 1 3600 600 86400 5",
        "@\t3600 IN NS ns1",
        "ns1\t3600 IN A 127.0.0.1",
        "redis\t5 IN A 127.0.0.2",
        '_redisfo.redis\t5 IN TXT "primary=r1 epoch=1 at=2026-01-01T00:00:00Z"',
    ]
    extra = zone_text(n_services).split("\n")[12:]	# past the sample zone's 12 lines
    return "\n".join(lines) + "\n" + "\n".join(extra)


class RedisfoSwitch(Redisfo):
    """redisfo-dns with one service `redis` on real nodes (self.nodes:
    [(name, host, port)], set before write_config)."""
    key = "redisfo-switch"

    def __init__(self, work, zone_file, nodes):
        self.nodes = nodes
        super().__init__(work, zone_file)

    def write_config(self):
        super().write_config()
        conf = self.dir / "redisfo.conf"
        text = conf.read_text()
        text = text.replace('audit_log = "redisfo-audit.log";',
                            'audit_log = "redisfo-audit.log";\n  probe_timeout_ms = 300;\n'
                            '  probes = 2;\n  pause_timeout_ms = 2000;')
        nodes = ",\n".join('      { name = "%s"; host = "%s"; port = %d; }' % n
                           for n in self.nodes)
        text = re.sub(r"nodes = \(.*?\);", "nodes = (\n%s\n    );" % nodes, text, flags=re.S)
        conf.write_text(text)


def redis_node(work, name, host, port, master):
    d = work / ("redis-" + name)
    d.mkdir(parents=True, exist_ok=True)
    (d / "redis.conf").write_text(
        "port %d\nbind %s\ndir \"%s\"\nsave \"\"\nappendonly no\nprotected-mode no\n"
        "daemonize no\nlogfile \"\"\nrepl-diskless-sync-delay 0\n%s" %
        (port, host, d, "replicaof %s %d\n" % master if master else ""))
    return start_proc(["redis-server", str(d / "redis.conf")], None, d / "redis.log", cwd=d)


def switch_section(work):
    """A planned switch there and back, SWITCHES times, with the sample
    service zone and with HUGE_SERVICES more services, both servers up at
    once and taking turns; its "total" (the switch's own timeline) and the
    command's wall time, printed."""
    log("== planned switch (`switch -y --to`, 3 redis-server nodes), the service's zone alone "
        "and with %d more services;" % HUGE_SERVICES)
    log("   both servers up, taking turns, %d switches each (there and back %d times)" %
        (2 * SWITCHES, SWITCHES))
    try:
        import redis
    except ImportError as e:
        log("  n/a: python3-redis missing (%s)" % e)
        return 1
    if not shutil.which("redis-server"):
        log("  n/a: redis-server is not installed")
        return 1
    host_ports = [h for _, h in SWITCH_HOSTS]
    port = None
    for _ in range(100):
        p = free_port()
        if all(_bindable(h, p) for h in host_ports[1:]):
            port = p
            break
    if port is None:
        log("  n/a: no port free on %s" % ", ".join(host_ports))
        return 1
    nodes = [(n, h, port) for n, h in SWITCH_HOSTS]
    procs, servers = [], {}
    zones = (("sample", 0), ("huge", HUGE_SERVICES))
    res = {k: [] for k, _ in zones}
    try:
        master = None
        for n, h, p in nodes:
            procs.append(redis_node(work / "switch", n, h, p, master))
            if master is None:
                master = (h, p)
        clients = [redis.Redis(host=h, port=p, socket_timeout=2, socket_connect_timeout=2)
                   for _, h, p in nodes]
        deadline = time.monotonic() + 30
        while True:
            try:
                if all(c.info("replication").get("master_link_status") == "up"
                       for c in clients[1:]):
                    break
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the replicas did not link to r1 within 30 s")
            time.sleep(0.05)
        for c in clients:
            c.close()
        for k, n in zones:
            zf = work / ("switch-%s.zone" % k)
            zf.write_text(service_zone_text(n))
            servers[k] = RedisfoSwitch(work / ("switch-" + k), zf, nodes)
            zf.unlink()
            servers[k].start(timeout=180.0)
        for rnd in range(SWITCHES):
            for k, _ in zones:
                srv = servers[k]
                for to in ("r2", "r1"):
                    t0 = time.monotonic()
                    p = subprocess.run([str(BINARY), "-c", str(srv.dir / "redisfo.conf"),
                                        "switch", "-y", "--to", to], capture_output=True,
                                       text=True, timeout=120, cwd=srv.dir,
                                       stdin=subprocess.DEVNULL)
                    dt = (time.monotonic() - t0) * 1000
                    m = re.search(r"^total: ([0-9.]+) ms", p.stdout, re.M)
                    if p.returncode != 0 or not m:
                        raise RuntimeError("switch to %s (%s zone) failed (exit %d):\n%s" %
                                           (to, k, p.returncode,
                                            (p.stdout + p.stderr).strip()[-1500:]))
                    res[k].append({"round": len(res[k]), "total": float(m.group(1)),
                                   "wall": dt})
    except (RuntimeError, OSError, subprocess.TimeoutExpired, redis.RedisError) as e:
        log("  FAILED: %s" % str(e).strip())
        return 1
    finally:
        for srv in servers.values():
            srv.stop()
        for p in reversed(procs):
            stop_proc(p)
        shutil.rmtree(work / "switch", ignore_errors=True)
        for k, _ in zones:
            shutil.rmtree(work / ("switch-" + k), ignore_errors=True)
    log("  %-25s%-24s%-24s" % ("", "service zone alone", "+%d services" % HUGE_SERVICES))
    log("  %-25s%-24s%-24s" % ("switch total (ms)", fmt(med(res["sample"], "total"), "%.1f"),
                               fmt(med(res["huge"], "total"), "%.1f")))
    log("  %-25s%-24s%-24s" % ("command wall time (ms)", fmt(med(res["sample"], "wall"), "%.1f"),
                               fmt(med(res["huge"], "wall"), "%.1f")))
    log("  %d services / service zone alone, switch by switch: total %s, wall time %s "
        "(goal: total at most 1.2)" %
        (HUGE_SERVICES, rstr(ratio({"a": res["huge"], "b": res["sample"]}, "a", "b", "total")),
         rstr(ratio({"a": res["huge"], "b": res["sample"]}, "a", "b", "wall"))))
    log("")
    return 0


def _bindable(host, port):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        t.close()


# ---------------------------------------------------------------- main

def cpu_check():
    """CPU milliseconds of a fixed loop (best of 3): a rough gauge of how
    fast this machine's cores are running now, to compare runs made at
    different times or under different host load."""
    best = None
    for _ in range(3):
        t0 = time.process_time()
        x = 0
        for i in range(1000000):
            x += i
        dt = (time.process_time() - t0) * 1000
        best = dt if best is None else min(best, dt)
    return best


def loadavg():
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def main():
    for tool in ("dnsperf", "nsd", "knotd"):
        if not shutil.which(tool):
            sys.exit("bench: %s is not installed (make deps installs it)" % tool)
    # The bench's own polling (start-up, UPDATE) stays off the server's core.
    if LOAD_CPU:
        os.sched_setaffinity(0, LOAD_CPU)
    work = Path(tempfile.mkdtemp(prefix="redisfo-bench."))
    failures = 0
    try:
        have_redisfo = BINARY.exists()
        if not have_redisfo:
            log("bench: %s not found (make redisfo-dns builds it); NSD and Knot only" % BINARY)
            failures += 1
        Echo.binary = build_echo(work)
        if not Echo.binary:
            log("bench: no C compiler, the loopback floor is left out")

        small_zone = work / "small.zone"
        big_zone = work / "big.zone"
        small_q = work / "small.queries"
        big_q = work / "big.queries"
        small_zone.write_text(zone_text(0))
        big_zone.write_text(zone_text(BIG_SERVICES))
        small_q.write_text(query_lines(1000, 0, 1))
        big_q.write_text(query_lines(20000, BIG_SERVICES, 2))

        entries = []
        if have_redisfo:
            entries.append(("redisfo-dns", Redisfo, small_zone, small_q))
            entries.append(("redisfo-dns metrics", RedisfoMetrics, small_zone, small_q))
        entries += [("NSD", Nsd, small_zone, small_q), ("Knot", Knot, small_zone, small_q)]
        if Echo.binary:
            entries.append(("floor", Echo, small_zone, small_q))
        if have_redisfo:
            entries.append(("redisfo-dns big", Redisfo, big_zone, big_q))
        entries.append(("NSD big", Nsd, big_zone, big_q))

        log("redisfo-dns bench: %d CPUs; servers pinned to CPU %s, dnsperf to CPU %s; "
            "%d rounds of %d s per server; dnsperf %s" %
            (NCPU, ",".join(map(str, sorted(SERVER_CPU or []))) or "any",
             ",".join(map(str, sorted(LOAD_CPU or []))) or "any", ROUNDS, SECONDS,
             " ".join(DNSPERF_OPTS)))
        log("query mix: 70%% A, 10%% AAAA, 5%% SOA, 10%% NXDOMAIN, 5%% NODATA (MX); UDP, no EDNS; "
            "server CPU = utime+stime of all its processes from /proc, %d ticks/s" % CLK_TCK)
        log("sample zone: %d records; big zone: %d services, %d records, queries spread over "
            "all of them" % (len(zone_text(0).splitlines()) - 2, BIG_SERVICES,
                             len(zone_text(BIG_SERVICES).splitlines()) - 2))
        log("each server: one UDP worker, rate limiting off; load average before: %s; "
            "fixed CPU loop: %.0f ms" % (loadavg(), cpu_check()))
        log("")
        res, failed = run_rounds(entries, work)
        failures += len(failed)
        log("")
        log("load average after: %s; fixed CPU loop: %.0f ms" % (loadavg(), cpu_check()))
        log("")
        log("== sample zone: median [min-max] over %d rounds" % ROUNDS)
        cols = [("redisfo-dns", "redisfo-dns"), ("redisfo-dns metrics", "metrics on"),
                ("NSD", server_version(Nsd)),
                ("Knot", server_version(Knot))]
        if Echo.binary:
            cols.append(("floor", "floor (UDP echo)"))
        print_table(res, failed, cols)
        log("  NSD's peak RSS is the sum over its main, transfer and serving processes; the floor")
        log("  is a bare recvmmsg/sendmmsg reflector (no DNS work) measured the same way.")
        log("")
        log("  ratios, round by round, median [min-max]:")
        log("  redisfo-dns/NSD   CPU per query %s (goal <= 0.60), qps %s (goal >= 1.00)" %
            (rstr(ratio(res, "redisfo-dns", "NSD", "us_per_q")),
             rstr(ratio(res, "redisfo-dns", "NSD", "qps"))))
        log("  metrics on/off    CPU per query %s (goal <= 1.03), qps %s" %
            (rstr(ratio(res, "redisfo-dns metrics", "redisfo-dns", "us_per_q")),
             rstr(ratio(res, "redisfo-dns metrics", "redisfo-dns", "qps"))))
        log("  redisfo-dns/Knot  CPU per query %s, qps %s" %
            (rstr(ratio(res, "redisfo-dns", "Knot", "us_per_q")),
             rstr(ratio(res, "redisfo-dns", "Knot", "qps"))))
        if Echo.binary:
            log("  CPU per query above the floor (us): redisfo-dns %s, NSD %s, Knot %s" % tuple(
                fmt(above_floor(res, l), "%.2f") for l in ("redisfo-dns", "NSD", "Knot")))
        log("  redisfo-dns peak RSS %s MB (goal < 8); lost queries %s, NSD %s (goal: no more)" %
            (fmt(med(res.get("redisfo-dns", []), "rss_mb"), "%.1f"),
             fmt(med(res.get("redisfo-dns", []), "lost"), "%.0f"),
             fmt(med(res.get("NSD", []), "lost"), "%.0f")))
        log("")
        log("== %d services: median [min-max] over %d rounds" % (BIG_SERVICES, ROUNDS))
        print_table(res, failed, [("redisfo-dns big", "redisfo-dns"),
                                  ("NSD big", server_version(Nsd))])
        log("")
        log("  CPU per query, %d services / sample zone, round by round: redisfo-dns %s "
            "(goal <= 1.20), NSD %s" %
            (BIG_SERVICES, rstr(ratio(res, "redisfo-dns big", "redisfo-dns", "us_per_q")),
             rstr(ratio(res, "NSD big", "NSD", "us_per_q"))))
        log("  start to first answer with %d services: redisfo-dns %s ms, NSD %s ms" %
            (BIG_SERVICES, fmt(med(res.get("redisfo-dns big", []), "load_ms"), "%.0f"),
             fmt(med(res.get("NSD big", []), "load_ms"), "%.0f")))
        log("")
        failures += start_and_saturation(work, small_zone, small_q, have_redisfo)
        if have_redisfo and "redisfo-dns" not in failed:
            failures += update_section(work, small_zone, small_q, big_zone, big_q)
            failures += switch_section(work)
        else:
            log("== UPDATE and switch figures: n/a (redisfo-dns does not run)")
    finally:
        stop_all()
        if os.environ.get("BENCH_KEEP"):
            log("bench: files kept in %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


def start_and_saturation(work, small_zone, small_q, have_redisfo):
    """The start with HUGE_SERVICES and the saturation runs, printed;
    returns how many servers failed."""
    failures = 0
    huge_zone = work / "huge.zone"
    huge_zone.write_text(zone_text(HUGE_SERVICES))
    huge_entries = ([("redisfo-dns", Redisfo)] if have_redisfo else []) + \
        [("NSD", Nsd), ("Knot", Knot)]
    log("== start with %d services (%d records, the same file for each), %d rounds%s:" %
        (HUGE_SERVICES, len(zone_text(HUGE_SERVICES).splitlines()) - 2, HUGE_ROUNDS,
         "" if HUGE_ROUNDS >= ROUNDS else " (fewer than above: each start is one figure)"))
    hres, hfailed = startup_rounds(huge_entries, work, huge_zone, HUGE_SERVICES)
    failures += len(hfailed)
    huge_zone.unlink()
    log("  %-25s" % "" + "".join("%-22s" % h for h in
                                  [n if n != "NSD" and n != "Knot" else
                                   server_version(Nsd if n == "NSD" else Knot)
                                   for n, _ in huge_entries]))
    for title, key, spec in (("start to 1st answer (ms)", "load_ms", "%.0f"),
                             ("  CPU until then (ms)", "cpu_ms", "%.0f"),
                             ("peak RSS (MB)", "rss_mb", "%.1f"),
                             ("  largest process (MB)", "rss_largest_mb", "%.1f")):
        log("  %-25s" % title + "".join(
            "%-22s" % ("FAILED" if n in hfailed and not hres.get(n) else
                       fmt(med(hres.get(n, []), key), spec)) for n, _ in huge_entries))
    log("  peak RSS is VmHWM read at the first answer, summed over NSD's processes; its "
        "largest one alone is the line below")
    log("  redisfo-dns/NSD, round by round: start %s (goal <= 1.00), CPU until the first "
        "answer %s, peak RSS %s (goal <= 1.00), against NSD's largest process %s" %
        (rstr(ratio(hres, "redisfo-dns", "NSD", "load_ms")),
         rstr(ratio(hres, "redisfo-dns", "NSD", "cpu_ms")),
         rstr(ratio(hres, "redisfo-dns", "NSD", "rss_mb")),
         rstr(ratio_cross(hres, "redisfo-dns", "rss_mb", "NSD", "rss_largest_mb"))))
    log("  redisfo-dns/Knot: start %s, peak RSS %s" %
        (rstr(ratio(hres, "redisfo-dns", "Knot", "load_ms")),
         rstr(ratio(hres, "redisfo-dns", "Knot", "rss_mb"))))
    log("")
    sat_entries = ([("redisfo-dns", Redisfo)] if have_redisfo else []) + [("NSD", Nsd)]
    log("== saturation, sample zone, same mix: dnsperf %s -l %d, %d rounds%s:" %
        (" ".join(SAT_OPTS), SAT_SECONDS, SAT_ROUNDS,
         "" if SAT_ROUNDS >= ROUNDS else " (fewer than above)"))
    sres, sfailed = saturation_rounds(sat_entries, work, small_zone, small_q)
    failures += len(sfailed)
    for n, _ in sat_entries:
        rs = sres.get(n, [])
        log("  %-12s qps %s, lost %s in all (%s per round), dropped at the server's socket %s" %
            (n, fmt(med(rs, "qps"), "%.0f"),
             "n/a" if not rs else "%d of %d sent" % (sum(r["lost"] for r in rs),
                                                      sum(r["sent"] for r in rs)),
             fmt(med(rs, "lost"), "%.0f"),
             "n/a" if not rs or any(r["drops"] is None for r in rs)
             else "%d" % sum(r["drops"] for r in rs)))
    if have_redisfo:
        worse = [r["round"] for r in sres.get("redisfo-dns", [])
                 for o in sres.get("NSD", []) if o["round"] == r["round"] and
                 r["lost"] > o["lost"]]
        log("  rounds where redisfo-dns lost more than NSD: %s (goal: none)" %
            (", ".join(map(str, worse)) or "none"))
    log("")
    return failures


def above_floor(results, label):
    ra = {r["round"]: r["us_per_q"] for r in results.get(label, [])}
    rf = {r["round"]: r["us_per_q"] for r in results.get("floor", [])}
    vals = [ra[k] - rf[k] for k in ra if k in rf]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)


def on_signal(signum, _frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    # Also when started in the background, where SIGINT comes in ignored.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        stop_all()
        log("bench: interrupted; every server it started is stopped")
        sys.exit(130)
