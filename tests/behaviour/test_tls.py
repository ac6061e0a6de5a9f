"""TLS to Redis, and nodes named by host name.

Three redis-servers on TLS ports only (`port 0`, `tls-port`, replicating
over TLS) with certificates made by tlscerts.py: status, check, rejoin and
a switch under write load work over TLS and lose nothing; a wrong CA, an
expired certificate and a name that does not match each fail the
preflight of `switch --dry-run` and `switch` with OpenSSL's reason, and
change nothing; a client certificate is shown when the nodes demand one.
A node's host may be a name: `localhost` is resolved at each probe and the
switch serves what it resolved to; a name that resolves to nothing fails
the preflight with the name (run under `unshare -m` with a private
/etc/hosts and /etc/resolv.conf, so nothing leaves loopback).

The figures (`-k figures`, printed with -s): a planned switch over TLS,
median of 20, total, write pause and lost writes under load.
"""

import re
import subprocess
import time

import pytest

from failover_env import Cluster, median
from servers import wait_until
from tlscerts import Certs
from writeload import WriteLoad


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("certs"))


# A handshake costs more than a TCP connect (and much more under ASan, on
# a busy machine): probes get a second, not the 300 ms of failover_env.
SLOW_PROBES = {"probe_timeout_ms": 1000}


@pytest.fixture
def cluster(tmp_path, procs, certs):
    return Cluster(tmp_path, procs, tls=certs, failover=SLOW_PROBES)


def tls_load(c, certs):
    return WriteLoad(c.rf.port, redis_port=c.port, rate=10000, batch=10,
                     redis_kw={"ssl": True, "ssl_ca_certs": str(certs.ca),
                               "ssl_check_hostname": False})


def set_tls(c, **kw):
    """Change keys of the service's tls group and rewrite the config."""
    svc = c.rf.services[0]
    svc["tls"] = dict(svc["tls"], **kw)
    c.rf.write_conf()


def restart_with_cert(c, name, cert, linked=True):
    node = c.nodes[name]
    node.stop()
    node.set_cert(cert)
    node.start()
    if linked:
        c.wait_links()


def test_tls_status_check_switch_rejoin(cluster, certs):
    c = cluster
    r = c.rf.run("status")
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"r1 .*master", r.stdout), r.stdout
    assert "unreachable" not in r.stdout
    r = c.rf.run("check")
    assert r.returncode == 0, r.stdout + r.stderr

    load = tls_load(c, certs)
    load.start()
    try:
        load.wait_acks(200, timeout=10)
        r = c.switch("-y", "--to", "r2")
        assert r.returncode == 0, r.stdout + r.stderr
        load.wait_acks(200, timeout=10)
    finally:
        load.stop()
    assert c.served() == "r2"
    assert c.roles() == {"r1": "replica of r2", "r2": "master", "r3": "replica of r2"}
    assert load.acked, "the writer never got a write through"
    assert load.missing_on(c.nodes["r2"].client()) == []

    # rejoin over TLS: r3 taken off replication, brought back
    c.nodes["r3"].client().replicaof("no", "one")
    wait_until(lambda: c.role("r3") == "master", what="r3 detached")
    r = c.rf.run("rejoin", "r3")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "r3 is now a replica of r2" in r.stdout
    assert c.role("r3") == "replica of r2"
    assert c.rf.run("check").returncode == 0


def test_tls_off_against_tls_port_fails(cluster):
    """A plain client on a TLS port gets no reply: the probe says so."""
    c = cluster
    set_tls(c, enabled=False)
    r = c.rf.run("status")
    assert r.returncode != 0
    assert re.search(r"r1 \(127\.0\.0\.2:\d+\): (INFO replication|connect): "
                     r"(connection closed by the node|no reply in time|Connection reset by peer)", r.stdout + r.stderr), \
        r.stdout + r.stderr


@pytest.mark.parametrize("fault, reason", [
    # Redis sends its CA with its certificate (OpenSSL builds the chain from
    # tls-ca-cert-file), so with the wrong ca_file that root is seen as
    # such; a certificate from a CA the node does not hold goes alone
    ("wrong_ca", "TLS: certificate verify failed: self-signed certificate in certificate chain"),
    ("foreign", "TLS: certificate verify failed: unable to get local issuer certificate"),
    ("expired", "TLS: certificate verify failed: certificate has expired"),
    ("hostname", "TLS: certificate verify failed: hostname mismatch"),
    ("ip", "TLS: certificate verify failed: IP address mismatch"),
])
def test_tls_bad_certificate_refused(cluster, certs, fault, reason):
    """The target's certificate cannot be trusted: the preflight says why
    and nothing changes, with --dry-run and without."""
    c = cluster
    if fault == "wrong_ca":
        set_tls(c, ca_file=str(certs.wrong_ca))
    elif fault == "foreign":
        # a certificate of another CA, sent alone: r1 refuses it as a replica too
        restart_with_cert(c, "r2", certs.foreign, linked=False)
    elif fault == "expired":
        # it shows the same certificate to r1 as a replica: no link either
        restart_with_cert(c, "r2", certs.expired, linked=False)
    elif fault == "hostname":
        set_tls(c, server_name="redis-test.local")
        restart_with_cert(c, "r2", certs.other)
    else:
        restart_with_cert(c, "r2", certs.other)
    before = c.snapshot()
    for args in (("--dry-run", "--to", "r2"), ("-y", "--to", "r2")):
        r = c.switch(*args)
        assert r.returncode != 0, r.stdout + r.stderr
        assert re.search(r"r2 \(127\.0\.0\.3:\d+\): " + re.escape(reason),
                         r.stdout + r.stderr), r.stdout + r.stderr
        assert c.snapshot() == before
    r = c.rf.run("status")
    assert reason in r.stdout + r.stderr


def test_tls_client_certificate(tmp_path, procs, certs):
    """Nodes that demand a client certificate: refused without one (the
    node's alert named), served with cert_file and key_file."""
    c = Cluster(tmp_path, procs, tls=certs, extra=["tls-auth-clients yes"],
                failover=SLOW_PROBES)
    r = c.rf.run("status")
    assert r.returncode != 0
    assert re.search(r"r1 \(127\.0\.0\.2:\d+\): .*(certificate required|"
                     r"connection closed by the node|reset by peer)", r.stdout + r.stderr), \
        r.stdout + r.stderr
    set_tls(c, cert_file=str(certs.client_cert), key_file=str(certs.client_key))
    r = c.rf.run("status")
    assert r.returncode == 0, r.stdout + r.stderr
    set_tls(c, key_file=str(certs.server_key))
    r = c.rf.run("status")
    assert r.returncode != 0
    assert re.search(r"TLS: key_file \S+server.key: key values mismatch",
                     r.stdout + r.stderr), r.stdout + r.stderr


def test_tls_missing_ca_file(cluster, tmp_path):
    c = cluster
    set_tls(c, ca_file=str(tmp_path / "nope.pem"))
    r = c.switch("--dry-run", "--to", "r2")
    assert r.returncode != 0
    assert "TLS: ca_file %s: No such file or directory" % (tmp_path / "nope.pem") \
        in r.stdout + r.stderr


def test_host_name_resolved_at_probe(tmp_path, procs, certs):
    """r1 is `localhost` (127.0.0.1): its certificate is checked by name
    (and SNI), its record is what the name resolved to, and a switch there
    and back serves it again."""
    c = Cluster(tmp_path, procs, tls=certs, hosts=("127.0.0.1", "127.0.0.3", "127.0.0.4"),
                node_conf={"r1": {"host": "localhost"}}, failover=SLOW_PROBES)
    r = c.rf.run("status", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert '"127.0.0.1"' in r.stdout
    assert c.rf.run("check").returncode == 0
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.record() == ["127.0.0.3"]
    r = c.switch("-y", "--to", "r1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.record() == ["127.0.0.1"]
    assert c.roles() == {"r1": "master", "r2": "replica of localhost:%d" % c.port,
                         "r3": "replica of localhost:%d" % c.port}
    assert c.rf.run("check").returncode == 0
    # the name is checked as a name: a certificate for another name fails
    set_tls(c, server_name="")
    c.nodes["r1"].stop()
    c.nodes["r1"].set_cert(certs.other)
    c.nodes["r1"].start()
    r = c.rf.run("status")
    assert "r1 (localhost:%d): TLS: certificate verify failed: hostname mismatch" % c.port \
        in r.stdout + r.stderr, r.stdout + r.stderr


def run_isolated(c, tmp_path, hosts_text, *args):
    """`redisfo-dns args` in a private mount namespace whose /etc/hosts is
    hosts_text and whose resolver is 127.0.0.1 (one try, one second): a
    name not in the file gets no answer from anywhere but loopback."""
    hosts = tmp_path / "hosts"
    hosts.write_text(hosts_text)
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    script = ('mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf '
              '&& shift 2 && exec "$@"')
    return subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(hosts), str(resolv),
                           str(c.rf.binary), "-c", str(c.rf.conf_path), *args],
                          capture_output=True, text=True, timeout=60, cwd=str(c.rf.dir),
                          input="")


def test_host_name_that_resolves_to_nothing(tmp_path, procs, certs):
    c = Cluster(tmp_path, procs, tls=certs,
                node_conf={"r3": {"host": "redis-gone.test"}}, failover=SLOW_PROBES)
    hosts = "127.0.0.1 localhost\n"
    assert c.rf.run("checkconf").returncode == 0     # offline: syntax only
    before = c.snapshot()
    for args in (("switch", "--dry-run", "--to", "r3"), ("switch", "-y", "--to", "r3")):
        t0 = time.monotonic()
        r = run_isolated(c, tmp_path, hosts, *args)
        assert r.returncode != 0, r.stdout + r.stderr
        assert re.search(r"r3 \(redis-gone\.test:\d+\): connect: cannot resolve "
                         r"redis-gone\.test: ", r.stdout + r.stderr), r.stdout + r.stderr
        assert time.monotonic() - t0 < 20
        assert c.snapshot() == before
    # the same name in the private hosts file: found, and it is r3
    r = run_isolated(c, tmp_path, hosts + "127.0.0.4 redis-gone.test\n", "status")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "cannot resolve" not in r.stdout + r.stderr


def tls_rounds(c, certs, load=None):
    """20 planned switches between r1 and r2: (total, pause, lost) each."""
    rows = []
    cur = "r1"
    for _ in range(20):
        to = "r2" if cur == "r1" else "r1"
        r = c.switch("-y", "--to", to)
        assert r.returncode == 0, r.stdout + r.stderr
        total = float(re.search(r"^total: ([0-9.]+) ms", r.stdout, re.M).group(1))
        pause = float(re.search(r"write pause window: ([0-9.]+) ms", r.stdout).group(1))
        lost = 0
        if load is not None:
            load.wait_acks(500, timeout=10)
            lost = len(load.missing_on(c.nodes[to].client()))
        rows.append((total, pause, lost))
        cur = to
    return rows


def tls_report(what, rows):
    for i, name in ((0, "switch total (timeline)"), (1, "write-pause window")):
        vals = [r[i] for r in rows]
        print("  %-28s %8.2f ms   (min %.2f, max %.2f)"
              % (name, median(vals), min(vals), max(vals)))
    print("  %-28s %8d" % ("lost acknowledged writes", sum(r[2] for r in rows)))


def test_tls_switch_figures(tmp_path, procs, certs):
    """Planned switch over TLS, median of 20, without and with a write
    load over TLS (about 10,000 writes/s asked for)."""
    c = Cluster(tmp_path, procs, tls=certs)
    print("\nplanned switch over TLS, no load (median of 20):")
    tls_report("no load", tls_rounds(c, certs))
    load = tls_load(c, certs).start()
    try:
        load.wait_acks(500, timeout=10)
        rate = load.rate_measured(1.0)
        rows = tls_rounds(c, certs, load)
    finally:
        load.stop()
    print("planned switch over TLS, write load %.0f writes/s (median of 20):" % rate)
    tls_report("load", rows)
    print("  acknowledged writes in total: %d, client reconnects: %d"
          % (len(load.acked), load.errors))
    assert all(r[2] == 0 for r in rows)
