/**
 * Progress bars for long CLI jobs (cli-progress). One bar per stage; on a non-TTY stream (CI, pipes)
 * it prints one line when each stage finishes instead of redrawing.
 */
import cliProgress from 'cli-progress';

export type ProgressFn = (stage: string, done: number, total: number) => void;

export interface ProgressUi {
  update: ProgressFn;
  stop(): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr): ProgressUi {
  const tty = Boolean(stream.isTTY);
  let bar: cliProgress.SingleBar | undefined;
  let current = '';
  let started = 0;
  let lastTotal = 0;
  const finish = () => {
    if (!current) return;
    if (bar) bar.stop();
    else stream.write(`  ${current}: ${lastTotal} done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    bar = undefined;
    current = '';
  };
  return {
    update(stage, done, total) {
      if (stage !== current) {
        finish();
        current = stage;
        started = performance.now();
        if (tty) {
          bar = new cliProgress.SingleBar(
            { format: `  ${stage.padEnd(18)} [{bar}] {percentage}% | {value}/{total} | {duration_formatted}`, stream, hideCursor: true, clearOnComplete: false },
            cliProgress.Presets.shades_classic,
          );
          bar.start(total, done);
        }
      }
      lastTotal = total;
      bar?.setTotal(total);
      bar?.update(done);
    },
    stop: finish,
  };
}
