import { read } from 'read';
import { UsageError } from './output.js';

/** Asks on the terminal; without one, says which option to pass instead. */
export async function ask(
  question: string,
  opts: { silent?: boolean; option: string; default?: string },
): Promise<string> {
  if (!process.stdin.isTTY) throw new UsageError(`${opts.option} is needed (no terminal to ask on)`);
  const answer = await read({
    prompt: question,
    silent: opts.silent,
    replace: opts.silent ? '*' : undefined,
    default: opts.default,
    output: process.stderr,
  });
  return answer.trim();
}

/** A yes/no confirmation; `--yes` skips it, and without a terminal it is required. */
export async function confirm(question: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY)
    throw new UsageError(`${question.replace(/\?$/, '')}: pass --yes to confirm (no terminal to ask on)`);
  const answer = await read({ prompt: `${question} (y/N) `, output: process.stderr });
  if (!/^y(es)?$/i.test(answer.trim())) throw new UsageError('cancelled');
}

/** `--tags k=v …` → tags. */
export function parseTags(values: string[] | undefined): Record<string, string> | undefined {
  if (!values) return undefined;
  const tags: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i <= 0) throw new UsageError(`tag '${v}' must be key=value`);
    tags[v.slice(0, i)] = v.slice(i + 1);
  }
  return tags;
}

export const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];
