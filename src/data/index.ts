// Public surface of the data pipeline.
export type { Batch, EncodedExample, Example } from './types.js';
export { DataError, type DataLocation } from './errors.js';
export { readTextFile, decodeUtf8, splitLines, forEachLine } from './text.js';
export { parseCsv, parseTsv, forEachCsvRow, forEachTsvRow, type Row, type RowSink } from './delimited.js';
export { readDataset, parseDataset, formatOf, DATA_FORMATS, type DataFormat, type DatasetOptions, type Column, type SkipReason } from './dataset.js';
export { labelSet, checkLabels } from './labels.js';
export { encodeDataset } from './encode.js';
export {
  taskDatasets, taskFileOptions, taskSpec, taskFiles, taskOutputNames, checkTaskLabels, TASKS, TASK_NAMES,
  type TaskData, type TaskSpec, type TaskReadOptions, type FileLayout,
} from './tasks.js';
export { locateTask, taskSearchDirs, type LocateOptions } from './glue-locate.js';
export { submissionTsv, submissionFileName, writeSubmission, exampleIds, type Prediction } from './submission.js';
export { Rng, type RngState } from './rng.js';
export { BatchSampler, LAST_BATCH_POLICIES, type LastBatch, type SamplerOptions, type SamplerState, type BucketingOptions } from './sampler.js';
export { collate, batches, PAD_MULTIPLE, type CollateOptions, type Padding } from './collate.js';
