// Checkpoint I/O in Hugging Face layout: load, save, resolve a model spec, and the canonical parameter list.
export { CheckpointError } from './errors.js';
export { loadCheckpoint, type LoadedCheckpoint, type LoadedTensor } from './load.js';
export { saveCheckpoint, configJson, type CheckpointToSave } from './save.js';
export { resolveModel, hubDir, type ResolveOptions } from './resolve.js';
export { expectedTensors, classifyName, type ExpectedTensor } from './names.js';
export { readSafetensors, parseSafetensors, encodeSafetensors, type SafetensorsFile, type TensorToWrite } from './safetensors.js';
export { readTorchCheckpoint } from './torch.js';
export type { DType, TensorEntry } from './tensor.js';
