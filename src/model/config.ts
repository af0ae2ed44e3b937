// BERT hyper-parameters, parsed from a Hugging Face config.json (names mirror the HF keys).
import { readFileSync } from 'node:fs';
import type { GeluKind } from '../native/api.js';

export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  initializer_range: number;
  num_labels: number;
  id2label: Record<string, string>;
  label2id: Record<string, number>;
  /** anything else from config.json, kept so that saving preserves it */
  extra: Record<string, unknown>;
}

export class ConfigError extends Error {}

/** transformers' problem_type: which loss trains the head and how its outputs read. */
export type ProblemType = 'single_label_classification' | 'regression' | 'multi_label_classification';
export const PROBLEM_TYPES: readonly ProblemType[] = ['single_label_classification', 'regression', 'multi_label_classification'];

/**
 * The config's problem_type; when config.json has none, transformers' rule for the labels we train with:
 * one output is regression, more are single-label classification.
 */
export function problemTypeOf(config: Pick<BertConfig, 'extra' | 'num_labels'>): ProblemType {
  const p = config.extra.problem_type;
  if (typeof p === 'string' && (PROBLEM_TYPES as readonly string[]).includes(p)) return p as ProblemType;
  return config.num_labels === 1 ? 'regression' : 'single_label_classification';
}

/** The class names in class-index order (id2label's keys are "0", "1", ...). */
export function labelList(id2label: Record<string, string>): string[] {
  return Object.keys(id2label).sort((a, b) => Number(a) - Number(b)).map((k) => id2label[k]!);
}

const DEFAULTS = {
  hidden_act: 'gelu', max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12,
  hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, initializer_range: 0.02,
};

/** The GELU form a config's hidden_act asks for; other activations are refused. */
export function geluKind(act: string, where = 'config.json'): GeluKind {
  if (act === 'gelu') return 'erf';
  if (act === 'gelu_new' || act === 'gelu_pytorch_tanh' || act === 'gelu_fast') return 'tanh';
  throw new ConfigError(`${where}: hidden_act "${act}" is not supported (use gelu, gelu_new or gelu_pytorch_tanh)`);
}

/** Builds a validated BertConfig from a parsed config.json object. */
export function parseConfig(raw: Record<string, unknown>, where = 'config.json'): BertConfig {
  const int = (key: string, def?: number): number => {
    const v = raw[key] ?? def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new ConfigError(`${where}: field "${key}" must be a positive integer, got ${JSON.stringify(raw[key])}`);
    }
    return v;
  };
  const num = (key: string, def: number, min: number, max: number): number => {
    const v = raw[key] ?? def;
    if (typeof v !== 'number' || !(v >= min && v <= max)) {
      throw new ConfigError(`${where}: field "${key}" must be a number in [${min}, ${max}], got ${JSON.stringify(raw[key])}`);
    }
    return v;
  };
  const hidden_size = int('hidden_size');
  const num_attention_heads = int('num_attention_heads');
  if (hidden_size % num_attention_heads !== 0) {
    throw new ConfigError(`${where}: hidden_size ${hidden_size} is not a multiple of num_attention_heads ${num_attention_heads}`);
  }
  const hidden_act = String(raw.hidden_act ?? DEFAULTS.hidden_act);
  geluKind(hidden_act, where);

  let id2label: Record<string, string> = {};
  if (raw.id2label && typeof raw.id2label === 'object') {
    for (const [k, v] of Object.entries(raw.id2label as Record<string, unknown>)) id2label[String(Number(k))] = String(v);
  }
  let num_labels = typeof raw.num_labels === 'number' ? raw.num_labels : Object.keys(id2label).length || 2;
  if (Object.keys(id2label).length === 0) {
    for (let i = 0; i < num_labels; i++) id2label[String(i)] = `LABEL_${i}`;
  } else {
    num_labels = Object.keys(id2label).length;
  }
  const label2id: Record<string, number> = {};
  for (const [k, v] of Object.entries(id2label)) label2id[v] = Number(k);

  const known = new Set(['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size',
    'hidden_act', 'max_position_embeddings', 'type_vocab_size', 'layer_norm_eps', 'hidden_dropout_prob',
    'attention_probs_dropout_prob', 'initializer_range', 'num_labels', 'id2label', 'label2id']);
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (!known.has(k)) extra[k] = v;
  const pt = raw.problem_type;
  if (pt !== undefined && pt !== null && !(typeof pt === 'string' && (PROBLEM_TYPES as readonly string[]).includes(pt))) {
    throw new ConfigError(`${where}: field "problem_type" must be one of ${PROBLEM_TYPES.join(', ')}, got ${JSON.stringify(pt)}`);
  }

  return {
    vocab_size: int('vocab_size'),
    hidden_size,
    num_hidden_layers: int('num_hidden_layers'),
    num_attention_heads,
    intermediate_size: int('intermediate_size'),
    hidden_act,
    max_position_embeddings: int('max_position_embeddings', DEFAULTS.max_position_embeddings),
    type_vocab_size: int('type_vocab_size', DEFAULTS.type_vocab_size),
    layer_norm_eps: num('layer_norm_eps', DEFAULTS.layer_norm_eps, 0, 1),
    hidden_dropout_prob: num('hidden_dropout_prob', DEFAULTS.hidden_dropout_prob, 0, 0.99),
    attention_probs_dropout_prob: num('attention_probs_dropout_prob', DEFAULTS.attention_probs_dropout_prob, 0, 0.99),
    initializer_range: num('initializer_range', DEFAULTS.initializer_range, 0, 10),
    num_labels,
    id2label,
    label2id,
    extra,
  };
}

export function readConfig(file: string): BertConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${file}: cannot read config: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${file}: not a JSON object`);
  return parseConfig(raw as Record<string, unknown>, file);
}

/** Shapes of Turc et al. (2019) compact BERTs and BERT-base/large, for `random:NAME` models and benchmarks. */
export const NAMED_SHAPES: Record<string, { layers: number; hidden: number; heads: number }> = {
  tiny: { layers: 2, hidden: 128, heads: 2 },
  mini: { layers: 4, hidden: 256, heads: 4 },
  small: { layers: 4, hidden: 512, heads: 8 },
  medium: { layers: 8, hidden: 512, heads: 8 },
  base: { layers: 12, hidden: 768, heads: 12 },
  large: { layers: 24, hidden: 1024, heads: 16 },
};

/** A bert-base-uncased-style config of a named shape with the 30522-token uncased vocab. */
export function namedConfig(name: string, numLabels = 2): BertConfig {
  const s = NAMED_SHAPES[name];
  if (!s) throw new ConfigError(`unknown model shape "${name}" (known: ${Object.keys(NAMED_SHAPES).join(', ')})`);
  return parseConfig({
    vocab_size: 30522, hidden_size: s.hidden, num_hidden_layers: s.layers, num_attention_heads: s.heads,
    intermediate_size: 4 * s.hidden, num_labels: numLabels, model_type: 'bert',
  }, `random:${name}`);
}
