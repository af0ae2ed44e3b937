"""Fine-tunes the installed MiniLM-L6 on MRPC with PyTorch + transformers: the reference run for bertfit's benchmark.

Same recipe as bertfit's MRPC run: 3 epochs, batch 32, AdamW lr 2e-5 (betas 0.9/0.999, eps 1e-6, weight decay 0.01
except biases and LayerNorm), linear warmup over the first 10% of steps then linear decay to 0, gradient clipping at
norm 1.0, dynamic padding (each batch padded to its longest pair), max_len 128, 2 torch threads. After every epoch
it evaluates on the whole dev set and prints accuracy / F1 (positive class), the epoch's wall time and training
throughput; the last line printed is one JSON object.

Run inside the Hugging Face venv, after `bertfit pull minilm-l6`:

    .venv-hf/bin/python scripts/hf_finetune_mrpc.py --seed 1 [--dtype fp32|bf16] [--max-steps N]

--dtype bf16 runs forward/backward under torch.autocast(bfloat16) (oneDNN, AMX where the CPU has it), with
float32 master weights and optimizer. Note that Debian's torch 1.13 does float32 GEMM with the reference BLAS
(a few GFLOP/s), so an fp32 epoch takes on the order of an hour on 2 cores; bf16 is ~100x faster per GEMM.
"""
import argparse
import json
import math
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch
import transformers
from transformers import BertForSequenceClassification, BertTokenizer, get_linear_schedule_with_warmup

from hf_common import MRPC_DIR, check_install, default_model_dir, read_mrpc



def encode(tok, rows, max_len):
    """Token ids per pair, unpadded: padding happens per batch (dynamic padding)."""
    enc = tok([r[1] for r in rows], [r[2] for r in rows], max_length=max_len, truncation=True)
    return [{"input_ids": enc["input_ids"][i], "token_type_ids": enc["token_type_ids"][i],
             "attention_mask": enc["attention_mask"][i], "label": rows[i][0]} for i in range(len(rows))]


def collate(tok, examples):
    batch = tok.pad([{k: e[k] for k in ("input_ids", "token_type_ids", "attention_mask")} for e in examples],
                    padding="longest", return_tensors="pt")
    batch["labels"] = torch.tensor([e["label"] for e in examples], dtype=torch.long)
    return batch


def autocast(dtype):
    return torch.autocast("cpu", dtype=torch.bfloat16) if dtype == "bf16" else torch.autocast("cpu", enabled=False)


def evaluate(model, tok, examples, dtype, batch_size=64):
    """Accuracy and F1 of the positive class (label 1, "paraphrase") on `examples`."""
    model.eval()
    preds, golds = [], []
    with torch.no_grad():
        for i in range(0, len(examples), batch_size):
            batch = collate(tok, examples[i:i + batch_size])
            labels = batch.pop("labels")
            with autocast(dtype):
                logits = model(**batch).logits
            preds += logits.float().argmax(-1).tolist()
            golds += labels.tolist()
    tp = sum(1 for p, g in zip(preds, golds) if p == 1 and g == 1)
    fp = sum(1 for p, g in zip(preds, golds) if p == 1 and g == 0)
    fn = sum(1 for p, g in zip(preds, golds) if p == 0 and g == 1)
    acc = sum(1 for p, g in zip(preds, golds) if p == g) / len(golds)
    f1 = 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)
    return acc, f1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--model-dir", default=default_model_dir(), help="installed minilm-l6 (default: $BERTFIT_CACHE/models/minilm-l6)")
    ap.add_argument("--data-dir", default=str(MRPC_DIR))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--warmup-ratio", type=float, default=0.1)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-steps", type=int, default=0, help="smoke test: stop after this many optimizer steps "
                    "(the schedule stays that of the full run), then evaluate")
    ap.add_argument("--dev-limit", type=int, default=0, help="smoke test: evaluate on the first N dev pairs only")
    args = ap.parse_args()

    t_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    # Seeds the classifier head's initialization, dropout masks and the shuffling below.
    transformers.set_seed(args.seed)
    check_install(args.model_dir)
    tok = BertTokenizer.from_pretrained(args.model_dir, local_files_only=True)
    model = BertForSequenceClassification.from_pretrained(args.model_dir, num_labels=2, local_files_only=True)

    train = encode(tok, read_mrpc(os.path.join(args.data_dir, "train.tsv")), args.max_len)
    dev = encode(tok, read_mrpc(os.path.join(args.data_dir, "dev.tsv")), args.max_len)
    if args.dev_limit:
        dev = dev[:args.dev_limit]

    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)], "weight_decay": args.weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.999), eps=1e-6)
    steps_per_epoch = math.ceil(len(train) / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    # Rounded up, as transformers' Trainer does for warmup_ratio.
    warmup_steps = math.ceil(args.warmup_ratio * total_steps)
    sched = get_linear_schedule_with_warmup(opt, warmup_steps, total_steps)
    print(f"MRPC: {len(train)} train / {len(dev)} dev pairs; {args.epochs} epochs x {steps_per_epoch} steps "
          f"(batch {args.batch_size}), warmup {warmup_steps}; {args.dtype}, {torch.get_num_threads()} threads; "
          f"torch {torch.__version__}, transformers {transformers.__version__}", flush=True)

    g = torch.Generator().manual_seed(args.seed)
    step, epochs = 0, []
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(train), generator=g).tolist()
        t0 = time.perf_counter()
        seen, loss_sum = 0, 0.0
        for b in range(steps_per_epoch):
            if args.max_steps and step >= args.max_steps:
                break
            batch = collate(tok, [train[i] for i in order[b * args.batch_size:(b + 1) * args.batch_size]])
            with autocast(args.dtype):
                loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            n = batch["labels"].shape[0]
            seen += n
            loss_sum += loss.item() * n
        train_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        acc, f1 = evaluate(model, tok, dev, args.dtype)
        eval_s = time.perf_counter() - t1
        rec = {"epoch": epoch, "steps": step, "train_loss": loss_sum / max(1, seen), "dev_acc": acc, "dev_f1": f1,
               "train_s": train_s, "train_seq_per_s": seen / train_s if train_s > 0 else 0.0, "eval_s": eval_s}
        epochs.append(rec)
        print(f"epoch {epoch}: train loss {rec['train_loss']:.4f}, dev acc {acc:.4f} F1 {f1:.4f}; "
              f"train {train_s:.1f} s ({rec['train_seq_per_s']:.1f} seq/s), eval {eval_s:.1f} s", flush=True)
        if args.max_steps and step >= args.max_steps:
            break

    train_s = sum(e["train_s"] for e in epochs)
    print(json.dumps({
        "engine": f"pytorch-{torch.__version__}+transformers-{transformers.__version__}",
        "task": "mrpc", "model": "minilm-l6", "seed": args.seed, "dtype": args.dtype, "threads": torch.get_num_threads(),
        "epochs": len(epochs), "steps": step, "batch_size": args.batch_size, "lr": args.lr, "warmup_steps": warmup_steps,
        "max_len": args.max_len, "dev_examples": len(dev), "smoke": bool(args.max_steps or args.dev_limit),
        "dev_acc": epochs[-1]["dev_acc"], "dev_f1": epochs[-1]["dev_f1"],
        "train_seq_per_s": sum(e["train_seq_per_s"] * e["train_s"] for e in epochs) / train_s if train_s > 0 else 0.0,
        "wall_s": time.perf_counter() - t_start, "per_epoch": epochs,
    }), flush=True)


if __name__ == "__main__":
    main()
