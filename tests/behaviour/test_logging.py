"""Where the log goes and how much, and where the config is found.

serve's stderr lines start with their syslog priority (<3> error, <4>
warning, <6> info, <7> debug) when stderr is not a terminal, and carry
none on a terminal; log.level sets how many there are, and -v / -q move
from it; log.target = "syslog" sends them to /dev/log, observed here in a
private mount namespace where /dev/log is a socket of the test's own.
Without -c the config is $REDISFO_CONF, else ./redisfo.conf, else the
one under the SYSCONFDIR the binary was built with; when it cannot be
read, the message names the file and the steps passed over.
"""

import os
import re
import select
import shutil
import signal
import socket
import subprocess

import pytest

import confgen
from servers import BINARY, Redisfo, wait_until

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z redisfo-dns\[\d+\] "
LINE = re.compile(r"^<(\d)>" + STAMP + r"(error|warning|info|debug|fatal): ")
PRIORITY = {"error": "3", "fatal": "3", "warning": "4", "info": "6", "debug": "7"}


class LoggingRedisfo(Redisfo):
    """A Redisfo whose config also has a log = { ... } group."""

    def __init__(self, tmpdir, log_cfg=None, **kw):
        self.log_cfg = log_cfg      # before Redisfo writes the config
        super().__init__(tmpdir, **kw)

    def conf_text(self):
        text = super().conf_text()
        if self.log_cfg is not None:
            text += "\n" + confgen.cfg_document({"log": self.log_cfg})
        return text


def log_lines(srv):
    return [line for line in srv.log().splitlines() if line.strip()]


def levels(srv):
    """The level word of each line, after checking that its priority is
    the one of that level."""
    out = []
    for line in log_lines(srv):
        m = LINE.match(line)
        assert m, "line without a priority or in another shape: %r" % line
        assert m.group(1) == PRIORITY[m.group(2)], line
        out.append(m.group(2))
    return out


def refused_axfr(srv):
    """An AXFR from a peer not in dns.allow_transfer: refused, and logged at
    debug level only. Returns once the answer is in, and so the line."""
    srv.query(srv.zone, "AXFR", tcp=True)


def reload_with_more_workers(srv):
    """A SIGHUP with a changed dns.workers: logs "reloading" (info) and
    that the change takes a restart (warning)."""
    before = len(srv.log())
    srv.dns_cfg["workers"] = srv.dns_cfg["workers"] + 1
    srv.write_conf()
    srv.signal(signal.SIGHUP)
    wait_until(lambda: "take a restart" in srv.log()[before:], timeout=10,
               what="the warning of a reload with changed workers")


# ------------------------------------------------------ priorities

def test_stderr_lines_carry_their_priority_when_not_a_terminal(tmp_path, procs):
    srv = procs.add(LoggingRedisfo(tmp_path))
    srv.start()
    reload_with_more_workers(srv)
    assert srv.stop() == 0
    seen = levels(srv)
    assert "info" in seen and "warning" in seen, srv.log()
    assert any(line.startswith("<4>") and "take a restart" in line for line in log_lines(srv))
    assert any(line.startswith("<6>") and "stopped" in line for line in log_lines(srv))


def test_errors_carry_priority_3(tmp_path, procs):
    srv = procs.add(LoggingRedisfo(tmp_path))
    srv.start()
    before = len(srv.log())
    srv.write_conf("dns = { zone = 7; };\n")
    srv.signal(signal.SIGHUP)
    wait_until(lambda: "reload refused" in srv.log()[before:], timeout=10,
               what="the refused reload")
    refused = [line for line in log_lines(srv) if "reload refused" in line]
    assert refused and refused[0].startswith("<3>"), srv.log()
    assert srv.stop() == 0


def test_no_priority_on_a_terminal(tmp_path, procs):
    srv = LoggingRedisfo(tmp_path)
    master, slave = os.openpty()
    try:
        proc = procs.add(subprocess.Popen(
            [str(srv.binary), "-c", str(srv.conf_path), "serve"], stdin=subprocess.DEVNULL,
            stdout=slave, stderr=slave, cwd=str(srv.dir), env=srv.env))
    finally:
        os.close(slave)
    out = b""
    try:
        def listening():
            nonlocal out
            while select.select([master], [], [], 0.05)[0]:
                try:
                    chunk = os.read(master, 4096)
                except OSError:     # EIO: the other end is closed
                    return "exited"
                if not chunk:
                    return "exited"
                out += chunk
            return b"udp workers" in out or proc.poll() is not None
        wait_until(listening, timeout=10, what="serve to log on its terminal")
    finally:
        os.close(master)
    assert proc.poll() is None, out.decode(errors="replace")
    lines = [line for line in out.decode(errors="replace").splitlines() if line.strip()]
    assert lines, "nothing logged on the terminal"
    for line in lines:
        assert re.match("^" + STAMP + "info: ", line.lstrip("\r")), line


# ------------------------------------------------------ levels

def test_level_warning_logs_no_info(tmp_path, procs):
    srv = procs.add(LoggingRedisfo(tmp_path, log_cfg={"level": "warning"}))
    srv.start()
    assert srv.query("redis.svc.test.", "A").answer
    reload_with_more_workers(srv)
    assert srv.stop() == 0
    assert levels(srv) == ["warning"], srv.log()


def test_v_moves_from_the_configured_level(tmp_path, procs):
    # warning + one -v: info, but not debug
    srv = procs.add(LoggingRedisfo(tmp_path, log_cfg={"level": "warning"}))
    srv.start("-v")
    refused_axfr(srv)
    reload_with_more_workers(srv)
    assert srv.stop() == 0
    seen = levels(srv)
    assert "info" in seen and "warning" in seen and "debug" not in seen, srv.log()


def test_v_brings_debug_lines(tmp_path, procs):
    srv = procs.add(LoggingRedisfo(tmp_path))
    srv.start("-v")
    refused_axfr(srv)
    wait_until(lambda: any(line.startswith("<7>") and "AXFR to 127.0.0.1" in line
                           for line in log_lines(srv)),
               timeout=10, what="the debug line of the refused AXFR")
    assert srv.stop() == 0
    assert "info" in levels(srv)


def test_q_moves_down_from_debug(tmp_path, procs):
    # debug - one -q: info, not debug; the configured debug shows without it
    srv = procs.add(LoggingRedisfo(tmp_path, log_cfg={"level": "debug"}))
    srv.start("-q")
    refused_axfr(srv)
    reload_with_more_workers(srv)
    assert srv.stop() == 0
    seen = levels(srv)
    assert "info" in seen and "debug" not in seen, srv.log()
    srv.log_path.unlink()
    srv.start()
    refused_axfr(srv)
    wait_until(lambda: "debug" in levels(srv), timeout=10,
               what="a debug line at log.level = debug")
    assert srv.stop() == 0


def test_bad_log_level_is_a_config_error(tmp_path):
    srv = LoggingRedisfo(tmp_path, log_cfg={"level": "loud"})
    r = srv.run("checkconf")
    assert r.returncode == 2, r.stdout + r.stderr
    assert re.search(r"redisfo\.conf:\d+: log\.level: \"loud\" is not \"error\", "
                     r"\"warning\", \"info\" or \"debug\"", r.stderr), r.stderr
    # a mistake in the config is told on stderr, whatever the config says
    srv.log_cfg = {"target": "syslog", "level": "shout"}
    srv.write_conf()
    r = srv.run("checkconf")
    assert r.returncode == 2 and "log.level" in r.stderr, r.stdout + r.stderr


# ------------------------------------------------------ syslog

NS_SCRIPT = """set -e
mount --make-rprivate /
mount --rbind /dev "$REAL_DEV"
mount -t tmpfs -o mode=0755 tmpfs /dev
for n in null zero full random urandom; do
    : > /dev/$n
    mount --bind "$REAL_DEV/$n" /dev/$n
done
: > /dev/log
mount --bind "$LOG_SOCK" /dev/log
exec "$@"
"""


def syslog_namespace(tmp_path):
    """A wrapper that runs its arguments in a private mount namespace whose
    /dev/log is the socket returned with it; skips when that cannot be
    made here."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare")
    real_dev = tmp_path / "real-dev"
    real_dev.mkdir()
    sock_path = tmp_path / "log.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    script = tmp_path / "ns.sh"
    script.write_text(NS_SCRIPT)
    env = dict(os.environ, REAL_DEV=str(real_dev), LOG_SOCK=str(sock_path))
    probe = subprocess.run(["unshare", "-m", "/bin/sh", str(script), "sh", "-c",
                            "test -S /dev/log && test -c /dev/null"],
                           capture_output=True, text=True, env=env, timeout=20)
    if probe.returncode != 0:
        sock.close()
        pytest.skip("cannot make a mount namespace with our /dev/log here: %s"
                    % probe.stderr.strip())
    wrapper = tmp_path / "redisfo-dns-ns"
    wrapper.write_text('#!/bin/sh\nexec unshare -m /bin/sh "%s" "%s" "$@"\n' % (script, BINARY))
    wrapper.chmod(0o755)
    return wrapper, sock, env


def test_syslog_target(tmp_path, procs):
    wrapper, sock, env = syslog_namespace(tmp_path)
    try:
        srv = procs.add(LoggingRedisfo(tmp_path / "srv", log_cfg={"target": "syslog"},
                                       binary=wrapper, env=env))
        srv.start()
        got = []

        def serving_line():
            sock.settimeout(0.1)
            try:
                got.append(sock.recv(4096).decode(errors="replace"))
            except socket.timeout:
                pass
            return any("serving svc.test." in m for m in got)
        wait_until(serving_line, timeout=10, what="the serving line on /dev/log")
        line = [m for m in got if "serving svc.test." in m][0]
        # daemon (3) * 8 + info (6)
        assert line.startswith("<30>"), line
        assert re.search(r"redisfo-dns\[\d+\]: info: serving svc\.test\.", line), line
        assert srv.stop() == 0
    finally:
        sock.close()
    assert "serving" not in srv.log(), "log.target = syslog still logs to stderr:\n" + srv.log()


# ------------------------------------------------------ where the config is

def env_without_conf(**extra):
    env = {k: v for k, v in os.environ.items() if k != "REDISFO_CONF"}
    env.update(extra)
    return env


def run(args, cwd, env):
    return subprocess.run([str(BINARY), *args], capture_output=True, text=True,
                          timeout=20, cwd=str(cwd), env=env)


def built_in_conf():
    """The last place the binary looks, as its --help says."""
    r = run(["--help"], "/", env_without_conf())
    m = re.search(r"(/\S*/redisfo-dns/redisfo\.conf)\s", r.stdout)
    assert m, "--help does not name the config under SYSCONFDIR:\n" + r.stdout
    return m.group(1)


def test_redisfo_conf_env_comes_after_c_and_before_cwd(tmp_path):
    srv = Redisfo(tmp_path / "conf", dns={"zone_file": "zones/svc.test.zone"})
    srv.zone_path.parent.mkdir()    # a zone file's folder must exist, the file need not
    here = tmp_path / "here"
    here.mkdir()
    (here / "redisfo.conf").write_text("this is not a config\n")
    # relative paths are the config's folder's: a broken zone where the
    # cwd would put it is not read (a missing one is fine for checkconf)
    (here / "zones").mkdir()
    (here / "zones" / "svc.test.zone").write_text("garbage\n")
    r = run(["checkconf"], here, env_without_conf(REDISFO_CONF=str(srv.conf_path)))
    assert r.returncode == 0 and r.stdout.startswith("configuration OK"), r.stdout + r.stderr
    assert "zone file %s does not exist yet" % srv.zone_path in r.stdout, r.stdout
    missing = tmp_path / "nowhere.conf"
    r = run(["checkconf"], here, env_without_conf(REDISFO_CONF=str(missing)))
    assert r.returncode == 2
    assert r.stderr == "redisfo-dns: %s: cannot read: No such file or directory " \
        "(from $REDISFO_CONF; no -c)\n" % missing, r.stderr
    r = run(["-c", str(srv.conf_path), "checkconf"], here,
            env_without_conf(REDISFO_CONF=str(missing)))
    assert r.returncode == 0 and r.stdout.startswith("configuration OK"), r.stdout + r.stderr


def test_cwd_config_when_no_env(tmp_path):
    srv = Redisfo(tmp_path)
    for env in (env_without_conf(), env_without_conf(REDISFO_CONF="")):
        r = run(["checkconf"], srv.dir, env)
        assert r.returncode == 0 and r.stdout.startswith("configuration OK"), \
            r.stdout + r.stderr
    # there, but unreadable as a config: named, with how it was chosen
    other = tmp_path / "other"
    other.mkdir()
    (other / "redisfo.conf").mkdir()
    r = run(["checkconf"], other, env_without_conf())
    assert r.returncode == 2
    assert r.stderr.startswith("redisfo-dns: redisfo.conf: cannot read: Is a directory"), r.stderr
    assert r.stderr.endswith(" (./redisfo.conf; no -c, no $REDISFO_CONF)\n"), r.stderr


def test_no_config_anywhere_names_the_search(tmp_path):
    path = built_in_conf()
    if os.path.exists(path):
        pytest.skip("%s exists on this machine" % path)
    r = run(["checkconf"], tmp_path, env_without_conf())
    assert r.returncode == 2
    assert r.stderr == "redisfo-dns: %s: cannot read: No such file or directory " \
        "(no -c, no $REDISFO_CONF, no ./redisfo.conf)\n" % path, r.stderr
    r = run(["check"], tmp_path, env_without_conf())
    assert r.returncode == 3
    assert r.stdout.startswith("REDISFO UNKNOWN - %s: cannot read" % path), r.stdout
    assert "(no -c, no $REDISFO_CONF, no ./redisfo.conf)" in r.stdout
