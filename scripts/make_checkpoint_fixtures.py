"""Writes the small checkpoint fixtures under fixtures/checkpoints/ that test/checkpoint*.test.ts load.

Run from the repository root with Debian's torch:  /usr/bin/python3 scripts/make_checkpoint_fixtures.py

Every model is a tiny BertForSequenceClassification (vocab 100, hidden 8, 2 layers, 2 heads, intermediate 16,
16 positions, 3 labels) whose values come from one seeded generator; reference.json holds those values (as Python
floats, exact for float32) under canonical names so the tests compare what they load with what torch wrote:

  bert-cls/           model.safetensors (our writer) + pytorch_model.bin (torch.save, zip); the .bin stores some
                      tensors as non-contiguous views, views with a storage offset and two tensors sharing a storage,
                      and the state dict carries _metadata (pickled with BUILD) like model.state_dict() does
  half/               the same tensors as float16 and bfloat16, in both formats ("half" in reference.json)
  bare-uncased/       a bare BertModel (no "bert." prefix) with BertForPreTraining's cls.* heads, no classifier,
                      no tokenizer_config.json, torch.save zip only
  legacy-gamma-beta/  TF-era LayerNorm.gamma/beta names in the legacy (pre-1.6, non-zip) torch.save format
  evil-pickle/        a pytorch_model.bin whose pickle calls os.system (must be refused, never run)
  torch-variants/     deflated.bin (bert-cls's .bin re-zipped with deflate), missing-storage.bin (one data/<key>
                      entry left out)

torch.save's legacy format names storages by memory address, so reruns change legacy-gamma-beta's bytes (not its
values).
"""
import json
import os
import shutil
import sys
import zipfile
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_io import save_hf_dir  # noqa: E402

OUT = os.path.join("fixtures", "checkpoints")
EVIL_MARKER = "/tmp/bertfit-evil-pickle-marker"

CONFIG = {
    "architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": 100, "hidden_size": 8,
    "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 16, "hidden_act": "gelu",
    "max_position_embeddings": 16, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02, "pad_token_id": 0,
    "id2label": {"0": "contradiction", "1": "entailment", "2": "neutral"},
    "label2id": {"contradiction": 0, "entailment": 1, "neutral": 2},
}

VOCAB = (["[PAD]"] + [f"[unused{i}]" for i in range(4)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
         + ["the", "a", "is", "of", "and", "to", "in", "it", "that", "was", "he", "for", "on", "are", "as", "with",
            "his", "they", "at", "be", "this", "from", "have", "or", "by", "one", "had", "not", "but", "what", "all",
            "were", "when", "we", "there", "can", "an", "your", "which", "their", "said", "if", "do", "will", "each",
            "about", "how", "up", "out", "them", "then", "she", "many", "some", "so", "these", "would", "other",
            "into", "has", "more", "her", "two", "like", "him", "see", "time", "could", "no", "make", "than",
            "first", "been", "its", "who", "now", "people", "my", "made", "over", "did", "down", "only", "way",
            "##s", "##ed", "##ing", "##ly", "##er", "##est", "."])
assert len(VOCAB) == 100, len(VOCAB)


def canonical_shapes(cfg):
    """BertForSequenceClassification's parameters in state_dict() order (an independent copy of names.ts)."""
    H, I = cfg["hidden_size"], cfg["intermediate_size"]
    shapes = OrderedDict()
    shapes["bert.embeddings.word_embeddings.weight"] = (cfg["vocab_size"], H)
    shapes["bert.embeddings.position_embeddings.weight"] = (cfg["max_position_embeddings"], H)
    shapes["bert.embeddings.token_type_embeddings.weight"] = (cfg["type_vocab_size"], H)
    shapes["bert.embeddings.LayerNorm.weight"] = (H,)
    shapes["bert.embeddings.LayerNorm.bias"] = (H,)
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."
        for lin, o, n in [("attention.self.query", H, H), ("attention.self.key", H, H),
                          ("attention.self.value", H, H), ("attention.output.dense", H, H)]:
            shapes[p + lin + ".weight"] = (o, n)
            shapes[p + lin + ".bias"] = (o,)
        shapes[p + "attention.output.LayerNorm.weight"] = (H,)
        shapes[p + "attention.output.LayerNorm.bias"] = (H,)
        shapes[p + "intermediate.dense.weight"] = (I, H)
        shapes[p + "intermediate.dense.bias"] = (I,)
        shapes[p + "output.dense.weight"] = (H, I)
        shapes[p + "output.dense.bias"] = (H,)
        shapes[p + "output.LayerNorm.weight"] = (H,)
        shapes[p + "output.LayerNorm.bias"] = (H,)
    shapes["bert.pooler.dense.weight"] = (H, H)
    shapes["bert.pooler.dense.bias"] = (H,)
    shapes["classifier.weight"] = (len(cfg["id2label"]), H)
    shapes["classifier.bias"] = (len(cfg["id2label"]),)
    return shapes


def base_state(cfg):
    g = torch.Generator().manual_seed(20240521)
    sd = OrderedDict()
    for name, shape in canonical_shapes(cfg).items():
        t = torch.randn(shape, generator=g) * 0.5
        if "LayerNorm.weight" in name:
            t = 1 + 0.1 * t
        sd[name] = t.float()
    return sd


def position_ids(cfg):
    # As BertEmbeddings registers it: an expanded arange (stride 0 in the first dim), saved by older transformers.
    return torch.arange(cfg["max_position_embeddings"]).expand((1, -1))


def with_views(sd):
    """Same values, but stored the ways real state dicts can be: transposed, offset into, and sharing storage."""
    out = OrderedDict()
    H = sd["bert.pooler.dense.weight"].shape[0]
    L = sd["classifier.weight"].shape[0]
    ln = torch.cat([sd["bert.embeddings.LayerNorm.weight"], sd["bert.embeddings.LayerNorm.bias"]])
    pad = torch.zeros(H + 2, L + 1)
    pad[1:H + 1, 1:L + 1] = sd["classifier.weight"].t()
    for name, t in sd.items():
        if name == "bert.pooler.dense.weight":
            t = t.t().contiguous().t()  # stride (1, H)
        elif name == "bert.embeddings.LayerNorm.weight":
            t = ln[:H]  # shares a storage with the bias
        elif name == "bert.embeddings.LayerNorm.bias":
            t = ln[H:]  # storage offset H
        elif name == "classifier.weight":
            t = pad[1:H + 1, 1:L + 1].t()  # offset L + 2, stride (1, L + 1)
        out[name] = t
        if name == "bert.embeddings.LayerNorm.bias":
            out["bert.embeddings.position_ids"] = position_ids(CONFIG)
    for name in ("bert.pooler.dense.weight", "bert.embeddings.LayerNorm.bias", "classifier.weight"):
        assert not out[name].is_contiguous() or out[name].storage_offset() > 0, name
        assert torch.equal(out[name], sd[name]), name
    # model.state_dict() carries per-module versions; torch.save pickles them as the OrderedDict's __dict__ (BUILD).
    out._metadata = OrderedDict([("", {"version": 1}), ("bert", {"version": 1}), ("classifier", {"version": 1})])
    return out


def half_state(sd):
    # Alternate float16 and bfloat16 so both decoders see every kind of tensor.
    return OrderedDict((n, t.to(torch.float16 if i % 2 == 0 else torch.bfloat16)) for i, (n, t) in enumerate(sd.items()))


def bare_state(sd):
    """BertForPreTraining layout: no "bert." prefix, cls.* heads, no classifier."""
    g = torch.Generator().manual_seed(7)
    H, V = CONFIG["hidden_size"], CONFIG["vocab_size"]
    out = OrderedDict((n[len("bert."):], t) for n, t in sd.items() if n.startswith("bert."))
    out["embeddings.position_ids"] = position_ids(CONFIG)
    out["cls.predictions.bias"] = torch.randn(V, generator=g)
    out["cls.predictions.transform.dense.weight"] = torch.randn(H, H, generator=g)
    out["cls.predictions.transform.dense.bias"] = torch.randn(H, generator=g)
    out["cls.predictions.transform.LayerNorm.weight"] = torch.randn(H, generator=g)
    out["cls.predictions.transform.LayerNorm.bias"] = torch.randn(H, generator=g)
    out["cls.predictions.decoder.weight"] = out["embeddings.word_embeddings.weight"]  # tied, as in BERT
    out["cls.seq_relationship.weight"] = torch.randn(2, H, generator=g)
    out["cls.seq_relationship.bias"] = torch.randn(2, generator=g)
    return out


def gamma_beta_state(sd):
    out = OrderedDict()
    for n, t in sd.items():
        n = n.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        out[n] = t
    return out


class Evil:
    def __reduce__(self):
        return (os.system, (f"echo pwned > {EVIL_MARKER}",))


def rezip(src, dst, keep=lambda name: True, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression=compression) as zout:
        for info in zin.infolist():
            if keep(info.filename):
                zout.writestr(info.filename, zin.read(info.filename))


def tensor_lists(sd):
    return OrderedDict((n, [float(x) for x in t.float().flatten().tolist()]) for n, t in sd.items())


def main():
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    sd = base_state(CONFIG)
    half = half_state(sd)

    save_hf_dir(os.path.join(OUT, "bert-cls"), CONFIG, with_views(sd), VOCAB)
    save_hf_dir(os.path.join(OUT, "half"), CONFIG, half, VOCAB)

    bare_cfg = {k: v for k, v in CONFIG.items() if k not in ("id2label", "label2id")}
    bare_cfg["architectures"] = ["BertForPreTraining"]
    bare_dir = os.path.join(OUT, "bare-uncased")
    save_hf_dir(bare_dir, bare_cfg, bare_state(sd), VOCAB, formats=("pytorch",))
    os.remove(os.path.join(bare_dir, "tokenizer_config.json"))

    legacy_dir = os.path.join(OUT, "legacy-gamma-beta")
    save_hf_dir(legacy_dir, CONFIG, {}, VOCAB, formats=())
    torch.save(gamma_beta_state(sd), os.path.join(legacy_dir, "pytorch_model.bin"), _use_new_zipfile_serialization=False)

    evil_dir = os.path.join(OUT, "evil-pickle")
    save_hf_dir(evil_dir, CONFIG, {}, VOCAB, formats=())
    torch.save(OrderedDict([("bert.embeddings.word_embeddings.weight", Evil())]), os.path.join(evil_dir, "pytorch_model.bin"))

    variants = os.path.join(OUT, "torch-variants")
    os.makedirs(variants)
    src = os.path.join(OUT, "bert-cls", "pytorch_model.bin")
    rezip(src, os.path.join(variants, "deflated.bin"), compression=zipfile.ZIP_DEFLATED)
    rezip(src, os.path.join(variants, "missing-storage.bin"), keep=lambda n: not n.endswith("/data/3"))

    # Sanity: torch reads back what it wrote (the evil file is never loaded here).
    for d in ("bert-cls", "half", "bare-uncased", "legacy-gamma-beta"):
        torch.load(os.path.join(OUT, d, "pytorch_model.bin"))

    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump({"f32": tensor_lists(sd), "half": tensor_lists(half)}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
