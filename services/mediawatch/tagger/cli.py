"""Tagger commands: ``tagger run``, ``stance``, ``themes check``, ``actors check`` and ``eval``.
They call the same code as the stream agents. ``tag`` and ``match`` read article files as the
fetcher does, so they live in ``mediawatch.cli.articles``, above both services."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from mediawatch.schemas import ArticleTagged
from mediawatch.tagger.settings import TaggerSettings

console = Console()
errors = Console(stderr=True, soft_wrap=True)  # a path in an error stays on one line

tagger_app = typer.Typer(help="The tagger service.", no_args_is_help=True)
themes_app = typer.Typer(help="Theme catalogues.", no_args_is_help=True)
actors_app = typer.Typer(help="Actor catalogues.", no_args_is_help=True)
eval_app = typer.Typer(
    help="Measure the tagger on labelled data of your own.", no_args_is_help=True
)


@tagger_app.command("run")
def tagger_run() -> None:
    """Start a tagger worker (faust); several workers share the partitions."""
    from mediawatch.runtime.settings import SettingsError, load_settings
    from mediawatch.tagger.service import run

    try:
        settings = load_settings(TaggerSettings)
    except SettingsError as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    run(settings)


def _tagger(themes: Path | None, actors: Path | None) -> Any:
    from mediawatch.tagger.pipeline import Tagger

    defaults = TaggerSettings()
    return Tagger.from_files(themes or defaults.themes_file, actors or defaults.actors_file)


_MODEL_OPTION = typer.Option(
    "contextual", "--model", help="Sentence stance model: contextual or lexical."
)


def stance(
    jsonl: Path = typer.Option(..., "--jsonl", help="Lines of {text, start, end}; - for stdin."),
    model_name: str = _MODEL_OPTION,
) -> None:
    """Add ``label`` and ``score`` to each ``{"text", "start", "end"}`` line, in order."""
    from mediawatch.tagger.pipeline import load_stance_model

    model = load_stance_model(model_name)
    stream = sys.stdin if str(jsonl) == "-" else jsonl.open(encoding="utf-8")
    with stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                text, start, end = item["text"], int(item["start"]), int(item["end"])
                if not (0 <= start < end <= len(text)):
                    raise ValueError(f"span {start}..{end} outside the text")
            except (ValueError, KeyError, TypeError) as exc:
                errors.print(f"{jsonl}:{number}: {exc!r}")
                raise typer.Exit(2) from None
            (prediction,) = model.predict_many([(text, start, end)])
            item["label"] = prediction.label.value
            item["score"] = round(prediction.score, 4)
            sys.stdout.write(json.dumps(item, ensure_ascii=False) + "\n")


@themes_app.command("check")
def themes_check(path: Path = typer.Argument(..., help="Theme catalogue YAML.")) -> None:
    """Validate a theme catalogue: every query parses, ids are unique."""
    from mediawatch.query import ThemeCatalogueError, load_theme_catalogue

    try:
        catalogue = load_theme_catalogue(path)
    except ThemeCatalogueError as exc:
        errors.print(str(exc))
        raise typer.Exit(1) from None
    console.print(f"{path}: {len(catalogue.themes)} themes, version {catalogue.version}: ok")


@actors_app.command("check")
def actors_check(path: Path = typer.Argument(..., help="Actor catalogue YAML.")) -> None:
    """Validate an actor catalogue."""
    from mediawatch.tagger.actors import ActorCatalogueError, load_actor_catalogue

    try:
        catalogue = load_actor_catalogue(path)
    except ActorCatalogueError as exc:
        errors.print(str(exc))
        raise typer.Exit(1) from None
    console.print(f"{path}: {len(catalogue.actors)} actors: ok")


@eval_app.command("actors")
def eval_actors(
    gold: Path = typer.Option(..., "--gold", help="Labelled articles, JSON Lines."),
    bodies: Path | None = typer.Option(
        None, "--bodies", help="CSV (Body ID, articleBody) for gold lines that name a body_id."
    ),
    split: str | None = typer.Option(None, "--split", help="Only lines of this split."),
    actors: Path | None = typer.Option(None, "--actors", help="A desk's own actor catalogue."),
    as_json: bool = typer.Option(False, "--json", help="The report as one JSON object."),
    show: int = typer.Option(40, "--show", help="Misses and extras listed (0: none)."),
) -> None:
    """Precision, recall and F1 of the actors, per type, with the misses and the extras."""
    from mediawatch.tagger.actors import ActorResolver, load_actor_catalogue
    from mediawatch.tagger.evaluation import (
        GoldArticle,
        GoldFileError,
        format_report,
        load_gold,
        score_actors,
    )
    from mediawatch.tagger.language import resolve_language
    from mediawatch.tagger.ner import RecogniserPool

    try:
        articles = load_gold(gold, bodies)
    except (GoldFileError, OSError) as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if split is not None:
        articles = [a for a in articles if a.split == split]
    resolver = ActorResolver(load_actor_catalogue(actors), RecogniserPool())

    def resolve(article: GoldArticle) -> list[Any]:
        language = resolve_language(article.language, article.text, article.title)
        return resolver.resolve(article.text, article.title or None, language)

    report = score_actors(articles, resolve)
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False) + "\n")
        return
    label = f"{gold}" + (f" (split {split})" if split else "")
    console.print(format_report(report, label), highlight=False)
    if show:
        console.print(f"\nmisses ({len(report.misses)}):", highlight=False)
        for key, kind, name in report.misses[:show]:
            console.print(f"  {key:>6}  {kind:<13} {name}", highlight=False)
        console.print(f"extras ({len(report.extras)}):", highlight=False)
        for key, kind, name in report.extras[:show]:
            console.print(f"  {key:>6}  {kind:<13} {name}", highlight=False)


@eval_app.command("stance")
def eval_stance(
    data: Path = typer.Option(..., "--data", help="Labelled sentences, NewsMTSC JSON Lines."),
    model_name: str = _MODEL_OPTION,
    as_json: bool = typer.Option(False, "--json", help="The report as one JSON object."),
) -> None:
    """Macro-F1, per-class F1 and targets/s of the sentence stance model on your data."""
    from mediawatch.tagger.pipeline import load_stance_model
    from mediawatch.tagger.stance_evaluation import StanceDataError, evaluate_stance

    try:
        report = evaluate_stance(load_stance_model(model_name), data)
    except (StanceDataError, OSError) as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict() | {"model": model_name}) + "\n")
        return
    console.print(report.format(f"{data} ({model_name})"), highlight=False)


@eval_app.command("article-stance")
def eval_article_stance(
    gold: Path = typer.Option(..., "--gold", help="Labelled articles (stance_gold format)."),
    bodies: Path = typer.Option(..., "--bodies", help="CSV (Body ID, articleBody)."),
    split: str | None = typer.Option(None, "--split", help="Only lines of this split."),
    as_json: bool = typer.Option(False, "--json", help="The report as one JSON object."),
    show: int = typer.Option(30, "--show", help="Disagreements listed (0: none)."),
) -> None:
    """Agreement of the article-level stance with hand labels, and its confusion counts."""
    from mediawatch.schemas import ArticleFetched, SourceInfo
    from mediawatch.tagger.stance_evaluation import StanceDataError, score_article_stances

    tagger = _tagger(None, None)

    def tag(text: str, genre: str | None) -> ArticleTagged:
        article = ArticleFetched(
            article_id="evaluation",
            source=SourceInfo(id="evaluation", type="inbox"),
            fetched_at=datetime.now(UTC),
            text=text,
            content_hash="0" * 64,
            genre=genre,
        )
        tagged: ArticleTagged = tagger.tag(article)
        return tagged

    try:
        report = score_article_stances(gold, bodies, tag, split)
    except (StanceDataError, OSError, KeyError, ValueError) as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict()) + "\n")
        return
    label = f"{gold}" + (f" (split {split})" if split else "")
    console.print(
        f"{label}: {report.agreed}/{report.targets} targets agree ({100 * report.agreement:.1f}%)",
        highlight=False,
    )
    for (wanted, got), count in sorted(report.confusion.items()):
        console.print(f"  labelled {wanted:<10} tagged {got:<10} {count}", highlight=False)
    for miss in report.misses[:show]:
        console.print(f"  {miss}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
    app.add_typer(tagger_app, name="tagger")
    app.add_typer(themes_app, name="themes")
    app.add_typer(actors_app, name="actors")
    app.command("stance")(stance)
