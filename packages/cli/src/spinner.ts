import yoctoSpinner from 'yocto-spinner';
import type { OperationProgress } from '@atelier/sdk';

/**
 * Runs `work` with a spinner on standard error while it lasts: only when standard error is a
 * terminal, so pipes and logs stay clean. `progress` updates the text from LRO polls.
 */
export async function withSpinner<T>(
  text: string,
  done: string,
  work: (progress: (p: OperationProgress) => void) => Promise<T>,
): Promise<T> {
  if (!process.stderr.isTTY) return work(() => {});
  const spinner = yoctoSpinner({ text, stream: process.stderr }).start();
  try {
    const out = await work((p) => {
      spinner.text = `${text} (${p.status}, ${(p.elapsedMs / 1000).toFixed(1)} s)`;
    });
    spinner.success(done);
    return out;
  } catch (e) {
    spinner.error(`${text.replace(/…$/, '')}: failed`);
    throw e;
  }
}
