/** Import layers and cycles (npm run lint). See docs/contributing.md, "Layers". */
const src = '^packages/server/src/';
// Domain: every folder under src/ except the edge, the infrastructure and the test harness, so a
// new capability folder is covered without editing this file.
const domain = `${src}(?!(http|store|secrets|blob|testing)/)[^/]+/`;
const edge = `${src}http/`;
const composition = `${src}(app|features|services|server|main|index)\\.ts$`;
const infra = `${src}(store|secrets|blob)/`;
// Tests run the whole server (testing/harness.ts) and may reach any layer; cycles still count.
const test = '\\.test\\.ts$';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make load order and layering unclear.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'domain-not-to-http',
      severity: 'error',
      comment: 'Domain code never imports the HTTP edge (http/ → domain, never back).',
      from: { path: domain, pathNot: test },
      to: { path: edge },
    },
    {
      name: 'domain-not-to-composition',
      severity: 'error',
      comment: 'Domain code never imports the composition root (app.ts, features.ts, server.ts, …).',
      from: { path: domain, pathNot: test },
      to: { path: composition },
    },
    {
      name: 'infra-not-up',
      severity: 'error',
      comment: 'store/, secrets/ and blob/ never import domain, HTTP or composition code.',
      from: { path: infra, pathNot: test },
      to: { path: [domain, edge, composition, `${src}context\\.ts$`] },
    },
    {
      name: 'contracts-standalone',
      severity: 'error',
      comment: 'The wire contracts import none of our other packages.',
      from: { path: '^packages/contracts/', pathNot: test },
      to: { path: '^packages/(server|sdk|cli)/' },
    },
    {
      name: 'sdk-standalone',
      severity: 'error',
      comment: 'The SDK never imports the server or the CLI.',
      from: { path: '^packages/sdk/', pathNot: test },
      to: { path: '^packages/(server|cli)/' },
    },
    {
      name: 'studio-standalone',
      severity: 'error',
      comment:
        'The studio (a browser app) speaks to the server over HTTP only; it imports no server, CLI or Node-only SDK code.',
      from: { path: '^packages/studio/', pathNot: test },
      to: { path: ['^packages/(server|cli)/', '^packages/sdk/src/(index|node-host)\\.ts$'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js', '.mjs'] },
  },
};
