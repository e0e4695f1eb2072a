import { useSyncExternalStore } from 'react';

/**
 * Hash routing: `#/path?query`. The whole view lives in the hash (filters, sort, chosen columns,
 * selected runs, zoom), so a copied link opens the same view, and MLflow's printed
 * `{tracking URI}/#/experiments/{id}/runs/{id}` links reach the studio (see `fromTrackingUri`).
 * Hand-written (about 40 lines): the router libraries we looked at keep the query outside the hash
 * or weigh more than all of this.
 */
export interface Route {
  path: string;
  segments: string[];
  query: URLSearchParams;
}

function parse(hash: string): Route {
  const raw = hash.replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  const segments = path
    .split('/')
    .filter(Boolean)
    .map((s) => decodeURIComponent(s));
  return { path, segments, query };
}

let current = parse(location.hash);
const listeners = new Set<() => void>();
window.addEventListener('hashchange', () => {
  current = parse(location.hash);
  for (const l of listeners) l();
});

export function useRoute(): Route {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => current,
  );
}

/** `#` + path + query, from segments (encoded) and query values (empty ones left out). */
export function href(segments: (string | number)[], query: Record<string, string | undefined> = {}): string {
  const path = '/' + segments.map((s) => encodeURIComponent(String(s))).join('/');
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, v);
  const qs = q.toString();
  return `#${path}${qs ? `?${qs}` : ''}`;
}

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) {
    history.replaceState(null, '', to);
    current = parse(location.hash);
    for (const l of listeners) l();
  } else location.hash = to.replace(/^#/, '');
}

/** Changes some query values of the current view (the URL holds the view); replaces the entry. */
export function setQuery(changes: Record<string, string | undefined>, opts: { push?: boolean } = {}): void {
  const q = new URLSearchParams(current.query);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === '') q.delete(k);
    else q.set(k, v);
  }
  const qs = q.toString();
  navigate(`#${current.path}${qs ? `?${qs}` : ''}`, { replace: !opts.push });
}

const TRACKING =
  /^\/mlflow\/v1\.0\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.MachineLearningServices\/workspaces\/([^/]+)\/?$/i;

/**
 * The server serves the studio at each workspace's tracking URI too: MLflow prints
 * `{tracking URI}/#/experiments/{id}/runs/{id}`. That becomes `/#/w/{sub}/{group}/{workspace}/experiments/…`.
 */
export function fromTrackingUri(): void {
  const m = TRACKING.exec(location.pathname);
  if (!m) return;
  const [, sub, group, ws] = m.map((x) => decodeURIComponent(x ?? ''));
  const rest = location.hash.replace(/^#/, '').replace(/^\/+/, '');
  const target = `/#${href(['w', sub!, group!, ws!]).slice(1)}${rest ? `/${rest}` : ''}`;
  history.replaceState(null, '', target);
  current = parse(location.hash);
}
