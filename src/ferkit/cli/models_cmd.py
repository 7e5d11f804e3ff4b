"""ferkit models: the registered models with parameter counts and input sizes."""

from __future__ import annotations

import argparse
import fnmatch


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list registered models and face detectors",
                       description="List registered emotion models and face detectors.")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style name filter (models and detectors)")
    p.add_argument("--speed", action="store_true", help="also measure each model's faces/s (PyTorch, eval mode, "
                   "batches of 64, 2 s per model)")
    p.add_argument("--threads", type=int, default=0, help="PyTorch threads for --speed (0: its default)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ferkit.faces import detector_entry, list_detectors
    from ferkit.models import count_macs, count_parameters, create, list_models, measure_faces_per_second, model_entry

    models = list_models(args.pattern)
    detectors = [n for n in list_detectors() if fnmatch.fnmatch(n, args.pattern)]
    if not models and not detectors:
        print(f"no model or detector matches {args.pattern!r}; registered models: {', '.join(list_models())}; "
              f"face detectors: {', '.join(list_detectors())}")
        return 0
    if models:
        if args.speed and args.threads:
            import torch

            torch.set_num_threads(args.threads)
        speed_head = f" {'faces/s':>8}" if args.speed else ""
        print(f"{'name':<15} {'params':>12} {'MACs/face':>11}{speed_head} {'input':>6}  description")
        for name in models:
            e = model_entry(name)
            model = create(name)
            macs = count_macs(model, e.input_size)
            speed = f" {measure_faces_per_second(model, e.input_size):>8.0f}" if args.speed else ""
            print(f"{name:<15} {count_parameters(model):>12,} {macs / 1e6:>10.1f}M{speed} {e.input_size:>6}  "
                  f"{e.description}")
    if detectors:
        if models:
            print()
        print(f"{'face detector':<15} {'landmarks':>12} {'ready':>6}  description")
        for name in detectors:
            d = detector_entry(name)
            ready = "yes" if d.available() else "no"
            print(f"{name:<15} {d.landmarks or '-':>12} {ready:>6}  {d.description}")
    return 0
