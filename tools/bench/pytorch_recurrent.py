"""PyTorch side of tools/bench/recurrent.ts: writes the benchmark's state_dicts and times PyTorch eager on them.

Run with Debian's python3 (torch 1.13):

  /usr/bin/python3 tools/bench/pytorch_recurrent.py save --cell lstm --input-size 64 --hidden-size 256 \
      --num-layers 2 --output-size 10 --out lstm.safetensors
  /usr/bin/python3 tools/bench/pytorch_recurrent.py serve --threads 1 CELL=FILE [CELL=FILE ...] (same sizes)

The module is the usual sequence classifier: nn.LSTM or nn.GRU (batch_first, bidirectional unless
--unidirectional), then nn.Linear on the output at the last step: logits = fc(out[:, -1]) (gru-onnx's
`--head last-step`). `save` writes its seeded initial weights with python/gru_onnx_torch.py's save_state_dict, the
file gru-onnx imports. `serve` loads those files back into the same module (so both sides run the same weights)
and answers one JSON line per request line on stdin, so the caller can interleave PyTorch's samples with its own:

  time CELL BATCH SEQ MIN_MS   -> {"seconds": s per forward, "cpu_seconds": process CPU s per forward, "forwards": n}:
                                  forwards of one seeded x, repeated until MIN_MS have passed (at least once), under
                                  torch.no_grad() in eval mode
  logits CELL BATCH SEQ PATH   -> {"logits": [...]}: the module's output for x read from PATH (float32, row-major
                                  [BATCH, SEQ, input], little-endian)
  quit
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
sys.dont_write_bytecode = True  # no __pycache__ beside gru_onnx_torch.py in the repo

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from gru_onnx_torch import load_state_dict, save_state_dict  # noqa: E402

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


class Classifier(nn.Module):
    def __init__(self, cell, input_size, hidden_size, num_layers, bidirectional, output_size):
        super().__init__()
        self.rnn = CELLS[cell](input_size, hidden_size, num_layers=num_layers, bidirectional=bidirectional, batch_first=True)
        self.fc = nn.Linear(hidden_size * (2 if bidirectional else 1), output_size)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


def build(cell, a):
    return Classifier(cell, a.input_size, a.hidden_size, a.num_layers, not a.unidirectional, a.output_size).eval()


def time_forward(model, batch, seq, input_size, min_ms):
    x = torch.randn(batch, seq, input_size, generator=torch.Generator().manual_seed(batch * 1000 + seq))
    n = 0
    start = time.perf_counter()
    cpu_start = time.process_time()
    with torch.no_grad():
        while True:
            model(x)
            n += 1
            if (time.perf_counter() - start) * 1000 >= min_ms:
                break
    cpu = time.process_time() - cpu_start
    return {"seconds": (time.perf_counter() - start) / n, "cpu_seconds": cpu / n, "forwards": n}


def serve(a):
    torch.set_num_threads(a.threads)
    models = {}
    for spec in a.files:
        cell, _, path = spec.partition("=")
        if cell not in CELLS or not path:
            raise SystemExit(f"error: {spec!r}: expected CELL=FILE with CELL one of {', '.join(CELLS)}")
        m = build(cell, a)
        m.load_state_dict(load_state_dict(path))  # strict: every tensor name and shape must match the module
        models[cell] = m
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        if words[0] == "time":
            cell, batch, seq, min_ms = words[1], int(words[2]), int(words[3]), float(words[4])
            reply = time_forward(models[cell], batch, seq, a.input_size, min_ms)
        elif words[0] == "logits":
            cell, batch, seq, path = words[1], int(words[2]), int(words[3]), words[4]
            x = torch.from_numpy(np.fromfile(path, dtype="<f4").astype(np.float32).reshape(batch, seq, a.input_size))
            with torch.no_grad():
                reply = {"logits": models[cell](x).reshape(-1).tolist()}
        else:
            reply = {"error": f"unknown request {words[0]!r}"}
        print(json.dumps(reply), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("save", "serve"):
        s = sub.add_parser(name)
        s.add_argument("--input-size", type=int, required=True)
        s.add_argument("--hidden-size", type=int, required=True)
        s.add_argument("--num-layers", type=int, required=True)
        s.add_argument("--output-size", type=int, required=True)
        s.add_argument("--unidirectional", action="store_true")
        if name == "save":
            s.add_argument("--cell", choices=sorted(CELLS), required=True)
            s.add_argument("--seed", type=int, default=0)
            s.add_argument("--out", required=True)
        else:
            s.add_argument("--threads", type=int, default=1)
            s.add_argument("files", nargs="+", metavar="CELL=FILE")
    a = p.parse_args()
    if a.cmd == "save":
        torch.manual_seed(a.seed)
        save_state_dict(build(a.cell, a), a.out)
    else:
        serve(a)


if __name__ == "__main__":
    main()
