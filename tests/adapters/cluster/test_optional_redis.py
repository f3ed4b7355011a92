"""redis-py is an optional extra: importing hypersio, hypersio.cluster and making a server must not
import it; making a Redis adapter does."""

from __future__ import annotations

import subprocess
import sys

from _support import child_env


def _imports_redis(code: str) -> bool:
    probe = code + "\nimport sys\nprint('redis' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=child_env(), check=True)
    return result.stdout.strip().splitlines()[-1] == "True"


def test_core_and_cluster_face_do_not_import_redis() -> None:
    assert not _imports_redis("import hypersio, hypersio.cluster\nhypersio.Server()")


def test_making_an_adapter_imports_redis(redis_url: str) -> None:
    code = (
        f"import hypersio\nfrom hypersio import cluster\nhypersio.Server(adapter=cluster.redis_adapter({redis_url!r}))"
    )
    assert _imports_redis(code)
