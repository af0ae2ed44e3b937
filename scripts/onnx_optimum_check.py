#!/usr/bin/env python3
"""Loads a `bertfit export` directory in Python through Hugging Face Optimum + ONNX Runtime and checks it.

The export's companion on the Python side (not used by the test suite): it proves the directory is what Optimum
expects (config.json, tokenizer files, onnx/model.onnx with input_ids / attention_mask / token_type_ids -> logits),
scores a labelled GLUE-style TSV (MRPC dev by default) and, given `bertfit predict` output for the same file, reports
the largest logit difference between the engines.

Run in a venv with a current PyPI optimum + onnxruntime + transformers (Optimum 2 keeps its ONNX Runtime classes in
the optimum-onnx package; measured with optimum 2.3.0, optimum-onnx 0.1.0, onnxruntime 1.32.0):
    python3 -m venv .venv-torch && .venv-torch/bin/pip install torch transformers optimum optimum-onnx onnxruntime
    node dist/src/cli/main.js export --model runs/mrpc-minilm/checkpoint-best --out /tmp/mrpc-onnx --quantize int8
    node dist/src/cli/main.js predict --model runs/mrpc-minilm/checkpoint-best --data ../shared/data/mrpc/dev.tsv \
        --text-a '#1 String' --text-b '#2 String' --max-len 128 --out /tmp/mrpc-bertfit.jsonl
    .venv-torch/bin/python scripts/onnx_optimum_check.py --model /tmp/mrpc-onnx --expect /tmp/mrpc-bertfit.jsonl
    .venv-torch/bin/python scripts/onnx_optimum_check.py --model /tmp/mrpc-onnx --file model_quantized.onnx

Exit status: 0 when it loaded and ran (and, with --expect and --tolerance, the logits agree); 1 otherwise.
"""
import argparse
import csv
import json
import os
import sys
import time


def read_pairs(path, text_a, text_b, label_col):
    """Rows of a GLUE TSV (never CSV-quoted) as (a, b, label) with columns picked by header name."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    header, body = rows[0], rows[1:]
    missing = [c for c in (text_a, text_b, label_col) if c and c not in header]
    if missing:
        sys.exit(f"{path}: no column {missing[0]!r} in the header {header}")
    ia, il = header.index(text_a), header.index(label_col)
    ib = header.index(text_b) if text_b else None
    return [(r[ia], r[ib] if ib is not None else None, r[il]) for r in body if r]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="a `bertfit export` directory")
    ap.add_argument("--file", default="model.onnx", help="model.onnx or model_quantized.onnx (under onnx/)")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.path.normpath(os.path.join(here, "..", "..", "shared", "data", "mrpc", "dev.tsv")))
    ap.add_argument("--text-a", default="#1 String")
    ap.add_argument("--text-b", default="#2 String", help='"" for single-sentence data')
    ap.add_argument("--label-col", default="Quality")
    ap.add_argument("--expect", help="`bertfit predict` JSON lines for the same file, to compare logits")
    ap.add_argument("--tolerance", type=float, help="fail when the largest logit difference exceeds this")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import numpy as np
    import onnxruntime
    from optimum.onnxruntime import ORTModelForSequenceClassification
    from transformers import AutoTokenizer

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = args.threads
    model = ORTModelForSequenceClassification.from_pretrained(
        args.model, subfolder="onnx", file_name=args.file, session_options=options, provider="CPUExecutionProvider")
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    id2label = {int(k): v for k, v in model.config.id2label.items()}
    print(f"loaded {args.model}/onnx/{args.file} with optimum (onnxruntime {onnxruntime.__version__}); "
          f"labels {id2label}, problem_type {model.config.problem_type}")

    rows = read_pairs(args.data, args.text_a, args.text_b or None, args.label_col)
    logits = []
    t0 = time.perf_counter()
    for i in range(0, len(rows), args.batch_size):
        chunk = rows[i:i + args.batch_size]
        a = [r[0] for r in chunk]
        b = [r[1] for r in chunk] if chunk[0][1] is not None else None
        enc = tokenizer(a, b, padding=True, truncation=True, max_length=128, return_tensors="np")
        logits.append(model(**enc).logits)
    logits = np.concatenate(logits)
    wall = time.perf_counter() - t0
    predicted = [id2label[int(k)] for k in logits.argmax(axis=1)]
    correct = sum(p == r[2] for p, r in zip(predicted, rows))
    print(f"{args.data}: accuracy {100 * correct / len(rows):.2f}% ({correct}/{len(rows)}), {wall:.1f} s")

    status = 0
    if args.expect:
        with open(args.expect, encoding="utf-8") as f:
            theirs = np.array([json.loads(line)["logits"] for line in f if line.strip()], dtype=np.float32)
        if theirs.shape != logits.shape:
            sys.exit(f"{args.expect}: {theirs.shape[0]} rows of {theirs.shape[1]} logits; expected {logits.shape}")
        diff = float(np.abs(theirs - logits).max())
        agree = float((theirs.argmax(axis=1) == logits.argmax(axis=1)).mean())
        print(f"vs {args.expect}: max |logit difference| {diff:.2e}, same top label on {100 * agree:.2f}% of rows")
        if args.tolerance is not None and diff > args.tolerance:
            print(f"FAIL: {diff:.2e} > tolerance {args.tolerance:g}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
