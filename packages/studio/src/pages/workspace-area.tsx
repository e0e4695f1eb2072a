import type { Route } from '../lib/router';
import { href } from '../lib/router';
import type { WorkspaceRef } from '../lib/api';
import { Empty, Page } from '../components/ui';
import { WorkspaceOverview } from './workspace-overview';
import { Experiments } from './experiments';
import { Runs } from './runs';
import { RunPage } from './run';
import { Compare } from './compare';
import { Models, ModelPage } from './models';
import { AssetPage, ASSET_PAGES } from './assets';
import { AccessPage, AuditPage } from './access';
import { JobPage, Jobs } from './jobs';
import { ComputePage, Computes } from './computes';
import { EndpointPage, Endpoints } from './endpoints';

const NAV: { id: string; label: string }[] = [
  { id: '', label: 'Overview' },
  { id: 'experiments', label: 'Experiments' },
  { id: 'models', label: 'Models' },
  { id: 'jobs', label: 'Jobs' },
  { id: 'computes', label: 'Computes' },
  { id: 'endpoints', label: 'Endpoints' },
  ...ASSET_PAGES.map((a) => ({ id: a.id, label: a.label })),
  { id: 'access', label: 'Access' },
  { id: 'audit', label: 'Audit log' },
];

/** Everything inside one workspace: `#/w/{subscription}/{group}/{workspace}/…`. */
export function WorkspaceArea({ route }: { route: Route }) {
  const [, sub, group, name, section = '', ...rest] = route.segments;
  const ws: WorkspaceRef = { sub: sub!, group: group!, name: name! };
  const base = ['w', ws.sub, ws.group, ws.name];
  let body;
  if (section === '') body = <WorkspaceOverview ws={ws} />;
  else if (section === 'experiments' && rest.length === 0) body = <Experiments ws={ws} />;
  else if (section === 'experiments' && rest.length === 1)
    body = <Runs ws={ws} experimentId={rest[0]!} route={route} />;
  else if (section === 'runs' && rest[0]) body = <RunPage ws={ws} runId={rest[0]} route={route} />;
  else if (section === 'compare') body = <Compare ws={ws} route={route} />;
  else if (section === 'models' && rest.length === 0) body = <Models ws={ws} />;
  else if (section === 'models' && rest[0]) body = <ModelPage ws={ws} name={rest[0]} />;
  else if (section === 'jobs' && rest.length === 0) body = <Jobs ws={ws} />;
  else if (section === 'jobs' && rest[0]) body = <JobPage ws={ws} name={rest[0]} />;
  else if (section === 'computes' && rest.length === 0) body = <Computes ws={ws} />;
  else if (section === 'computes' && rest[0]) body = <ComputePage ws={ws} name={rest[0]} />;
  else if (section === 'endpoints' && rest.length === 0) body = <Endpoints ws={ws} />;
  else if (section === 'endpoints' && rest[0]) body = <EndpointPage ws={ws} name={rest[0]} />;
  else if (section === 'access') body = <AccessPage ws={ws} />;
  else if (section === 'audit') body = <AuditPage ws={ws} />;
  else if (ASSET_PAGES.some((a) => a.id === section)) body = <AssetPage ws={ws} kind={section} route={route} />;
  else if (section === 'experiments' && rest[1] === 'runs' && rest[2])
    body = <RunPage ws={ws} experimentId={rest[0]!} runId={rest[2]} route={route} />;
  else
    body = (
      <Page title="Not found">
        <Empty title={`This workspace has no page '${section}'.`}>
          <a href={href(base)}>Open the workspace overview</a>
        </Empty>
      </Page>
    );
  const current = section === 'compare' || section === 'runs' ? 'experiments' : section;
  return (
    <div className="ws-layout">
      <nav className="sidebar" aria-label="Workspace">
        <p className="ws-name" title={`${ws.group} / ${ws.name}`}>
          <span className="muted small">{ws.group}</span>
          <br />
          <strong>{ws.name}</strong>
        </p>
        <ul>
          {NAV.map((n) => (
            <li key={n.id}>
              <a href={href(n.id ? [...base, n.id] : base)} aria-current={n.id === current ? 'page' : undefined}>
                {n.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <div className="ws-body">{body}</div>
    </div>
  );
}
