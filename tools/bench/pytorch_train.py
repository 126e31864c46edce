"""Baseline for tools/bench/train.ts: the seed article's own PyTorch code and training loop, timed.

  /usr/bin/python3 tools/bench/pytorch_train.py --samples 20000 --seq-len 10 --epochs 20 --threads 1

Prints one JSON line: {"seconds": ..., "cpu_seconds": ... (process CPU time of the epochs), "samples_per_second": ..., "threads": ..., "torch": ..., "final_loss": ...}.
Only the epochs are timed (not imports or data generation), as in train.ts.
"""
import argparse
import json
import time

import torch
import torch.nn as nn


class MyGRU(nn.Module):
    def __init__(self, input_size, hidden_size):
        super(MyGRU, self).__init__()
        self.hidden_size = hidden_size
        self.W_xz = nn.Linear(input_size, hidden_size)
        self.W_hz = nn.Linear(hidden_size, hidden_size, bias=False)
        self.W_xr = nn.Linear(input_size, hidden_size)
        self.W_hr = nn.Linear(hidden_size, hidden_size, bias=False)
        self.W_xh = nn.Linear(input_size, hidden_size)
        self.W_hh = nn.Linear(hidden_size, hidden_size, bias=False)

    def forward(self, x, h_prev):
        z_t = torch.sigmoid(self.W_xz(x) + self.W_hz(h_prev))
        r_t = torch.sigmoid(self.W_xr(x) + self.W_hr(h_prev))
        h_tilde_t = torch.tanh(self.W_xh(x) + self.W_hh(r_t * h_prev))
        h_t = (1 - z_t) * h_prev + z_t * h_tilde_t
        return h_t


class MyModel(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(MyModel, self).__init__()
        self.gru = MyGRU(input_size, hidden_size)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        h_t = torch.zeros(x.size(0), self.gru.hidden_size).to(x.device)
        for t in range(x.size(1)):
            h_t = self.gru(x[:, t, :], h_t)
        output = self.fc(h_t)
        return output


def generate_random_data(num_samples, seq_length, input_size, output_size):
    x = torch.randn(num_samples, seq_length, input_size)
    y = torch.randint(0, output_size, (num_samples,))
    return x, y


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
