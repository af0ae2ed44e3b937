// Reading trainer_state.json back for --resume, field by field: a damaged or hand-edited file gives an error that
// names the file and the field ("field step must be an integer >= 0, got null"), never a TypeError from deep inside
// the loop.
import { readFileSync } from 'node:fs';
import type { SamplerState } from '../data/sampler.js';
import { withFileErrors } from '../util/fs-errors.js';
import type { TrainerState } from './trainer.js';

/** trainer_state.json is unreadable or does not describe a run. Exit code 1. */
export class StateFileError extends Error {
  override name = 'StateFileError';
}

type Json = Record<string, unknown>;

const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;
const isNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

function show(x: unknown): string {
  const s = JSON.stringify(x) ?? String(x);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/**
 * Parses and checks the trainer state in `file`.
 *
 * Returns: the state, with fields added since version 1 defaulted (skippedSteps 0).
 * Throws: StateFileError naming the file and the first bad field; FileError when it cannot be read.
 */
export function readTrainerState(file: string): TrainerState {
  const text = withFileErrors(file, 'read', () => readFileSync(file, 'utf8'));
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new StateFileError(`${file}: not valid JSON (${(e as Error).message}); the checkpoint is damaged, resume from another one or start over`);
  }
  const bad = (field: string, what: string, got: unknown): never => {
    throw new StateFileError(`${file}: field ${field} must be ${what}, got ${show(got)}; the checkpoint is damaged, resume from another one or start over`);
  };
  if (!isObject(raw)) bad('(top level)', 'an object', raw);
  const o = raw as Json;
  if (o.version !== 1) bad('version', '1 (the version this bertfit writes)', o.version);
  if (!isObject(o.settings)) bad('settings', 'an object', o.settings);
  if (!Array.isArray(o.labels) || !o.labels.every((l) => typeof l === 'string')) bad('labels', 'a list of strings', o.labels);
  for (const k of ['numTrain', 'totalSteps'] as const) if (!isCount(o[k]) || o[k] === 0) bad(k, 'an integer >= 1', o[k]);
  for (const k of ['step', 'microStep', 'batchInEpoch', 'evalsWithoutImprovement'] as const) if (!isCount(o[k])) bad(k, 'an integer >= 0', o[k]);
  if (o.skippedSteps !== undefined && !isCount(o.skippedSteps)) bad('skippedSteps', 'an integer >= 0', o.skippedSteps);
  if ((o.step as number) > (o.totalSteps as number)) bad('step', `at most totalSteps (${o.totalSteps as number})`, o.step);
  if ((o.microStep as number) < (o.step as number)) bad('microStep', `at least step (${o.step as number})`, o.microStep);
  if (typeof o.done !== 'boolean') bad('done', 'true or false', o.done);
  checkSampler(o.epochStart, bad);
  if (!isObject(o.running)) bad('running', 'an object', o.running);
  const running = o.running as Json;
  for (const k of ['lossSum', 'correct', 'seen', 'windowLoss', 'windowBatches', 'windowSeqs']) {
    if (!isNumber(running[k])) bad(`running.${k}`, 'a finite number', running[k]);
  }
  if (o.best !== null) {
    if (!isObject(o.best)) bad('best', 'null or {value, epoch, step}', o.best);
    const b = o.best as Json;
    if (!isNumber(b.value)) bad('best.value', 'a finite number', b.value);
    if (!isCount(b.epoch)) bad('best.epoch', 'an integer >= 0', b.epoch);
    if (!isCount(b.step)) bad('best.step', 'an integer >= 0', b.step);
  }
  if (!Array.isArray(o.history)) bad('history', 'a list', o.history);
  (o.history as unknown[]).forEach((h, i) => {
    if (!isObject(h) || !isCount(h.epoch) || !isCount(h.step)) bad(`history[${i}]`, 'an object with epoch and step', h);
  });
  return { ...(o as unknown as TrainerState), skippedSteps: (o.skippedSteps as number | undefined) ?? 0 };
}

/** The sampler state's fields the loop reads (the sampler checks the rest against its settings on restore). */
function checkSampler(s: unknown, bad: (field: string, what: string, got: unknown) => never): asserts s is SamplerState {
  if (!isObject(s)) bad('epochStart', 'an object', s);
  const e = s as Json;
  for (const k of ['numExamples', 'batchSize', 'epoch', 'position'] as const) if (!isCount(e[k])) bad(`epochStart.${k}`, 'an integer >= 0', e[k]);
  if (!Array.isArray(e.rng) || !e.rng.every(isNumber)) bad('epochStart.rng', 'a list of numbers', e.rng);
  if (!Array.isArray(e.carry) || !e.carry.every(isCount)) bad('epochStart.carry', 'a list of example indices', e.carry);
}
