"""A private redis-server for tests that must stop and restart Redis (never the shared one)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time


def _free_port() -> int:
    # Below 55536: a cluster node also listens on its port + 10000 (the cluster bus).
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port < 55536:
            return port


class PrivateRedis:
    """``redis-server`` on a free loopback port with no persistence; :meth:`stop` and
    :meth:`start` restart it on the same port."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.binary = binary
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix="hsio-redis-")
        self.proc: subprocess.Popen[bytes] | None = None
        self.cluster_args: list[str] = []

    @property
    def url(self) -> str:
        """The server's URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait until it accepts connections."""
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
                *self.cluster_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        """Kill it (as a crash would) and wait for it to be gone."""
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.kill()
            proc.wait(5)


class PrivateRedisCluster:
    """A three-master Redis Cluster (no replicas) on free loopback ports, for the sharded
    adapter's cluster-client tests; :meth:`stop` kills every node."""

    def __init__(self, masters: int = 3) -> None:
        self.nodes = [PrivateRedis() for _ in range(masters)]

    @property
    def url(self) -> str:
        """A URL of one node (a cluster client discovers the others)."""
        return self.nodes[0].url

    def start(self) -> None:
        """Start the nodes with cluster mode on and join them into one cluster."""
        for node in self.nodes:
            node.cluster_args = [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                f"{node.dir}/nodes.conf",
                "--cluster-node-timeout",
                "2000",
            ]
            node.start()
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli is not installed")
        created = subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{n.port}" for n in self.nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout[-500:]} {created.stderr[-500:]}")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            # Every node must know every slot's owner, or a client that asks it first is lost.
            infos = [
                subprocess.run([cli, "-p", str(n.port), "cluster", "info"], capture_output=True, text=True).stdout
                for n in self.nodes
            ]
            if all("cluster_state:ok" in i and "cluster_slots_ok:16384" in i for i in infos):
                return
            time.sleep(0.1)
        raise RuntimeError("the Redis cluster did not become ready")

    def stop(self) -> None:
        """Kill every node."""
        for node in self.nodes:
            node.stop()
