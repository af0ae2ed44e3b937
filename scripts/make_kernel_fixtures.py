#!/usr/bin/python3
"""Writes fixtures/kernels/torch_kernels.json: small inputs and PyTorch outputs for every native kernel.

Run with Debian's PyTorch:  /usr/bin/python3 scripts/make_kernel_fixtures.py
The output is committed; test/native-torch.test.ts compares the native core against it.

Format: {"torch": version, "cases": {name: {"params": {...}, "tensors": {name: {"dtype", "shape", "b64"}}}}}
with tensors stored as little-endian raw bytes (base64): exact, and far smaller than decimal text.
dtype is "f32", "i32" or "u16" (bf16 bit patterns).
"""
import base64
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "kernels", "torch_kernels.json")


def enc(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.float32:
        dtype = "f32"
    elif t.dtype == torch.int32:
        dtype = "i32"
    elif t.dtype == torch.bfloat16:
        dtype, t = "u16", t.view(torch.int16)
    else:
        raise TypeError(f"unsupported dtype {t.dtype}")
    raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
    return {"dtype": dtype, "shape": list(t.shape), "b64": base64.b64encode(raw).decode("ascii")}


def case(meta, **tensors):
    return {"params": meta, "tensors": {k: enc(v) for k, v in tensors.items()}}


def gelu_case(approximate):
    # a grid over the interesting range plus random points; tails where erf/tanh saturate
    x = torch.cat([torch.linspace(-8, 8, 161), torch.randn(95) * 3]).float().requires_grad_()
    y = F.gelu(x, approximate=approximate)
    dy = torch.randn_like(y)
    (dx,) = torch.autograd.grad(y, x, dy)
    return case({"kind": "erf" if approximate == "none" else "tanh"}, x=x, y=y, dy=dy, dx=dx)


def layer_norm_case(rows, cols, eps):
    x = (torch.randn(rows, cols) * 2 + 3).requires_grad_()  # non-zero mean exercises the two-pass variance
    gamma = (torch.rand(cols) + 0.5).requires_grad_()
    beta = torch.randn(cols).requires_grad_()
    y = F.layer_norm(x, (cols,), gamma, beta, eps)
    dy = torch.randn_like(y)
    dx, dgamma, dbeta = torch.autograd.grad(y, (x, gamma, beta), dy)
    mean = x.mean(dim=1)
    rstd = 1.0 / torch.sqrt(x.var(dim=1, unbiased=False) + eps)
    return case({"rows": rows, "cols": cols, "eps": eps}, x=x, gamma=gamma, beta=beta, y=y, mean=mean, rstd=rstd,
                dy=dy, dx=dx, dgamma=dgamma, dbeta=dbeta)


def softmax_case():
    B, NH, Sq, Sk, scale = 3, 2, 4, 9, 0.125
    valid = torch.tensor([9, 5, 1], dtype=torch.int32)
    s = (torch.randn(B, NH, Sq, Sk) * 8).requires_grad_()
    mask = torch.zeros(B, 1, 1, Sk)
    for b in range(B):
        mask[b, :, :, int(valid[b]):] = float("-inf")
    probs = torch.softmax(s * scale + mask, dim=-1)
    dprobs = torch.randn_like(probs)
    (ds,) = torch.autograd.grad(probs, s, dprobs)
    return case({"B": B, "NH": NH, "Sq": Sq, "Sk": Sk, "scale": scale}, scores=s, validLen=valid, probs=probs,
                dprobs=dprobs, dscores=ds)


def cross_entropy_case():
    B, C = 7, 5
    logits = (torch.randn(B, C) * 4).requires_grad_()
    labels = torch.randint(0, C, (B,), dtype=torch.int64)
    loss = F.cross_entropy(logits, labels)
    (dlogits,) = torch.autograd.grad(loss, logits)
    return case({"B": B, "C": C, "loss": loss.item()}, logits=logits, labels=labels.to(torch.int32),
                probs=torch.softmax(logits, dim=1), dlogits=dlogits)


def tanh_case():
    x = torch.cat([torch.linspace(-10, 10, 101), torch.randn(60), torch.randn(40) * 1e-3]).float().requires_grad_()
    y = torch.tanh(x)
    dy = torch.randn_like(y)
    (dx,) = torch.autograd.grad(y, x, dy)
    return case({}, x=x, y=y, dy=dy, dx=dx)


def bias_case():
    rows, cols = 5, 12
    x = torch.randn(rows, cols)
    b = torch.randn(cols, requires_grad=True)
    y = x + b
    dy = torch.randn_like(y)
    (db,) = torch.autograd.grad(y, b, dy)
    return case({"rows": rows, "cols": cols}, x=x, bias=b, y=y, dy=dy, dbias=db)


def embedding_case():
    V, dim = 10, 6
    table = torch.randn(V, dim, requires_grad=True)
    ids = torch.tensor([3, 0, 9, 3, 3, 7, 0], dtype=torch.int64)
    out = F.embedding(ids, table)
    dout = torch.randn_like(out)
    (dtable,) = torch.autograd.grad(out, table, dout)
    return case({"V": V, "dim": dim}, table=table, ids=ids.to(torch.int32), out=out, dout=dout, dtable=dtable)


def adam_case(decoupled):
    n, steps = 64, 6
    lr, betas, eps, wd = (1e-2, (0.9, 0.999), 1e-8, 0.1) if decoupled else (3e-3, (0.8, 0.99), 1e-6, 0.01)
    p = torch.nn.Parameter(torch.randn(n))
    p0 = p.detach().clone()
    opt = (torch.optim.AdamW if decoupled else torch.optim.Adam)([p], lr=lr, betas=betas, eps=eps, weight_decay=wd)
    grads, params = [], []
    for _ in range(steps):
        g = torch.randn(n) * 0.1
        g[:4] = 0.0  # zero gradients: the update then comes from momentum / weight decay alone
        p.grad = g.clone()
        opt.step()
        grads.append(g)
        params.append(p.detach().clone())
    st = opt.state[p]
    return case({"lr": lr, "beta1": betas[0], "beta2": betas[1], "eps": eps, "weightDecay": wd, "steps": steps,
                 "decoupled": decoupled}, param0=p0, grads=torch.stack(grads), params=torch.stack(params),
                m=st["exp_avg"], v=st["exp_avg_sq"])


def clip_case(max_norm):
    g1, g2 = torch.randn(30) * 0.5, torch.randn(4, 5) * 0.5
    a, b = torch.nn.Parameter(torch.zeros(30)), torch.nn.Parameter(torch.zeros(4, 5))
    a.grad, b.grad = g1.clone(), g2.clone()
    norm = torch.nn.utils.clip_grad_norm_([a, b], max_norm)
    return case({"maxNorm": max_norm, "norm": norm.item()}, g=torch.cat([g1, g2.flatten()]),
                clipped=torch.cat([a.grad, b.grad.flatten()]))


def bf16_case():
    special = torch.tensor([0.0, -0.0, 1.0, -1.0, float("inf"), float("-inf"), 3.4028235e38, -3.4028235e38,
                            1e-45, -1e-45, 1.1754944e-38, 9.18355e-41, 65504.0, 1.00390625, 1.01171875,
                            1.0078125 + 2**-24, 3.14159265, 2.71828183], dtype=torch.float32)
    # ties: an exact halfway fp32 between two bf16 values (low 16 bits 0x8000), both parities of the kept bit
    ties = torch.tensor([0x3F808000, 0x3F818000, 0xBF808000, 0xBF818000, 0x3F807FFF, 0x3F808001],
                        dtype=torch.int64).to(torch.int32).view(torch.float32)
    x = torch.cat([special, ties, torch.randn(200) * 100, torch.randn(56) * 1e-30]).float()
    return case({}, x=x, bf16=x.to(torch.bfloat16), back=x.to(torch.bfloat16).float())


def gemm_case():
    a, b = torch.randn(5, 7), torch.randn(7, 3)
    ah, bh = a.to(torch.bfloat16), b.to(torch.bfloat16)
    return case({"m": 5, "n": 3, "k": 7}, a=a, b=b, c=a @ b, a_bf16=ah, b_bf16=bh,
                c_bf16=ah.float() @ bh.float())


def main():
    torch.manual_seed(1234)
    torch.set_num_threads(1)
    cases = {
        "gelu_erf": gelu_case("none"),
        "gelu_tanh": gelu_case("tanh"),
        "layer_norm_bert": layer_norm_case(6, 48, 1e-12),
        "layer_norm_eps5": layer_norm_case(3, 17, 1e-5),
        "softmax_masked": softmax_case(),
        "cross_entropy": cross_entropy_case(),
        "tanh": tanh_case(),
        "bias": bias_case(),
        "embedding": embedding_case(),
        "adam": adam_case(False),
        "adamw": adam_case(True),
        "clip_active": clip_case(1.0),
        "clip_inactive": clip_case(100.0),
        "bf16": bf16_case(),
        "gemm": gemm_case(),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"torch": torch.__version__, "generator": "scripts/make_kernel_fixtures.py", "cases": cases}, f,
                  indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT)} ({os.path.getsize(OUT)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
