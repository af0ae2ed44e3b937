// The server's metrics in the Prometheus text exposition format (version 0.0.4). Written here rather than with
// prom-client: we need a handful of counters, gauges and histograms, the format is a few lines of text, and no
// dependency means nothing to keep up to date (prom-client would also add process metrics we do not need).

type Labels = Readonly<Record<string, string>>;

const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labelText = (labels: Labels, extra?: [string, string]): string => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
};
const num = (x: number): string => (x === Infinity ? '+Inf' : x === -Infinity ? '-Inf' : Number.isNaN(x) ? 'NaN' : String(x));
const keyOf = (labels: Labels): string => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}

  inc(labels: Labels = {}, by = 1): void {
    const k = keyOf(labels);
    const e = this.values.get(k);
    if (e) e.value += by;
    else this.values.set(k, { labels, value: by });
  }

  get(labels: Labels = {}): number {
    return this.values.get(keyOf(labels))?.value ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${labelText(labels)} ${num(value)}`);
    return lines.join('\n');
  }
}

/** A value read when scraped: a gauge, or a counter kept elsewhere. */
export class Gauge implements Metric {
  constructor(readonly name: string, readonly help: string, private readonly read: () => number,
    private readonly type: 'gauge' | 'counter' = 'gauge') {}

  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`, `${this.name} ${num(this.read())}`].join('\n');
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}

  observe(value: number, labels: Labels = {}): void {
    const k = keyOf(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { labels, counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    const i = this.buckets.findIndex((b) => value <= b);
    if (i >= 0) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  /** Observations so far (all label sets), and how many were above `bound`. */
  countAbove(bound: number): number {
    let n = 0;
    for (const s of this.series.values()) {
      n += s.count;
      this.buckets.forEach((b, i) => { if (b <= bound) n -= s.counts[i]!; });
    }
    return n;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const { labels, counts, sum, count } of this.series.values()) {
      let cum = 0;
      this.buckets.forEach((b, i) => {
        cum += counts[i]!;
        lines.push(`${this.name}_bucket${labelText(labels, ['le', num(b)])} ${cum}`);
      });
      lines.push(`${this.name}_bucket${labelText(labels, ['le', '+Inf'])} ${count}`);
      lines.push(`${this.name}_sum${labelText(labels)} ${num(sum)}`);
      lines.push(`${this.name}_count${labelText(labels)} ${count}`);
    }
    return lines.join('\n');
  }
}

/** Tokens per second over a sliding window (one bucket per second). */
class RateWindow {
  private readonly buckets: number[];
  private readonly stamps: number[];
  constructor(private readonly seconds: number, private readonly start = Date.now()) {
    this.buckets = new Array<number>(seconds).fill(0);
    this.stamps = new Array<number>(seconds).fill(-1);
  }

  add(n: number, now = Date.now()): void {
    const sec = Math.floor(now / 1000);
    const i = sec % this.seconds;
    if (this.stamps[i] !== sec) {
      this.stamps[i] = sec;
      this.buckets[i] = 0;
    }
    this.buckets[i]! += n;
  }

  rate(now = Date.now()): number {
    const sec = Math.floor(now / 1000);
    let total = 0;
    for (let i = 0; i < this.seconds; i++) if (this.stamps[i]! > sec - this.seconds) total += this.buckets[i]!;
    const span = Math.min(this.seconds, Math.max((now - this.start) / 1000, 1e-3));
    return total / span;
  }
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** Everything /metrics shows. */
export class ServeMetrics {
  readonly requests = new Counter('bertfit_requests_total', 'HTTP requests by route and status code');
  readonly latency = new Histogram('bertfit_request_duration_seconds', 'time from request arrival to the end of the response, by route', LATENCY_BUCKETS);
  readonly batchSize = new Histogram('bertfit_batch_size', 'sequences per batch sent to the inference worker', BATCH_BUCKETS);
  readonly batchRequests = new Histogram('bertfit_batch_requests', 'distinct requests whose inputs share a batch', BATCH_BUCKETS);
  readonly batchTokens = new Histogram('bertfit_batch_padded_tokens', 'padded tokens (rows x longest row) per batch',
    [64, 256, 1024, 2048, 4096, 8192, 16384, 32768, 65536]);
  readonly computeTime = new Histogram('bertfit_batch_compute_seconds', 'forward-pass time per batch in the worker', LATENCY_BUCKETS);
  readonly tokens = new Counter('bertfit_tokens_total', 'tokens (with [CLS]/[SEP], without padding) of the sequences computed');
  readonly sequences = new Counter('bertfit_sequences_total', 'sequences computed');
  readonly batches = new Counter('bertfit_batches_total', 'batches computed (failed ones included)');
  readonly inferenceFailures = new Counter('bertfit_inference_failures_total', 'batches that failed in the worker');
  private readonly window = new RateWindow(10);
  private readonly gauges: Gauge[];

  constructor(state: { queueDepth: () => number; inFlight: () => number; workerRestarts: () => number; ready: () => boolean }) {
    this.gauges = [
      new Gauge('bertfit_queue_depth', 'sequences waiting for a batch', state.queueDepth),
      new Gauge('bertfit_requests_in_flight', 'prediction requests received and not yet answered', state.inFlight),
      new Gauge('bertfit_tokens_per_second', 'tokens computed per second over the last 10 s', () => this.window.rate()),
      new Gauge('bertfit_worker_restarts_total', 'times the inference worker was restarted after dying', state.workerRestarts, 'counter'),
      new Gauge('bertfit_ready', '1 when the model is loaded and the worker alive', () => (state.ready() ? 1 : 0)),
    ];
  }

  /** Records a computed batch. */
  batchDone(rows: number, requests: number, tokens: number, paddedTokens: number, computeMs: number): void {
    this.batchSize.observe(rows);
    this.batchRequests.observe(requests);
    this.batchTokens.observe(paddedTokens);
    this.computeTime.observe(computeMs / 1000);
    this.tokens.inc({}, tokens);
    this.sequences.inc({}, rows);
    this.batches.inc();
    this.window.add(tokens);
  }

  render(): string {
    const all: Metric[] = [this.requests, this.latency, this.batchSize, this.batchRequests, this.batchTokens, this.computeTime,
      this.tokens, this.sequences, this.batches, this.inferenceFailures, ...this.gauges];
    return all.map((m) => m.render()).join('\n') + '\n';
  }
}
