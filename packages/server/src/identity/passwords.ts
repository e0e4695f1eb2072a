import crypto from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(crypto.scrypt) as (
  pw: string,
  salt: Buffer,
  len: number,
  opts: crypto.ScryptOptions,
) => Promise<Buffer>;

// scrypt from node:crypto (RFC 7914): memory-hard, no native add-on to install.
/** scrypt's cost parameters; each stored hash carries its own, so verification needs none. */
export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}
/** The cost of every hash a server makes (~0.1 s of CPU and 32 MiB each). */
export const SCRYPT_COST: ScryptCost = { N: 1 << 15, r: 8, p: 1 };
const KEYLEN = 32;
const MAXMEM = 64 * 1024 * 1024;

export async function hashPassword(password: string, cost: ScryptCost = SCRYPT_COST): Promise<string> {
  const salt = crypto.randomBytes(16);
  const { N, r, p } = cost;
  const hash = await scryptAsync(password, salt, KEYLEN, { N, r, p, maxmem: MAXMEM });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/** A hash no password matches, of the given cost: checked for unknown users, so they cost the same as known ones. */
export function dummyHash(cost: ScryptCost = SCRYPT_COST): string {
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`;
}

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  if (!stored) return false;
  const [alg, n, rr, pp, salt, hash] = stored.split('$');
  if (alg !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const got = await scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(rr),
    p: Number(pp),
    maxmem: MAXMEM,
  });
  return crypto.timingSafeEqual(expected, got);
}

export function generatePassword(): string {
  return crypto.randomBytes(18).toString('base64url');
}
