// `bertfit serve`: the HTTP inference server (src/serve/server.ts) from the command line. This file only parses
// flags; the library checks their values (OptionError, shown with the flag's name) and does everything else.
import { Option, type Command } from 'commander';
import { startServer, type InternalServeOptions, type ServeOptions } from '../../serve/server.js';
import { numberFlag } from '../data-options.js';

interface ServeFlags {
  model: string;
  host: string;
  port: string;
  dtype: 'fp32' | 'bf16';
  threads?: string;
  maxLen?: string;
  maxBatchTokens: string;
  maxWaitMs: string;
  payloadLimit: string;
  maxClientBatchSize: string;
  maxConcurrentRequests: string;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve a fine-tuned classifier over HTTP with dynamic batching: POST /predict (Text Embeddings Inference), ' +
      'POST / (Hugging Face Inference API), GET /health, /info, /metrics (Prometheus)')
    .requiredOption('--model <spec>', 'fine-tuned checkpoint directory (or any --model spec finetune takes)')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <n>', 'TCP port (0: any free one, printed when listening)', '8080')
    .addOption(new Option('--dtype <dtype>', 'compute type: fp32, or bf16 GEMMs (fp32 accumulation)').choices(['fp32', 'bf16']).default('fp32'))
    .option('--threads <n>', 'compute threads (default: BERTFIT_THREADS or all cores)')
    .option('--max-len <n>', "longest input in tokens incl. [CLS]/[SEP] (default: the model's max_position_embeddings)")
    .option('--max-batch-tokens <n>', 'budget of one batch in padded tokens (rows x longest row)', '16384')
    .option('--max-wait-ms <ms>', 'longest wait for more inputs to batch with, while more requests are arriving', '2')
    .option('--payload-limit <bytes>', 'largest request body', '2000000')
    .option('--max-client-batch-size <n>', 'most inputs in one request', '32')
    .option('--max-concurrent-requests <n>', 'most requests in flight; more are answered 429', '512')
    .action(async (f: ServeFlags) => {
      const options: ServeOptions = {
        model: f.model, host: f.host, port: numberFlag('port', f.port), dtype: f.dtype, threads: numberFlag('threads', f.threads),
        maxLen: numberFlag('max-len', f.maxLen), maxBatchTokens: numberFlag('max-batch-tokens', f.maxBatchTokens),
        maxWaitMs: numberFlag('max-wait-ms', f.maxWaitMs), payloadLimit: numberFlag('payload-limit', f.payloadLimit),
        maxClientBatchSize: numberFlag('max-client-batch-size', f.maxClientBatchSize),
        maxConcurrentRequests: numberFlag('max-concurrent-requests', f.maxConcurrentRequests),
        log: (line) => process.stderr.write(`bertfit serve: ${line}\n`),
      };
      // Undocumented test hook: the worker sleeps this long before each batch (keeps requests in flight).
      const internal: InternalServeOptions = {};
      const delay = process.env.BERTFIT_SERVE_TEST_DELAY_MS;
      if (delay) internal.batchDelayMs = Number(delay);
      const server = await startServer(options, internal);
      for (const n of server.notices) process.stderr.write(`note: ${n}\n`);
      process.stdout.write(`listening on ${server.url}\n`);
      // SIGTERM / SIGINT: stop accepting, answer what is in flight, exit 0. A second signal exits at once.
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals): void => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          process.once('SIGTERM', () => process.exit(130));
          process.once('SIGINT', () => process.exit(130));
          process.stderr.write(`bertfit serve: ${signal}: finishing the requests in flight, then exiting\n`);
          server.close().then(resolve, (e: unknown) => {
            process.stderr.write(`bertfit serve: ${e instanceof Error ? e.message : String(e)}\n`);
            resolve();
          });
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
    });
}
