import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import {
  SignJWT,
  jwtVerify,
  decodeProtectedHeader,
  exportJWK,
  importJWK,
  generateKeyPair,
  type JWK,
  type JWTPayload,
} from 'jose';
type KeyLike = Awaited<ReturnType<typeof importJWK>>;
import type { Tables } from '../store/schema.js';
import type { KeyRing } from '../secrets/envelope.js';
import { Unauthenticated } from '../errors.js';

export interface TokenClaims extends JWTPayload {
  tid: string;
  oid: string;
  /** Access tokens only: 'user' or 'app' (service principal), as Entra ID sets it. */
  idtyp?: string;
  name?: string;
  upn?: string;
  appid?: string;
  scp?: string;
}

/** Audiences our tokens may carry: the server itself and the resource URIs Azure clients ask for. */
export const KNOWN_AUDIENCES = [
  'https://management.azure.com',
  'https://management.azure.com/',
  'https://management.core.windows.net',
  'https://management.core.windows.net/',
  'https://ml.azure.com',
  'https://ml.azure.com/',
  'https://storage.azure.com',
  'https://storage.azure.com/',
  'https://vault.azure.net',
  'https://vault.azure.net/',
];

/**
 * Issues and verifies access tokens: ES256 JWTs signed by keys kept in the database (private half
 * sealed with the master key) so every replica verifies every token, and a rotation keeps the old
 * public key for verification until tokens signed with it have expired.
 */
export class TokenService {
  private signer?: { kid: string; key: KeyLike };
  private verifiers = new Map<string, KeyLike>();
  private publicJwks: JWK[] = [];
  private loadedAt = 0;

  constructor(
    private readonly db: Kysely<Tables>,
    private readonly keys: KeyRing,
    readonly issuerBase: string,
    readonly tenantId: string,
    readonly ttlSeconds: number,
  ) {}

  get issuer(): string {
    return `${this.issuerBase}/${this.tenantId}/v2.0`;
  }
  get audiences(): string[] {
    return [this.issuerBase, `${this.issuerBase}/`, ...KNOWN_AUDIENCES];
  }

  async init(): Promise<void> {
    await this.reload();
    if (!this.signer) await this.rotate();
  }

  /**
   * Makes a new signing key; older keys keep verifying the tokens they signed until those have
   * expired (then `retireSuperseded` retires them), so a rotation logs nobody out.
   */
  async rotate(): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const kid = crypto.randomBytes(12).toString('base64url');
    const priv = await exportJWK(privateKey);
    const pub = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
    await this.db
      .insertInto('signing_keys')
      .values({
        kid,
        private_key: this.keys.sealWithMaster(JSON.stringify(priv), kid),
        public_jwk: JSON.stringify(pub),
        created_at: Date.now(),
        retired_at: null,
      })
      .execute();
    await this.retireSuperseded();
    await this.reload();
    return kid;
  }

  /** Retires keys replaced longer ago than the longest token lifetime (plus clock tolerance). */
  async retireSuperseded(now = Date.now()): Promise<string[]> {
    const rows = await this.db
      .selectFrom('signing_keys')
      .select(['kid', 'created_at'])
      .where('retired_at', 'is', null)
      .orderBy('created_at', 'desc')
      .execute();
    const retired: string[] = [];
    for (let i = 1; i < rows.length; i++) {
      const replacedAt = rows[i - 1]!.created_at;
      if (now - replacedAt > (this.ttlSeconds + 300) * 1000) retired.push(rows[i]!.kid);
    }
    if (retired.length)
      await this.db.updateTable('signing_keys').set({ retired_at: now }).where('kid', 'in', retired).execute();
    return retired;
  }

  /** Retires one key now (e.g. it leaked): every token it signed stops working at once. */
  async retire(kid: string): Promise<boolean> {
    const active = await this.db.selectFrom('signing_keys').select('kid').where('retired_at', 'is', null).execute();
    if (!active.some((k) => k.kid === kid)) return false;
    if (active.length === 1) await this.rotate();
    await this.db.updateTable('signing_keys').set({ retired_at: Date.now() }).where('kid', '=', kid).execute();
    await this.reload();
    return true;
  }

  async listKeys(): Promise<{ kid: string; createdAt: string; retiredAt?: string; signing: boolean }[]> {
    await this.reload();
    const rows = await this.db
      .selectFrom('signing_keys')
      .select(['kid', 'created_at', 'retired_at'])
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map((r) => ({
      kid: r.kid,
      createdAt: new Date(r.created_at).toISOString(),
      ...(r.retired_at ? { retiredAt: new Date(r.retired_at).toISOString() } : {}),
      signing: r.kid === this.signer?.kid,
    }));
  }

  async reload(): Promise<void> {
    this.loadedAt = Date.now();
    const rows = await this.db
      .selectFrom('signing_keys')
      .selectAll()
      .where('retired_at', 'is', null)
      .orderBy('created_at', 'desc')
      .execute();
    this.verifiers.clear();
    this.publicJwks = [];
    for (const row of rows) {
      const pub = JSON.parse(row.public_jwk) as JWK;
      this.verifiers.set(row.kid, (await importJWK(pub, 'ES256')) as KeyLike);
      this.publicJwks.push(pub);
    }
    const newest = rows[0];
    if (newest) {
      const priv = JSON.parse(this.keys.openWithMaster(newest.private_key, newest.kid)) as JWK;
      this.signer = { kid: newest.kid, key: (await importJWK(priv, 'ES256')) as KeyLike };
    }
  }

  jwks(): { keys: JWK[] } {
    return { keys: this.publicJwks };
  }

  async issue(
    claims: Omit<TokenClaims, 'tid'> & { tid?: string },
    opts: { audience?: string; ttlSeconds?: number } = {},
  ): Promise<{ token: string; expiresIn: number; expiresOn: number }> {
    // Another replica may have rotated: pick up its key within a minute.
    if (Date.now() - this.loadedAt > 60_000) await this.reload();
    if (!this.signer) throw new Error('token service not initialised');
    const ttl = opts.ttlSeconds ?? this.ttlSeconds;
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ ...claims, tid: claims.tid ?? this.tenantId })
      .setProtectedHeader({ alg: 'ES256', kid: this.signer.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(opts.audience ?? this.issuerBase)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + ttl)
      .setJti(crypto.randomUUID())
      .sign(this.signer.key);
    return { token, expiresIn: ttl, expiresOn: now + ttl };
  }

  /** An OIDC id token for `clientId` (user sign-ins that asked for `openid`). */
  async issueIdToken(
    claims: { oid: string; name?: string; preferred_username?: string; nonce?: string },
    clientId: string,
  ): Promise<string> {
    const { token } = await this.issue({ ...claims, sub: claims.oid, ver: '2.0' } as Omit<TokenClaims, 'tid'>, {
      audience: clientId,
    });
    return token;
  }

  // Verified tokens, remembered until they expire (at most a minute) so the signature is checked
  // once per token rather than once per request; an entry counts only while its signing key is
  // still current, so retiring a key still refuses its tokens at once.
  private verified = new Map<string, { claims: TokenClaims; kid: string; until: number }>();

  async verify(token: string): Promise<TokenClaims> {
    const hit = this.verified.get(token);
    if (hit) {
      if (hit.until > Date.now() && this.verifiers.has(hit.kid)) return hit.claims;
      this.verified.delete(token);
    }
    const claims = await this.verifySignature(token);
    const kid = decodeProtectedHeader(token).kid;
    if (kid && typeof claims.exp === 'number') {
      if (this.verified.size >= 10_000) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, { claims, kid, until: Math.min(Date.now() + 60_000, claims.exp * 1000) });
    }
    return claims;
  }

  private async verifySignature(token: string): Promise<TokenClaims> {
    try {
      const { payload } = await jwtVerify(
        token,
        async (header) => {
          let key = header.kid ? this.verifiers.get(header.kid) : undefined;
          // A key made by another replica since we last looked (at most one reload per 5 s).
          if (!key && header.kid && Date.now() - this.loadedAt > 5000) {
            await this.reload();
            key = this.verifiers.get(header.kid);
          }
          if (!key) throw new Error('it was not signed by a current key of this server');
          return key;
        },
        { issuer: this.issuer, audience: this.audiences, algorithms: ['ES256'], clockTolerance: 30 },
      );
      const claims = payload as TokenClaims;
      if (claims.tid !== this.tenantId) throw new Error('token is for another tenant');
      if (typeof claims.oid !== 'string') throw new Error('token has no oid');
      // Only access tokens carry idtyp: an id token (aud = a client id) is never accepted here.
      if (claims.idtyp !== 'user' && claims.idtyp !== 'app') throw new Error('it is not an access token');
      return claims;
    } catch (e) {
      throw new Unauthenticated(`the access token is not valid: ${(e as Error).message}`, { code: 'INVALID_TOKEN' });
    }
  }
}
