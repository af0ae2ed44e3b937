// Fuzz target: config.json (src/model/config.ts parseConfigJson): dimension limits, id2label, the memory estimate.
// Most cases plant edge values (1e9, -1, strings, deep arrays) in fields; the rest edit bytes.
import { parseConfigJson } from '../../../src/model/config.js';
import { TINY_CONFIG } from '../build.js';
import { mutateBytes, mutateJson } from '../mutate.js';
import type { FuzzTarget } from '../runner.js';

const base = { hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, type_vocab_size: 2,
  max_position_embeddings: 512, layer_norm_eps: 1e-12, initializer_range: 0.02, model_type: 'bert' };

export const target: FuzzTarget = {
  name: 'config',
  seeds: () => [
    TINY_CONFIG,
    { ...base, vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072 },
    { ...base, vocab_size: 30522, hidden_size: 384, num_hidden_layers: 6, num_attention_heads: 12, intermediate_size: 1536 },
    { ...TINY_CONFIG, id2label: { 0: 'neg', 1: 'pos', 2: 'neutral' }, label2id: { neg: 0, pos: 1, neutral: 2 },
      problem_type: 'single_label_classification', hidden_act: 'gelu_new', architectures: ['BertForSequenceClassification'] },
  ].map((c) => Buffer.from(JSON.stringify(c, null, 2))),
  mutate: (seed, rng, corpus) => {
    if (rng.chance(0.25)) return mutateBytes(seed, rng, rng.pick(corpus));
    let text = seed.toString('utf8');
    for (let k = 1 + rng.int(3); k > 0; k--) text = mutateJson(text, rng);
    return Buffer.from(text);
  },
  run: (input) => {
    parseConfigJson(input.toString('utf8'), 'fuzz/config.json');
  },
};
