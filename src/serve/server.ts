// `bertfit serve`: an HTTP inference server for a fine-tuned classifier, with dynamic batching.
//
// Built on Node's own `http` module, no framework: there are five routes, and what matters here is control over the
// details a framework hides - stopping a body at the payload limit while it streams in, when to refuse (429) before
// reading anything, keep-alive during a graceful shutdown - plus no dependency to keep up to date.
//
// Threads: the main thread does HTTP, JSON, validation and tokenization (with its own BertTokenizer built from the
// model's vocab.txt, so it knows every input's token count) and queues the encoded inputs; a Batcher forms batches
// under a padded-token budget; one worker thread (./worker.ts) holds the model and computes one batch at a time. The
// compute never runs on the event loop, so /health and /metrics answer at once under any load.
//
// Routes:
//   POST /predict  Text Embeddings Inference's /predict: {"inputs", "raw_scores", "truncate"} -> [{label, score}]
//                  for one input, a list of those for a list of inputs (all labels, best first)
//   POST /         Hugging Face Inference API text-classification: {"inputs", "parameters": {"top_k",
//                  "function_to_apply", "truncation"}} -> [[{label, score}, ...], ...] (one list per input, always)
//   GET /health    200 {"status": "ok"} when the model is loaded and the worker alive, else 503
//   GET /info      the model and the server's limits;  GET /metrics  Prometheus text
// Errors are {"error": "...", "error_type": "..."} with TEI's error types: 400 malformed JSON (validation) or empty
// inputs (empty); 413 body over the payload limit or more inputs than max-client-batch-size (validation); 422 wrong
// shapes or inputs longer than the model allows without truncate (validation); 429 too many requests in flight
// (overloaded); 500 inference failure (backend); 503 shutting down / worker restarting (unhealthy); 404 unknown
// route, 405 wrong method (validation).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { rankLabels, type LabelScore, type ScoreFunction } from '../api/classifier.js';
import { type Dtype, DTYPES, checkChoice, checkNumber, isNonNegativeInt, isPositiveInt } from '../api/options.js';
import { OptionError } from '../errors.js';
import type { Encoding } from '../tokenizer/pair.js';
import { BertTokenizer } from '../tokenizer/tokenizer.js';
import { parseVocab } from '../tokenizer/vocab.js';
import { packageRoot } from '../util/paths.js';
import { Batcher } from './batcher.js';
import { BackendError, Engine } from './engine.js';
import { firstNonFiniteRow } from '../train/nonfinite.js';
import { ServeMetrics } from './metrics.js';
import { HttpError, type PredictRequest, type TextPair, parseHfPredict, parseTeiPredict } from './requests.js';

export interface ServeOptions {
  /** checkpoint directory or any --model spec (random:<shape> for tests) */
  model: string;
  /** interface to listen on (default 127.0.0.1) */
  host?: string;
  /** TCP port (default 8080; 0 picks a free one: see the handle's port) */
  port?: number;
  /** compute type (default fp32) */
  dtype?: Dtype;
  /** compute threads of the worker (default BERTFIT_THREADS or all cores) */
  threads?: number;
  /** longest input in tokens incl. [CLS]/[SEP] (default: the model's max_position_embeddings) */
  maxLen?: number;
  /** budget of one batch in padded tokens, rows x longest row (default 16384; at least maxLen) */
  maxBatchTokens?: number;
  /** longest time an input waits for more inputs to batch with while more are arriving (default 2 ms) */
  maxWaitMs?: number;
  /** largest request body in bytes (default 2,000,000 as in TEI) */
  payloadLimit?: number;
  /** most inputs in one request (default 32 as in TEI) */
  maxClientBatchSize?: number;
  /** most prediction requests in flight; more are answered 429 (default 512 as in TEI) */
  maxConcurrentRequests?: number;
  /** serve a model whose classifier head is untrained (random:* shapes, for tests) */
  allowUntrainedHead?: boolean;
  /** where to say what happens (worker restarts); default: nothing */
  log?: (line: string) => void;
}

/** What GET /info answers. */
export interface ServerInfo {
  model_id: string;
  model_type: string;
  model_dtype: Dtype;
  labels: string[];
  num_labels: number;
  problem_type: string | null;
  default_function: ScoreFunction;
  max_input_length: number;
  max_batch_tokens: number;
  max_wait_ms: number;
  payload_limit: number;
  max_client_batch_size: number;
  max_concurrent_requests: number;
  version: string;
}

export interface ServerHandle {
  /** http://host:port */
  url: string;
  host: string;
  /** the port listened on (the real one when 0 was asked for) */
  port: number;
  info: ServerInfo;
  metrics: ServeMetrics;
  /** what loading the model had to say */
  notices: readonly string[];
  /** Stops accepting connections, answers everything in flight, stops the worker. */
  close(): Promise<void>;
}

/** Internal, for tests only: not part of the package's API. */
export const TEST_HOOKS: unique symbol = Symbol('bertfit.serve.testHooks');
export interface TestHooks {
  /** hold batches back (requests stay in flight) until resume() */
  pause(): void;
  resume(): void;
  /** the worker's next batch throws, or the worker dies */
  failNextBatch(kind: 'throw' | 'exit'): void;
}
/** Internal settings (tests): the worker sleeps this long before each batch. */
export interface InternalServeOptions {
  batchDelayMs?: number;
}

const DEFAULTS = { host: '127.0.0.1', port: 8080, maxBatchTokens: 16384, maxWaitMs: 2, payloadLimit: 2_000_000, maxClientBatchSize: 32, maxConcurrentRequests: 512 };

const VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

type RouteName = '/predict' | '/' | '/health' | '/info' | '/metrics';
const ROUTES: Record<RouteName, readonly string[]> = {
  '/predict': ['POST'], '/': ['POST'], '/health': ['GET', 'HEAD'], '/info': ['GET', 'HEAD'], '/metrics': ['GET', 'HEAD'],
};

/**
 * Loads the model in a worker thread and starts the HTTP server.
 *
 * Args:
 *   options: see ServeOptions.
 * Returns: once listening, the handle (url, real port, info, metrics, close()).
 * Throws: OptionError for a bad setting (also those the model decides, e.g. maxLen or maxBatchTokens), UsageError
 *   for a checkpoint without a trained head, the loader's errors for a bad checkpoint, listen errors (EADDRINUSE).
 */
export async function startServer(options: ServeOptions, internal: InternalServeOptions = {}): Promise<ServerHandle> {
  const host = options.host ?? DEFAULTS.host;
  if (typeof host !== 'string' || host === '') throw new OptionError('host', `must be a host name or address, got ${JSON.stringify(host)}`);
  const port = checkNumber('port', options.port, (x) => isNonNegativeInt(x) && x <= 65535, 'an integer in [0, 65535]') ?? DEFAULTS.port;
  checkChoice('dtype', options.dtype, DTYPES);
  checkNumber('threads', options.threads, isPositiveInt, 'a positive integer');
  checkNumber('maxLen', options.maxLen, (x) => Number.isInteger(x) && x >= 3, 'an integer >= 3');
  const maxBatchTokens = checkNumber('maxBatchTokens', options.maxBatchTokens, isPositiveInt, 'a positive integer') ?? DEFAULTS.maxBatchTokens;
  const maxWaitMs = checkNumber('maxWaitMs', options.maxWaitMs, (x) => x >= 0, 'a number >= 0') ?? DEFAULTS.maxWaitMs;
  const payloadLimit = checkNumber('payloadLimit', options.payloadLimit, isPositiveInt, 'a positive integer (bytes)') ?? DEFAULTS.payloadLimit;
  const maxClientBatchSize = checkNumber('maxClientBatchSize', options.maxClientBatchSize, isPositiveInt, 'a positive integer') ?? DEFAULTS.maxClientBatchSize;
  const maxConcurrent = checkNumber('maxConcurrentRequests', options.maxConcurrentRequests, isPositiveInt, 'a positive integer') ?? DEFAULTS.maxConcurrentRequests;
  const log = options.log ?? (() => {});

  const engine = new Engine({
    model: options.model, dtype: options.dtype, threads: options.threads, maxLen: options.maxLen,
    allowUntrainedHead: options.allowUntrainedHead, batchDelayMs: internal.batchDelayMs,
  });
  engine.log = log;
  const model = await engine.start();
  if (maxBatchTokens < model.maxLen) {
    await engine.close();
    throw new OptionError('maxBatchTokens', `must be at least the longest input the model takes (${model.maxLen} tokens), got ${maxBatchTokens}`);
  }
  const tokenizer = new BertTokenizer(parseVocab(model.vocabText, `${model.source}/vocab.txt`), { lowerCase: model.doLowerCase });

  let inFlight = 0;
  let closing = false;
  let drained: (() => void) | null = null;
  const metrics: ServeMetrics = new ServeMetrics({
    queueDepth: () => batcher.depth, inFlight: () => inFlight, workerRestarts: () => engine.restarts, ready: () => engine.ready,
  });
  const batcher = new Batcher(engine, metrics, { maxBatchTokens, maxWaitMs, numLabels: model.numLabels });

  const info: ServerInfo = {
    model_id: model.source, model_type: model.modelType, model_dtype: model.dtype, labels: model.labels, num_labels: model.numLabels,
    problem_type: model.problemType, default_function: model.defaultFunction, max_input_length: model.maxLen,
    max_batch_tokens: maxBatchTokens, max_wait_ms: maxWaitMs, payload_limit: payloadLimit,
    max_client_batch_size: maxClientBatchSize, max_concurrent_requests: maxConcurrent, version: VERSION,
  };
  const infoJson = JSON.stringify(info);

  const send = (res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {},
    contentType = 'application/json'): void => {
    if (res.headersSent) return;
    const h: Record<string, string | number> = { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), ...headers };
    if (closing) h.Connection = 'close';
    res.writeHead(status, h);
    res.end(body);
  };
  const sendError = (res: http.ServerResponse, e: HttpError): void =>
    send(res, e.status, JSON.stringify({ error: e.message, error_type: e.errorType }), e.headers);

  /** Tokenizes on the main thread, yielding to the event loop now and then so huge bodies do not stall /health. */
  async function encode(texts: readonly TextPair[], single: boolean, truncate: boolean, hint: string): Promise<Encoding[]> {
    const out: Encoding[] = [];
    let chars = 0;
    for (let i = 0; i < texts.length; i++) {
      const [a, b] = texts[i]!;
      if (b !== undefined && model.typeVocabSize < 2) {
        throw new HttpError(422, 'validation', `${single ? 'inputs' : `inputs[${i}]`} is a sentence pair, but the model has ` +
          `type_vocab_size ${model.typeVocabSize} (no embedding for a second segment); send single texts`);
      }
      const full = tokenizer.encodePair(a, b);
      if (full.inputIds.length <= model.maxLen) {
        out.push(full);
      } else if (truncate) {
        out.push(tokenizer.encodePair(a, b, model.maxLen));
      } else {
        throw new HttpError(422, 'validation', `${single ? 'inputs' : `inputs[${i}]`} has ${full.inputIds.length} tokens, ` +
          `more than the model's limit of ${model.maxLen}; shorten it or set ${hint}`);
      }
      chars += a.length + (b?.length ?? 0);
      if (chars > 1 << 16) {
        chars = 0;
        await yieldToLoop();
      }
    }
    return out;
  }

  function scores(logits: Float32Array, r: number, fn: ScoreFunction, topK: number | undefined): LabelScore[] {
    const C = model.numLabels;
    return rankLabels(model.labels, logits.subarray(r * C, (r + 1) * C), fn, topK);
  }

  async function predict(req: http.IncomingMessage, res: http.ServerResponse, route: '/predict' | '/'): Promise<void> {
    let body: Buffer;
    try {
      body = await readBody(req, res, payloadLimit);
    } finally {
      batcher.received();
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (e) {
      throw new HttpError(400, 'validation', `the request body is not valid JSON: ${(e as Error).message}`);
    }
    const r: PredictRequest = route === '/predict'
      ? parseTeiPredict(json, maxClientBatchSize, model.defaultFunction)
      : parseHfPredict(json, maxClientBatchSize, model.defaultFunction);
    const encodings = await encode(r.texts, r.single, r.truncate, route === '/predict' ? '"truncate": true' : '"parameters": {"truncation": true}');
    let logits: Float32Array;
    try {
      logits = await batcher.submit(encodings);
    } catch (e) {
      if (e instanceof BackendError) throw new HttpError(500, 'backend', e.message);
      throw e;
    }
    // never answer NaN (JSON null) scores: a non-finite row fails the request, naming the input
    const bad = firstNonFiniteRow(logits, r.texts.length, model.numLabels);
    if (bad >= 0) {
      throw new HttpError(500, 'backend', `${r.single ? 'inputs' : `inputs[${bad}]`}: the model's scores are not finite (NaN/Inf logits); ` +
        "the checkpoint's weights are probably damaged");
    }
    const answers = r.texts.map((_, i) => scores(logits, i, r.fn, r.topK));
    send(res, 200, JSON.stringify(r.single ? answers[0] : answers));
  }

  const server = http.createServer((req, res) => {
    const started = performance.now();
    const pathname = (req.url ?? '/').split('?')[0]!;
    const route = Object.hasOwn(ROUTES, pathname) ? (pathname as RouteName) : null;
    const routeLabel = route ?? 'unknown';
    res.on('finish', () => {
      metrics.requests.inc({ route: routeLabel, status: String(res.statusCode) });
      metrics.latency.observe((performance.now() - started) / 1000, { route: routeLabel });
    });
    if (route === null) return sendError(res, new HttpError(404, 'validation', `no route ${pathname}; routes: ${Object.keys(ROUTES).join(', ')}`));
    const methods = ROUTES[route];
    if (!methods.includes(req.method ?? '')) {
      return sendError(res, new HttpError(405, 'validation', `${req.method} ${route} is not allowed; use ${methods.join(' or ')}`,
        { Allow: methods.join(', ') }));
    }
    switch (route) {
      case '/health':
        if (engine.ready && !closing) return send(res, 200, '{"status":"ok"}');
        return sendError(res, new HttpError(503, 'unhealthy', closing ? 'the server is shutting down' : 'the inference worker is restarting'));
      case '/info':
        return send(res, 200, infoJson);
      case '/metrics':
        return send(res, 200, metrics.render(), {}, 'text/plain; version=0.0.4; charset=utf-8');
      default:
        break;
    }
    if (closing) return sendError(res, new HttpError(503, 'unhealthy', 'the server is shutting down'));
    if (inFlight >= maxConcurrent) {
      return sendError(res, new HttpError(429, 'overloaded', `model is overloaded: ${inFlight} requests in flight (--max-concurrent-requests ${maxConcurrent})`));
    }
    inFlight++;
    batcher.receiving++;
    predict(req, res, route).catch((e: unknown) => {
      if (e instanceof ClientGone) return;
      sendError(res, e instanceof HttpError ? e : new HttpError(500, 'backend', e instanceof Error ? e.message : String(e)));
    }).finally(() => {
      inFlight--;
      if (inFlight === 0 && drained) drained();
    });
  });
  // Prediction bodies may arrive slowly; headers must not.
  server.headersTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => { void engine.close().finally(() => reject(e)); };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (e) => log(`server error: ${e.message}`));
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address;

  let closed: Promise<void> | null = null;
  const handle: ServerHandle & { [TEST_HOOKS]: TestHooks } = {
    url: `http://${urlHost}:${address.port}`, host: address.address, port: address.port, info, metrics, notices: model.notices,
    close(): Promise<void> {
      closed ??= (async () => {
        closing = true;
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        if (inFlight > 0) await new Promise<void>((resolve) => { drained = resolve; });
        server.closeIdleConnections();
        // Connections that sent nothing since (or are half-way through headers) do not hold the exit up for long.
        const force = setTimeout(() => server.closeAllConnections(), 2000);
        await serverClosed;
        clearTimeout(force);
        await engine.close();
      })();
      return closed;
    },
    [TEST_HOOKS]: {
      pause: () => batcher.pause(), resume: () => batcher.resume(), failNextBatch: (kind) => engine.failNext(kind),
    },
  };
  return handle;
}

/** The client went away mid-request: nothing to answer. */
class ClientGone extends Error {}

/**
 * Reads a request body up to `limit` bytes. A declared Content-Length over the limit is refused before reading any
 * of it; a body that grows past it (chunked) stops being buffered at once. Either way the answer is 413 with
 * Connection: close, and what the client still sends is discarded for at most a second (a lingering close, as Go's
 * net/http and nginx do, so that the client reads the 413 rather than a connection reset) before the socket closes.
 */
function readBody(req: http.IncomingMessage, res: http.ServerResponse, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = (size: string): void => {
      req.removeAllListeners('data');
      res.once('finish', () => {
        req.resume();
        setTimeout(() => req.socket.destroy(), 1000).unref();
      });
      reject(new HttpError(413, 'validation', `the request body (${size}) is larger than the payload limit of ${limit} bytes (--payload-limit)`,
        { Connection: 'close' }));
    };
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) return tooLarge(`${declared} bytes`);
    const chunks: Buffer[] = [];
    let size = 0, done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        req.pause();
        return tooLarge(`more than ${limit} bytes`);
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks, size));
    });
    req.on('close', () => {
      if (done) return;
      done = true;
      reject(new ClientGone());
    });
    req.on('error', () => {
      if (done) return;
      done = true;
      reject(new ClientGone());
    });
  });
}
