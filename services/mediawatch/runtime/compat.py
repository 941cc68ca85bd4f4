"""The faust-streaming versions the runtime's subclasses of faust internals were proven on.

:mod:`ordering` subclasses faust's aiokafka consumer, its consumer thread and transport, and
relies on private attributes of them and of aiokafka's consumer; a faust release may rename
them without notice, and the failure would be silent: records skipped after a rebalance,
which only the kill tests show. So the stream
services refuse to start on a faust version that those tests have not passed on. To admit a
new version: install it, run ``tests/faults`` (the kill tests) 20 times in a row, then add it
here and widen the bound in ``pyproject.toml``.
"""

from __future__ import annotations

from importlib import metadata

#: Versions the kill tests passed on, 20 runs in a row.
TESTED_FAUST_VERSIONS = frozenset({"0.15.3"})


class UntestedFaustError(RuntimeError):
    """The installed faust-streaming is not one the ordering guard was proven on."""


def untested_faust_problem(installed: str | None = None) -> str | None:
    """Why the installed (or given) faust version may not run, or None when it may."""
    version = installed if installed is not None else metadata.version("faust-streaming")
    if version in TESTED_FAUST_VERSIONS:
        return None
    tested = ", ".join(sorted(TESTED_FAUST_VERSIONS))
    return (
        f"faust-streaming {version} is installed, but mediawatch's stream runtime subclasses "
        f"faust internals (mediawatch/runtime/ordering.py) proven only on {tested}; install "
        f"faust-streaming=={max(TESTED_FAUST_VERSIONS)}, or prove the new version with the "
        "kill tests and add it to mediawatch/runtime/compat.py"
    )


def require_tested_faust() -> None:
    """Raise :class:`UntestedFaustError` on a faust version the guard was not proven on."""
    problem = untested_faust_problem()
    if problem is not None:
        raise UntestedFaustError(problem)
