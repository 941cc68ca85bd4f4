"""The suite's throwaway PostgreSQL server (:mod:`mediawatch.stack.postgres`); with
``CI=true`` a server that cannot be had is a failure, never a skip."""

from __future__ import annotations

from mediawatch.stack.postgres import LocalPostgres, PostgresError
from tests.support.environment import unavailable


def start_postgres() -> LocalPostgres:
    try:
        return LocalPostgres().start()
    except PostgresError as exc:
        unavailable(str(exc))
        raise AssertionError("unreachable") from exc
