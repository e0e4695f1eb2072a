/**
 * The claim of an access token that reaches one workspace only (the token a job's processes get):
 * the workspace's ARM id. http/auth.ts refuses such a token on any route outside that workspace.
 */
export const WORKSPACE_SCOPE_CLAIM = 'atelier_ws';
