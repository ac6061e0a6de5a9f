"""harness.py - start real redisfo-dns and redis-server processes for tests.

Every behaviour test builds on this module: it finds the binary, picks free
loopback ports, writes a redisfo.conf (libconfig) and optionally a zone file
into a test's temporary folder, starts `redisfo-dns serve` and waits until it
answers, starts throwaway redis-server nodes, and talks DNS to the server
with dnspython or raw sockets.

It must never send traffic anywhere but loopback, never wait with a bare
sleep (every wait is a bounded poll), and never leave a process running:
every start has a stop with a deadline that ends in SIGKILL. Register what
you start with the `procs` fixture (conftest.py) so it is stopped even when
the test fails.

The API (it may grow, not change):
  REPO, BINARY, ASAN_BINARY, free_port(), wait_until(),
  RedisNode(tmpdir, host, port, replicaof, password, extra),
  Redisfo(tmpdir, services, dns, failover, zone_text, binary).
"""

import base64
import errno
import os
import random
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rdataclass
import dns.rdatatype

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("REDISFO_BIN", str(REPO / "redisfo-dns"))).resolve()
ASAN_BINARY = Path(os.environ.get("REDISFO_ASAN_BIN",
                                  str(REPO / "redisfo-dns-asan"))).resolve()
REDIS_SERVER = os.environ.get("REDIS_SERVER", "redis-server")

DEFAULT_ZONE = "svc.test."


# ---------------------------------------------------------------- helpers

def _port_free(host, port):
    """True when port can be bound on host for both UDP and TCP."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    socks = []
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(family, kind)
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


def _ports_outside_ephemeral():
    """The port range to draw test ports from: below the kernel's ephemeral
    range, so no client socket (dig's, a Redis replica's) can ever be given
    the same port by the kernel and end up talking to itself."""
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


PORT_RANGE = _ports_outside_ephemeral()
_port_rng = random.Random()


def free_port(host="127.0.0.1", also=()):
    """A port free for both UDP and TCP on host (and on every host in also),
    outside the kernel's ephemeral range."""
    for _ in range(500):
        port = _port_rng.randint(*PORT_RANGE)
        if _port_free(host, port) and all(_port_free(h, port) for h in also):
            return port
    raise AssertionError("no free port on %s" % host)


def ipv6_loopback_available():
    """True when ::1 can be bound (the machine has IPv6 loopback)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


HAVE_IPV6 = ipv6_loopback_available()


def wait_until(pred, timeout=10.0, interval=0.02, what="condition"):
    """Poll pred until it returns something truthy; return that value.

    Raises AssertionError naming `what` when timeout seconds pass. Exceptions
    raised by pred count as "not yet" and the last one is reported.
    """
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = pred()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - "not yet"
            last_exc = exc
        if time.monotonic() >= deadline:
            msg = "timed out after %.1fs waiting for %s" % (timeout, what)
            if last_exc is not None:
                msg += " (last error: %r)" % (last_exc,)
            raise AssertionError(msg)
        time.sleep(interval)


def _exec_retry(fn, *args, **kw):
    """Run fn (Popen or run) again for a few seconds while the binary is
    being rewritten by a concurrent build (EACCES/ETXTBSY/ENOENT at exec)."""
    deadline = time.monotonic() + 10.0
    while True:
        try:
            return fn(*args, **kw)
        except (PermissionError, FileNotFoundError, OSError) as exc:
            if getattr(exc, "errno", None) not in (errno.EACCES, errno.ETXTBSY, errno.ENOENT) \
                    or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _stop_popen(proc, term_timeout=5.0):
    """SIGCONT, SIGTERM, wait, SIGKILL; returns the exit code."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        proc.send_signal(signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        return proc.wait(timeout=term_timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout=10)


# ------------------------------------------------------------ libconfig out

def _cfg_scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if -2**31 <= value < 2**31:
            return str(value)
        return "%dL" % value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError("cannot write %r to libconfig" % (value,))


def cfg_value(value, indent=0):
    """Render a Python value as libconfig text.

    dict -> group { }, list of scalars -> array [ ], list holding dicts or
    lists -> list ( ), str/int/bool/float -> scalars. Keys whose value is
    None are left out (so an override can remove a default).
    """
    pad = "  " * (indent + 1)
    if isinstance(value, dict):
        lines = ["{"]
        for k, v in value.items():
            if v is None:
                continue
            lines.append("%s%s = %s;" % (pad, k, cfg_value(v, indent + 1)))
        lines.append("  " * indent + "}")
        return "\n".join(lines)
    if isinstance(value, (list, tuple)):
        if any(isinstance(v, (dict, list, tuple)) for v in value):
            inner = (",\n" + pad).join(cfg_value(v, indent + 1) for v in value)
            return "(\n" + pad + inner + "\n" + "  " * indent + ")"
        return "[ " + ", ".join(_cfg_scalar(v) for v in value) + " ]"
    return _cfg_scalar(value)


def cfg_document(groups):
    """A whole libconfig file from {setting: value}."""
    out = []
    for k, v in groups.items():
        if v is None:
            continue
        out.append("%s = %s;\n" % (k, cfg_value(v)))
    return "\n".join(out)


def _unique_dir(tmpdir, stem, marker):
    """tmpdir itself when marker is not there yet, else a fresh subfolder."""
    tmpdir = Path(tmpdir)
    tmpdir.mkdir(parents=True, exist_ok=True)
    if not (tmpdir / marker).exists():
        return tmpdir
    n = 2
    while (tmpdir / ("%s-%d" % (stem, n))).exists():
        n += 1
    d = tmpdir / ("%s-%d" % (stem, n))
    d.mkdir()
    return d


# --------------------------------------------------------------- RedisNode

class RedisNode:
    """A throwaway redis-server with its config file in its own folder."""

    def __init__(self, tmpdir, host="127.0.0.2", port=None, replicaof=None,
                 password=None, extra=()):
        self.host = host
        self.port = port or free_port(host)
        self.password = password
        self.replicaof = replicaof
        self.extra = list(extra)
        self.dir = Path(tmpdir) / ("redis-%s-%d" % (host.replace(":", "_"), self.port))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf_path = self.dir / "redis.conf"
        self.log_path = self.dir / "redis.log"
        self.proc = None
        self._write_conf()

    def _write_conf(self):
        lines = [
            "port %d" % self.port,
            "bind %s" % self.host,
            'dir "%s"' % self.dir,
            'save ""',
            "appendonly no",
            "protected-mode no",
            "daemonize no",
            'logfile ""',
            "enable-debug-command yes",
        ]
        if self.password:
            lines.append('requirepass "%s"' % self.password)
            lines.append('masterauth "%s"' % self.password)
        if self.replicaof:
            if isinstance(self.replicaof, RedisNode):
                rhost, rport = self.replicaof.host, self.replicaof.port
            elif isinstance(self.replicaof, str):
                rhost, rport = self.replicaof.split()
            else:
                rhost, rport = self.replicaof
            lines.append("replicaof %s %s" % (rhost, rport))
        lines.extend(self.extra)
        self.conf_path.write_text("\n".join(lines) + "\n")

    def client(self, **kw):
        import redis
        args = dict(host=self.host, port=self.port, password=self.password,
                    socket_timeout=2, socket_connect_timeout=2,
                    decode_responses=True)
        args.update(kw)
        return redis.Redis(**args)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self, timeout=10.0):
        logf = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen([REDIS_SERVER, str(self.conf_path)],
                                         stdout=logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=str(self.dir))
        finally:
            logf.close()
        c = self.client(socket_timeout=0.5, socket_connect_timeout=0.5)

        def up():
            if self.proc.poll() is not None:
                return "exited"
            return c.ping()
        try:
            wait_until(up, timeout=timeout, what="redis-server %s:%d PING" % (self.host, self.port))
            if self.proc.poll() is not None:
                raise AssertionError("redis-server %s:%d exited with %s"
                                     % (self.host, self.port, self.proc.returncode))
        except AssertionError as exc:
            self.stop()
            raise AssertionError("%s\n--- redis log ---\n%s" % (exc, self.log())) from None
        finally:
            c.close()
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL):
        if self.running():
            self.proc.send_signal(sig)
        if sig == signal.SIGKILL and self.proc is not None:
            self.proc.wait(timeout=10)

    def stop(self, timeout=5.0):
        """SHUTDOWN NOSAVE, then SIGTERM, then SIGKILL; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            return self.proc.returncode
        try:
            self.proc.send_signal(signal.SIGCONT)
        except ProcessLookupError:
            pass
        try:
            c = self.client(socket_timeout=1, socket_connect_timeout=1)
            try:
                c.shutdown(nosave=True)
            finally:
                c.close()
        except Exception:  # noqa: BLE001 - the connection drops on success
            pass
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return _stop_popen(self.proc, term_timeout=timeout)

    def __repr__(self):
        return "RedisNode(%s:%d)" % (self.host, self.port)


# ----------------------------------------------------------------- Redisfo

def default_services():
    return [{
        "name": "redis",
        "nodes": [
            {"name": "r1", "host": "127.0.0.2", "port": 6379},
            {"name": "r2", "host": "127.0.0.3", "port": 6379},
            {"name": "r3", "host": "127.0.0.4", "port": 6379},
        ],
    }]


class Redisfo:
    """A redisfo-dns config (and zone) in tmpdir, and the `serve` process."""

    def __init__(self, tmpdir, services=None, dns=None, failover=None,
                 zone_text=None, binary=None, env=None, workers=1):
        self.dir = _unique_dir(tmpdir, "redisfo", "redisfo.conf")
        self.binary = Path(binary) if binary else BINARY
        self.env = dict(os.environ)
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0")
        self.env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        if env:
            self.env.update(env)
        self.v6 = HAVE_IPV6
        self.start_v6 = False   # start() asks over IPv4 unless listen starts with v6
        self.port = free_port("127.0.0.1", also=("::1",) if self.v6 else ())
        self.key_name = "redisfo-key."
        self.key_algorithm = "hmac-sha256"
        self.key_secret = base64.b64encode(os.urandom(32)).decode()
        dns_cfg = {
            "listen": ["127.0.0.1:%d" % self.port]
                      + (["[::1]:%d" % self.port] if self.v6 else []),
            "zone": DEFAULT_ZONE,
            "zone_file": None,  # filled below
            "ttl": 5,
            "workers": workers,
            "update_key": {"name": self.key_name,
                           "algorithm": self.key_algorithm,
                           "secret": self.key_secret},
        }
        if dns:
            dns_cfg.update(dns)
            if dns.get("listen"):
                # queries go to the first listen address's port; v6 when
                # [::1] is among them
                first = dns["listen"][0]
                if first.rsplit(":", 1)[-1].isdigit() and not first.endswith("]"):
                    self.port = int(first.rsplit(":", 1)[-1])
                self.v6 = any(a.startswith(("[::1]", "[::]")) for a in dns["listen"])
                self.start_v6 = first.startswith("[")
        self.zone = dns_cfg["zone"]
        if not self.zone.endswith("."):
            self.zone += "."
        if dns_cfg.get("zone_file") is None:
            dns_cfg["zone_file"] = str(self.dir / (self.zone.rstrip(".") + ".zone"))
        zf = Path(dns_cfg["zone_file"])
        self.zone_path = zf if zf.is_absolute() else self.dir / zf
        fo_cfg = {
            "lock_file": str(self.dir / "redisfo.lock"),
            "audit_log": str(self.dir / "redisfo-audit.log"),
        }
        if failover:
            fo_cfg.update(failover)
        self.services = default_services() if services is None else services
        self.dns_cfg = dns_cfg
        self.failover_cfg = fo_cfg
        self.conf_path = self.dir / "redisfo.conf"
        self.log_path = self.dir / "redisfo.log"
        self.proc = None
        self.write_conf()
        if zone_text is not None:
            self.write_zone(zone_text)

    # -- files

    def conf_text(self):
        return cfg_document({"dns": self.dns_cfg, "failover": self.failover_cfg,
                             "services": self.services})

    def write_conf(self, text=None):
        """Write the config (the generated one, or text as given)."""
        self.conf_path.write_text(self.conf_text() if text is None else text)

    def write_zone(self, text):
        """Write the zone file atomically (a reload sees all or nothing)."""
        tmp = self.zone_path.with_name(self.zone_path.name + ".tmp-test")
        tmp.write_text(text)
        os.replace(tmp, self.zone_path)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- process

    def start(self, *opts, cmd=("serve",), timeout=10.0):
        """Run `serve` (global options opts go before it) and wait for SOA."""
        logf = open(self.log_path, "ab")
        try:
            self.proc = _exec_retry(
                subprocess.Popen,
                [str(self.binary), "-c", str(self.conf_path), *opts, *cmd],
                stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=str(self.dir), env=self.env)
        finally:
            logf.close()

        def answers():
            if self.proc.poll() is not None:
                return "exited"
            try:
                self.query(self.zone, "SOA", timeout=0.2, v6=self.start_v6)
                return True
            except (dns.exception.Timeout, OSError):
                return False
        try:
            wait_until(answers, timeout=timeout, interval=0.05,
                       what="redisfo-dns to answer SOA on port %d" % self.port)
        except AssertionError as exc:
            self.stop()
            raise AssertionError("%s\n--- server log ---\n%s" % (exc, self.log())) from None
        if self.proc.poll() is not None:
            raise AssertionError("redisfo-dns exited with %s before answering:\n%s"
                                 % (self.proc.returncode, self.log()))
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=5.0):
        """SIGTERM, wait up to timeout, then SIGKILL; returns the exit code."""
        if self.proc is None:
            return None
        return _stop_popen(self.proc, term_timeout=timeout)

    def run(self, *args, check=False, timeout=60, input=None):
        """`BINARY -c conf args...` to completion (text mode, output captured)."""
        return _exec_retry(subprocess.run,
                           [str(self.binary), "-c", str(self.conf_path), *args],
                           capture_output=True, text=True, timeout=timeout,
                           check=check, cwd=str(self.dir), env=self.env, input=input)

    # -- DNS

    def addr(self, v6=False):
        return "::1" if v6 else "127.0.0.1"

    def make_query(self, name, rdtype, want_dnssec=False, use_edns=None,
                   payload=None, rdclass="IN", **kw):
        if isinstance(rdtype, str):
            rdtype = dns.rdatatype.from_text(rdtype)
        if isinstance(rdclass, str):
            rdclass = dns.rdataclass.from_text(rdclass)
        if payload is not None and use_edns is None:
            use_edns = 0
        return dns.message.make_query(name, rdtype, rdclass=rdclass,
                                      use_edns=use_edns, want_dnssec=want_dnssec,
                                      payload=payload, **kw)

    def send(self, msg, tcp=False, v6=False, timeout=2):
        """Send a dns.message.Message, return the reply Message."""
        if tcp:
            return dns.query.tcp(msg, self.addr(v6), port=self.port, timeout=timeout)
        return dns.query.udp(msg, self.addr(v6), port=self.port, timeout=timeout)

    def query(self, name, rdtype, tcp=False, v6=False, want_dnssec=False,
              use_edns=None, payload=None, timeout=2, **kw):
        """Ask name/rdtype; returns the reply as a dns.message.Message."""
        msg = self.make_query(name, rdtype, want_dnssec=want_dnssec,
                              use_edns=use_edns, payload=payload, **kw)
        return self.send(msg, tcp=tcp, v6=v6, timeout=timeout)

    def raw(self, wire, tcp=False, v6=False, timeout=0.5):
        """Send raw bytes; return the raw reply bytes, or None on timeout.

        Over TCP the 2-byte length prefix is added here and stripped from
        the reply; a connection closed without a reply also gives None.
        """
        family = socket.AF_INET6 if v6 else socket.AF_INET
        addr = (self.addr(v6), self.port)
        if not tcp:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.settimeout(timeout)
                s.connect(addr)
                s.send(wire)
                try:
                    return s.recv(65535)
                except (socket.timeout, ConnectionRefusedError):
                    return None
        with socket.create_connection(addr, timeout=timeout) as s:
            s.sendall(struct.pack("!H", len(wire)) + wire)
            try:
                head = recv_exact(s, 2)
                if head is None:
                    return None
                return recv_exact(s, struct.unpack("!H", head)[0])
            except (socket.timeout, ConnectionResetError):
                return None


def recv_exact(sock, n):
    """Read exactly n bytes from a stream socket; None if it closes first."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf



# ------------------------------------------------------- test zone contents

def _txt_rrset(owner, count, size):
    """count TXT records at owner, each one distinct string of size bytes."""
    lines = []
    for i in range(count):
        body = ("%02d-" % i) + "x" * (size - 3)
        lines.append('%s 300 IN TXT "%s"' % (owner, body))
    return "\n".join(lines)


# A zone with the records the answer tests need: SOA TTL 3600 with
# MINIMUM 60 (negative TTL 60), CNAME chains in and out of the zone, an
# empty non-terminal (ent, a.ent), TXT RRsets below and above 512 and 1232
# bytes, and a CNAME loop that must not hang the server.
TEST_ZONE = """$ORIGIN svc.test.
$TTL 300
@        3600 IN SOA ns1.svc.test. hostmaster.svc.test. 2024010101 3600 600 86400 60
@        3600 IN NS  ns1.svc.test.
ns1           IN A   127.0.0.1
redis       5 IN A   127.0.0.2
redis       5 IN AAAA fd00::2
_redisfo.redis 5 IN TXT "primary=r1 epoch=1 at=2024-01-01T00:00:00Z"
multi         IN A   192.0.2.1
multi         IN A   192.0.2.2
multi         IN A   192.0.2.3
v6only        IN AAAA 2001:db8::1
mxhost        IN MX  10 redis.svc.test.
alias         IN CNAME redis.svc.test.
chain         IN CNAME alias.svc.test.
outside       IN CNAME www.example.org.
dangling      IN CNAME missing.svc.test.
loop1         IN CNAME loop2.svc.test.
loop2         IN CNAME loop1.svc.test.
deep.a.ent    IN A   192.0.2.9
MiXeD         IN A   192.0.2.5
esc\\.dot      IN A   192.0.2.6
unk           IN TYPE65000 \\# 4 0a0b0c0d
empty         IN TXT ""
dup           IN A   192.0.2.7
dup           IN A   192.0.2.7
ttls       60 IN A   192.0.2.10
ttls      120 IN A   192.0.2.11
""" + _txt_rrset("medium", 4, 200) + "\n" + _txt_rrset("big", 16, 200) + "\n" \
    + _txt_rrset("huge", 60, 250) + "\n"

TEST_ZONE_SOA_TTL = 3600
TEST_ZONE_SOA_MINIMUM = 60

# The other way round: SOA TTL 30 below MINIMUM 600, negative TTL 30.
TEST_ZONE_LOW_SOA_TTL = """$ORIGIN svc.test.
$TTL 300
@        30 IN SOA ns1.svc.test. hostmaster.svc.test. 7 3600 600 86400 600
@        30 IN NS  ns1.svc.test.
ns1         IN A   127.0.0.1
redis     5 IN A   127.0.0.2
"""


# ------------------------------------------------------ real DNS clients

import re  # noqa: E402


class ToolReply:
    """What dig, kdig or drill printed, parsed into the fields tests need.

    rcode (text, extended rcodes included when the tool shows them), id,
    flags (set of lower-case flag names), counts {QUERY, ANSWER, ...},
    answer/authority/additional as lists of (name, ttl, class, type, rdata)
    with names lower-cased, edns None or {version, udp, flags}, and text.
    """

    def __init__(self, tool, text):
        self.tool = tool
        self.text = text
        self.rcode = None
        self.id = None
        self.flags = set()
        self.counts = {}
        self.edns = None
        self.answer, self.authority, self.additional = [], [], []
        self._parse()

    def _parse(self):
        t = self.text
        m = re.search(r"->>HEADER<<- opcode: (\w+)[,;] (?:status|rcode): ([A-Z0-9]+)[,;] id: (\d+)", t)
        if m:
            self.opcode, self.rcode, self.id = m.group(1), m.group(2), int(m.group(3))
        m = re.search(r"^;; [Ff]lags: ?([a-z ]*?)\s*;", t, re.M)
        if m:
            self.flags = set(m.group(1).split())
        for k in ("QUERY", "ANSWER", "AUTHORITY", "ADDITIONAL"):
            m = re.search(r"\b%s: (\d+)" % k, t)
            if m:
                self.counts[k] = int(m.group(1))
        m = (re.search(r"EDNS: version: (\d+), flags:([a-z ]*); udp: (\d+)", t)          # dig
             or re.search(r"Version: (\d+); flags: ?([a-z ]*); UDP size: (\d+) B", t)    # kdig
             or re.search(r"EDNS: version (\d+); flags: ?([a-z ]*); udp: (\d+)", t))     # drill
        if m:
            self.edns = {"version": int(m.group(1)), "flags": set(m.group(2).split()),
                         "udp": int(m.group(3))}
        section = None
        for line in t.splitlines():
            m = re.match(r"^;; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:", line)
            if m:
                section = getattr(self, m.group(1).lower())
                continue
            if not line.strip() or line.startswith(";"):
                if not line.strip():
                    section = None
                continue
            if section is None:
                continue
            parts = line.split(None, 4)
            if len(parts) >= 4 and parts[1].isdigit():
                rdata = parts[4] if len(parts) > 4 else ""
                if parts[3] in ("OPT",):
                    continue
                section.append((parts[0].lower(), int(parts[1]), parts[2].upper(),
                                parts[3].upper(), rdata))

    def rrs(self, section="answer", rdtype=None):
        rows = getattr(self, section)
        return [r for r in rows if rdtype is None or r[3] == rdtype.upper()]

    def __repr__(self):
        return "<%s reply %s flags=%s>\n%s" % (self.tool, self.rcode, sorted(self.flags), self.text)


DNS_TOOLS = ("dig", "kdig", "drill")


def tool_query(tool, port, name, rdtype="A", tcp=False, v6=False, edns=None,
               dnssec=False, extra=(), timeout=3, rdclass=None):
    """Ask name/rdtype with dig, kdig or drill at port on ::1/127.0.0.1.

    edns: None leaves the tool's default, False turns EDNS off, an int asks
    for that EDNS buffer size. Returns a ToolReply.
    """
    server = "::1" if v6 else "127.0.0.1"
    if tool in ("dig", "kdig"):
        # The two share their syntax but for retries and TCP.
        cmd = [tool, "@" + server, "-p", str(port), name, rdtype]
        if tool == "dig":
            cmd += ["+tries=1", "+time=2", "+nocookie", "+tcp" if tcp else "+notcp"]
        else:
            cmd += ["+retry=0", "+timeout=2"] + (["+tcp"] if tcp else [])
        if rdclass:
            cmd += ["-c", rdclass]
        if edns is False:
            cmd.append("+noedns")
        elif edns is not None:
            cmd += ["+edns=0", "+bufsize=%d" % edns]
        if dnssec:
            cmd.append("+dnssec")
    elif tool == "drill":
        cmd = ["drill", "-p", str(port), "-6" if v6 else "-4"]
        if tcp:
            cmd.append("-t")
        if edns not in (None, False):
            cmd += ["-b", str(edns)]
        if dnssec:
            cmd.append("-D")
        cmd += [name, rdtype]
        if rdclass:
            cmd.append(rdclass)
        cmd.append("@" + server)
    else:
        raise ValueError(tool)
    cmd += list(extra)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 5)
    reply = ToolReply(tool, res.stdout + res.stderr)
    reply.cmd = cmd
    reply.returncode = res.returncode
    return reply


def transports(v6=True):
    """pytest params (tcp, v6) for UDP/TCP over IPv4 and, when the machine
    has it, IPv6; ids udp4, tcp4, udp6, tcp6."""
    import pytest
    out = [pytest.param(False, False, id="udp4"), pytest.param(True, False, id="tcp4")]
    if v6:
        mark = pytest.mark.skipif(not HAVE_IPV6, reason="no IPv6 loopback")
        out += [pytest.param(False, True, id="udp6", marks=mark),
                pytest.param(True, True, id="tcp6", marks=mark)]
    return out
