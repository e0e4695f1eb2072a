/** Row types of the identity tables (see store/migrations/0200-identity.ts). */
export interface PrincipalSecretRow {
  key_id: string;
  principal_id: string;
  hash: string;
  hint: string;
  display_name: string;
  created_at: number;
  expires_at: number;
}
export interface RefreshTokenRow {
  hash: string;
  family_id: string;
  principal_id: string;
  client_id: string;
  scope: string;
  created_at: number;
  expires_at: number;
  family_expires_at: number;
  used_at: number | null;
  revoked_at: number | null;
}
export interface DeviceCodeRow {
  hash: string;
  user_code: string;
  client_id: string;
  scope: string;
  status: string;
  principal_id: string | null;
  interval_s: number;
  last_poll_at: number | null;
  created_at: number;
  expires_at: number;
}
export interface SignInThrottleRow {
  key: string;
  failures: number;
  window_start: number;
  blocked_until: number;
}
export interface AuditRow {
  id: string;
  seq: number;
  at: number;
  principal_id: string;
  principal_name: string;
  principal_kind: string;
  method: string;
  path: string;
  route: string;
  target: string;
  target_key: string;
  subscription_id: string | null;
  status: number;
  client_address: string | null;
  request_id: string;
}

/** The core `role_assignments` row plus the column this feature's migration adds. */
export interface RoleAssignmentFullRow {
  id: string;
  scope_key: string;
  scope: string;
  principal_id: string;
  role: string;
  created_at: number;
  created_by: string | null;
  description: string | null;
}

declare module '../store/schema.js' {
  interface Tables {
    principal_secrets: PrincipalSecretRow;
    refresh_tokens: RefreshTokenRow;
    device_codes: DeviceCodeRow;
    sign_in_throttle: SignInThrottleRow;
    audit_log: AuditRow;
  }
}

export interface AuthorizationCodeRow {
  hash: string;
  client_id: string;
  redirect_uri: string;
  code_challenge: string;
  principal_id: string;
  scope: string;
  nonce: string | null;
  family_id: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

declare module '../store/schema.js' {
  interface Tables {
    authorization_codes: AuthorizationCodeRow;
  }
}

export interface PersonalAccessTokenRow {
  id: string;
  hash: string;
  principal_id: string;
  name: string;
  hint: string;
  workspace: string | null;
  read_only: number;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
}

declare module '../store/schema.js' {
  interface Tables {
    personal_access_tokens: PersonalAccessTokenRow;
  }
}
