"""The compose stack on the project's private container engine (mediawatch.stack.engine).

A module-scoped :class:`~tests.support.engine_stack.ComposeStack`: the engine is set up
(installed, started, stand-in images built), ``docker compose up -d --build`` runs the
shipped docker-compose.yml (plus deploy/engine/compose.engine.yaml, which leaves Grafana out)
and every service is waited for until healthy. Afterwards the stack is taken down with its
volumes and the engine stopped. With ``CI=true`` an engine that cannot be had is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from mediawatch.stack.engine import Engine, EngineError
from tests.support.engine_stack import ComposeStack
from tests.support.environment import REPOSITORY, unavailable


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    if os.geteuid() != 0:
        unavailable("the container engine needs root (dockerd, iptables, a bridge)")
    engine = Engine(REPOSITORY)
    try:
        engine.up()
    except EngineError as exc:
        engine.stop()
        unavailable(f"the container engine could not be set up: {exc}")
    except BaseException:  # interrupted half-way: leave no daemon behind
        engine.stop()
        raise
    print(f"\nengine set-up ({engine.compose_kind}): {engine.timings.steps}")
    yield engine
    engine.stop()


@pytest.fixture(scope="module")
def stack(engine: Engine) -> Iterator[ComposeStack]:
    """The plain stack, for one test module: down before the next module's stack publishes
    the same host ports."""
    stack = ComposeStack(engine)
    stack.down(volumes=True)  # what a previous, interrupted run may have left
    stack.up_and_wait()
    yield stack
    stack.down(volumes=True)
