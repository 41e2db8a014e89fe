/**
 * Long operator commands: progress on standard error (a bar on a terminal, plain lines
 * otherwise, e.g. in CI and tests) and Ctrl-C handling (stop after the current batch).
 */
import { SingleBar, Presets } from 'cli-progress';

export interface Progress {
  /** `done` of `total` (null: unknown) after a batch. */
  update(done: number, total: number | null): void;
  /** Ends the bar (before the command prints its result). */
  stop(): void;
}

/** A bar when standard error is a terminal; else one line per update ("<label>: 40/120"). */
export function progress(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY) {
    let bar: SingleBar | null = null;
    return {
      update(done, total) {
        if (!bar) {
          bar = new SingleBar({ stream, format: `${label} [{bar}] {value}/{total} {percentage}% eta {eta_formatted}`, hideCursor: true, clearOnComplete: false }, Presets.shades_classic);
          bar.start(total ?? done, done);
        }
        if (total !== null) bar.setTotal(total);
        bar.update(done);
      },
      stop() {
        bar?.stop();
      },
    };
  }
  return {
    update(done, total) {
      stream.write(`${label}: ${done}${total === null ? '' : `/${total}`}\n`);
    },
    stop() {},
  };
}

/**
 * Ctrl-C (SIGINT) while a long command runs: the first asks it to stop after the current
 * batch (the command checks `requested` between batches and exits 130); a second one exits
 * at once, also with 130. Work done so far is kept, and running the command again continues.
 */
export class Interrupt {
  requested = false;
  private readonly onSignal = () => {
    if (this.requested) {
      process.stderr.write('interrupted again: exiting now\n');
      process.exit(130);
    }
    this.requested = true;
    process.stderr.write(`interrupt: stopping after the current batch (Ctrl-C again to exit now); run the same command again to continue\n`);
  };

  constructor() {
    process.on('SIGINT', this.onSignal);
  }

  /** Back to the default (exit on Ctrl-C). */
  release(): void {
    process.off('SIGINT', this.onSignal);
  }
}
