"""ferkit distill: train a student with a teacher's softened probabilities."""

from __future__ import annotations

import argparse

from ferkit.cli.train_cmd import add_training_arguments


def add_parser(sub) -> None:
    p = sub.add_parser(
        "distill", help="train a student model from a teacher model or ensemble",
        description="Train a student (--arch) on the training split with a teacher's softened probabilities "
        "beside the hard labels: (1 - alpha) * cross-entropy + alpha * T^2 * KL(teacher || student) at temperature "
        "T. Any model ferkit loads can teach (an ONNX model or ensemble, a checkpoint). With --teacher-mode cached "
        "(the default) it is run once over the clean training images and its probabilities are cached beside the "
        "run; with online it is run on every batch as the student sees it (augmented), which costs a teacher pass "
        "per batch and keeps teacher and student consistent. Everything else is ferkit train's: "
        "config, flags, --set, --resume.")
    p.add_argument("--teacher", required=True, metavar="MODEL",
                   help="the teacher: a bundled model's name (e.g. ensemble), or a .onnx (an ensemble too) or .pt file")
    p.add_argument("--temperature", type=float, default=4.0, help="softening temperature T (default 4)")
    p.add_argument("--alpha", type=float, default=0.5, help="weight of the teacher's term (default 0.5)")
    p.add_argument("--teacher-tta", choices=("none", "flip"), default="none",
                   help="how the teacher sees each training image")
    p.add_argument("--teacher-mode", choices=("cached", "online"), default="cached",
                   help="cached: the teacher's outputs on the clean images, computed once; online: on every "
                   "augmented batch (default cached)")
    add_training_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ferkit.cli.train_cmd import run as train

    extra = [f"teacher={args.teacher!r}", f"distill_temperature={args.temperature}", f"distill_alpha={args.alpha}",
             f"teacher_tta={args.teacher_tta!r}", f"teacher_mode={args.teacher_mode!r}"]
    return train(args, extra)
