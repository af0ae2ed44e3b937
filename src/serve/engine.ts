// The main thread's side of the inference worker: starts it, sends one packed batch at a time, and restarts it
// when it dies (the batch it held fails; the queue waits for the new worker).
import { Worker } from 'node:worker_threads';
import { OptionError, UsageError } from '../errors.js';
import type { FromWorker, ModelInfo, PackedBatch, ToWorker, WorkerInit } from './protocol.js';

/** An inference failure: the request is answered 500 (error_type "backend"), the server carries on. */
export class BackendError extends Error {
  override name = 'BackendError';
}

export interface BatchResult {
  logits: Float32Array;
  computeMs: number;
}

export class Engine {
  /** the loaded model, set once the first worker is ready */
  info!: ModelInfo;
  /** a worker is loaded and accepting batches */
  ready = false;
  restarts = 0;
  /** called when a (re)started worker becomes ready */
  onReady: () => void = () => {};
  /** called with a line to log (restarts) */
  log: (line: string) => void = () => {};
  private worker: Worker | null = null;
  private pending: { id: number; resolve: (r: BatchResult) => void; reject: (e: Error) => void } | null = null;
  private nextId = 1;
  private closing = false;
  private everReady = false;

  constructor(private readonly init: WorkerInit) {}

  /** Starts the worker and waits for the model; rejects with the load error (OptionError/UsageError kept). */
  start(): Promise<ModelInfo> {
    return new Promise((resolve, reject) => this.spawn(resolve, reject));
  }

  get busy(): boolean {
    return this.pending !== null;
  }

  /** Runs one batch (only when ready and not busy); rejects with BackendError if it fails or the worker dies. */
  run(batch: PackedBatch): Promise<BatchResult> {
    if (!this.ready || this.worker === null) return Promise.reject(new BackendError('the inference worker is not ready'));
    if (this.pending !== null) return Promise.reject(new Error('Engine.run: a batch is already running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending = { id, resolve, reject };
      const m: ToWorker = { type: 'batch', id, ...batch };
      this.worker!.postMessage(m, [batch.inputIds.buffer as ArrayBuffer, batch.tokenTypeIds.buffer as ArrayBuffer,
        batch.offsets.buffer as ArrayBuffer]);
    });
  }

  /** Test hook: the next batch throws, or kills the worker. */
  failNext(kind: 'throw' | 'exit'): void {
    const m: ToWorker = { type: 'fail-next', kind };
    this.worker?.postMessage(m);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.ready = false;
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }

  private spawn(onFirstReady?: (info: ModelInfo) => void, onFirstError?: (e: Error) => void): void {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: this.init });
    this.worker = worker;
    let loaded = false;
    worker.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'ready':
          loaded = true;
          this.everReady = true;
          this.info = m.info;
          this.ready = true;
          onFirstReady?.(m.info);
          this.onReady();
          break;
        case 'load-error': {
          const e = m.kind === 'option' ? new OptionError(m.option!, m.problem!) : m.kind === 'usage' ? new UsageError(m.message) : new Error(m.message);
          if (onFirstError) onFirstError(e);
          else this.log(`inference worker failed to load the model again: ${m.message}`);
          onFirstError = undefined;
          break;
        }
        case 'result':
        case 'error': {
          const p = this.pending;
          if (p === null || p.id !== m.id) break;
          this.pending = null;
          if (m.type === 'result') p.resolve({ logits: m.logits, computeMs: m.computeMs });
          else p.reject(new BackendError(`inference failed: ${m.message}`));
          break;
        }
      }
    });
    worker.on('error', (e) => {
      if (!loaded && onFirstError) {
        onFirstError(e);
        onFirstError = undefined;
      }
      this.log(`inference worker error: ${e.message}`);
    });
    worker.on('exit', (code) => {
      if (this.worker !== worker) return; // terminated by close()
      this.worker = null;
      this.ready = false;
      const p = this.pending;
      this.pending = null;
      p?.reject(new BackendError(`the inference worker died (exit code ${code}); it is being restarted`));
      if (!loaded) {
        // A load failure: at start it is the caller's error (already reported unless the worker died silently);
        // after a restart, try again shortly.
        if (!this.everReady) onFirstError?.(new Error(`the inference worker exited (code ${code}) while loading the model`));
        else if (!this.closing) setTimeout(() => { if (!this.closing) this.respawn(); }, 1000).unref();
        return;
      }
      if (!this.closing) this.respawn();
    });
  }

  private respawn(): void {
    this.restarts++;
    this.log(`restarting the inference worker (restart ${this.restarts})`);
    this.spawn();
  }
}
