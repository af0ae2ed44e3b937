"""Reference values for bertfit's model parity tests, computed by a PyTorch BertForSequenceClassification.

Run with Debian's /usr/bin/python3 (torch 1.13):

    /usr/bin/python3 scripts/make_model_fixtures.py small fixtures/model     # committed (about 2 MB)
    /usr/bin/python3 scripts/make_model_fixtures.py tiny  DIR                # BERT-Tiny shape, ~50 MB, made by the tests
    /usr/bin/python3 scripts/make_model_fixtures.py regression fixtures/model   # MSE head (committed)
    /usr/bin/python3 scripts/make_model_fixtures.py multilabel fixtures/model   # BCE-with-logits head (committed)

For config NAME it writes, under the output directory:
    NAME-safetensors/   HF checkpoint directory with model.safetensors (config.json, vocab.txt, tokenizer_config.json)
    NAME-pytorch/       the same weights as pytorch_model.bin
    NAME-legacy/        (small only) pytorch_model.bin with TF-era LayerNorm.gamma / LayerNorm.beta names
    NAME-expected.safetensors
        input_ids, token_type_ids [B, S], valid_length, labels [B] (stored as F32: exact small integers),
        logits [B, C], loss [1], and grad.<canonical name> for every parameter: d(mean cross-entropy) with
        dropout off (eval mode). regression / multilabel: targets [B, C] instead of labels, and the loss is
        MSELoss / BCEWithLogitsLoss (mean over all outputs), as BertForSequenceClassification computes them.

The network is written out with torch.nn.functional ops in an nn.Module tree that mirrors transformers'
BertForSequenceClassification, so state_dict() has the canonical names. The reference forward/backward runs in
float64 on the float32 weights, so the stored values are exact to float32 rounding.
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_io import save_hf_dir, save_safetensors  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = os.path.join(REPO, "..", "shared", "tokenizer", "vocab", "bert-base-uncased.txt")
PAD_ID = 0

CONFIGS = {
    # Small random model: erf GELU, 3 classes, a 1000-token vocabulary cut from bert-base-uncased.
    "small": dict(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                  max_position_embeddings=64, hidden_act="gelu", num_labels=3,
                  lengths=[12, 9, 5, 12, 3], seq_len=12),
    # BERT-Tiny's shape with the real vocabulary and the tanh GELU (gelu_new).
    "tiny": dict(vocab_size=30522, hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512,
                 max_position_embeddings=512, hidden_act="gelu_new", num_labels=2,
                 lengths=[32, 20, 7, 25], seq_len=32),
    # The small shape with transformers' other two heads: one output trained by MSELoss (STS-B style scores 0-5),
    # and four independent labels trained by BCEWithLogitsLoss.
    "regression": dict(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                       max_position_embeddings=64, hidden_act="gelu", num_labels=1, problem_type="regression",
                       lengths=[12, 9, 5, 12, 3], seq_len=12),
    "multilabel": dict(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                       max_position_embeddings=64, hidden_act="gelu", num_labels=4, problem_type="multi_label_classification",
                       lengths=[12, 9, 5, 12, 3], seq_len=12),
}


def read_vocab():
    with open(VOCAB, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def small_vocab(full, size):
    """A working WordPiece vocabulary of `size` entries: specials, ASCII characters (and ## forms), common words."""
    out = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = [t for t in full if len(t) == 1 and 33 <= ord(t) < 127]
    out += chars + ["##" + c for c in chars if c.isalnum()]
    seen = set(out)
    for t in full[full.index("the"):]:
        if len(out) >= size:
            break
        if t not in seen and not t.startswith("[") and t.isascii():
            out.append(t)
            seen.add(t)
    assert len(out) == size, len(out)
    return out


def gelu(x, act):
    if act == "gelu":
        return F.gelu(x)
    # transformers' NewGELUActivation (gelu_new): the tanh approximation.
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"], padding_idx=PAD_ID)
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, ids, tt):
        """ids, tt: [B, S] -> [B, S, H]"""
        pos = torch.arange(ids.shape[1])
        x = (F.embedding(ids, self.word_embeddings.weight, padding_idx=PAD_ID)
             + F.embedding(pos, self.position_embeddings.weight)[None]
             + F.embedding(tt, self.token_type_embeddings.weight))
        x = F.layer_norm(x, x.shape[-1:], self.LayerNorm.weight, self.LayerNorm.bias, self.c["layer_norm_eps"])
        return F.dropout(x, self.c["hidden_dropout_prob"], self.training)


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        H = c["hidden_size"]
        self.query = nn.Linear(H, H)
        self.key = nn.Linear(H, H)
        self.value = nn.Linear(H, H)

    def forward(self, x, mask):
        """x: [B, S, H], mask: [B, 1, 1, S] additive -> context [B, S, H]"""
        B, S, H = x.shape
        NH = self.c["num_attention_heads"]
        D = H // NH
        heads = lambda t: t.view(B, S, NH, D).transpose(1, 2)  # [B, NH, S, D]
        q = heads(F.linear(x, self.query.weight, self.query.bias))
        k = heads(F.linear(x, self.key.weight, self.key.bias))
        v = heads(F.linear(x, self.value.weight, self.value.bias))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(D) + mask
        probs = F.dropout(F.softmax(scores, dim=-1), self.c["attention_probs_dropout_prob"], self.training)
        return torch.matmul(probs, v).transpose(1, 2).reshape(B, S, H)


class BertSelfOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, h, x):
        h = F.dropout(F.linear(h, self.dense.weight, self.dense.bias), self.c["hidden_dropout_prob"], self.training)
        return F.layer_norm(h + x, h.shape[-1:], self.LayerNorm.weight, self.LayerNorm.bias, self.c["layer_norm_eps"])


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertSelfOutput(c)

    def forward(self, x, mask):
        return self.output(self.self(x, mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])

    def forward(self, x):
        return gelu(F.linear(x, self.dense.weight, self.dense.bias), self.c["hidden_act"])


class BertOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.dense = nn.Linear(c["intermediate_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, h, x):
        h = F.dropout(F.linear(h, self.dense.weight, self.dense.bias), self.c["hidden_dropout_prob"], self.training)
        return F.layer_norm(h + x, h.shape[-1:], self.LayerNorm.weight, self.LayerNorm.bias, self.c["layer_norm_eps"])


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertOutput(c)

    def forward(self, x, mask):
        h1 = self.attention(x, mask)
        return self.output(self.intermediate(h1), h1)


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c["num_hidden_layers"])])

    def forward(self, x, mask):
        for layer in self.layer:
            x = layer(x, mask)
        return x


class BertPooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])

    def forward(self, x):
        """x: [B, S, H] -> tanh(dense(x[:, 0])) [B, H]"""
        return torch.tanh(F.linear(x[:, 0], self.dense.weight, self.dense.bias))


class BertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c)

    def forward(self, ids, tt, attention_mask):
        x = self.embeddings(ids, tt)
        # Older transformers' extended attention mask: 0 for keys to attend, -10000 for padding.
        mask = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        return self.pooler(self.encoder(x, mask))


class BertForSequenceClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.bert = BertModel(c)
        self.classifier = nn.Linear(c["hidden_size"], c["num_labels"])

    def forward(self, ids, tt, attention_mask):
        pooled = F.dropout(self.bert(ids, tt, attention_mask), self.c["hidden_dropout_prob"], self.training)
        return F.linear(pooled, self.classifier.weight, self.classifier.bias)


def make_inputs(lengths, S, vocab_size, num_labels, cls_id, sep_id, gen):
    """A padded batch of uneven sentence pairs: [CLS] a [SEP] b [SEP] [PAD]..., token types 0 / 1 / 0.

    Returns ids, token types, attention mask [B, S] and labels [B]."""
    B = len(lengths)
    ids = torch.full((B, S), PAD_ID, dtype=torch.long)
    tt = torch.zeros(B, S, dtype=torch.long)
    for b, n in enumerate(lengths):
        ids[b, :n] = torch.randint(5, vocab_size, (n,), generator=gen)
        ids[b, 0] = cls_id
        ids[b, n - 1] = sep_id
        if n >= 4:
            split = n // 2
            ids[b, split] = sep_id
            tt[b, split + 1:n] = 1
    am = (torch.arange(S)[None, :] < torch.tensor(lengths)[:, None]).long()
    labels = torch.randint(0, num_labels, (B,), generator=gen)
    return ids, tt, am, labels


def build(name, out_dir):
    spec = dict(CONFIGS[name])
    lengths, seq_len = spec.pop("lengths"), spec.pop("seq_len")
    problem = spec.get("problem_type", "single_label_classification")
    c = dict(model_type="bert", type_vocab_size=2, layer_norm_eps=1e-12, hidden_dropout_prob=0.1,
             attention_probs_dropout_prob=0.1, initializer_range=0.02, pad_token_id=PAD_ID, **spec)
    c["id2label"] = {str(i): f"class_{i}" for i in range(c["num_labels"])}
    c["label2id"] = {v: int(k) for k, v in c["id2label"].items()}
    c["architectures"] = ["BertForSequenceClassification"]
    full = read_vocab()
    vocab = full if c["vocab_size"] == len(full) else small_vocab(full, c["vocab_size"])
    cls_id, sep_id = vocab.index("[CLS]"), vocab.index("[SEP]")

    torch.manual_seed({"small": 1234, "tiny": 5678, "regression": 4321, "multilabel": 8765}[name])
    gen = torch.Generator().manual_seed(42)
    model = BertForSequenceClassification(c)
    # Every tensor random and far from its initial value (LayerNorm weights around 1, biases nonzero), so that a
    # gradient bug in any of them shows up; std 0.1 makes the attention and GELU genuinely nonlinear.
    with torch.no_grad():
        for pname, p in model.named_parameters():
            p.normal_(0.0, 0.1)
            if pname.endswith("LayerNorm.weight"):
                p.add_(1.0)
        model.bert.embeddings.word_embeddings.weight[PAD_ID].zero_()

    ids, tt, am, labels = make_inputs(lengths, seq_len, c["vocab_size"], c["num_labels"], cls_id, sep_id, gen)

    state = {k: v.detach().clone().float().contiguous() for k, v in model.state_dict().items()}
    model = model.double().eval()
    logits = model(ids, tt, am)
    B, C = logits.shape
    if problem == "regression":
        targets = (torch.rand(B, C, generator=gen) * 5.0).float()
        loss = F.mse_loss(logits, targets.double())
    elif problem == "multi_label_classification":
        targets = (torch.rand(B, C, generator=gen) < 0.4).float()
        loss = F.binary_cross_entropy_with_logits(logits, targets.double())
    else:
        loss = F.cross_entropy(logits, labels)
    loss.backward()

    os.makedirs(out_dir, exist_ok=True)
    save_hf_dir(os.path.join(out_dir, f"{name}-safetensors"), c, state, vocab, True, formats=("safetensors",))
    if problem == "single_label_classification":
        save_hf_dir(os.path.join(out_dir, f"{name}-pytorch"), c, state, vocab, True, formats=("pytorch",))
    if name == "small":
        legacy = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
                  for k, v in state.items()}
        save_hf_dir(os.path.join(out_dir, f"{name}-legacy"), c, legacy, vocab, True, formats=("pytorch",))

    expected = {
        "input_ids": ids.float(), "token_type_ids": tt.float(), "valid_length": torch.tensor(lengths).float(),
        "labels": labels.float(), "logits": logits.detach().float(), "loss": loss.detach().float().reshape(1),
    }
    if problem != "single_label_classification":
        expected["targets"] = targets
    for pname, p in model.named_parameters():
        expected["grad." + pname] = p.grad.detach().float().contiguous()
    save_safetensors(os.path.join(out_dir, f"{name}-expected.safetensors"), expected,
                     {"format": "pt", "config": name, "torch": torch.__version__})
    print(f"{name}: loss {loss.item():.6f}, logits {logits.shape[0]}x{logits.shape[1]} -> {out_dir}")


def main(argv):
    if len(argv) != 3 or argv[1] not in CONFIGS:
        sys.stderr.write(f"usage: {argv[0]} {{{'|'.join(CONFIGS)}}} OUT_DIR\n")
        return 2
    build(argv[1], argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
