// BERT hyper-parameters, parsed from a Hugging Face config.json (names mirror the HF keys).
//
// Every dimension is bounded (CONFIG_LIMITS) and the parameter memory the config implies is compared with the memory
// budget before anything is allocated: a config.json with num_labels 1e9 or num_hidden_layers 1e8 must end in a
// ConfigError naming the file and field, not in a V8 heap abort.
import { readFileSync, statSync } from 'node:fs';
import type { GeluKind } from '../native/api.js';
import { formatBytes, memoryBudget } from '../util/memory.js';

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

/** A config.json (or config object) that is malformed or describes a model this machine cannot hold. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Upper bounds on config dimensions. Each is well above any BERT-family model published (BERT-large: 24 layers,
 * hidden 1024; xxlarge ALBERT: hidden 4096, intermediate 16384; multilingual vocabularies: ~250k; long-context
 * encoders: 8k-32k positions) and low enough that every product of them stays an exact double. Memory is checked
 * separately: a config within these bounds can still be too big for the machine.
 */
export const CONFIG_LIMITS = {
  vocab_size: 1 << 20,
  hidden_size: 16384,
  num_hidden_layers: 256,
  num_attention_heads: 1024,
  intermediate_size: 65536,
  max_position_embeddings: 131072,
  type_vocab_size: 1024,
  num_labels: 100_000,
} as const;

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
  const int = (key: keyof typeof CONFIG_LIMITS, def?: number): number => {
    const v = raw[key] ?? def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new ConfigError(`${where}: field "${key}" must be a positive integer, got ${preview(raw[key])}`);
    }
    if (v > CONFIG_LIMITS[key]) {
      throw new ConfigError(`${where}: field "${key}" must be at most ${CONFIG_LIMITS[key]}, got ${v} (a corrupt or hostile config?)`);
    }
    return v;
  };
  const num = (key: string, def: number, min: number, max: number): number => {
    const v = raw[key] ?? def;
    if (typeof v !== 'number' || !(v >= min && v <= max)) {
      throw new ConfigError(`${where}: field "${key}" must be a number in [${min}, ${max}], got ${preview(raw[key])}`);
    }
    return v;
  };
  const hidden_size = int('hidden_size');
  const num_attention_heads = int('num_attention_heads');
  if (hidden_size % num_attention_heads !== 0) {
    throw new ConfigError(`${where}: hidden_size ${hidden_size} is not a multiple of num_attention_heads ${num_attention_heads}`);
  }
  const act = raw.hidden_act ?? DEFAULTS.hidden_act;
  if (typeof act !== 'string') throw new ConfigError(`${where}: field "hidden_act" must be a string, got ${preview(act)}`);
  const hidden_act = act;
  geluKind(hidden_act, where);

  const id2label = parseId2label(raw.id2label, where);
  // num_labels is bounded before the LABEL_i names are made: 1e9 of them is a heap abort.
  let num_labels = raw.num_labels !== undefined && raw.num_labels !== null ? int('num_labels') : Object.keys(id2label).length || 2;
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
  for (const [k, v] of Object.entries(raw)) {
    if (known.has(k)) continue;
    // Kept fields are written back by JSON.stringify, which recurses: a 100,000-deep array would crash saving.
    if (nestedDeeper(v, MAX_EXTRA_DEPTH)) throw new ConfigError(`${where}: field "${k.slice(0, 100)}" nests more than ${MAX_EXTRA_DEPTH} levels deep`);
    extra[k] = v;
  }
  const pt = raw.problem_type;
  if (pt !== undefined && pt !== null && !(typeof pt === 'string' && (PROBLEM_TYPES as readonly string[]).includes(pt))) {
    throw new ConfigError(`${where}: field "problem_type" must be one of ${PROBLEM_TYPES.join(', ')}, got ${preview(pt)}`);
  }

  const config: BertConfig = {
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
  checkModelMemory(config, where);
  return config;
}

/** id2label with keys "0".."N-1" (any spelling of those integers), values as strings; {} when absent. */
function parseId2label(raw: unknown, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw || typeof raw !== 'object') return out;
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > CONFIG_LIMITS.num_labels) {
    throw new ConfigError(`${where}: field "id2label" has ${entries.length} labels, more than the ${CONFIG_LIMITS.num_labels} allowed`);
  }
  for (const [k, v] of entries) {
    const i = Number(k);
    // Class ids index the classifier's rows: a gap or a stray key would send a label past the head's last row.
    if (!Number.isInteger(i) || i < 0 || i >= entries.length || Object.hasOwn(out, String(i))) {
      throw new ConfigError(`${where}: field "id2label": key ${preview(k)} is not one of the class ids 0..${entries.length - 1} ` +
        '(each exactly once)');
    }
    out[String(i)] = typeof v === 'string' ? v : preview(v);
  }
  return out;
}

/**
 * Number of parameters of BertForSequenceClassification for `config` (the sum of expectedTensors' sizes, in closed
 * form so that nothing is allocated to count it).
 */
export function parameterCount(config: Pick<BertConfig, 'vocab_size' | 'hidden_size' | 'num_hidden_layers' |
  'intermediate_size' | 'max_position_embeddings' | 'type_vocab_size' | 'num_labels'>): number {
  return parameterTerms(config).reduce((a, t) => a + t.count, 0);
}

function parameterTerms(c: Parameters<typeof parameterCount>[0]): Array<{ field: string; count: number }> {
  const H = c.hidden_size;
  const I = c.intermediate_size;
  const layer = 4 * (H * H + H) + (I * H + I) + (H * I + H) + 4 * H;
  return [
    { field: 'vocab_size', count: c.vocab_size * H },
    { field: 'max_position_embeddings', count: c.max_position_embeddings * H },
    { field: 'type_vocab_size', count: c.type_vocab_size * H + 2 * H },
    { field: 'num_hidden_layers', count: c.num_hidden_layers * layer },
    { field: 'hidden_size', count: H * H + H }, // the pooler
    { field: 'num_labels', count: c.num_labels * H + c.num_labels },
  ];
}

/** Bytes a model of this config holds in float32: parameters plus their gradients (BertClassifier allocates both). */
export function modelBytes(config: Parameters<typeof parameterCount>[0]): number {
  return 8 * parameterCount(config);
}

/**
 * Refuses a config whose model cannot fit in the memory budget, before anything is allocated. Loading a checkpoint
 * needs ~1.5x this (the decoded tensors exist next to the model for a moment), training more: callers that know
 * the batch shape check that themselves.
 */
export function checkModelMemory(config: BertConfig, where: string): void {
  const need = modelBytes(config);
  const budget = memoryBudget();
  if (budget === null || need <= budget.bytes) return;
  const terms = parameterTerms(config).sort((a, b) => b.count - a.count);
  const top = terms[0];
  const value = (config as unknown as Record<string, number>)[top.field];
  throw new ConfigError(`${where}: this model has ${parameterCount(config)} parameters and needs about ` +
    `${formatBytes(need)} for them and their gradients, but only ${formatBytes(budget.bytes)} is free (${budget.source}); ` +
    `most of it comes from field "${top.field}" (${value})`);
}

/** Nesting allowed in the fields bertfit keeps without reading (transformers' configs nest 2-3 levels). */
const MAX_EXTRA_DEPTH = 32;

/** True if `v` has objects or arrays nested more than `max` levels deep; iterative, linear in the value's size. */
function nestedDeeper(v: unknown, max: number): boolean {
  const todo: Array<[unknown, number]> = [[v, 0]];
  while (todo.length) {
    const [x, d] = todo.pop()!;
    if (!x || typeof x !== 'object') continue;
    if (d >= max) return true;
    for (const c of Object.values(x)) if (c && typeof c === 'object') todo.push([c, d + 1]);
  }
  return false;
}

/** A JSON value from the file, short enough for a message whatever its size (JSON.stringify would recurse). */
function preview(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 100 ? `${v.slice(0, 100)}...` : v);
  if (v === null || typeof v !== 'object') return String(v);
  return Array.isArray(v) ? `a list of ${v.length}` : 'an object';
}

/**
 * Parses the text of a config.json; `file` names it in errors.
 * Throws ConfigError naming the file (and field) for invalid JSON, out-of-range fields or a model too big to hold.
 */
export function parseConfigJson(text: string, file: string): BertConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${file}: cannot read config: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${file}: not a JSON object`);
  return parseConfig(raw as Record<string, unknown>, file);
}

/** Largest config.json read: real ones are ~1 KB, ~3 MB with 100,000 id2label entries. */
export const MAX_CONFIG_BYTES = 16 << 20;

export function readConfig(file: string): BertConfig {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_CONFIG_BYTES) throw new Error(`${size} bytes is more than the ${MAX_CONFIG_BYTES} a config.json can need`);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: cannot read config: ${(e as Error).message}`);
  }
  return parseConfigJson(text, file);
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
