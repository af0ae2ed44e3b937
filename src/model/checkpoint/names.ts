// Canonical tensor names and shapes: those of transformers' BertForSequenceClassification state dict, which is what
// bertfit saves and what its model reads. Linear weights are [out, in] as in PyTorch. The model and the loader both
// use expectedTensors() so they cannot disagree about a name or a shape.
import type { BertConfig } from '../config.js';

export interface ExpectedTensor {
  name: string;
  shape: number[];
  /** set for the heads a fine-tuning run may initialise fresh when a checkpoint lacks them */
  head?: 'pooler' | 'classifier';
}

/**
 * Every parameter of BertForSequenceClassification for `config`, in the order transformers' state_dict() lists them.
 *
 * Args:
 *   config: V = vocab_size, H = hidden_size, I = intermediate_size, P = max_position_embeddings,
 *           T = type_vocab_size, L = num_labels, over num_hidden_layers layers.
 * Returns:
 *   names with shapes, e.g. bert.encoder.layer.0.intermediate.dense.weight [I, H].
 */
export function expectedTensors(config: BertConfig): ExpectedTensor[] {
  const H = config.hidden_size;
  const I = config.intermediate_size;
  const out: ExpectedTensor[] = [];
  const add = (name: string, shape: number[], head?: ExpectedTensor['head']): void => {
    out.push(head ? { name, shape, head } : { name, shape });
  };
  const linear = (name: string, outDim: number, inDim: number, head?: ExpectedTensor['head']): void => {
    add(`${name}.weight`, [outDim, inDim], head);
    add(`${name}.bias`, [outDim], head);
  };
  const layerNorm = (name: string): void => {
    add(`${name}.weight`, [H]);
    add(`${name}.bias`, [H]);
  };
  add('bert.embeddings.word_embeddings.weight', [config.vocab_size, H]);
  add('bert.embeddings.position_embeddings.weight', [config.max_position_embeddings, H]);
  add('bert.embeddings.token_type_embeddings.weight', [config.type_vocab_size, H]);
  layerNorm('bert.embeddings.LayerNorm');
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const p = `bert.encoder.layer.${i}`;
    linear(`${p}.attention.self.query`, H, H);
    linear(`${p}.attention.self.key`, H, H);
    linear(`${p}.attention.self.value`, H, H);
    linear(`${p}.attention.output.dense`, H, H);
    layerNorm(`${p}.attention.output.LayerNorm`);
    linear(`${p}.intermediate.dense`, I, H);
    linear(`${p}.output.dense`, H, I);
    layerNorm(`${p}.output.LayerNorm`);
  }
  linear('bert.pooler.dense', H, H, 'pooler');
  linear('classifier', config.num_labels, H, 'classifier');
  return out;
}

export type NameClass =
  | { kind: 'param'; name: string; renamed: boolean }
  | { kind: 'pretraining-head' }
  | { kind: 'buffer' }
  | { kind: 'unexpected' };

/**
 * Maps a checkpoint's tensor name to its canonical name, or says why it is not a parameter.
 * Accepts names with or without the `bert.` prefix (a bare BertModel has none) and TF-era LayerNorm.gamma/beta.
 */
export function classifyName(raw: string): NameClass {
  const body = raw.startsWith('bert.') ? raw.slice(5) : raw;
  if (body.startsWith('cls.')) return { kind: 'pretraining-head' };
  // Registered buffers (not parameters) that some transformers versions save.
  if (body === 'embeddings.position_ids' || body === 'embeddings.token_type_ids') return { kind: 'buffer' };
  let name: string;
  if (raw.startsWith('classifier.')) name = raw;
  else if (/^(embeddings|encoder|pooler)\./.test(body)) name = `bert.${body}`;
  else return { kind: 'unexpected' };
  const renamed = name.replace(/\.LayerNorm\.gamma$/, '.LayerNorm.weight').replace(/\.LayerNorm\.beta$/, '.LayerNorm.bias');
  return { kind: 'param', name: renamed, renamed: renamed !== name };
}
