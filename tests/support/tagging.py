"""What two taggings must share to count as the same result."""

from __future__ import annotations

from mediawatch.schemas import ArticleTagged


def tag_signature(tagged: ArticleTagged) -> tuple[object, ...]:
    return (
        [(t.theme_id, [(e.start, e.end) for e in t.evidence]) for t in tagged.themes],
        [(a.actor_id, [(m.start, m.end) for m in a.mentions]) for a in tagged.actors],
        [(s.target_id, s.label, round(s.score, 6)) for s in tagged.stances],
    )
