"""confgen.py - the config files and zone files behaviour tests write.

It renders Python values as libconfig text (redisfo.conf), writes the
redis.conf of a throwaway node, the nsd.conf, knot.conf and named.conf of
a secondary, the knot.conf, named.conf and pdns.conf of an external
primary (their zone parts are the README's snippets), and holds the zones
the tests serve.
servers.py writes these into a test's temporary folder and starts the
process that reads them.

It only returns text: it never writes a file, starts a process or opens
a socket, so every port, folder and key comes in as an argument.
"""

DEFAULT_ZONE = "svc.test."


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


def default_services():
    """The `services` of a redisfo.conf whose nodes nobody starts."""
    return [{
        "name": "redis",
        "nodes": [
            {"name": "r1", "host": "127.0.0.2", "port": 6379},
            {"name": "r2", "host": "127.0.0.3", "port": 6379},
            {"name": "r3", "host": "127.0.0.4", "port": 6379},
        ],
    }]


# ---------------------------------------------------------------- redis.conf

def redis_conf(host, port, folder, password=None, replicaof=None, extra=()):
    """A redis.conf for a node that keeps nothing on disk; replicaof is
    None or (host, port) of its master; extra lines go last."""
    lines = [
        "port %d" % port,
        "bind %s" % host,
        'dir "%s"' % folder,
        'save ""',
        "appendonly no",
        "protected-mode no",
        "daemonize no",
        'logfile ""',
        "enable-debug-command yes",
    ]
    if password:
        lines.append('requirepass "%s"' % password)
        lines.append('masterauth "%s"' % password)
    if replicaof:
        lines.append("replicaof %s %s" % replicaof)
    lines.extend(extra)
    return "\n".join(lines) + "\n"


# --------------------------------------- NSD, Knot, BIND and PowerDNS configs
#
# Each secondary and external primary config is a test-only part (where the
# process keeps its files, its port, its log) and the part an operator
# writes for the zone. The zone parts are the README's snippets:
# test_interop.py renders them with README_EXAMPLE and finds each one there
# word for word, so the README shows exactly what the tests run.

README_EXAMPLE = {"zone": "svc.example.com.", "primary": "192.0.2.53", "port": 53,
                  "key_name": "redisfo-key.", "key_algorithm": "hmac-sha256",
                  "key_secret": "<dns.update_key.secret>",
                  "update_from": "192.0.2.10/32"}


def _zonefile(zone, ext="zone"):
    return "%s.%s" % (zone.rstrip("."), ext)


def nsd_secondary_zone(zone, primary, port):
    """nsd.conf, the zone as a secondary of redisfo-dns at primary@port:
    transferred without a key, NOTIFY taken from primary (the address
    redisfo-dns sends from: dns.notify_source or its dns.listen)."""
    return ("zone:\n"
            '    name: "%s"\n'
            '    zonefile: "%s"\n'
            "    request-xfr: %s@%d NOKEY\n"
            "    allow-notify: %s NOKEY\n" % (zone, _zonefile(zone), primary, port, primary))


def knot_secondary_zone(zone, primary, port):
    """knot.conf, the same secondary for knotd."""
    return ("remote:\n"
            "  - id: redisfo\n"
            "    address: %s@%d\n"
            "acl:\n"
            "  - id: notify_from_redisfo\n"
            "    address: %s\n"
            "    action: notify\n"
            "zone:\n"
            "  - domain: %s\n"
            "    master: redisfo\n"
            "    acl: notify_from_redisfo\n" % (primary, port, primary, zone))


def bind_secondary_zone(zone, primary, port):
    """named.conf, the same secondary for BIND 9 (which takes a NOTIFY from
    its primaries only)."""
    return ('zone "%s" {\n'
            "    type secondary;\n"
            "    primaries { %s port %d; };\n"
            '    file "%s";\n'
            "};\n" % (zone, primary, port, _zonefile(zone, "db")))


def knot_primary_zone(zone, key_name, key_algorithm, key_secret):
    """knot.conf, the zone as an external primary taking UPDATEs signed
    with dns.update_key (failover.server points at it)."""
    return ("key:\n"
            "  - id: %s\n"
            "    algorithm: %s\n"
            "    secret: %s\n"
            "acl:\n"
            "  - id: update_acl\n"
            "    key: %s\n"
            "    action: update\n"
            "zone:\n"
            "  - domain: %s\n"
            '    file: "%s"\n'
            "    acl: update_acl\n"
            % (key_name, key_algorithm, key_secret, key_name, zone, _zonefile(zone)))


def bind_primary_zone(zone, key_name, key_algorithm, key_secret):
    """named.conf, the same external primary for BIND 9."""
    return ('key "%s" {\n'
            "    algorithm %s;\n"
            '    secret "%s";\n'
            "};\n"
            'zone "%s" {\n'
            "    type primary;\n"
            '    file "%s";\n'
            "    update-policy { grant %s zonesub ANY; };\n"
            "};\n" % (key_name, key_algorithm, key_secret, zone, _zonefile(zone),
                       key_name))


def pdns_primary_conf(database, allow_from="127.0.0.0/8"):
    """pdns.conf lines for PowerDNS as an external primary taking UPDATEs
    (the gsqlite3 backend; the key is in the zone's metadata, below)."""
    return ("launch=gsqlite3\n"
            "gsqlite3-database=%s\n"
            "dnsupdate=yes\n"
            "allow-dnsupdate-from=%s\n" % (database, allow_from))


def pdns_primary_commands(zone, zonefile, key_name, key_algorithm, key_secret):
    """The pdnsutil commands that load the zone and let dns.update_key
    update it, as argument lists."""
    return [["pdnsutil", "load-zone", zone, zonefile],
            ["pdnsutil", "import-tsig-key", key_name, key_algorithm, key_secret],
            ["pdnsutil", "set-meta", zone, "TSIG-ALLOW-DNSUPDATE", key_name]]


def readme_snippets():
    """Every zone part above as rendered for the README (README_EXAMPLE)."""
    e = README_EXAMPLE
    key = (e["key_name"], e["key_algorithm"], e["key_secret"])
    return {
        "NSD secondary": nsd_secondary_zone(e["zone"], e["primary"], e["port"]),
        "Knot secondary": knot_secondary_zone(e["zone"], e["primary"], e["port"]),
        "BIND secondary": bind_secondary_zone(e["zone"], e["primary"], e["port"]),
        "Knot primary": knot_primary_zone(e["zone"], *key),
        "BIND primary": bind_primary_zone(e["zone"], *key),
        "PowerDNS primary": pdns_primary_conf("/var/lib/powerdns/pdns.sqlite3",
                                              e["update_from"]),
        "PowerDNS commands": "".join(
            " ".join(argv) + "\n" for argv in pdns_primary_commands(
                e["zone"], "/var/lib/powerdns/" + _zonefile(e["zone"]), *key)),
    }


_NSD_SERVER = """server:
    ip-address: 127.0.0.1@{port}
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "{dir}"
    pidfile: "{dir}/nsd.pid"
    database: ""
    xfrdfile: "{dir}/xfrd.state"
    xfrdir: "{dir}"
    zonelistfile: "{dir}/zone.list"
    logfile: "{dir}/nsd.log"
    server-count: 1
    verbosity: 2
    xfrd-reload-timeout: 0
    hide-version: yes
remote-control:
    control-enable: no
"""

_KNOT_SERVER = """server:
    rundir: "{dir}"
    listen: 127.0.0.1@{port}
log:
  - target: {log}
    any: info
database:
    storage: "{dir}"
"""

# named in the foreground on 127.0.0.1 only (BIND listens on addresses
# assigned to an interface), no rndc, no NOTIFY of its own, files in dir.
_BIND_OPTIONS = """options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    session-keyfile "{dir}/session.key";
    managed-keys-directory "{dir}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
}};
controls {{ }};
"""


def nsd_secondary_conf(folder, port, primary_port, primary="127.0.0.1"):
    """nsd.conf: svc.test. on 127.0.0.1@port, transferred from the primary
    at primary@primary_port without a key, NOTIFY from it accepted."""
    return (_NSD_SERVER.format(port=port, dir=folder)
            + nsd_secondary_zone(DEFAULT_ZONE, primary, primary_port))


def knot_secondary_conf(folder, port, primary_port, primary="127.0.0.1"):
    """knot.conf: the same secondary as nsd_secondary_conf, for knotd."""
    return (_KNOT_SERVER.format(port=port, dir=folder, log='"%s/knot.log"' % folder)
            + knot_secondary_zone(DEFAULT_ZONE, primary, primary_port)
            + '    storage: "%s"\n'
              "    zonefile-sync: -1\n"
              "    journal-content: none\n" % folder)


def bind_secondary_conf(folder, port, primary_port, primary="127.0.0.1"):
    """named.conf: the same secondary for BIND 9."""
    return (_BIND_OPTIONS.format(port=port, dir=folder)
            + bind_secondary_zone(DEFAULT_ZONE, primary, primary_port))


def knot_primary_conf(folder, port, key_name, key_algorithm, key_secret):
    """knot.conf: svc.test. from folder/svc.test.zone on 127.0.0.1@port,
    dynamic updates allowed when signed with the given TSIG key."""
    return (_KNOT_SERVER.format(port=port, dir=folder, log="stderr")
            + 'control:\n    listen: "%s/knot.sock"\n' % folder
            + knot_primary_zone(DEFAULT_ZONE, key_name, key_algorithm, key_secret)
            + '    storage: "%s"\n' % folder)


def bind_primary_conf(folder, port, key_name, key_algorithm, key_secret):
    """named.conf: the same external primary for BIND 9."""
    return (_BIND_OPTIONS.format(port=port, dir=folder)
            + bind_primary_zone(DEFAULT_ZONE, key_name, key_algorithm, key_secret))


def pdns_test_conf(folder, port):
    """pdns.conf: pdns_server in the foreground on 127.0.0.1:port, files in
    folder, its caches left as they are by default (it purges them on an
    UPDATE), then the lines of pdns_primary_conf."""
    return ("config-dir=%(d)s\n"
            "socket-dir=%(d)s\n"
            "local-address=127.0.0.1\n"
            "local-port=%(port)d\n"
            "daemon=no\n"
            "guardian=no\n"
            "disable-syslog=yes\n"
            "log-timestamp=no\n"
            "loglevel=5\n"
            "webserver=no\n"
            "api=no\n"
            "receiver-threads=1\n"
            "distributor-threads=1\n"
            % {"d": folder, "port": port}) + pdns_primary_conf("%s/pdns.sqlite3" % folder)


# ------------------------------------------------------------------- zones

def txt_rrset(owner, count, size):
    """count TXT records at owner, each one distinct string of size bytes."""
    lines = []
    for i in range(count):
        body = ("%02d-" % i) + "x" * (size - 3)
        lines.append('%s 300 IN TXT "%s"' % (owner, body))
    return "\n".join(lines)


# A zone with the records the answer tests need: SOA TTL 3600 with
# MINIMUM 60 (negative TTL 60), CNAME chains in and out of the zone, an
# empty non-terminal (ent, a.ent), TXT RRsets below and above 512 and 1232
# bytes, and a CNAME chain longer than the server follows (a loop is
# refused at load, so the longest chain is what bounds an answer).
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
long1        IN CNAME long2.svc.test.
long2        IN CNAME long3.svc.test.
long3        IN CNAME long4.svc.test.
long4        IN CNAME long5.svc.test.
long5        IN CNAME long6.svc.test.
long6        IN CNAME long7.svc.test.
long7        IN CNAME long8.svc.test.
long8        IN CNAME long9.svc.test.
long9        IN CNAME long10.svc.test.
long10        IN CNAME long11.svc.test.
long11        IN CNAME long12.svc.test.
long12        IN CNAME redis.svc.test.
deep.a.ent    IN A   192.0.2.9
MiXeD         IN A   192.0.2.5
esc\\.dot      IN A   192.0.2.6
unk           IN TYPE65000 \\# 4 0a0b0c0d
empty         IN TXT ""
dup           IN A   192.0.2.7
dup           IN A   192.0.2.7
ttls       60 IN A   192.0.2.10
ttls      120 IN A   192.0.2.11
""" + txt_rrset("medium", 4, 200) + "\n" + txt_rrset("big", 16, 200) + "\n" \
    + txt_rrset("huge", 60, 250) + "\n"

TEST_ZONE_SOA_TTL = 3600
TEST_ZONE_SOA_MINIMUM = 60

# The other way round: SOA TTL 30 below MINIMUM 600, negative TTL 30.
# Serial 7, redis A 127.0.0.2: the small zone the UPDATE and NOTIFY tests
# add their own records to.
TEST_ZONE_LOW_SOA_TTL = """$ORIGIN svc.test.
$TTL 300
@        30 IN SOA ns1.svc.test. hostmaster.svc.test. 7 3600 600 86400 600
@        30 IN NS  ns1.svc.test.
ns1         IN A   127.0.0.1
redis     5 IN A   127.0.0.2
"""


def service_zone(zone, primary_name, primary_addr, ttl=5, serial=1):
    """The zone of one managed service: redis A names the primary at
    primary_addr and its _redisfo TXT names it primary_name."""
    return (
        "$ORIGIN %s\n"
        "@ 3600 IN SOA ns1 hostmaster %d 3600 600 86400 5\n"
        "@ 3600 IN NS ns1\n"
        "ns1 3600 IN A 127.0.0.1\n"
        "redis %d IN A %s\n"
        '_redisfo.redis %d IN TXT "primary=%s epoch=1 at=2026-01-01T00:00:00Z"\n'
        % (zone, serial, ttl, primary_addr, ttl, primary_name))
