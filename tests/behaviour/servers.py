"""servers.py - start and stop the real processes behaviour tests run against.

Every behaviour test builds on this module: it finds the binary, picks free
loopback ports, starts `redisfo-dns serve` on a config written into a
test's temporary folder and waits until it answers, starts throwaway
redis-server nodes, NSD, Knot or BIND as a secondary of the server, and
Knot, BIND or PowerDNS as an external primary. The files they read come from confgen.py; the queries
the server objects answer come from dnstools.DnsClient.

It must never send traffic anywhere but loopback, never wait with a bare
sleep (every wait is a bounded poll), and never leave a process running:
every start has a stop with a deadline that ends in SIGKILL. Register what
you start with the `procs` fixture (conftest.py) so it is stopped even when
the test fails.

The API (it may grow, not change):
  REPO, BINARY, ASAN_BINARY, free_port(), wait_until(), stop_popen(),
  RedisNode(tmpdir, host, port, replicaof, password, extra), BareRedis,
  TlsRedisNode(..., certs, cert, auth_clients),
  Redisfo(tmpdir, services, dns, failover, zone_text, binary),
  NsdSecondary, KnotSecondary, BindSecondary, KnotPrimary, BindPrimary,
  PdnsPrimary, have_knotd(), have_named(), have_pdns().
"""

import base64
import errno
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import dns.exception
import dns.tsig
import dns.update

import confgen
from dnstools import HAVE_IPV6, DnsClient

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("REDISFO_BIN", str(REPO / "redisfo-dns"))).resolve()
ASAN_BINARY = Path(os.environ.get("REDISFO_ASAN_BIN",
                                  str(REPO / "redisfo-dns-asan"))).resolve()
REDIS_SERVER = os.environ.get("REDIS_SERVER", "redis-server")


# ------------------------------------------------------------------ ports

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


# -------------------------------------------------------- waits and stops

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


def stop_popen(proc, term_timeout=5.0):
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


def _read_log(path):
    try:
        return Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return ""


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
        master = None
        if self.replicaof:
            if isinstance(self.replicaof, RedisNode):
                master = (self.replicaof.host, self.replicaof.port)
            elif isinstance(self.replicaof, str):
                master = tuple(self.replicaof.split())
            else:
                master = tuple(self.replicaof)
        self.conf_path.write_text(confgen.redis_conf(
            self.host, self.port, self.dir, password=self.password,
            replicaof=master, extra=self.extra))

    def client(self, **kw):
        import redis
        args = dict(host=self.host, port=self.port, password=self.password,
                    socket_timeout=2, socket_connect_timeout=2,
                    decode_responses=True)
        args.update(kw)
        return redis.Redis(**args)

    def log(self):
        return _read_log(self.log_path)

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
            return stop_popen(self.proc, term_timeout=timeout)

    def __repr__(self):
        return "RedisNode(%s:%d)" % (self.host, self.port)


class TlsRedisNode(RedisNode):
    """A redis-server on a TLS port only (`port 0`, `tls-port`), replicating
    over TLS, with certs (tlscerts.Certs): cert is the server certificate
    it shows (certs.server_cert unless given), auth_clients its
    tls-auth-clients ("optional", or "yes" to demand a client certificate).
    client() speaks TLS with the client certificate, trusting any server."""

    def __init__(self, tmpdir, host="127.0.0.2", port=None, replicaof=None,
                 password=None, extra=(), certs=None, cert=None, auth_clients="optional"):
        self.certs = certs
        self.cert = Path(cert or certs.server_cert)
        self.auth_clients = auth_clients
        super().__init__(tmpdir, host=host, port=port, replicaof=replicaof,
                         password=password, extra=extra)

    def _write_conf(self):
        c = self.certs
        tls = ["port 0", "tls-port %d" % self.port,
               'tls-cert-file "%s"' % self.cert, 'tls-key-file "%s"' % c.server_key,
               'tls-ca-cert-file "%s"' % c.ca, "tls-auth-clients %s" % self.auth_clients,
               "tls-replication yes"]
        saved = self.extra
        self.extra = tls + list(saved)
        try:
            super()._write_conf()
        finally:
            self.extra = saved

    def set_cert(self, cert):
        """Show another certificate from the next start on."""
        self.cert = Path(cert)
        self._write_conf()

    def client(self, **kw):
        # no verification here: tests show a node expired or foreign certificates
        args = dict(ssl=True, ssl_cert_reqs="none", ssl_check_hostname=False, ssl_certfile=str(self.certs.client_cert),
                    ssl_keyfile=str(self.certs.client_key))
        args.update(kw)
        return super().client(**args)

    def __repr__(self):
        return "TlsRedisNode(%s:%d)" % (self.host, self.port)


class BareRedis(RedisNode):
    """A redis-server started with arguments only: no config file, so
    CONFIG REWRITE fails ("The server is running without a config file")."""

    def start(self, timeout=10.0):
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", self.host,
                "--dir", str(self.dir), "--save", "", "--appendonly", "no",
                "--protected-mode", "no", "--repl-diskless-sync-delay", "0"]
        if self.replicaof is not None:
            args += ["--replicaof", self.replicaof.host, str(self.replicaof.port)]
        logf = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=str(self.dir))
        finally:
            logf.close()
        c = self.client(socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            wait_until(c.ping, timeout=timeout, what="bare redis-server %s" % self.host)
        finally:
            c.close()
        return self


# ----------------------------------------------------------------- Redisfo

class Redisfo(DnsClient):
    """A redisfo-dns config (and zone) in tmpdir, and the `serve` process."""

    def __init__(self, tmpdir, services=None, dns=None, failover=None,
                 zone_text=None, binary=None, env=None, workers=1):
        self.dir = _unique_dir(tmpdir, "redisfo", "redisfo.conf")
        self.binary = Path(binary) if binary else BINARY
        self.env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0")
        self.env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        if env:
            self.env.update(env)
        self.v6 = HAVE_IPV6
        self.host = "127.0.0.1"  # IPv4 queries go to the first listen address, if not a wildcard
        self.start_v6 = False   # start() asks over IPv4 unless listen starts with v6
        self.port = free_port("127.0.0.1", also=("::1",) if self.v6 else ())
        self.key_name = "redisfo-key."
        self.key_algorithm = "hmac-sha256"
        self.key_secret = base64.b64encode(os.urandom(32)).decode()
        dns_cfg = {
            "listen": ["127.0.0.1:%d" % self.port]
                      + (["[::1]:%d" % self.port] if self.v6 else []),
            "zone": confgen.DEFAULT_ZONE,
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
                if not first.startswith(("[", "0.0.0.0")):
                    self.host = first.rsplit(":", 1)[0]
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
        self.services = confgen.default_services() if services is None else services
        self.dns_cfg = dns_cfg
        self.failover_cfg = fo_cfg
        self.conf_path = self.dir / "redisfo.conf"
        self.log_path = self.dir / "redisfo.log"
        self.proc = None
        self.write_conf()
        if zone_text is not None:
            self.write_zone(zone_text)

    def addr(self, v6=False):
        return "::1" if v6 else self.host

    # -- files

    def conf_text(self):
        return confgen.cfg_document({"dns": self.dns_cfg, "failover": self.failover_cfg,
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
        return _read_log(self.log_path)

    def zone_file_text(self, needle, timeout=5.0):
        """The zone file once it holds needle: the server writes it from its
        journal about a second after the last change (or fails the test)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                text = self.zone_path.read_text()
            except FileNotFoundError:
                text = ""
            if needle in text or time.monotonic() > deadline:
                assert needle in text, "%s not in the zone file after %.0f s" % (needle, timeout)
                return text
            time.sleep(0.05)

    # -- the update key

    def tsig_key(self, name=None, secret=None):
        """The dns.tsig.Key of dns.update_key (or one with another name or
        secret, for the refusals)."""
        return dns.tsig.Key(name or self.key_name, secret or self.key_secret,
                            self.key_algorithm)

    def update_message(self, zone=None):
        """An empty UPDATE of the zone, signed with the update key."""
        return dns.update.UpdateMessage(zone or self.zone, keyring=self.tsig_key())

    def tsig_arg(self, name=None, secret=None):
        """The update key as `-y algorithm:name:secret` for dig, kdig and
        nsupdate."""
        return "%s:%s:%s" % (self.key_algorithm, name or self.key_name,
                             secret or self.key_secret)

    # -- process

    def start(self, *opts, cmd=("serve",), timeout=10.0, query_timeout=0.2, interval=0.05):
        """Run `serve` (global options opts go before it) and wait for SOA,
        asking every interval seconds and waiting query_timeout for each
        answer (a query sent before the server listens is lost: tests that
        restart it hundreds of times ask more often)."""
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
                self.query(self.zone, "SOA", timeout=query_timeout, v6=self.start_v6)
                return True
            except (dns.exception.Timeout, OSError):
                return False
        try:
            wait_until(answers, timeout=timeout, interval=interval,
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
        return stop_popen(self.proc, term_timeout=timeout)

    def run(self, *args, check=False, timeout=60, input=None):
        """`BINARY -c conf args...` to completion (text mode, output captured)."""
        return _exec_retry(subprocess.run,
                           [str(self.binary), "-c", str(self.conf_path), *args],
                           capture_output=True, text=True, timeout=timeout,
                           check=check, cwd=str(self.dir), env=self.env, input=input)


# ------------------------------------------------------ NSD and Knot

class NsdSecondary(DnsClient):
    """nsd as a secondary of the server, on its own port, config in tmpdir."""

    name = "nsd"            # its folder, and its .conf and .log in there
    confgen = staticmethod(confgen.nsd_secondary_conf)
    output = None           # file name its stdout and stderr go to; None: its own log

    def __init__(self, tmpdir):
        self.dir = tmpdir / self.name
        self.dir.mkdir()
        self.port = free_port("127.0.0.1")
        self.proc = None
        self.primary = "127.0.0.1"

    def conf_text(self, primary_port):
        return self.confgen(self.dir, self.port, primary_port, primary=self.primary)

    def argv(self):
        return ["nsd", "-d", "-c", str(self.dir / "nsd.conf")]

    def configure(self, primary_port, primary="127.0.0.1"):
        """Write the config: the zone from primary:primary_port (the address
        NOTIFY must come from)."""
        self.primary = primary
        (self.dir / (self.name + ".conf")).write_text(self.conf_text(primary_port))

    def start(self):
        out = subprocess.DEVNULL
        if self.output:
            out = open(self.dir / self.output, "ab")
        try:
            self.proc = _exec_retry(subprocess.Popen, self.argv(), stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        finally:
            if self.output:
                out.close()
        return self

    def log(self):
        return _read_log(self.dir / (self.name + ".log"))

    def a(self):
        """The addresses redis.svc.test. A has there now, as text, sorted."""
        r = self.query("redis.svc.test.", "A", timeout=0.3)
        return sorted(rd.to_text() for rrset in r.answer for rd in rrset)

    def stop(self):
        if self.proc is not None:
            stop_popen(self.proc)


class KnotSecondary(NsdSecondary):
    """knotd as the secondary (same interface as NsdSecondary)."""

    name = "knot"
    confgen = staticmethod(confgen.knot_secondary_conf)

    def argv(self):
        return ["knotd", "-c", str(self.dir / "knot.conf")]


class BindSecondary(NsdSecondary):
    """named (BIND 9) as the secondary, in the foreground, logging to
    named/named.log (same interface as NsdSecondary). BIND listens only on
    addresses assigned to an interface: 127.0.0.1."""

    name = "named"
    confgen = staticmethod(confgen.bind_secondary_conf)
    output = "named.log"

    def argv(self):
        return [_named(), "-g", "-4", "-c", str(self.dir / "named.conf")]


class KnotPrimary(DnsClient):
    """knotd as an external primary for svc.test. with dynamic updates
    allowed by the given TSIG key, on 127.0.0.1 and a random port."""

    def __init__(self, tmpdir, key_name, key_algorithm, key_secret, zone_body):
        self.dir = Path(tmpdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port("127.0.0.1")
        (self.dir / "svc.test.zone").write_text(zone_body)
        (self.dir / "knot.conf").write_text(confgen.knot_primary_conf(
            self.dir, self.port, key_name, key_algorithm, key_secret))
        self.proc = None

    def start(self):
        knotd = shutil.which("knotd") or "/usr/sbin/knotd"
        self.log = open(self.dir / "knot.log", "wb")
        self.proc = subprocess.Popen([knotd, "-c", str(self.dir / "knot.conf")],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

        def answers():
            if self.proc.poll() is not None:
                raise AssertionError("knotd exited:\n" + self.logtext())
            r = self.query("svc.test.", "SOA", timeout=0.3)
            return len(r.answer) == 1
        wait_until(answers, timeout=15, what="knotd answering SOA")
        return self

    def logtext(self):
        return _read_log(self.dir / "knot.log")

    def stop(self):
        if self.proc is not None:
            stop_popen(self.proc)
            self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None


def have_knotd():
    return shutil.which("knotd") is not None or os.path.exists("/usr/sbin/knotd")


# ------------------------------------------------------- BIND and PowerDNS

def _named():
    return shutil.which("named") or "/usr/sbin/named"


def have_named():
    return os.path.exists(_named())


def _pdns(tool):
    return shutil.which(tool) or "/usr/%s/%s" % ("sbin" if tool == "pdns_server" else "bin",
                                                   tool)


def have_pdns():
    return (os.path.exists(_pdns("pdns_server")) and os.path.exists(_pdns("pdnsutil"))
            and os.path.exists(PDNS_SQLITE_SCHEMA))


PDNS_SQLITE_SCHEMA = "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql"


class _ExternalPrimary(DnsClient):
    """An external primary for svc.test. on 127.0.0.1 and a random port,
    taking UPDATEs signed with the given TSIG key; its output goes to
    <dir>/<name>.log. Subclasses write their files and say how to run."""

    name = None

    def __init__(self, tmpdir, key_name, key_algorithm, key_secret, zone_body):
        self.dir = Path(tmpdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port("127.0.0.1")
        self.key = (key_name, key_algorithm, key_secret)
        (self.dir / "svc.test.zone").write_text(zone_body)
        self.proc = None

    def argv(self):
        raise NotImplementedError

    def start(self):
        with open(self.dir / (self.name + ".log"), "ab") as out:
            self.proc = _exec_retry(subprocess.Popen, self.argv(), stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=str(self.dir))

        def answers():
            if self.proc.poll() is not None:
                raise AssertionError("%s exited:\n%s" % (self.name, self.logtext()))
            try:
                r = self.query("svc.test.", "SOA", timeout=0.3)
            except (dns.exception.Timeout, OSError):
                return False
            return len(r.answer) == 1
        try:
            wait_until(answers, timeout=20, what="%s answering SOA" % self.name)
        except AssertionError:
            self.stop()
            raise
        return self

    def logtext(self):
        return _read_log(self.dir / (self.name + ".log"))

    def stop(self):
        if self.proc is not None:
            stop_popen(self.proc)
            self.proc = None


class BindPrimary(_ExternalPrimary):
    """named (BIND 9) as an external primary, update-policy granting the key."""

    name = "named"

    def __init__(self, *args):
        super().__init__(*args)
        (self.dir / "named.conf").write_text(
            confgen.bind_primary_conf(self.dir, self.port, *self.key))

    def argv(self):
        return [_named(), "-g", "-4", "-c", str(self.dir / "named.conf")]


class PdnsPrimary(_ExternalPrimary):
    """pdns_server (gsqlite3 backend, dnsupdate=yes) as an external primary:
    the zone loaded and the key allowed with pdnsutil before it starts."""

    name = "pdns"

    def __init__(self, *args):
        super().__init__(*args)
        (self.dir / "pdns.conf").write_text(confgen.pdns_test_conf(self.dir, self.port))
        with open(PDNS_SQLITE_SCHEMA) as schema:
            subprocess.run(["sqlite3", str(self.dir / "pdns.sqlite3")], stdin=schema,
                           check=True, capture_output=True, timeout=30)
        for argv in confgen.pdns_primary_commands("svc.test.",
                                                  str(self.dir / "svc.test.zone"),
                                                  *self.key):
            r = subprocess.run([_pdns("pdnsutil"), "--config-dir=%s" % self.dir] + argv[1:],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, "%s: %s%s" % (argv, r.stdout, r.stderr)

    def argv(self):
        return [_pdns("pdns_server"), "--config-dir=%s" % self.dir]
