import cliProgress from 'cli-progress';

/** What the SDK reports while it moves files (datastore and tracking transfers alike). */
export interface ByteProgress {
  file: string;
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export const humanBytes = (n: number): string =>
  n < 1024
    ? `${n} B`
    : n < 1 << 20
      ? `${(n / 1024).toFixed(1)} KiB`
      : n < 1 << 30
        ? `${(n / (1 << 20)).toFixed(1)} MiB`
        : `${(n / (1 << 30)).toFixed(2)} GiB`;

/**
 * A byte progress bar on standard error, drawn only when it is a terminal. The payload names avoid
 * cli-progress's own `{total}`/`{value}` fields, which it fills with raw numbers.
 */
export function progressBar(verb: string): { onProgress: (p: ByteProgress) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { onProgress: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    {
      format: `${verb} [{bar}] {percentage}% | {doneSize}/{totalSize} | {files} files | {file}`,
      hideCursor: true,
      clearOnComplete: false,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    onProgress: (p) => {
      const payload = {
        doneSize: humanBytes(p.bytesDone),
        totalSize: humanBytes(p.bytesTotal),
        files: `${p.filesDone}/${p.filesTotal}`,
        file: p.file,
      };
      if (!started) {
        started = true;
        bar.start(Math.max(p.bytesTotal, 1), p.bytesDone, payload);
      } else bar.update(p.bytesDone, payload);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
