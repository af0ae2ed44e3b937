import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { register, tokenizeJsonLines } from '../src/cli/commands/tokenize.js';
import { UsageError, exitCodeFor } from '../src/cli/errors.js';
import { DataError } from '../src/data/errors.js';
import { BertTokenizer } from '../src/tokenizer/index.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'bertfit-tokenize-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// ids: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4 hello=5 world=6 !=7 ##s=8 a=9 b=10 c=11 caf=12 ##e=13 Hello=14
const vocab = path.join(dir, 'vocab.txt');
writeFileSync(vocab, '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n!\n##s\na\nb\nc\ncaf\n##e\nHello\n');
const noCls = path.join(dir, 'nocls.txt');
writeFileSync(noCls, '[PAD]\n[UNK]\n[SEP]\nhello\n');

function run(args: string[], input: string | Buffer): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, 'tokenize', ...args], { input, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('bertfit tokenize: JSON lines in, tokens/input_ids/token_type_ids lines out, exit 0', () => {
  const input = '{"text_a": "Hello worlds!", "text_b": "Café"}\n\n{"text_a": "a b c", "label": 1}\r\n{"text_a": "x", "text_b": null}';
  const r = run(['--vocab', vocab], input);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.deepEqual(r.stdout.split('\n'), [
    '{"tokens":["[CLS]","hello","world","##s","!","[SEP]","caf","##e","[SEP]"],"input_ids":[2,5,6,8,7,3,12,13,3],"token_type_ids":[0,0,0,0,0,0,1,1,1]}',
    '{"tokens":["[CLS]","a","b","c","[SEP]"],"input_ids":[2,9,10,11,3],"token_type_ids":[0,0,0,0,0]}',
    '{"tokens":["[CLS]","[UNK]","[SEP]"],"input_ids":[2,1,3],"token_type_ids":[0,0,0]}',
    '',
  ]);
  const truncated = run(['--vocab', vocab, '--max-len', '5', '--cased'], '{"text_a": "Hello world", "text_b": "a b c"}\n');
  assert.equal(truncated.status, 0, truncated.stderr);
  assert.equal(truncated.stdout,
    '{"tokens":["[CLS]","Hello","[SEP]","a","[SEP]"],"input_ids":[2,14,3,9,3],"token_type_ids":[0,0,0,1,1]}\n');
});

// In-process, so each case does not pay for a Node start-up; the spawned run above covers the exit code.
function parseFlags(args: string[]): Promise<unknown> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  register(program);
  return program.parseAsync(['tokenize', ...args], { from: 'user' });
}

test('bertfit tokenize: bad flags are usage errors (exit 2)', async () => {
  const r = run(['--vocab', vocab, '--max-len', '2'], '{"text_a": "a"}\n');
  assert.equal(r.status, 2);
  assert.equal(r.stderr, 'bertfit: --max-len must be an integer >= 3, got "2"\n');
  await assert.rejects(parseFlags([]), { code: 'commander.missingMandatoryOptionValue', message: "error: required option '--vocab <file>' not specified" });
  for (const [args, message] of [
    [['--vocab', vocab, '--max-len', '12x'], '--max-len must be an integer >= 3, got "12x"'],
    [['--vocab', vocab, '--max-len', '-4'], '--max-len must be an integer >= 3, got "-4"'],
    [['--vocab', vocab, '--max-word-chars', '0'], '--max-word-chars must be an integer >= 1, got "0"'],
    [['--vocab', path.join(dir, 'nope.txt')], `--vocab: no such file: ${path.join(dir, 'nope.txt')}`],
  ] as const) {
    await assert.rejects(parseFlags([...args]), (e: unknown) => e instanceof UsageError && e.message === message && exitCodeFor(e) === 2);
  }
});

test('bertfit tokenize: bad input names the stdin line (exit 1); earlier lines are still written', async () => {
  const r = run(['--vocab', vocab], '{"text_a": "a"}\n{"text_a": "b", oops}\n');
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '{"tokens":["[CLS]","a","[SEP]"],"input_ids":[2,9,3],"token_type_ids":[0,0,0]}\n');
  assert.match(r.stderr, /^bertfit: stdin:2: invalid JSON: /);
  await assert.rejects(parseFlags(['--vocab', noCls]), (e: unknown) => e instanceof DataError && exitCodeFor(e) === 1 &&
    e.message === `${noCls}: vocabulary lacks the special token(s) [CLS] (is this a BERT vocab.txt?)`);
});

async function tokenizeText(input: string | Buffer[], maxLen?: number): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await tokenizeJsonLines(Readable.from(typeof input === 'string' ? [Buffer.from(input)] : input), out,
    BertTokenizer.fromVocabFile(vocab), maxLen);
  return Buffer.concat(chunks).toString('utf8');
}

test('tokenizeJsonLines: lines split across chunks, multi-byte characters across chunk ends, BOM', async () => {
  const text = Buffer.from('\ufeff{"text_a": "café"}\n{"text_a": "b"}\n');
  const oneByOne = Array.from(text, (b) => Buffer.from([b]));
  const expected = '{"tokens":["[CLS]","caf","##e","[SEP]"],"input_ids":[2,12,13,3],"token_type_ids":[0,0,0,0]}\n' +
    '{"tokens":["[CLS]","b","[SEP]"],"input_ids":[2,10,3],"token_type_ids":[0,0,0]}\n';
  assert.equal(await tokenizeText(oneByOne), expected);
  assert.equal(await tokenizeText(text.toString('utf8')), expected);
});

test('tokenizeJsonLines: errors name the line and field', async () => {
  await assert.rejects(tokenizeText([Buffer.from('{"text_a": "a"}\n{"text_a": "'), Buffer.from([0xff]), Buffer.from('"}\n')]),
    { name: 'DataError', message: 'stdin:2: invalid UTF-8 (input must be UTF-8 encoded)' });
  await assert.rejects(tokenizeText('\n{"text_b": "a"}\n'), { name: 'DataError', message: 'stdin:2: field "text_a": missing field' });
  await assert.rejects(tokenizeText('{"text_a": "a", "text_b": 5}\n'), { name: 'DataError', message: 'stdin:1: field "text_b": expected a string, got 5' });
  await assert.rejects(tokenizeText('["a"]\n'), { name: 'DataError', message: 'stdin:1: expected a JSON object, got an array' });
});
