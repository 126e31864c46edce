#!/usr/bin/env python3
"""gru_onnx_torch: the PyTorch side of gru-onnx, in one file that needs only torch and numpy.

A state_dict holds a model's weights, not its forward(): gru-onnx can export an nn.GRU + nn.Linear state_dict,
but only PyTorch running your own module can say what the model computes. This file gives both halves:

    save_state_dict(model, "model.safetensors")        # the weights, for `gru-onnx export --weights`
    capture(model, "captured/", [(2, 1), (2, 10), (2, 37)], input_size=12)
                                                      # PyTorch's own outputs, for `gru-onnx verify --bundle`

capture() writes a bundle in the ONNX backend-test layout (test_data_set_N/input_0.pb, output_0.pb: TensorProto),
without model.onnx: `gru-onnx verify --model ANY.onnx --bundle captured/` checks any ONNX file against it (gru-onnx's
export, torch.onnx.export's, anyone's). No safetensors or onnx package is needed: both formats are written here.

Command line: `python3 gru_onnx_torch.py --help`.
"""

import argparse
import importlib
import json
import os
import re
import shutil
import struct
import sys
import tempfile

import numpy as np
import torch

__all__ = ["save_state_dict", "load_state_dict", "capture", "tensor_proto"]

# safetensors dtype names gru-onnx reads: float32 only (its checkpoints are float32; other dtypes are refused by name).
_SAFETENSORS_DTYPES = {torch.float32: "F32"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_name(name):
    if not isinstance(name, str) or name == "":
        raise ValueError(f"tensor name {name!r}: must be a non-empty string")
    if name == "__metadata__":
        raise ValueError("tensor name '__metadata__' is reserved by the safetensors format")
    if _CONTROL.search(name):
        raise ValueError(f"tensor name {name!r} holds control characters")


def _recurrent_metadata(module):
    """What the state_dict of the module's one nn.GRU, nn.LSTM or nn.RNN lacks: batch_first, num_layers,
    bidirectional, the cell, and nn.RNN's nonlinearity (tanh and relu have the same weights)."""
    rnns = [m for m in module.modules() if isinstance(m, torch.nn.RNNBase)]
    if len(rnns) != 1:
        return {}
    rnn = rnns[0]
    meta = {
        "batch_first": str(bool(rnn.batch_first)).lower(),
        "num_layers": str(rnn.num_layers),
        "bidirectional": str(bool(rnn.bidirectional)).lower(),
        # RNNBase.mode: 'GRU', 'LSTM', 'RNN_TANH' or 'RNN_RELU'.
        "cell": {"GRU": "gru", "LSTM": "lstm"}.get(rnn.mode, "rnn"),
    }
    if rnn.mode in ("RNN_TANH", "RNN_RELU"):
        meta["nonlinearity"] = "tanh" if rnn.mode == "RNN_TANH" else "relu"
    return meta


def save_state_dict(state_dict, path, metadata=None):
    """Writes a state_dict (or an nn.Module's) as safetensors, the file `gru-onnx export --weights` reads.

    Every name must be a non-empty string without control characters, every tensor float32 (call model.float()
    first; integer buffers such as BatchNorm's num_batches_tracked are refused by name). Given an nn.Module with one
    nn.GRU, nn.LSTM or nn.RNN, its batch_first, num_layers, bidirectional, cell (gru, lstm, rnn) and an nn.RNN's
    nonlinearity (tanh, relu) go into __metadata__, as the state_dict does not hold them. The file is written under a temporary name and renamed: `path` is the whole file or untouched.
    """
    meta = {}
    if isinstance(state_dict, torch.nn.Module):
        meta.update(_recurrent_metadata(state_dict))
        state_dict = state_dict.state_dict()
    meta.update(metadata or {})
    for k, v in meta.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise ValueError(f"metadata {k!r}: {v!r}: keys and values must be strings")
    header = {}
    blobs = []
    offset = 0
    for name, t in state_dict.items():
        _check_name(name)
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"tensor '{name}': a {type(t).__name__}, not a torch.Tensor")
        if t.dtype not in _SAFETENSORS_DTYPES:
            raise ValueError(f"tensor '{name}': dtype {t.dtype}; gru-onnx reads float32 only (call model.float() first, or leave this tensor out)")
        data = t.detach().cpu().contiguous().numpy().astype("<f4", copy=False).tobytes()
        header[name] = {"dtype": _SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if meta:
        header["__metadata__"] = meta
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)  # the data section starts 8-byte aligned
    _write_atomic(path, [struct.pack("<Q", len(head)), head, *blobs])


def load_state_dict(path):
    """Reads a float32 safetensors file (as save_state_dict writes it) into a dict of tensors."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: {len(raw)} bytes, too short for safetensors")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f"{path}: header length {n} runs past the end of the file")
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = raw[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: tensor '{name}': dtype {info['dtype']}, only F32 is read here")
        b, e = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[b:e], dtype="<f4").astype(np.float32).reshape(info["shape"]))
    return out


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(number, wire_type, payload):
    return _varint((number << 3) | wire_type) + payload


def tensor_proto(name, array):
    """An ONNX TensorProto, serialized: dims (field 1), data_type FLOAT (2), name (8), raw_data (9, little-endian)."""
    a = np.ascontiguousarray(np.asarray(array, dtype="<f4"))
    out = b"".join(_field(1, 0, _varint(d)) for d in a.shape)
    out += _field(2, 0, _varint(1))  # TensorProto.DataType.FLOAT
    encoded = name.encode("utf-8")
    out += _field(8, 2, _varint(len(encoded)) + encoded)
    raw = a.tobytes()
    out += _field(9, 2, _varint(len(raw)) + raw)
    return out


def _outputs(y, what):
    """The module's result as a list of float32 arrays: one tensor, or a tuple/list of tensors."""
    ys = list(y) if isinstance(y, (tuple, list)) else [y]
    for k, t in enumerate(ys):
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{what}: output {k} is a {type(t).__name__}, not a tensor")
    return [t.detach().cpu().float().numpy() for t in ys]


def capture(module, out_dir, shapes, input_size, seed=0, batch_first=None, x_layout="batch_first", input_name="x", output_names=("logits",), states=()):
    """Runs `module` on seeded inputs of each (batch, seq) shape and writes PyTorch's outputs as a bundle.

    out_dir/test_data_set_N/input_0.pb holds x ~ N(0, 1) from torch.Generator().manual_seed(seed) (one draw per
    shape, in order), output_K.pb the module's K-th output, both TensorProto. `batch_first` says how the module
    takes x; None (the default) reads it from the module's one nn.GRU/LSTM/RNN (True when it has none or several),
    so a seq-first module is not fed a batch-first x by mistake; input_0.pb stores it as [batch, seq, input] (x_layout="batch_first", the layout of gru-onnx's exports)
    or as the module took it (x_layout="module", e.g. for a torch.onnx.export of a batch_first=False module).

    `states` lists initial states the module takes after x, as (name, slots, hidden): e.g. [("h0", 4, 16),
    ("c0", 4, 16)] for a 2-layer bidirectional nn.LSTM whose forward is forward(x, h0, c0). Each is drawn
    N(0, 1) as [slots, batch, hidden] (PyTorch's h_0 layout whatever batch_first says) from the same generator,
    after x, and stored as input_1.pb, input_2.pb, ... under its name; gru-onnx exports with --h0 take them so.

    The module runs in eval mode under torch.no_grad(). PyTorch's recurrent layers refuse seq 0, so a shape with
    seq 0 is refused here too (gru-onnx defines it: the final state is the initial one, and no step exists). out_dir
    is written whole under a temporary name and renamed; an existing capture there is replaced, any other directory
    refused.
    """
    if x_layout not in ("batch_first", "module"):
        raise ValueError(f"x_layout {x_layout!r}: must be 'batch_first' or 'module'")
    shapes = [tuple(int(d) for d in s) for s in shapes]
    states = [(str(n), int(s), int(h)) for n, s, h in states]
    for n, s, h in states:
        if s < 1 or h < 1 or n in ("", input_name):
            raise ValueError(f"state ({n!r}, {s}, {h}): needs a name other than the input's, slots >= 1 and hidden >= 1")
    if not shapes:
        raise ValueError("shapes: give at least one (batch, seq)")
    for b, t in shapes:
        if b < 0 or t < 1:
            raise ValueError(f"shape ({b}, {t}): batch must be >= 0 and seq >= 1 (PyTorch's recurrent layers refuse seq 0)")
    if os.path.isdir(out_dir):
        foreign = [e for e in os.listdir(out_dir) if not re.fullmatch(r"test_data_set_\d+", e)]
        if foreign:
            raise ValueError(f"{out_dir}: exists and is not a capture (it holds {foreign[0]}); not replacing it")
    if batch_first is None:
        batch_first = _recurrent_metadata(module).get("batch_first", "true") == "true"
    generator = torch.Generator().manual_seed(seed)
    was_training = module.training
    module.eval()
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(os.path.abspath(out_dir))}.tmp-", dir=parent)
    try:
        with torch.no_grad():
            for n, (b, t) in enumerate(shapes):
                x = torch.randn(b, t, input_size, generator=generator, dtype=torch.float32)
                fed = x if batch_first else x.transpose(0, 1).contiguous()
                h = [torch.randn(s, b, hs, generator=generator, dtype=torch.float32) for _, s, hs in states]
                ys = _outputs(module(fed, *h), f"shape ({b}, {t})")
                if len(ys) > len(output_names):
                    output_names = tuple(output_names) + tuple(f"output_{k}" for k in range(len(output_names), len(ys)))
                d = os.path.join(tmp, f"test_data_set_{n}")
                os.mkdir(d)
                stored = x if x_layout == "batch_first" else fed
                _write_atomic(os.path.join(d, "input_0.pb"), [tensor_proto(input_name, stored.numpy())])
                for k, ((name, _, _), v) in enumerate(zip(states, h)):
                    _write_atomic(os.path.join(d, f"input_{k + 1}.pb"), [tensor_proto(name, v.numpy())])
                for k, y in enumerate(ys):
                    _write_atomic(os.path.join(d, f"output_{k}.pb"), [tensor_proto(output_names[k], y)])
        if os.path.isdir(out_dir):
            shutil.rmtree(out_dir)
        os.rename(tmp, out_dir)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp)
        module.train(was_training)


def _write_atomic(path, chunks):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.tmp-", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            for c in chunks:
                f.write(c)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _shapes(text):
    out = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)x(\d+)\s*", part)
        if not m:
            raise argparse.ArgumentTypeError(f"{part!r} is not BxT (batch x seq), e.g. 2x10")
        out.append((int(m.group(1)), int(m.group(2))))
    return out


def _state(text):
    m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_.]*)=(\d+)x(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=SLOTSxHIDDEN, e.g. h0=4x16")
    return (m.group(1), int(m.group(2)), int(m.group(3)))


def _load_module(spec, weights):
    """`package.module:factory` → factory() (an nn.Module), its weights loaded from `weights` when given."""
    if ":" not in spec:
        raise ValueError(f"--module {spec!r}: expected package.module:factory")
    mod_name, attr = spec.split(":", 1)
    sys.path.insert(0, os.getcwd())
    factory = getattr(importlib.import_module(mod_name), attr)
    module = factory()
    if weights:
        module.load_state_dict(load_state_dict(weights))
    return module


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="gru_onnx_torch.py",
        description="The PyTorch side of gru-onnx: save weights as safetensors, capture PyTorch's own outputs as a bundle (torch + numpy only).",
        epilog="""examples:
  python3 gru_onnx_torch.py convert model.pt model.safetensors
  python3 gru_onnx_torch.py capture --module mymodel:build --weights model.safetensors --input-size 12 --shapes 2x1,2x10,2x37 --out captured/
  then: gru-onnx verify --model model.onnx --bundle captured/""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("convert", help="a torch.save'd state_dict (.pt, your own trusted file) -> safetensors")
    c.add_argument("pt", help="torch.save(model.state_dict(), ...) file")
    c.add_argument("out", help="safetensors file to write")
    c.add_argument("--batch-first", choices=["true", "false"], help="record the recurrent layer's batch_first (a state_dict does not hold it)")
    c.add_argument("--nonlinearity", choices=["tanh", "relu"], help="record an nn.RNN's nonlinearity (a state_dict does not hold it)")
    k = sub.add_parser("capture", help="run your module on seeded inputs and write its outputs as a bundle")
    k.add_argument("--module", required=True, help="package.module:factory, a callable returning your nn.Module (imported from the current directory)")
    k.add_argument("--weights", help="safetensors to load into it (default: the factory's own weights)")
    k.add_argument("--input-size", type=int, required=True, help="features per time step")
    k.add_argument("--shapes", type=_shapes, default=[(2, 1), (2, 10), (2, 37)], help="BxT,... (default 2x1,2x10,2x37)")
    k.add_argument("--seed", type=int, default=0)
    k.add_argument("--seq-first", action="store_true", help="the module takes x as [seq, batch, input] (default: the batch_first of its one recurrent layer)")
    k.add_argument("--x-layout", choices=["batch_first", "module"], default="batch_first", help="how input_0.pb stores x (default [batch, seq, input], as gru-onnx exports take it)")
    k.add_argument("--state", type=_state, action="append", default=[], metavar="NAME=SLOTSxHIDDEN", help="an initial state forward() takes after x, drawn N(0, 1) as [slots, batch, hidden] (repeatable, in forward's order), e.g. --state h0=4x16 --state c0=4x16")
    k.add_argument("--outputs", default="logits", help="comma-separated names of forward()'s outputs, in order (default logits), e.g. logits,hidden_states,h_n,c_n")
    k.add_argument("--out", required=True, help="bundle directory to write")
    a = p.parse_args(argv)
    try:
        if a.command == "convert":
            sd = torch.load(a.pt, map_location="cpu")
            if isinstance(sd, torch.nn.Module):
                sd = sd.state_dict()
            meta = {k: v for k, v in (("batch_first", a.batch_first), ("nonlinearity", a.nonlinearity)) if v}
            save_state_dict(sd, a.out, meta or None)
            print(f"wrote {a.out}: {len(sd)} tensors")
        else:
            module = _load_module(a.module, a.weights)
            capture(module, a.out, a.shapes, a.input_size, seed=a.seed, batch_first=False if a.seq_first else None, x_layout=a.x_layout, output_names=tuple(a.outputs.split(",")), states=a.state)
            print(f"wrote {a.out}: {len(a.shapes)} test_data_set_N")
    except (ValueError, OSError, ImportError, AttributeError, RuntimeError) as err:
        print(f"error: {str(err).splitlines()[0] if str(err) else type(err).__name__}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
