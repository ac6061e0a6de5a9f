"""make install and make uninstall, into a DESTDIR: the files an operator
gets, their modes, a config and a zone that are never overwritten, man
pages that mandoc finds nothing to say about, and a systemd unit that
systemd-analyze verify accepts.

Standalone on purpose: only the standard library and the tools
themselves (make, mandoc, systemd-analyze; unshare and systemd-sysusers
for the install as root), run on the source tree this file is in.
"""
import glob
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]

UNIT = "redisfo-dns.service"
STATE = "var/lib/redisfo-dns"
CONF = "etc/redisfo-dns/redisfo.conf"
ZONE = STATE + "/svc.test.zone"
MAN8 = "usr/local/share/man/man8/redisfo-dns.8"
MAN5 = "usr/local/share/man/man5/redisfo.conf.5"
SBIN = "usr/local/sbin/redisfo-dns"
SYSUSERS = "usr/lib/sysusers.d/redisfo-dns.conf"


def unit_dir():
    """Where the Makefile puts the unit by default, found the same way."""
    try:
        r = subprocess.run(["pkg-config", "--variable=systemdsystemunitdir", "systemd"],
                           capture_output=True, text=True, timeout=20)
        if r.returncode == 0 and r.stdout.strip():
            return r.stdout.strip()
    except FileNotFoundError:
        pass
    return "/lib/systemd/system"


def make(target, destdir, *variables):
    r = subprocess.run(["make", "-s", "-C", str(TOP), target, "DESTDIR=%s" % destdir,
                        *variables], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, "make %s: %s%s" % (target, r.stdout, r.stderr)
    return r


def files_under(root):
    """{relative path: mode} of every file and link under root."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            out[os.path.relpath(p, root)] = stat.S_IMODE(os.lstat(p).st_mode)
    return out


def expected_files():
    return {
        SBIN: 0o755,
        CONF: 0o640,
        ZONE: 0o644,
        MAN8: 0o644,
        MAN5: 0o644,
        unit_dir().lstrip("/") + "/" + UNIT: 0o644,
        SYSUSERS: 0o644,
    }


def unit_settings(path):
    """The unit as {key: [values]}, in the order written."""
    settings = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;[":
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key, []).append(value)
    return settings


def verify_unit(root, unit_path, sbin):
    """systemd-analyze verify on the unit as installed, but for the path of
    the program, which only exists under DESTDIR. The man pages its
    Documentation= names are found under DESTDIR too. User= is not looked
    up by verify, so the redisfo user need not exist here."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed (make deps)")
    check = root / "verify" / UNIT
    check.parent.mkdir(exist_ok=True)
    check.write_text(Path(unit_path).read_text().replace(sbin, str(root) + sbin))
    mandir = root / Path(sbin).parent.parent.relative_to("/") / "share/man"   # PREFIX/share/man
    env = dict(os.environ, MANPATH="%s:" % mandir)
    r = subprocess.run(["systemd-analyze", "verify", str(check)], capture_output=True,
                       text=True, timeout=60, cwd=str(root), env=env)
    ours = [line for line in (r.stdout + r.stderr).splitlines() if UNIT in line]
    assert r.returncode == 0 and not ours, r.stdout + r.stderr


@pytest.fixture(scope="module", autouse=True)
def tree_binary_restored():
    """make install with another SYSCONFDIR rebuilds the tree's redisfo-dns
    to look for its config there; build it back afterwards for the
    SYSCONFDIR it had, so the tests that follow run what make built."""
    stamp = TOP / "build" / "sysconfdir.stamp"
    before = stamp.read_text().strip() if stamp.exists() else None
    yield
    where = ["SYSCONFDIR=%s" % before] if before else []
    subprocess.run(["make", "-s", "-C", str(TOP), "redisfo-dns", *where],
                   capture_output=True, timeout=600)


@pytest.fixture
def root(tmp_path):
    d = tmp_path / "root"
    d.mkdir()
    return d


def test_install_lays_out_exactly_these_files(root):
    make("install", root)
    assert files_under(root) == expected_files()
    assert stat.S_IMODE((root / STATE).stat().st_mode) == 0o750
    assert (root / SBIN).read_bytes() == (TOP / "redisfo-dns").read_bytes()
    assert (root / ZONE).read_bytes() == (TOP / "zones/svc.test.zone").read_bytes()
    assert (root / MAN8).read_bytes() == (TOP / "conf/redisfo-dns.8").read_bytes()
    assert (root / MAN5).read_bytes() == (TOP / "conf/redisfo.conf.5").read_bytes()
    assert (root / SYSUSERS).read_text().splitlines()[-1].split() == \
        ["u", "redisfo", "-", '"redisfo-dns', 'DNS', 'server"', "/var/lib/redisfo-dns", "-"]


def test_installed_config_keeps_its_state_in_the_state_folder(root):
    make("install", root)
    shipped = (TOP / "redisfo.conf").read_text().splitlines()
    installed = (root / CONF).read_text().splitlines()
    assert len(installed) == len(shipped)
    changed = {a.strip(): b.strip() for a, b in zip(shipped, installed) if a != b}
    assert changed == {
        'zone_file = "zones/svc.test.zone";': 'zone_file = "/var/lib/redisfo-dns/svc.test.zone";',
        'lock_file = "redisfo.lock";': 'lock_file = "/var/lib/redisfo-dns/redisfo.lock";',
        'audit_log = "redisfo-audit.log";': 'audit_log = "/var/lib/redisfo-dns/redisfo-audit.log";',
    }
    # The installed config and zone, as the unit's checkconf reads them.
    local = root / "local.conf"
    local.write_text((root / CONF).read_text().replace('"/var/lib/', '"%s/var/lib/' % root))
    r = subprocess.run([str(root / SBIN), "-c", str(local), "checkconf"],
                       capture_output=True, text=True, timeout=20)
    assert (r.returncode, r.stdout) == (0, "configuration OK\n"), r.stderr


def test_second_install_keeps_a_changed_config_and_the_zone(root):
    make("install", root)
    conf, zone = root / CONF, root / ZONE
    conf.write_text(conf.read_text() + "# the operator's\n")
    conf.chmod(0o600)
    zone.write_text(zone.read_text() + "; rewritten by the server\n")
    before = conf.read_text(), zone.read_text()
    r = make("install", root)
    assert (conf.read_text(), zone.read_text()) == before
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    assert "keeping %s" % conf in r.stdout and "keeping %s" % zone in r.stdout
    assert files_under(root) == dict(expected_files(), **{CONF: 0o600})


def test_uninstall_leaves_the_config_and_the_state(root):
    make("install", root)
    (root / STATE / "redisfo-audit.log").write_text("{}\n")
    make("uninstall", root)
    assert files_under(root) == {CONF: 0o640, ZONE: 0o644, STATE + "/redisfo-audit.log": 0o644}
    make("uninstall", root)     # nothing left to remove is not an error


def test_install_honours_the_folders_it_is_given(root):
    make("install", root, "PREFIX=/opt/rf", "SYSCONFDIR=/etc/opt", "LOCALSTATEDIR=/var/opt",
         "SYSTEMDUNITDIR=/srv/units", "SYSUSERSDIR=/srv/sysusers")
    assert files_under(root) == {
        "opt/rf/sbin/redisfo-dns": 0o755,
        "etc/opt/redisfo-dns/redisfo.conf": 0o640,
        "var/opt/redisfo-dns/svc.test.zone": 0o644,
        "opt/rf/share/man/man8/redisfo-dns.8": 0o644,
        "opt/rf/share/man/man5/redisfo.conf.5": 0o644,
        "srv/units/" + UNIT: 0o644,
        "srv/sysusers/redisfo-dns.conf": 0o644,
    }
    conf = (root / "etc/opt/redisfo-dns/redisfo.conf").read_text()
    assert 'zone_file = "/var/opt/redisfo-dns/svc.test.zone";' in conf
    assert 'lock_file = "/var/opt/redisfo-dns/redisfo.lock";' in conf
    unit = unit_settings(root / "srv/units" / UNIT)
    assert unit["ExecStart"] == \
        ["/opt/rf/sbin/redisfo-dns -c /etc/opt/redisfo-dns/redisfo.conf serve"]
    assert unit["ReadWritePaths"] == ["/var/opt/redisfo-dns"]
    assert "StateDirectory" not in unit    # it can only name folders in /var/lib
    assert "/var/opt/redisfo-dns" in (root / "srv/sysusers/redisfo-dns.conf").read_text()
    # the program looks for its config where it was installed
    r = subprocess.run([str(root / "opt/rf/sbin/redisfo-dns"), "--help"],
                       capture_output=True, text=True, timeout=20)
    assert "/etc/opt/redisfo-dns/redisfo.conf" in r.stdout, r.stdout
    verify_unit(root, root / "srv/units" / UNIT, "/opt/rf/sbin/redisfo-dns")


def test_unit_runs_checkconf_then_serve_hardened(root):
    make("install", root)
    path = root / unit_dir().lstrip("/") / UNIT
    assert not re.search(r"@[a-z]+@", path.read_text())
    unit = unit_settings(path)
    conf = "/usr/local/sbin/redisfo-dns -c /etc/redisfo-dns/redisfo.conf"
    want = {
        "Type": ["notify"],
        "ExecStartPre": [conf + " checkconf"],
        "ExecStart": [conf + " serve"],
        "ExecReload": ["/bin/kill -HUP $MAINPID"],
        "User": ["redisfo"],
        "Group": ["redisfo"],
        "AmbientCapabilities": ["CAP_NET_BIND_SERVICE"],
        "CapabilityBoundingSet": ["CAP_NET_BIND_SERVICE"],
        "NoNewPrivileges": ["yes"],
        "StateDirectory": ["redisfo-dns"],
        "ProtectSystem": ["strict"],
        "ReadWritePaths": ["/var/lib/redisfo-dns"],
        "ProtectHome": ["yes"],
        "PrivateTmp": ["yes"],
        "PrivateDevices": ["yes"],
        "ProtectKernelTunables": ["yes"],
        "ProtectKernelModules": ["yes"],
        "ProtectControlGroups": ["yes"],
        "RestrictAddressFamilies": ["AF_INET AF_INET6 AF_UNIX"],
        "SystemCallFilter": ["@system-service", "~@privileged @resources"],
    }
    assert {k: unit.get(k) for k in want} == want
    verify_unit(root, path, "/usr/local/sbin/redisfo-dns")


def man_page_installed(name, section):
    for d in ("/usr/share/man", "/usr/local/share/man"):
        if glob.glob("%s/man%s/%s.%s*" % (d, section, name, section)):
            return True
    return False


def test_man_pages_are_lint_clean(root):
    """mandoc -T lint on the installed pages, side by side so that each finds
    the other. A page named in SEE ALSO that this machine lacks (say, man
    pages left out of a container) is the one message let through, and
    only for a page that really is not installed."""
    if shutil.which("mandoc") is None:
        pytest.skip("mandoc not installed (make deps)")
    make("install", root)
    lint = root / "lint"
    lint.mkdir()
    for page in (MAN8, MAN5):
        shutil.copy(root / page, lint)
    r = subprocess.run(["mandoc", "-T", "lint", "redisfo-dns.8", "redisfo.conf.5"],
                       capture_output=True, text=True, timeout=60, cwd=str(lint))
    found = []
    for line in r.stdout.splitlines():
        m = re.search(r"STYLE: referenced manual not found: Xr (\S+) (\S+)", line)
        if m and m.group(1) not in ("redisfo-dns", "redisfo.conf") and \
                not man_page_installed(m.group(1), m.group(2)):
            continue
        found.append(line)
    # mandoc also says on stderr that it has no index of the system's pages.
    noise = [line for line in r.stderr.splitlines() if "mandoc.db" not in line]
    assert not found and not noise, r.stdout + r.stderr
    if not r.stdout:
        assert r.returncode == 0


def test_root_install_creates_the_user_and_gives_it_the_state(tmp_path):
    """Without DESTDIR, as root, install creates the redisfo user from its
    sysusers entry, gives it the state folder and the zone, and the group
    of the config. Run in a private mount namespace over a copy of /etc,
    so the machine's own users are left alone."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare")
    if shutil.which("systemd-sysusers") is None:
        pytest.skip("systemd-sysusers not installed (make deps)")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("cannot make a mount namespace here: %s" % probe.stderr.strip())
    existed = subprocess.run(["getent", "passwd", "redisfo"], capture_output=True).returncode == 0
    etc = tmp_path / "etc-copy"
    shutil.copytree("/etc", etc, symlinks=True)
    where = ["PREFIX=%s/usr" % tmp_path, "SYSCONFDIR=%s/etc" % tmp_path,
             "LOCALSTATEDIR=%s/var" % tmp_path, "SYSTEMDUNITDIR=%s/units" % tmp_path,
             "SYSUSERSDIR=%s/sysusers" % tmp_path]
    script = ("mount --make-rprivate / && mount --bind %s /etc && make -s -C %s install %s"
              " && getent passwd redisfo && stat -c '%%U:%%G %%a %%n' %s %s %s"
              % (etc, TOP, " ".join(where), tmp_path / "etc/redisfo-dns/redisfo.conf",
                 tmp_path / "var/redisfo-dns", tmp_path / "var/redisfo-dns/svc.test.zone"))
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    user = [line for line in r.stdout.splitlines() if line.startswith("redisfo:x:")]
    assert len(user) == 1, r.stdout
    if not existed:     # made here, from the entry just installed
        assert user[0].split(":")[5] == "%s/var/redisfo-dns" % tmp_path, r.stdout
    owners = [line.split(" ")[:2] for line in r.stdout.splitlines()
              if re.match(r"\S+:\S+ \d+ /", line)]
    assert owners == \
        [["root:redisfo", "640"], ["redisfo:redisfo", "750"], ["redisfo:redisfo", "644"]], r.stdout
