// A fine-tuned classifier ready to answer: load it from any --model spec, give it texts or text pairs, get labels
// with scores (the shape of transformers.js's text-classification pipeline and of Text Embeddings Inference).
import { collate } from '../data/collate.js';
import type { EncodedExample } from '../data/types.js';
import type { BertClassifier } from '../model/bert.js';
import { type BertConfig, labelList } from '../model/config.js';
import { openModel } from '../model/open.js';
import type { Encoding } from '../tokenizer/pair.js';
import type { BertTokenizer } from '../tokenizer/tokenizer.js';
import { OptionError, UsageError } from '../errors.js';
import { checkVocab, takesPairs } from '../train/fit-check.js';
import { checkMemory } from '../train/memory.js';
import { checkLogitRows } from '../train/nonfinite.js';
import { readableDir } from '../util/atomic.js';
import { DTYPES, type Dtype, applyThreads, checkChoice, checkNumber, isPositiveInt } from './options.js';

/** One text, a [text, text_pair] pair, or transformers.js's {text, text_pair}. */
export type TextInput = string | readonly [string, string] | { readonly text: string; readonly text_pair?: string };

export interface LabelScore {
  label: string;
  score: number;
}

export type ScoreFunction = 'softmax' | 'sigmoid' | 'none';

export interface LoadOptions {
  /** compute type (default fp32) */
  dtype?: Dtype;
  /** compute threads of the process (default BERTFIT_THREADS or all cores) */
  threads?: number;
  /** longest input in tokens incl. [CLS]/[SEP] (default and maximum: the model's max_position_embeddings) */
  maxLen?: number;
  /** sequences per forward pass (default 32) */
  batchSize?: number;
  /** allow a model whose classifier head is freshly initialised (random:* shapes and base checkpoints): for tests */
  allowUntrainedHead?: boolean;
}

export interface PredictOptions {
  /** keep only the k best labels (default: all, sorted by score) */
  topK?: number;
  /** softmax (default for single-label models), sigmoid (multi-label), or none (raw logits) */
  functionToApply?: ScoreFunction;
  /** cut inputs longer than maxLen (default true); false throws InputError instead */
  truncate?: boolean;
}

/** An input the classifier cannot take: `index` is its position in the request (-1 for the whole input). */
export class InputError extends UsageError {
  override name = 'InputError';
  constructor(readonly index: number, message: string) {
    super(message);
  }
}

/**
 * A classifier loaded for inference. Compute runs on the calling thread (the methods return promises so that
 * callers need not change when it moves off it); `bertfit serve` runs one in a worker thread.
 */
export class Classifier {
  /** class names, index = class id */
  readonly labels: readonly string[];
  readonly config: BertConfig;
  readonly maxLen: number;
  readonly batchSize: number;
  readonly dtype: Dtype;
  /** the checkpoint directory (or random:<shape>) it was loaded from */
  readonly source: string;
  readonly tokenizer: BertTokenizer;
  /** the vocab.txt text and casing, so another thread can build the same tokenizer */
  readonly vocabText: string;
  readonly doLowerCase: boolean;
  /** what loading had to say (e.g. a classifier head initialised because the checkpoint had none) */
  readonly notices: readonly string[];
  private model: BertClassifier | null;

  private constructor(model: BertClassifier, tokenizer: BertTokenizer, o: {
    source: string; maxLen: number; batchSize: number; dtype: Dtype; vocabText: string; doLowerCase: boolean; notices: string[];
  }) {
    this.model = model;
    this.tokenizer = tokenizer;
    this.config = model.config;
    this.labels = labelList(model.config.id2label);
    this.source = o.source;
    this.maxLen = o.maxLen;
    this.batchSize = o.batchSize;
    this.dtype = o.dtype;
    this.vocabText = o.vocabText;
    this.doLowerCase = o.doLowerCase;
    this.notices = o.notices;
  }

  /** See loadClassifier. */
  static async load(spec: string, options: LoadOptions = {}): Promise<Classifier> {
    const dtype = checkChoice('dtype', options.dtype, DTYPES) ?? 'fp32';
    const batchSize = checkNumber('batchSize', options.batchSize, isPositiveInt, 'a positive integer') ?? 32;
    const maxLenOpt = checkNumber('maxLen', options.maxLen, (x) => Number.isInteger(x) && x >= 3, 'an integer >= 3');
    applyThreads(options.threads);
    // a reader renames nothing: a checkpoint whose save was interrupted is read from beside it (its writer, or the
    // next run that holds the directory's lock, puts it back)
    const readable = readableDir(spec);
    const opened = await openModel(readable.path, { seed: 0 });
    if (readable.notice) opened.notices.unshift(readable.notice);
    const { model } = opened;
    checkVocab(model.config, opened.tokenizer, opened.source);
    checkServable(model, opened.source, { allowUntrainedHead: options.allowUntrainedHead, maxLen: maxLenOpt, verb: 'load' });
    if (dtype === 'bf16') model.setComputeType('bf16');
    // a Classifier's weights never change: bf16 passes need not re-round them (the model is private to it)
    model.freezeWeights();
    return new Classifier(model, opened.tokenizer, {
      source: opened.source, maxLen: maxLenOpt ?? model.config.max_position_embeddings, batchSize, dtype, vocabText: opened.vocabText,
      doLowerCase: opened.doLowerCase, notices: opened.notices,
    });
  }

  /** How predict() turns logits into scores when not told: HF's pipeline rule. */
  get defaultFunction(): ScoreFunction {
    const problem = this.config.extra.problem_type;
    if (problem === 'regression') return 'none';
    if (problem === 'multi_label_classification' || this.config.num_labels === 1) return 'sigmoid';
    return 'softmax';
  }

  /**
   * Labels with scores, all labels sorted by score (or the topK best).
   *
   * Args:
   *   input: a text, a [text, text_pair] pair, or a list of those. A list of exactly two strings is ONE pair (as in
   *     Text Embeddings Inference); for two single texts write [{ text: 'a' }, { text: 'b' }].
   * Returns: LabelScore[] for one input, LabelScore[][] (one per input, in order) for a list.
   */
  predict(input: TextInput, options?: PredictOptions): Promise<LabelScore[]>;
  predict(input: readonly TextInput[], options?: PredictOptions): Promise<LabelScore[][]>;
  async predict(input: TextInput | readonly TextInput[], options: PredictOptions = {}): Promise<LabelScore[] | LabelScore[][]> {
    const topK = checkNumber('topK', options.topK, isPositiveInt, 'a positive integer');
    const fn = checkChoice('functionToApply', options.functionToApply, ['softmax', 'sigmoid', 'none'] as const) ?? this.defaultFunction;
    const { items, single } = normalizeInputs(input);
    const logits = this.checkedLogits(items, options.truncate ?? true);
    const out = items.map((_, i) => this.labelScores(logits.subarray(i * this.labels.length, (i + 1) * this.labels.length), fn, topK));
    return single ? out[0]! : out;
  }

  /** Raw logits [C] for one input or [N][C] for a list (same input rules as predict). */
  logits(input: TextInput, options?: { truncate?: boolean }): Promise<number[]>;
  logits(input: readonly TextInput[], options?: { truncate?: boolean }): Promise<number[][]>;
  async logits(input: TextInput | readonly TextInput[], options: { truncate?: boolean } = {}): Promise<number[] | number[][]> {
    const { items, single } = normalizeInputs(input);
    const rows = this.rows(this.checkedLogits(items, options.truncate ?? true), items.length);
    return single ? rows[0]! : rows;
  }

  /** Class probabilities (softmax, or sigmoid for multi-label models) [C] or [N][C]. */
  probabilities(input: TextInput, options?: { truncate?: boolean }): Promise<number[]>;
  probabilities(input: readonly TextInput[], options?: { truncate?: boolean }): Promise<number[][]>;
  async probabilities(input: TextInput | readonly TextInput[], options: { truncate?: boolean } = {}): Promise<number[] | number[][]> {
    const { items, single } = normalizeInputs(input);
    const fn = this.defaultFunction === 'sigmoid' ? 'sigmoid' : 'softmax';
    const rows = this.rows(this.checkedLogits(items, options.truncate ?? true), items.length).map((r) => applyFunction(r, fn));
    return single ? rows[0]! : rows;
  }

  /**
   * Tokenizes inputs as the model takes them: [CLS] a [SEP] (b [SEP]).
   *
   * Args:
   *   items: texts or pairs (no list-of-two-strings rule here: each item is one input).
   *   truncate: cut to maxLen (longer side first); false throws InputError for an input longer than maxLen.
   * Returns: one Encoding per item.
   */
  encode(items: readonly TextInput[], truncate = true): Encoding[] {
    const pairs = takesPairs(this.config);
    return items.map((item, i) => {
      const [a, b] = textsOf(item, i);
      if (b !== undefined && !pairs) {
        throw new InputError(i, `input ${i} is a sentence pair, but the model has type_vocab_size ${this.config.type_vocab_size} ` +
          '(no embedding for a second segment); give single texts');
      }
      const full = this.tokenizer.encodePair(a, b);
      if (full.inputIds.length <= this.maxLen) return full;
      if (!truncate) {
        throw new InputError(i, `input ${i} has ${full.inputIds.length} tokens, more than the model's limit of ${this.maxLen}; ` +
          'shorten it or allow truncation');
      }
      return this.tokenizer.encodePair(a, b, this.maxLen);
    });
  }

  /**
   * Eval-mode forward over encodings, batched by similar length (less padding), answered in input order.
   *
   * Args:
   *   encodings: each at most maxLen ids.
   * Returns: logits [N, C], row i for encodings[i], unchecked (NaN stays NaN: callers that answer check the rows,
   *   see checkLogitRows, so one bad row fails only its own input).
   */
  run(encodings: readonly Encoding[]): Float32Array {
    const model = this.live();
    const C = this.labels.length;
    const N = encodings.length;
    const logits = new Float32Array(N * C);
    if (N === 0) return logits;
    const examples: EncodedExample[] = encodings.map((e, index) => ({ ...e, label: -1, index }));
    const order = examples.map((_, i) => i).sort((x, y) => examples[x]!.inputIds.length - examples[y]!.inputIds.length);
    const padId = this.tokenizer.vocab.padId;
    for (let start = 0; start < N; start += this.batchSize) {
      const batch = collate(examples, order.slice(start, start + this.batchSize), { padding: 'dynamic', maxLen: this.maxLen, padId });
      const out = model.forward(batch, { train: false, grad: false });
      for (let r = 0; r < batch.size; r++) logits.set(out.subarray(r * C, (r + 1) * C), batch.indices[r]! * C);
    }
    return logits;
  }

  /** Frees the weights and buffers; the classifier cannot be used afterwards. */
  dispose(): void {
    this.model = null;
  }

  /** logits of items, refusing non-finite ones (NonFiniteError naming the input): an answer is never NaN / null. */
  private checkedLogits(items: readonly TextInput[], truncate: boolean): Float32Array {
    const logits = this.run(this.encode(items, truncate));
    checkLogitRows(logits, items.length, this.labels.length, (i) => `input ${i}`);
    return logits;
  }

  /**
   * Refuses (MemoryLimitError) when a forward pass of batchSize sequences of seqLen tokens does not fit in the free
   * memory, before it is allocated.
   */
  checkMemory(seqLen: number): void {
    checkMemory(`running ${this.source}`, this.config, { batchSize: this.batchSize, seqLen, training: false, bf16: this.dtype === 'bf16' });
  }

  private rows(logits: Float32Array, n: number): number[][] {
    const C = this.labels.length;
    return Array.from({ length: n }, (_, i) => Array.from(logits.subarray(i * C, (i + 1) * C)));
  }

  /** All labels with their scores, best first (ties keep class order), cut to topK. */
  labelScores(logits: ArrayLike<number>, fn: ScoreFunction, topK?: number): LabelScore[] {
    return rankLabels(this.labels, logits, fn, topK);
  }

  private live(): BertClassifier {
    if (this.model === null) throw new Error('this Classifier was disposed');
    return this.model;
  }
}

/**
 * Loads a fine-tuned classifier.
 *
 * Args:
 *   spec: a checkpoint directory, a pulled model name (`bertfit pull`), a Hugging Face id (cache or download), or
 *     random:<shape> (fresh weights, for tests).
 *   options: dtype, threads, maxLen, batchSize.
 * Throws: OptionError for bad options; Error for a checkpoint without a trained classifier head; the checkpoint
 *   loader's errors (naming the file) for a bad checkpoint.
 */
export function loadClassifier(spec: string, options: LoadOptions = {}): Promise<Classifier> {
  return Classifier.load(spec, options);
}

/**
 * Every label with its score (fn applied to one row of logits), best first; ties keep class order (sort is stable);
 * cut to topK when given.
 */
export function rankLabels(labels: readonly string[], logits: ArrayLike<number>, fn: ScoreFunction, topK?: number): LabelScore[] {
  const ranked = applyFunction(Array.from(logits), fn).map((score, c) => ({ label: labels[c]!, score })).sort((x, y) => y.score - x.score);
  return topK === undefined ? ranked : ranked.slice(0, topK);
}

/** softmax / sigmoid / identity of one row, in float64. */
export function applyFunction(row: readonly number[], fn: ScoreFunction): number[] {
  if (fn === 'none') return [...row];
  if (fn === 'sigmoid') return row.map((x) => 1 / (1 + Math.exp(-x)));
  const max = Math.max(...row);
  const e = row.map((x) => Math.exp(x - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/**
 * The inputs of a call as a list, and whether it was one input. The rule of Text Embeddings Inference: a string or
 * a list of exactly two strings is one input; any other list is a batch of strings and pairs.
 */
export function normalizeInputs(input: unknown): { items: TextInput[]; single: boolean } {
  if (typeof input === 'string' || isPair(input) || isTextObject(input)) return { items: [input as TextInput], single: true };
  if (!Array.isArray(input)) throw new InputError(-1, `inputs must be a string, a [text, text_pair] pair, or a list of those, got ${describe(input)}`);
  input.forEach((item: unknown, i) => { textsOf(item, i); });
  return { items: input as TextInput[], single: false };
}

function isPair(x: unknown): x is readonly [string, string] {
  return Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'string';
}

function isTextObject(x: unknown): x is { text: string; text_pair?: string } {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const o = x as Record<string, unknown>;
  return typeof o.text === 'string' && (o.text_pair === undefined || typeof o.text_pair === 'string');
}

/** [a, b] of one input; throws InputError naming its position for anything else. */
function textsOf(item: unknown, i: number): [string, string | undefined] {
  if (typeof item === 'string') return [item, undefined];
  if (isPair(item)) return [item[0], item[1]];
  if (isTextObject(item)) return [item.text, item.text_pair];
  throw new InputError(i, `inputs[${i}] must be a string or a [text, text_pair] pair of strings, got ${describe(item)}`);
}

function describe(x: unknown): string {
  const s = JSON.stringify(x) ?? String(x);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/**
 * Refuses a model that cannot give meaningful answers: a classifier head initialised just now (every answer would be
 * noise) unless allowUntrainedHead (tests, benchmarks), or a maxLen past the model's positions.
 *
 * Args: verb: what the user should do with the fine-tuned checkpoint instead ('load', 'export').
 */
export function checkServable(
  model: BertClassifier, source: string, o: { allowUntrainedHead?: boolean; maxLen?: number; verb: string },
): void {
  if (model.newTensors.includes('classifier.weight') && !o.allowUntrainedHead) {
    throw new Error(`${source} has no classifier head (it is a pre-trained, not a fine-tuned, model): ` +
      `fine-tune it first (bertfit finetune) and ${o.verb} the saved checkpoint`);
  }
  const P = model.config.max_position_embeddings;
  if (o.maxLen !== undefined && o.maxLen > P) {
    throw new OptionError('maxLen', `must be at most the model's max_position_embeddings ${P}, got ${o.maxLen}`);
  }
}
