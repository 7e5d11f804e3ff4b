"""ferkit models: the registered models with parameter counts and input sizes."""

from __future__ import annotations

import argparse

from ferkit.models import count_parameters, create, list_models, model_entry


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list registered models", description="List registered models.")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style name filter")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(f"{'name':<15} {'params':>12} {'input':>6}  description")
    for name in list_models(args.pattern):
        e = model_entry(name)
        print(f"{name:<15} {count_parameters(create(name)):>12,} {e.input_size:>6}  {e.description}")
    return 0
