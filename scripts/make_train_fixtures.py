"""Reference loss curves for bertfit's fine-tuning parity test, computed by PyTorch.

Run with Debian's /usr/bin/python3 (torch 1.13):

    /usr/bin/python3 scripts/make_train_fixtures.py fixtures/train

Writes under the output directory:
    checkpoint/          an HF checkpoint (model.safetensors in F16 to stay small; full 30522-token uncased vocab;
                         2 layers, hidden 32, dropout 0 so that training is deterministic on both sides)
    expected.json        for each run ("adam", "adamw"): its settings and, per optimizer step, the loss, the
                         global gradient norm before clipping, and the learning rate

Both runs train on the first 256 pairs of real MRPC train (../shared/data/mrpc/train.tsv), in file order, batches
of 8 (32 steps), token ids from the original BERT tokenizer's goldens (../shared/tokenizer/goldens), with
transformers' recipe semantics: LambdaLR warmup/decay (step k uses factor(k)), torch.nn.utils.clip_grad_norm_,
torch.optim.Adam / AdamW, weight decay except on biases and LayerNorm weights. The reference runs in float64.
"""
import csv
import math
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_io import save_hf_dir  # noqa: E402
from make_model_fixtures import BertForSequenceClassification, read_vocab  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(REPO, "..", "shared")
N_EXAMPLES, BATCH, MAX_LEN = 256, 8, 128

RUNS = {
    "adam": dict(optimizer="adam", lr=1e-3, eps=1e-9, weight_decay=0.0, warmup_ratio=0.0, schedule="constant", clip=1.0),
    "adamw": dict(optimizer="adamw", lr=1e-3, eps=1e-6, weight_decay=0.01, warmup_ratio=0.1, schedule="linear", clip=0.5),
}


def mrpc_batches():
    """The first N_EXAMPLES train pairs as ids (from the goldens), cut into consecutive batches."""
    golden = {}
    with open(os.path.join(SHARED, "tokenizer", "goldens", "mrpc.uncased.maxlen128.jsonl"), encoding="utf-8") as f:
        for line in f:
            g = json.loads(line)
            golden[(g["text_a"], g["text_b"])] = g
    rows = []
    with open(os.path.join(SHARED, "data", "mrpc", "train.tsv"), encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)
        for r in reader:
            rows.append((golden[(r[3], r[4])], int(r[0])))
            if len(rows) == N_EXAMPLES:
                break
    batches = []
    for i in range(0, N_EXAMPLES, BATCH):
        part = rows[i:i + BATCH]
        longest = max(len(g["input_ids"]) for g, _ in part)
        S = min(MAX_LEN, (longest + 7) // 8 * 8)
        ids = torch.zeros(len(part), S, dtype=torch.long)
        tt = torch.zeros(len(part), S, dtype=torch.long)
        am = torch.zeros(len(part), S, dtype=torch.long)
        for b, (g, _) in enumerate(part):
            n = len(g["input_ids"])
            ids[b, :n] = torch.tensor(g["input_ids"])
            tt[b, :n] = torch.tensor(g["token_type_ids"])
            am[b, :n] = 1
        batches.append((ids, tt, am, torch.tensor([y for _, y in part])))
    return batches


def lr_factor(k, warmup, total, schedule):
    if k < warmup:
        return k / max(1, warmup)
    if schedule == "constant":
        return 1.0
    return max(0.0, (total - k) / max(1, total - warmup))


def train(state, c, batches, run):
    model = BertForSequenceClassification(c).double()
    model.load_state_dict({k: v.double() for k, v in state.items()})
    model.train()  # dropout probabilities are 0: train mode is deterministic
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    groups = [{"params": decay, "weight_decay": run["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}]
    opt_cls = torch.optim.AdamW if run["optimizer"] == "adamw" else torch.optim.Adam
    opt = opt_cls(groups, lr=run["lr"], betas=(0.9, 0.999), eps=run["eps"])
    total = len(batches)
    warmup = math.ceil(run["warmup_ratio"] * total)  # transformers rounds up
    steps = []
    for k, (ids, tt, am, y) in enumerate(batches):
        lr = run["lr"] * lr_factor(k, warmup, total, run["schedule"])
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        loss = F.cross_entropy(model(ids, tt, am), y)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), run["clip"])
        opt.step()
        steps.append({"step": k + 1, "loss": loss.item(), "grad_norm": norm.item(), "lr": lr})
    return steps


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(f"usage: {argv[0]} OUT_DIR\n")
        return 2
    out = argv[1]
    c = dict(model_type="bert", vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
             intermediate_size=64, max_position_embeddings=128, type_vocab_size=2, hidden_act="gelu",
             layer_norm_eps=1e-12, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, initializer_range=0.02,
             num_labels=2, id2label={"0": "0", "1": "1"}, label2id={"0": 0, "1": 1}, pad_token_id=0,
             architectures=["BertForSequenceClassification"])
    torch.manual_seed(2024)
    model = BertForSequenceClassification(c)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("LayerNorm.weight"):
                p.fill_(1.0)
            elif name.endswith("bias"):
                p.zero_()
            else:
                p.normal_(0.0, c["initializer_range"])
    # Stored as float16; both sides start from exactly these values.
    state = {k: v.detach().half().float().contiguous() for k, v in model.state_dict().items()}
    save_hf_dir(os.path.join(out, "checkpoint"), c, {k: v.half() for k, v in state.items()}, read_vocab(), True,
                formats=("safetensors",))
    batches = mrpc_batches()
    expected = {"torch": torch.__version__, "examples": N_EXAMPLES, "batch_size": BATCH, "max_len": MAX_LEN, "runs": {}}
    for name, run in RUNS.items():
        steps = train(state, c, batches, run)
        expected["runs"][name] = {"settings": run, "steps": steps}
        print(f"{name}: loss {steps[0]['loss']:.4f} -> {steps[-1]['loss']:.4f} over {len(steps)} steps")
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
