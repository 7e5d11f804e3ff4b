"""Model cards (JSON plus Markdown) whose numbers come from evaluations run when the card is made."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from ferkit.core.errors import OptionError
from ferkit.data import load_dataset
from ferkit.evaluate import evaluate
from ferkit.export.quantize import quantization_record
from ferkit.export.speed import speed_record
from ferkit.infer.classifier import EmotionClassifier
from ferkit.models.checkpoint import read_checkpoint

HEADLINE = ("accuracy", "balanced_accuracy", "macro_f1", "top2_accuracy", "top3_accuracy", "ece")


def _selection(state: dict) -> str:
    """How the checkpoint was chosen: by the trainer on validation accuracy, or as a soup (``ferkit soup``)."""
    soup = state.get("soup")
    if not soup:
        return "best validation (FER2013 PublicTest) accuracy"
    if soup["method"] == "uniform":
        return f"none: a uniform soup, every one of {len(soup['ingredients'])} checkpoints averaged"
    return f"a greedy soup of checkpoints on {soup['split']} accuracy of `{soup['dataset']}`"


def _headline(report: dict) -> dict:
    out = {k: round(report[k], 4) for k in HEADLINE if k in report}
    out["n"] = report["n"]
    out["per_class_f1"] = {c: round(m["f1"], 4) for c, m in report["per_class"].items()}
    out["confusion_matrix"] = report["confusion_matrix"]
    if "unmapped" in report:
        out["unmapped"] = report["unmapped"]
    return out


def _checkpoint_head(checkpoint: str | Path, clf: EmotionClassifier) -> dict:
    """What a card says of a model exported from ``checkpoint``: its architecture, size and training record."""
    state = read_checkpoint(checkpoint)
    head = {
        "architecture": state["model"],
        "parameters": int(sum(v.numel() for k, v in state["state_dict"].items()
                              if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))),
        "classes": state["classes"],
        "preprocess": state["preprocess"],
        "training": {
            "dataset": state.get("dataset"),
            "config": state.get("train_config"),
            "selected_epoch": state.get("epoch"),
            "selection": _selection(state),
        },
    }
    # how the model was made beyond plain training: distilled from a teacher, pruned, averaged (a soup), its
    # batch-norm statistics re-estimated
    compression = {k: state[k] for k in ("distillation", "pruning", "soup", "recalibration") if state.get(k)}
    if compression:
        head["compression"] = compression
    return head


def _ensemble_head(onnx_path: str | Path, clf: EmotionClassifier) -> dict:
    """What a card says of an ensemble (``ferkit ensemble``), from its metadata: its members and weights and
    how they were chosen."""
    from ferkit.export.onnx import onnx_parameters

    info = clf.info
    if info.get("model", {}).get("name") != "ensemble":
        raise OptionError(f"{onnx_path}: a model card needs the checkpoint the model was exported from "
                          "(--card-checkpoint), unless the model is an ensemble")
    selection = info.get("selection")
    dataset = selection["dataset"].split(":")[0] if selection else None  # "fer2013:val" names the split too
    if selection:
        how = (f"members and weights chosen by {selection['method']} on {dataset} split "
               f"{selection['split']} (n = {selection['n']}, TTA {selection['tta']}): accuracy {selection['accuracy']}")
    else:
        how = "members and weights given, not selected"
    return {
        "architecture": dict(info["model"]),
        "parameters": onnx_parameters(onnx_path),
        "classes": list(info["classes"]),
        "preprocess": info["preprocess"],
        "ensemble": [{k: m[k] for k in ("name", "file", "sha256", "weight", "model", "dataset", "quantization")
                      if k in m} for m in info["ensemble"]],
        "training": {"dataset": dataset, "selection": how,
                     "ensemble_selection": selection},
    }


def make_model_card(checkpoint: str | Path | None, onnx_path: str | Path, data: str | Path,
                    cross_data: str | Path | None = None, command: str = "", config_path: str = "") -> dict:
    """Evaluate the exported model on the validation split, the test split and optionally all of a
    cross dataset (no TTA, flip, ten-crop), measure its speed here, and collect the training recipe
    from the checkpoint (``None`` for an ensemble: its members and selection, from its metadata)."""
    clf = EmotionClassifier(onnx_path)
    head = _ensemble_head(onnx_path, clf) if checkpoint is None else _checkpoint_head(checkpoint, clf)
    card = {
        "name": Path(onnx_path).stem,
        "file": Path(onnx_path).name,
        "size_mb": round(Path(onnx_path).stat().st_size / 1e6, 2),
        "date": dt.date.today().isoformat(),
        **head,
        "evaluation": {},
    }
    card["training"].update(config_file=config_path, command=command)
    if clf.info.get("quantization"):
        card.setdefault("compression", {})["quantization"] = quantization_record(onnx_path, clf.info["quantization"])
    ev = card["evaluation"]
    ev["val"] = _headline(evaluate(clf, data, split="val"))
    pre = card["preprocess"]  # a model that sees the whole face (an ensemble) has no ten crops: that would be flip
    ttas = ("none", "flip", "ten_crop") if pre["input_size"] < pre["image_size"] else ("none", "flip")
    for tta in ttas:
        ev[f"test_tta_{tta}"] = _headline(evaluate(clf, data, split="test", tta=tta))
    if cross_data:
        for tta in ttas:
            ev[f"cross_{Path(cross_data).stem}_all_tta_{tta}"] = _headline(evaluate(clf, cross_data, split="all", tta=tta))
    faces = load_dataset(data, size=clf.image_size, progress=False).select_split("test").images[:256]
    card["speed"] = speed_record(onnx_path, faces)
    return card


def _quantization_measured(q: dict) -> str:
    """One sentence of what ``ferkit quantize`` measured, or "" for a record without measurements."""
    if "faces_per_second" not in q:
        return ""
    speed = q["faces_per_second"]
    text = (f"Measured by `ferkit quantize` on its host (batch 64, preprocessing included): fp32 "
            f"{speed['fp32']:,.0f} faces/s, int8 {speed['int8']:,.0f} faces/s ({q['faster']} is faster)")
    if "val_accuracy" in q:
        acc = q["val_accuracy"]
        text += f"; validation accuracy fp32 {acc['fp32']:.4f}, int8 {acc['int8']:.4f} ({acc['int8'] - acc['fp32']:+.4f})"
    if "calibration_agreement" in q:
        text += f"; same label as fp32 on {100 * q['calibration_agreement']:.1f}% of the calibration faces"
    return text + "."


def _pruning_stages(pr: dict) -> list[str]:
    """``ferkit prune``'s measurements of each stage as a Markdown table (with a blank line after it)."""
    epochs = pr.get("finetune_epochs", 0)
    names = {"before": "before", "pruned": "pruned", "finetuned": f"fine-tuned ({epochs} epoch{'s' * (epochs != 1)})"}
    stages = [(name, pr[key]) for key, name in names.items() if key in pr]
    lines = ["| stage (measured by `ferkit prune`) | parameters | MACs/face | faces/s (batch 64) | validation accuracy |",
             "|---|---|---|---|---|"]
    for name, m in stages:
        acc = f"{m['val_accuracy']:.4f}" if "val_accuracy" in m else "-"
        lines.append(f"| {name} | {m['parameters']:,} | {m['macs'] / 1e6:.1f}M | {m.get('faces_per_second', 0):,.0f} "
                     f"| {acc} |")
    return [*lines, ""]


def _ensemble_protocol(card: dict) -> str:
    """What the ensemble's members were trained on and what chose them, as far as its metadata says."""
    t, sel = card["training"], card["training"].get("ensemble_selection")
    datasets = sorted({m["dataset"] for m in card["ensemble"] if m.get("dataset")})
    known = len(datasets) and all(m.get("dataset") for m in card["ensemble"])
    text = (f"Members trained on {', '.join(datasets)} (each member's own training split and checkpoint selection)"
            if known else "The members' training data is not recorded in all of their metadata (see their own cards)")
    text += f"; {t['selection']}."
    if sel and sel["split"] in ("test", "all"):
        return text + (f" The selection saw the {sel['split']} split: its test figures below are selected ones, "
                       "not test results.")
    return text + " The test split is reported only, never used to choose anything."


def _ensemble_lines(card: dict) -> list[str]:
    pre, t = card["preprocess"], card["training"]
    members = [f"`{m['name']}` ({(m.get('model') or {}).get('name', 'architecture not recorded')}, weight {m['weight']:.3f}, sha256 {m['sha256']})"
               for m in card["ensemble"]]
    lines = [
        f"- Architecture: an ensemble of {len(members)}: the weighted mean of its members' probabilities: "
        + ", ".join(members),
        f"- Parameters: {card['parameters']:,} (all members, counted in the ONNX graph: batch normalisation folded)",
        f"- Classes (output order): {', '.join(card['classes'])}",
        (f"- Preprocessing: grayscale face resized to {pre['image_size']} px, /255; each member crops and normalises "
        "it inside the graph"),
        "",
        "## Data and protocol",
        _ensemble_protocol(card),
        "",
    ]
    quantized = [m for m in card["ensemble"] if m.get("quantization")]
    if quantized:  # members quantized one by one (`ferkit quantize` each, then `ferkit ensemble` of the int8 files)
        names = ", ".join(f"`{m['name']}`" for m in quantized)
        lines += [(f"Members stored as int8: {names}, each by `ferkit quantize` "
                  f"({quantized[0]['quantization']['method']}, {quantized[0]['quantization']['format']}):"), ""]
        lines += [f"- `{m['name']}`: {_quantization_measured(m['quantization']) or 'no measurements recorded.'}"
                  for m in quantized]
        lines.append("")
    sel = t.get("ensemble_selection")
    if sel:
        lines += ["| candidate | accuracy alone |", "|---|---|"]
        lines += [f"| {Path(p).name} | {a:.4f} |" for p, a in sel["single"].items()]
        lines += ["", "| round | added | accuracy | log loss |", "|---|---|---|---|"]
        lines += [f"| {r['round']} | {', '.join(Path(a).name for a in r['added'])} | {r['accuracy']:.4f} | "
                  f"{r['log_loss']:.4f} |" for r in sel["trace"]]
        lines.append("")
    return lines


def _single_model_lines(card: dict) -> list[str]:
    pre, t = card["preprocess"], card["training"]
    return [
        f"- Architecture: `{card['architecture']['name']}` {json.dumps({k: v for k, v in card['architecture'].items() if k != 'name'})}",
        f"- Parameters: {card['parameters']:,}",
        f"- Classes (output order): {', '.join(card['classes'])}",
        (f"- Preprocessing: grayscale face resized to {pre['image_size']} px, centre "
        f"{pre['input_size']} px crop, /255, mean {pre['mean']}, std {pre['std']}"),
        "",
        "## Data and protocol",
        (f"Trained on {t['dataset']} Training (28,709 images); checkpoint selected by {t['selection']}"
        + (f" (epoch {t['selected_epoch']})" if t.get("selected_epoch") is not None else "")
        + "; PrivateTest is reported only, never used to choose anything."),
        "",
    ]


def _soup_lines(soup: dict) -> list[str]:
    """How a soup (``ferkit soup``) was made: its ingredients and their own accuracies, the greedy trace."""
    bn = ("re-estimated on clean training faces" if soup["bn"] == "recalibrate" else "averaged like the weights")
    head = (f"Weights averaged ({soup['method']} soup, batch-norm statistics {bn}) from {len(soup['chosen'])} of "
            f"{len(soup['ingredients'])} checkpoints, chosen on the `{soup['split']}` split of `{soup['dataset']}` "
            f"(accuracy of the average {soup['accuracy']:.4f}):")
    lines = [head, ""]
    chosen = set(soup["chosen"])
    alone = " (its batch-norm statistics re-estimated)" if soup["bn"] == "recalibrate" else ""
    for ing in soup["ingredients"]:
        used = "in the soup" if ing["checkpoint"] in chosen else "left out"
        epoch = f" (epoch {ing['epoch']})" if ing.get("epoch") is not None else ""
        lines.append(f"- `{ing['checkpoint']}`{epoch}: {ing['accuracy']:.4f} alone{alone}, {used}")
    return lines


def _recalibration_line(rec: dict) -> str:
    """How ``ferkit recalibrate`` re-estimated the batch-norm statistics, with the accuracy before and after."""
    return (f"Batch-norm statistics re-estimated (`ferkit recalibrate`) on {rec['faces']:,} clean training faces of "
            f"`{rec['dataset']}`: `{rec['split']}` accuracy {rec['accuracy_before']:.4f} with the checkpoint's own "
            f"statistics, {rec['accuracy_after']:.4f} re-estimated."
            + (f" Those own statistics had been re-estimated before, on {rec['previous']['faces']:,} faces "
               f"(`{rec['previous']['split']}` accuracy {rec['previous']['accuracy_before']:.4f} with the original "
               "statistics)." if rec.get("previous") else ""))


def card_markdown(card: dict) -> str:
    t = card["training"]
    lines = [
        f"# Model card: {card['name']}",
        "",
        f"- File: `{card['file']}` ({card['size_mb']} MB, ONNX), date {card['date']}",
        *(_ensemble_lines(card) if "ensemble" in card else _single_model_lines(card)),
        "## Recipe",
        (f"Config file: `{t['config_file']}`. " if t.get("config_file") else "") + "Command:",
        "",
        "```",
        t["command"],
        "```",
        "",
    ]
    comp = card.get("compression", {})
    if "distillation" in comp:
        d = comp["distillation"]
        mode = d.get("teacher_mode", "cached")
        how = ("run on every augmented training batch (online)" if mode == "online"
               else "run once on the clean training images (cached)")
        text = (f"Distilled from `{Path(d['teacher']).name}` (sha256 {d['teacher_sha256']}, TTA {d['teacher_tta']}, "
                f"{how}) at temperature {d['temperature']}, alpha {d['alpha']}")
        if "teacher_train_accuracy" in d:
            text += f"; the teacher's accuracy on the clean training images: {d['teacher_train_accuracy']:.4f}"
        lines += [text + ".", ""]
    if "pruning" in comp:
        pr = comp["pruning"]
        aligned = f", channels kept rounded down to multiples of {pr['round_to']}" if pr.get("round_to") else ""
        lines += [(f"Pruned from `{pr['checkpoint']}` at ratio {pr['ratio']} ({pr['method']}{aligned}): "
                  f"{pr['before']['parameters']:,} -> {pr['pruned']['parameters']:,} parameters, "
                  f"{pr['before']['macs'] / 1e6:.1f}M -> {pr['pruned']['macs'] / 1e6:.1f}M MACs per face."), "",
                  *_pruning_stages(pr)]
    if "soup" in comp:
        lines += [*_soup_lines(comp["soup"]), ""]
    if "recalibration" in comp:
        lines += [_recalibration_line(comp["recalibration"]), ""]
    if "quantization" in comp:
        q = comp["quantization"]
        lines += [(f"Quantized ({q['method']}, {q['format']}, {q['activations']} activations, {q['weights']} weights, "
                  f"per-channel {q['per_channel']}, reduce_range {q['reduce_range']}) from `{q['source_model']}` on "
                  f"{q['calibration_faces']} training faces."), ""]
        if _quantization_measured(q):
            lines += [_quantization_measured(q), ""]
    lines += [
        "## Results",
        "",
        "| evaluation | n | accuracy | balanced acc. | macro-F1 | top-2 | top-3 | ECE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in card["evaluation"].items():
        lines.append(f"| {name} | {m['n']} | {m['accuracy']:.4f} | {m['balanced_accuracy']:.4f} | {m['macro_f1']:.4f} "
                     f"| {m.get('top2_accuracy', 0):.4f} | {m.get('top3_accuracy', 0):.4f} | {m['ece']:.4f} |")
    lines += ["", ("`val` = FER2013 PublicTest, `test` = FER2013 PrivateTest; `cross_*` = all of another dataset, classes "
              "matched by name, classes the model lacks (contempt) left out and reported below."), ""]
    for name, m in card["evaluation"].items():
        for cls, u in m.get("unmapped", {}).items():
            pred = ", ".join(f"{c} {k}" for c, k in u["predicted"].items() if k)
            lines.append(f"- {name}: {cls} (n = {u['n']}) predicted as {pred}")
    if "speed" in card:
        sp = card["speed"]
        lines += ["", (f"Speed (ONNX Runtime, {sp['threads']} threads, preprocessing included, median of 3 rounds, "
                  f"{sp['host']}): {sp['faces_per_second_batch1']:,.0f} faces/s one at a time, "
                  f"{sp['faces_per_second_batch64']:,.0f} faces/s in batches of 64; {sp['macs'] / 1e6:.1f}M "
                  "multiply-accumulates per face.")]
    lines += ["", "Per-class F1 on PrivateTest (no TTA): " + ", ".join(
        f"{c} {v:.3f}" for c, v in card["evaluation"]["test_tta_none"]["per_class_f1"].items()), ""]
    return "\n".join(lines)


def card_paths(stem: str | Path) -> tuple[Path, Path]:
    """The files a model card with ``stem`` makes: ``STEM.json`` and ``STEM.md``."""
    stem = Path(stem)
    return stem.with_suffix(".json"), stem.with_suffix(".md")


def write_model_card(card: dict, stem: str | Path) -> tuple[Path, Path]:
    js, md = card_paths(stem)
    js.parent.mkdir(parents=True, exist_ok=True)
    js.write_text(json.dumps(card, indent=2) + "\n")
    md.write_text(card_markdown(card))
    return js, md
