"""Every actor of an article, not only the catalogue's: the open-world stage.

The catalogue matcher (:mod:`mediawatch.tagger.actors`) hands over the catalogue mentions it
accepted and every span it claimed. This stage adds, from the language's named-entity
recogniser (:mod:`mediawatch.tagger.ner`):

* people and organisations outside the catalogue, with a stable id from their type and
  normalised name (``person:jane-okafor``, ``org:baltic-security-institute``, Cyrillic names
  transliterated) and ``in_catalogue: false``;
* typos of catalogue names, caught conservatively: a name of two words or more within a small
  edit distance of a catalogue name ("Sergei Lavorv") resolves to that actor;
* later short forms of a name joined to it within the article: "Kushner" and "Mr. Kushner"
  after "Jared Kushner", "EPA" after "Environmental Protection Agency (EPA)";
* outlets only cited as sources ("told Reuters", "according to CNN", "(AP) -"), bylines and
  photo credits, recorded with ``role: source`` rather than as actors of the story.

English articles also keep the citation finder of :mod:`mediawatch.tagger.people`, which
catches a cited surname alone ("As Vattel argued") that a recogniser tends to miss.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import ahocorasick
import yaml
from rapidfuzz import fuzz, process

from mediawatch.query import name_gender, nominative
from mediawatch.tagger.catalogue import Actor, ActorCatalogue, ActorType
from mediawatch.tagger.ner import NamedSpan, RecogniserPool
from mediawatch.tagger.people import CitedPeopleFinder, Field, person_slug
from mediawatch.tagger.towns import fold_town, town_names

__all__ = ["CatalogueHit", "FoundActor", "OpenWorldFinder", "actor_slug"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


Role = Literal["actor", "source"]

_TYPO_SCORE = 88.0
_LEADING_WORDS = _words(
    "the The a A an An la La le Le les Les l' l’ L' L’ des Des du Du de De this This that "
    "That former Former ex-"
)
_PERSON_TITLES = _words(
    "Mr Mr. Mrs Mrs. Ms Ms. Dr Dr. Prof Prof. Professor President Premier Prime Minister "
    "Chancellor General Gen Gen. Senator Sen Sen. Rep Rep. Governor Gov Gov. Ambassador Judge "
    "Justice Sir Dame Lord Lady King Queen Prince Princess Pope Chairman Chief Vice Deputy "
    "Secretary Spokesman Spokeswoman Colonel Col Col. Captain Capt Capt. Lieutenant Lt Lt. "
    "Sergeant Sgt Sgt. Admiral Adm Adm. Rev Rev. Reverend Father Sheikh Emir Commissioner "
    "Director Mayor Attorney Officer Detective Inspector Speaker Leader Minister Marshal "
    "Major Commander Cpl Cpl. Pvt Pvt. Staff M. Mme Monsieur Madame Maître Général"
)
_PRODUCT_WORDS = _words(
    "Watch iPhone iPhones iPad iPads Mac MacBook iMac Pay Store SDK Kit App Apps OS iOS "
    "Kindle Kindles Galaxy Android Windows Xbox PlayStation Pixel Echo Alexa Siri Glass Steel "
    "Edition Plus Pro Max Mini Air Maps"
)
_NOT_PEOPLE = _words(
    "God Allah Jesus Christ Lord Satan Santa Batman Superman Spiderman Ebola Twitter Facebook "
    "Instagram YouTube Google Apple Snapchat Reddit WhatsApp Telegram iPhone iPad Watch Siri "
    "Alexa Windows Android Mac Oscar Oscars Emmy Emmys Grammy Grammys Beatles JavaScript "
    "Javascript Kindle Kindles Bond Wayne Day Christmas Easter Ramadan Retina MacBook "
    "Thunderbolt MagSafe AirPods AirPlay CarPlay"
)
_MEDIUM_AFTER = re.compile(
    r"[’'s]*\s+(?:video|videos|post|posts|account|accounts|page|pages|user|users|feed|"
    r"channel|clip|tweet|tweets|photo|photos|live|chat|message|messages|handle|app|search)\b"
)
_MEDIUM_BEFORE = re.compile(r"(?:\b(?:on|via|through|over|onto|to|across)\s+(?:the\s+)?)$", re.I)
_MEDIA_WORDS = _words(
    "News Times Post Press Daily Journal Herald Gazette Tribune Magazine Radio TV Television "
    "Channel Network Agency Telegraph Guardian Observer Chronicle Mail Express Mirror Globe "
    "Sinmun Shimbun Online Report Reporter Insider Today Weekly Monitor Dispatch Wire Review"
)
_CITE_BEFORE = re.compile(
    r"(?:\b(?:told|to|according\s+to|reported\s+by|via|by|with|from|cited\s+by|quoted\s+by|"
    r"interview\s+with|wrote\s+in|writing\s+in|speaking\s+to|spoke\s+to|said\s+to|told\s+the|"
    r"selon|à|au|d'après|a\s+déclaré\s+à|a\s+indiqué\s+à|сообщает|сообщил|сообщила|"
    r"передает|передаёт|пишет|по\s+данным|по\s+словам|со\s+ссылкой\s+на|в\s+интервью)"
    r"\s+(?:the\s+|le\s+|la\s+|les\s+)?)$|\(\s*$",
    re.I,
)
_CITE_AFTER = re.compile(
    r"(?:\s*\)|['’]s\s+\w+\s+(?:reported|said|wrote)|\s+(?:reported|reports|reporting|quoted|"
    r"cited|contributed|has\s+reported|had\s+reported|said\s+in\s+a\s+report|reporter|"
    r"correspondent|news\s+agency|report(?:ed)?\s+that|a\s+rapporté|rapporte|сообщает|"
    r"сообщило|пишет|передает|передаёт|отмечает)\b)",
    re.I,
)
_BYLINE_BEFORE = re.compile(
    r"(?:(?:(?:Additional\s+)?(?:[Rr]eporting|[Ee]diting|[Ww]riting|[Ww]ritten|[Cc]ompiled|"
    r"[Ee]dited)\s+by|[Pp]hoto(?:graph)?(?:\s+by|\s*:)|[Ii]mage(?:\s+by|\s*:)|[Cc]redit\s*:|"
    r"[Ff]ollow|^By|\n\s*By|[Ww]ith\s+(?:files|reports?|reporting)\s+(?:from|by))\s+"
    r"(?:(?:[\w.-]+\s+){1,3}(?:in\s+\w+\s+)?(?:and|,)\s+)*)$"
)
_SPLIT_TOKEN = re.compile(r"[^\s]+")
_CYRILLIC = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
        "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
        "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
        "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
        "я": "ya", "і": "i", "ї": "yi", "є": "ye", "ґ": "g",
    }
)  # fmt: skip
_PREFIX = {"person": "person", "organisation": "org", "bloc": "org", "treaty": "treaty"}


def actor_slug(name: str) -> str:
    """The id part of an open-world actor: lower case ASCII words joined by hyphens."""
    text = name.lower().translate(_CYRILLIC)
    return person_slug(text) or "unnamed"


@dataclass(frozen=True, slots=True)
class CatalogueHit:
    """A catalogue mention the matcher accepted."""

    field: Field
    start: int
    end: int
    actor: Actor
    demonym: bool = False
    name_like: bool = False  # a state name that doubles as a given name ("Jordan")


@dataclass
class FoundActor:
    """One actor of the article with all its mention spans (field, start, end)."""

    actor_id: str
    name: str
    type: ActorType
    in_catalogue: bool
    wikidata: str | None = None
    role: Role = "actor"
    spans: list[tuple[Field, int, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Name:
    field: Field
    start: int
    end: int
    label: str  # person | organisation
    text: str
    before: str  # the 30 characters before the name
    after: str = ""  # the 16 characters after it
    keeps_state: bool = False  # "Iraqi Ministry of Health": the state stays an actor too


#: Makers of things, as one word: "luxury watchmaker Rolex" (never a bare "-maker", which
#: ends "film-maker Danny Boyle", a person).
_MAKERS = r"(?:watch|car|auto|chip|drug|phone|toy|steel|plane|arms)maker"
#: Any kind of organisation, which a one-word name may follow: "think tank Quilliam".
_ORG_APPOSITIVE = re.compile(
    r"\b(?:think[ -]tank|site|website|group|company|firm|agency|newspaper|magazine|outlet|"
    rf"blog|network|organi[sz]ation|charity|startup|maker|manufacturer|partner|supplier|{_MAKERS})"
    r"\s+$",
    re.I,
)
#: The kinds of company that a longer name may follow: "investment firm Piper Jaffray".
_COMPANY_APPOSITIVE = re.compile(
    rf"\b(?:firm|company|bank|startup|manufacturer|{_MAKERS})\s+$", re.I
)
#: Words after a name that only an organisation has: "Piper Jaffray analyst Gene Munster",
#: "A Vogue employee".
_ORG_MEMBERS_AFTER = re.compile(
    r"[ ]+(?:analysts?|economists?|researchers|engineers|employees?|staffers|offices|"
    r"headquarters|shareholders|stores|subscribers|customers)\b"
)


_ORG_CONTEXT_BEFORE = re.compile(
    r"\b(?:at|for|with|joined|left|quit)\s+(?:the\s+)?$|\b(?:told|to)\s+$", re.I
)
_ORG_SHAPE_WORDS = _words(
    "Times News Post Media Daily Journal Herald Gazette Tribune Magazine Radio TV Channel "
    "Network Ilbo Hebdo Hayom Sinmun Shimbun Review Report Press Agency United City Club "
    "Group Inc Corp Ltd LLC Bank Capital Partners Holdings Airlines Airways Motors Energy "
    "Dawn Front Brigade Brigades Army Movement Party Council Institute Foundation"
)
_ORG_SHAPE_START = _words(
    "Ansar Jabhat Harakat Hizb Jaish Katibat Liwa Ahrar Jund Tahrir Kataib Asaib Saraya"
)


_WHO_AFTER = re.compile(r"['’]?,\s+who\b")


def _org_shaped(name: str) -> bool:
    """A "person" whose words say organisation: "Epoch Times", "Virgin Media", "Manchester
    United", "Ansar al Sharia", "Libyan Dawn"."""
    words = name.split()
    return bool(set(words) & _ORG_SHAPE_WORDS) or (bool(words) and words[0] in _ORG_SHAPE_START)


def _org_appositive(name: _Name) -> bool:
    """ "think tank Quilliam", "fact-checking site Snopes", "investment firm Piper Jaffray":
    a name of one to three words after the kind of organisation it is; or a name followed
    by what only an organisation has."""
    if _ORG_MEMBERS_AFTER.match(name.after):
        return True
    if " " not in name.text:
        return _ORG_APPOSITIVE.search(name.before) is not None
    return len(name.text.split()) <= 3 and _COMPANY_APPOSITIVE.search(name.before) is not None


@lru_cache(maxsize=1)
def _outlets() -> frozenset[str]:
    path = resources.files("mediawatch.tagger") / "data" / "outlets.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return frozenset(str(name) for name in data["outlets"])


@lru_cache(maxsize=1)
def _regions() -> frozenset[str]:
    """Names of every ISO 3166-2 subdivision (Rajasthan, Guerrero, Misrata): places that a
    recogniser sometimes takes for a person or an organisation."""
    import pycountry

    names: set[str] = set()
    for sub in pycountry.subdivisions:
        name = re.sub(r"\s*\(.*?\)", "", str(sub.name)).strip()
        names.add(_fold(name))
    return frozenset(names)


def _fold(text: str) -> str:
    return re.sub(r"[^\w]+", " ", fold_town(text)).strip()


class OpenWorldFinder:
    """Add the actors the catalogue does not know; see the module docstring."""

    def __init__(self, catalogue: ActorCatalogue, recognisers: RecogniserPool | None) -> None:
        self._recognisers = recognisers
        self._cited = CitedPeopleFinder()
        self._fuzzy: dict[str, tuple[list[str], list[Actor]]] = {}
        self._catalogue = catalogue

    def _fuzzy_names(self, language: str) -> tuple[list[str], list[Actor]]:
        """Catalogue names of two words or more (people and organisations), folded."""
        cached = self._fuzzy.get(language)
        if cached is None:
            names: list[str] = []
            owners: list[Actor] = []
            for actor in self._catalogue:
                if actor.type == "state":
                    continue
                forms = [actor.name, *actor.en().aliases]
                local = actor.forms.get(language)
                if local is not None and language != "en":
                    forms += local.aliases
                for name in dict.fromkeys(forms):
                    if " " in name.strip() and len(name) >= 8:
                        names.append(_fold(name))
                        owners.append(actor)
            cached = self._fuzzy[language] = (names, owners)
        return cached

    def find(
        self,
        fields: Sequence[tuple[Field, str]],
        language: str,
        hits: Sequence[CatalogueHit],
        claimed: Mapping[Field, Sequence[tuple[int, int]]],
        accepted: Mapping[Field, Sequence[tuple[int, int]]],
    ) -> list[FoundActor]:
        """The catalogue's actors from ``hits`` plus everyone else the text names.

        ``claimed`` are the spans of every catalogue match, ``accepted`` those kept: a name
        may grow out of a rejected match ("Paris Saint-Germain", "Moscow State University")
        but never overlap a kept one."""
        found: dict[str, FoundActor] = {}
        for hit in hits:
            actor = hit.actor
            entry = found.get(actor.id)
            if entry is None:
                entry = found[actor.id] = FoundActor(
                    actor.id, actor.name, actor.type, True, actor.wikidata
                )
            entry.spans.append((hit.field, hit.start, hit.end))
        values = dict(fields)
        taken = {name: sorted(spans) for name, spans in claimed.items()}
        recogniser = self._recognisers.get(language) if self._recognisers else None
        names: list[_Name] = []
        states = {(hit.field, hit.start, hit.end): hit for hit in hits if hit.actor.type == "state"}
        for fld, value in fields:
            spans = recogniser.find(value) if recogniser is not None else []
            if language == "en":
                spans = [*spans, *_institution_names(value)]
            spans = [*spans, *_cited_outlets(value)]
            for name in self._names(
                fld, value, spans, taken.get(fld, ()), accepted.get(fld, ()), language, states
            ):
                names.append(name)
                if name.keeps_state:
                    continue
                # A person or an organisation whose name holds a state's ("Louise Ireland",
                # "Free Syrian Army"): that state mention was part of the name.
                for key in [
                    k for k in states if k[0] == fld and name.start <= k[1] and k[2] <= name.end
                ]:
                    hit = states.pop(key)
                    entry = found.get(hit.actor.id)
                    if entry is not None:
                        entry.spans.remove((fld, hit.start, hit.end))
                        if not entry.spans:
                            del found[hit.actor.id]
        names = self._retype(
            names,
            [e.name.split()[-1] for e in found.values() if e.type == "person" and " " in e.name],
        )
        self._add_people(found, names, values, taken, language)
        self._add_organisations(found, names, values, taken, language)
        if language == "en":
            self._add_cited(found, fields, taken)
            _join_role_mentions(found, values, taken)
        _one_type_per_name(found)
        _join_aliases(found, values)
        self._mark_sources(found, values)
        return [entry for entry in found.values() if _supported(entry, values)]

    # ------------------------------------------------------------------ candidates

    def _names(
        self,
        fld: Field,
        text: str,
        spans: Sequence[NamedSpan],
        taken: Sequence[tuple[int, int]],
        kept: Sequence[tuple[int, int]],
        language: str,
        states: Mapping[tuple[Field, int, int], CatalogueHit],
    ) -> Iterable[_Name]:
        seen: list[tuple[int, int]] = []
        spans = _merge_adjacent_people(text, spans)
        if language == "en":
            spans = _titled_people(text, spans)
        for span in spans:  # the recogniser's first, then the institution pattern's
            if span.label not in ("person", "organisation"):
                continue
            for label, start, end in _split_affiliation(text, span):
                start, end = _trim(text, start, end, label)
                if end - start < 2 or _overlaps(seen, start, end):
                    continue
                keeps_state = False
                if _overlaps(kept, start, end) and not _holds_state(
                    text, start, end, kept, states, fld
                ):
                    keeps_state = label == "organisation" and _state_body(
                        text, start, end, kept, states, fld
                    )
                    if not keeps_state:
                        continue
                if _overlaps(taken, start, end) and not _outgrows(taken, start, end):
                    continue
                if not _plausible(text, start, end, label, language):
                    continue
                seen.append((start, end))
                seen.sort()
                yield _Name(
                    fld,
                    start,
                    end,
                    label,
                    text[start:end],
                    before=text[max(0, start - 30) : start],
                    after=text[end : end + 16],
                    keeps_state=keeps_state,
                )

    def _typo_of(self, surface: str, language: str) -> Actor | None:
        if " " not in surface.strip() or len(surface) < 8:
            return None
        names, owners = self._fuzzy_names(language)
        best = process.extractOne(
            _fold(surface), names, scorer=fuzz.ratio, score_cutoff=_TYPO_SCORE
        )
        if best is None:
            return None
        candidate = owners[best[2]]
        # Conservative: same number of words and the same initial of every word.
        target = names[best[2]].split()
        words = _fold(surface).split()
        if len(words) != len(target) or any(
            a[:1] != b[:1] for a, b in zip(words, target, strict=False)
        ):
            return None
        return candidate

    @staticmethod
    def _retype(names: Sequence[_Name], known_surnames: Iterable[str] = ()) -> list[_Name]:
        """Fix the recogniser's commonest confusions: an outlet read as a person ("Xinhua
        said"), a person's surname read as an organisation ("Doocy", after "Steve Doocy")."""
        outlets = _outlets()
        full_names = [n.text.split() for n in names if n.label == "person" and " " in n.text]
        surnames = {words[-1] for words in full_names} | set(known_surnames)
        given = {words[0] for words in full_names}
        out = []
        for n in names:
            if n.label == "person" and (
                n.text in outlets or _org_appositive(n) or _org_shaped(n.text)
            ):
                n = replace(n, label="organisation")
            elif n.label == "organisation" and (
                n.text in surnames
                or (" " not in n.text and (n.text in given or _WHO_AFTER.match(n.after)))
            ):
                # "Doocy" after "Steve Doocy"; "Muath" after "Muath al-Kaseasbeh";
                # "Ahmadu, who says he ...": a person.
                n = replace(n, label="person")
            out.append(n)
        return out

    def _credit_typo(self, found: dict[str, FoundActor], name: _Name, language: str) -> bool:
        """Credit a misspelt catalogue name ("Sergei Lavorv") to its actor; True if it was."""
        typo = self._typo_of(name.text, language)
        if typo is None:
            return False
        entry = found.setdefault(
            typo.id, FoundActor(typo.id, typo.name, typo.type, True, typo.wikidata)
        )
        entry.spans.append((name.field, name.start, name.end))
        return True

    def _add_people(
        self,
        found: dict[str, FoundActor],
        names: Sequence[_Name],
        values: Mapping[Field, str],
        taken: Mapping[Field, Sequence[tuple[int, int]]],
        language: str,
    ) -> None:
        entry: FoundActor | None
        people = [n for n in names if n.label == "person"]
        full = [n for n in people if len(n.text.split()) > 1]
        single = [n for n in people if len(n.text.split()) == 1]
        by_surname: dict[str, FoundActor] = {}
        by_first: dict[str, list[FoundActor]] = {}
        for known in found.values():
            if known.type == "person":
                parts = known.name.split()
                if len(parts) > 1:
                    by_surname.setdefault(_fold(parts[-1]), known)
                    by_first.setdefault(_fold(parts[0]), []).append(known)
        for name in full:
            if self._credit_typo(found, name, language):
                continue
            canonical = _person_name(name.text, language)
            actor_id = f"person:{actor_slug(canonical)}"
            parts = canonical.split()
            entry = found.get(actor_id)
            if entry is None:
                # "James Foley" after "James Wright Foley", "Jim Foley" after "James Foley": the
                # same surname and a compatible given name ("Lucy Somers" is not "Luke Somers").
                same = by_surname.get(_fold(parts[-1]))
                if same is not None and (
                    _same_given_name(same.name.split()[0], parts[0])
                    or _tail_of(canonical, same.name)
                ):
                    entry = same
            if entry is None:
                entry = found[actor_id] = FoundActor(actor_id, canonical, "person", False)
            entry.spans.append((name.field, name.start, name.end))
            by_surname.setdefault(_fold(parts[-1]), entry)
            by_first.setdefault(_fold(parts[0]), []).append(entry)
        for name in single:
            key = _fold(_person_name(name.text, language))
            entry = by_surname.get(key)
            firsts = list({id(e): e for e in by_first.get(key, [])}.values())
            if entry is None and len(firsts) == 1:
                entry = firsts[0]
            elif entry is None and sum(e.in_catalogue for e in firsts) == 1:
                entry = next(e for e in firsts if e.in_catalogue)  # "Fidel": Fidel Castro
            elif entry is None and firsts:
                entry = max(firsts, key=lambda e: len(e.spans))  # the one the story is about
            if entry is None:
                entry = _part_of(key, by_surname.values())
            if entry is None:
                canonical = _person_name(name.text, language)
                text = values[name.field]
                if _cites(text, name.start, name.end) or _ORG_CONTEXT_BEFORE.search(
                    text[max(0, name.start - 30) : name.start]
                ):
                    # A lone name cited like an outlet or placed like a workplace ("told
                    # Gawker", "works at Vogue") is an organisation, not a person.
                    actor_id = f"org:{actor_slug(canonical)}"
                    entry = found.get(actor_id) or found.setdefault(
                        actor_id, FoundActor(actor_id, canonical, "organisation", False)
                    )
                    entry.spans.append((name.field, name.start, name.end))
                    continue
                actor_id = f"person:{actor_slug(canonical)}"
                entry = found.get(actor_id)
                if entry is None:
                    entry = found[actor_id] = FoundActor(actor_id, canonical, "person", False)
            entry.spans.append((name.field, name.start, name.end))
        _complete_surnames(found, values, taken)
        # Every further occurrence of an open-world person's full name or surname is a mention.
        self._more_mentions(
            [e for e in found.values() if e.type == "person" and not e.in_catalogue],
            values,
            taken,
            language,
            surnames=True,
        )

    def _add_organisations(
        self,
        found: dict[str, FoundActor],
        names: Sequence[_Name],
        values: Mapping[Field, str],
        taken: Mapping[Field, Sequence[tuple[int, int]]],
        language: str,
    ) -> None:
        acronyms: dict[str, FoundActor] = {}
        entry: FoundActor | None
        for name in (n for n in names if n.label == "organisation"):
            if self._credit_typo(found, name, language):
                continue
            surface = name.text
            joined = acronyms.get(surface)
            if joined is not None:
                joined.spans.append((name.field, name.start, name.end))
                continue
            canonical = surface
            actor_id = f"org:{actor_slug(canonical)}"
            entry = found.get(actor_id)
            if entry is None:
                entry = found[actor_id] = FoundActor(actor_id, canonical, "organisation", False)
            entry.spans.append((name.field, name.start, name.end))
            acronym = _declared_acronym(values[name.field], name.end)
            if acronym:
                acronyms[acronym] = entry
        # "Cumbrian Police" and "Cumbria Police": one organisation spelt two ways.
        open_orgs = [e for e in found.values() if e.type == "organisation" and not e.in_catalogue]
        for i, first in enumerate(open_orgs):
            for second in open_orgs[i + 1 :]:
                if (
                    second.actor_id in found
                    and first.actor_id in found
                    and (fuzz.ratio(_fold(first.name), _fold(second.name)) >= 90)
                ):
                    first.spans.extend(second.spans)
                    del found[second.actor_id]
        # "the Observatory" after "the Syrian Observatory for Human Rights", "Fox" after "Fox
        # News": a shorter name whose words all belong to one longer name joins it.
        open_orgs = [e for e in found.values() if e.type == "organisation" and not e.in_catalogue]
        for short in open_orgs:
            words = set(_fold(short.name).split())
            longer = [
                e
                for e in found.values()
                if e is not short
                and e.type in ("organisation", "bloc")
                and len(e.name) > len(short.name)
                and words <= set(_fold(e.name).split())
            ]
            if len(longer) == 1 and short.actor_id in found:
                longer[0].spans.extend(short.spans)
                del found[short.actor_id]
        # "Environmental Protection Agency (EPA)": the acronym, wherever it recurs, joins it.
        for acronym, entry in acronyms.items():
            alias = found.pop(f"org:{actor_slug(acronym)}", None)
            if alias is not None and alias is not entry and not alias.in_catalogue:
                entry.spans.extend(alias.spans)
        self._more_mentions(
            [e for e in found.values() if e.type == "organisation" and not e.in_catalogue],
            values,
            taken,
            language,
            surnames=False,
            extra=acronyms,
        )

    def _add_cited(
        self,
        found: dict[str, FoundActor],
        fields: Sequence[tuple[Field, str]],
        taken: Mapping[Field, Sequence[tuple[int, int]]],
    ) -> None:
        # A cited name ("As Vattel argued") is a person even where the recogniser said
        # organisation: open-world organisations do not block it, and it takes them over.
        occupied = {
            name: sorted(
                [
                    *taken.get(name, ()),
                    *(
                        (s, e)
                        for a in found.values()
                        if a.in_catalogue or a.type == "person"
                        for f, s, e in a.spans
                        if f == name
                    ),
                ]
            )
            for name, _ in fields
        }
        surnames = {
            _fold(entry.name.split()[-1]): entry
            for entry in found.values()
            if entry.type == "person" and entry.name.split()
        }
        for person in self._cited.find(fields, occupied):
            if any(w in _NOT_PEOPLE for w in re.split(r"[\s’']+", person.name)):
                continue  # "Valentine’s Day", "Oscar"
            if _fold(person.name) in _regions():
                continue
            spans = set(person.spans)
            for key in [
                k
                for k, a in found.items()
                if a.type == "organisation" and not a.in_catalogue and spans & set(a.spans)
            ]:
                del found[key]
            entry = found.get(person.actor_id) or surnames.get(_fold(person.name.split()[-1]))
            if entry is None:
                entry = found[person.actor_id] = FoundActor(
                    person.actor_id, person.name, "person", False
                )
            entry.spans.extend(person.spans)

    def _more_mentions(
        self,
        entries: Sequence[FoundActor],
        values: Mapping[Field, str],
        taken: Mapping[Field, Sequence[tuple[int, int]]],
        language: str,
        *,
        surnames: bool,
        extra: Mapping[str, FoundActor] | None = None,
    ) -> None:
        if language == "ru":
            return  # inflected forms: the recogniser's own spans are the mentions
        keys: dict[str, FoundActor] = {}
        for entry in entries:
            for fld, start, end in entry.spans:
                keys.setdefault(values[fld][start:end], entry)
            if surnames:
                parts = entry.name.split()
                if len(parts) > 1 and len(parts[-1]) > 2:
                    keys.setdefault(parts[-1], entry)
        for acronym, entry in (extra or {}).items():
            keys.setdefault(acronym, entry)
        if not keys:
            return
        pattern = re.compile(
            r"(?<![\w'’-])(?:"
            + "|".join(map(re.escape, sorted(keys, key=len, reverse=True)))
            + r")(?![\w-])"
        )
        for fld, text in values.items():
            spans_taken = sorted(
                [*taken.get(fld, ()), *((s, e) for a in entries for f, s, e in a.spans if f == fld)]
            )
            for match in pattern.finditer(text):
                if _overlaps(spans_taken, match.start(), match.end()):
                    continue
                entry = keys[match.group(0)]
                entry.spans.append((fld, match.start(), match.end()))

    def _mark_sources(self, found: dict[str, FoundActor], values: Mapping[Field, str]) -> None:
        outlets = _outlets()
        for entry in found.values():
            if entry.type == "person":
                if entry.spans and all(_byline(values[f], s, e) for f, s, e in entry.spans):
                    entry.role = "source"
                continue
            if entry.type not in ("organisation", "bloc"):
                continue
            outlet = (
                entry.name in outlets
                or f"The {entry.name}" in outlets  # "The Information", trimmed of its article
                or (entry.name.isupper() and entry.name.title() in outlets)  # "TIME"
                or any(values[f][s:e] in outlets for f, s, e in entry.spans)
                or (not entry.in_catalogue and _outlet_shaped(entry.name, outlets))
            )
            if outlet:
                # A known outlet is a source unless the story is about it: it hires, airs,
                # publishes, is sued or banned.
                if not any(_in_story(values[f], s, e) for f, s, e in entry.spans):
                    entry.role = "source"
                continue
            if not set(entry.name.split()) & _MEDIA_WORDS:
                continue
            if all(_cites(values[f], s, e) for f, s, e in entry.spans):
                entry.role = "source"


# --------------------------------------------------------------------------- helpers


def _overlaps(spans: Sequence[tuple[int, int]], start: int, end: int) -> bool:
    i = bisect_left(spans, (start, start))
    if i > 0 and spans[i - 1][1] > start:
        return True
    return i < len(spans) and spans[i][0] < end


_INSTITUTION = re.compile(
    r"\b(?:(?:[A-Z][\w'’.-]*|and|the|&)[ ]+){0,6}?"
    r"(?:Centre|Center|Institute|Institution|Foundation|Council|Committee|Commission|"
    r"Observatory|Association|Society|Forum|Fund|Trust|Alliance|League|Front|Brigades?|"
    r"Police|Department|Ministry|Agency|Bureau|Authority|Court|Tribunal|Party|Union|"
    r"University|College|Academy|Bank|Corporation|Company|Group|Holdings|Advisory|Partners|"
    r"Network|Coalition|Movement|Army|Corps|Command|Guard)"
    r"(?:[ ]+(?:of|for|on)(?:[ ]+the)?(?:[ ]+(?:&[ ]+)?[A-Z][\w'’-]*)+)?"
)
_INSTITUTION_LEAD = re.compile(r"(?:(?:and|the|&)[ ]+)+")
_HEAD_WORDS = _words(
    "Centre Center Institute Institution Foundation Council Committee Commission Observatory "
    "Association Society Forum Fund Trust Alliance League Front Brigade Brigades Police "
    "Department Ministry Agency Bureau Authority Court Tribunal Party Union University "
    "College Academy Bank Corporation Company Group Holdings Advisory Partners Network "
    "Coalition Movement Army Corps Command Guard"
)


def _institution_names(text: str) -> list[NamedSpan]:
    """Capitalised names with an institution's head word ("Centre for Danube Studies",
    "Cumbria Police"), which the English recogniser misses when they are rare."""
    out = []
    for match in _INSTITUTION.finditer(text):
        start, end = match.start(), match.end()
        lead = _INSTITUTION_LEAD.match(text, start, end)
        if lead is not None:
            start = lead.end()
        words = text[start:end].split()
        if len(words) < 2 or not words[0][:1].isupper() or words[0] in _LEADING_WORDS:
            continue
        out.append(NamedSpan(start, end, "organisation"))
    return out


_TITLED = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|Sgt|Det|Insp|Inspector|Detective|Officer|Constable|Cpl|Lt|Capt|Col|"
    r"Gen|Adm|Sen|Rep|Gov|Senator|Governor|Sheikh|Rabbi)\.?[ ]+"
    r"((?:[A-Z][a-z]+(?:-[A-Z][a-z]+)?|[A-Z]\.)"
    r"(?:[ ](?:[A-Z][a-z]+(?:-[A-Z][a-z]+)?|[A-Z]\.)){0,2})"
)
_NOT_NAME_WORDS = _words(
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April "
    "May June July August September October November December The A An And Of In On At"
)


def _titled_people(text: str, spans: Sequence[NamedSpan]) -> list[NamedSpan]:
    """ "Sgt Gill Cherry": the capitalised words after a title are a person's name, whole,
    where the recogniser cut it ("Sgt Gill" + "Cherry") or missed it."""
    titled: list[NamedSpan] = []
    for match in _TITLED.finditer(text):
        words = match.group(1).split(" ")
        while words and (words[-1] in _NOT_NAME_WORDS or _common_word(text, words[-1])):
            words.pop()
        if not words or words[0] in _NOT_NAME_WORDS:
            continue
        start = match.start(1)
        titled.append(NamedSpan(start, start + len(" ".join(words)), "person"))
    if not titled:
        return list(spans)
    kept = [
        span
        for span in spans
        if not any(
            t.start < span.end
            and span.start < t.end
            and (
                (t.end - t.start) > (span.end - span.start)
                or span.label not in ("person", "organisation")  # "Ms Wintour, 65": a date
            )
            for t in titled
        )
    ]
    covered = sorted((s.start, s.end) for s in kept)
    extra = [t for t in titled if not _overlaps(covered, t.start, t.end)]
    return [*kept, *extra]  # the order sets precedence: the recogniser's spans stay first


@lru_cache(maxsize=1)
def _outlet_automaton() -> Any:
    automaton: Any = ahocorasick.Automaton()
    for name in _outlets():
        automaton.add_word(name, len(name))
    automaton.make_automaton()
    return automaton


def _cited_outlets(text: str) -> list[NamedSpan]:
    """Outlets of the list where the text cites them ("according to 9to5Mac", "told The
    Information"), which the recogniser often does not propose: found by name, and only
    in a citation, since "Time" or "Independent" alone is a common word. The longest name
    wins where two end at one place ("The Washington Post", "Washington Post")."""
    found: dict[int, int] = {}
    for last, length in _outlet_automaton().iter_long(text):
        start, end = last + 1 - length, last + 1
        if (start > 0 and (text[start - 1].isalnum() or text[start - 1] in "@./-")) or (
            end < len(text) and (text[end].isalnum() or text[end] in "_-")
        ):
            continue  # inside a longer word, an address or a handle
        if _cites(text, start, end):
            found[start] = end
    return [NamedSpan(start, end, "organisation") for start, end in found.items()]


def _merge_adjacent_people(text: str, spans: Sequence[NamedSpan]) -> list[NamedSpan]:
    """ "Sgt Gill" + "Cherry", one space apart: the recogniser split one name in two."""
    out: list[NamedSpan] = []
    for span in spans:
        last = out[-1] if out else None
        if (
            last is not None
            and last.label == span.label == "person"
            and text[last.end : span.start] == " "
        ):
            out[-1] = NamedSpan(last.start, span.end, "person")
        else:
            out.append(span)
    return out


def _split_affiliation(text: str, span: NamedSpan) -> list[tuple[str, int, int]]:
    """ "Lukas Brandt of Meridian Risk Advisory": a person and an organisation."""
    inner = re.search(r"[ ]+(?:of|from|at)[ ]+(?=[A-Z])", text[span.start : span.end])
    if inner is None or span.label not in ("person", "organisation"):
        return [(span.label, span.start, span.end)]
    cut, resume = span.start + inner.start(), span.start + inner.end()
    head = text[span.start : cut].split()
    if span.label == "organisation" and not (
        2 <= len(head) <= 3 and all(w[:1].isupper() for w in head) and not set(head) & _HEAD_WORDS
    ):
        return [(span.label, span.start, span.end)]
    return [("person", span.start, cut), ("organisation", resume, span.end)]


def _holds_state(
    text: str,
    start: int,
    end: int,
    kept: Sequence[tuple[int, int]],
    states: Mapping[tuple[Field, int, int], CatalogueHit],
    fld: Field,
) -> bool:
    """The name strictly contains only state mentions, each after a capitalised word of the
    name ("Louise Ireland", "Free Syrian Army") or a state's full name before two more words
    ("United States Drug Enforcement Agency")."""
    inside = [(s, e) for s, e in kept if s < end and e > start]
    for s, e in inside:
        hit = states.get((fld, s, e))
        if hit is not None and hit.name_like and (s, e) == (start, end):
            continue  # "his brother, Jordan, said": the recogniser read a person
        if hit is None or s < start or e > end or (s, e) == (start, end):
            return False
        before = text[start:s].split()
        after = text[e:end].split()
        if before and before[-1][:1].isupper():
            continue
        if re.match(r"-[A-Z]", text[e : e + 2]) or re.search(r"[A-Za-z]-$", text[start:s]):
            continue  # "US-Korea Institute": the state is half of a compound
        if not hit.demonym and len(after) >= 2 and all(w[:1].isupper() for w in after[:2]):
            continue
        return False
    return True


_STATE_BODY_HEADS = _words(
    "Ministry Army Navy Force Forces Embassy Police Department Agency Parliament Guard "
    "Command Council Court Office Senate Assembly Service Services Corps"
)


def _state_body(
    text: str,
    start: int,
    end: int,
    kept: Sequence[tuple[int, int]],
    states: Mapping[tuple[Field, int, int], CatalogueHit],
    fld: Field,
) -> bool:
    """ "Iraqi Ministry of Health", "Jordanian Air Force": a body of the state named first;
    both the organisation and the state are actors."""
    inside = [(s, e) for s, e in kept if s < end and e > start]
    if len(inside) != 1 or inside[0][0] != start or inside[0][1] >= end:
        return False
    if (fld, *inside[0]) not in states:
        return False
    rest = text[inside[0][1] : end].split()
    return any(word in _STATE_BODY_HEADS for word in rest)


def _outgrows(taken: Sequence[tuple[int, int]], start: int, end: int) -> bool:
    """The name reaches past every claimed span it overlaps ("Paris Saint-Germain")."""
    return all(
        (s <= start and e < end) or (s > start and e <= end) or (s == start and e < end)
        for s, e in taken
        if s < end and e > start
    )


def _trim(text: str, start: int, end: int, label: str) -> tuple[int, int]:
    """Strip articles, titles, a possessive and punctuation from a recognised name; cut it at
    a dash, a slash or a newline ("Steve Wozniak - who", "Justin Sullivan/Getty Images")."""
    cut = re.search(r"\s[-–—]\s|/|\n|\s\(", text[start:end])
    if cut is not None:
        end = start + cut.start()
    while end > start and not text[end - 1].isalnum() and text[end - 1] not in ".)":
        end -= 1
    if text[end - 2 : end] in ("'s", "’s"):
        end -= 2
    elif text[end - 1 : end] in ("'", "’"):
        end -= 1
    listed = _outlets()
    if text[start:end] in listed and text[start:end].split(" ", 1)[-1] not in listed:
        return start, end  # "The Information": the article is part of the outlet's name
    while True:
        while start < end and not text[start].isalnum():
            start += 1
        token = _SPLIT_TOKEN.match(text, start)
        if token is None or token.end() >= end:
            break
        word = token.group(0)
        elision = re.match(r"^[LlDd]['’]", word)
        if (
            word in _LEADING_WORDS
            or (label == "person" and word in _PERSON_TITLES)
            or re.search(r"[-‐–](?:based|led|backed)$", word)
        ):
            start = token.end()
            continue
        if elision is not None:
            start += 2
            continue
        break
    if text[end - 1 : end] == "." and not re.search(
        r"\b[A-Z]\.$|\b(?:Jr|Sr|Inc|Co|Corp)\.$", text[start:end]
    ):
        end -= 1
    if label == "person":
        start, end = _trim_person(text, start, end)
    else:
        part = _OWNER_OF_PART.search(text, start, end)
        if part is not None and set(text[start : part.start()].split()) & _HEAD_WORDS:
            # "the Center for Strategic & International Studies' Middle East Program": the
            # institution, of which the programme is a part.
            end = part.start()
        owner = _STATE_OWNER.match(text, start, end)
        if (
            owner is not None
            and (_fold(owner.group(1)) in _country_names() or owner.group(2))
            and not all(w in _GENERIC_ORG_WORDS for w in text[owner.end() : end].split())
        ):
            # "Taiwan’s DigiTimes", "the Canadian government's Department of Foreign
            # Affairs"; but "Yemen's Defense Ministry" is the state's own body, named whole.
            start = owner.end()
    return start, end


_OWNER_OF_PART = re.compile(r"(?<=\w)['’]s?[ ]+(?=[A-Z])")
_STATE_OWNER = re.compile(
    r"(?:[Tt]he[ ]+)?([A-Z][\w.-]*(?:[ ][A-Z][\w.-]*)?)((?:[ ]+government)?)['’]s[ ]+(?=[A-Z])"
)
#: Given names that end like a gerund, kept at the start of a sentence.
_ING_NAMES = _words("Channing Sterling Stirling Irving Manning Fleming Harding Browning Keating")


def _trim_person(text: str, start: int, end: int) -> tuple[int, int]:
    """ "Removing Godane" at the head of a sentence: the verb is not part of the name;
    "Isaac Abrak ABUJA": the dateline after a byline is not either."""
    words = text[start:end].split()
    if (
        len(words) > 1
        and len(words[0]) >= 6
        and words[0].endswith("ing")
        and words[0] not in _ING_NAMES
        and re.search(r"(?:^|[.!?\n“\"‘]\s*)$", text[max(0, start - 3) : start])
    ):
        start = text.index(words[1], start + len(words[0]))
        words = words[1:]
    if len(words) > 1 and len(words[-1]) >= 3 and words[-1].isupper() and not words[0].isupper():
        end = text.rindex(words[-1], start, end)
        while end > start and text[end - 1].isspace():
            end -= 1
    return start, end


@lru_cache(maxsize=1)
def _country_names() -> frozenset[str]:
    """Folded names of every ISO 3166-1 country, official and common."""
    import pycountry

    names = set()
    for country in pycountry.countries:
        for attribute in ("name", "common_name", "official_name"):
            value = getattr(country, attribute, None)
            if value:
                names.add(_fold(str(value)))
    return frozenset(names)


_RELIGION_AND_TECH = _words(
    "Islam Christianity Judaism Hinduism Buddhism Quran Qur’an Qur'an Koran Bible Torah Sharia "
    "USB CPU GPU RAM SSD LTE GPS NFC API ASP HTML SDK LED LCD OLED HDMI Wi-Fi Bluetooth "
    "WWI WWII WW1 WW2"
)
_PLACE_HEADS = _words(
    "Building Memorial Hill Square Street Avenue Road Airport Bridge Tower Stadium Arena Park "
    "Block Station Mall Beach Island Valley Mountain River Lake Peninsula Sea Ocean Gulf Desert "
    "Bay Coast Canal Highway Boulevard Plaza Cathedral Mosque Temple Church Hotel Vineyard "
    "Carnival Festival Marathon Olympics Games"
)
_DOCUMENT_HEADS = _words(
    "Strategy Doctrine Act Treaty Accord Accords Agreement Plan Initiative "
    "Programme Program Declaration Charter Law Bill Resolution Memorandum Protocol Convention "
    "Statement Communique Concept Guidelines Directive Regulation Order"
)
_GENERIC_ORG_WORDS = _words(
    "Foreign Defence Defense Interior Health Justice Finance Economy Trade Energy Education "
    "State National Federal Central Public Security Affairs Human Rights Supreme High General "
    "Ministry Department Office Agency Bureau Authority Court Police Army Navy Force Forces "
    "Air Government Council Committee Commission Parliament Senate Assembly Cabinet Party "
    "Union Bank Service Services Intelligence Military Armed Royal Special Joint Command of "
    "for the and Home Environment Transport Labour Labor Agriculture Culture Veterans"
)
_WORK_BEFORE = re.compile(
    r"\b(?:film|movie|book|novel|series|show|song|album|game|documentary|play|sequel|"
    r"episode|musical|biopic|thriller|comedy|drama|franchise)\s+(?:the\s+)?$",
    re.I,
)


_WORK_AFTER = re.compile(
    r"[’'s]*\s+(?:film|films|movie|movies|series|franchise|trilogy|novel|novels|book|books|"
    r"saga|sequel|biopic|album|song|show|character|role|costume|suit)\b",
    re.I,
)
_POSSESSED = re.compile(r"\b[A-Z][a-z]+['’]s\s+$")


def _is_work(text: str, start: int, end: int) -> bool:
    return bool(
        _WORK_BEFORE.search(text[max(0, start - 25) : start])
        or _WORK_AFTER.match(text, end)
        or _quoted(text, start, end)
    )


def _quoted(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 1) : start]
    after = text[end : end + 1]
    return before in ("“", '"', "«") and after in ("”", '"', "»", ",", ".")


def _headline_line(text: str, start: int) -> bool:
    """The name sits on a line in title case ("Mexico Demand Answers For Missing Students"),
    where a recogniser takes every capitalised run for a name."""
    starts, headlines = _lines(text)
    return starts[bisect_right(starts, start) - 1] in headlines


_BYLINE_LINE = re.compile(
    r"\b(?:[Rr]eporting|[Ee]diting|[Ww]riting|[Ww]ritten|[Cc]ompiled|[Ee]dited)\s+by\b|"
    r"^\s*(?:By|BY)\s|\b(?:[Pp]hoto|[Ii]mage|[Cc]redit)s?\s*[:(]"
)


@lru_cache(maxsize=8)
def _lines(text: str) -> tuple[list[int], frozenset[int]]:
    """The start of every line, and of the lines written in title case (computed once per
    text: an article's names all ask)."""
    starts: list[int] = []
    headlines: set[int] = set()
    small = {"a", "an", "the", "of", "for", "and", "in", "on", "to", "at", "by", "with"}
    position = 0
    for line in text.split("\n"):
        starts.append(position)
        if (
            len(line) <= 300
            and not line.rstrip().endswith((".", "?", "!", ":", '"', "”"))
            and not _BYLINE_LINE.search(line)
        ):
            words = re.findall(r"[A-Za-z][\w'’-]*", line)
            capitalised = [w for w in words if w.lower() not in small]
            if len(words) >= 4 and capitalised and all(w[:1].isupper() for w in capitalised):
                headlines.add(position)
        position += len(line) + 1
    return starts, frozenset(headlines)


@lru_cache(maxsize=8)
def _lower_words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"(?<![\w-])[^\W\d_][\w'’]*(?![\w-])", text))


def _plausible(text: str, start: int, end: int, label: str, language: str) -> bool:
    surface = text[start:end]
    words = surface.split()
    if surface in _outlets():
        return True  # a listed outlet is a name, however it is spelt ("9to5Mac")
    if language == "en" and _headline_line(text, start):
        return False
    if _fold(surface) in _regions() or surface in _places_named(text):
        return False  # "Rajasthan"; "Chibok" after "the town of Chibok"
    if not words or len(words) > 8:
        return False
    if any(ch.isdigit() for ch in surface) or any(m in surface for m in ("@", "#", "http")):
        return False
    if not any(w[:1].isupper() for w in words):
        return False
    if "\n" in surface:
        return False
    if label == "person":
        if len(words) > 5 or surface.isupper() or words[0][:1].islower():
            return False
        if _is_work(text, start, end) or _POSSESSED.search(text[max(0, start - 20) : start]):
            return False  # "the James Bond series", "Bale’s Batman"
        if any(w in _NOT_PEOPLE for w in words):
            return False
        return not (len(words) == 1 and _common_word(text, surface))
    # organisations
    if words[-1] in _DOCUMENT_HEADS:
        return False  # "U.S. National Defense Strategy": a document, not its author
    if re.fullmatch(r"[A-Z]{2,}s", surface):
        return False  # "MPs": people, not an organisation
    content = [w for w in words if w not in ("of", "for", "the", "and")]
    if len(content) <= 2 and all(w in _GENERIC_ORG_WORDS for w in words):
        return False  # "the Foreign Ministry": which one, the text must say
    if words[-1] in _PLACE_HEADS or words[-2:] == ["State", "House"]:
        return False  # "Empire State Building", "Parliament Hill", "State House": a place
    if words[-1] in ("Center", "Centre") and not {"for", "of", "on"} & set(words):
        return False  # "World Trade Center", "Yerba Buena Center": a place
    if surface in _RELIGION_AND_TECH:
        return False
    if _is_work(text, start, end):
        return False  # "the film American Hustle", "“The Dark Knight”": a work
    if surface in _NOT_PEOPLE and (
        _MEDIUM_AFTER.match(text, end) or _MEDIUM_BEFORE.search(text[max(0, start - 20) : start])
    ):
        return False  # "on Twitter", "a YouTube video": the medium, not the company
    if len(words) == 1 and len(surface) > 4 and _common_word(text, surface):
        return False
    # "Apple Watch", "Apple Watch Edition", "Google Maps": a product, not the company; but
    # "Human Rights Watch", "North Korea Leadership Watch".
    if set(words) & (_HEAD_WORDS | _STATE_BODY_HEADS):
        return True  # "Jordanian Air Force"
    return not (
        (len(words) > 1 and words[1] in _PRODUCT_WORDS)
        or (len(words) <= 2 and words[-1] in _PRODUCT_WORDS)
    )


_PLACE_INTRO = re.compile(
    r"\b(?:town|city|village|district|province|region|county|suburb|capital|port|"
    r"governorate|neighbou?rhood|township|municipality)\s+of\s+"
    r"([A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)?)"
)


@lru_cache(maxsize=8)
def _places_named(text: str) -> frozenset[str]:
    """Names the text introduces as places ("the Syrian town of Kobane"): every other
    mention of them is the place too ("the Chibok girls")."""
    return frozenset(match.group(1) for match in _PLACE_INTRO.finditer(text))


def _common_word(text: str, word: str) -> bool:
    """A capitalised word the text also uses in lower case is a common noun."""
    lower = word.lower()
    return lower == word or lower in _lower_words(text)


_ACTING_AFTER = re.compile(
    r"\s*(?:['’]s\b|,\s+(?:a|an|the|who|which)\b|\s+(?:has|have|had|is|was|will|would|"
    r"could|can|did|does|said|says|told|announced|unveiled|launched|released|reported|"
    r"confirmed|denied|claimed|added|argued|warned|stated|spokesman|spokeswoman|spokesperson|"
    r"chief|head|officials?|[a-z]+ed|plans|wants|makes|sells|says|hopes|expects|aims)\b)"
)
_ACTING_BEFORE = re.compile(
    r"(?:\b(?:said|told|according\s+to|by|of|from|at|with|for|and|to|against|between|"
    r"joined|spokesman\s+for|member\s+of|head\s+of|chief\s+of|leader\s+of|founder\s+of|"
    r"partner|supplier|maker|company|firm|group|site|website|outlet|tank|agency|startup|"
    r"rival|giant|manufacturer|retailer|publisher|brand|carrier|operator|newspaper|"
    r"magazine|broadcaster|network|channel|blog|militia|faction|movement|brother|sister|"
    r"son|daughter|wife|husband|father|mother|uncle|aunt|cousin|nephew|niece|"
    r"selon|de|du|des|по\s+словам|заявил|заявила|сообщил)\s+(?:the\s+)?)$",
    re.I,
)


def _complete_surnames(
    found: dict[str, FoundActor],
    values: Mapping[Field, str],
    taken: Mapping[Field, Sequence[tuple[int, int]]],
) -> None:
    """ "Wintour" alone, where the text also writes "Anna Wintour" and the recogniser missed
    it: the person gets the full name, and that occurrence is a mention. Only when one given
    name is found before the surname."""
    for key in [
        k
        for k, e in found.items()
        if e.type == "person" and not e.in_catalogue and " " not in e.name
    ]:
        entry = found[key]
        if not _supported(entry, values):
            continue  # too weak on its own; a longer name must not make it look stronger
        pattern = re.compile(rf"\b([A-Z][a-z]+)[ ]{re.escape(entry.name)}\b")
        full: dict[str, list[tuple[Field, int, int]]] = {}
        for fld, text in values.items():
            claimed = sorted(taken.get(fld, ()))
            for match in pattern.finditer(text):
                given = match.group(1)
                if (
                    given in _PERSON_TITLES
                    or given in _NOT_NAME_WORDS
                    or given in _LEADING_WORDS
                    or _common_word(text, given)
                    or _overlaps(claimed, match.start(), match.end())
                ):
                    continue
                full.setdefault(given, []).append((fld, match.start(), match.end()))
        if len(full) != 1:
            continue
        ((given, spans),) = full.items()
        name = f"{given} {entry.name}"
        actor_id = f"person:{actor_slug(name)}"
        if actor_id in found:
            continue
        del found[key]
        found[actor_id] = replace(entry, actor_id=actor_id, name=name, spans=[*spans, *entry.spans])


_ALIAS_CUE = re.compile(
    r"(?:\b(?:also|better|widely)\s+known\s+as|\ba\.?k\.?a\.?|\balias|\bnom\s+de\s+guerre|"
    r"\bwent\s+by\s+the\s+names?|\bgoes\s+by\s+the\s+names?|\bunder\s+the\s+names?)"
    r"[\s,:]+(?:(?:the\s+)?[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*\s*(?:,|and|or)\s+)*$"
)


def _join_aliases(found: dict[str, FoundActor], values: Mapping[Field, str]) -> None:
    """ "Ahmed Abdi Godane ... went by the names Mukhtar Abu Zubeyr and Ahmed Abdi Aw": a name
    given as another's alias is that person. It joins the person named last before the
    cue, in the same text, if that is within 300 characters."""
    people = [e for e in found.values() if e.type == "person"]
    for entry in [e for e in people if not e.in_catalogue]:
        if len(entry.spans) != 1:
            continue
        fld, start, _ = entry.spans[0]
        text = values[fld]
        if not _ALIAS_CUE.search(text[max(0, start - 80) : start]):
            continue
        before = [
            (s, other)
            for other in people
            if other is not entry and other.actor_id in found
            for f, s, _ in other.spans
            if f == fld and start - 300 <= s < start
        ]
        if not before:
            continue
        owner = max(before, key=lambda item: item[0])[1]
        owner.spans.extend(entry.spans)
        del found[entry.actor_id]


def _misspelt(name: str, people: Mapping[str, FoundActor]) -> FoundActor | None:
    """ "Charlie Hedbo" for "Charlie Hebdo": a name of two words or more, of eight letters
    or more, within about one edit of another name in the same article."""
    folded = _fold(name)
    if len(folded) < 8 or " " not in folded:
        return None
    for key, entry in people.items():
        if len(key.split()) == len(folded.split()) and fuzz.ratio(key, folded) >= 85:
            return entry
    return None


def _one_type_per_name(found: dict[str, FoundActor]) -> None:
    """One name is one actor of the article: the recogniser typed "Ahmadu" a person in one
    sentence and an organisation in another, and "Virgin" a person after "Virgin Media".
    The type named more often wins; a tie goes to the person ("patriot Paul Revere", "a
    Paul Revere plate")."""
    people = {_fold(e.name): e for e in found.values() if e.type == "person" and not e.in_catalogue}
    for key in [k for k, e in found.items() if e.type == "organisation" and not e.in_catalogue]:
        organisation = found[key]
        person = people.get(_fold(organisation.name)) or _misspelt(organisation.name, people)
        if person is None:
            continue
        keep, drop = (
            (organisation, person)
            if len(organisation.spans) > len(person.spans)
            else (person, organisation)
        )
        keep.spans.extend(drop.spans)
        del found[drop.actor_id]
    # "the Observatory" after "the Syrian Observatory for Human Rights", "Virgin" after
    # "Virgin Media", read as people: a one-word name that begins or ends exactly one
    # organisation's name (or is its head word), and no person's, is that organisation.
    named = [e for e in found.values() if e.type in ("organisation", "bloc")]
    people_words = {
        word for e in found.values() if e.type == "person" and " " in e.name
        for word in _fold(e.name).split()
    }  # fmt: skip
    for key in [
        k
        for k, e in found.items()
        if e.type == "person" and not e.in_catalogue and " " not in e.name.strip()
    ]:
        word = _fold(found[key].name)
        if word in people_words:
            continue
        head = found[key].name.strip() in _HEAD_WORDS
        owners = [
            e for e in named
            if (words := _fold(e.name).split())[:1] == [word] or words[-1:] == [word]
            or (head and word in words)
        ]  # fmt: skip
        if len(owners) == 1 and " " in owners[0].name:
            owners[0].spans.extend(found[key].spans)
            del found[key]


_LOCATED_BEFORE = re.compile(
    r"\b(?:in|near|outside|into|around|across|towards?|(?:control|outskirts|north|south|east|"
    r"west)\s+of)\s+$",
    re.I,
)


def _supported(entry: FoundActor, values: Mapping[Field, str]) -> bool:
    """An open-world actor named by one word once, with nothing around it that reads as an
    actor ("Frantic", "Justice" in a headline-cased phrase), is too weak to report; one word
    only ever named as a location ("in Mubi", "control of Mubi") is a place."""
    if entry.in_catalogue or entry.role == "source":
        return True
    words = entry.name.split()
    if len(words) == 1 and all(
        _LOCATED_BEFORE.search(values[f][max(0, s - 25) : s]) for f, s, _ in entry.spans
    ):
        return False
    if (
        entry.type == "organisation"
        and len(words) == 1
        and fold_town(entry.name) in town_names()
        and not any(
            _ACTING_AFTER.match(values[f], e) or _cites(values[f], s, e) for f, s, e in entry.spans
        )
    ):
        return False  # "the battle for Kobane", "the Marburg virus": a town
    if entry.type == "person" and len(words) > 1:
        return True
    if entry.type == "organisation" and len(words) > 1 and set(words) & _HEAD_WORDS:
        return True  # "Centre for Danube Studies": the name says what it is
    if len(entry.spans) > 1:
        return True
    fld, start, end = entry.spans[0]
    text = values[fld]
    before = text[max(0, start - 30) : start].split()
    if entry.type == "person" and before and before[-1] in _PERSON_TITLES:
        return True  # "President Kennedy", "Sgt Cherry"
    return bool(
        _ACTING_AFTER.match(text, end) or _ACTING_BEFORE.search(text[max(0, start - 30) : start])
    )


_NICKNAMES = {
    "jim": "james", "jimmy": "james", "bill": "william", "will": "william", "bob": "robert",
    "rob": "robert", "mike": "michael", "tom": "thomas", "dick": "richard", "rick": "richard",
    "joe": "joseph", "tony": "anthony", "andy": "andrew", "dave": "david", "steve": "steven",
    "ben": "benjamin", "chris": "christopher", "dan": "daniel", "nick": "nicholas",
    "alex": "alexander", "sasha": "alexander", "liz": "elizabeth", "beth": "elizabeth",
    "kate": "katherine", "sam": "samuel", "ted": "edward", "ed": "edward", "jack": "john",
}  # fmt: skip


def _tail_of(short: str, long: str) -> bool:
    """ "Castro Odinga" ends "Fidel Castro Odinga"; "Jong Un" ends "Kim Jong-un"."""
    a = re.split(r"[\s-]+", _fold(short))
    b = re.split(r"[\s-]+", _fold(long))
    return len(a) < len(b) and b[-len(a) :] == a


_ROLE_NOUNS = {
    "senator": ("senator", "sen"), "president": ("president",), "minister": ("minister",),
    "prime minister": ("prime minister", "premier"), "chancellor": ("chancellor",),
    "ambassador": ("ambassador",), "general": ("general", "gen"), "governor": ("governor", "gov"),
    "spokesman": ("spokesman",), "spokeswoman": ("spokeswoman",), "pope": ("pope",),
    "secretary": ("secretary",), "congressman": ("congressman", "rep"),
    "congresswoman": ("congresswoman", "rep"), "mayor": ("mayor",), "judge": ("judge",),
    "king": ("king",), "queen": ("queen",), "prince": ("prince",), "colonel": ("colonel", "col"),
}  # fmt: skip
_ROLE_MENTION = re.compile(
    r"\b[Tt]he\s+("
    + "|".join(sorted(_ROLE_NOUNS, key=len, reverse=True))
    + r")\b(?!\s+(?:of|for|and|[A-Z]))"
)


def _join_role_mentions(
    found: Mapping[str, FoundActor],
    values: Mapping[Field, str],
    taken: Mapping[Field, Sequence[tuple[int, int]]],
) -> None:
    """ "the senator" after "Senator John McCain": a role noun joins the one person of the
    article introduced with that title; with two senators it joins nobody."""
    holders: dict[str, set[str]] = {}
    for entry in found.values():
        if entry.type != "person":
            continue
        for fld, start, _ in entry.spans:
            before = values[fld][max(0, start - 30) : start].lower()
            for role, titles in _ROLE_NOUNS.items():
                if any(re.search(rf"\b{re.escape(t)}\.?\s+$", before) for t in titles):
                    holders.setdefault(role, set()).add(entry.actor_id)
    for fld, text in values.items():
        for match in _ROLE_MENTION.finditer(text):
            owners = holders.get(match.group(1).lower(), set())
            if len(owners) != 1:
                continue
            start, end = match.start(1), match.end(1)
            if _overlaps(sorted(taken.get(fld, ())), start, end):
                continue
            entry = found[next(iter(owners))]
            first = (
                min(s for f, s, _ in entry.spans if f == fld)
                if any(f == fld for f, _, _ in entry.spans)
                else None
            )
            if first is not None and start > first:
                entry.spans.append((fld, start, end))


def _same_given_name(first: str, second: str) -> bool:
    a, b = _fold(first), _fold(second)
    if a == b or _NICKNAMES.get(a, a) == _NICKNAMES.get(b, b):
        return True
    short, long = sorted((a, b), key=len)
    return len(short) <= 3 and long.startswith(short[:2]) and short[:1] == long[:1]


def _part_of(key: str, people: Iterable[FoundActor]) -> FoundActor | None:
    """The one person whose name contains ``key`` as a word ("Jong" in "Kim Jong-un")."""
    owners = {id(p): p for p in people if key in re.split(r"[\s-]+", _fold(p.name))}
    return next(iter(owners.values())) if len(owners) == 1 else None


def _person_name(surface: str, language: str) -> str:
    if language == "ru":
        words = surface.split()
        gender = name_gender(words[0]) if len(words) > 1 else None
        return " ".join(nominative(word, gender) for word in words)
    return surface


def _declared_acronym(text: str, end: int) -> str | None:
    match = re.match(r"\s*\(\s*([A-ZА-Я][A-ZА-Я0-9&.-]{1,9})\s*\)", text[end : end + 20])
    return match.group(1) if match else None


_STORY_BEFORE = re.compile(
    r"(?:\b(?:(?:website|site|office|offices|bureau|journalists?|staff|correspondents?|owner|"
    r"editors?|licen[cs]e|broadcasts?|accreditation|coverage)\s+of|blocked|banned|closed|"
    r"raided|fined|shut\s+down|employed\s+by|work(?:ed|s|ing)?\s+for|hired\s+by|freelanc\w*\s+for|"
    r"(?:journalist|reporter|photographer|editor|correspondent)\s+(?:for|with|at)|sued|banned|"
    r"against|boycott\w*)\s+(?:the\s+)?)$",
    re.I,
)
_STORY_AFTER = re.compile(
    r"['’]?s?\s+(?:hired|employed|fired|aired|broadcast|banned|sued|apologi[sz]ed|"
    r"published\s+(?:his|her|their|a\s+photo)|retracted|settled|paid|bought|sold|"
    r"launched|announced\s+(?:it|that\s+it))\b",
    re.I,
)


def _in_story(text: str, start: int, end: int) -> bool:
    return bool(
        _STORY_BEFORE.search(text[max(0, start - 40) : start]) or _STORY_AFTER.match(text, end)
    )


_BYLINE_AFTER = re.compile(r"\s+(?:contributed|reported\s+from|contributed\s+reporting)\b")
_BYLINE_ROLE_BEFORE = re.compile(
    r"\b(?:writer|correspondent|reporter|photographer|editor)\s+$|['’]s\s+$", re.I
)


def _byline(text: str, start: int, end: int) -> bool:
    """ "Reporting by X", "Photo: X", "CNN's X contributed to this report", "AP writer X"."""
    before = text[max(0, start - 60) : start]
    if _BYLINE_BEFORE.search(before):
        return True
    return bool(_BYLINE_AFTER.match(text, end)) and (
        _BYLINE_ROLE_BEFORE.search(before) is not None
        or before.rstrip(" ").endswith(("\n", "."))
        or not before.strip()
    )


_OUTLET_WORDS = _words(
    "Examiner Beacon Insider Ilbo Diario Sabah Sabaah Inquirer Courier Mercury Sentinel "
    "Bulletin Observer Tribune Gazette Herald Chronicle Dispatch Post Times Journal News "
    "Telegraph Mail Express Mirror Independent Guardian Globe Daily Weekly Magazine Radio TV "
    "Television Press"
)
_WEB_SUFFIX = re.compile(r"\.(?:com|net|org|co\.uk|ru|fr|de|info)$")


def _outlet_shaped(name: str, outlets: frozenset[str]) -> bool:
    """ "Washington Free Beacon", "Huddersfield Examiner", "Haaretz.com", "BBC Hausa": a name
    that reads as a news outlet even when the outlet list lacks it."""
    words = name.split()
    if not words:
        return False
    if _WEB_SUFFIX.search(name) or words[0] in outlets:
        return True
    last = words[-1].split("-")[-1]  # "Washington Free-Beacon"
    return last in _OUTLET_WORDS or (len(words) > 1 and words[0] == "Diario")


def _cites(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 40) : start]
    return bool(_CITE_BEFORE.search(before) or _CITE_AFTER.match(text, end)) or bool(
        _BYLINE_BEFORE.search(text[max(0, start - 60) : start])
    )
