"""Writes fixtures/minilm-parity/: what PyTorch + transformers compute on the real all-MiniLM-L6-v2 checkpoint.

The fixture is the reference bertfit's model code is compared against: the same installed checkpoint, a classifier
head fixed by a seed (the checkpoint has none), the first 64 MRPC dev pairs, and from that the logits, the loss and,
after one backward pass, gradient norms. See fixtures/minilm-parity/README.md for the files.

Run inside the Hugging Face venv, after `bertfit pull minilm-l6`:

    bash scripts/hf_venv.sh
    .venv-hf/bin/python scripts/hf_minilm_parity.py [--model-dir DIR] [--out fixtures/minilm-parity]

Everything runs in eval mode (dropout off), so forward and backward are deterministic.
"""
import argparse
import json
import os
import platform
import sys

# Offline before transformers is imported: the checkpoint is a local directory and no hub is reachable.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import safetensors
import safetensors.torch
import tokenizers
import torch
import transformers
from transformers import BertForSequenceClassification, BertTokenizer

from hf_common import MRPC_DIR, REPO_ROOT, check_install, default_model_dir, read_mrpc, sha256_file

N_PAIRS = 64
MAX_LEN = 128
HEAD_SEED = 20240917
# Tensors whose gradient norm is recorded: the head, the pooler, the last and first layers, the embeddings.
GRAD_NORM_TENSORS = [
    "classifier.weight",
    "classifier.bias",
    "bert.pooler.dense.weight",
    "bert.encoder.layer.5.output.dense.weight",
    "bert.encoder.layer.5.output.LayerNorm.weight",
    "bert.encoder.layer.5.attention.self.query.weight",
    "bert.encoder.layer.0.attention.self.value.weight",
    "bert.encoder.layer.0.intermediate.dense.weight",
    "bert.embeddings.LayerNorm.weight",
    "bert.embeddings.word_embeddings.weight",
    "bert.embeddings.position_embeddings.weight",
    "bert.embeddings.token_type_embeddings.weight",
]


def fixed_head(hidden, num_labels):
    """Classifier weights from HEAD_SEED: N(0, 0.02) like BERT's initializer; bias too, so the bias path is tested."""
    g = torch.Generator().manual_seed(HEAD_SEED)
    return {
        "classifier.weight": (torch.randn(num_labels, hidden, generator=g) * 0.02).contiguous(),
        "classifier.bias": (torch.randn(num_labels, generator=g) * 0.02).contiguous(),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", default=default_model_dir(), help="installed minilm-l6 (default: $BERTFIT_CACHE/models/minilm-l6)")
    ap.add_argument("--data", default=str(MRPC_DIR / "dev.tsv"))
    ap.add_argument("--out", default=str(REPO_ROOT / "fixtures" / "minilm-parity"))
    args = ap.parse_args()

    torch.set_num_threads(2)
    manifest = check_install(args.model_dir)
    model = BertForSequenceClassification.from_pretrained(args.model_dir, num_labels=2, local_files_only=True)
    # Fail rather than record a fixture from a checkpoint whose pooler was silently re-initialized.
    sd = safetensors.torch.load_file(os.path.join(args.model_dir, manifest["weights"]))
    if "pooler.dense.weight" not in sd:
        sys.exit("the checkpoint has no pooler: this script expects all-MiniLM-L6-v2, which has one")
    if not torch.equal(model.bert.pooler.dense.weight.detach(), sd["pooler.dense.weight"]):
        sys.exit("transformers did not load pooler.dense.weight from the checkpoint")
    head = fixed_head(model.config.hidden_size, 2)
    with torch.no_grad():
        model.classifier.weight.copy_(head["classifier.weight"])
        model.classifier.bias.copy_(head["classifier.bias"])
    model.eval()

    pairs = read_mrpc(args.data, N_PAIRS)
    tok = BertTokenizer.from_pretrained(args.model_dir, local_files_only=True)
    enc = tok([p[1] for p in pairs], [p[2] for p in pairs], max_length=MAX_LEN, truncation=True,
              padding="max_length", return_tensors="pt")
    labels = torch.tensor([p[0] for p in pairs], dtype=torch.long)

    # The hidden states are captured with hooks rather than output_hidden_states so the graph is the plain one.
    captured = {}
    model.bert.encoder.register_forward_hook(lambda m, i, o: captured.__setitem__("last_hidden", o[0]))
    model.bert.pooler.register_forward_hook(lambda m, i, o: captured.__setitem__("pooled", o))
    out = model(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"],
                attention_mask=enc["attention_mask"], labels=labels)
    out.loss.backward()
    params = dict(model.named_parameters())
    grad_norms = {name: params[name].grad.double().norm().item() for name in GRAD_NORM_TENSORS}

    os.makedirs(args.out, exist_ok=True)
    safetensors.torch.save_file(head, os.path.join(args.out, "head.safetensors"), metadata={"seed": str(HEAD_SEED)})
    safetensors.torch.save_file({
        "logits": out.logits.detach().contiguous(),
        "cls_hidden": captured["last_hidden"][:, 0, :].detach().contiguous(),
        "pooled": captured["pooled"].detach().contiguous(),
        "grad.classifier.weight": params["classifier.weight"].grad.contiguous(),
        "grad.classifier.bias": params["classifier.bias"].grad.contiguous(),
    }, os.path.join(args.out, "expected.safetensors"), metadata={"format": "pt"})

    with open(os.path.join(args.out, "inputs.json"), "w") as f:
        json.dump({
            "source": "../shared/data/mrpc/dev.tsv, first %d data rows" % N_PAIRS,
            "source_sha256": sha256_file(args.data),
            "max_len": MAX_LEN,
            "padding": "max_length",
            "truncation": "longest_first",
            "labels": labels.tolist(),
            "sentence1": [p[1] for p in pairs],
            "sentence2": [p[2] for p in pairs],
        }, f, indent=1, ensure_ascii=False)
        f.write("\n")
    # One row per line keeps the id arrays diffable and the file small.
    with open(os.path.join(args.out, "encoded.json"), "w") as f:
        f.write("{\n")
        for i, key in enumerate(["input_ids", "token_type_ids", "attention_mask"]):
            rows = ",\n  ".join(json.dumps(r, separators=(",", ":")) for r in enc[key].tolist())
            f.write(f' "{key}": [\n  {rows}\n ]' + (",\n" if i < 2 else "\n"))
        f.write("}\n")

    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump({
            "model": {
                "name": manifest["name"], "repo_id": manifest["repoId"],
                "package": f'{manifest["source"]["package"]}=={manifest["source"]["version"]}',
                "weights_sha256": manifest["files"][manifest["weights"]]["sha256"],
                "hidden_act": model.config.hidden_act,
                "attn_implementation": getattr(model.config, "_attn_implementation", "eager"),
            },
            "head_seed": HEAD_SEED,
            "mode": "eval (dropout off), float32",
            "loss": out.loss.item(),
            "loss_reduction": "mean cross-entropy over the 64 pairs vs their dev labels",
            "grad_norms": grad_norms,
            "versions": {
                "python": platform.python_version(), "torch": torch.__version__,
                "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                "safetensors": safetensors.__version__,
            },
        }, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out}: loss {out.loss.item():.6f}, logits[0] {out.logits[0].tolist()}")


if __name__ == "__main__":
    main()
