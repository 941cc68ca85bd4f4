"""People outside the actor catalogue who are named and quoted or cited in an article.

A person is extracted only in a citing construction:

* ``As <Name> argued / put it / observed ...`` (a single surname is enough: "As Vattel argued");
* ``according to <Name>``;
* ``<verb> <Name>`` and ``<verb> the <role words> <Name>`` ("said John Smith, ...", "wrote the
  jurist Emer de Vattel");
* ``<Name> said / argued / wrote ...``, also across an appositive ("Jane Doe, a fellow at the
  Institute, said");
* ``<Name>, a/the/former <role> ...`` and ``<Name> who was (former) ... <role>`` with a role noun
  (ambassador, professor, analyst, ...).

Apart from "As <Name> ...", a name needs two words, or a title before it ("Professor Smith
said"). Leading titles and function words are stripped ("Former ambassador" ...); a name that
overlaps a catalogue match, contains a month, a day, a pronoun, an institution word ("House",
"Ministry", "Press") or a news outlet, or is a single word at the start of a sentence, is
rejected. Later mentions of the full name or of the surname alone ("Raby said") join the same
person, whose id is ``person:<slug of the name>``.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["CitedPeopleFinder", "CitedPerson", "person_slug"]

Field = Literal["title", "text"]

_UP = "A-ZÀ-ÖØ-ÞĀĂĄĆČĎĐĒĘĚĞĪİĽŁŃŇŌŐŒŘŚŞŠŢŤŪŮŰŹŻŽ"
_LO = "a-zß-öø-ÿāăąćčďđēęěğīıľłńňōőœřśşšţťūůűźżž"
_TOK = rf"[{_UP}][{_LO}]*(?:[{_UP}][{_LO}]+)?(?:-[{_UP}]?[{_LO}]+|['’][{_UP}][{_LO}]+)*"
_INI = rf"[{_UP}]\."
_PART = r"(?:de|da|di|du|del|della|dos|das|van|von|der|den|ter|ten|le|la|al|el|bin|ibn|ben|abu)"
_NAME = rf"{_TOK}(?:[ ](?:{_PART}[ ])*(?:{_INI}[ ])?{_TOK}){{0,3}}"

_VERBS_PAST = (
    "said|argued|wrote|noted|observed|explained|warned|added|commented|remarked|insisted|"
    "contended|suggested|claimed|stated|concluded|predicted|cautioned|recalled|emphasised|"
    "emphasized|stressed|maintained|asserted|acknowledged|admitted|opined|pointed out|put it|"
    "believed|told|wondered|quipped|mused|conceded|countered|replied|reasoned|lamented|argues"
)
_VERBS_PRESENT = (
    "says|argues|writes|notes|observes|explains|warns|adds|comments|insists|contends|suggests|"
    "claims|states|concludes|predicts|cautions|recalls|emphasises|emphasizes|stresses|"
    "maintains|asserts|acknowledges|admits|puts it|believes|tells|reminds us|points out"
)
_VERBS = f"{_VERBS_PAST}|{_VERBS_PRESENT}"
_ADV = (
    "once|has|had|famously|rightly|aptly|also|recently|later|so|succinctly|memorably|correctly|"
    "then|previously|further|again|earlier|reportedly|himself|herself|persuasively|cogently"
)
_ROLES = (
    "ambassador|professor|analyst|expert|researcher|scholar|fellow|director|economist|historian|"
    "jurist|journalist|commentator|columnist|author|writer|editor|diplomat|lecturer|spokesman|"
    "spokeswoman|spokesperson|adviser|advisor|strategist|scientist|head|chief|chairman|chair|"
    "founder|specialist|academic|officer|official|veteran|correspondent|reporter|observer|"
    "lawyer|attorney|philosopher|theorist|sociologist|consultant|executive|dean|envoy|"
    "negotiator|lawmaker|legislator|politician|activist|campaigner|critic|blogger|pundit|"
    "commander|general|colonel|senator|congressman|congresswoman|member|deputy|minister|"
    "secretary|president|vice-president|manager|partner|leader|student|teacher|doctor|"
    "physician|candidate|[a-z]+ologist|[a-z]+ist|[a-z]+ian"
)
_ROLE_WORDS = r"(?:[a-z][\w-]*[ ]){0,3}(?:" + _ROLES + r")"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_FLAGS = 0
_P_AS = re.compile(rf"\b[Aa]s[ ]+(?P<name>{_NAME})(?:[ ]+(?:{_ADV}))?[ ]+(?:{_VERBS})\b", _FLAGS)
_P_ACCORDING = re.compile(
    rf"\b[Aa]ccording[ ]+to[ ]+(?:(?:the[ ]+)?{_ROLE_WORDS}[ ]+)?(?P<name>{_NAME})", _FLAGS
)
_P_VERB_FIRST = re.compile(
    rf"\b(?:{_VERBS})[ ]+(?:(?P<role>(?:the|a|an|former)[ ]+{_ROLE_WORDS})[ ]+)?(?P<name>{_NAME})",
    _FLAGS,
)
_P_NAME_FIRST = re.compile(
    rf"(?P<name>{_NAME})(?:,[^,.;:!?\n\"“”()]{{2,160}},)?[ ]+(?:(?:{_ADV})[ ]+)?(?:{_VERBS})\b",
    _FLAGS,
)
_P_APPOSITIVE = re.compile(
    rf"(?P<name>{_NAME})(?:,[ ]*|[ ]+who[ ]+(?:is|was|has[ ]+been|had[ ]+been|served[ ]+as|"
    rf"works[ ]+as|worked[ ]+as)[ ]+)"
    rf"(?:(?:a|an|the|former|then|now|currently|also|once|formerly|later|previously|longtime|"
    rf"veteran|senior|leading|prominent|renowned|noted)[ ]+)+"
    rf"(?:[^\s,.;:!?()]+[ ]+){{0,5}}?(?:{_ROLES})\b",
    _FLAGS,
)

_TITLES = _words(
    """Mr Mr. Mrs Mrs. Ms Ms. Dr Dr. Prof Prof. Professor President Premier Prime Minister
    Foreign Secretary Chancellor General Gen Gen. Senator Sen Sen. Rep Rep. Representative
    Governor Gov Gov. Ambassador Judge Justice Sir Dame Lord Lady King Queen Prince Princess
    Pope Chairman Chairwoman Chief Vice Deputy Former Spokesman Spokeswoman Colonel Col Col.
    Captain Capt Capt. Lieutenant Lt Lt. Sergeant Sgt Admiral Adm Rev Rev. Reverend Father
    Sister Brother Sheikh Emir Crown Commissioner Director Mayor Attorney Officer Detective
    Inspector Analyst Economist Historian Jurist Author Writer Editor Commentator Columnist
    Lawmaker Congressman Congresswoman Speaker Leader Head Defence Defense Interior Finance
    Trade Health Energy State Home Executive Managing Acting Interim Ret Ret. Dean Rabbi Imam
    Cardinal Archbishop Bishop Marshal Field Major Commander Rear Adm. Counsel Insp Insp.
    Spokesperson Witness Eyewitness Coroner Sheriff Deputy Agent Constable Superintendent"""
)
_LEADING = _words(
    """The A An This That These Those His Her Their Its Our My Your But And Yet So Or Nor When
    While After Before Since Although Though If Because As In On At For With From By Of To
    Then Also Meanwhile However Still Now Here There Some Many Most Other Others Both All
    Recently Earlier Later Indeed Moreover Furthermore Nevertheless Nonetheless Instead
    Thus Hence Today Yesterday Tonight Perhaps Maybe Certainly Clearly Obviously Notably
    Similarly Likewise Finally First Second Third Last Next Even Only Just Again Already
    According Writing Speaking Asked Quoting Citing Like Unlike Under Over Despite Given"""
)
_STOP = _words(
    """January February March April May June July August September October November December
    Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec Monday Tuesday Wednesday Thursday Friday
    Saturday Sunday I He She It We They You Who What Which Where Why How Everyone Everybody
    Nobody Someone Somebody One None People Analysts Critics Officials Experts Observers
    Sources Police Witnesses Residents Reports Scientists Researchers Authorities
    Investigators Prosecutors Lawmakers Democrats Republicans Conservatives Liberals Leaders
    Diplomats Historians Economists Commentators Journalists Reporters Scholars Activists
    House Department Ministry Office Agency Press News Times Post Journal Herald Daily Weekly
    Council Committee Commission Court University Institute Center Centre Foundation
    Association Party Union Group Bank Company Corporation Corp Inc Ltd Service Services
    Network Television Radio Report Review Magazine Organization Organisation Government
    Administration Parliament Congress Senate Assembly Army Navy Force Forces Guard Command
    Club Church School College Hospital Airport Street Square Road Avenue States Republic
    Kingdom Federation Empire Ocean Sea River Mountain Island Islands City County Province
    Region Valley Tribune Guardian Telegraph Independent Observer Mail Express Mirror Globe
    Star Reuters Bloomberg Xinhua Tass Interfax Twitter Facebook Google Apple Microsoft Amazon
    YouTube Instagram Telegram Wikipedia God Allah Jesus Christ Bible Koran Quran Internet Web
    Watch Rights International National Federal Global European Western Eastern Northern
    Southern Asian African Arab Arabic Muslim Christian Jewish Islamic Catholic Sunni Shia
    Kurdish Soviet Communist Labour Liberal Democrat Democratic Republican Conservative
    Green Greens Tory Tories Brexit Covid Coronavirus Olympics World Cup League Championship
    Council Summit Conference Forum Treaty Accord Agreement Charter Act Declaration Strategy
    Doctrine Plan Policy Initiative Project Program Programme Operation Affairs Relations
    Security Defence Defense Foreign Public Private Social Media Twitter Reddit Associated
    Statement Letter Study Survey Poll Research Data Index North South East West Middle Far
    Cold War Great Greater Little New Old Saint San Santa Fort Mount Lake Bay Gulf Cape
    Times Chronicle Gazette Standard Inquirer Economist Atlantic Politico Axios Vox Wired
    Nature Science Lancet Fox Sky Al Jazeera Sputnik Pravda Izvestia Kommersant Vedomosti
    Yahoo Netflix Spotify Uber Tesla Boeing Airbus Gazprom Rosneft Huawei Samsung Sony
    Thanks Yes No Oh Please Sorry Hello Well Okay OK Mister Madam Sir Ladies Gentlemen
    Chinese Russian American British French German Reporter Insider Online Ilbo Patrol
    Haram Srpska Beacon Stores Magistrates Yard"""
)
_SENTENCE_END_BEFORE = re.compile(r"(?:[.!?…][\"”’')\]]*[ \t]+|\n[ \t]*|[\"“][ \t]*)$")
_BAD_SUFFIX = re.compile(
    r"-(?:based|led|backed|linked|born|era|style|run|owned|funded|"
    r"made|related|like|wide|bound|controlled|occupied|held)$"
)
_TOKEN_SPLIT = re.compile(r"\S+")


@dataclass
class CitedPerson:
    """A person found through a citation, with all mention spans (field, start, end)."""

    actor_id: str
    name: str
    spans: list[tuple[Field, int, int]] = field(default_factory=list)


def person_slug(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name)
    ascii_name = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")


def _overlaps(spans: Sequence[tuple[int, int]], start: int, end: int) -> bool:
    i = bisect_left(spans, (start, start))
    if i > 0 and spans[i - 1][1] > start:
        return True
    return i < len(spans) and spans[i][0] < end


@dataclass
class _Candidate:
    tokens: list[tuple[int, int]]  # (start, end) of each kept word, in text order
    name: str
    titled: bool  # a title was stripped before it ("Professor Smith"), licensing one word


class CitedPeopleFinder:
    """Find quoted or cited people in text; see the module docstring for the rules."""

    def find(
        self,
        fields: Sequence[tuple[Field, str]],
        claimed: Mapping[Field, Sequence[tuple[int, int]]],
    ) -> list[CitedPerson]:
        names: list[str] = []
        for fld, text in fields:
            names.extend(self._cited_names(text, claimed.get(fld, ())))
        if not names:
            return []
        # Group: full names first; a surname-only name joins the full name it ends.
        full = [n for n in dict.fromkeys(names) if " " in n]
        singles = [n for n in dict.fromkeys(names) if " " not in n]
        people: dict[str, CitedPerson] = {}
        by_surname: dict[str, CitedPerson] = {}
        for name in full + singles:
            surname = name.split(" ")[-1]
            if " " not in name and surname in by_surname:
                continue
            person = CitedPerson(actor_id=f"person:{person_slug(name)}", name=name)
            people.setdefault(name, person)
            by_surname.setdefault(surname, people[name])
        keys = sorted({*people, *by_surname}, key=len, reverse=True)
        pattern = re.compile(r"(?<![\w'’-])(?:" + "|".join(map(re.escape, keys)) + r")(?![\w-])")
        for fld, text in fields:
            taken = claimed.get(fld, ())
            for m in pattern.finditer(text):
                if _overlaps(taken, m.start(), m.end()):
                    continue
                person = people.get(m.group(0)) or by_surname[m.group(0)]
                person.spans.append((fld, m.start(), m.end()))
        return [p for p in people.values() if p.spans]

    # ------------------------------------------------------------------ candidates

    def _cited_names(self, text: str, claimed: Sequence[tuple[int, int]]) -> list[str]:
        found: list[tuple[int, str]] = []
        for pattern, single_ok in (
            (_P_AS, True),
            (_P_ACCORDING, False),
            (_P_VERB_FIRST, False),
            (_P_NAME_FIRST, False),
            (_P_APPOSITIVE, False),
        ):
            pos = 0
            while True:
                m = pattern.search(text, pos)
                if m is None:
                    break
                role_intro = "role" in pattern.groupindex and m.group("role") is not None
                cand = self._clean(text, m.start("name"), m.end("name"), claimed)
                if cand is not None and self._acceptable(
                    text, cand, single_ok or role_intro, claimed
                ):
                    found.append((cand.tokens[0][0], cand.name))
                    pos = m.end("name")
                else:
                    # Try again from the next word inside the name: "Recently, Geoff Raby ..."
                    nxt = text.find(" ", m.start("name") + 1, m.end("name"))
                    pos = nxt + 1 if nxt != -1 else m.end("name")
                pos = max(pos, m.start() + 1)
        found.sort()
        return [name for _, name in found]

    def _clean(
        self, text: str, start: int, end: int, claimed: Sequence[tuple[int, int]]
    ) -> _Candidate | None:
        tokens = [
            (m.start() + start, m.end() + start) for m in _TOKEN_SPLIT.finditer(text[start:end])
        ]
        # Strip leading titles, function words and catalogue words ("Australian Geoff Raby").
        titled = False
        while tokens:
            s, e = tokens[0]
            word = text[s:e]
            if word in _TITLES:
                titled = True
            elif not (
                word in _LEADING
                or word in _STOP
                or _overlaps(claimed, s, e)
                or (_at_sentence_start(text, s) and _used_lowercase(text, word))
            ):
                break
            tokens.pop(0)
        if not tokens:
            return None
        s0, e1 = tokens[0][0], tokens[-1][1]
        if _overlaps(claimed, s0, e1):
            return None
        words = [text[s:e] for s, e in tokens]
        for word in words:
            if word in _STOP or word in _TITLES or _BAD_SUFFIX.search(word):
                return None
            if len(word) < 2 and not word.endswith("."):
                return None
        if words[0].islower() or words[-1].islower():  # a particle at either end
            return None
        return _Candidate(tokens=tokens, name=" ".join(words), titled=titled)

    def _acceptable(
        self,
        text: str,
        cand: _Candidate,
        single_ok: bool,
        claimed: Sequence[tuple[int, int]],
    ) -> bool:
        if len(cand.tokens) > 1 or cand.titled:
            return True
        if not single_ok:
            return False
        return not _at_sentence_start(text, cand.tokens[0][0])


def _at_sentence_start(text: str, start: int) -> bool:
    if not text[max(0, start - 6) : start].strip() and not text[:start].strip():
        return True
    return _SENTENCE_END_BEFORE.search(text, max(0, start - 6), start) is not None


def _used_lowercase(text: str, word: str) -> bool:
    """A capitalised word at a sentence start that the text also uses in lower case ("Waitress
    Jiang said" ... "the waitress") is a common noun, not a given name."""
    lower = word.lower()
    if lower == word:
        return False
    return re.search(r"(?<![\w-])" + re.escape(lower) + r"(?![\w-])", text) is not None
