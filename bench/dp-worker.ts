// One process of `npm run bench:dp` (bench/dp.ts): times data-parallel training steps on a synthetic batch, split
// into phases, the way the trainer runs them (src/train/trainer.ts): this rank's shard forward + backward, a barrier
// (the wait for the slowest rank, so the all-reduce below times the transfer alone), the sum all-reduce of the flat
// gradient buffer, clip + AdamW. Alone (no mpirun) the same loop without the collectives. Rank 0 prints one JSON
// line: medians over the timed steps, compute and wait as the maximum over the ranks.
//
// Usage: [mpirun -np N] node dist/bench/dp-worker.js --model minilm-l6|random:base --batch 32 --seq 128
//          [--steps 3] [--warmup 1] [--threads 1] [--idle-reduces 3]
import { parseArgs } from 'node:util';
import { syntheticBatch } from '../src/api/bench.js';
import { sliceBatch } from '../src/data/collate.js';
import { openModel } from '../src/model/open.js';
import { native } from '../src/native/index.js';
import { worldComm } from '../src/parallel/comm.js';
import { DataParallel } from '../src/parallel/data-parallel.js';
import { Adam } from '../src/train/optimizer.js';
import { median } from '../src/util/median.js';

const { values: o } = parseArgs({ options: {
  model: { type: 'string', default: 'minilm-l6' }, batch: { type: 'string', default: '32' }, seq: { type: 'string', default: '128' },
  steps: { type: 'string', default: '3' }, warmup: { type: 'string', default: '1' }, threads: { type: 'string' },
  'idle-reduces': { type: 'string', default: '3' },
} });
const B = Number(o.batch), S = Number(o.seq), steps = Number(o.steps), warmup = Number(o.warmup), idle = Number(o['idle-reduces']);
if (o.threads) native.setThreads(Number(o.threads));

const comm = worldComm();
const dp = new DataParallel(comm);
const { model } = await openModel(o.model!, { seed: 0, labels: ['0', '1'] });
comm.broadcast(model.params, 0);
const batch = syntheticBatch(B, S, model.config.vocab_size, 2);
const { start, end } = dp.rows(B);
const shard = dp.active ? sliceBatch(batch, start, end) : batch;
const adam = new Adam(model.params, model.grads, model.tensors, { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01 });

const phases = { forward: [] as number[], backward: [] as number[], wait: [] as number[], allreduce: [] as number[], optimizer: [] as number[], step: [] as number[] };
for (let i = 0; i < warmup + steps; i++) {
  const t0 = performance.now();
  model.zeroGrad();
  model.forward(shard, { train: true, seed: 1, step: i, rows: dp.active ? { start, total: B } : undefined });
  model.loss(shard.labels);
  const t1 = performance.now();
  model.backward(DataParallel.lossScale(shard.size, B, 1));
  const t2 = performance.now();
  if (dp.active) comm.barrier();
  const t3 = performance.now();
  dp.reduceGradients(model.grads);
  const t4 = performance.now();
  native.clipByGlobalNorm(model.grads, 1.0);
  adam.update(2e-5);
  const t5 = performance.now();
  if (i < warmup) continue;
  phases.forward.push((t1 - t0) / 1000); phases.backward.push((t2 - t1) / 1000); phases.wait.push((t3 - t2) / 1000);
  phases.allreduce.push((t4 - t3) / 1000); phases.optimizer.push((t5 - t4) / 1000); phases.step.push((t5 - t0) / 1000);
}
// the all-reduce again with every rank idle: the transport's bandwidth without compute competing for the cores
const idleTimes: number[] = [];
for (let i = 0; i < (dp.active ? idle : 0); i++) {
  comm.barrier();
  const t0 = performance.now();
  comm.allreduce(model.grads, 'sum');
  idleTimes.push((performance.now() - t0) / 1000);
}
// the slowest rank's compute sets the pace
const slowest = Float64Array.from([median(phases.forward), median(phases.backward), median(phases.wait)]);
comm.allreduce(slowest, 'max');
if (comm.rank === 0) {
  console.log(JSON.stringify({
    model: o.model, params: model.params.length, bytes: model.grads.byteLength, batch: B, seq: S, procs: comm.size,
    // the embedding tables: the last gradients backward completes (the bucket an overlapped all-reduce cannot hide)
    embedding_params: model.tensors.filter((t) => t.name.startsWith('bert.embeddings.')).reduce((n, t) => n + t.size, 0),
    threads: native.info().threads, steps, forward_s: slowest[0], backward_s: slowest[1], wait_s: slowest[2],
    allreduce_s: median(phases.allreduce), optimizer_s: median(phases.optimizer), step_s: median(phases.step),
    allreduce_idle_s: idleTimes.length ? median(idleTimes) : 0, steps_s: phases.step,
  }));
}
