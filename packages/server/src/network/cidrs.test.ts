import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { overlap, parseNetwork, prefixesOf, within } from './cidrs.js';

describe('network ranges (CIDRs)', () => {
  const n = (t: unknown) => parseNetwork(t, 'x');
  it('parses IPv4 and IPv6 networks that start at their first address', () => {
    assert.equal(n('10.0.0.0/16').text, '10.0.0.0/16');
    assert.equal(n('fd00::/64').text, 'fd00::/64');
    assert.throws(() => n('10.0.0.1/16'), /use 10\.0\.0\.0\/16/);
    assert.throws(() => n('fd00::1/64'), /use fd00::\/64/);
    assert.throws(() => n('10.0.0.0'), /CIDR notation/);
    assert.throws(() => n('10.0.0.0/33'), /not a network/);
    assert.throws(() => n(42), /not a network/);
  });
  it('tells containment and overlap, never across families', () => {
    assert.ok(within(n('10.0.1.0/24'), n('10.0.0.0/16')));
    assert.ok(!within(n('10.0.0.0/16'), n('10.0.1.0/24')));
    assert.ok(!within(n('10.1.0.0/24'), n('10.0.0.0/16')));
    assert.ok(overlap(n('10.0.0.0/16'), n('10.0.1.0/24')));
    assert.ok(!overlap(n('10.0.0.0/24'), n('10.0.1.0/24')));
    assert.ok(!overlap(n('::/0'), n('10.0.0.0/8')));
  });
  it("reads a subnet's addressPrefix or addressPrefixes, refusing overlaps among them", () => {
    assert.deepEqual(
      prefixesOf({ addressPrefix: '10.0.0.0/24' }, 'p').map((x) => x.text),
      ['10.0.0.0/24'],
    );
    assert.throws(() => prefixesOf({ addressPrefixes: ['10.0.0.0/24', '10.0.0.0/25'] }, 'p'), /overlap/);
    assert.throws(() => prefixesOf({}, 'p'), /give addressPrefix/);
    assert.throws(() => prefixesOf({ addressPrefixes: '10.0.0.0/24' }, 'p'), /must be a list/);
  });
});
