// The data-parallel side of finetune(): who prints, the per-rank thread default, the check that every rank runs the
// same job, the job summary line, and stopping the whole job when one rank fails.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fingerprint } from '../parallel/agree.js';
import type { Comm } from '../parallel/comm.js';
import type { EncodedExample } from '../data/types.js';
import { UsageError } from '../errors.js';
import type { BertClassifier } from '../model/bert.js';
import { native } from '../native/index.js';
import type { TrainSettings } from '../train/recipes.js';

/**
 * Threads per rank when neither --threads nor BERTFIT_THREADS says: the machine's cores shared among its ranks, and
 * no more than the cores the launcher bound this rank to (mpirun binds each rank to a core when it starts <= 2, to a
 * socket otherwise; `--bind-to none` leaves it all cores).
 *
 * Returns: the thread count, or null to keep the current one (alone, or the user chose).
 */
export function defaultThreadsPerRank(comm: Comm, threadsOption: number | undefined): number | null {
  if (comm.size === 1 || threadsOption !== undefined || process.env.BERTFIT_THREADS) return null;
  const share = Math.floor(os.cpus().length / Math.max(1, comm.localSize));
  return Math.max(1, Math.min(share, os.availableParallelism()));
}

/** A fingerprint of encoded examples: ids, segments, labels and targets, in order. */
function dataFingerprint(rows: readonly EncodedExample[] | null): number {
  if (!rows) return 0;
  const parts: Array<string | ArrayBufferView> = [String(rows.length)];
  for (const r of rows) {
    parts.push(r.inputIds, r.tokenTypeIds, String(r.label));
    if (r.target) parts.push(r.target);
  }
  return fingerprint(parts);
}

/**
 * What must be the same on every rank for the ranks to train one model, as [what, fingerprint] pairs for
 * DataParallel.checkSameRun: the settings, the label set, the encoded data (same files, same tokenizer, same
 * max_len) and the model's architecture.
 */
export function runFingerprints(s: TrainSettings, labels: readonly string[], model: BertClassifier,
  data: { train: readonly EncodedExample[]; dev: readonly EncodedExample[] | null; test: readonly EncodedExample[] | null }): Array<[string, number]> {
  return [
    ['the training settings', fingerprint([JSON.stringify(s)])],
    ['the label set', fingerprint([JSON.stringify(labels)])],
    ['the model (its config and parameter count)', fingerprint([JSON.stringify(model.config), String(model.params.length)])],
    ['the training data', dataFingerprint(data.train)],
    ['the dev data', dataFingerprint(data.dev)],
    ['the test data', dataFingerprint(data.test)],
  ];
}

/**
 * One line about the job for rank 0's log: processes, machines, threads, the split of the batch, the gradient
 * bytes each step all-reduces.
 *
 * Args: hosts: the number of machines (ranks with localRank 0, summed); batchSize: the global batch.
 */
export function describeJob(comm: Comm, hosts: number, batchSize: number, params: number): string {
  const per = batchSize / comm.size;
  return `data parallel: ${comm.size} processes on ${hosts} machine${hosts === 1 ? '' : 's'} (${comm.library}), ` +
    `${native.info().threads} threads each; global batch ${batchSize} (${Number.isInteger(per) ? per : `~${per.toFixed(1)}`} rows per process); ` +
    `all-reduce of ${(params * 4 / 2 ** 20).toFixed(1)} MiB of fp32 gradients per optimizer step`;
}

/**
 * A rank failed mid-job: say which and why, then stop every rank (MPI_Abort; the other ranks may be blocked in a
 * collective waiting for this one, so returning would hang the job). checkpoint-last stays as last written: it is
 * replaced atomically, never half-written.
 *
 * Args: e: the failure; out: the output directory (on rank 0's machine).
 */
export function abortJob(comm: Comm, e: unknown, out: string): never {
  const message = e instanceof Error ? e.message : String(e);
  const stack = process.env.BERTFIT_DEBUG === '1' && e instanceof Error && e.stack ? `\n${e.stack}` : '';
  const last = path.join(out, 'checkpoint-last');
  const kept = comm.rank === 0 && existsSync(last) ? `; ${last} keeps the last saved step (continue with --resume)` : '';
  process.stderr.write(`bertfit: rank ${comm.rank} of ${comm.size} (${comm.host}) failed: ${message}${stack}\n` +
    `bertfit: stopping all ${comm.size} processes${kept}\n`);
  return comm.abort(e instanceof UsageError ? 2 : 1);
}
