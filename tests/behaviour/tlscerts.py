"""tlscerts.py - the certificates the TLS tests need, made with openssl.

Certs(folder) writes, once per test folder: a CA (ca.pem), a server
certificate it signed for 127.0.0.2-4, localhost and redis-test.local
(server.pem/.key), the same key certified for a day in 2020 (expired.pem,
through `openssl ca -startdate/-enddate`: OpenSSL 3.0's x509 has no
not-before option), one for another name only (other.pem: a name
mismatch), a second CA (wrong_ca.pem) and the server key certified by it
(foreign.pem), and a client certificate of the first CA (client.pem/.key).

It only runs openssl on files in the folder it is given.
"""

import subprocess
from pathlib import Path

SERVER_SAN = ("IP:127.0.0.2,IP:127.0.0.3,IP:127.0.0.4,IP:127.0.0.1,IP:::1,"
              "DNS:redis-test.local,DNS:localhost")

_CA_CNF = """[ ca ]
default_ca = test
[ test ]
dir = {db}
database = {db}/index.txt
serial = {db}/serial
new_certs_dir = {db}
default_md = sha256
policy = any
copy_extensions = copy
[ any ]
commonName = supplied
"""


def _openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=str(cwd), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, "openssl %s: %s" % (args[0], r.stderr)


class Certs:
    def __init__(self, folder):
        self.dir = Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        d = self.dir
        self.ca = d / "ca.pem"
        self.wrong_ca = d / "wrong_ca.pem"
        self.server_cert, self.server_key = d / "server.pem", d / "server.key"
        self.expired = d / "expired.pem"
        self.other = d / "other.pem"
        self.foreign = d / "foreign.pem"
        self.client_cert, self.client_key = d / "client.pem", d / "client.key"
        self._make()

    def _key_csr(self, name, cn):
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
                 "-subj", "/CN=" + cn, cwd=self.dir)

    def _sign(self, csr, out, ca, san, days="30"):
        ext = self.dir / (out + ".ext")
        ext.write_text("subjectAltName=%s\n" % san if san else "basicConstraints=CA:FALSE\n")
        _openssl("x509", "-req", "-in", csr, "-CA", ca + ".pem", "-CAkey", ca + ".key",
                 "-CAcreateserial", "-out", out, "-days", days, "-extfile", ext.name,
                 cwd=self.dir)

    def _make(self):
        d = self.dir
        for ca in ("ca", "wrong_ca"):
            _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-nodes", "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "30",
                     "-subj", "/CN=redisfo test " + ca, cwd=d)
        self._key_csr("server", "redis-test")
        self._sign("server.csr", "server.pem", "ca", SERVER_SAN)
        self._sign("server.csr", "other.pem", "ca", "DNS:elsewhere.invalid")
        self._sign("server.csr", "foreign.pem", "wrong_ca", SERVER_SAN)
        self._key_csr("client", "redisfo")
        self._sign("client.csr", "client.pem", "ca", None)
        # expired: a validity in the past needs `openssl ca` and its database
        db = d / "cadb"
        db.mkdir(exist_ok=True)
        (db / "index.txt").write_text("")
        (db / "serial").write_text("01\n")
        (d / "ca.cnf").write_text(_CA_CNF.format(db=db))
        (d / "expired.ext").write_text("subjectAltName=%s\n" % SERVER_SAN)
        _openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key",
                 "-in", "server.csr", "-out", "expired.pem", "-startdate", "20200101000000Z",
                 "-enddate", "20200102000000Z", "-extfile", "expired.ext", cwd=d)
