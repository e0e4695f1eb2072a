import { useEffect, useState } from 'react';
import { arm, armList, wsPath, type WorkspaceRef } from '../lib/api';
import { useLoad } from '../lib/hooks';
import { href } from '../lib/router';
import { time } from '../lib/format';
import { Empty, ErrorBox, KeyValues, Loading, Page, SimpleTable } from '../components/ui';

interface NodeCounts {
  idleNodeCount: number;
  runningNodeCount: number;
  preparingNodeCount: number;
  unusableNodeCount: number;
  leavingNodeCount: number;
  preemptedNodeCount: number;
}

export interface Compute {
  id: string;
  name: string;
  properties: {
    computeType: string;
    description?: string;
    provisioningState?: string;
    createdOn?: string;
    modifiedOn?: string;
    isAttachedCompute?: boolean;
    properties?: {
      vmSize?: string;
      vmPriority?: string;
      scaleSettings?: { minNodeCount?: number; maxNodeCount: number; nodeIdleTimeBeforeScaleDown?: string };
      allocationState?: string;
      currentNodeCount?: number;
      targetNodeCount?: number;
      nodeStateCounts?: NodeCounts;
      state?: string;
      dashboardUrl?: string;
      address?: string;
    };
  };
}

interface ComputeNode {
  nodeId: string;
  nodeState: string;
  runId: string | null;
  privateIpAddress: string | null;
}

const nodesText = (c: Compute) => {
  const p = c.properties.properties;
  if (!p?.scaleSettings) return p?.currentNodeCount === undefined ? '' : String(p.currentNodeCount);
  return `${p.currentNodeCount ?? 0} (min ${p.scaleSettings.minNodeCount ?? 0}, max ${p.scaleSettings.maxNodeCount})`;
};

export function Computes({ ws }: { ws: WorkspaceRef }) {
  const list = useLoad(() => armList<Compute>(`${wsPath(ws)}/computes`), [ws.name]);
  const base = ['w', ws.sub, ws.group, ws.name, 'computes'];
  return (
    <Page title="Computes">
      {list.error && <ErrorBox error={list.error} onRetry={list.reload} />}
      {!list.data ? (
        !list.error && <Loading what="Loading computes" />
      ) : list.data.length === 0 ? (
        <Empty title="No compute yet: jobs without one run on this server directly.">
          Create a cluster with the CLI (<code>atelier compute create cpu --max-instances 2</code>), azure-ai-ml (
          <code>ml_client.compute.begin_create_or_update(AmlCompute(name=&quot;cpu&quot;, max_instances=2))</code>) or
          azureml-core (<code>ComputeTarget.create(ws, &quot;cpu&quot;, AmlCompute.provisioning_configuration(…))</code>
          ), or attach a Ray cluster (<code>atelier compute create ray1 --type ray --dashboard-url …</code>); then name
          it as a job&apos;s compute.
        </Empty>
      ) : (
        <SimpleTable
          label="Computes"
          rows={list.data}
          rowKey={(c) => c.id}
          columns={[
            { title: 'Name', cell: (c) => <a href={href([...base, c.name])}>{c.name}</a> },
            { title: 'Type', cell: (c) => c.properties.computeType },
            { title: 'Size', cell: (c) => c.properties.properties?.vmSize ?? '' },
            { title: 'State', cell: (c) => c.properties.properties?.state ?? c.properties.provisioningState ?? '' },
            { title: 'Nodes', cell: nodesText },
            { title: 'Created', cell: (c) => time(c.properties.createdOn ? Date.parse(c.properties.createdOn) : null) },
          ]}
        />
      )}
    </Page>
  );
}

export function ComputePage({ ws, name }: { ws: WorkspaceRef; name: string }) {
  const path = `${wsPath(ws)}/computes/${encodeURIComponent(name)}`;
  const compute = useLoad(() => arm.get<Compute>(path), [ws.name, name]);
  const nodes = useLoad(() => arm.post<{ nodes: ComputeNode[] }>(`${path}/listNodes`), [ws.name, name]);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<Error | null>(null);
  // Node counts move while jobs run: look again every few seconds.
  useEffect(() => {
    const t = setInterval(() => {
      compute.reload();
      nodes.reload();
    }, 4000);
    return () => clearInterval(t);
  }, [compute.reload, nodes.reload]);
  if (compute.error) return <ErrorBox error={compute.error} onRetry={compute.reload} />;
  if (!compute.data) return <Loading what="Loading the compute" />;
  const c = compute.data;
  const p = c.properties.properties ?? {};
  const stopped = p.state === 'Stopped' || p.state === 'Stopping';
  const act = async (action: 'stop' | 'start') => {
    setBusy(true);
    setActionError(null);
    try {
      await arm.post(`${path}/${action}`);
      compute.reload();
    } catch (e) {
      setActionError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  const counts = p.nodeStateCounts;
  return (
    <Page
      title={`Compute ${name}`}
      actions={
        p.state !== undefined && (
          <button
            type="button"
            className={stopped ? 'primary' : 'danger'}
            disabled={busy}
            onClick={() => void act(stopped ? 'start' : 'stop')}
          >
            {stopped ? 'Start compute' : 'Stop compute'}
          </button>
        )
      }
    >
      {actionError && <ErrorBox error={actionError} />}
      <div className="columns">
        <section>
          <h2>Compute</h2>
          <KeyValues
            label="Compute details"
            rows={[
              ['Type', c.properties.computeType],
              ['State', p.state ?? '—'],
              ['Provisioning', c.properties.provisioningState ?? '—'],
              ['Size', p.vmSize ?? '—'],
              ['Priority', p.vmPriority ?? '—'],
              ['Allocation', p.allocationState ?? '—'],
              ['Nodes now', String(p.currentNodeCount ?? 0)],
              ['Target nodes', String(p.targetNodeCount ?? 0)],
              ['Min nodes', String(p.scaleSettings?.minNodeCount ?? 0)],
              ['Max nodes', p.scaleSettings ? String(p.scaleSettings.maxNodeCount) : '—'],
              ['Idle time before scale-down', p.scaleSettings?.nodeIdleTimeBeforeScaleDown ?? '—'],
              ...(p.dashboardUrl ? [['Ray dashboard', p.dashboardUrl] as [string, string]] : []),
              ['Created', time(c.properties.createdOn ? Date.parse(c.properties.createdOn) : null)],
              ...(c.properties.description ? [['Description', c.properties.description] as [string, string]] : []),
            ]}
          />
        </section>
        <section>
          <h2>Node states</h2>
          {counts ? (
            <KeyValues
              label="Node states"
              rows={[
                ['Idle', String(counts.idleNodeCount)],
                ['Running', String(counts.runningNodeCount)],
                ['Preparing', String(counts.preparingNodeCount)],
                ['Leaving', String(counts.leavingNodeCount)],
                ['Unusable', String(counts.unusableNodeCount)],
                ['Preempted', String(counts.preemptedNodeCount)],
              ]}
            />
          ) : (
            <p className="muted">This compute reports no node counts.</p>
          )}
          <h2>Nodes</h2>
          {nodes.error && <ErrorBox error={nodes.error} onRetry={nodes.reload} />}
          {!nodes.data ? (
            !nodes.error && <Loading what="Listing nodes" />
          ) : nodes.data.nodes.length === 0 ? (
            <Empty title="No node is up.">Nodes come when a job runs here and leave after their idle time.</Empty>
          ) : (
            <SimpleTable
              label="Nodes"
              rows={nodes.data.nodes}
              rowKey={(n) => n.nodeId}
              columns={[
                { title: 'Node', cell: (n) => n.nodeId },
                { title: 'State', cell: (n) => n.nodeState },
                {
                  title: 'Job',
                  cell: (n) =>
                    n.runId ? <a href={href(['w', ws.sub, ws.group, ws.name, 'jobs', n.runId])}>{n.runId}</a> : '',
                },
              ]}
            />
          )}
        </section>
      </div>
    </Page>
  );
}
