import ipaddr from 'ipaddr.js';
import { InvalidInput } from '../errors.js';

/** A network in CIDR notation, parsed (ipaddr.js does the address arithmetic). */
export interface Network {
  text: string;
  address: ipaddr.IPv4 | ipaddr.IPv6;
  bits: number;
}

const bad = (target: string, message: string) => new InvalidInput(`${target}: ${message}`, { target });

/**
 * Parses a network as Azure takes address prefixes: `a.b.c.d/n` (or IPv6) whose address is the
 * network's first address (`10.0.0.5/24` is refused, naming `10.0.0.0/24`).
 */
export function parseNetwork(text: unknown, target: string): Network {
  if (typeof text !== 'string' || !text.includes('/'))
    throw bad(target, `'${String(text)}' is not a network: use CIDR notation such as 10.0.0.0/16`);
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(text.trim());
  } catch {
    throw bad(target, `'${text}' is not a network: use CIDR notation such as 10.0.0.0/16`);
  }
  const [address, bits] = parsed;
  const first =
    address.kind() === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(text.trim())
      : ipaddr.IPv6.networkAddressFromCIDR(text.trim());
  if (first.toString() !== address.toString())
    throw bad(target, `'${text}' is not the start of its network; use ${first.toString()}/${bits}`);
  return { text: `${address.toString()}/${bits}`, address, bits };
}

/** Whether `inner` lies within `outer`. */
export function within(inner: Network, outer: Network): boolean {
  return (
    inner.address.kind() === outer.address.kind() &&
    inner.bits >= outer.bits &&
    inner.address.match(outer.address, outer.bits)
  );
}

/** Whether two networks share an address. */
export function overlap(a: Network, b: Network): boolean {
  return within(a, b) || within(b, a);
}

/** Reads `addressPrefix` and/or `addressPrefixes` of a subnet's properties: 1–50 networks. */
export function prefixesOf(p: Record<string, unknown>, target: string): Network[] {
  const texts: unknown[] = [];
  if (p.addressPrefix !== undefined && p.addressPrefix !== null) texts.push(p.addressPrefix);
  if (p.addressPrefixes !== undefined && p.addressPrefixes !== null) {
    if (!Array.isArray(p.addressPrefixes))
      throw bad(`${target}.addressPrefixes`, 'must be a list of networks, e.g. ["10.0.1.0/24"]');
    texts.push(...(p.addressPrefixes as unknown[]));
  }
  if (texts.length === 0 || texts.length > 50)
    throw bad(target, 'give addressPrefix (one network, e.g. "10.0.1.0/24") or addressPrefixes (1–50 networks)');
  const out = texts.map((t, i) =>
    parseNetwork(t, i === 0 && p.addressPrefix !== undefined ? `${target}.addressPrefix` : `${target}.addressPrefixes`),
  );
  checkDisjoint(out, target);
  return out;
}

/** Refuses a list of networks two of which overlap. */
export function checkDisjoint(nets: Network[], target: string): void {
  for (let i = 0; i < nets.length; i++)
    for (let j = i + 1; j < nets.length; j++)
      if (overlap(nets[i]!, nets[j]!)) throw bad(target, `networks ${nets[i]!.text} and ${nets[j]!.text} overlap`);
}
