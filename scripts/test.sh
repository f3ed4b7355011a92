#!/usr/bin/env bash
# The README's test command: installs hypersio (compiling its extensions) with the test extras,
# installs the official JavaScript packages the interop tests talk to, and runs the suite twice:
# once on the compiled extensions (codec tests also exercise the pure twins through fixtures),
# once with HYPERSIO_NO_EXTENSIONS=1 for the layers that pick their twin at import time.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

"$PYTHON" -m pip install --quiet --upgrade pip
# The build must compile: HYPERSIO_REQUIRE_EXTENSIONS makes a missing extension an import error.
"$PYTHON" -m pip install --quiet ".[test]"
npm ci --prefix tests/js --no-audit --no-fund --loglevel=error

export HYPERSIO_REQUIRE_INTEROP=1
echo "== compiled extensions =="
HYPERSIO_REQUIRE_EXTENSIONS=1 "$PYTHON" -m pytest -q "$@"

echo "== pure-Python twins (HYPERSIO_NO_EXTENSIONS=1) =="
pure_dirs=()
for d in tests/engine tests/server tests/client; do
  [[ -d $d ]] && pure_dirs+=("$d")
done
if ((${#pure_dirs[@]})); then
  HYPERSIO_NO_EXTENSIONS=1 "$PYTHON" -m pytest -q tests/test_package.py "${pure_dirs[@]}" "$@"
else
  HYPERSIO_NO_EXTENSIONS=1 "$PYTHON" -m pytest -q tests/test_package.py "$@"
fi
