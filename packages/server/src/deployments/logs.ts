import fs from 'node:fs';

/**
 * Resolves once `log` has written out everything given to it so far (an empty write's callback comes
 * after those before it): an engine's log read then holds every line the engine has logged.
 */
export function writtenOut(log: fs.WriteStream): Promise<void> {
  if (log.writableEnded || log.destroyed) return Promise.resolve();
  return new Promise((resolve) => log.write('', () => resolve()));
}

/**
 * Writes `text` to an engine's log, each of its non-empty lines after a timestamp and `source`
 * (`[atelier]`, `[instance-0]`, …), the shape of every line of a deployment's log.
 */
export function logLines(log: fs.WriteStream, source: string, text: string): void {
  const prefix = `${new Date().toISOString()} ${source} `;
  log.write(
    text
      .split('\n')
      .filter((l) => l.length)
      .map((l) => prefix + l + '\n')
      .join(''),
  );
}

/** Most bytes read from the end of a log to find its last lines. */
const TAIL_BYTES = 1024 * 1024;

/** The last `lines` lines of a log file (all of its last MiB when `lines` is absent); '' when there is none. */
export async function tailFile(file: string, lines?: number): Promise<string> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await fh.stat();
    const n = Math.min(size, TAIL_BYTES);
    const buf = Buffer.alloc(n);
    await fh.read(buf, 0, n, size - n);
    let text = buf.toString('utf8');
    if (n < size) text = text.slice(text.indexOf('\n') + 1);
    if (lines === undefined) return text;
    const all = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
    return lines <= 0 ? '' : all.slice(-lines).join('\n') + (all.length ? '\n' : '');
  } finally {
    await fh.close();
  }
}
