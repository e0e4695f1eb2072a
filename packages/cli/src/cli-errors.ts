import type { Command } from 'commander';

const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The flag of `cmd` (or of an ancestor: the global options) that sets the SDK option `name`. */
function flagFor(cmd: Command | undefined, name: string): string | undefined {
  for (let c: Command | null | undefined = cmd; c; c = c.parent) {
    for (const o of c.options) {
      if (o.attributeName() === name) return [o.short, o.long].filter(Boolean).join('/');
      if (o.negate && o.long === `--no-${kebab(name)}`) return o.long;
    }
  }
  return undefined;
}

/** The SDK's option names whose CLI flag is not the option name in kebab case. */
const RENAMED: Record<string, string> = { subscriptionId: 'subscription', workspaceName: 'workspace' };

/**
 * Rewrites the SDK's advice ("pass existOk: true", "say which with resourceGroup") in the flags of
 * the command that failed ("add --exist-ok", "say which with -g/--resource-group"). Advice naming
 * an option the command has no flag for is left as it is.
 */
export function inFlags(message: string, cmd: Command | undefined): string {
  return message
    .replace(/\bpass (\w+): true\b/g, (all, name: string) => {
      const flag = flagFor(cmd, RENAMED[name] ?? name);
      if (!flag) return all;
      return flag.startsWith('--no-') ? `leave out ${flag}` : `add ${flag}`;
    })
    .replace(/\bwith (subscriptionId|resourceGroup|workspaceName)\b/g, (all, name: string) => {
      const flag = flagFor(cmd, RENAMED[name] ?? name);
      return flag ? `with ${flag}` : all;
    })
    .replace(/(?<![-\w])([a-z]+[A-Z]\w*)\b/g, (all, name: string) => {
      // A body field the server names ("currentPassword is wrong") that this command has a flag for.
      const flag = [...(cmd?.options ?? [])].find((o) => o.attributeName() === name && o.long);
      return flag ? flag.long! : all;
    });
}
