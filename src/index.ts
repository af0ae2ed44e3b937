// bertfit's library API: everything the CLI does, as typed functions. The package's only entry point.
//
//   import { loadClassifier, finetune } from 'bertfit';
//   const { outputs } = await finetune({ model: 'minilm-l6', task: 'mrpc', out: 'runs/mrpc' });
//   const clf = await loadClassifier(outputs.checkpointBest);
//   await clf.predict(['The cat sat.', 'A cat was sitting.']);   // one pair -> [{ label, score }, ...] best first
//
// The CLI (src/cli) only parses flags and calls these.

// inference
export {
  Classifier, InputError, loadClassifier, normalizeInputs, applyFunction,
  type LabelScore, type LoadOptions, type PredictOptions, type ScoreFunction, type TextInput,
} from './api/classifier.js';
export { evaluate, predictFile, type FileOptions, type Prediction } from './api/evaluate.js';

// serving over HTTP (bertfit serve): Text Embeddings Inference / Hugging Face Inference API shapes, dynamic batching
export { startServer, type ServeOptions, type ServerHandle, type ServerInfo } from './serve/server.js';

// training
export {
  finetune, resolveSettings, type FinetuneOptions, type FinetuneResult, type TrainEvent, type TrainingOptions,
} from './api/finetune.js';
export {
  sweep, planSweep, sweepTable, pointKey, SEARCH_KEYS, type SweepOptions, type SweepResult, type SweepPlan, type SweepRun,
  type SweepBase, type PointSummary, type SearchSpace, type SearchKey, type SpaceDimension, type Dimension, type SpaceRange, type SweepPoint,
} from './api/sweep.js';
export {
  RECIPES, DEFAULT_RECIPE, TUTORIAL_RECIPE, SMALL_MODEL_HIDDEN, SMALL_MODEL_SETTINGS, recipeFor, type TrainSettings,
} from './train/recipes.js';
export type { Metrics } from './train/metrics.js';
export type { ProgressSink } from './train/progress.js';

// deployment: ONNX export in the layout of Optimum and transformers.js
export { exportModel, QUANTIZE_MODES, type ExportOptions, type ExportResult, type QuantizeMode } from './api/export.js';
// feeding an export from Node: bertfit encodings as the int64 [batch, seq] inputs onnxruntime takes
export { onnxFeeds, type OnnxFeed, type OnnxFeeds } from './export/feeds.js';

// benchmarks
export { benchmark, forwardFlops, type BenchOptions, type BenchResult } from './api/bench.js';

// tokenizer
export { BertTokenizer, type TokenizerOptions } from './tokenizer/tokenizer.js';
export type { Encoding } from './tokenizer/pair.js';
export { type Vocab, loadVocab, parseVocab } from './tokenizer/vocab.js';

// data
export {
  readDataset, parseDataset, DATA_FORMATS, type DataFormat, type DatasetOptions, type Column, type EmptyTextPolicy,
} from './data/dataset.js';
export { taskDatasets, TASK_NAMES, type TaskData } from './data/tasks.js';
export { labelSet } from './data/labels.js';
export { encodeDataset } from './data/encode.js';
export type { Example, EncodedExample, Batch } from './data/types.js';
export { DataError, type DataLocation } from './data/errors.js';
export type { DataFileOptions } from './api/data.js';

// models and checkpoints
export { pull, PRETRAINED, type PullOptions, type PullResult } from './hub/index.js';
export { BertClassifier } from './model/bert.js';
export { type BertConfig, labelList } from './model/config.js';
export { CheckpointError } from './model/checkpoint/index.js';

// settings and errors
export { OptionError, UsageError } from './errors.js';
// data-parallel training (finetune() under mpirun): a launch or the ranks disagreeing
export { DistributedError } from './parallel/errors.js';
// `bertfit launch`: run finetune on N processes / machines through Open MPI's mpirun, with a graceful stop
export { launchJob, mpirunArgs, type LaunchOptions, type LaunchedJob, type MpirunOptions } from './parallel/mpirun.js';
// runtime failures with their own types: NaN/Inf (naming the step or the input), another run holding the output
// directory, a filesystem error (naming the path), a shape that does not fit in memory, a damaged trainer_state.json
export { NonFiniteError } from './train/nonfinite.js';
export { LockError } from './util/run-lock.js';
export { FileError } from './util/fs-errors.js';
export { MemoryLimitError, estimateMemory, type MemoryEstimate, type MemoryShape } from './train/memory.js';
export { StateFileError } from './train/state.js';
export { type Dtype, applyThreads } from './api/options.js';
export { native } from './native/index.js';
