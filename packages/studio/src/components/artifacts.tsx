import { useEffect, useState } from 'react';
import { parse as parseCsv } from 'csv-parse/browser/esm/sync';
import { ApiError, download, open, type Mlflow } from '../lib/api';
import { useLoad } from '../lib/hooks';
import { setQuery, type Route } from '../lib/router';
import { bytes } from '../lib/format';
import { Empty, ErrorBox, Loading } from './ui';

interface FileInfo {
  path: string;
  is_dir?: boolean;
  file_size?: number;
}

const PREVIEW_LIMIT = 2 * 1024 * 1024;
const IMAGE_LIMIT = 10 * 1024 * 1024;
const IMAGE = /\.(png|jpe?g|gif|webp|bmp|svg)$/i;
const TEXT =
  /\.(txt|log|md|py|yaml|yml|toml|cfg|ini|sh|json|csv|tsv|html|xml|js|ts|r|sql|mlmodel|MLmodel)$|(^|\/)(MLmodel|Dockerfile|requirements\.txt|conda\.yaml)$/i;

/** Control characters (other than tab, newline, carriage return, form feed) in the first 4 KiB. */
function looksBinary(text: string): boolean {
  for (let i = 0; i < Math.min(text.length, 4096); i++) {
    const c = text.charCodeAt(i);
    if (c < 9 || (c > 13 && c < 32)) return true;
  }
  return false;
}

/** A run's files: folders open in place; a file shows as text, JSON, a CSV table or an image. */
export function ArtifactBrowser({ api, runId, route }: { api: Mlflow; runId: string; route: Route }) {
  const selected = route.query.get('path') ?? '';
  return (
    <div className="artifacts">
      <nav className="artifact-tree" aria-label="Artifacts">
        <Folder api={api} runId={runId} path="" selected={selected} depth={0} />
      </nav>
      <div className="artifact-preview">
        {selected ? (
          <Preview api={api} runId={runId} path={selected} />
        ) : (
          <p className="muted">Choose a file to preview it.</p>
        )}
      </div>
    </div>
  );
}

function Folder({
  api,
  runId,
  path,
  selected,
  depth,
}: {
  api: Mlflow;
  runId: string;
  path: string;
  selected: string;
  depth: number;
}) {
  const list = useLoad(
    () => api.get<{ files?: FileInfo[] }>('artifacts/list', { run_id: runId, path: path || undefined }),
    [runId, path],
  );
  if (list.error) return <ErrorBox error={list.error} />;
  if (!list.data) return <Loading what="Listing" />;
  const files = list.data.files ?? [];
  if (files.length === 0 && depth === 0)
    return (
      <Empty title="No artifact.">
        Log files with <code>mlflow.log_artifact(&quot;path&quot;)</code> or a model with{' '}
        <code>mlflow.&lt;flavor&gt;.log_model</code>.
      </Empty>
    );
  return (
    <ul className="tree">
      {files.map((f) =>
        f.is_dir ? (
          <Dir key={f.path} api={api} runId={runId} path={f.path} selected={selected} depth={depth} />
        ) : (
          <li key={f.path}>
            <a
              href="#"
              aria-current={selected === f.path ? 'true' : undefined}
              onClick={(e) => {
                e.preventDefault();
                setQuery({ path: f.path });
              }}
            >
              {f.path.split('/').pop()}
            </a>{' '}
            <span className="muted small">{bytes(f.file_size)}</span>
          </li>
        ),
      )}
    </ul>
  );
}

function Dir({
  api,
  runId,
  path,
  selected,
  depth,
}: {
  api: Mlflow;
  runId: string;
  path: string;
  selected: string;
  depth: number;
}) {
  const [open, setOpen] = useState(selected.startsWith(`${path}/`));
  return (
    <li>
      <button type="button" className="ghost tree-dir" aria-expanded={open} onClick={() => setOpen(!open)}>
        {open ? '▾' : '▸'} {path.split('/').pop()}/
      </button>
      {open && <Folder api={api} runId={runId} path={path} selected={selected} depth={depth + 1} />}
    </li>
  );
}

/**
 * The first bytes of a file, at most `limit`: a ranged GET (`Range: bytes=0-…`), so a large artifact
 * is never downloaded whole for a preview. Answers the bytes read and the file's whole size.
 */
async function head(url: string, limit: number): Promise<{ blob: Blob; size: number; whole: boolean }> {
  let res: Response;
  try {
    res = await open(url, { headers: { range: `bytes=0-${limit - 1}` } });
  } catch (e) {
    // 416: an empty file has no byte 0.
    if (e instanceof ApiError && e.status === 416) return { blob: new Blob([]), size: 0, whole: true };
    throw e;
  }
  const total = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1];
  const size = Number(total ?? res.headers.get('content-length') ?? NaN);
  if (res.status === 200 && Number.isFinite(size) && size > limit) {
    // The server ignored the range: stop reading at once.
    await res.body?.cancel();
    return { blob: new Blob([]), size, whole: false };
  }
  const blob = await res.blob();
  const known = Number.isFinite(size) ? size : blob.size;
  return { blob, size: known, whole: blob.size >= known };
}

function Preview({ api, runId, path }: { api: Mlflow; runId: string; path: string }) {
  const url = api.artifactUrl(runId, path);
  const file = useLoad(async () => {
    const limit = IMAGE.test(path) ? IMAGE_LIMIT : PREVIEW_LIMIT;
    const { blob, size, whole } = await head(url, limit);
    if (!whole) return { kind: 'big' as const, size };
    if (IMAGE.test(path)) return { kind: 'image' as const, blob, size };
    const text = await blob.text();
    if (/\.json$/i.test(path)) {
      try {
        return { kind: 'json' as const, size, text: JSON.stringify(JSON.parse(text), null, 2) };
      } catch {
        return { kind: 'text' as const, size, text };
      }
    }
    if (/\.(csv|tsv)$/i.test(path)) {
      try {
        const rows = parseCsv(text, {
          delimiter: /\.tsv$/i.test(path) ? '\t' : ',',
          relax_column_count: true,
          to: 501,
        }) as string[][];
        return { kind: 'csv' as const, size, rows };
      } catch {
        return { kind: 'text' as const, size, text };
      }
    }
    if (TEXT.test(path) || !looksBinary(text)) return { kind: 'text' as const, size, text };
    return { kind: 'binary' as const, size };
  }, [url]);
  const [imageUrl, setImageUrl] = useState<string | null>(null);
  useEffect(() => {
    if (file.data?.kind !== 'image') return;
    const u = URL.createObjectURL(file.data.blob);
    setImageUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [file.data]);
  const [saving, setSaving] = useState<Error | null | 'busy'>(null);
  // The whole file is fetched only when asked for.
  const save = async () => {
    setSaving('busy');
    try {
      const a = document.createElement('a');
      a.href = URL.createObjectURL(await download(url));
      a.download = path.split('/').pop() ?? 'artifact';
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 1000);
      setSaving(null);
    } catch (e) {
      setSaving(e as Error);
    }
  };
  return (
    <section aria-label={`Preview of ${path}`}>
      <header className="preview-head">
        <h2>{path}</h2>
        {file.data && (
          <button type="button" onClick={() => void save()} disabled={saving === 'busy'}>
            Download ({bytes(file.data.size)})
          </button>
        )}
      </header>
      {file.error && <ErrorBox error={file.error} />}
      {saving instanceof Error && <ErrorBox error={saving} />}
      {!file.data && !file.error && <Loading what="Loading the file" />}
      {file.data?.kind === 'image' && imageUrl && <img src={imageUrl} alt={path} className="preview-image" />}
      {(file.data?.kind === 'text' || file.data?.kind === 'json') && (
        <pre className="code preview-text" tabIndex={0}>
          {file.data.text}
        </pre>
      )}
      {file.data?.kind === 'csv' && (
        <div className="table-wrap" tabIndex={0} role="region" aria-label={`Table of ${path}`}>
          <table className="grid" aria-label={`Contents of ${path}`}>
            <thead>
              <tr>
                {(file.data.rows[0] ?? []).map((h, i) => (
                  <th key={i} scope="col">
                    {h}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {file.data.rows.slice(1).map((r, i) => (
                <tr key={i}>
                  {r.map((c, j) => (
                    <td key={j}>{c}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          {file.data.rows.length > 500 && <p className="muted small">The first 500 rows; download the file for all.</p>}
        </div>
      )}
      {file.data?.kind === 'big' && (
        <p className="muted" role="status">
          Too large to preview ({bytes(file.data.size)}); download it.
        </p>
      )}
      {file.data?.kind === 'binary' && <p className="muted">A binary file; download it.</p>}
    </section>
  );
}
