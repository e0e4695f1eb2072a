import crypto from 'node:crypto';
import { LineCounter, parseDocument, isMap, type Document, type Node } from 'yaml';
import { UsageError } from '../output.js';

/**
 * Azure ML v2 job YAML → the `properties` of `PUT W/jobs/{name}`. Command jobs: `command`,
 * `environment`, `compute`, `experiment_name`, `display_name`, `description`, `tags`,
 * `environment_variables`, `inputs` (literals, or `{type, path, mode}`), `outputs`
 * (`{type, path, mode, name, version}`), `resources.instance_count`, `limits.timeout`. Every error
 * names its line.
 */
export interface ParsedJob {
  name: string;
  properties: Record<string, unknown>;
}

const MODES: Record<string, string> = {
  ro_mount: 'ReadOnlyMount',
  rw_mount: 'ReadWriteMount',
  download: 'Download',
  direct: 'Direct',
  upload: 'Upload',
  eval_mount: 'EvalMount',
  eval_download: 'EvalDownload',
};

export function parseJobYaml(text: string, file: string): ParsedJob {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const lineOf = (node: Node | null | undefined) => (node?.range ? lines.linePos(node.range[0]).line : undefined);
  const fail = (message: string, node?: Node | null): never => {
    const line = lineOf(node);
    throw new UsageError(`${file}${line ? `, line ${line}` : ''}: ${message}`);
  };
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new UsageError(`${file}, line ${lines.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`);
  }
  if (!isMap(doc.contents)) fail('a job file is a mapping (type: command, command: …)', doc.contents);
  const at = (path: (string | number)[]) => (doc as Document).getIn(path, true) as Node | undefined;
  const y = doc.toJS() as Record<string, unknown>;
  const known = [
    '$schema',
    'type',
    'name',
    'command',
    'code',
    'environment',
    'compute',
    'experiment_name',
    'display_name',
    'description',
    'tags',
    'properties',
    'environment_variables',
    'inputs',
    'outputs',
    'resources',
    'limits',
    'distribution',
  ];
  for (const k of Object.keys(y))
    if (!known.includes(k)) fail(`unknown key '${k}' (known: ${known.join(', ')})`, at([k]));
  const type = String(y.type ?? 'command').toLowerCase();
  if (type !== 'command')
    fail(`type '${type}' jobs cannot be submitted from a file yet; use type: command`, at(['type']));
  if (typeof y.command !== 'string' || !y.command.trim())
    fail('command is required (the shell command to run)', at(['command']) ?? doc.contents);
  if (y.code !== undefined)
    fail(
      'code: uploading a local folder is not supported by this command yet; register a code asset and use its id',
      at(['code']),
    );
  const ref = (v: unknown) => (typeof v === 'string' ? v.replace(/^azureml:/i, '') : v);
  const p: Record<string, unknown> = { jobType: 'Command', command: y.command };
  if (y.environment !== undefined) {
    if (typeof y.environment !== 'string')
      fail('environment must be azureml:<name>:<version> (or an environment id)', at(['environment']));
    p.environmentId = String(y.environment).startsWith('/') ? y.environment : `azureml:${ref(y.environment)}`;
  }
  if (y.compute !== undefined) p.computeId = ref(y.compute);
  for (const [k, to] of [
    ['experiment_name', 'experimentName'],
    ['display_name', 'displayName'],
    ['description', 'description'],
  ] as const) {
    if (y[k] === undefined) continue;
    if (typeof y[k] !== 'string') fail(`${k} must be text`, at([k]));
    p[to] = y[k];
  }
  for (const [k, to] of [
    ['tags', 'tags'],
    ['properties', 'properties'],
    ['environment_variables', 'environmentVariables'],
  ] as const) {
    if (y[k] === undefined) continue;
    if (!y[k] || typeof y[k] !== 'object' || Array.isArray(y[k])) fail(`${k} must be a mapping`, at([k]));
    p[to] = Object.fromEntries(Object.entries(y[k] as object).map(([a, b]) => [a, String(b)]));
  }
  if (y.inputs !== undefined) {
    if (!y.inputs || typeof y.inputs !== 'object') fail('inputs must be a mapping of names to values', at(['inputs']));
    const inputs: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(y.inputs as Record<string, unknown>)) {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        const o = v as Record<string, unknown>;
        if (o.path === undefined && o.value !== undefined) {
          inputs[name] = { jobInputType: 'literal', value: String(o.value) };
          continue;
        }
        if (typeof o.path !== 'string')
          fail(
            `inputs.${name}.path is required (azureml://datastores/… or azureml:<data>:<version>)`,
            at(['inputs', name]),
          );
        const mode = o.mode === undefined ? undefined : MODES[String(o.mode)];
        if (o.mode !== undefined && !mode)
          fail(`inputs.${name}.mode must be one of ${Object.keys(MODES).join(', ')}`, at(['inputs', name, 'mode']));
        inputs[name] = { jobInputType: String(o.type ?? 'uri_folder'), uri: o.path, ...(mode ? { mode } : {}) };
      } else if (v === null || Array.isArray(v)) {
        fail(`inputs.${name} must be a value or a mapping with type and path`, at(['inputs', name]));
      } else inputs[name] = { jobInputType: 'literal', value: String(v) };
    }
    p.inputs = inputs;
  }
  if (y.outputs !== undefined) {
    if (!y.outputs || typeof y.outputs !== 'object') fail('outputs must be a mapping', at(['outputs']));
    const outputs: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(y.outputs as Record<string, unknown>)) {
      const o = (v ?? {}) as Record<string, unknown>;
      if (typeof o !== 'object' || Array.isArray(o)) fail(`outputs.${name} must be a mapping`, at(['outputs', name]));
      const mode = o.mode === undefined ? undefined : MODES[String(o.mode)];
      if (o.mode !== undefined && !mode)
        fail(`outputs.${name}.mode must be one of rw_mount, upload, direct`, at(['outputs', name, 'mode']));
      outputs[name] = {
        jobOutputType: String(o.type ?? 'uri_folder'),
        ...(mode ? { mode } : {}),
        ...(o.path ? { uri: String(o.path) } : {}),
        ...(o.name ? { assetName: String(o.name) } : {}),
        ...(o.version !== undefined ? { assetVersion: String(o.version) } : {}),
      };
    }
    p.outputs = outputs;
  }
  const resources = y.resources as Record<string, unknown> | undefined;
  if (resources?.instance_count !== undefined) {
    if (!Number.isInteger(resources.instance_count))
      fail('resources.instance_count must be a whole number', at(['resources', 'instance_count']));
    p.resources = { instanceCount: resources.instance_count };
  }
  const limits = y.limits as Record<string, unknown> | undefined;
  if (limits?.timeout !== undefined) {
    const t = limits.timeout;
    if (typeof t !== 'number' && typeof t !== 'string')
      fail('limits.timeout must be seconds or an ISO 8601 duration', at(['limits', 'timeout']));
    p.limits = { jobLimitsType: 'Command', timeout: typeof t === 'number' ? `PT${t}S` : t };
  }
  if (y.distribution !== undefined) p.distribution = y.distribution;
  let name = typeof y.name === 'string' ? y.name : undefined;
  if (y.name !== undefined && !name) fail('name must be text', at(['name']));
  name ??= `job_${crypto.randomBytes(6).toString('hex')}`;
  return { name, properties: p };
}
