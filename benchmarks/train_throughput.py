"""Training throughput (images/s: augmentation + forward + backward + SGD step) per model, fp32 vs
bf16 autocast, channels_last, on random faces. Prints a Markdown table.

    python benchmarks/train_throughput.py [--models vgg_compact mini_xception] [--steps 5]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from ferkit.models import count_parameters, create, list_models, model_entry
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
    ap.add_argument("--bf16-steps", type=int, default=1, help="bf16 is emulated (slow) without AVX512-BF16/AMX")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, native bf16: {cpu_has_native_bf16()}")
    print("| model | params | input | fp32 img/s | bf16 autocast img/s |")
    print("|---|---|---|---|---|")
    for name in args.models:
        fp32 = throughput(name, False, args.batch, args.steps)
        bf16 = throughput(name, True, args.batch, args.bf16_steps)
        print(f"| {name} | {count_parameters(create(name)):,} | {model_entry(name).input_size} | {fp32:.0f} | {bf16:.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
