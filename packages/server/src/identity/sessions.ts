import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Tables } from '../store/schema.js';
import { Conflict, Forbidden, InvalidInput, TooManyRequests, Unauthenticated } from '../errors.js';
import './tables.js';

const sha256 = (s: string) => crypto.createHash('sha256').update(s, 'utf8').digest('hex');

/** A refresh token lasts 14 days unused; a chain of them (a sign-in) at most 90 days. */
export const REFRESH_TTL_MS = 14 * 86_400_000;
export const FAMILY_TTL_MS = 90 * 86_400_000;
export const DEVICE_CODE_TTL_S = 900;
export const DEVICE_POLL_INTERVAL_S = 5;

/**
 * Sign-in sessions: rotating refresh tokens (stored as SHA-256; a used token is replaced by a new
 * one, and presenting a used token again revokes the whole chain, RFC 6819 §5.2.2.3) and
 * device-code sign-ins (RFC 8628).
 */
export class SessionService {
  constructor(private readonly db: Kysely<Tables>) {}

  async issueRefresh(
    principalId: string,
    clientId: string,
    scope: string,
    familyId: string = crypto.randomUUID(),
    familyExpiresAt?: number,
  ): Promise<string> {
    const token = `rt1.${crypto.randomBytes(32).toString('base64url')}`;
    const now = Date.now();
    // Now and then, forget sign-ins that can no longer be used (kept a day for replay detection).
    if (Math.random() < 0.02)
      await this.db
        .deleteFrom('refresh_tokens')
        .where('expires_at', '<', now - 86_400_000)
        .execute();
    const familyEnd = familyExpiresAt ?? now + FAMILY_TTL_MS;
    await this.db
      .insertInto('refresh_tokens')
      .values({
        hash: sha256(token),
        family_id: familyId,
        principal_id: principalId,
        client_id: clientId,
        scope,
        created_at: now,
        expires_at: Math.min(now + REFRESH_TTL_MS, familyEnd),
        family_expires_at: familyEnd,
        used_at: null,
        revoked_at: null,
      })
      .execute();
    return token;
  }

  /** Uses a refresh token: returns what it was for and its replacement. */
  async redeemRefresh(
    token: string,
    clientId: string | undefined,
  ): Promise<{ principalId: string; clientId: string; scope: string; refreshToken: string }> {
    const hash = sha256(token);
    const now = Date.now();
    const row = await this.db.selectFrom('refresh_tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
    if (!row || row.revoked_at !== null)
      throw new Unauthenticated('the refresh token is not valid or was revoked; sign in again', {
        code: 'REFRESH_TOKEN_INVALID',
      });
    if (clientId && clientId.toLowerCase() !== row.client_id.toLowerCase())
      throw new Unauthenticated('the refresh token was issued to another client_id', { code: 'REFRESH_TOKEN_INVALID' });
    if (row.expires_at <= now)
      throw new Unauthenticated('the refresh token has expired; sign in again', { code: 'REFRESH_TOKEN_INVALID' });
    // Claim it atomically: of two concurrent uses only one wins, the other counts as a replay.
    const claimed = await this.db
      .updateTable('refresh_tokens')
      .set({ used_at: now })
      .where('hash', '=', hash)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) {
      await this.revokeFamily(row.family_id);
      throw new Unauthenticated(
        'the refresh token was already used; all tokens of this sign-in are revoked, sign in again',
        { code: 'REFRESH_TOKEN_INVALID' },
      );
    }
    const refreshToken = await this.issueRefresh(
      row.principal_id,
      row.client_id,
      row.scope,
      row.family_id,
      row.family_expires_at,
    );
    // Used tokens are kept only to detect replays; older ones go.
    await this.db
      .deleteFrom('refresh_tokens')
      .where('family_id', '=', row.family_id)
      .where('used_at', '<', now - REFRESH_TTL_MS)
      .execute();
    return { principalId: row.principal_id, clientId: row.client_id, scope: row.scope, refreshToken };
  }

  async revokeFamily(familyId: string): Promise<void> {
    await this.db
      .updateTable('refresh_tokens')
      .set({ revoked_at: Date.now() })
      .where('family_id', '=', familyId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  /** Signs a principal out everywhere: no refresh token of theirs works any more. */
  async revokeAll(principalId: string): Promise<number> {
    const r = await this.db
      .updateTable('refresh_tokens')
      .set({ revoked_at: Date.now() })
      .where('principal_id', '=', principalId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  // ---- device code (RFC 8628) ----

  async startDevice(
    clientId: string,
    scope: string,
  ): Promise<{ deviceCode: string; userCode: string; expiresIn: number; interval: number }> {
    const now = Date.now();
    await this.db
      .deleteFrom('device_codes')
      .where('expires_at', '<', now - 3_600_000)
      .execute();
    const deviceCode = `dc1.${crypto.randomBytes(32).toString('base64url')}`;
    // 8 letters from an alphabet without look-alikes (RFC 8628 §6.1): ~2^37, short-lived, throttled.
    const alphabet = 'BCDFGHJKLMNPQRSTVWXZ';
    for (let attempt = 0; ; attempt++) {
      const bytes = crypto.randomBytes(8);
      const code = Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
      const userCode = `${code.slice(0, 4)}-${code.slice(4)}`;
      try {
        await this.db
          .insertInto('device_codes')
          .values({
            hash: sha256(deviceCode),
            user_code: userCode,
            client_id: clientId,
            scope,
            status: 'pending',
            principal_id: null,
            interval_s: DEVICE_POLL_INTERVAL_S,
            last_poll_at: null,
            created_at: now,
            expires_at: now + DEVICE_CODE_TTL_S * 1000,
          })
          .execute();
        return { deviceCode, userCode, expiresIn: DEVICE_CODE_TTL_S, interval: DEVICE_POLL_INTERVAL_S };
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
  }

  static normaliseUserCode(code: string): string {
    const c = code.toUpperCase().replace(/[^A-Z]/g, '');
    if (c.length !== 8) throw new InvalidInput('the code has 8 letters, like ABCD-EFGH');
    return `${c.slice(0, 4)}-${c.slice(4)}`;
  }

  /** What a user is asked to approve (undefined when the code is unknown, used or expired). */
  async pendingDevice(userCode: string): Promise<{ clientId: string; scope: string } | undefined> {
    const row = await this.db
      .selectFrom('device_codes')
      .selectAll()
      .where('user_code', '=', SessionService.normaliseUserCode(userCode))
      .executeTakeFirst();
    if (!row || row.status !== 'pending' || row.expires_at <= Date.now()) return undefined;
    return { clientId: row.client_id, scope: row.scope };
  }

  async decideDevice(userCode: string, principalId: string, approve: boolean): Promise<boolean> {
    const r = await this.db
      .updateTable('device_codes')
      .set({ status: approve ? 'approved' : 'denied', principal_id: principalId })
      .where('user_code', '=', SessionService.normaliseUserCode(userCode))
      .where('status', '=', 'pending')
      .where('expires_at', '>', Date.now())
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** The device polls: answers the approving principal once, or the RFC 8628 error to act on. */
  async pollDevice(
    deviceCode: string,
    clientId: string | undefined,
  ): Promise<{ principalId: string; clientId: string; scope: string }> {
    const hash = sha256(deviceCode);
    const row = await this.db.selectFrom('device_codes').selectAll().where('hash', '=', hash).executeTakeFirst();
    const now = Date.now();
    if (!row) throw new Unauthenticated('the device_code is not valid', { code: 'DEVICE_CODE_INVALID' });
    if (clientId && clientId.toLowerCase() !== row.client_id.toLowerCase())
      throw new Unauthenticated('the device_code was issued to another client_id', { code: 'DEVICE_CODE_INVALID' });
    if (row.expires_at <= now)
      throw new Unauthenticated('the device code has expired; start the sign-in again', {
        code: 'DEVICE_CODE_EXPIRED',
      });
    if (row.status === 'denied') throw new Forbidden('the user declined the sign-in', { code: 'SIGN_IN_DECLINED' });
    if (row.status === 'consumed')
      throw new Unauthenticated('the device code was already used', { code: 'DEVICE_CODE_INVALID' });
    if (row.status === 'pending') {
      const tooSoon = row.last_poll_at !== null && now - row.last_poll_at < row.interval_s * 1000 - 500;
      await this.db
        .updateTable('device_codes')
        .set({ last_poll_at: now, interval_s: tooSoon ? row.interval_s + 5 : row.interval_s })
        .where('hash', '=', hash)
        .execute();
      if (tooSoon)
        throw new TooManyRequests(`poll at most every ${row.interval_s + 5} seconds`, { code: 'POLLING_TOO_FAST' });
      throw new Conflict('the user has not yet approved the sign-in', { code: 'SIGN_IN_PENDING' });
    }
    const claimed = await this.db
      .updateTable('device_codes')
      .set({ status: 'consumed' })
      .where('hash', '=', hash)
      .where('status', '=', 'approved')
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1 || !row.principal_id)
      throw new Unauthenticated('the device code was already used', { code: 'DEVICE_CODE_INVALID' });
    return { principalId: row.principal_id, clientId: row.client_id, scope: row.scope };
  }
}
