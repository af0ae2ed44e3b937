// Progress reporting for long work: a progress bar on a TTY (step, loss, seq/s, ETA), plain lines otherwise,
// plus a machine-readable JSON-lines log.
import { SingleBar, Presets } from 'cli-progress';
import { openSync, writeSync, closeSync, fsyncSync } from 'node:fs';
import { withFileErrors } from '../util/fs-errors.js';

export interface ProgressSink {
  /** a human line (log lines of the recipe); printed above the bar on a TTY */
  line(text: string): void;
  /** bar update (TTY only; ignored otherwise) */
  tick(step: number, payload: { loss: number; seqPerSec: number }): void;
  start(total: number, startAt: number): void;
  stop(): void;
}

export function makeProgress(stream: NodeJS.WriteStream = process.stderr, forceBar?: boolean): ProgressSink {
  const useBar = forceBar ?? (stream.isTTY === true && process.env.CI !== 'true');
  if (!useBar) {
    return {
      line: (t) => { stream.write(t + '\n'); },
      tick: () => {},
      start: () => {},
      stop: () => {},
    };
  }
  const bar = new SingleBar({
    stream,
    format: 'step {value}/{total} |{bar}| loss {loss} | {sps} seq/s | ETA {eta_formatted}',
    hideCursor: true,
    clearOnComplete: true,
    etaBuffer: 20,
  }, Presets.shades_classic);
  let running = false;
  return {
    line: (t) => {
      if (running) { stream.write('\r\x1b[2K' + t + '\n'); bar.updateETA(); bar.render(); }
      else stream.write(t + '\n');
    },
    tick: (step, p) => { if (running) bar.update(step, { loss: p.loss.toFixed(4), sps: p.seqPerSec.toFixed(1) }); },
    start: (total, startAt) => { bar.start(total, startAt, { loss: '-', sps: '-' }); running = true; },
    stop: () => { if (running) bar.stop(); running = false; },
  };
}

/** Append-only JSON-lines log (one object per line), flushed line by line so a crash keeps what was logged. */
export class JsonlLog {
  private fd: number;
  constructor(readonly file: string, append: boolean, private readonly listener?: (record: Record<string, unknown>) => void) {
    this.fd = withFileErrors(file, append ? 'append to' : 'create', () => openSync(file, append ? 'a' : 'w'));
  }
  write(obj: Record<string, unknown>): void {
    withFileErrors(this.file, 'write', () => writeSync(this.fd, JSON.stringify(obj) + '\n'));
    this.listener?.(obj);
  }
  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      withFileErrors(this.file, 'sync', () => fsyncSync(fd));
    } finally {
      closeSync(fd);
    }
  }
}
