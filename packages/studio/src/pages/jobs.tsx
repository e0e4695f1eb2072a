import { useEffect, useRef, useState } from 'react';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { arm, armList, open, withVersion, wsPath, type WorkspaceRef } from '../lib/api';
import { useLoad } from '../lib/hooks';
import { href } from '../lib/router';
import { time } from '../lib/format';
import { Empty, ErrorBox, KeyValues, Loading, Page, SimpleTable } from '../components/ui';

export interface Job {
  id: string;
  name: string;
  properties: {
    jobType: string;
    status: string;
    displayName?: string;
    description?: string;
    experimentName?: string;
    computeId?: string | null;
    command?: string;
    codeId?: string;
    environmentId?: string;
    environmentVariables?: Record<string, string>;
    inputs?: Record<string, Record<string, unknown>>;
    outputs?: Record<string, Record<string, unknown>>;
    parentJobName?: string;
    tags?: Record<string, string>;
    services?: Record<string, { endpoint?: string }>;
    error?: { code: string; message: string };
    [k: string]: unknown;
  };
  systemData?: { createdAt?: string; createdBy?: string; lastModifiedAt?: string };
}

/** Azure ML's job statuses that do not change any more. */
export const TERMINAL = ['Completed', 'Failed', 'Canceled', 'NotResponding', 'Paused'];

/** The last segment of an ARM id (a compute's, an environment's: `…/environments/{n}/versions/{v}` → n:v). */
export function armName(id: string | null | undefined): string {
  if (!id) return '';
  const m = /\/([^/]+)\/versions\/([^/]+)$/.exec(id);
  if (m) return `${decodeURIComponent(m[1]!)}:${decodeURIComponent(m[2]!)}`;
  return decodeURIComponent(id.split('/').pop() ?? id);
}

/** The job's MLflow run in the studio (a job's run id is its name; the experiment is in its Studio link). */
export function runHref(ws: WorkspaceRef, j: Job): string | undefined {
  const m = /#\/experiments\/([^/]+)\/runs\/([^/?#]+)/.exec(j.properties.services?.Studio?.endpoint ?? '');
  if (!m) return undefined;
  return href([
    'w',
    ws.sub,
    ws.group,
    ws.name,
    'experiments',
    decodeURIComponent(m[1]!),
    'runs',
    decodeURIComponent(m[2]!),
  ]);
}

export function Status({ status }: { status: string }) {
  return <span className={`status job-${status}`}>{status}</span>;
}

export function Jobs({ ws }: { ws: WorkspaceRef }) {
  const list = useLoad(() => armList<Job>(`${wsPath(ws)}/jobs`), [ws.name]);
  const base = ['w', ws.sub, ws.group, ws.name];
  // A list with running jobs refreshes itself every few seconds.
  const running = list.data?.some((j) => !TERMINAL.includes(j.properties.status));
  useEffect(() => {
    if (!running) return;
    const t = setInterval(list.reload, 3000);
    return () => clearInterval(t);
  }, [running, list.reload]);
  const rows = [...(list.data ?? [])].sort((a, b) =>
    String(b.systemData?.createdAt ?? '').localeCompare(String(a.systemData?.createdAt ?? '')),
  );
  return (
    <Page title="Jobs">
      {list.error && <ErrorBox error={list.error} onRetry={list.reload} />}
      {!list.data ? (
        !list.error && <Loading what="Loading jobs" />
      ) : rows.length === 0 ? (
        <Empty title="No job yet.">
          Submit one with the CLI (<code>atelier job create -f job.yml --stream</code>), azure-ai-ml (
          <code>ml_client.jobs.create_or_update(command(…))</code>) or azureml-core (
          <code>Experiment.submit(ScriptRunConfig(…))</code>); it runs on a compute of this workspace and shows up here
          with its live log.
        </Empty>
      ) : (
        <SimpleTable
          label="Jobs"
          rows={rows}
          rowKey={(j) => j.id}
          columns={[
            { title: 'Name', cell: (j) => <a href={href([...base, 'jobs', j.name])}>{j.name}</a> },
            { title: 'Display name', cell: (j) => j.properties.displayName ?? '' },
            { title: 'Status', cell: (j) => <Status status={j.properties.status} /> },
            { title: 'Type', cell: (j) => j.properties.jobType },
            { title: 'Compute', cell: (j) => armName(j.properties.computeId) || 'local' },
            { title: 'Experiment', cell: (j) => j.properties.experimentName ?? '' },
            {
              title: 'Created',
              cell: (j) => time(j.systemData?.createdAt ? Date.parse(j.systemData.createdAt) : null),
            },
          ]}
        />
      )}
    </Page>
  );
}

const describeIo = (io: Record<string, unknown>): string => {
  if (io.value !== undefined) return String(io.value);
  const kind = io.jobInputType ?? io.jobOutputType;
  const uri = io.uri ?? '';
  return [kind, uri, io.mode ? `(${String(io.mode)})` : ''].filter(Boolean).join(' ');
};

export function JobPage({ ws, name }: { ws: WorkspaceRef; name: string }) {
  const path = `${wsPath(ws)}/jobs/${encodeURIComponent(name)}`;
  const job = useLoad(() => arm.get<Job>(path), [ws.name, name]);
  const [cancelling, setCancelling] = useState(false);
  const [cancelError, setCancelError] = useState<Error | null>(null);
  if (job.error) return <ErrorBox error={job.error} onRetry={job.reload} />;
  if (!job.data) return <Loading what="Loading the job" />;
  const j = job.data;
  const p = j.properties;
  const ended = TERMINAL.includes(p.status);
  const run = runHref(ws, j);
  const cancel = async () => {
    setCancelling(true);
    setCancelError(null);
    try {
      await arm.post(`${path}/cancel`);
      job.reload();
    } catch (e) {
      setCancelError(e as Error);
    } finally {
      setCancelling(false);
    }
  };
  const reserved = new Set([
    'jobType',
    'status',
    'displayName',
    'description',
    'experimentName',
    'computeId',
    'command',
    'codeId',
    'environmentId',
    'environmentVariables',
    'inputs',
    'outputs',
    'services',
    'tags',
    'properties',
    'error',
    'isArchived',
    'parentJobName',
  ]);
  const params = Object.entries(p)
    .filter(([k, v]) => !reserved.has(k) && v !== undefined && v !== null)
    .map(([k, v]): [string, string] => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]);
  return (
    <Page
      title={`Job ${p.displayName && p.displayName !== name ? `${p.displayName} (${name})` : name}`}
      actions={
        <>
          {run && (
            <a className="button" href={run}>
              Its MLflow run
            </a>
          )}
          {!ended && (
            <button type="button" className="danger" disabled={cancelling} onClick={() => void cancel()}>
              {cancelling ? 'Cancelling…' : 'Cancel job'}
            </button>
          )}
        </>
      }
    >
      {cancelError && <ErrorBox error={cancelError} />}
      <div className="columns">
        <section>
          <h2>Job</h2>
          <KeyValues
            label="Job details"
            rows={[
              ['Status', <Status key="s" status={p.status} />],
              ['Type', p.jobType],
              ['Experiment', p.experimentName ?? '—'],
              ['Compute', armName(p.computeId) || 'local'],
              ['Environment', armName(p.environmentId) || '—'],
              ['Code', armName(p.codeId) || '—'],
              ['Created', time(j.systemData?.createdAt ? Date.parse(j.systemData.createdAt) : null)],
              ['Created by', j.systemData?.createdBy ?? '—'],
              ...(p.parentJobName ? [['Parent job', p.parentJobName] as [string, string]] : []),
              ...(p.description ? [['Description', p.description] as [string, string]] : []),
            ]}
          />
          {p.error && (
            <div className="error" role="alert">
              <strong>{p.error.code}:</strong> {p.error.message}
            </div>
          )}
          {p.command !== undefined && (
            <>
              <h2>Command</h2>
              <pre className="code" aria-label="Command">
                {p.command}
              </pre>
            </>
          )}
        </section>
        <section>
          <h2>Inputs</h2>
          <KeyValues label="Inputs" rows={Object.entries(p.inputs ?? {}).map(([k, v]) => [k, describeIo(v)])} />
          <h2>Outputs</h2>
          <KeyValues label="Outputs" rows={Object.entries(p.outputs ?? {}).map(([k, v]) => [k, describeIo(v)])} />
          <h2>Parameters</h2>
          <KeyValues label="Parameters" rows={params} />
          <h2>Environment variables</h2>
          <KeyValues label="Environment variables" rows={Object.entries(p.environmentVariables ?? {})} />
          {p.tags && Object.keys(p.tags).length > 0 && (
            <>
              <h2>Tags</h2>
              <KeyValues label="Tags" rows={Object.entries(p.tags)} />
            </>
          )}
        </section>
      </div>
      {/* The job's details follow the statuses the log stream reports. */}
      <LiveLog path={path} onStatus={(status) => status !== p.status && job.reload()} />
    </Page>
  );
}

interface LogLine {
  file: string;
  line: string;
}

/**
 * The job's user log, followed live over the server's event stream (`GET …/jobs/{name}/logs/stream`):
 * read with fetch (EventSource cannot send the Authorization header) and parsed by eventsource-parser.
 */
function LiveLog({ path, onStatus }: { path: string; onStatus: (status: string) => void }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [state, setState] = useState<{ following: boolean; status?: string; error?: Error }>({ following: true });
  const box = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  const endRef = useRef(onStatus);
  endRef.current = onStatus;
  useEffect(() => {
    const abort = new AbortController();
    setLines([]);
    setState({ following: true });
    (async () => {
      const res = await open(withVersion(`${path}/logs/stream`), {
        signal: abort.signal,
        headers: { accept: 'text/event-stream' },
      });
      const events = res
        .body!.pipeThrough(new TextDecoderStream())
        .pipeThrough(new EventSourceParserStream())
        .getReader();
      // Lines arrive in bursts: gather each burst and render it once.
      let pending: LogLine[] = [];
      let frame = 0;
      const flush = () => {
        frame = 0;
        const batch = pending;
        pending = [];
        setLines((old) =>
          old.length + batch.length > 20_000 ? [...old, ...batch].slice(-20_000) : [...old, ...batch],
        );
      };
      for (;;) {
        const { done, value } = await events.read();
        if (done) break;
        const data = JSON.parse(value.data || '{}') as Record<string, any>;
        if (value.event === 'line') {
          pending.push({ file: String(data.file ?? ''), line: String(data.line ?? '') });
          if (!frame) frame = requestAnimationFrame(flush);
        } else if (value.event === 'status') {
          setState((s) => ({ ...s, status: String(data.status) }));
          endRef.current(String(data.status));
        } else if (value.event === 'end') {
          setState({ following: false, status: String(data.status) });
          endRef.current(String(data.status));
        } else if (value.event === 'error') throw new Error(String(data.message));
      }
      if (frame) cancelAnimationFrame(frame);
      flush();
      setState((s) => ({ ...s, following: false }));
    })().catch((e: Error) => {
      if (!abort.signal.aborted) setState({ following: false, error: e });
    });
    return () => abort.abort();
  }, [path]);
  useEffect(() => {
    const el = box.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [lines]);
  const files = new Set(lines.map((l) => l.file));
  return (
    <section aria-labelledby="log-title">
      <h2 id="log-title">
        Log{' '}
        <span className="muted small" role="status" aria-live="polite">
          {state.following ? 'following live…' : `ended${state.status ? ` (${state.status})` : ''}`}
        </span>
      </h2>
      {state.error && <ErrorBox error={state.error} />}
      {lines.length === 0 && !state.following && !state.error ? (
        <Empty title="This job wrote no log line." />
      ) : (
        <pre
          ref={box}
          className="code log"
          tabIndex={0}
          aria-label="Job log"
          onScroll={(e) => {
            const el = e.currentTarget;
            stick.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
          }}
        >
          {lines.map((l) => (files.size > 1 ? `[${l.file.replace(/^user_logs\//, '')}] ${l.line}` : l.line)).join('\n')}
        </pre>
      )}
    </section>
  );
}
