// One way for every command to get a model and its tokenizer from a --model spec: a checkpoint directory, a model
// installed by `bertfit pull`, a Hugging Face id (cache / download), or `random:<shape>` (fresh weights, real vocab).
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../util/paths.js';
import { BertTokenizer } from '../tokenizer/tokenizer.js';
import { BertClassifier } from './bert.js';
import { type ProblemType, labelList, namedConfig } from './config.js';
import { loadCheckpoint, resolveModel } from './checkpoint/index.js';
import { canonicalLabel } from '../data/label-spelling.js';

export interface OpenedModel {
  model: BertClassifier;
  tokenizer: BertTokenizer;
  vocabText: string;
  doLowerCase: boolean;
  /** what the user should know: dropped tensors, new heads, inferred casing */
  notices: string[];
  /** the directory it came from, or random:<shape> */
  source: string;
}

export interface OpenOptions {
  /** seed of new heads (and of all weights for random:*) */
  seed: number;
  /** the task's classes (index = class id; one name for regression); when absent the checkpoint's own label set is kept */
  labels?: readonly string[];
  /** the head's loss (saved as problem_type); default: the checkpoint's, else transformers' rule */
  problemType?: ProblemType;
}

/** The bert-base-uncased vocabulary shipped in assets/ (used by random:* models). */
export function bundledVocabFile(): string {
  const f = path.join(packageRoot, 'assets', 'vocab-bert-base-uncased.txt');
  if (!existsSync(f)) throw new Error(`bertfit: ${f} is missing from the installation`);
  return f;
}

export async function openModel(spec: string, opts: OpenOptions): Promise<OpenedModel> {
  const id2label = opts.labels ? Object.fromEntries(opts.labels.map((l, i) => [String(i), l])) : undefined;
  if (spec.startsWith('random:')) {
    const config = namedConfig(spec.slice('random:'.length), opts.labels?.length ?? 2);
    if (opts.problemType) config.extra = { ...config.extra, problem_type: opts.problemType };
    if (id2label) {
      config.id2label = id2label;
      config.label2id = Object.fromEntries(Object.entries(id2label).map(([k, v]) => [v, Number(k)]));
    }
    const vocabFile = bundledVocabFile();
    return {
      model: BertClassifier.random(config, opts.seed),
      tokenizer: BertTokenizer.fromVocabFile(vocabFile, { lowerCase: true }),
      vocabText: readFileSync(vocabFile, 'utf8'), doLowerCase: true,
      notices: [`${spec}: a fresh ${config.num_hidden_layers}-layer, hidden ${config.hidden_size} BERT with random weights (seed ${opts.seed})`],
      source: spec,
    };
  }
  const dir = await resolveModel(spec);
  const ck = loadCheckpoint(dir);
  if (opts.labels) checkHeadLabels(ck.dir, ck.config.id2label, !ck.missingHeads.includes('classifier.weight'), opts.labels);
  const model = BertClassifier.fromCheckpoint(ck, { seed: opts.seed, id2label, problemType: opts.problemType });
  return {
    model,
    tokenizer: BertTokenizer.fromVocabFile(ck.vocabFile, { lowerCase: ck.doLowerCase }),
    vocabText: readFileSync(ck.vocabFile, 'utf8'), doLowerCase: ck.doLowerCase,
    notices: [...ck.notices, ...model.notices],
    source: dir,
  };
}

/**
 * A checkpoint that already has a trained classifier must be fine-tuned on the same label set (same count, and the
 * same names unless the checkpoint only has transformers' placeholder names LABEL_i).
 */
function checkHeadLabels(dir: string, id2label: Record<string, string>, hasClassifier: boolean, labels: readonly string[]): void {
  if (!hasClassifier) return;
  const have = labelList(id2label);
  const placeholder = have.every((l, i) => l === `LABEL_${i}`);
  // compared as the data readers spell labels, so a head trained on "01"/"02" still matches data read as "1"/"2"
  if (have.length !== labels.length || (!placeholder && have.some((l, i) => canonicalLabel(l) !== canonicalLabel(labels[i]!)))) {
    throw new LabelMismatchError(`${dir}: the checkpoint's classifier head was trained for labels ${JSON.stringify(have)}, ` +
      `but this data has ${JSON.stringify(labels)}; use the same label set (--labels) or start from a checkpoint without a classifier head`);
  }
}

export class LabelMismatchError extends Error {
  override name = 'LabelMismatchError';
}
