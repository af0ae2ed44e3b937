"""Shared by the Hugging Face reference scripts (hf_minilm_parity.py, hf_finetune_mrpc.py): where `bertfit pull`
installs MiniLM-L6, the check that the install is intact, and the GLUE MRPC reader.

Imported as `from hf_common import ...`; Python puts the running script's directory (scripts/) on sys.path.
"""
import csv
import hashlib
import json
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MRPC_DIR = REPO_ROOT.parent / "shared" / "data" / "mrpc"


def default_model_dir():
    """$BERTFIT_CACHE/models/minilm-l6, the cache defaulting to ~/.cache/bertfit as in src/hub/registry.ts."""
    cache = os.environ.get("BERTFIT_CACHE") or os.path.join(Path.home(), ".cache", "bertfit")
    return os.path.join(cache, "models", "minilm-l6")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_install(model_dir):
    """Returns the install's bertfit-model.json; exits if it is missing or the weights differ from what it records."""
    manifest_path = os.path.join(model_dir, "bertfit-model.json")
    if not os.path.exists(manifest_path):
        sys.exit(f"{manifest_path}: missing; run `node dist/src/cli/main.js pull minilm-l6` first")
    with open(manifest_path) as f:
        manifest = json.load(f)
    weights = os.path.join(model_dir, manifest["weights"])
    want = manifest["files"][manifest["weights"]]["sha256"]
    got = sha256_file(weights)
    if got != want:
        sys.exit(f"{weights}: sha256 {got}, expected {want}; run `node dist/src/cli/main.js pull minilm-l6 --force`")
    return manifest


def read_mrpc(path, limit=None):
    """(label, sentence1, sentence2) rows of a GLUE MRPC tsv (train/dev). The text has unbalanced quotes, so no
    CSV quoting; utf-8-sig drops the BOM of the header."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or rows[0][0] != "Quality" or len(rows[0]) != 5:
        sys.exit(f"{path}: line 1: expected the GLUE MRPC header (Quality, #1 ID, #2 ID, #1 String, #2 String)")
    data = rows[1:] if limit is None else rows[1:limit + 1]
    out = []
    for i, r in enumerate(data):
        if len(r) != 5 or r[0] not in ("0", "1"):
            sys.exit(f"{path}: line {i + 2}: expected 5 tab-separated fields with label 0 or 1")
        out.append((int(r[0]), r[3], r[4]))
    return out
