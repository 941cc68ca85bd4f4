"""The wheel the Dockerfile installs carries every package and the tagger's data files, so
the image works without the repository beside it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.support.environment import REPOSITORY


def test_wheel_holds_services_schemas_and_data(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(REPOSITORY)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("mediawatch-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "mediawatch/cli/main.py",
        "mediawatch/stack/broker.py",
        "mediawatch/query/__init__.py",
        "mediawatch/query/data/themes.yaml",
        "mediawatch/alerter/data/rules.yaml",
        "mediawatch/stack/data/kafka/pom.xml",
        "mediawatch/stack/data/samples/manifest.yaml",
        "mediawatch/stack/data/samples/actors.yaml",
        "mediawatch/schemas/events.py",
        "mediawatch/fetcher/service.py",
        "mediawatch/tagger/service.py",
        "mediawatch/alerter/service.py",
        "mediawatch/stack/up.py",
        "mediawatch/tagger/data/stance_model.json",
        "mediawatch/tagger/data/stance_cues.yaml",
        "mediawatch/tagger/data/stance/adapter.npz",
        "mediawatch/tagger/data/stance/vocab.txt",
        "mediawatch/tagger/data/catalogue/states.yaml",
        "mediawatch/tagger/data/catalogue/people.yaml",
        "mediawatch/tagger/data/catalogue/organisations.yaml",
        "mediawatch/tagger/data/catalogue/treaties.yaml",
        "mediawatch/tagger/data/outlets.yaml",
    ):
        assert required in names, required
    assert not any(name.startswith("tests/") for name in names)
    # Dev tooling (the local broker and its Maven pom) is not part of the runtime package.
    assert not any(name.startswith("mediawatch/runtime/broker") for name in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert (
        "mediawatch = mediawatch.cli.main:main"
        in zipfile.ZipFile(wheel).read(entry_points).decode()
    )
