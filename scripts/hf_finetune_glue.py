"""Fine-tunes the installed MiniLM-L6 on a GLUE task (CoLA, STS-B, WNLI, MRPC) with PyTorch + transformers: the
reference runs for bertfit's GLUE results (issue 14). It generalizes hf_finetune_mrpc.py.

bertfit's default recipe (src/train/recipes.ts DEFAULT_RECIPE), exactly: 3 epochs, batch 32, AdamW lr 2e-5 (betas
0.9/0.999, eps 1e-6, weight decay 0.01 except biases and LayerNorm weights), linear warmup over the first
ceil(10%) of the run's optimizer steps then linear decay to 0, gradient clipping at global norm 1.0, max_len 128
(longer side truncated first, as run_classifier.py's _truncate_seq_pair and bertfit do), dynamic padding (each batch
padded to its longest row rounded up to a multiple of 8, as bertfit's collate), the last smaller batch kept, the
training set reshuffled every epoch by the seed, and after every epoch an evaluation of the whole dev set (batch 32);
the best epoch is the one with the highest main metric (first one on ties, as bertfit's checkpoint-best).

Tasks, files and metrics as GLUE publishes them (see ../shared/data/glue-*/SOURCE.md):
  cola  single sentence, train/dev without header (source, label, mark, sentence)  Matthews corr (main), accuracy
  stsb  pairs, header (... sentence1 sentence2 score), score 0-5: regression       Pearson (main), Spearman, MSE
        (num_labels=1, problem_type='regression': transformers uses MSELoss)
  wnli  pairs, header (index sentence1 sentence2 label)                             accuracy (main)
  mrpc  pairs, header (Quality #1 ID #2 ID #1 String #2 String)                     accuracy (main), F1
Every classification task also reports accuracy, F1 (class 1) and MCC, as bertfit's evaluation does.

Run in the torch venv, after `bertfit pull minilm-l6`:

    .venv-torch/bin/python scripts/hf_finetune_glue.py --task cola|stsb|wnli|mrpc --seed 1 [--dtype fp32|bf16]
        [--threads 2] [--data-dir DIR] [--lr 2e-5 --epochs 3 --batch-size 32 --warmup-ratio 0.1]
        [--max-steps N --train-limit N --dev-limit N  (smoke tests)] [--out FILE.json]

--dtype bf16 runs forward/backward (and evaluation) under torch.autocast(bfloat16), float32 master weights and
optimizer. Attention is transformers' SDPA (attn_implementation='sdpa') where the install supports it, else eager;
the JSON says which. Per epoch it prints the dev metrics, train loss, epoch time, seq/s and s/step; the last line
printed is one JSON object (also written to --out).

What cannot match bertfit bit for bit: the random streams. The classifier head's initialization (torch, seeded by
transformers.set_seed), the dropout masks (torch's generator; bertfit's are Philox keyed by seed and step) and the
shuffle order (torch.randperm from a generator seeded with --seed; bertfit's own RNG) differ, so per-seed results
differ and only means over seeds are comparable.
"""
import argparse
import csv
import json
import math
import os
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# OpenMP threads that sleep at barriers instead of spinning. On a busy 2-core machine (another job holding a core),
# spinning makes every parallel region wait for a descheduled thread: measured here 8.1 s/step (CoLA, fp32, 2 threads)
# with the default policy against 1.06 s/step with PASSIVE, under the same load. Numerics are unchanged. Must be set
# before torch loads its OpenMP runtime; OMP_WAIT_POLICY=ACTIVE in the environment restores spinning.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
import transformers
from transformers import BertConfig, BertForSequenceClassification, BertTokenizer, get_linear_schedule_with_warmup

from hf_common import MRPC_DIR, check_install, default_model_dir, read_mrpc

DATA_ROOT = MRPC_DIR.parent
PAD_MULTIPLE = 8  # src/data/collate.ts PAD_MULTIPLE

# name -> (problem type, main metric, default data directory)
TASKS = {
    "cola": ("single_label_classification", "mcc", DATA_ROOT / "glue-cola"),
    "stsb": ("regression", "pearson", DATA_ROOT / "glue-stsb"),
    "wnli": ("single_label_classification", "accuracy", DATA_ROOT / "glue-wnli"),
    "mrpc": ("single_label_classification", "accuracy", MRPC_DIR),
}


def _tsv_rows(path):
    """Rows of a GLUE tsv: tab-separated, never quoted (sentences hold unbalanced "), BOM dropped, last line may
    lack its newline (CoLA dev)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def read_task(task, path):
    """(text_a, text_b or None, label) rows of a task's train/dev file; label an int class (0/1) or a float score."""
    if task == "mrpc":
        return [(a, b, label) for label, a, b in read_mrpc(path)]
    rows = _tsv_rows(path)
    out = []
    if task == "cola":
        # no header: source, label, original judgment mark, sentence
        for i, r in enumerate(rows):
            if len(r) != 4 or r[1] not in ("0", "1"):
                sys.exit(f"{path}: line {i + 1}: expected CoLA's 4 tab-separated fields (source, label 0/1, mark, "
                         f"sentence){'; is this the test file?' if i == 0 and r[:1] == ['index'] else ''}")
            out.append((r[3], None, int(r[1])))
        return out
    want = {"stsb": ("sentence1", "sentence2", "score"), "wnli": ("sentence1", "sentence2", "label")}[task]
    if not rows or not all(c in rows[0] for c in want):
        sys.exit(f"{path}: line 1: expected a header with the columns {', '.join(want)}")
    header = rows[0]
    ia, ib, il = (header.index(c) for c in want)
    for i, r in enumerate(rows[1:]):
        if len(r) != len(header):
            sys.exit(f"{path}: line {i + 2}: {len(r)} tab-separated fields, the header has {len(header)}")
        if task == "stsb":
            try:
                label = float(r[il])
            except ValueError:
                sys.exit(f"{path}: line {i + 2}: score {r[il]!r} is not a number")
        else:
            if r[il] not in ("0", "1"):
                sys.exit(f"{path}: line {i + 2}: label {r[il]!r}, expected 0 or 1")
            label = int(r[il])
        out.append((r[ia], r[ib], label))
    return out


def encode(tok, rows, max_len):
    """[CLS] a [SEP] (b [SEP]) ids, unpadded, truncated like bertfit's truncatePair: a single sentence to max_len-2;
    a pair by removing the last token of the longer side (of b on a tie) until it fits."""
    a_ids = tok([r[0] for r in rows], add_special_tokens=False)["input_ids"]
    pairs = rows[0][1] is not None
    b_ids = tok([r[1] for r in rows], add_special_tokens=False)["input_ids"] if pairs else [None] * len(rows)
    cls, sep = tok.cls_token_id, tok.sep_token_id
    out = []
    for (_, _, label), a, b in zip(rows, a_ids, b_ids):
        a = list(a)
        if b is None:
            a = a[:max_len - 2]
            ids, types = [cls] + a + [sep], [0] * (len(a) + 2)
        else:
            b = list(b)
            while len(a) + len(b) > max_len - 3:
                (a if len(a) > len(b) else b).pop()
            ids, types = [cls] + a + [sep] + b + [sep], [0] * (len(a) + 2) + [1] * (len(b) + 1)
        out.append({"input_ids": ids, "token_type_ids": types, "label": label})
    return out


def collate(examples, pad_id, max_len, regression):
    """Dynamic padding: the batch's longest row rounded up to a multiple of 8, at most max_len."""
    longest = max(len(e["input_ids"]) for e in examples)
    width = min(max_len, -(-longest // PAD_MULTIPLE) * PAD_MULTIPLE)
    n = len(examples)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    types = torch.zeros((n, width), dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    for i, e in enumerate(examples):
        k = len(e["input_ids"])
        ids[i, :k] = torch.tensor(e["input_ids"])
        types[i, :k] = torch.tensor(e["token_type_ids"])
        mask[i, :k] = 1
    labels = torch.tensor([e["label"] for e in examples], dtype=torch.float32 if regression else torch.long)
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask, "labels": labels}


def autocast(dtype):
    return torch.autocast("cpu", dtype=torch.bfloat16) if dtype == "bf16" else torch.autocast("cpu", enabled=False)


def _finite_or_zero(x):
    """bertfit's pearson/spearman give 0, not NaN, for constant input (src/train/stats.ts)."""
    x = float(x)
    return x if math.isfinite(x) else 0.0


def scores(regression, preds, golds):
    """GLUE's metrics (sklearn / scipy), under the names bertfit's evaluation uses."""
    if regression:
        from scipy.stats import pearsonr, spearmanr
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant input: NaN + a warning; reported as 0
            p = _finite_or_zero(pearsonr(preds, golds)[0]) if len(preds) > 1 else 0.0
            s = _finite_or_zero(spearmanr(preds, golds)[0]) if len(preds) > 1 else 0.0
        mse = sum((x - y) ** 2 for x, y in zip(preds, golds)) / len(golds)
        return {"pearson": p, "spearman": s, "mse": mse}
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef
    return {"accuracy": float(accuracy_score(golds, preds)),
            "f1": float(f1_score(golds, preds, pos_label=1, average="binary", zero_division=0)),
            "mcc": float(matthews_corrcoef(golds, preds))}


def evaluate(model, examples, pad_id, max_len, regression, dtype, batch_size):
    """The dev metrics plus the mean loss per example (transformers' loss: cross-entropy, or MSE for regression)."""
    model.eval()
    preds, golds, loss_sum = [], [], 0.0
    with torch.no_grad():
        for i in range(0, len(examples), batch_size):
            batch = collate(examples[i:i + batch_size], pad_id, max_len, regression)
            with autocast(dtype):
                out = model(**batch)
            logits = out.logits.float()
            loss_sum += out.loss.float().item() * logits.shape[0]
            preds += logits[:, 0].tolist() if regression else logits.argmax(-1).tolist()
            golds += batch["labels"].tolist()
    return {**scores(regression, preds, golds), "loss": loss_sum / len(golds), "examples": len(golds)}


def fmt(m):
    return " ".join(f"{k} {v:.4f}" for k, v in m.items() if k != "examples")


def main():
    ap = argparse.ArgumentParser(
        description="Fine-tune the installed MiniLM-L6 on a GLUE task with PyTorch + transformers, bertfit's default "
                    "recipe (see the module docstring). The last line printed is one JSON object.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--task", choices=sorted(TASKS), required=True, help="GLUE task")
    ap.add_argument("--seed", type=int, required=True, help="seeds head init, dropout and the per-epoch shuffle")
    ap.add_argument("--data-dir", default=None, help="GLUE task folder with train.tsv and dev.tsv (default "
                    "../shared/data/glue-<task>; mrpc: ../shared/data/mrpc)")
    ap.add_argument("--model-dir", default=default_model_dir(), help="installed minilm-l6")
    ap.add_argument("--epochs", type=int, default=3, help="epochs")
    ap.add_argument("--lr", type=float, default=2e-5, help="peak learning rate")
    ap.add_argument("--batch-size", type=int, default=32, help="training (and evaluation) batch size")
    ap.add_argument("--max-len", type=int, default=128, help="longest packed sequence")
    ap.add_argument("--warmup-ratio", type=float, default=0.1, help="linear warmup over ceil(ratio * total steps)")
    ap.add_argument("--weight-decay", type=float, default=0.01, help="AdamW weight decay (not biases / LayerNorm)")
    ap.add_argument("--clip-norm", type=float, default=1.0, help="global gradient norm clip (0: off)")
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32", help="bf16: torch.autocast(bfloat16)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--attn", choices=["sdpa", "eager"], default="sdpa",
                    help="attention implementation (sdpa falls back to eager where unsupported)")
    ap.add_argument("--max-steps", type=int, default=0, help="smoke test: stop after this many optimizer steps "
                    "(the schedule stays that of the full run), then evaluate")
    ap.add_argument("--train-limit", type=int, default=0, help="smoke test: train on the first N examples only "
                    "(the schedule follows the smaller set)")
    ap.add_argument("--dev-limit", type=int, default=0, help="smoke test: evaluate on the first N dev examples only")
    ap.add_argument("--out", default=None, help="also write the final JSON object to this file")
    args = ap.parse_args()

    t_start = time.perf_counter()
    problem, main_metric, default_dir = TASKS[args.task]
    regression = problem == "regression"
    data_dir = args.data_dir or str(default_dir)
    torch.set_num_threads(args.threads)
    # Seeds the classifier head's initialization, dropout masks and (below) the shuffling generator.
    transformers.set_seed(args.seed)
    check_install(args.model_dir)
    tok = BertTokenizer.from_pretrained(args.model_dir, do_lower_case=True, local_files_only=True)

    config = BertConfig.from_pretrained(args.model_dir, local_files_only=True)
    config.num_labels = 1 if regression else 2
    config.problem_type = problem  # regression -> MSELoss, else CrossEntropyLoss
    try:
        model = BertForSequenceClassification.from_pretrained(args.model_dir, config=config, local_files_only=True,
                                                              attn_implementation=args.attn)
    except (ValueError, ImportError) as e:
        if args.attn == "eager":
            raise
        print(f"attn_implementation={args.attn} unavailable ({e}); using eager", flush=True)
        model = BertForSequenceClassification.from_pretrained(args.model_dir, config=config, local_files_only=True,
                                                              attn_implementation="eager")
    attn_impl = getattr(model.config, "_attn_implementation", None) or args.attn

    train_rows = read_task(args.task, os.path.join(data_dir, "train.tsv"))
    dev_rows = read_task(args.task, os.path.join(data_dir, "dev.tsv"))
    if args.train_limit:
        train_rows = train_rows[:args.train_limit]
    if args.dev_limit:
        dev_rows = dev_rows[:args.dev_limit]
    train = encode(tok, train_rows, args.max_len)
    dev = encode(tok, dev_rows, args.max_len)
    pad_id = tok.pad_token_id

    no_decay = ("bias", "LayerNorm.weight")
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in params if not n.endswith(no_decay)], "weight_decay": args.weight_decay},
        {"params": [p for n, p in params if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.999), eps=1e-6)
    steps_per_epoch = math.ceil(len(train) / args.batch_size)  # last batch kept
    total_steps = steps_per_epoch * args.epochs
    warmup_steps = math.ceil(args.warmup_ratio * total_steps)  # rounded up, as bertfit and transformers' Trainer
    sched = get_linear_schedule_with_warmup(opt, warmup_steps, total_steps)
    settings = {
        "model": "minilm-l6", "model_dir": args.model_dir, "data_dir": data_dir, "problem_type": problem,
        "num_labels": config.num_labels, "main_metric": main_metric, "epochs": args.epochs,
        "batch_size": args.batch_size, "lr": args.lr, "optimizer": "adamw", "betas": [0.9, 0.999], "adam_eps": 1e-6,
        "weight_decay": args.weight_decay, "warmup_ratio": args.warmup_ratio, "warmup_steps": warmup_steps,
        "schedule": "linear", "total_steps": total_steps, "clip_norm": args.clip_norm, "max_len": args.max_len,
        "padding": f"dynamic (multiple of {PAD_MULTIPLE})", "shuffle": True, "last_batch": "keep",
        "threads": torch.get_num_threads(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "attn_implementation": attn_impl,
        "train_examples": len(train), "dev_examples": len(dev), "max_steps": args.max_steps or None,
        "smoke": bool(args.max_steps or args.train_limit or args.dev_limit),
    }
    print(f"{args.task}: {len(train)} train / {len(dev)} dev examples ({problem}, main metric {main_metric}); "
          f"{args.epochs} epochs x {steps_per_epoch} steps (batch {args.batch_size}), warmup {warmup_steps}; "
          f"{args.dtype}, {torch.get_num_threads()} threads, attention {attn_impl}; "
          f"torch {torch.__version__}, transformers {transformers.__version__}", flush=True)

    g = torch.Generator().manual_seed(args.seed)
    step, history, best = 0, [], None
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(train), generator=g).tolist()
        t0 = time.perf_counter()
        seen, loss_sum, step_times, step_cpu = 0, 0.0, [], []
        for b in range(steps_per_epoch):
            if args.max_steps and step >= args.max_steps:
                break
            ts, cs = time.perf_counter(), time.process_time()
            batch = collate([train[i] for i in order[b * args.batch_size:(b + 1) * args.batch_size]], pad_id,
                            args.max_len, regression)
            with autocast(args.dtype):
                loss = model(**batch).loss
            loss.backward()
            if args.clip_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_norm)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            n = batch["labels"].shape[0]
            seen += n
            loss_sum += loss.item() * n
            step_times.append(time.perf_counter() - ts)
            step_cpu.append(time.process_time() - cs)
        train_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        m = evaluate(model, dev, pad_id, args.max_len, regression, args.dtype, args.batch_size)
        eval_s = time.perf_counter() - t1
        # s/step: the median over the epoch's steps after the first (the first one warms caches / oneDNN kernels);
        # cpu_s_per_step: process CPU seconds (all threads) per step, the same way: less sensitive to a busy machine
        later = step_times[1:] or step_times
        later_cpu = step_cpu[1:] or step_cpu
        rec = {"epoch": epoch, "step": step, **m, "train_loss": loss_sum / max(1, seen), "train_s": train_s,
               "train_seq_per_s": seen / train_s if train_s > 0 else 0.0,
               "s_per_step": statistics.median(later) if later else 0.0,
               "cpu_s_per_step": statistics.median(later_cpu) if later_cpu else 0.0,
               "first_step_s": step_times[0] if step_times else 0.0, "eval_s": eval_s}
        history.append(rec)
        if best is None or m[main_metric] > best["metrics"][main_metric]:
            best = {"epoch": epoch, "step": step, "metrics": m}
        print(f"epoch {epoch}: dev {fmt(m)} ({m['examples']} examples); train loss {rec['train_loss']:.4f}; "
              f"train {train_s:.1f} s ({rec['train_seq_per_s']:.1f} seq/s, {rec['s_per_step']:.3f} s/step, "
              f"{rec['cpu_s_per_step']:.3f} CPU s/step, first step {rec['first_step_s']:.3f} s), eval {eval_s:.1f} s", flush=True)
        if args.max_steps and step >= args.max_steps:
            break

    print(f"best: epoch {best['epoch']} {main_metric} {best['metrics'][main_metric]:.4f}", flush=True)
    result = {
        "engine": "transformers", "torch": torch.__version__, "transformers": transformers.__version__,
        "task": args.task, "seed": args.seed, "dtype": args.dtype, "settings": settings,
        "history": history, "best": best, "steps": step, "wall_s": time.perf_counter() - t_start,
    }
    line = json.dumps(result)
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(result, indent=1) + "\n")
        os.replace(tmp, args.out)
    print(line, flush=True)


if __name__ == "__main__":
    main()
