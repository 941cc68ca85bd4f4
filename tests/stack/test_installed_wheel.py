"""The wheel installed into a fresh virtual environment outside the checkout runs every command
with its defaults: ``tag``, ``rules check``, the three services and ``up``.

The environment gets the wheel and nothing of the checkout: its dependencies come from the test
environment's site-packages through a ``.pth`` line (a directory added that way is not scanned
for further ``.pth`` files, so the editable install's path to ``services/`` stays out), and
every command runs in an empty directory with ``PYTHONPATH`` unset. A default that still
pointed into the checkout (``deploy/config/...``, ``parents[3]``) fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediawatch.runtime.settings import KafkaSettings
from tests.support.environment import REPOSITORY, settings_environment
from tests.support.stack import interrupt, start_up, tagged_while_running
from tests.support.workers import ServiceProcess, start_ready

pytestmark = [pytest.mark.slow]

OPED = REPOSITORY / "tests" / "tagger" / "fixtures" / "oped-indivisible.txt"


class Installed:
    """A virtual environment holding the wheel, and an empty working directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.python = root / "venv" / "bin" / "python"
        self.mediawatch = root / "venv" / "bin" / "mediawatch"
        self.cwd = root / "work"

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAWATCH_")}
        env.pop("PYTHONPATH", None)
        env["COLUMNS"] = "200"
        return env | (extra or {})

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.mediawatch), *args], cwd=self.cwd, env=self.environment(),
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("installed")
    wheels = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(wheels), str(REPOSITORY)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = wheels.glob("mediawatch-*.whl")
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root / "venv")],
        check=True, capture_output=True,
    )  # fmt: skip
    site = Path(
        subprocess.run(
            [str(root / "venv" / "bin" / "python"), "-c",
             "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    (site / "test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(root / "venv" / "bin" / "python"),
         "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    installed = Installed(root)
    installed.cwd.mkdir()
    yield installed
    shutil.rmtree(root, ignore_errors=True)


def test_the_package_comes_from_the_wheel_not_the_checkout(installed: Installed) -> None:
    probe = subprocess.run(
        [str(installed.python), "-c",
         "import mediawatch.query, mediawatch.tagger, mediawatch.schemas as s; "
         "print(mediawatch.query.__file__); print(mediawatch.tagger.__file__); "
         "print(list(s.__path__)[0])"],
        cwd=installed.cwd, env=installed.environment(), capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    for line in probe.stdout.split():
        assert str(installed.root / "venv") in line, probe.stdout
        assert str(REPOSITORY) not in line, probe.stdout


def test_tag_and_rules_check_run_with_their_defaults(installed: Installed) -> None:
    article = installed.cwd / "oped.txt"
    shutil.copy(OPED, article)
    tagged = installed.run("tag", "--json", "--genre", "opinion", str(article))
    assert tagged.returncode == 0, tagged.stderr
    event = json.loads(tagged.stdout)
    assert "indivisible-security" in {t["theme_id"] for t in event["themes"]}
    assert {"state:ru", "state:cn", "org:nato"} <= {a["actor_id"] for a in event["actors"]}
    rules = subprocess.run(
        [str(installed.python), "-c",
         "from mediawatch.alerter.settings import AlerterSettings; "
         "print(AlerterSettings().rules_file)"],
        cwd=installed.cwd, env=installed.environment(), capture_output=True, text=True,
        check=True,
    ).stdout.strip()  # fmt: skip
    checked = installed.run("rules", "check", rules)
    assert checked.returncode == 0, checked.stderr
    assert ": ok" in checked.stdout


@pytest.mark.kafka
@pytest.mark.parametrize("service", ["fetcher", "tagger", "alerter"])
async def test_each_service_becomes_ready_with_its_defaults(
    installed: Installed, kafka_settings: KafkaSettings, tmp_path: Path, service: str
) -> None:
    env = installed.environment(
        settings_environment(kafka_settings) | {"MEDIAWATCH_STATE_DIR": str(tmp_path)}
    )
    worker = ServiceProcess(
        [service, "run"], env, tmp_path / f"{service}.log",
        executable=installed.mediawatch, cwd=installed.cwd,
    )  # fmt: skip
    try:
        await start_ready(worker, timeout_s=180)
    finally:
        worker.stop()


@pytest.mark.kafka
async def test_up_runs_the_samples_from_the_wheel(
    installed: Installed, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    process = await start_up(
        [str(installed.mediawatch)], kafka_settings, tmp_path / "state",
        env=installed.environment(), cwd=installed.cwd,
    )  # fmt: skip
    tagged = await tagged_while_running(process, kafka_settings, 5, bound_s=240)
    still_running = process.returncode is None
    output = await interrupt(process)
    assert still_running, output[-4000:]
    assert tagged >= 5, output[-4000:]
    assert process.returncode == 0, output[-4000:]
    assert "mediawatch stopped." in output


def test_the_defaults_export_for_editing_and_check_clean(installed: Installed) -> None:
    exported = installed.run("settings", "export-defaults", "config")
    assert exported.returncode == 0, exported.stderr
    folder = installed.cwd / "config"
    assert installed.run("themes", "check", str(folder / "themes.yaml")).returncode == 0
    assert installed.run("actors", "check", str(folder / "actors.yaml")).returncode == 0
    assert installed.run("rules", "check", str(folder / "rules.yaml")).returncode == 0
    again = installed.run("settings", "export-defaults", "config")
    assert again.returncode == 1 and "--force" in again.stderr
