import { InvalidInput } from '../errors.js';

/**
 * Azure ML command templates: `${{inputs.x}}`, `${{outputs.y}}`, `${{search_space.z}}` references,
 * and `$[[ … ]]` optional parts (kept only when every input they reference was given).
 *
 * Values never reach the shell unquoted: each reference is replaced by its value quoted for the
 * place it stands in — outside quotes as one single-quoted word, inside '…' with each ' closed and
 * escaped, inside "…" with \ $ ` " escaped. The scanner is hand-written because it must know the
 * quoting state of the POSIX shell at each reference, which no template library tracks.
 */

const REF = /\$\{\{\s*([A-Za-z_][\w]*(?:\.[A-Za-z_][\w.-]*)*)\s*\}\}/g;

/** What a reference may name: `inputs.x` → its value; undefined = not known (a 400 names it). */
export type Resolve = (ref: string) => string | undefined;

/** The references a command (or any template) makes, e.g. ['inputs.lr', 'outputs.model']. */
export function references(template: string): string[] {
  // matchAll starts at the pattern's lastIndex, which renderCommand's exec loop leaves behind.
  return [...template.matchAll(new RegExp(REF.source, 'g'))].map((m) => m[1]!);
}

/** Single-quotes `v` as one shell word. */
export function shellQuote(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

/**
 * The final command: optional parts resolved, references substituted and quoted. `optional(ref)`
 * says whether an unknown reference may drop the `$[[…]]` part it stands in (an optional input not
 * given) instead of being an error.
 */
export function renderCommand(
  command: string,
  resolve: Resolve,
  opts: { target?: string; optional?: (ref: string) => boolean } = {},
): string {
  const target = opts.target ?? 'properties.command';
  // $[[ … ]]: keep the inside when all its references resolve, else drop it (Azure ML's optional inputs).
  const withOptional = command.replace(/\$\[\[([\s\S]*?)\]\]/g, (_, inner: string) =>
    references(inner).every((r) => resolve(r) !== undefined) ? inner : '',
  );
  for (const ref of references(withOptional)) {
    if (resolve(ref) === undefined) {
      const optional = opts.optional?.(ref);
      throw new InvalidInput(
        optional
          ? `${target} uses the optional ${ref} outside of $[[ … ]]; give it a value, or wrap its part of the command in $[[ … ]]`
          : `${target} refers to \${{${ref}}}, which the job does not define; declare it (e.g. under ${ref.split('.')[0]}) or remove the reference`,
        { code: 'INVALID_INPUT', target },
      );
    }
  }
  let out = '';
  let state: 'plain' | 'single' | 'double' = 'plain';
  let i = 0;
  while (i < withOptional.length) {
    REF.lastIndex = i;
    const m = REF.exec(withOptional);
    const next = m ? m.index : withOptional.length;
    // Copy the text before the next reference, tracking the shell's quoting state.
    for (; i < next; i++) {
      const c = withOptional[i]!;
      out += c;
      if (state === 'plain') {
        if (c === '\\' && i + 1 < next) out += withOptional[++i];
        else if (c === "'") state = 'single';
        else if (c === '"') state = 'double';
      } else if (state === 'single') {
        if (c === "'") state = 'plain';
      } else {
        if (c === '\\' && i + 1 < next) out += withOptional[++i];
        else if (c === '"') state = 'plain';
      }
    }
    if (!m) break;
    const value = resolve(m[1]!)!;
    if (state === 'plain') out += shellQuote(value);
    else if (state === 'single') out += value.replace(/'/g, `'\\''`);
    else out += value.replace(/[\\$`"]/g, (x) => `\\${x}`);
    i = m.index + m[0].length;
  }
  return out;
}

/**
 * An ISO 8601 duration (`PT5M`, `P1DT2H`, `PT0.5S`) or a number of seconds, in milliseconds.
 * Azure ML's limits use the ISO form; YAML files often give seconds.
 */
export function parseDuration(v: unknown, target: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return Math.round(v * 1000);
  if (typeof v === 'string') {
    if (/^\d+(\.\d+)?$/.test(v) && Number(v) > 0) return Math.round(Number(v) * 1000);
    const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(v);
    if (m && v.length > 1 && !/T$/i.test(v)) {
      const ms =
        (Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0)) * 1000;
      if (ms > 0) return Math.round(ms);
    }
  }
  throw new InvalidInput(
    `${target} must be a positive ISO 8601 duration like 'PT30M' or 'P1DT2H' (or a number of seconds); got ${JSON.stringify(v)}`,
    { code: 'INVALID_INPUT', target },
  );
}

/** The ISO 8601 form of a duration in ms (as Azure ML answers limits). */
export function formatDuration(ms: number): string {
  let s = ms / 1000;
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const time = `${h ? `${h}H` : ''}${m ? `${m}M` : ''}${s ? `${Number(s.toFixed(3))}S` : ''}`;
  const out = `P${d ? `${d}D` : ''}${time ? `T${time}` : ''}`;
  return out === 'P' ? 'PT0S' : out;
}
