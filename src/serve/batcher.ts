// Dynamic batching: encoded inputs from many requests wait in one FIFO queue; whenever the worker is free, the
// batcher takes inputs from the front up to a budget of padded tokens (rows x longest row) and sends them as one
// batch. A request's inputs may be split over several batches; it is answered once all of them are done.
//
// When to send: at once if the budget is full or nothing more is on its way (no request body being received);
// otherwise it waits for more, but never longer than maxWaitMs after the oldest queued input arrived. So a lone
// client pays no batching delay, and under load the batch grows while the worker is busy anyway.
import type { Encoding } from '../tokenizer/pair.js';
import { BackendError, type Engine } from './engine.js';
import type { ServeMetrics } from './metrics.js';
import type { PackedBatch } from './protocol.js';

interface Job {
  /** logits [inputs, C], filled as batches come back */
  logits: Float32Array;
  remaining: number;
  failed: boolean;
  resolve: (logits: Float32Array) => void;
  reject: (e: Error) => void;
}

interface Item {
  job: Job;
  index: number;
  enc: Encoding;
  enqueuedAt: number;
}

export interface BatcherOptions {
  maxBatchTokens: number;
  maxWaitMs: number;
  numLabels: number;
}

export class Batcher {
  private queue: Item[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | null = null;
  private paused = false;
  /** request bodies being received: more inputs are on their way */
  receiving = 0;

  constructor(private readonly engine: Engine, private readonly metrics: ServeMetrics, private readonly o: BatcherOptions) {
    engine.onReady = () => this.pump();
  }

  /** Inputs waiting for a batch. */
  get depth(): number {
    return this.queue.length - this.head;
  }

  /**
   * Queues one request's encoded inputs.
   *
   * Returns: logits [encodings.length, C] in input order. Rejects with BackendError when a batch holding one of its
   * inputs fails.
   */
  submit(encodings: readonly Encoding[]): Promise<Float32Array> {
    const C = this.o.numLabels;
    return new Promise((resolve, reject) => {
      const job: Job = { logits: new Float32Array(encodings.length * C), remaining: encodings.length, failed: false, resolve, reject };
      if (encodings.length === 0) {
        resolve(job.logits);
        return;
      }
      const now = performance.now();
      encodings.forEach((enc, index) => this.queue.push({ job, index, enc, enqueuedAt: now }));
      this.pump();
    });
  }

  /** A request finished arriving (or failed to): maybe nothing more is coming, so look again. */
  received(): void {
    this.receiving--;
    if (this.receiving === 0) this.pump();
  }

  /** Test hook: hold batches back until resume(). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.pump();
  }

  /** Sends a batch if the worker is free and it is time to. */
  pump(): void {
    if (this.paused || this.engine.busy || !this.engine.ready) return;
    this.skipFailed();
    if (this.depth === 0) return;
    const { count, full } = this.take();
    const waited = performance.now() - this.queue[this.head]!.enqueuedAt;
    if (!full && this.receiving > 0 && waited < this.o.maxWaitMs) {
      if (this.timer === null) {
        this.timer = setTimeout(() => { this.timer = null; this.pump(); }, Math.max(0, this.o.maxWaitMs - waited));
      }
      return;
    }
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.dispatch(count);
  }

  /** How many queued items the next batch takes, and whether the budget stopped it (rather than the queue's end). */
  private take(): { count: number; full: boolean } {
    let rows = 0, longest = 0;
    for (let i = this.head; i < this.queue.length; i++) {
      const item = this.queue[i]!;
      if (item.job.failed) continue;
      const len = Math.max(longest, item.enc.inputIds.length);
      if (rows > 0 && (rows + 1) * len > this.o.maxBatchTokens) return { count: i - this.head, full: true };
      rows++;
      longest = len;
    }
    return { count: this.queue.length - this.head, full: false };
  }

  private skipFailed(): void {
    while (this.head < this.queue.length && this.queue[this.head]!.job.failed) this.head++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private dispatch(count: number): void {
    const items = this.queue.slice(this.head, this.head + count).filter((it) => !it.job.failed);
    this.head += count;
    let total = 0, longest = 0;
    for (const it of items) {
      total += it.enc.inputIds.length;
      longest = Math.max(longest, it.enc.inputIds.length);
    }
    const batch: PackedBatch = {
      inputIds: new Int32Array(total), tokenTypeIds: new Int32Array(total), offsets: new Int32Array(items.length + 1),
    };
    let at = 0;
    items.forEach((it, r) => {
      batch.offsets[r] = at;
      batch.inputIds.set(it.enc.inputIds, at);
      batch.tokenTypeIds.set(it.enc.tokenTypeIds, at);
      at += it.enc.inputIds.length;
    });
    batch.offsets[items.length] = at;
    const requests = new Set(items.map((it) => it.job)).size;
    const C = this.o.numLabels;
    this.engine.run(batch).then(({ logits, computeMs }) => {
      // the next batch first: the worker computes while this one's requests are answered
      this.pump();
      this.metrics.batchDone(items.length, requests, total, items.length * longest, computeMs);
      items.forEach((it, r) => {
        const job = it.job;
        if (job.failed) return;
        job.logits.set(logits.subarray(r * C, (r + 1) * C), it.index * C);
        if (--job.remaining === 0) job.resolve(job.logits);
      });
    }, (e: unknown) => {
      this.metrics.batches.inc();
      this.metrics.inferenceFailures.inc();
      const err = e instanceof BackendError ? e : new BackendError(e instanceof Error ? e.message : String(e));
      for (const it of items) {
        if (it.job.failed) continue;
        it.job.failed = true;
        it.job.reject(err);
      }
    }).finally(() => this.pump());
  }
}
