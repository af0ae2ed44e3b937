// exportModel(): a fine-tuned classifier as an ONNX model directory in the layout Optimum writes and transformers.js
// reads (pipeline('text-classification', DIR); dtype 'q8' picks the quantized file), the library side of
// `bertfit export`:
//
//   DIR/config.json                 the checkpoint's, with id2label / label2id and problem_type
//   DIR/vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json
//   DIR/onnx/model.onnx             float32 (+ onnx/model.onnx_data when the weights near protobuf's 2 GiB limit)
//   DIR/onnx/model_quantized.onnx   quantize 'int8': dynamic int8 encoder linears (src/export/quantize.ts)
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { OptionError } from '../errors.js';
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, bertGraph } from '../export/bert-graph.js';
import { type OnnxModel, writeModel } from '../export/onnx-proto.js';
import { quantizeDynamicInt8 } from '../export/quantize.js';
import { writeTokenizerFiles } from '../export/tokenizer-files.js';
import { configJson } from '../model/checkpoint/save.js';
import { problemTypeOf } from '../model/config.js';
import { openModel } from '../model/open.js';
import { fsyncDir, replaceDirAtomic, writeFileDurable } from '../util/atomic.js';
import { checkServable } from './classifier.js';
import { checkChoice, checkNumber } from './options.js';

export type QuantizeMode = 'none' | 'int8';
export const QUANTIZE_MODES: readonly QuantizeMode[] = ['none', 'int8'];

export interface ExportOptions {
  /** a fine-tuned checkpoint directory, or any --model spec (pulled name, Hugging Face id, random:<shape>) */
  model: string;
  /** the directory to write; created, or updated in place when it already holds files (e.g. the checkpoint's own) */
  out: string;
  /** 'int8' also writes onnx/model_quantized.onnx (default 'none') */
  quantize?: QuantizeMode;
  /** ONNX opset of the default domain, MIN_OPSET..MAX_OPSET (default 14, as Optimum) */
  opset?: number;
  /** the tokenizer's model_max_length in tokens (default and maximum: the model's max_position_embeddings) */
  maxLen?: number;
  /** allow a model whose classifier head is freshly initialised (random:* shapes, base checkpoints): for tests */
  allowUntrainedHead?: boolean;
  /** weight bytes above which onnx/model.onnx keeps them in model.onnx_data (default: near 2 GiB; tests lower it) */
  externalDataThreshold?: number;
}

export interface ExportResult {
  /** the output directory (absolute) */
  dir: string;
  /** the files written, relative to dir, sorted */
  files: string[];
  /** the checkpoint directory (or random:<shape>) exported */
  source: string;
  opset: number;
  /** the linear layers quantized in onnx/model_quantized.onnx (empty without quantize 'int8') */
  quantized: string[];
  /** what loading had to say (e.g. inferred casing) */
  notices: string[];
}

/**
 * Exports a classifier to ONNX.
 *
 * The directory appears atomically when it is new (or empty); into an existing directory each file is replaced
 * atomically and the onnx/ folder as a whole, other files are kept (so a checkpoint directory can carry its export).
 *
 * Throws: OptionError for bad options (opset outside MIN_OPSET..MAX_OPSET, unknown quantize, an out that is a
 *   file); Error for a model without a trained classifier head (unless allowUntrainedHead); the checkpoint loader's
 *   errors for a bad checkpoint.
 */
export async function exportModel(o: ExportOptions): Promise<ExportResult> {
  const quantize = checkChoice('quantize', o.quantize, QUANTIZE_MODES) ?? 'none';
  const opset = checkNumber('opset', o.opset, (x) => Number.isInteger(x) && x >= MIN_OPSET && x <= MAX_OPSET,
    `an integer from ${MIN_OPSET} to ${MAX_OPSET}`) ?? DEFAULT_OPSET;
  const maxLenOpt = checkNumber('maxLen', o.maxLen, (x) => Number.isInteger(x) && x >= 3, 'an integer >= 3');
  const threshold = checkNumber('externalDataThreshold', o.externalDataThreshold, (x) => x >= 0, 'a number of bytes >= 0');
  if (typeof o.model !== 'string' || o.model === '') throw new OptionError('model', `must be a model spec, got ${JSON.stringify(o.model)}`);
  if (typeof o.out !== 'string' || o.out === '') throw new OptionError('out', `must be a directory, got ${JSON.stringify(o.out)}`);
  const dir = path.resolve(o.out);
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new OptionError('out', `${o.out} is a file; give a directory to write the export into`);

  const opened = await openModel(o.model, { seed: 0 });
  const { model } = opened;
  checkServable(model, opened.source, { allowUntrainedHead: o.allowUntrainedHead, maxLen: maxLenOpt, verb: 'export' });

  let quantized: string[] = [];
  const fill = (tmp: string): string[] => {
    const written: string[] = [];
    // problem_type written out even where transformers' rule would infer it, so every reader treats the logits alike
    const config = { ...model.config, extra: { ...model.config.extra, problem_type: problemTypeOf(model.config) } };
    writeFileDurable(path.join(tmp, 'config.json'), configJson(config));
    writeFileDurable(path.join(tmp, 'vocab.txt'), opened.vocabText.endsWith('\n') ? opened.vocabText : opened.vocabText + '\n');
    written.push(path.join(tmp, 'config.json'), path.join(tmp, 'vocab.txt'));
    written.push(...writeTokenizerFiles(tmp, { vocabText: opened.vocabText, doLowerCase: opened.doLowerCase, modelMaxLength: maxLenOpt ?? model.config.max_position_embeddings }));

    const onnxDir = path.join(tmp, 'onnx');
    mkdirSync(onnxDir);
    const graph = bertGraph(model, opset);
    const doc = `BertForSequenceClassification (${problemTypeOf(model.config)}, ${model.config.num_labels} outputs) exported by bertfit`;
    const fp32: OnnxModel = { graph, opset, doc_string: doc };
    written.push(...writeModel(path.join(onnxDir, 'model.onnx'), fp32, { externalDataThreshold: threshold }));
    if (quantize === 'int8') {
      const q = quantizeDynamicInt8(graph);
      quantized = q.quantized;
      const int8: OnnxModel = { graph: q.graph, opset, doc_string: `${doc}; int8 dynamic quantization of the encoder's linear layers` };
      written.push(...writeModel(path.join(onnxDir, 'model_quantized.onnx'), int8, { externalDataThreshold: threshold }));
    }
    fsyncDir(onnxDir);
    return [...new Set(written.map((f) => path.relative(tmp, f)))].sort();
  };

  let files: string[] = [];
  if (!existsSync(dir) || readdirSync(dir).length === 0) {
    replaceDirAtomic(dir, (tmp) => { files = fill(tmp); });
  } else {
    files = mergeIntoDir(dir, fill);
  }
  return { dir, files, source: opened.source, opset, quantized, notices: opened.notices };
}

/**
 * Writes fill's files into a temporary sibling of existing directory `dir`, then renames each top-level entry into
 * place: a file replaces its namesake atomically; a folder (onnx/) replaces its namesake whole (old one renamed
 * aside, new one in, old one deleted), so no stale model.onnx_data survives. Other files of dir are kept.
 */
function mergeIntoDir(dir: string, fill: (tmp: string) => string[]): string[] {
  const tmp = `${dir}.export-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    const files = fill(tmp);
    fsyncDir(tmp);
    const names = readdirSync(tmp);
    for (const name of names) {
      const to = path.join(dir, name);
      const isDir = statSync(path.join(tmp, name)).isDirectory();
      if (existsSync(to) && statSync(to).isDirectory() !== isDir) {
        throw new OptionError('out', `has a ${isDir ? 'file' : 'directory'} ${name} where the export writes a ${isDir ? 'directory' : 'file'}`);
      }
    }
    for (const name of names) {
      const from = path.join(tmp, name), to = path.join(dir, name);
      if (statSync(from).isDirectory() && existsSync(to)) {
        const old = `${to}.old-${process.pid}`;
        rmSync(old, { recursive: true, force: true });
        renameSync(to, old);
        renameSync(from, to);
        rmSync(old, { recursive: true, force: true });
      } else {
        renameSync(from, to);
      }
    }
    fsyncDir(dir);
    return files;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
