// The inference worker of `bertfit serve`: loads the Classifier (the native addon is a context-aware N-API module,
// so it loads in a worker thread too) and runs one packed batch at a time, answering logits. It is the only thread
// that computes, so the main thread's event loop stays free for HTTP whatever the load.
import { parentPort, workerData } from 'node:worker_threads';
import { Classifier } from '../api/classifier.js';
import { OptionError, UsageError } from '../errors.js';
import type { Encoding } from '../tokenizer/pair.js';
import { planGroups } from './groups.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';

/** The fixed cost of one forward pass in padded tokens' worth of compute (measured on MiniLM-L6, 2 cores). */
const FORWARD_OVERHEAD_TOKENS = 32;

const port = parentPort;
if (port === null) throw new Error('bertfit: src/serve/worker.js runs as a worker thread only');
const init = workerData as WorkerInit;
const post = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

let classifier: Classifier;
try {
  classifier = await Classifier.load(init.model, {
    dtype: init.dtype, threads: init.threads, maxLen: init.maxLen, allowUntrainedHead: init.allowUntrainedHead,
  });
  // a full batch of the longest inputs must fit: refuse at start, not with the OOM killer at the first big request
  classifier.checkMemory(classifier.maxLen);
} catch (e) {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof OptionError) post({ type: 'load-error', kind: 'option', message, option: e.option, problem: e.problem });
  else post({ type: 'load-error', kind: e instanceof UsageError ? 'usage' : 'other', message });
  process.exit(1);
}

const c = classifier;
const extra = c.config.extra;
post({
  type: 'ready',
  info: {
    source: c.source, labels: [...c.labels], numLabels: c.labels.length,
    problemType: typeof extra.problem_type === 'string' ? extra.problem_type : null,
    modelType: typeof extra.model_type === 'string' ? extra.model_type : 'bert',
    maxLen: c.maxLen, dtype: c.dtype, defaultFunction: c.defaultFunction, vocabText: c.vocabText,
    doLowerCase: c.doLowerCase, padId: c.tokenizer.vocab.padId, typeVocabSize: c.config.type_vocab_size, notices: [...c.notices],
  },
});

let failNext: 'throw' | 'exit' | null = null;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

port.on('message', (m: ToWorker) => {
  if (m.type === 'fail-next') {
    failNext = m.kind;
    return;
  }
  try {
    if (init.batchDelayMs) Atomics.wait(sleeper, 0, 0, init.batchDelayMs);
    if (failNext !== null) {
      const kind = failNext;
      failNext = null;
      if (kind === 'exit') process.exit(3);
      throw new Error('injected inference failure (test hook)');
    }
    const rows = m.offsets.length - 1;
    const encodings: Encoding[] = [];
    for (let r = 0; r < rows; r++) {
      const a = m.offsets[r]!, b = m.offsets[r + 1]!;
      encodings.push({ inputIds: m.inputIds.subarray(a, b), tokenTypeIds: m.tokenTypeIds.subarray(a, b) });
    }
    const t0 = performance.now();
    // Forward passes over groups of similar length (see ./groups.ts), not the whole batch padded to its longest row.
    const C = c.labels.length;
    const logits = new Float32Array(rows * C);
    for (const group of planGroups(encodings.map((e) => e.inputIds.length), c.batchSize, FORWARD_OVERHEAD_TOKENS)) {
      const out = c.run(group.map((r) => encodings[r]!));
      group.forEach((r, k) => logits.set(out.subarray(k * C, (k + 1) * C), r * C));
    }
    post({ type: 'result', id: m.id, logits, computeMs: performance.now() - t0 }, [logits.buffer as ArrayBuffer]);
  } catch (e) {
    post({ type: 'error', id: m.id, message: e instanceof Error ? e.message : String(e) });
  }
});
