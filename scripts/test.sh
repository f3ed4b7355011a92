#!/usr/bin/env bash
# The README's test command: installs hypersio (compiling its extensions) with the test and lint
# extras, installs the official JavaScript packages the interop tests talk to, runs the static
# checks (scripts/check: ruff, mypy --strict, a typed user program, import-linter), then runs the
# whole suite twice: once on the compiled extensions, once on the pure-Python twins
# (HYPERSIO_NO_EXTENSIONS=1, chosen at import time; the twin fixtures skip the compiled variants).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

"$PYTHON" -m pip install --quiet --upgrade pip
# The build must compile: HYPERSIO_REQUIRE_EXTENSIONS makes a missing extension an import error.
"$PYTHON" -m pip install --quiet ".[test,lint]"
npm ci --prefix tests/js --no-audit --no-fund --loglevel=error

# The cluster tests need a Redis on 127.0.0.1:6379 (keys under unique per-test prefixes) and the
# redis-server binary (the restart tests start private ones on other ports).
if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get install -y -q redis-server >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q redis-server; }
    fi
fi
# The admin UI test drives the official dashboard in a headless Chromium (Debian's package).
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q chromium; }
    fi
fi
if ! "$PYTHON" -c "import redis; redis.Redis(socket_connect_timeout=2).ping()" >/dev/null 2>&1; then
    echo "no Redis on 127.0.0.1:6379: starting one"
    redis-server --port 6379 --bind 127.0.0.1 --daemonize yes --save "" --appendonly no
    sleep 0.5
fi

echo "== static checks (scripts/check) =="
PYTHON="$PYTHON" bash scripts/check

export HYPERSIO_REQUIRE_INTEROP=1
export HYPERSIO_REQUIRE_REDIS=1
echo "== compiled extensions =="
HYPERSIO_REQUIRE_EXTENSIONS=1 "$PYTHON" -m pytest -q "$@"

echo "== pure-Python twins (HYPERSIO_NO_EXTENSIONS=1) =="
HYPERSIO_NO_EXTENSIONS=1 "$PYTHON" -m pytest -q "$@"
