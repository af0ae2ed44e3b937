// Locating MRPC in GLUE layout: an explicit --data-dir, ../shared/data/mrpc beside the checkout, the local cache,
// or (online) the official SentEval/GLUE files, downloaded once, verified against the sha256 sums recorded in
// ../shared/data/mrpc/SOURCE.md, and rebuilt into train/dev/test.tsv exactly as GLUE's format_mrpc does.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { cacheRoot } from '../hub/registry.js';
import { sharedDir } from '../util/paths.js';

export const MRPC_SOURCES = [
  { name: 'msr_paraphrase_train.txt', url: 'https://dl.fbaipublicfiles.com/senteval/senteval_data/msr_paraphrase_train.txt',
    sha256: '60a9b09084528f0673eedee2b69cb941920f0b8cd0eeccefc464a98768457f89' },
  { name: 'msr_paraphrase_test.txt', url: 'https://dl.fbaipublicfiles.com/senteval/senteval_data/msr_paraphrase_test.txt',
    sha256: 'a04e271090879aaba6423d65b94950c089298587d9c084bf9cd7439bd785f784' },
  { name: 'dev_ids.tsv', url: 'https://dl.fbaipublicfiles.com/glue/data/mrpc_dev_ids.tsv',
    sha256: '971d7767d81b997fd9060ade0ec23c4fc31cbb226a55d1bd4a1bac474eb81dc7' },
] as const;

/** ../shared/data/mrpc relative to the package root, if this checkout has it. */
export function sharedMrpcDir(): string | undefined {
  const d = path.join(sharedDir, 'data', 'mrpc');
  return existsSync(path.join(d, 'train.tsv')) ? d : undefined;
}

const hasGlueFiles = (d: string) => ['train.tsv', 'dev.tsv'].every((f) => existsSync(path.join(d, f)));

/** Rebuilds GLUE's train/dev/test.tsv from the three Microsoft/GLUE source files (download_glue_data.py format_mrpc). */
export function formatMrpc(trainTxt: string, testTxt: string, devIdsTsv: string): { train: string; dev: string; test: string } {
  const devIds = new Set(devIdsTsv.split(/\r?\n/).filter((l) => l.trim()).map((l) => l.trim().split('\t').join('\t')));
  const trainLines = trainTxt.split('\n');
  const header = trainLines[0]!.replace(/\r$/, '');
  let train = header + '\n', dev = header + '\n';
  for (const raw of trainLines.slice(1)) {
    const line = raw.replace(/\r$/, '');
    if (!line) continue;
    const [label, id1, id2, s1, s2] = line.split('\t');
    const row = `${label}\t${id1}\t${id2}\t${s1}\t${s2}\n`;
    if (devIds.has(`${id1}\t${id2}`)) dev += row; else train += row;
  }
  let test = 'index\t#1 ID\t#2 ID\t#1 String\t#2 String\n';
  let idx = 0;
  for (const raw of testTxt.split('\n').slice(1)) {
    const line = raw.replace(/\r$/, '');
    if (!line) continue;
    const [, id1, id2, s1, s2] = line.split('\t');
    test += `${idx++}\t${id1}\t${id2}\t${s1}\t${s2}\n`;
  }
  return { train, dev, test };
}

async function download(url: string, timeoutMs: number): Promise<Buffer> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

/** Finds (or, online, fetches) MRPC in GLUE layout. Throws one clear error when nothing works. */
export async function locateMrpc(dataDir?: string, opts: { allowDownload?: boolean; timeoutMs?: number } = {}): Promise<string> {
  if (dataDir) {
    if (!hasGlueFiles(dataDir)) throw new Error(`--data-dir ${dataDir}: expected GLUE MRPC files train.tsv and dev.tsv there`);
    return dataDir;
  }
  const shared = sharedMrpcDir();
  if (shared) return shared;
  const cached = path.join(cacheRoot(), 'data', 'mrpc');
  if (hasGlueFiles(cached)) return cached;
  if (opts.allowDownload === false) throw new Error(`MRPC not found: pass --data-dir (GLUE layout) or run online once to cache it in ${cached}`);
  const bufs: Buffer[] = [];
  for (const src of MRPC_SOURCES) {
    let buf: Buffer;
    try {
      buf = await download(src.url, opts.timeoutMs ?? 15000);
    } catch (e) {
      throw new Error(`MRPC not found locally and downloading ${src.url} failed (${(e as Error).message}; offline?). ` +
        `Pass --data-dir with GLUE-layout MRPC (train.tsv, dev.tsv, test.tsv).`);
    }
    const got = createHash('sha256').update(buf).digest('hex');
    if (got !== src.sha256) throw new Error(`${src.url}: sha256 ${got} does not match the expected ${src.sha256}; refusing to use it`);
    bufs.push(buf);
  }
  const files = formatMrpc(bufs[0]!.toString('utf8'), bufs[1]!.toString('utf8'), bufs[2]!.toString('utf8'));
  const tmp = `${cached}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(tmp, `${name}.tsv`), text);
  mkdirSync(path.dirname(cached), { recursive: true });
  renameSync(tmp, cached);
  return cached;
}
