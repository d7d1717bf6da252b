/** Terminal progress bars (cli-progress) for downloads and training; silent when stderr is not a terminal. */
import cliProgress from 'cli-progress';
import type { LoadProgress } from '../model-io/load-model';

export function makeBar(format: string): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    { format, stream: process.stderr, hideCursor: true, clearOnComplete: false, noTTYOutput: false, notTTYSchedule: 5000 },
    cliProgress.Presets.shades_classic,
  );
}

/** Progress of a model load: one bar per file that reports bytes. */
export function loadProgress(): { onProgress: (p: LoadProgress) => void; done: () => void } {
  let bar: cliProgress.SingleBar | null = null;
  let file: string | undefined;
  const enabled = process.stderr.isTTY === true;
  return {
    onProgress(p) {
      if (!enabled || p.total === undefined || p.total === null || p.loaded === undefined) return;
      if (p.file !== file) {
        bar?.stop();
        file = p.file;
        bar = makeBar(`${p.file ?? 'download'} [{bar}] {percentage}% | {value}/{total} bytes`);
        bar.start(p.total, 0);
      }
      bar?.update(p.loaded);
    },
    done() {
      bar?.stop();
    },
  };
}
