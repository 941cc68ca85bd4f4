"""Settings of the tagger service (``MEDIAWATCH_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from mediawatch.query import builtin_themes_file
from mediawatch.runtime.settings import ServiceSettings


class TaggerSettings(ServiceSettings):
    """What the tagger reads and how much of each article it tags."""

    service_name: str = Field(default="tagger", description="Name used in logs and DLQ.")
    http_port: int = Field(default=8082, ge=0, le=65535, description="Port of /metrics, /readyz.")
    app_id: str = Field(
        default="mediawatch-tagger",
        description="faust application id = Kafka consumer group; workers with the same id "
        "share the partitions.",
    )
    themes_file: Path = Field(
        default_factory=builtin_themes_file,
        description="Theme catalogue (YAML); the default is the one that ships with mediawatch.",
    )
    actors_file: Path | None = Field(
        default=None,
        description="A desk's own actor catalogue (YAML), read on top of the built-in one; an "
        "entry with a built-in id replaces it. Unset: the built-in catalogue alone.",
    )
    open_world_actors: bool = Field(
        default=True,
        description="Find people and organisations outside the catalogue with the language's "
        "named-entity recogniser (English, French, Russian). Off: catalogue actors and cited "
        "people only; the actor stage then runs some 35 times faster (docs/actors.md).",
    )
    max_chars: int = Field(
        default=100_000,
        ge=1_000,
        description="Articles longer than this are tagged on their first max_chars characters "
        "and the event says so (truncated=true).",
    )
    concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Articles one worker has in hand at once. Tagging is CPU work, but each "
        "tagged event waits for Kafka's acks=all reply; several in hand overlap those waits. "
        "Offsets are still committed only up to the first article not yet written.",
    )
    max_stance_mentions: int = Field(
        default=8, ge=1, description="Mentions per actor or theme scored for stance."
    )
    min_stance_pairs: int = Field(
        default=12,
        ge=1,
        description="Mentions scored for stance per article at the least, over all targets.",
    )
    stance_pairs_per_1000_words: int = Field(
        default=40,
        ge=0,
        description="Mentions scored for stance per 1,000 words of the article, over all "
        "targets, when that is more than min_stance_pairs: themes first, then catalogue "
        "actors, then other actors, one mention each per round. The encoder is the tagger's "
        "costliest stage (docs/benchmarks.md); a target left without a scored mention is "
        "neutral and says so in its reason.",
    )
    stance_model: Literal["contextual", "lexical"] = Field(
        default="contextual",
        description="Sentence stance: 'contextual', MiniLM fine-tuned on NewsMTSC "
        "(docs/stance.md), or 'lexical', the older logistic regression over word features, "
        "some ten times faster and some ten points of macro-F1 worse. Both read English only; "
        "other languages get 'unknown'.",
    )
    stance_threads: int = Field(
        default=1, ge=1, le=64, description="CPU threads of the stance encoder per worker."
    )
