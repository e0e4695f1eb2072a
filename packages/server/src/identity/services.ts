import type { AppContext } from '../context.js';
import { SignInThrottle } from './sign-in-throttle.js';
import { SessionService } from './sessions.js';
import { AuditLog } from './audit.js';
import { BasicSignIn } from './basic-sign-in.js';
import { RoleAssignmentService } from './role-assignments.js';
import type { ResourceEngine } from '../resources/engine.js';
import type { ResourceTypeRegistry } from '../resources/registry.js';
import { roleAssignmentType } from './role-assignment-type.js';
import { AuthorizationCodeService } from './authorization-codes.js';
import { OAuthClients } from './oauth-clients.js';
import { PersonalAccessTokens } from './personal-access-tokens.js';
import { ManagedIdentityTokens } from './managed-identity.js';
import { UserAssignedIdentities } from './user-assigned-identities.js';
import type { ResourceGroupService } from '../resources/resource-groups.js';

/** The identity module's services (principals, tokens and RBAC live in the context). */
export interface IdentityServices {
  throttle: SignInThrottle;
  sessions: SessionService;
  audit: AuditLog;
  basic: BasicSignIn;
  roleAssignments: RoleAssignmentService;
  /** Clients of the authorization-code flow (the built-in Studio). */
  clients: OAuthClients;
  authorizationCodes: AuthorizationCodeService;
  personalAccessTokens: PersonalAccessTokens;
  /** Tokens for clients whose default credential is a managed identity (MSI_ENDPOINT + MSI_SECRET). */
  managedIdentity: ManagedIdentityTokens;
}

export function createIdentityServices(
  ctx: AppContext,
  cp: { resources: ResourceEngine; types: ResourceTypeRegistry; groups: ResourceGroupService },
): IdentityServices {
  const throttle = new SignInThrottle(ctx.db);
  const sessions = new SessionService(ctx.db);
  const roleAssignments = new RoleAssignmentService(ctx, cp.resources);
  // Role assignments are an extension resource type of the registry (served by the generic ARM router).
  cp.types.register(roleAssignmentType(roleAssignments));
  // User-assigned managed identities: a resource with a principal of its own (roles can be assigned to it).
  cp.types.register(new UserAssignedIdentities(ctx, cp.resources, cp.groups).declaration());
  const personalAccessTokens = new PersonalAccessTokens(ctx.db, ctx.principals);
  return {
    throttle,
    sessions,
    clients: new OAuthClients(ctx.config.publicUrl),
    authorizationCodes: new AuthorizationCodeService(ctx.db, sessions),
    personalAccessTokens,
    managedIdentity: new ManagedIdentityTokens(ctx, personalAccessTokens, throttle),
    audit: new AuditLog(ctx.db),
    basic: new BasicSignIn(ctx.principals, throttle),
    roleAssignments,
  };
}
