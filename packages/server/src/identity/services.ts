import type { AppContext } from '../context.js';
import { SignInThrottle } from './sign-in-throttle.js';
import { SessionService } from './sessions.js';
import { AuditLog } from './audit.js';
import { BasicSignIn } from './basic-sign-in.js';

/** The identity feature's services, made once per AppContext (kept beside it, not in it). */
export interface IdentityServices {
  throttle: SignInThrottle;
  sessions: SessionService;
  audit: AuditLog;
  basic: BasicSignIn;
}

const made = new WeakMap<AppContext, IdentityServices>();

export function identityOf(ctx: AppContext): IdentityServices {
  let s = made.get(ctx);
  if (!s) {
    const throttle = new SignInThrottle(ctx.db);
    s = { throttle, sessions: new SessionService(ctx.db), audit: new AuditLog(ctx.db), basic: new BasicSignIn(ctx.principals, throttle) };
    made.set(ctx, s);
  }
  return s;
}
