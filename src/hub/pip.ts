// Downloading one wheel with the user's own pip, so their index, proxy and certificate settings apply unchanged.
import { spawn } from 'node:child_process';

export interface Pip {
  cmd: string;
  /** Arguments that come before pip's own subcommand (['-m', 'pip'] for `python3 -m pip`). */
  prefix: string[];
  /** How the command reads in messages, e.g. "python3 -m pip". */
  label: string;
}

interface RunResult {
  code: number | null;
  /** Set when the command could not be started at all (ENOENT, EACCES). */
  spawnError?: NodeJS.ErrnoException;
  stdout: string;
  stderr: string;
}

/** Keeps only the tail of pip's output: enough for the error line, bounded however chatty pip is. */
const OUTPUT_CAP = 64 * 1024;

function run(cmd: string, args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PYTHONUNBUFFERED: '1' },
    });
    const out = { stdout: '', stderr: '' };
    const keep = (key: 'stdout' | 'stderr') => (d: Buffer) => {
      out[key] = (out[key] + d.toString('utf8')).slice(-OUTPUT_CAP);
    };
    child.stdout.on('data', keep('stdout'));
    child.stderr.on('data', keep('stderr'));
    child.on('error', (e) => resolve({ code: null, spawnError: e, ...out }));
    child.on('close', (code) => resolve({ code, ...out }));
  });
}

/**
 * Finds a working pip: $BERTFIT_PIP (an executable taking pip's arguments) if set, else `python3 -m pip`,
 * then `pip3`, then `pip`. Throws one line naming everything it tried.
 */
export async function findPip(): Promise<Pip> {
  const override = process.env.BERTFIT_PIP;
  if (override) return { cmd: override, prefix: [], label: override };
  const candidates: Pip[] = [
    { cmd: 'python3', prefix: ['-m', 'pip'], label: 'python3 -m pip' },
    { cmd: 'pip3', prefix: [], label: 'pip3' },
    { cmd: 'pip', prefix: [], label: 'pip' },
  ];
  for (const pip of candidates) {
    const r = await run(pip.cmd, [...pip.prefix, '--version']);
    if (r.code === 0) return pip;
  }
  throw new Error(`pip not found: tried ${candidates.map((c) => `\`${c.label} --version\``).join(', ')}; ` +
    'install it (Debian: apt-get install python3-pip) or set BERTFIT_PIP to a pip executable');
}

/**
 * Runs `pip download --no-deps --no-cache-dir -d destDir requirement`. On failure throws one line: the command
 * and why it failed (see describeFailure).
 */
export async function pipDownload(pip: Pip, requirement: string, destDir: string): Promise<void> {
  const args = ['download', '--no-deps', '--no-cache-dir', '--progress-bar', 'off', '-d', destDir, requirement];
  const shown = `${pip.label} download --no-deps --no-cache-dir ${requirement}`;
  const r = await run(pip.cmd, [...pip.prefix, ...args]);
  if (r.spawnError) {
    throw new Error(`cannot run \`${shown}\`: ${pip.cmd}: ${r.spawnError.code ?? r.spawnError.message}` +
      (process.env.BERTFIT_PIP ? ' (set by BERTFIT_PIP)' : ''));
  }
  if (r.code !== 0) throw new Error(`\`${shown}\` failed (exit ${r.code}): ${describeFailure(`${r.stdout}\n${r.stderr}`)}`);
}

/**
 * One line saying why pip failed. When the index cannot be reached pip retries, then reports only
 * "Could not find a version ... (from versions: none)", which reads like a wrong name: the socket error from its
 * retry warnings is the real cause, so that wins.
 */
export function describeFailure(output: string): string {
  const lines = output.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const net = lines.find((l) => /Retrying|NewConnectionError|ConnectTimeoutError|ProxyError|SSLError|Read timed out/.test(l));
  if (net) {
    const cause = net.match(/\[Errno -?\d+\][^'")]*/)?.[0] ??
      net.match(/ProxyError|SSLError|CERTIFICATE_VERIFY_FAILED|Read timed out|ConnectTimeoutError/)?.[0] ?? net;
    return `package index unreachable (${cause.trim()})`;
  }
  const err = lines.find((l) => l.startsWith('ERROR:')) ?? lines.pop() ?? 'no output';
  return err.replace(/^ERROR:\s*/, '');
}
