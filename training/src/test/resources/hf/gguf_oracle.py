"""The gguf package's and transformers' side of Forja's GGUF tests.

read FILE OUT      gguf's GGUFReader on FILE: every tensor dequantized (gguf.quants), in numpy's
                   shape, and the metadata's scalar and string values, written to OUT as JSON
hf FILE OUT IDS    transformers' GGUF loading, AutoModelForCausalLM.from_pretrained(dir,
                   gguf_file=name): its state dict and the logits of IDS (comma-separated), to OUT
"""
import json
import os
import sys

import numpy as np


def read(path, out):
    from gguf import GGUFReader
    from gguf.quants import dequantize
    r = GGUFReader(path)
    tensors = {}
    for t in r.tensors:
        values = dequantize(t.data, t.tensor_type)
        shape = [int(x) for x in reversed(t.shape.tolist())]
        tensors[t.name] = {"shape": shape, "type": t.tensor_type.name,
                           "values": np.asarray(values, dtype=np.float32).reshape(-1).tolist()}
    meta = {}
    for k, f in r.fields.items():
        if len(f.types) == 1 and f.types[0].name not in ("ARRAY",):
            v = f.parts[f.data[0]]
            meta[k] = bytes(v).decode("utf-8") if f.types[0].name == "STRING" else v.tolist()[0]
    with open(out, "w") as fh:
        json.dump({"tensors": tensors, "metadata": meta}, fh)


def hf(path, out, ids):
    import torch
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(path),
                                                 gguf_file=os.path.basename(path),
                                                 dtype=torch.float32)
    model.eval()
    state = {k: v.reshape(-1).tolist() for k, v in model.state_dict().items()}
    try:
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].tolist()
        error = None
    except Exception as e:  # a config transformers' GGUF loader could not rebuild
        logits, error = None, f"{type(e).__name__}: {e}"
    with open(out, "w") as fh:
        json.dump({"state": state, "logits": logits, "error": error}, fh)


if __name__ == "__main__":
    if sys.argv[1] == "read":
        read(sys.argv[2], sys.argv[3])
    else:
        hf(sys.argv[2], sys.argv[3], [int(x) for x in sys.argv[4].split(",")])
