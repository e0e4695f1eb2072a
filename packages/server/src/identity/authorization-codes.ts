import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Tables } from '../store/schema.js';
import { InvalidInput, Unauthenticated } from '../errors.js';
import type { SessionService } from './sessions.js';
import './tables.js';

const sha256 = (s: string) => crypto.createHash('sha256').update(s, 'utf8').digest('hex');

/** An authorization code is good for this long after the sign-in (RFC 6749 §4.1.2 recommends ≤ 10 minutes). */
export const AUTHORIZATION_CODE_TTL_MS = 60_000;

/** RFC 7636 §4.1: a verifier is 43–128 unreserved characters; an S256 challenge is 43 base64url characters. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export function checkCodeChallenge(challenge: string | undefined, method: string | undefined): string {
  if (!challenge)
    throw new InvalidInput(
      "PKCE is required: send 'code_challenge' (BASE64URL(SHA-256(code_verifier))) with code_challenge_method=S256",
      {
        code: 'PKCE_REQUIRED',
      },
    );
  if (method !== 'S256')
    throw new InvalidInput(
      `code_challenge_method must be S256${method ? ` ('${method}' is not accepted)` : ' (it is missing; plain is not accepted)'}`,
      { code: 'PKCE_REQUIRED' },
    );
  if (!S256_CHALLENGE.test(challenge))
    throw new InvalidInput('code_challenge must be the 43-character BASE64URL (no padding) of a SHA-256 digest', {
      code: 'PKCE_REQUIRED',
    });
  return challenge;
}

export interface CodeGrant {
  principalId: string;
  clientId: string;
  scope: string;
  nonce: string | null;
  /** The refresh-token family this redemption starts (revoked if the code is replayed). */
  familyId: string;
}

/**
 * Authorization codes (RFC 6749 §4.1 with PKCE, RFC 7636): opaque, stored as SHA-256, good once
 * for 60 s, and only for the client, redirect URI and code challenge they were issued for. A code
 * presented a second time revokes the refresh tokens its first use bought (RFC 6749 §4.1.2).
 * Kept in the database so any replica redeems a code another issued.
 */
export class AuthorizationCodeService {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly sessions: SessionService,
  ) {}

  async issue(p: {
    principalId: string;
    clientId: string;
    redirectUri: string;
    codeChallenge: string;
    scope: string;
    nonce?: string;
  }): Promise<string> {
    const now = Date.now();
    // Codes expire within a minute; forget those long gone (kept an hour to detect replays).
    await this.db
      .deleteFrom('authorization_codes')
      .where('expires_at', '<', now - 3_600_000)
      .execute();
    const code = `ac1.${crypto.randomBytes(32).toString('base64url')}`;
    await this.db
      .insertInto('authorization_codes')
      .values({
        hash: sha256(code),
        client_id: p.clientId,
        redirect_uri: p.redirectUri,
        code_challenge: p.codeChallenge,
        principal_id: p.principalId,
        scope: p.scope,
        nonce: p.nonce ?? null,
        family_id: crypto.randomUUID(),
        created_at: now,
        expires_at: now + AUTHORIZATION_CODE_TTL_MS,
        used_at: null,
      })
      .execute();
    return code;
  }

  /** Redeems a code once: checks client, redirect URI and the PKCE verifier, then answers whom it is for. */
  async redeem(code: string, p: { clientId: string; redirectUri: string; codeVerifier: string }): Promise<CodeGrant> {
    const invalid = (why: string) => new Unauthenticated(why, { code: 'AUTHORIZATION_CODE_INVALID' });
    if (!VERIFIER.test(p.codeVerifier))
      throw new InvalidInput('code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)', {
        code: 'PKCE_REQUIRED',
      });
    const hash = sha256(code);
    const row = await this.db.selectFrom('authorization_codes').selectAll().where('hash', '=', hash).executeTakeFirst();
    const now = Date.now();
    if (!row) throw invalid('the authorization code is not valid; sign in again');
    if (row.used_at !== null) {
      await this.sessions.revokeFamily(row.family_id);
      throw invalid('the authorization code was already used; the tokens it gave are revoked, sign in again');
    }
    if (row.expires_at <= now) throw invalid('the authorization code has expired (codes last 60 s); sign in again');
    if (row.client_id.toLowerCase() !== p.clientId.toLowerCase())
      throw invalid('the authorization code was issued to another client_id');
    if (row.redirect_uri !== p.redirectUri)
      throw invalid('redirect_uri differs from the one of the authorization request');
    const computed = crypto.createHash('sha256').update(p.codeVerifier, 'ascii').digest('base64url');
    const a = Buffer.from(computed);
    const b = Buffer.from(row.code_challenge);
    if (a.length !== b.length || !crypto.timingSafeEqual(a, b))
      throw invalid('code_verifier does not match the code_challenge of the authorization request');
    // Claim it atomically: of two simultaneous redemptions one wins, the other is a replay.
    const claimed = await this.db
      .updateTable('authorization_codes')
      .set({ used_at: now })
      .where('hash', '=', hash)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) {
      await this.sessions.revokeFamily(row.family_id);
      throw invalid('the authorization code was already used; the tokens it gave are revoked, sign in again');
    }
    return {
      principalId: row.principal_id,
      clientId: row.client_id,
      scope: row.scope,
      nonce: row.nonce,
      familyId: row.family_id,
    };
  }
}
