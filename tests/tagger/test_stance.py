"""Target-dependent stance: committed model, features, aggregation and the training script."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from mediawatch.schemas.events import StanceLabel
from mediawatch.tagger import stance_training
from mediawatch.tagger.stance import (
    DEFAULT_MODEL_PATH,
    FeatureExtractor,
    StanceModel,
    StancePrediction,
    article_tone,
)


@pytest.fixture(scope="module")
def model() -> StanceModel:
    return StanceModel.load()


@pytest.fixture(scope="module")
def extractor() -> FeatureExtractor:
    return FeatureExtractor()


def _predict(model: StanceModel, sentence: str, mention: str) -> StancePrediction:
    start = sentence.index(mention)
    return model.predict(sentence, start, start + len(mention))


def _features(extractor: FeatureExtractor, sentence: str, mention: str) -> dict[str, float]:
    start = sentence.index(mention)
    return extractor.extract(sentence, start, start + len(mention))


# --- committed model ----------------------------------------------------------------------------


def test_committed_model_loads_and_is_small(model: StanceModel) -> None:
    assert DEFAULT_MODEL_PATH.stat().st_size < 5 * 1024 * 1024
    assert len(model.weights) > 1000
    assert model.metadata["heldout"]["macro_f1"] > 0.6
    assert StanceModel.load(DEFAULT_MODEL_PATH).weights.keys() == model.weights.keys()


def test_target_dependence(model: StanceModel) -> None:
    sentence = "Moscow praised Beijing but condemned NATO's reckless expansion."
    beijing = _predict(model, sentence, "Beijing")
    nato = _predict(model, sentence, "NATO")
    assert beijing.label is StanceLabel.SUPPORTIVE
    assert nato.label is StanceLabel.CRITICAL
    assert beijing.score > 0 > nato.score


def test_negation_flips(model: StanceModel) -> None:
    plain = _predict(model, "Analysts say NATO is reckless and dangerous.", "NATO")
    negated = _predict(model, "Analysts say NATO is not reckless and not dangerous.", "NATO")
    assert plain.label is StanceLabel.CRITICAL
    assert negated.score > plain.score + 0.5
    assert negated.label is not StanceLabel.CRITICAL

    condemned = _predict(model, "The minister condemned the senator.", "senator")
    not_condemned = _predict(model, "The minister did not condemn the senator.", "senator")
    assert condemned.label is StanceLabel.CRITICAL
    assert not_condemned.score > condemned.score


def test_reported_speech(model: StanceModel) -> None:
    accused = _predict(model, "Trump accused Clinton of lying about the deal.", "Clinton")
    assert accused.label is StanceLabel.CRITICAL
    assert any(name.startswith("role:patient_of:neg_act") for name, _ in accused.explain)
    praised = _predict(
        model, "Merkel praised Macron for his leadership on the climate deal.", "Macron"
    )
    assert praised.label is StanceLabel.SUPPORTIVE


def test_scores_and_probabilities_are_bounded(model: StanceModel) -> None:
    sentences = [
        ("Moscow praised Beijing but condemned NATO's reckless expansion.", "Moscow"),
        ("The committee met on Tuesday.", "committee"),
        ("", ""),
        ("Nobody, not even her allies, trusts the chancellor anymore!!!", "chancellor"),
    ]
    for sentence, mention in sentences:
        p = _predict(model, sentence, mention)
        assert -1.0 <= p.score <= 1.0
        assert abs(sum(p.probabilities.values()) - 1.0) < 1e-9
        assert set(p.probabilities) == {"critical", "neutral", "supportive"}
        assert p.score == pytest.approx(p.probabilities["supportive"] - p.probabilities["critical"])
    # Offsets out of range are clamped, not an error.
    p = model.predict("NATO expands.", 50, 80)
    assert -1.0 <= p.score <= 1.0


def test_explain_lists_signed_contributions(model: StanceModel) -> None:
    p = _predict(model, "Moscow praised Beijing but condemned NATO's reckless expansion.", "NATO")
    assert 0 < len(p.explain) <= model.explain_top
    magnitudes = [abs(v) for _, v in p.explain]
    assert magnitudes == sorted(magnitudes, reverse=True)
    assert sum(v for _, v in p.explain) < 0
    assert model.predict("NATO expands.", 0, 4, explain=False).explain == []


# --- features -----------------------------------------------------------------------------------


def test_roles(extractor: FeatureExtractor) -> None:
    s = "Moscow praised Beijing but condemned NATO's reckless expansion."
    assert "role:agent_of:pos_act" in _features(extractor, s, "Moscow")
    assert "role:patient_of:pos_act" in _features(extractor, s, "Beijing")
    nato = _features(extractor, s, "NATO")
    assert "role:patient_of:neg_act" in nato
    assert "role:possessor_of:neg_trait" in nato
    assert "role:patient_of:pos_act" not in nato  # "praised" is in another clause

    passive = "The governor was condemned by the mayor."
    assert "role:patient_of:neg_act" in _features(extractor, passive, "governor")
    assert "role:agent_of:neg_act" in _features(extractor, passive, "mayor")

    speech = "The senator said the plan was a failure."
    assert "role:speaker" in _features(extractor, speech, "senator")


def test_negation_scope(extractor: FeatureExtractor) -> None:
    negated = _features(extractor, "The minister did not condemn the senator.", "senator")
    assert "role:patient_of:pos_act" in negated
    assert "role:patient_of:neg_act" not in negated
    # Negation does not cross a clause boundary.
    far = _features(extractor, "It is not over, but critics condemned the senator.", "senator")
    assert "role:patient_of:neg_act" in far


def test_curly_quotes_keep_offsets(extractor: FeatureExtractor) -> None:
    s = "“NATO’s reckless expansion”, said the minister."
    feats = _features(extractor, s, "NATO")
    assert "role:possessor_of:neg_trait" in feats
    assert "tgt:in_quote" in feats or "sent:has_quote" in feats


# --- article tone ---------------------------------------------------------------------------


def test_article_tone() -> None:
    assert article_tone("") == (StanceLabel.NEUTRAL, 0.0)
    label, score = article_tone(
        "The summit was a great success. Leaders praised the excellent cooperation."
    )
    assert label is StanceLabel.SUPPORTIVE and 0 < score <= 1
    label, score = article_tone("The attack was horrible. Dozens were killed in the awful war.")
    assert label is StanceLabel.CRITICAL and -1 <= score < 0
    assert article_tone("The committee met on Tuesday.")[0] is StanceLabel.NEUTRAL


# --- training script ----------------------------------------------------------------------------

_SUBJECTS = ["Alpha", "Bravo", "Carlo", "Delta", "Echo", "Foxtrot", "Golf", "Hotel"]
_TEMPLATES = {
    2.0: [
        "{a} condemned {b} for the reckless attack.",
        "{a} accused {b} of lying.",
        "{b} was slammed by critics over the scandal.",
    ],
    4.0: ["{a} met {b} on Tuesday.", "{b} will travel to the capital next week."],
    6.0: [
        "{a} praised {b} for the successful reform.",
        "{b} was welcomed as a hero by the crowd.",
    ],
}


def _synthetic_jsonl(path: Path, n: int = 120) -> None:
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            polarity = [2.0, 4.0, 6.0][i % 3]
            a, b = rng.sample(_SUBJECTS, 2)
            sentence = rng.choice(_TEMPLATES[polarity]).format(a=a, b=b) + f" Case {i}."
            start = sentence.index(b)
            row = {
                "primary_gid": f"syn_{i}",
                "sentence_normalized": sentence,
                "targets": [
                    {"from": start, "to": start + len(b), "mention": b, "polarity": polarity}
                ],
            }
            fh.write(json.dumps(row) + "\n")


def test_training_script_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "train.jsonl"
    out = tmp_path / "model" / "stance_model.json"
    _synthetic_jsonl(data)
    argv = ["--data", str(data), "--out", str(out), "--folds", "2", "--l2", "1e-3"]
    argv += ["--epochs", "2", "4", "--min-count", "1"]
    assert stance_training.main(argv) == 0
    printed = capsys.readouterr().out
    for needle in ("train:", "held-out:", "held-out macro-F1", "VADER-on-sentence", "targets/s"):
        assert needle in printed
    trained = StanceModel.load(out)
    assert trained.metadata["hyperparameters"]["epochs"] in (2, 4)
    s = "Kilo condemned Lima for the reckless attack."
    assert _predict(trained, s, "Lima").label is StanceLabel.CRITICAL
    s = "Kilo praised Lima for the successful reform."
    assert _predict(trained, s, "Lima").label is StanceLabel.SUPPORTIVE

    # Reproducible: the same run writes the same file.
    again = tmp_path / "again.json"
    assert stance_training.main([*argv[:2], "--out", str(again), *argv[4:]]) == 0
    assert again.read_bytes() == out.read_bytes()
