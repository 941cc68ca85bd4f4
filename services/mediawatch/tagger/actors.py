"""Catalogue actors in article text, in English, French and Russian.

Every alias of every actor in the article's language is matched with one Aho-Corasick
automaton per language (case-sensitive, so "US" is not "us"); leftmost-longest matches on word
boundaries are kept and then judged in context. Russian text is matched on lemmas
(:mod:`mediawatch.query`), so "Путина", "Кремля" and "Москвы" find Putin, the
Kremlin and Moscow; French and English are matched as written (accents optional).

Context rules:

* weak aliases ("Xi", "May") need, per actor, a full name elsewhere in the article, a title
  right before them ("President Xi") or a mention of the person's state;
* capital cities stand for a government only when the context says so: never after a place
  word ("in Moscow", "à Pékin", "в Москве"), also through a coordination ("in Moscow and
  Beijing"), or before a capitalised word ("Moscow State University"); in English they are
  accepted when possessive ("Moscow's position"), before a reporting or policy verb ("Moscow
  insists"), coordinated with another state, or after a relational word ("sanctions on");
* seats of government ("the Kremlin", "the White House", "Downing Street") always stand for it;
* demonyms count only when they name a government, its forces or officials ("the Russian
  ambassador", "British planes", "l'armée russe", "российский МИД"), never goods or private
  people ("Russian-made", "Russian tourists");
* state names that double as given names ("Chad", "Jordan") are rejected before another
  capitalised word ("Jordan Peterson"); short all-capital aliases ("US") inside all-capital
  runs ("LET US").

People, organisations and outlets outside the catalogue are found by
:mod:`mediawatch.tagger.openworld`, which also joins short forms and catches typos.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ahocorasick

from mediawatch.query import lemma, lemma_variants, lemmatise, russian_case
from mediawatch.schemas import ActorTag, Evidence
from mediawatch.tagger.boilerplate import mask_boilerplate
from mediawatch.tagger.catalogue import (
    Actor,
    ActorCatalogue,
    ActorCatalogueError,
    ActorType,
    load_actor_catalogue,
)
from mediawatch.tagger.ner import RecogniserPool
from mediawatch.tagger.openworld import CatalogueHit, FoundActor, OpenWorldFinder
from mediawatch.tagger.people import Field

__all__ = [
    "Actor",
    "ActorCatalogue",
    "ActorCatalogueError",
    "ActorResolver",
    "ActorType",
    "Field",
    "load_actor_catalogue",
]


# --------------------------------------------------------------------------- matching

# Alias kinds, in the automaton payload.
_NAME, _WEAK, _DEMONYM, _CAPITAL, _SEAT, _NAME_LIKE, _BLOCK = range(7)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_TITLE_BEFORE = re.compile(
    r"(?:\b(?:President|Premier|Minister|Chancellor|Secretary|Chairman|Leader|King|Queen|Prince|"
    r"Princess|Emperor|Sir|Dame|Lord|Lady|Senator|Sen\.|Governor|Gov\.|Commissioner|"
    r"Ambassador|PM|General|Gen\.|Vice-President|Secretary-General|Director-General)\s+)$"
)
_PLACE_WORDS = _words(
    "in to from at near into onto outside inside around across via through within of over "
    "above below beyond throughout visited visit visiting visits left leave leaving leaves "
    "arrived arrive arriving arrives reached reach landed fled flew fly flying travelled "
    "traveled travel travelling traveling returned return returning based live lives lived "
    "living born downtown central suburban greater streets mayor residents moved here there "
    "back including"
)
_RELATION_WORDS = _words(
    "between with against on by for than accused urged told warned pressed "
    "asked criticised criticized condemned sanctioned sanctioning sanctions pressure ties "
    "relations talks deal blamed blaming backed backing supported supporting punish punishing "
    "isolate isolating confront confronting engage engaging persuade convince reassure trust "
    "trusted distrust rebuked rebuke defied defy challenged challenge"
)
_GOV_VERBS = _words(
    "says said insists insisted claims claimed wants wanted warns warned accuses accused denies "
    "denied rejects rejected responded responds reacted reacts announced announces argues argued "
    "believes believed sees saw views viewed considers considered regards regarded hopes hoped "
    "fears feared seeks sought demands demanded refuses refused agreed agrees signed signs vowed "
    "vows threatened threatens plans planned intends intended expects expected confirmed "
    "confirms condemned condemns welcomed welcomes urged urges called calls pushed pushes pressed "
    "presses backed backs supports supported opposes opposed imposed imposes retaliated "
    "retaliates launched launches sent sends deployed deploys offered offers proposed proposes "
    "maintains maintained stressed stresses reiterated reiterates declared declares blamed "
    "blames accepted accepts approved approves decided decides chose chooses sanctioned "
    "sanctions expelled expels summoned summons recalled recognised recognized recognises "
    "recognizes has have had will would could should must might can cannot won't wouldn't "
    "can't did does didn't doesn't remains remained appears appeared seems seemed needs needed "
    "tried tries continues continued struck strikes moved moves took takes made makes "
    "insist want claim deny reject warn accuse see fear seek demand refuse agree sign "
    "vow threaten plan intend expect confirm condemn welcome urge push back support oppose "
    "impose retaliate launch send deploy offer propose maintain stress reiterate declare "
    "blame accept approve decide"
)
_ADVERBS = _words(
    "also now still already again quickly repeatedly reportedly officially publicly openly "
    "long never always firmly strongly clearly not has have had will would could should must "
    "may might can did does do is was has been"
)
_PLACE_NOUNS = _words(
    "streets street mayor metro subway airport airports residents suburbs outskirts centre "
    "center skyline city population citizens hotels restaurants parks museums districts "
    "district neighbourhoods neighborhoods region oblast police hotel hotels apartment court "
    "university office offices bureau correspondent station zoo suburb marathon stock "
    "exchange international time native resident home house school hospital"
)
_GAP_COORD = re.compile(r"^\s*(?:,|and|or|/|-|–|—|,\s*and)\s*$")
_PREV_WORD = re.compile(r"([\w']+)[^\w\n]*$")
_NEXT_WORDS = re.compile(r"^\s+([a-z][\w']*)(?:\s+([a-z][\w']*))?")
_POSSESSIVE = re.compile(r"^['’]s\b(?:\s+(\w+))?")
_DATE_AFTER = re.compile(r"[ \t]+\d")
_MONTHS = _words(
    "January February March April May June July August September October November December"
)
_DATE_WORDS = _words(
    "in on since until till by from through early late mid last next this of during before "
    "after between and or to"
)
_SENTENCE_OPENERS = _words(
    "The Then But And Yet So Now Still Also Meanwhile However Instead Today When While If "
    "Although Though Because Since After Before Even Only Why How What Indeed Thus Hence "
    "Moreover Nevertheless Nonetheless Clearly Obviously Perhaps Both Neither Either"
)
_NOT_GOV_PARTICIPLES = _words("based located situated headquartered born bred")
_FOLLOWED_BY_NAME = re.compile(r"[ \t]+[A-Z][a-z]")
_COORD_BEFORE = re.compile(r"([\w']+)\s+[A-Z][\w'’.-]*(?:\s*,\s*(?:and\s+)?|\s+(?:and|or)\s+)$")


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _ascii_fold(text: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    ).replace("ı", "i")


def _variants(alias: str, fold: bool) -> set[str]:
    alias = alias.strip()
    if alias.lower().startswith("the ") and len(alias) > 4:
        alias = alias[4:]
    out = {alias}
    if alias[:1].islower():
        out.add(alias[:1].upper() + alias[1:])
    for a in list(out):
        if "'" in a:
            out.add(a.replace("'", "’"))
        if "isation" in a:
            out.add(a.replace("isation", "ization"))
        if "ization" in a:
            out.add(a.replace("ization", "isation"))
    if fold:
        out |= {_ascii_fold(a) for a in out}
    return out


_FR_PLACE_WORDS = _words(
    "à a en au aux dans depuis vers près sur via chez visite visité rendu arrivé arrivée "
    "retour habitants habitant rues maire banlieue métro né née"
)
_RU_PLACE_LEMMAS = _words(
    "в во из на под у около до через по возле близ житель мэр улица побережье берег "
    "территория граница север юг восток запад курорт город регион район окраина пригород "
    "гражданин турист"
)
_RU_RELATION_LEMMAS = _words(
    "позиция заявление ответ решение требование политика действие сторона обвинение "
    "предложение давление санкция отношение переговоры диалог курс реакция власть "
    "руководство представитель претензия"
)
_GOV_NOUNS_EN = _words(
    "government governments ambassador ambassadors embassy embassies army armies military "
    "forces force troops soldiers navy naval air officials official diplomats diplomat "
    "diplomacy authorities president president's prime foreign defence defense ministry "
    "ministries minister ministers leader leaders leadership regime planes jets warplanes "
    "warships ships submarines drones missiles missile airstrikes airstrike strikes strike "
    "bombers fighter intelligence delegation delegates counterpart counterparts side "
    "state-run state envoy envoys spokesman spokeswoman spokesperson parliament lawmakers "
    "legislators police security administration cabinet coast commanders commander "
    "generals general guards consulate consul negotiators warship jet aircraft "
    "presidency chancellor premier sanctions bombing bombs raids raid tanks artillery "
    "battalion brigade units unit contingent peacekeepers marines special secret "
    "counter-terrorism counterterrorism interior justice judiciary courts court prosecutors "
    "investigators agents agency agencies space nuclear regulators regulator watchdog censors "
    "judges officers arsenal arsenals warheads"
)
_GOV_NOUNS_FR = _words(
    "gouvernement armée armées forces troupes militaires ministre ministres ministère "
    "ambassadeur ambassade diplomatie diplomate diplomates président présidente autorités "
    "dirigeants dirigeant chef avions navires sous-marins délégation porte-parole régime "
    "pouvoir services renseignement police marine aviation frappes missiles soldats parlement "
    "état homologue homologues exécutif chancelier premier drones"
)
_GOV_LEMMAS_RU = _words(
    "мид правительство власть армия войско военный президент министр министерство посол "
    "посольство дипломат дипломатия делегация сторона лидер руководство флот самолет "
    "истребитель ракета удар спецслужба разведка силовик пограничник парламент депутат "
    "военнослужащий солдат вс ввс вмс кабмин премьер коллега ведомство минобороны "
    "генштаб командование"
)
_TITLE_LEMMAS_RU = _words(
    "президент премьер министр глава председатель генсек канцлер господин г-н лидер "
    "госсекретарь председатель"
)
_TITLE_BEFORE_FR = re.compile(
    r"(?:\b(?:président|présidente|ministre|Premier|premier|chancelier|M\.|Mme|secrétaire|"
    r"dirigeant|chef)\s+)$"
)
_DEMONYM_OFF = re.compile(r"[-‐–](?:made|born|built|owned|based|language|speaking|style)\b")
_COORDINATED_DEMONYM = re.compile(r"(?:,|\s+and|\s+or|,\s+and)\s+[A-Z][a-z]+(?=[\s,])")
_PLURAL_DEMONYM_VERB = re.compile(r"\s+(?:have|had|has|will|would)?\s*([a-z]+)")
_LATIN_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ'’-]+")


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    actor: int
    kind: int


class _SurfaceTable:
    """One automaton over the surface forms of one language (English, French)."""

    def __init__(self, entries: Sequence[tuple[str, int, int, bool]], blockers: Sequence[str]):
        table: dict[str, tuple[int, int]] = {}
        for alias, actor, kind, fold in entries:
            for variant in _variants(alias, fold):
                if len(variant) < 2:
                    continue
                old = table.get(variant)
                # A stronger kind wins; the first actor keeps an alias two actors share.
                if (
                    old is None
                    or (old[0] == actor and kind < old[1])
                    or (old[1] == _BLOCK and kind != _BLOCK)
                ):
                    table[variant] = (actor, kind)
        for alias in blockers:
            if alias not in table:
                table[alias] = (-1, _BLOCK)
        automaton: Any = ahocorasick.Automaton()
        for alias, (actor, kind) in table.items():
            automaton.add_word(alias, (len(alias), actor, kind))
        automaton.make_automaton()
        self.automaton = automaton
        self.size = len(table)

    def candidates(self, text: str) -> list[_Hit]:
        raw: list[tuple[int, int, int, int]] = []
        n = len(text)
        for end_index, (length, actor, kind) in self.automaton.iter(text):
            start = end_index - length + 1
            end = end_index + 1
            if start > 0 and _is_word_char(text[start - 1]):
                continue
            if (
                kind != _BLOCK
                and end < n
                and _is_word_char(text[end])
                and _is_word_char(text[end - 1])
            ):
                # French plurals and feminines of demonyms ("russes", "américaine") are the
                # demonym: the stem matched, an inflection follows.
                if not (kind == _DEMONYM and _fr_inflection(text, end)):
                    continue
                end = _word_end(text, end)
            raw.append((start, -end, actor, kind))
        return _leftmost_longest(raw)


def _fr_inflection(text: str, end: int) -> bool:
    tail = _word_end(text, end)
    return text[end:tail] in ("s", "e", "es", "ne", "nes", "le", "les")


def _word_end(text: str, pos: int) -> int:
    n = len(text)
    while pos < n and _is_word_char(text[pos]):
        pos += 1
    return pos


def _leftmost_longest(raw: list[tuple[int, int, int, int]]) -> list[_Hit]:
    raw.sort()
    out: list[_Hit] = []
    last_end = -1
    for start, neg_end, actor, kind in raw:
        if start >= last_end:
            out.append(_Hit(start, -neg_end, actor, kind))
            last_end = -neg_end
    return out


class _LemmaTable:
    """One automaton over the lemmatised Russian forms; hits map back to the original words."""

    def __init__(self, entries: Sequence[tuple[str, int, int, bool]]) -> None:
        table: dict[str, tuple[int, int, bool]] = {}
        for alias, actor, kind, _ in entries:
            upper = alias.isupper() and len(alias) <= 5
            for key in _alias_keys(alias):
                old = table.get(key)
                if old is None or (old[0] == actor and kind < old[1]):
                    table[key] = (actor, kind, upper)
        automaton: Any = ahocorasick.Automaton()
        for key, (actor, kind, upper) in table.items():
            automaton.add_word(key, (len(key), actor, kind, upper))
        automaton.make_automaton()
        self.automaton = automaton
        self.size = len(table)

    def candidates(self, text: str) -> list[_Hit]:
        lemmas = lemmatise(text)
        raw: list[tuple[int, int, int, int]] = []
        for end_index, (length, actor, kind, upper) in self.automaton.iter(lemmas.joined):
            first = lemmas.word_at(end_index - length + 2)
            last = lemmas.word_at(end_index - 1)
            start, end = lemmas.starts[first], lemmas.ends[last]
            surface = text[start:end]
            if surface.count("«") > surface.count("»") and text[end : end + 1] == "»":
                end += 1  # "клуб «Валдай»": the name's closing guillemet is part of it
            if upper and not text[start:end].isupper():
                continue  # "ЕС" (the EU) is not "ес"
            raw.append((start, -end, actor, kind))
        return _leftmost_longest(raw)


def _alias_keys(alias: str) -> list[str]:
    """The lemma sequences under which a Russian alias is indexed: its own, and those of the
    inflected forms of each word (at most 24 per alias)."""
    words = [alias[m.start() : m.end()] for m in _RU_ALIAS_WORD.finditer(alias)]
    if not words:
        return []
    keys = [lemmatise(alias).joined]
    combos: list[list[str]] = [[]]
    for word in words:
        combos = [[*c, v] for c in combos for v in lemma_variants(word)][:24]
    for combo in combos:
        key = " " + " ".join(combo) + " "
        if key not in keys:
            keys.append(key)
    return keys


_RU_ALIAS_WORD = re.compile(r"[0-9A-Za-zА-Яа-яЁё]+(?:[-‐][0-9A-Za-zА-Яа-яЁё]+)*")


class ActorResolver:
    """Find catalogue actors, and (with recognisers) every other actor, in article text."""

    languages: tuple[str, ...] = ("en", "fr", "ru")

    def __init__(
        self, catalogue: ActorCatalogue, recognisers: RecogniserPool | None = None
    ) -> None:
        self.catalogue = catalogue
        self._actors: tuple[Actor, ...] = catalogue.actors
        index = {a.id: i for i, a in enumerate(self._actors)}
        self._country_of: list[int] = [
            index.get(f"state:{a.country}", -1) if a.country else -1 for a in self._actors
        ]
        self._tables: dict[str, _SurfaceTable | _LemmaTable] = {}
        self._open_world = OpenWorldFinder(catalogue, recognisers)

    @property
    def alias_count(self) -> int:
        return self._table("en").size

    def _entries(self, language: str) -> list[tuple[str, int, int, bool]]:
        entries: list[tuple[str, int, int, bool]] = []
        for i, a in enumerate(self._actors):
            fold = a.type != "state"
            forms = a.forms.get(language)
            if forms is None:
                continue
            names = [a.name, *forms.aliases] if language == "en" else list(forms.aliases)
            for alias in names:
                entries.append((alias, i, _NAME_LIKE if alias in forms.name_like else _NAME, fold))
            entries += [(alias, i, _SEAT, fold) for alias in forms.seats]
            entries += [(alias, i, _DEMONYM, False) for alias in forms.demonyms]
            entries += [(alias, i, _CAPITAL, True) for alias in forms.capitals]
            entries += [(alias, i, _WEAK, fold) for alias in forms.weak_aliases]
            if language == "fr" and a.type != "state":
                # Latin-script names of people and organisations read the same in French.
                en = a.en()
                entries += [(alias, i, _NAME, fold) for alias in (a.name, *en.aliases)]
                entries += [(alias, i, _WEAK, fold) for alias in en.weak_aliases]
        return entries

    def _table(self, language: str) -> _SurfaceTable | _LemmaTable:
        table = self._tables.get(language)
        if table is None:
            entries = self._entries(language)
            if language == "ru":
                table = _LemmaTable(entries)
            else:
                table = _SurfaceTable(entries, self.catalogue.blockers)
            self._tables[language] = table
        return table

    # ------------------------------------------------------------------ public

    def resolve(
        self, text: str, title: str | None = None, language: str | None = "en"
    ) -> list[ActorTag]:
        """Actors in ``text`` (and ``title``), each with every mention, by first mention.

        ``language`` picks the aliases and context rules (en, fr, ru; anything else is read as
        English, whose names and acronyms are the most widely shared). Offsets of a mention
        refer to ``text`` (``field="text"``) or to ``title`` (``field="title"``).
        """
        lang = language if language in self.languages else "en"
        table = self._table(lang)
        original = text
        text = mask_boilerplate(text)
        fields: list[tuple[Field, str]] = [("text", text)]
        if title:
            fields.append(("title", title))
        hits = {name: table.candidates(value) for name, value in fields}
        accepted: dict[Field, list[_Hit]] = {}
        present: set[int] = set()
        for name, value in fields:
            kept: list[_Hit] = []
            candidates = hits[name]
            for j, hit in enumerate(candidates):
                if hit.kind in (_BLOCK, _WEAK):
                    continue
                if not self._context_ok(lang, value, candidates, j):
                    continue
                kept.append(hit)
                present.add(hit.actor)
            accepted[name] = kept
        # A state named only as a location ("in Syria", "fled to Turkey") is no actor.
        self._drop_locations(lang, fields, accepted, present)
        # Weak aliases, now that the strong mentions of the whole article are known.
        for name, value in fields:
            for hit in hits[name]:
                if hit.kind == _WEAK and self._weak_ok(lang, value, hit, present):
                    accepted[name].append(hit)
                    present.add(hit.actor)
        catalogue_hits = [
            CatalogueHit(
                name,
                hit.start,
                hit.end,
                self._actors[hit.actor],
                demonym=hit.kind == _DEMONYM,
                name_like=hit.kind == _NAME_LIKE,
            )
            for name, kept in accepted.items()
            for hit in kept
        ]
        # Spans the open-world stage may not claim: every catalogue match, accepted or not (a
        # capital read as a place is still no person's name), but not blockers or weak aliases.
        claimed: dict[Field, list[tuple[int, int]]] = {}
        for name, _ in fields:
            spans = [(h.start, h.end) for h in hits[name] if h.kind not in (_WEAK, _BLOCK)]
            spans += [(h.start, h.end) for h in accepted[name] if h.kind == _WEAK]
            claimed[name] = sorted(spans)
        kept_spans = {name: sorted((h.start, h.end) for h in accepted[name]) for name, _ in fields}
        found = self._open_world.find(fields, lang, catalogue_hits, claimed, kept_spans)
        return _build([("text", original), *fields[1:]], found)

    def _drop_locations(
        self,
        lang: str,
        fields: Sequence[tuple[Field, str]],
        accepted: dict[Field, list[_Hit]],
        present: set[int],
    ) -> None:
        values = dict(fields)
        by_actor: dict[int, list[tuple[Field, _Hit]]] = {}
        for name, kept in accepted.items():
            for hit in kept:
                if self._actors[hit.actor].type == "state":
                    by_actor.setdefault(hit.actor, []).append((name, hit))
        for actor, hits in by_actor.items():
            if all(
                h.kind in (_NAME, _NAME_LIKE) and _locative(lang, values[name], h)
                for name, h in hits
            ):
                for name, h in hits:
                    accepted[name].remove(h)
                present.discard(actor)

    # ------------------------------------------------------------------ context

    def _context_ok(self, lang: str, text: str, candidates: Sequence[_Hit], j: int) -> bool:
        hit = candidates[j]
        kind = hit.kind
        if lang == "ru":
            if kind == _CAPITAL:
                return _ru_capital_ok(text, hit)
            if kind == _DEMONYM:
                return _ru_demonym_ok(text, hit)
            return True
        if lang == "fr":
            if kind == _CAPITAL:
                return _fr_capital_ok(text, hit)
            if kind == _DEMONYM:
                return _fr_demonym_ok(text, hit)
            return kind != _NAME_LIKE or not _FOLLOWED_BY_NAME.match(text, hit.end)
        if kind == _CAPITAL and not self._capital_ok(text, candidates, j):
            return False
        if kind == _DEMONYM and not _en_demonym_ok(text, hit):
            return False
        if kind == _NAME_LIKE and _FOLLOWED_BY_NAME.match(text, hit.end):
            return False
        if (
            kind == _NAME
            and self._actors[hit.actor].type == "state"
            and _private_attribute(text, hit)
        ):
            return False
        return self._caps_ok(text, hit)

    def _caps_ok(self, text: str, hit: _Hit) -> bool:
        """Reject a short all-capital alias inside an all-capital run ("LET US KNOW")."""
        if hit.end - hit.start > 3 or not text[hit.start : hit.end].isupper():
            return True
        before = _PREV_WORD.search(text, max(0, hit.start - 20), hit.start)
        if before is None or not before.group(1).isupper() or len(before.group(1)) < 2:
            return True
        after = re.match(r"\s+(\w+)", text[hit.end : hit.end + 20])
        return not (after is None or after.group(1).isupper())

    def _capital_ok(
        self, text: str, candidates: Sequence[_Hit], j: int, coordination: bool = True
    ) -> bool:
        hit = candidates[j]
        start, end = hit.start, hit.end
        after = text[end : end + 60]
        if after.startswith(("-based", "–based")) or _FOLLOWED_BY_NAME.match(after):
            return False
        prev = _PREV_WORD.search(text, max(0, start - 30), start)
        prev_word = prev.group(1) if prev is not None else ""
        if prev_word.lower() in _PLACE_WORDS:
            return False
        if (
            prev is not None
            and prev_word[:1].isupper()
            and prev_word not in _SENTENCE_OPENERS
            and text[prev.end(1) : start] == " "
        ):
            return False  # inside a longer name: "King's College London"
        coord = _COORD_BEFORE.search(text, max(0, start - 60), start)
        if coord is not None and coord.group(1).lower() in _PLACE_WORDS:
            return False
        possessive = _POSSESSIVE.match(after)
        if possessive is not None:
            following = possessive.group(1) or ""
            return not (following[:1].isupper() or following in _PLACE_NOUNS)
        nxt = _NEXT_WORDS.match(after)
        if nxt is not None:
            first, second = nxt.group(1), nxt.group(2)
            if first in _PLACE_NOUNS:
                return False
            if first in _GOV_VERBS or (first in _ADVERBS and second in _GOV_VERBS):
                return True
            if first.endswith("ly") and second in _GOV_VERBS:
                return True
            if first.endswith("ed") and first not in _NOT_GOV_PARTICIPLES and second != "by":
                return True
        if prev_word in _RELATION_WORDS:
            return True
        if not coordination:
            return False
        for k in (j - 1, j + 1):
            if 0 <= k < len(candidates):
                other = candidates[k]
                if other.kind not in (_CAPITAL, _NAME, _SEAT):
                    continue
                if self._actors[other.actor].type not in ("state", "bloc", "organisation"):
                    continue
                gap = text[other.end : start] if k < j else text[end : other.start]
                if not _GAP_COORD.match(gap):
                    continue
                if other.kind != _CAPITAL or self._capital_ok(text, candidates, k, False):
                    return True
        return False

    def _weak_ok(self, lang: str, text: str, hit: _Hit, present: set[int]) -> bool:
        actor = self._actors[hit.actor]
        ctx = actor.weak_context
        if _DATE_AFTER.match(text, hit.end):
            return False  # "May 16", "May 2009"
        if text[hit.start : hit.end] in _MONTHS:
            prev = _PREV_WORD.search(text, max(0, hit.start - 30), hit.start)
            if prev is not None and prev.group(1).lower() in _DATE_WORDS:
                return False  # "in May", "since May", "early May"
        if "name" in ctx and hit.actor in present:
            return True
        if "title" in ctx and _title_before(lang, text, hit.start):
            return True
        country = self._country_of[hit.actor]
        return "country" in ctx and country >= 0 and country in present


_LOCATIVE_EN = _words(
    "in to from into across throughout inside outside near at through around within via "
    "toward towards visited visit visiting visits leave left leaving fled flee fleeing entered "
    "enter entering back out over reached returned travelled traveled flew"
)
_LOCATIVE_CHAIN = re.compile(
    r"\b(\w+)\s+(?:the\s+)?(?:(?:either|both)\s+)?(?:[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*)?\s*(?:,\s*and|,|and|or)\s+(?:the\s+)?)+$"
)
_PARTY_TO = re.compile(
    r"\b(?:war|wars|invasion|conflict|occupation|aggression|attack|attacks|offensive|"
    r"intervention|guerre|conflit|agression|война|войны|войне|вторжение|вторжения|конфликт|"
    r"конфликта|агрессия)\s+(?:in|on|against|of|with|en|contre|de|d'|в|на|против|с)\s*"
    r"(?:the\s+|l['’]\s*|la\s+)?$",
    re.I,
)
_PLACE_AFTER = re.compile(
    r"(?:[-‐–]based\b|(?:[-‐–][A-Z][a-z]+)?\s+(?:border|borders|frontier|coast|coastline)\b|"
    r"['’]s\s+(?:civil\s+)?(?:war|conflict|crisis|border|borders|coast|north|south|east|west|"
    r"capital|cities|city|towns|provinces?|regions?|territory|soil|airspace|waters|largest|"
    r"biggest|oldest|most|second|leading|top|main|first|best)\b)"
)
_PEOPLE_OF = re.compile(
    r"\b(?:citizens?|residents?|nationals?|natives?|people|population|passport|passports|"
    r"parts?|north|south|east|west|rest|border|borders|countries|nations|regions?|provinces?|"
    r"areas?|city|cities|towns?|villages?|interior|outskirts|capital)\s+(?:of|with)\s+"
    r"(?:the\s+)?$"
)
_COMPASS_BEFORE = re.compile(
    r"\s(?:north|south|east|west|northern|southern|eastern|western|central|neighbou?ring|"
    r"nearby|war-torn|rural|mainland|coastal|"
    r"north-?east(?:ern)?|north-?west(?:ern)?|south-?east(?:ern)?|south-?west(?:ern)?)\s*$",
    re.I,
)
_REGION_OF_CITY = re.compile(r"\b[A-Z][A-Za-z]+[ \t]*,[ \t]*$")
_LOCATIVE_FR = _words("à a en au aux dans depuis vers via travers")
_LOCATIVE_RU = _words("в во из на по до через")


def _locative(lang: str, text: str, hit: _Hit) -> bool:
    """The state name reads as a place: after a locative preposition or a motion verb."""
    if lang == "ru":
        before = re.findall(r"[А-Яа-яЁё]+", text[max(0, hit.start - 30) : hit.start])
        if not before:
            return False
        return before[-1].lower() in _LOCATIVE_RU or lemma(before[-1]) in _RU_PLACE_LEMMAS
    if lang == "en" and _REGION_OF_CITY.search(text, max(0, hit.start - 40), hit.start):
        return True  # "Atlanta, Georgia": a region after its city
    if lang == "en":
        chain = _LOCATIVE_CHAIN.search(text, max(0, hit.start - 120), hit.start)
        if chain is not None and (
            chain.group(1).lower() in _LOCATIVE_EN
            or _PEOPLE_OF.search(text, max(0, chain.start() - 40), chain.end(1) + 1)
        ):
            return True  # "in Iraq and Syria", "citizens of Britain, Turkey and South Africa"
    if lang == "en" and _PLACE_AFTER.match(text, hit.end):
        return True  # "the Britain-based Observatory", "the Syria-Jordan border", "Syria's war"
    window = text[max(0, hit.start - 60) : hit.start]
    if _PARTY_TO.search(window):
        return False  # "the war in Ukraine", "l'invasion de l'Ukraine": a party, not a place
    if lang == "en" and _PEOPLE_OF.search(window):
        return True  # "citizens of Britain"
    window = _COMPASS_BEFORE.sub("", window)
    prev = _PREV_WORD.search(window)
    if prev is None:
        return False
    word = prev.group(1).lower().split("'")[-1].split("’")[-1]
    if lang == "fr":
        return word in _LOCATIVE_FR
    if word == "the":
        earlier = _PREV_WORD.search(window, 0, prev.start())
        word = earlier.group(1).lower() if earlier is not None else ""
    return word in _LOCATIVE_EN


def _title_before(lang: str, text: str, start: int) -> bool:
    window = text[max(0, start - 40) : start]
    if lang == "fr":
        return _TITLE_BEFORE_FR.search(window) is not None
    if lang == "ru":
        words = re.findall(r"[А-Яа-яЁё-]+", window)
        return bool(words) and lemma(words[-1]) in _TITLE_LEMMAS_RU
    return _TITLE_BEFORE.search(window) is not None


def _next_words(text: str, end: int, count: int) -> list[str]:
    return [m.group(0).lower() for m in _LATIN_WORD.finditer(text, end, end + 60)][:count]


def _en_demonym_ok(text: str, hit: _Hit) -> bool:
    """A demonym names the state only before a word for its government, forces or officials."""
    if _DEMONYM_OFF.match(text, hit.end):
        return False
    surface = text[hit.start : hit.end]
    # "British and French diplomats": step over the other demonyms of a coordination.
    after = hit.end
    while True:
        coordinated = _COORDINATED_DEMONYM.match(text, after)
        if coordinated is None:
            break
        after = coordinated.end()
    following = _next_words(text, after, 3)
    # "the Canadian government's department": the possessive is not part of the noun.
    following = [_singular(re.sub(r"['’]s?$", "", word)) for word in following]
    if any(word in _GOV_NOUNS_EN for word in following):
        # "Russian air strikes", "the Chinese foreign ministry" - but not "Russian tourists
        # near the army base": the government word must come before any other noun-like word.
        for k, word in enumerate(following):
            if word in _GOV_NOUNS_EN:
                # "Moroccan military expert": a private role after the government word
                return not (k + 1 < len(following) and following[k + 1] in _PRIVATE_ROLES)
            if word not in _GOV_ADJECTIVES_EN:
                return False
    if surface.endswith("s") and text[max(0, hit.start - 4) : hit.start].lower() == "the ":
        verb = _PLURAL_DEMONYM_VERB.match(text, hit.end)
        return verb is not None and verb.group(1) in _GOV_VERBS
    return False


_ABBREVIATION = re.compile(r"(?:[A-Z]\.){2,}|[A-Z]{2,3}")
_PRIVATE_NOUNS = _words(
    "website site company firm citizen citizens tourist tourists student students man woman "
    "men women journalist journalists photographer startup magazine newspaper brand market "
    "markets stocks shares dollar dollars version edition release fans viewers consumers "
    "customers users teen teens couple family blogger rapper singer star actor actress band "
    "team player players retailer retailers dealers buyers sales box office charts"
)
_STATE_TITLE_WORDS = _words(
    "Army Navy Air Force Marines Marine Congress Senate House State Department President "
    "Secretary Embassy Ambassador Treasury Government Administration Defense Defence Foreign "
    "Central Special Coast Supreme Federal National Justice Homeland Border Forces Military"
)
_PRIVATE_ROLES = _words(
    "expert experts analyst analysts historian historians specialist specialists observer "
    "observers commentator commentators blogger bloggers enthusiast enthusiasts"
)


def _private_attribute(text: str, hit: _Hit) -> bool:
    """ "US website National Report", "the US Vogue offices": an abbreviated state name as an
    attribute of a private noun or of a name, not the state acting."""
    surface = text[hit.start : hit.end]
    if not _ABBREVIATION.fullmatch(surface):
        return False
    following = re.match(r"[ \t]+([\w’'-]+)", text[hit.end : hit.end + 40])
    if following is None:
        return False
    word = following.group(1).split("-")[0]
    if word[:1].isupper():
        return word not in _STATE_TITLE_WORDS and not word.isupper()
    return word in _PRIVATE_NOUNS


def _singular(word: str) -> str:
    """ "presidents" -> "president", "ministries" -> "ministry" (for the noun lists)."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and word[:-1] in _GOV_NOUNS_EN:
        return word[:-1]
    return word


_GOV_ADJECTIVES_EN = _words(
    "foreign defence defense armed air naval military top senior former chief state "
    "government federal national central special security intelligence nuclear border "
    "prime deputy vice acting new military's strategic conventional"
)


def _fr_demonym_ok(text: str, hit: _Hit) -> bool:
    """French puts the demonym after its noun: "l'armée russe", "le ministre russe"."""
    before = re.findall(r"[\w’'-]+", text[max(0, hit.start - 40) : hit.start])
    words = [w.split("'")[-1].split("’")[-1].lower() for w in before[-2:]]
    return any(word in _GOV_NOUNS_FR for word in words)


def _fr_capital_ok(text: str, hit: _Hit) -> bool:
    if _FOLLOWED_BY_NAME.match(text, hit.end):
        return False
    before = re.findall(r"[\w’'-]+", text[max(0, hit.start - 30) : hit.start])
    if not before:
        return True
    prev = before[-1].split("'")[-1].split("’")[-1].lower()
    if text[max(0, hit.start - 2) : hit.start] in ("d'", "d’"):
        return True  # "la position d'Ottawa"
    return prev not in _FR_PLACE_WORDS


def _ru_capital_ok(text: str, hit: _Hit) -> bool:
    """Nominative "Москва настаивает" is the government; "в Москве" is the place."""
    before = re.findall(r"[А-Яа-яЁё-]+", text[max(0, hit.start - 40) : hit.start])
    prev = lemma(before[-1]) if before else ""
    if prev in _RU_PLACE_LEMMAS:
        return False
    word = re.match(r"[А-Яа-яЁё-]+", text[hit.start : hit.end])
    grammemes = russian_case(word.group(0)) if word else frozenset()
    if "nomn" in grammemes:
        return True
    if prev in _RU_RELATION_LEMMAS or prev in ("с", "между", "против", "для", "к"):
        return True
    # "между Москвой и Киевом": the second of a coordination after a relational word.
    return "ablt" in grammemes and any(lemma(w) in ("между", "с") for w in before[-4:])


def _ru_demonym_ok(text: str, hit: _Hit) -> bool:
    """Russian puts the demonym before its noun: "российский МИД", "американские военные"."""
    after = re.findall(r"[А-Яа-яЁё-]+", text[hit.end : hit.end + 60])[:2]
    return any(lemma(word) in _GOV_LEMMAS_RU for word in after)


def _build(fields: Sequence[tuple[Field, str]], found: Sequence[FoundActor]) -> list[ActorTag]:
    values = dict(fields)
    tags: list[tuple[tuple[int, int], ActorTag]] = []
    for actor in found:
        evidence = sorted(
            {
                (fld, start, end): Evidence(
                    start=start, end=end, text=values[fld][start:end], field=fld
                )
                for fld, start, end in actor.spans
            }.values(),
            key=_evidence_key,
        )
        if not evidence:
            continue
        tag = ActorTag(
            actor_id=actor.actor_id,
            name=actor.name,
            type=actor.type,
            wikidata=actor.wikidata,
            in_catalogue=actor.in_catalogue,
            role=actor.role,
            mentions=evidence,
        )
        tags.append((_evidence_key(evidence[0]), tag))
    tags.sort(key=lambda pair: pair[0])
    return [tag for _, tag in tags]


def _evidence_key(ev: Evidence) -> tuple[int, int]:
    # Mentions in the title come first, then mentions in the text, by offset.
    return (0 if ev.field == "title" else 1, ev.start)
