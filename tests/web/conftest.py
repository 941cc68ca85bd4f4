"""The browser of the workspace tests: Debian's chromium, one per test module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.workspace import browser_pages


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    async for launched in browser_pages():
        yield launched
