// The request bodies `bertfit serve` takes, checked field by field (errors name the field: inputs[3]), and the
// error answers, as Text Embeddings Inference writes them: {"error": "...", "error_type": "..."}.
import type { ScoreFunction } from '../api/classifier.js';

/** TEI's error types (validation, tokenizer, backend, overloaded, empty, unhealthy). */
export type ErrorType = 'validation' | 'tokenizer' | 'backend' | 'overloaded' | 'empty' | 'unhealthy';

/** An error answer: HTTP status, TEI error_type and message. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(readonly status: number, readonly errorType: ErrorType, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

const shape = (message: string): HttpError => new HttpError(422, 'validation', message);

/** One input: the first text and the optional second one of a pair. */
export type TextPair = [string, string | undefined];

/** A checked prediction request. */
export interface PredictRequest {
  texts: TextPair[];
  /** one input (answer a list of labels) rather than a list of inputs (answer a list of lists) */
  single: boolean;
  /** cut inputs longer than the model's limit instead of answering 422 */
  truncate: boolean;
  fn: ScoreFunction;
  topK: number | undefined;
}

function describe(x: unknown): string {
  const s = JSON.stringify(x) ?? String(x);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

function asObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw shape(`the request body must be a JSON object with an "inputs" field, got ${describe(body)}`);
  }
  return body as Record<string, unknown>;
}

function optionalBoolean(o: Record<string, unknown>, key: string, where = key): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw shape(`${where} must be true or false, got ${describe(v)}`);
  return v;
}

const isPair = (x: unknown): x is [string, string] => Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'string';

/** {text, text_pair?} as transformers' pipelines take it. */
function textObject(x: unknown, where: string): TextPair | null {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return null;
  const o = x as Record<string, unknown>;
  if (typeof o.text !== 'string') throw shape(`${where}.text must be a string, got ${describe(o.text)}`);
  if (o.text_pair !== undefined && o.text_pair !== null && typeof o.text_pair !== 'string') {
    throw shape(`${where}.text_pair must be a string, got ${describe(o.text_pair)}`);
  }
  return [o.text, (o.text_pair ?? undefined) as string | undefined];
}

function item(x: unknown, where: string): TextPair {
  if (typeof x === 'string') return [x, undefined];
  if (isPair(x)) return [x[0], x[1]];
  const t = textObject(x, where);
  if (t) return t;
  throw shape(`${where} must be a string, a [text, text_pair] pair of strings or {"text", "text_pair"}, got ${describe(x)}`);
}

function checkCount(n: number, maxClientBatchSize: number): void {
  if (n === 0) throw new HttpError(400, 'empty', '`inputs` cannot be empty');
  if (n > maxClientBatchSize) {
    throw new HttpError(413, 'validation', `batch size ${n} > maximum allowed batch size ${maxClientBatchSize} (--max-client-batch-size)`);
  }
}

/**
 * POST /predict, Text Embeddings Inference's shape:
 * {"inputs": string | [a, b] | list of strings and pairs, "raw_scores": bool, "truncate": bool}.
 * As in TEI, a string or a list of exactly two strings is ONE input; any other list is a batch.
 */
export function parseTeiPredict(body: unknown, maxClientBatchSize: number, defaultFn: ScoreFunction): PredictRequest {
  const o = asObject(body);
  const inputs = o.inputs;
  if (inputs === undefined) throw shape('missing field `inputs`');
  const rawScores = optionalBoolean(o, 'raw_scores') ?? false;
  const truncate = optionalBoolean(o, 'truncate') ?? false;
  const direction = o.truncation_direction;
  if (direction !== undefined && direction !== null && !(typeof direction === 'string' && /^right$/i.test(direction))) {
    throw shape(`truncation_direction ${describe(direction)} is not supported (only "right": the longer text loses its last tokens)`);
  }
  let texts: TextPair[], single: boolean;
  if (typeof inputs === 'string' || isPair(inputs)) {
    texts = [item(inputs, 'inputs')];
    single = true;
  } else if (Array.isArray(inputs)) {
    checkCount(inputs.length, maxClientBatchSize);
    texts = inputs.map((x: unknown, i) => item(x, `inputs[${i}]`));
    single = false;
  } else {
    const t = textObject(inputs, 'inputs');
    if (!t) throw shape(`inputs must be a string, a [text, text_pair] pair, or a list of those, got ${describe(inputs)}`);
    texts = [t];
    single = true;
  }
  return { texts, single, truncate, fn: rawScores ? 'none' : defaultFn, topK: undefined };
}

/**
 * POST /, the Hugging Face Inference API's text-classification shape:
 * {"inputs": string | list of strings | {"text", "text_pair"} | list of those or of [a, b] pairs,
 *  "parameters": {"top_k": int, "function_to_apply": "softmax" | "sigmoid" | "none", "truncation": bool}}.
 * Here a list of strings is a list of texts (HF's rule, not TEI's pair rule); pairs are {"text", "text_pair"} or
 * [a, b] inside a list. The answer is always one list of {label, score} per input, even for a single string, as the
 * HF API answers ([[{label, score}, ...]]).
 */
export function parseHfPredict(body: unknown, maxClientBatchSize: number, defaultFn: ScoreFunction): PredictRequest {
  const o = asObject(body);
  const inputs = o.inputs;
  if (inputs === undefined) throw shape('missing field `inputs`');
  let texts: TextPair[];
  if (Array.isArray(inputs)) {
    checkCount(inputs.length, maxClientBatchSize);
    texts = inputs.map((x: unknown, i) => item(x, `inputs[${i}]`));
  } else if (typeof inputs === 'string') {
    texts = [[inputs, undefined]];
  } else {
    const t = textObject(inputs, 'inputs');
    if (!t) throw shape(`inputs must be a string, {"text", "text_pair"}, or a list of those, got ${describe(inputs)}`);
    texts = [t];
  }
  let fn = defaultFn, topK: number | undefined, truncate = false;
  const p = o.parameters;
  if (p !== undefined && p !== null) {
    if (typeof p !== 'object' || Array.isArray(p)) throw shape(`parameters must be an object, got ${describe(p)}`);
    const params = p as Record<string, unknown>;
    if (params.top_k !== undefined && params.top_k !== null) {
      const k = params.top_k;
      if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) throw shape(`parameters.top_k must be a positive integer, got ${describe(k)}`);
      topK = k;
    }
    const f = params.function_to_apply;
    if (f !== undefined && f !== null) {
      if (f !== 'softmax' && f !== 'sigmoid' && f !== 'none') {
        throw shape(`parameters.function_to_apply must be "softmax", "sigmoid" or "none", got ${describe(f)}`);
      }
      fn = f;
    }
    truncate = optionalBoolean(params, 'truncation', 'parameters.truncation') ?? false;
  }
  return { texts, single: false, truncate, fn, topK };
}
