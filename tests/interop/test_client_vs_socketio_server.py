"""hypersio.AsyncClient against the official Node server: every client scenario
(tests/_support/client_scenarios.py) over each transport and parser."""

from __future__ import annotations

import pytest

from _support.client_scenarios import *  # noqa: F403  (the scenario test functions)

pytestmark = [pytest.mark.interop, pytest.mark.timeout(10)]
