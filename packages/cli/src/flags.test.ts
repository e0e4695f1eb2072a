import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { buildProgram } from './program.js';

/**
 * The whole command tree, walked without running anything (issue 13, item 16): one spelling of
 * each flag everywhere, and the global options in every command's help.
 */
const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
const pathOf = (c: Command): string => (c.parent ? `${pathOf(c.parent)} ${c.name()}` : c.name());

describe('CLI command tree', () => {
  const program = buildProgram();
  const commands = all(program);

  it('has many commands (the walk reaches the leaves)', () => {
    assert.ok(commands.filter((c) => c.commands.length === 0).length > 60, String(commands.length));
  });

  it('spells each flag one way: never both --x and --xs', () => {
    const where = new Map<string, string[]>();
    for (const c of commands)
      for (const o of c.options) if (o.long) where.set(o.long, [...(where.get(o.long) ?? []), pathOf(c)]);
    const clashes: string[] = [];
    for (const [flag, cmds] of where) {
      const plural = where.get(`${flag}s`);
      if (plural) clashes.push(`${flag} (${cmds.join(', ')}) beside ${flag}s (${plural.slice(0, 3).join(', ')}…)`);
    }
    assert.deepEqual(clashes, []);
  });

  it("shows the global options in every command's help", () => {
    const missing = commands
      .filter((c) => c !== program)
      .filter(
        (c) =>
          !/Global Options:[\s\S]*--output[\s\S]*--query <jmespath>[\s\S]*--ca-file <pem>/.test(c.helpInformation()),
      )
      .map(pathOf);
    assert.deepEqual(missing, []);
  });
});
