// Glue between checkpoints (src/model/checkpoint) and the model's flat parameter buffer: choosing the label set,
// copying loaded tensors into place, initialising the heads a checkpoint lacks, and listing tensors for saving.
import type { LoadedCheckpoint } from './checkpoint/index.js';
import type { BertConfig, ProblemType } from './config.js';
import { initTensor } from './init.js';
import type { ParamLayout } from './params.js';

/** The part of a loaded checkpoint the model needs. */
export type CheckpointTensors = Pick<LoadedCheckpoint, 'dir' | 'config' | 'tensors' | 'missingHeads'>;

export interface HeadOptions {
  /** seed of the new heads' initial values */
  seed: number;
  /** classes of the task; must match a classifier the checkpoint already has */
  numLabels?: number;
  /** names of the classes ("0" -> "not_equivalent", ...); implies numLabels */
  id2label?: Record<string, string>;
  /** the head's loss; saved as config.json's problem_type (default: the checkpoint's, else transformers' rule) */
  problemType?: ProblemType;
}

function isNewHead(ck: CheckpointTensors, name: string): boolean {
  return ck.missingHeads.includes(name) && !ck.tensors.has(name);
}

/**
 * The model config for fine-tuning or serving a checkpoint: its architecture with the label set of `opts`.
 * A classifier the checkpoint already has fixes the number of labels.
 */
export function labelledConfig(ck: CheckpointTensors, opts: HeadOptions): BertConfig {
  let numLabels = opts.numLabels;
  let id2label = opts.id2label;
  if (id2label) {
    const n = Object.keys(id2label).length;
    for (let i = 0; i < n; i++) {
      if (!(String(i) in id2label)) throw new RangeError(`id2label must name classes 0..${n - 1}; "${i}" is missing`);
    }
    if (numLabels !== undefined && numLabels !== n) {
      throw new RangeError(`numLabels ${numLabels} disagrees with id2label, which names ${n} classes`);
    }
    numLabels = n;
  }
  const cls = ck.tensors.get('classifier.weight');
  if (cls && !isNewHead(ck, 'classifier.weight')) {
    const have = cls.shape[0];
    if (numLabels !== undefined && numLabels !== have) {
      throw new RangeError(`${ck.dir}: the checkpoint's classifier predicts ${have} labels (classifier.weight ` +
        `[${cls.shape.join(', ')}]) but ${numLabels} were asked for; start from a checkpoint without a classifier ` +
        `head (a pre-trained base model) to train a new one`);
    }
    numLabels = have;
  }
  numLabels ??= ck.config.num_labels;
  if (!Number.isInteger(numLabels) || numLabels < 1) throw new RangeError(`numLabels must be a positive integer, got ${numLabels}`);
  if (!id2label) {
    const old = ck.config.id2label;
    id2label = Object.keys(old).length === numLabels ? { ...old } : {};
    for (let i = 0; i < numLabels; i++) id2label[String(i)] ??= `LABEL_${i}`;
  }
  const label2id: Record<string, number> = {};
  for (const [k, v] of Object.entries(id2label)) label2id[v] = Number(k);
  const extra = opts.problemType ? { ...ck.config.extra, problem_type: opts.problemType } : ck.config.extra;
  return { ...ck.config, extra, num_labels: numLabels, id2label: { ...id2label }, label2id };
}

/**
 * Fills `params` (laid out by `layout`) from the checkpoint; tensors listed in ck.missingHeads get fresh values
 * N(0, initializer_range) / zero bias drawn from `seed`.
 *
 * Returns:
 *   fresh: canonical names of the tensors initialised here; notices: what the user should be told about them.
 */
export function loadIntoParams(layout: ParamLayout, params: Float32Array, ck: CheckpointTensors, seed: number): { fresh: string[]; notices: string[] } {
  const fresh: string[] = [];
  for (const t of layout.tensors) {
    const dst = params.subarray(t.offset, t.offset + t.size);
    const src = ck.tensors.get(t.name);
    if (!src || isNewHead(ck, t.name)) {
      if (!ck.missingHeads.includes(t.name)) throw new Error(`${ck.dir}: checkpoint has no tensor ${t.name}`);
      initTensor(t, dst, layout.config.initializer_range, seed);
      fresh.push(t.name);
      continue;
    }
    if (src.shape.length !== t.shape.length || src.shape.some((d, i) => d !== t.shape[i])) {
      throw new Error(`${ck.dir}: tensor ${t.name} has shape [${src.shape.join(', ')}], the config needs [${t.shape.join(', ')}]`);
    }
    if (src.data.length !== t.size) {
      throw new Error(`${ck.dir}: tensor ${t.name} holds ${src.data.length} values, its shape needs ${t.size}`);
    }
    dst.set(src.data);
  }
  if (fresh.length === 0) return { fresh, notices: [] };
  const heads = [...new Set(fresh.map((n) => n.replace(/\.(weight|bias)$/, '')))];
  return { fresh, notices: [`initialised new ${heads.join(' and ')} (not in the checkpoint) from seed ${seed}`] };
}

/** Every parameter as {name, shape, data} (data a view into params), in layout order, for saveCheckpoint. */
export function paramsForSaving(layout: ParamLayout, params: Float32Array): Array<{ name: string; shape: number[]; data: Float32Array }> {
  return layout.tensors.map((t) => ({ name: t.name, shape: [...t.shape], data: params.subarray(t.offset, t.offset + t.size) }));
}
