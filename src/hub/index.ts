// Pretrained checkpoints: the registry, `bertfit pull`, and the check loading runs on an install.
export { PRETRAINED, type PretrainedModel, cacheRoot, findPretrained, installedModelDir, knownNames } from './registry.js';
export {
  MANIFEST_FILE, type InstalledModel, type ModelManifest, checkInstalledModel, sha256File, verifyInstalled,
} from './installed.js';
export { type PullOptions, type PullResult, pull, pullModel } from './pull.js';
