"""ferkit soup: average the weights of several checkpoints of one architecture into one model."""

from __future__ import annotations

import argparse

from ferkit.cli.common import add_batchnorm_output_arguments


def add_parser(sub) -> None:
    p = sub.add_parser(
        "soup", help="average the weights of several checkpoints into one model",
        description="Average the weights of checkpoints of one architecture fine-tuned from the same weights "
        "(a model soup): one model at one model's cost. greedy (default): the checkpoints ranked by their own "
        "validation accuracy (FER2013 PublicTest; each with its batch-norm statistics re-estimated too, unless --bn "
        "average), each added only if the average's accuracy does not drop; "
        "uniform: all of them. Batch-norm statistics are re-estimated on clean training faces unless --bn "
        "average. The soup is a checkpoint that trains, exports and evaluates like any other; its record "
        "(ingredients, accuracies, trace) goes into the model card of what is exported from it.")
    p.add_argument("checkpoints", nargs="+", metavar="CKPT.pt", help="two or more checkpoints of one architecture")
    p.add_argument("--data", required=True, help="dataset whose validation split chooses and whose training faces "
                   "re-estimate batch-norm statistics")
    p.add_argument("--out", required=True, help="the soup's checkpoint (.pt)")
    p.add_argument("--method", choices=("greedy", "uniform"), default="greedy")
    p.add_argument("--bn", choices=("recalibrate", "average"), default="recalibrate",
                   help="batch-norm statistics: re-estimated on training faces (default) or averaged")
    add_batchnorm_output_arguments(p, kept="an ingredient", json_help="print the soup's record as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from ferkit.compress.soup import make_soup

    record = make_soup(args.checkpoints, args.out, args.data, method=args.method, bn=args.bn,
                       bn_faces=args.bn_faces, overwrite=args.overwrite)
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    chosen = set(record["chosen"])
    print("| ingredient | validation accuracy alone | in the soup |\n|---|---|---|")
    for ing in record["ingredients"]:
        print(f"| {ing['checkpoint']} | {ing['accuracy']:.4f} | {'yes' if ing['checkpoint'] in chosen else 'no'} |")
    for row in record.get("trace", []):
        print(f"greedy: {row['checkpoint']} {'kept' if row['kept'] else 'left out'} "
              f"({row['accuracy_with_it']:.4f} with it)")
    print(f"wrote {args.out}: {record['method']} soup of {len(chosen)} of {len(record['ingredients'])} checkpoints, "
          f"validation accuracy {record['accuracy']:.4f}")
    return 0
