"""Write Hugging Face-style BERT checkpoint directories from Python, without the safetensors package.

Run with Debian's /usr/bin/python3 (torch 1.13). Used by the fixture scripts of bertfit:

    import sys; sys.path.insert(0, "scripts")
    from hf_io import save_safetensors, save_hf_dir

The safetensors layout (https://huggingface.co/docs/safetensors) is:
    u64 little-endian N | N bytes of JSON header | byte buffer
where the header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
buffer start) plus an optional "__metadata__" string->string map. Like the reference writer we pad the header with
spaces to a multiple of 8 bytes, so that every tensor in the buffer stays 8-byte aligned for zero-copy readers.
"""
import json
import os
import struct
from collections import OrderedDict

import torch

# torch dtype -> (safetensors dtype name, bytes per element)
_DTYPES = {
    torch.float64: ("F64", 8),
    torch.float32: ("F32", 4),
    torch.float16: ("F16", 2),
    torch.bfloat16: ("BF16", 2),
    torch.int64: ("I64", 8),
    torch.int32: ("I32", 4),
    torch.int16: ("I16", 2),
    torch.int8: ("I8", 1),
    torch.uint8: ("U8", 1),
    torch.bool: ("BOOL", 1),
}

# Position in the safetensors crate's Dtype enum.
_RANK = {name: i for i, name in enumerate(
    ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"])}


def _tensor_bytes(t):
    """Raw little-endian bytes of a tensor in row-major order.

    bfloat16 has no numpy dtype, so every tensor is reinterpreted as bytes through a uint8 view of a contiguous copy.
    """
    t = t.detach().to("cpu").contiguous()
    if t.numel() == 0:
        return b""
    return t.reshape(-1).view(torch.uint8).numpy().tobytes()


def save_safetensors(path, state_dict, metadata=None):
    """Writes state_dict (name -> torch.Tensor) to `path` in the safetensors format.

    Args:
      path: output file.
      state_dict: mapping of tensor name to tensor (F64/F32/F16/BF16/I64/I32/I16/I8/U8/BOOL).
      metadata: optional str->str map stored under "__metadata__"; defaults to {"format": "pt"} as transformers writes.
    """
    meta = {"format": "pt"} if metadata is None else dict(metadata)
    for name, t in state_dict.items():
        if t.dtype not in _DTYPES:
            raise ValueError(f"{path}: tensor {name}: dtype {t.dtype} has no safetensors name")
    # Same order as the reference writer (its Dtype enum order, reversed, then name): wide types first keeps every
    # tensor naturally aligned, and the files come out byte-identical to safetensors.torch.save_file's.
    items = sorted(state_dict.items(), key=lambda kv: (-_RANK[_DTYPES[kv[1].dtype][0]], kv[0]))
    header = {"__metadata__": meta}
    chunks = []
    offset = 0
    for name, t in items:
        data = _tensor_bytes(t)
        header[name] = {"dtype": _DTYPES[t.dtype][0], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for c in chunks:
            f.write(c)


def save_hf_dir(out_dir, config, state_dict, vocab_lines, do_lower_case=True,
                formats=("safetensors", "pytorch")):
    """Writes a directory transformers' from_pretrained can load.

    Args:
      out_dir: directory to create (parents too); existing files in it are overwritten.
      config: dict written as config.json (e.g. {"model_type": "bert", "hidden_size": 16, ...}).
      state_dict: name -> tensor, names as the model in transformers has them.
      vocab_lines: WordPiece vocabulary, one token per entry (no newlines).
      do_lower_case: stored in tokenizer_config.json.
      formats: any of "safetensors" (model.safetensors) and "pytorch" (pytorch_model.bin via torch.save, zip format).
    """
    unknown = set(formats) - {"safetensors", "pytorch"}
    if unknown:
        raise ValueError(f"unknown checkpoint formats {sorted(unknown)}")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out_dir, "vocab.txt"), "w", encoding="utf-8") as f:
        for tok in vocab_lines:
            f.write(tok + "\n")
    tok_cfg = {"do_lower_case": bool(do_lower_case), "tokenizer_class": "BertTokenizer",
               "model_max_length": int(config.get("max_position_embeddings", 512))}
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tok_cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    if "safetensors" in formats:
        save_safetensors(os.path.join(out_dir, "model.safetensors"), state_dict)
    if "pytorch" in formats:
        # An OrderedDict like model.state_dict() (kept as is, with any _metadata, when it already is one); the zip
        # serialization (torch >= 1.6) is torch's default.
        sd = state_dict if isinstance(state_dict, OrderedDict) else OrderedDict(state_dict)
        torch.save(sd, os.path.join(out_dir, "pytorch_model.bin"))
