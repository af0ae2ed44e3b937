// Public surface of the data pipeline.
export type { Batch, EncodedExample, Example } from './types.js';
export { DataError, type DataLocation } from './errors.js';
export { readTextFile, decodeUtf8, splitLines } from './text.js';
export { parseCsv, parseTsv, type Row } from './delimited.js';
export { readDataset, parseDataset, formatOf, DATA_FORMATS, type DataFormat, type DatasetOptions, type Column } from './dataset.js';
export { labelSet, checkLabels } from './labels.js';
export { encodeDataset } from './encode.js';
export { taskDatasets, taskFileOptions, TASK_NAMES, type TaskData } from './tasks.js';
export { Rng, type RngState } from './rng.js';
export { BatchSampler, LAST_BATCH_POLICIES, type LastBatch, type SamplerOptions, type SamplerState, type BucketingOptions } from './sampler.js';
export { collate, batches, PAD_MULTIPLE, type CollateOptions, type Padding } from './collate.js';
