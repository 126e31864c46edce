"""Baseline for tools/bench/train.ts: the seed article's own PyTorch code and training loop, timed.

  /usr/bin/python3 tools/bench/pytorch_train.py --samples 20000 --seq-len 10 --epochs 20 --threads 1

Prints one JSON line: {"seconds": ..., "cpu_seconds": ... (process CPU time of the epochs), "samples_per_second": ..., "threads": ..., "torch": ..., "final_loss": ...}.
Only the epochs are timed (not imports or data generation), as in train.ts.
"""
import argparse
import json
import os
import sys
import time

# The seed's MyModel and generate_random_data live in tools/fixtures/seed_torch.py (the one copy of the article's code).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
sys.dont_write_bytecode = True  # no __pycache__ beside seed_torch.py in the repo

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from seed_torch import MyModel, generate_random_data  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--seq-len", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    input_size, hidden_size, output_size = 8, 16, 4
    x_train, y_train = generate_random_data(a.samples, a.seq_len, input_size, output_size)
    model = MyModel(input_size, hidden_size, output_size)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    start = time.perf_counter()
    cpu_start = time.process_time()
    for epoch in range(a.epochs):
        model.train()
        optimizer.zero_grad()
        outputs = model(x_train)
        loss = criterion(outputs, y_train)
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    print(json.dumps({
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "samples_per_second": a.samples * a.epochs / seconds,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "final_loss": loss.item(),
    }))


if __name__ == "__main__":
    main()
