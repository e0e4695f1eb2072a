import { useState } from 'react';
import { arm, armWait, trackingPath, wsPath, type WorkspaceRef } from '../lib/api';
import { useLoad } from '../lib/hooks';
import { navigate } from '../lib/router';
import { ErrorBox, KeyValues, Loading, Page } from '../components/ui';

export function WorkspaceOverview({ ws }: { ws: WorkspaceRef }) {
  const w = useLoad(() => arm.get(wsPath(ws)), [ws.sub, ws.group, ws.name]);
  const [keys, setKeys] = useState<Record<string, unknown> | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  if (w.error) return <ErrorBox error={w.error} onRetry={w.reload} />;
  if (!w.data) return <Loading what="Loading the workspace" />;
  const p = w.data.properties ?? {};
  const tracking = p.mlFlowTrackingUri ?? `${location.origin}${trackingPath(ws)}`;
  const showKeys = async () => {
    setError(null);
    try {
      setKeys(await arm.post(`${wsPath(ws)}/listKeys`));
    } catch (e) {
      setError(e as Error);
    }
  };
  const remove = async () => {
    if (!confirm(`Delete workspace ${ws.name}? Its experiments, runs and models go with it.`)) return;
    setBusy(true);
    setError(null);
    try {
      await armWait('DELETE', wsPath(ws));
      navigate('#/');
    } catch (e) {
      setError(e as Error);
      setBusy(false);
    }
  };
  return (
    <Page
      title={p.friendlyName || ws.name}
      actions={
        <button type="button" className="danger" onClick={() => void remove()} disabled={busy}>
          {busy ? 'Deleting…' : 'Delete workspace'}
        </button>
      }
    >
      {error && <ErrorBox error={error} />}
      <KeyValues
        label="Workspace details"
        rows={[
          ['Name', ws.name],
          ['Resource group', ws.group],
          ['Subscription', ws.sub],
          ['Location', w.data.location],
          ['Description', p.description || '—'],
          ['State', p.provisioningState ?? '—'],
          ['Workspace id', p.workspaceId ?? '—'],
          ['MLflow tracking URI', <code key="t">{tracking}</code>],
          ['Storage account', p.storageAccount ?? '—'],
          ['Key vault', p.keyVault ?? '—'],
          ['Public network access', p.publicNetworkAccess ?? '—'],
        ]}
      />
      <h2>Use it from MLflow</h2>
      <pre
        className="code"
        tabIndex={0}
      >{`eval "$(npx atelier mlflow env -w ${ws.name} -g ${ws.group})"   # MLFLOW_TRACKING_URI=${tracking}`}</pre>
      <h2>Keys</h2>
      {keys ? (
        <KeyValues
          label="Workspace keys"
          rows={Object.entries(keys).map(([k, v]) => [
            k,
            <Secret key={k} value={typeof v === 'string' ? v : JSON.stringify(v)} />,
          ])}
        />
      ) : (
        <button type="button" onClick={() => void showKeys()}>
          List keys
        </button>
      )}
    </Page>
  );
}

/** A key is hidden until asked for, then can be copied. */
function Secret({ value }: { value: string }) {
  const [shown, setShown] = useState(false);
  return (
    <span className="secret">
      <code>{shown ? value : '••••••••'}</code>{' '}
      <button type="button" className="ghost small" onClick={() => setShown(!shown)}>
        {shown ? 'Hide' : 'Show'}
      </button>{' '}
      <button type="button" className="ghost small" onClick={() => void navigator.clipboard?.writeText(value)}>
        Copy
      </button>
    </span>
  );
}
