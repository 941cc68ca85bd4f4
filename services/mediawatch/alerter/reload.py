"""The rules file, reloaded while the alerter runs.

Whoever edits the rules (an editor saving in the web workspace, an operator, a deployment)
rewrites the file, ideally atomically (a temporary file, then ``os.replace``); the alerter
must take the new rules without a restart, because a restart of a faust worker rebalances the
group and restores the tables from their changelogs, which takes the alerts offline for a while.

:class:`RulesFile` is polled (``MEDIAWATCH_RULES_RELOAD_S``) rather than told: a poll works the
same on every file system and in a container whose file is a mounted volume, where file
notifications often never arrive. A poll costs one ``stat``; the file is read only when its
inode, modification time or size changed (or it changed within the last seconds, see
:data:`RACY_NS`), and parsed only when the SHA-256 of its bytes (the ``rules_version`` that
alerts carry) changed too, so touching the file or writing the same rules again changes
nothing.

A changed file that does not validate never replaces the rules in force: a typo saved by an
editor must not silence every alert. It is logged with its problems and counted once in
``mediawatch_rules_reload_failures_total``, and the rules loaded before keep running until a
valid version of the file appears. A file that went missing (or cannot be read) is treated the
same way. A writer that does not replace the file atomically may be seen half-written; that
version fails, is counted, and the complete one is loaded at the next poll.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from mediawatch.alerter import metrics
from mediawatch.alerter.rules import RulesError, RuleSet, content_hash, load_rules, parse_rules_text

log = logging.getLogger(__name__)

#: What a ``stat`` tells about a version of the file: inode (``os.replace`` brings a new one),
#: modification time in nanoseconds and size.
Stamp = tuple[int, int, int]

#: File timestamps tick coarsely (a few milliseconds on Linux, 2 s on FAT), and a freed inode
#: number is often given to the next new file: a file rewritten within one tick of the read
#: may keep the stamp of the version read. As git does for "racily clean" index entries, a
#: file whose modification time is this close to (or after) the last read is hashed again at
#: each check, until it is older.
RACY_NS = 2_000_000_000


class RulesFile:
    """The rules in force, loaded from ``path``, and the memory of which version of the file
    was looked at last (so that each change is parsed, logged and counted once).

    With ``rules`` (already loaded from ``path`` by the caller) the first :meth:`check` reads
    the file once and compares its hash with theirs: a file that changed between the caller's
    load and this object's creation is then still noticed. Without, the file is loaded here and
    a file that does not validate raises :class:`RulesError`: a service must not start without
    rules it can trust."""

    def __init__(self, path: Path, rules: RuleSet | None = None) -> None:
        self.path = path
        stamp: Stamp | None = None
        read_at = time.time_ns()
        if rules is None:
            stamp = self._stat()  # before reading: a change after the read is then noticed
            rules = load_rules(path)
        self.current = rules
        self._stamp = stamp
        self._read_at_ns = read_at
        self._digest = rules.content_hash  # of the bytes looked at last, valid or not
        self._missing = False
        metrics.observe_rules_version(rules.content_hash)

    def _stat(self) -> Stamp | None:
        try:
            found = os.stat(self.path)
        except OSError:
            return None
        return (found.st_ino, found.st_mtime_ns, found.st_size)

    def _unreadable(self, error: OSError | None) -> None:
        """The file is gone or cannot be read: keep the rules, say so once."""
        self._stamp = None
        if self._missing:
            return
        self._missing = True
        reason = (error.strerror or str(error)) if error is not None else "no such file"
        metrics.RULES_RELOAD_FAILURES.labels("missing").inc()
        log.error(
            "rules file %s cannot be read (%s); the rules loaded before stay in force (version %s)",
            self.path,
            reason,
            self.current.content_hash,
            extra={"path": str(self.path), "rules_version": self.current.content_hash},
        )

    def check(self) -> RuleSet | None:
        """Look at the file once: the new :class:`RuleSet` when the file holds other valid
        rules than those in force (they are then in force), else None (unchanged, unreadable,
        or not valid: the rules in force stay)."""
        stamp = self._stat()
        if stamp is None:
            self._unreadable(None)
            return None
        if stamp == self._stamp and stamp[1] < self._read_at_ns - RACY_NS:
            return None
        read_at = time.time_ns()
        try:
            content = self.path.read_bytes()
        except OSError as exc:
            self._unreadable(exc)
            return None
        self._stamp, self._read_at_ns = stamp, read_at
        if self._missing:
            self._missing = False
            log.info("rules file %s can be read again", self.path, extra={"path": str(self.path)})
        digest = content_hash(content)
        if digest == self._digest:
            return None  # touched, or rewritten with the same bytes
        self._digest = digest
        if digest == self.current.content_hash:
            log.info(
                "rules file %s holds the rules in force again (version %s)",
                self.path,
                digest,
                extra={"path": str(self.path), "rules_version": digest},
            )
            return None
        try:
            # The bytes that were hashed are the bytes parsed: load_rules would read the file
            # again, and a second writer could slip in between.
            fresh = parse_rules_text(content.decode("utf-8"), str(self.path))
        except UnicodeDecodeError as exc:
            self._failed([f"{self.path}: not UTF-8 text: {exc}"], digest)
            return None
        except RulesError as exc:
            self._failed(exc.problems, digest)
            return None
        except Exception as exc:  # e.g. RecursionError: no file may stop the running alerter
            self._failed([f"{self.path}: cannot be loaded: {type(exc).__name__}: {exc}"], digest)
            return None
        self._loaded(fresh)
        return fresh

    def _failed(self, problems: list[str], digest: str) -> None:
        metrics.RULES_RELOAD_FAILURES.labels("invalid").inc()
        log.error(
            "rules file %s changed but is not valid; the rules loaded before stay in force "
            "(version %s):\n%s",
            self.path,
            self.current.content_hash,
            "\n".join(problems),
            extra={
                "path": str(self.path),
                "rules_version": self.current.content_hash,
                "rejected_version": digest,
                "problems": problems,
            },
        )

    def _loaded(self, fresh: RuleSet) -> None:
        before, after = self.current.by_id(), fresh.by_id()
        added = sorted(after.keys() - before.keys())
        removed = sorted(before.keys() - after.keys())
        changed = sorted(i for i in after.keys() & before.keys() if after[i] != before[i])
        previous = self.current.content_hash
        self.current = fresh
        metrics.RULES_RELOADS.inc()
        metrics.observe_rules_version(fresh.content_hash)
        log.info(
            "rules reloaded from %s: version %s -> %s; added %s; removed %s; changed %s",
            self.path,
            previous,
            fresh.content_hash,
            ", ".join(added) or "none",
            ", ".join(removed) or "none",
            ", ".join(changed) or "none",
            extra={
                "path": str(self.path),
                "rules_version": fresh.content_hash,
                "previous_version": previous,
                "added": added,
                "removed": removed,
                "changed": changed,
            },
        )

    async def follow(self, interval_s: float, apply: Callable[[RuleSet], None]) -> None:
        """Check every ``interval_s`` seconds until cancelled and hand each new rule set to
        ``apply`` (for a process without faust's timers: delivery on its own). An unexpected
        error is logged and the loop goes on: the rules in force keep working either way."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                fresh = self.check()
                if fresh is not None:
                    apply(fresh)
            except Exception:
                log.exception("rules reload failed", extra={"path": str(self.path)})
