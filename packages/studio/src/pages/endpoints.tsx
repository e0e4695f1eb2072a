import { useState, type FormEvent } from 'react';
import { arm, armList, wsPath, type WorkspaceRef } from '../lib/api';
import { useLoad } from '../lib/hooks';
import { href } from '../lib/router';
import { time } from '../lib/format';
import { Empty, ErrorBox, KeyValues, Loading, Page, SimpleTable } from '../components/ui';
import { armName } from './jobs';

export interface Endpoint {
  id: string;
  name: string;
  properties: {
    authMode: string;
    description?: string;
    traffic?: Record<string, number>;
    mirrorTraffic?: Record<string, number>;
    provisioningState?: string;
    scoringUri?: string;
    swaggerUri?: string;
  };
  systemData?: { createdAt?: string; createdBy?: string };
}

interface Deployment {
  id: string;
  name: string;
  sku?: { name?: string; capacity?: number };
  properties: {
    model?: string;
    codeConfiguration?: { codeId: string; scoringScript: string };
    environmentId?: string;
    instanceType?: string;
    provisioningState?: string;
    requestSettings?: { maxConcurrentRequestsPerInstance?: number; requestTimeout?: string };
    description?: string;
  };
}

const trafficText = (t: Record<string, number> | undefined) =>
  Object.entries(t ?? {})
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${v}%`)
    .join(', ') || 'none';

export function Endpoints({ ws }: { ws: WorkspaceRef }) {
  const list = useLoad(() => armList<Endpoint>(`${wsPath(ws)}/onlineEndpoints`), [ws.name]);
  const base = ['w', ws.sub, ws.group, ws.name, 'endpoints'];
  return (
    <Page title="Endpoints">
      {list.error && <ErrorBox error={list.error} onRetry={list.reload} />}
      {!list.data ? (
        !list.error && <Loading what="Loading endpoints" />
      ) : list.data.length === 0 ? (
        <Empty title="No online endpoint yet.">
          Serve a registered model: create an endpoint and a deployment with the CLI (
          <code>atelier endpoint create -f endpoint.yml</code>, then <code>atelier endpoint deployment create</code>) or
          azure-ai-ml (<code>ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(…))</code>
          ); then try it here with a test request.
        </Empty>
      ) : (
        <SimpleTable
          label="Endpoints"
          rows={list.data}
          rowKey={(e) => e.id}
          columns={[
            { title: 'Name', cell: (e) => <a href={href([...base, e.name])}>{e.name}</a> },
            { title: 'Authentication', cell: (e) => e.properties.authMode },
            { title: 'Traffic', cell: (e) => trafficText(e.properties.traffic) },
            { title: 'State', cell: (e) => e.properties.provisioningState ?? '' },
            {
              title: 'Created',
              cell: (e) => time(e.systemData?.createdAt ? Date.parse(e.systemData.createdAt) : null),
            },
          ]}
        />
      )}
    </Page>
  );
}

export function EndpointPage({ ws, name }: { ws: WorkspaceRef; name: string }) {
  const path = `${wsPath(ws)}/onlineEndpoints/${encodeURIComponent(name)}`;
  const endpoint = useLoad(() => arm.get<Endpoint>(path), [ws.name, name]);
  const deployments = useLoad(() => armList<Deployment>(`${path}/deployments`), [ws.name, name]);
  if (endpoint.error) return <ErrorBox error={endpoint.error} onRetry={endpoint.reload} />;
  if (!endpoint.data) return <Loading what="Loading the endpoint" />;
  const e = endpoint.data;
  const traffic = e.properties.traffic ?? {};
  const mirror = e.properties.mirrorTraffic ?? {};
  return (
    <Page title={`Endpoint ${name}`}>
      <div className="columns">
        <section>
          <h2>Endpoint</h2>
          <KeyValues
            label="Endpoint details"
            rows={[
              ['Scoring URI', <code key="u">{e.properties.scoringUri ?? '—'}</code>],
              ['Authentication', e.properties.authMode],
              // Keys are never shown here: the test request fetches one and keeps it in memory only.
              ['Keys', <span key="k">hidden (the CLI prints them: atelier endpoint get-credentials)</span>],
              ['Traffic', trafficText(traffic)],
              ['Mirror traffic', trafficText(mirror)],
              ['State', e.properties.provisioningState ?? '—'],
              ['Created', time(e.systemData?.createdAt ? Date.parse(e.systemData.createdAt) : null)],
              ...(e.properties.description ? [['Description', e.properties.description] as [string, string]] : []),
            ]}
          />
        </section>
        <section>
          <TestRequest endpoint={e} path={path} deployments={deployments.data?.map((d) => d.name) ?? []} />
        </section>
      </div>
      <h2>Deployments</h2>
      {deployments.error && <ErrorBox error={deployments.error} onRetry={deployments.reload} />}
      {!deployments.data ? (
        !deployments.error && <Loading what="Loading deployments" />
      ) : deployments.data.length === 0 ? (
        <Empty title="No deployment yet: the endpoint answers nothing until one takes traffic.">
          Deploy a registered model with <code>atelier endpoint deployment create</code> or azure-ai-ml (
          <code>ml_client.online_deployments.begin_create_or_update(ManagedOnlineDeployment(…))</code>), then give it
          traffic.
        </Empty>
      ) : (
        <>
          <SimpleTable
            label="Deployments"
            rows={deployments.data}
            rowKey={(d) => d.id}
            columns={[
              { title: 'Name', cell: (d) => d.name },
              {
                title: 'Traffic',
                cell: (d) => `${traffic[d.name] ?? 0}%${mirror[d.name] ? ` (+${mirror[d.name]}% mirrored)` : ''}`,
              },
              { title: 'State', cell: (d) => d.properties.provisioningState ?? '' },
              {
                title: 'Model',
                cell: (d) =>
                  d.properties.model
                    ? armName(d.properties.model)
                    : (d.properties.codeConfiguration?.scoringScript ?? ''),
              },
              { title: 'Instances', cell: (d) => String(d.sku?.capacity ?? 1) },
              { title: 'Instance type', cell: (d) => d.properties.instanceType ?? '' },
            ]}
          />
          {deployments.data.map((d) => (
            <DeploymentLogs key={d.id} path={`${path}/deployments/${encodeURIComponent(d.name)}`} name={d.name} />
          ))}
        </>
      )}
    </Page>
  );
}

/** The last lines of a deployment's log (`POST …/getLogs`), on request. */
function DeploymentLogs({ path, name }: { path: string; name: string }) {
  const [open, setOpen] = useState(false);
  const [tick, setTick] = useState(0);
  const logs = useLoad(
    () => (open ? arm.post<{ content: string }>(`${path}/getLogs`, { tail: 200 }) : Promise.resolve(undefined)),
    [path, open, tick],
  );
  return (
    <details className="deployment-logs" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>Log of deployment {name}</summary>
      {open && (
        <>
          <button type="button" className="small" onClick={() => setTick((t) => t + 1)}>
            Refresh
          </button>
          {logs.error && <ErrorBox error={logs.error} />}
          {logs.data === undefined ? (
            !logs.error && <Loading what="Reading the log" />
          ) : (
            <pre className="code log" tabIndex={0} aria-label={`Log of deployment ${name}`}>
              {logs.data.content || '(empty)'}
            </pre>
          )}
        </>
      )}
    </details>
  );
}

// MLflow's scoring contract (dataframe_split); a scoring script's run() receives the JSON as posted.
const EXAMPLE = '{\n  "dataframe_split": {\n    "columns": ["x"],\n    "data": [[1.0]]\n  }\n}';

/**
 * A test request: the JSON typed here is posted to the scoring URI with the endpoint's key (or a
 * token, for AMLToken endpoints), fetched for this request only and never shown. The scoring
 * URI's path is used on this origin (the studio's CSP allows only its own origin).
 */
function TestRequest({ endpoint, path, deployments }: { endpoint: Endpoint; path: string; deployments: string[] }) {
  const [answer, setAnswer] = useState<{ status: number; body: string; deployment: string | null; ms: number } | null>(
    null,
  );
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (ev: FormEvent<HTMLFormElement>) => {
    ev.preventDefault();
    const f = new FormData(ev.currentTarget);
    const text = String(f.get('body') ?? '');
    const deployment = String(f.get('deployment') ?? '');
    setError(null);
    setAnswer(null);
    try {
      JSON.parse(text);
    } catch (e) {
      setError(new Error(`The request is not JSON: ${(e as Error).message}. Fix it and send again.`));
      return;
    }
    setBusy(true);
    try {
      const secret =
        endpoint.properties.authMode === 'Key'
          ? (await arm.post<{ primaryKey: string }>(`${path}/listKeys`)).primaryKey
          : (await arm.post<{ accessToken: string }>(`${path}/token`)).accessToken;
      const url = new URL(endpoint.properties.scoringUri ?? '', location.origin);
      const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${secret}` };
      if (deployment) headers['azureml-model-deployment'] = deployment;
      const started = performance.now();
      const res = await fetch(url.pathname + url.search, { method: 'POST', headers, body: text });
      const raw = await res.text();
      let body = raw;
      try {
        body = JSON.stringify(JSON.parse(raw), null, 2);
      } catch {
        /* not JSON: shown as it came */
      }
      setAnswer({
        status: res.status,
        body,
        deployment: res.headers.get('azureml-model-deployment'),
        ms: Math.round(performance.now() - started),
      });
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <h2>Test request</h2>
      <form onSubmit={(e) => void submit(e)} aria-label="Test request">
        <label>
          Request body (JSON)
          <textarea name="body" rows={8} defaultValue={EXAMPLE} spellCheck={false} className="code-input" />
        </label>
        <label>
          Deployment
          <select name="deployment" defaultValue="">
            <option value="">by traffic</option>
            {deployments.map((d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Sending…' : 'Send request'}
        </button>
      </form>
      {error && <ErrorBox error={error} />}
      {answer && (
        <div role="status" aria-label="Answer">
          <p>
            <strong className={answer.status < 400 ? 'ok' : 'bad'}>HTTP {answer.status}</strong>
            {answer.deployment && <> from deployment {answer.deployment}</>} in {answer.ms} ms
          </p>
          <pre className="code" tabIndex={0} aria-label="Answer body">
            {answer.body}
          </pre>
        </div>
      )}
    </>
  );
}
