"""TLS: a worker and both clients over `rediss://` URLs against a TLS redis-server started here, with a
CA and certificates made here by the `openssl` command (a server certificate for 127.0.0.1 and
localhost, and a client certificate for a server that asks for one)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import redis

from doshit import Client, ConfigError
from doshit._core.config import mask_url, resolve
from doshit.testing import free_port, redis_server_binary

from .conftest import WorkerProcess, blocking_client, submit_running, wait_for, wait_listening
from .test_security import killed

OPENSSL = shutil.which("openssl")
REDIS_SERVER = redis_server_binary()

pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is needed to make the certificates")


@dataclass(frozen=True)
class Certificates:
    folder: Path

    def path(self, name: str) -> str:
        return str(self.folder / name)


def openssl(folder: Path, *args: str) -> None:
    assert OPENSSL is not None
    subprocess.run([OPENSSL, *args], cwd=folder, check=True, capture_output=True, timeout=30)


def issue(folder: Path, name: str, extensions: str) -> None:
    """A key and a certificate signed by the CA: {name}.key, {name}.crt."""
    (folder / f"{name}.ext").write_text(extensions)
    openssl(folder, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN=doshit test {name}")  # fmt: skip
    openssl(folder, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-sha256", "-extfile", f"{name}.ext", "-out", f"{name}.crt")  # fmt: skip


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    folder = tmp_path_factory.mktemp("tls")
    openssl(folder, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-sha256", "-subj", "/CN=doshit test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    leaf = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nauthorityKeyIdentifier=keyid,issuer\n"
    issue(folder, "server", f"{leaf}extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n")
    issue(folder, "client", f"{leaf}extendedKeyUsage=clientAuth\n")
    return Certificates(folder)


@dataclass(frozen=True)
class TlsRedis:
    port: int
    certificates: Certificates

    def url(self, *, ca: bool = True, client_certificate: bool = False, host: str = "127.0.0.1") -> str:
        query = []
        if ca:
            query.append(f"ssl_ca_certs={quote(self.certificates.path('ca.crt'))}")
        if client_certificate:
            query.append(f"ssl_certfile={quote(self.certificates.path('client.crt'))}")
            query.append(f"ssl_keyfile={quote(self.certificates.path('client.key'))}")
        return f"rediss://{host}:{self.port}/0" + (f"?{'&'.join(query)}" if query else "")

    def admin(self) -> redis.Redis:
        return redis.Redis.from_url(self.url(client_certificate=True), decode_responses=True)


@contextmanager
def tls_redis(certificates: Certificates, *, auth_clients: bool) -> Iterator[TlsRedis]:
    """A redis-server that speaks TLS only; skips the test when the binary was built without TLS."""
    if REDIS_SERVER is None:
        pytest.skip("no redis-server")
    port = free_port()
    log = certificates.folder / f"redis-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [REDIS_SERVER, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(certificates.folder), "--daemonize", "no",
             "--tls-cert-file", certificates.path("server.crt"), "--tls-key-file", certificates.path("server.key"),
             "--tls-ca-cert-file", certificates.path("ca.crt"), "--tls-auth-clients", "yes" if auth_clients else "no"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = TlsRedis(port, certificates)
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                said = log.read_text(errors="replace")
                if "Bad directive" in said and "tls" in said:
                    pytest.skip(f"{REDIS_SERVER} was built without TLS support")
                raise AssertionError(f"the TLS redis-server exited with {proc.returncode}:\n{said}")
            try:
                with server.admin() as conn:
                    conn.ping()
                break
            except (redis.ConnectionError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield server
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def tls_server(certificates: Certificates) -> Iterator[TlsRedis]:
    with tls_redis(certificates, auth_clients=False) as server:
        yield server


@pytest.fixture
def tls_server_with_client_certificates(certificates: Certificates) -> Iterator[TlsRedis]:
    with tls_redis(certificates, auth_clients=True) as server:
        yield server


@contextmanager
def tls_worker(server: TlsRedis, url: str, prefix: str, log: Path) -> Iterator[WorkerProcess]:
    """A doshit-worker process on that URL, once its worker hash exists and it hears commands."""
    worker = WorkerProcess.start_cli(
        log, "--app", "tests.apps.basic", "--redis-url", url, "--prefix", prefix, "--concurrency", "1"
    )
    try:
        with server.admin() as admin:

            def registered() -> bool:
                if worker.proc.poll() is not None:
                    raise AssertionError(f"worker exited with {worker.proc.returncode}:\n{worker.log()}")
                return bool(admin.keys(f"{prefix}:worker:*"))

            wait_for(registered, what="the worker hash")
            wait_listening(admin, prefix)
        yield worker
    finally:
        assert worker.stop() == 0, worker.log()


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_worker_and_a_client_over_tls(kind: str, tls_server: TlsRedis, prefix: str, tmp_path: Path) -> None:
    url = tls_server.url()
    with tls_worker(tls_server, url, prefix, tmp_path / "worker.log"), blocking_client(kind, url, prefix) as client:
        assert client.submit("echo", text="over TLS").wait_result(timeout=10) == "over TLS"
        assert client.submit("echo", _queue="nobody").cancel() == "cancelled"
        running = submit_running(client, "sleep", seconds=30)
        assert client.kill_all() == 1
        killed(running)


def test_a_client_checks_the_server_certificate(tls_server: TlsRedis, prefix: str) -> None:
    with Client(tls_server.url(ca=False), prefix=prefix) as client, pytest.raises(redis.ConnectionError) as error:
        client.info("x")
    assert "certificate verify failed" in str(error.value)
    with Client(tls_server.url(host="localhost"), prefix=prefix) as client:  # a name the certificate has
        assert client.submit("echo", _queue="nobody").cancel() == "cancelled"


def test_a_server_that_asks_for_a_client_certificate(
    tls_server_with_client_certificates: TlsRedis, prefix: str, tmp_path: Path
) -> None:
    server = tls_server_with_client_certificates
    with Client(server.url(), prefix=prefix) as client, pytest.raises(redis.ConnectionError):
        client.info("x")
    url = server.url(client_certificate=True)
    with tls_worker(server, url, prefix, tmp_path / "worker.log"), Client(url, prefix=prefix) as client:
        assert client.submit("echo", text="mutual").wait_result(timeout=10) == "mutual"


def test_the_url_check_takes_the_tls_parameters() -> None:
    url = (
        "rediss://user:pass@redis.example:6380/2?ssl_ca_certs=/etc/ca.pem&ssl_certfile=/etc/c.pem"
        "&ssl_keyfile=/etc/c.key&ssl_cert_reqs=required&ssl_check_hostname=true"
    )
    assert resolve(url).url == url
    assert mask_url(url).startswith("rediss://user:***@redis.example:6380/2?ssl_ca_certs=/etc/ca.pem&")
    assert resolve("rediss://127.0.0.1?ssl_ca_certs=/etc/ca.pem").url is not None  # database 0
    assert resolve("rediss://127.0.0.1/0?ssl_ca_certs=/a%40b/ca.pem").url is not None
    with pytest.raises(ConfigError, match="percent-encode"):
        resolve("rediss://127.0.0.1/0?ssl_ca_certs=/a@b/ca.pem")
