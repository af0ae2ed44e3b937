// Tokenizer throughput on MRPC train (3668 pairs): read + tokenize + pair-encode, reported as tokens/s on
// one core (Node runs this single-threaded). `npm run bench:tokenizer`; needs ../shared beside the checkout.
import path from 'node:path';
import { sharedDir as shared } from '../src/util/paths.js';
import { encodeDataset } from '../src/data/encode.js';
import { taskDatasets } from '../src/data/tasks.js';
import { BertTokenizer } from '../src/tokenizer/tokenizer.js';

const MAX_LEN = 128;
const REPEATS = 20;

const ms = (t0: number): number => performance.now() - t0;

let t0 = performance.now();
const tokenizer = BertTokenizer.fromVocabFile(path.join(shared, 'tokenizer/vocab/bert-base-uncased.txt'));
const vocabMs = ms(t0);
t0 = performance.now();
const { train, labels } = taskDatasets('mrpc', path.join(shared, 'data/mrpc'));
const readMs = ms(t0);

// Wall time and this process's CPU time: on a busy shared machine the CPU time is the fairer measure of
// what one core does.
const times: number[] = [];
const cpuTimes: number[] = [];
let tokens = 0;
for (let r = 0; r < REPEATS; r++) {
  t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const encoded = encodeDataset(train, tokenizer, labels, MAX_LEN);
  const cpu = process.cpuUsage(cpu0);
  times.push(ms(t0));
  cpuTimes.push((cpu.user + cpu.system) / 1000);
  tokens = encoded.reduce((n, e) => n + e.inputIds.length, 0);
}
const medianOf = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const median = medianOf(times);
const best = Math.min(...times);
const rate = (t: number): string => `${(tokens / (t / 1000) / 1e6).toFixed(2)}M tokens/s`;

console.log(`MRPC train: ${train.length} pairs, ${tokens} tokens (max_len ${MAX_LEN}, [CLS]/[SEP] included), Node ${process.version}`);
console.log(`load vocab.txt:             ${vocabMs.toFixed(1)} ms`);
console.log(`read train/dev/test.tsv:    ${readMs.toFixed(1)} ms`);
console.log(`tokenize+encode, 1st run:   ${times[0]!.toFixed(1)} ms (${rate(times[0]!)})`);
console.log(`tokenize+encode, median of ${REPEATS}: ${median.toFixed(1)} ms (${rate(median)}); best ${best.toFixed(1)} ms (${rate(best)})`);
console.log(`tokenize+encode, median CPU time: ${medianOf(cpuTimes).toFixed(1)} ms (${rate(medianOf(cpuTimes))})`);
