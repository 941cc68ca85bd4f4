"""``mediawatch tag`` and ``mediawatch match``: article files read exactly as the fetcher's inbox
reads them, then tagged or matched exactly as the stream does.

They compose two services (the fetcher's file reader, the tagger's pipeline or the query
library), so they live here, in the command line that sits above the services, and neither
service imports the other.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from mediawatch.schemas import ArticleTagged, Evidence
from mediawatch.tagger.settings import TaggerSettings

console = Console()
errors = Console(stderr=True, soft_wrap=True)  # a path in an error stays on one line


def _highlight(sentence: str, offset: int, spans: list[Evidence]) -> Text:
    text = Text(sentence)
    for span in spans:
        text.stylize("bold yellow", span.start - offset, span.end - offset)
    return text


def _report(path: Path, tagged: ArticleTagged) -> None:
    console.rule(f"[bold]{tagged.article.title or path.name}[/bold]  ({path})")
    console.print(
        f"language: {tagged.language}   genre: {tagged.article.genre or 'unlabelled'}   "
        f"tone: {tagged.tone.label if tagged.tone else '-'}"
        f"   truncated: {tagged.truncated}   {tagged.tagger.timings_ms.get('total', 0):.1f} ms"
    )
    console.print("[bold]Themes[/bold]")
    for theme in tagged.themes:
        console.print(f"  {theme.theme_id} ({theme.label}): {len(theme.evidence)} mentions")
        for evidence in theme.evidence:
            start = evidence.sentence_start or 0
            console.print("    ", _highlight(evidence.sentence, start, [evidence]))
    console.print("[bold]Actors[/bold]")
    for actor in tagged.actors:
        where = "" if actor.in_catalogue else " (not in catalogue)"
        if actor.role == "source":
            where += " (cited as a source)"
        console.print(
            f"  {actor.actor_id}  {actor.name} [{actor.type}] x{len(actor.mentions)}{where}"
        )
    console.print("[bold]Stance[/bold]")
    for stance in tagged.stances:
        colour = {"critical": "red", "supportive": "green"}.get(stance.label.value, "white")
        console.print(
            f"  {stance.target_kind} {stance.target_id}: "
            f"[{colour}]{stance.label.value}[/{colour}] ({stance.score:+.2f})  "
            f"[dim]{stance.reason}[/dim]",
            highlight=False,
        )
        for evidence in stance.evidence[:2]:
            start = evidence.sentence_start or 0
            console.print("    ", _highlight(evidence.sentence, start, [evidence]))


def tag(
    files: list[Path] = typer.Argument(..., help="Article files: .txt, .md, .html or .json."),
    as_json: bool = typer.Option(False, "--json", help="One ArticleTagged JSON per line."),
    themes: Path | None = typer.Option(None, "--themes", help="Theme catalogue."),
    actors: Path | None = typer.Option(None, "--actors", help="Actor catalogue."),
    genre: str | None = typer.Option(
        None, "--genre", help="news, opinion or analysis, as a page or feed would label it."
    ),
) -> None:
    """Tag article files with themes, actors and stance, with the evidence."""
    from mediawatch.fetcher.files import ArticleFileError, read_article

    if genre not in (None, "news", "opinion", "analysis"):
        errors.print(f"[red]--genre {genre!r}: expected news, opinion or analysis[/red]")
        raise typer.Exit(2)

    from mediawatch.tagger.pipeline import Tagger

    defaults = TaggerSettings()
    tagger = Tagger.from_files(themes or defaults.themes_file, actors or defaults.actors_file)
    failed = False
    for path in files:
        try:
            article = read_article(path)
        except ArticleFileError as exc:
            errors.print(f"[red]{exc}[/red]")
            failed = True
            continue
        if genre is not None:
            article = article.model_copy(update={"genre": genre, "genre_from": "--genre"})
        tagged = tagger.tag(article)
        if as_json:
            sys.stdout.write(tagged.model_dump_json() + "\n")
        else:
            _report(path, tagged)
    if failed:
        raise typer.Exit(1)


def match(
    query: str = typer.Argument(..., help="A query in the theme query language."),
    files: list[Path] = typer.Argument(..., help="Article files."),
    as_json: bool = typer.Option(False, "--json", help="JSON with the evidence."),
) -> None:
    """Evaluate one query on each file: ``<path>\\t<true|false>`` per line."""
    from mediawatch.fetcher.files import ArticleFileError, read_article
    from mediawatch.query import Document, QuerySyntaxError, compile_query

    try:
        compiled = compile_query(query)
    except QuerySyntaxError as exc:
        errors.print(str(exc))
        raise typer.Exit(2) from None
    failed = False
    for path in files:
        try:
            article = read_article(path)
        except ArticleFileError as exc:
            errors.print(str(exc))
            failed = True
            continue
        document = Document(
            article.text,
            title=article.title,
            language=article.language,
            source_id=article.source.id,
            country=article.source.country,
            outlet_type=article.source.outlet_type,
        )
        result = compiled.evaluate(document)
        if as_json:
            payload = {
                "path": str(path),
                "matched": result.matched,
                "evidence": [e.model_dump() for e in result.evidence],
            }
            sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(f"{path}\t{'true' if result.matched else 'false'}\n")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("tag")(tag)
    app.command("match")(match)
