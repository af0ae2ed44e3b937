// Saves a fine-tuned model as a Hugging Face directory that transformers' from_pretrained (and loadCheckpoint)
// reads: config.json, model.safetensors (float32, canonical names), vocab.txt and tokenizer_config.json. The whole
// directory is replaced atomically so an interrupted save never leaves a torn checkpoint.
import path from 'node:path';
import type { BertConfig } from '../config.js';
import { replaceDirAtomic, writeFileDurable } from '../../util/atomic.js';
import { CheckpointError } from './errors.js';
import { expectedTensors } from './names.js';
import { encodeSafetensors, type TensorToWrite } from './safetensors.js';
import { numelOf } from './tensor.js';

export interface CheckpointToSave {
  config: BertConfig;
  /** every tensor of expectedTensors(config), any order; written in the canonical order */
  tensors: TensorToWrite[];
  /** vocab.txt contents, one token per line */
  vocabText: string;
  doLowerCase: boolean;
  /** more files for the directory (e.g. a training log); names must be plain file names */
  extraFiles?: Record<string, Buffer | string>;
}

const OWN_FILES = ['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer_config.json'];

/** config.json for BertForSequenceClassification: config.extra first, then every BertConfig field over it. */
export function configJson(config: BertConfig): string {
  const { extra, ...fields } = config;
  const obj: Record<string, unknown> = {
    ...extra,
    ...fields,
    architectures: ['BertForSequenceClassification'],
    model_type: 'bert',
    torch_dtype: 'float32',
  };
  const sorted = Object.fromEntries(Object.keys(obj).sort().map((k) => [k, obj[k]]));
  return JSON.stringify(sorted, null, 2) + '\n';
}

/**
 * Writes checkpoint `ck` to `dir`, replacing any previous contents atomically.
 *
 * Throws CheckpointError before touching `dir` if a tensor is missing, unknown, repeated or of the wrong shape, or
 * if the vocabulary has more tokens than config.vocab_size.
 */
export function saveCheckpoint(dir: string, ck: CheckpointToSave): void {
  const byName = new Map<string, TensorToWrite>();
  for (const t of ck.tensors) {
    if (byName.has(t.name)) throw new CheckpointError(`saveCheckpoint: tensor ${t.name} is given twice`);
    byName.set(t.name, t);
  }
  const ordered: TensorToWrite[] = [];
  for (const e of expectedTensors(ck.config)) {
    const t = byName.get(e.name);
    if (!t) throw new CheckpointError(`saveCheckpoint: tensor ${e.name} (shape [${e.shape}]) is missing`);
    if (t.shape.length !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i])) {
      throw new CheckpointError(`saveCheckpoint: tensor ${e.name}: expected shape [${e.shape}], found [${t.shape}]`);
    }
    if (t.data.length !== numelOf(e.shape)) {
      throw new CheckpointError(`saveCheckpoint: tensor ${e.name}: shape [${e.shape}] needs ${numelOf(e.shape)} values, data has ${t.data.length}`);
    }
    ordered.push(t);
    byName.delete(e.name);
  }
  if (byName.size) throw new CheckpointError(`saveCheckpoint: tensor ${[...byName.keys()][0]} is not a BertForSequenceClassification parameter`);

  const tokens = ck.vocabText.split('\n');
  if (tokens[tokens.length - 1] === '') tokens.pop();
  if (tokens.length === 0 || tokens.length > ck.config.vocab_size) {
    throw new CheckpointError(`saveCheckpoint: vocabulary has ${tokens.length} tokens; config.vocab_size is ${ck.config.vocab_size}`);
  }
  const extra = ck.extraFiles ?? {};
  for (const name of Object.keys(extra)) {
    if (name !== path.basename(name) || name.startsWith('.') || OWN_FILES.includes(name)) {
      throw new CheckpointError(`saveCheckpoint: extra file name "${name}" must be a plain file name other than ${OWN_FILES.join(', ')}`);
    }
  }

  const tokenizerConfig = {
    do_lower_case: ck.doLowerCase,
    model_max_length: ck.config.max_position_embeddings,
    tokenizer_class: 'BertTokenizer',
  };
  replaceDirAtomic(dir, (tmp) => {
    writeFileDurable(path.join(tmp, 'config.json'), configJson(ck.config));
    writeFileDurable(path.join(tmp, 'model.safetensors'), encodeSafetensors(ordered));
    writeFileDurable(path.join(tmp, 'vocab.txt'), tokens.join('\n') + '\n');
    writeFileDurable(path.join(tmp, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2) + '\n');
    for (const [name, data] of Object.entries(extra)) writeFileDurable(path.join(tmp, name), data);
  });
}
