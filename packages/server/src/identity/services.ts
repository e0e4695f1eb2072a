import type { AppContext } from '../context.js';
import { SignInThrottle } from './sign-in-throttle.js';
import { SessionService } from './sessions.js';
import { AuditLog } from './audit.js';
import { BasicSignIn } from './basic-sign-in.js';
import { RoleAssignmentService } from './role-assignments.js';
import type { ResourceEngine } from '../resources/engine.js';

/** The identity module's services (principals, tokens and RBAC live in the context). */
export interface IdentityServices {
  throttle: SignInThrottle;
  sessions: SessionService;
  audit: AuditLog;
  basic: BasicSignIn;
  roleAssignments: RoleAssignmentService;
}

export function createIdentityServices(ctx: AppContext, resources: ResourceEngine): IdentityServices {
  const throttle = new SignInThrottle(ctx.db);
  return {
    throttle,
    sessions: new SessionService(ctx.db),
    audit: new AuditLog(ctx.db),
    basic: new BasicSignIn(ctx.principals, throttle),
    roleAssignments: new RoleAssignmentService(ctx, resources),
  };
}
