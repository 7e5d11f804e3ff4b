"""Every registered model's training throughput (images/s: augmentation + forward + backward + SGD
step, fp32, channels_last, on random faces; bf16 autocast too with --bf16-steps) and inference
throughput (faces/s, PyTorch eval mode, batches of 64), with parameters and MACs per face. Prints a
Markdown table.

    python benchmarks/train_throughput.py [--models vgg_compact mini_xception] [--steps 5] [--bf16-steps 1]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from ferkit.models import count_macs, count_parameters, create, list_models, measure_faces_per_second, model_entry
from ferkit.train import AugmentConfig, augment_batch
from ferkit.train.config import cpu_has_native_bf16


def throughput(name: str, bf16: bool, batch: int, steps: int) -> float:
    size = model_entry(name).input_size
    model = create(name).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    g = torch.Generator().manual_seed(0)
    faces = torch.randint(0, 256, (batch, 48, 48), dtype=torch.uint8)
    labels = torch.randint(0, 7, (batch,))

    def step():
        x = augment_batch(faces, size, AugmentConfig(), g).contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list_models())
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--bf16-steps", type=int, default=None,
                    help="bf16 autocast steps (default: 1 where the CPU has native bf16, else 0 = not measured: "
                    "it is emulated and many times slower without AVX512-BF16/AMX)")
    ap.add_argument("--seconds", type=float, default=2.0, help="inference timing per model")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, native bf16: {cpu_has_native_bf16()}")
    bf16_steps = args.bf16_steps if args.bf16_steps is not None else int(cpu_has_native_bf16())
    print("| model | params | MACs/face | input | train fp32 img/s | train bf16 img/s | inference faces/s |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models:
        size = model_entry(name).input_size
        model = create(name)
        fp32 = throughput(name, False, args.batch, args.steps)
        bf16 = f"{throughput(name, True, args.batch, bf16_steps):.0f}" if bf16_steps else "-"
        faces = measure_faces_per_second(model, size, seconds=args.seconds)
        print(f"| {name} | {count_parameters(model):,} | {count_macs(model, size) / 1e6:.1f}M | {size} | {fp32:.0f} "
              f"| {bf16} | {faces:.0f} |", flush=True)


if __name__ == "__main__":
    main()
