import dns from 'node:dns/promises';
import { Readable } from 'node:stream';
import { sql } from 'kysely';
import type { AppContext } from '../context.js';
import type { WorkspaceInfo } from '../resources/workspaces.js';
import type { ResourceEngine } from '../resources/engine.js';
import type { ResourceKeys } from '../resources/resource-keys.js';
import { storageAccountBlobStore } from '../resources/dependents.js';
import { migrations } from '../store/migrations/index.js';
import type { VaultSecretService } from './key-vault.js';
import type { PrivateEndpointService } from './private-endpoints.js';

export type DiagnoseLevel = 'Information' | 'Warning' | 'Error';
export interface DiagnoseResult {
  code: string;
  level: DiagnoseLevel;
  message: string;
}

/** 2025-09-01 `DiagnoseResponseResultValue`: one list per category. */
export interface DiagnoseReport {
  userDefinedRouteResults: DiagnoseResult[];
  networkSecurityRuleResults: DiagnoseResult[];
  resourceLockResults: DiagnoseResult[];
  dnsResolutionResults: DiagnoseResult[];
  storageAccountResults: DiagnoseResult[];
  keyVaultResults: DiagnoseResult[];
  containerRegistryResults: DiagnoseResult[];
  applicationInsightsResults: DiagnoseResult[];
  otherResults: DiagnoseResult[];
}

const ok = (code: string, message: string): DiagnoseResult => ({ code, level: 'Information', message });
const warn = (code: string, message: string): DiagnoseResult => ({ code, level: 'Warning', message });
const error = (code: string, message: string): DiagnoseResult => ({ code, level: 'Error', message });

/**
 * `diagnoseWorkspace`: real checks of what a workspace depends on. Each check reports what it found
 * and, when something is wrong, what to do about it. Nothing is repaired here.
 */
export class WorkspaceDiagnostics {
  constructor(
    private readonly ctx: AppContext,
    private readonly engine: ResourceEngine,
    private readonly keys: ResourceKeys,
    private readonly vault: VaultSecretService,
    private readonly endpoints: PrivateEndpointService,
  ) {}

  async run(ws: WorkspaceInfo): Promise<DiagnoseReport> {
    const [storage, keyVault, registry, insights, dnsr, other] = await Promise.all([
      this.guard('StorageCheckFailed', () => this.storage(ws)),
      this.guard('KeyVaultCheckFailed', () => this.keyVault(ws)),
      this.guard('ContainerRegistryCheckFailed', () => this.registry(ws)),
      this.guard('ApplicationInsightsCheckFailed', () => this.insights(ws)),
      this.guard('DnsCheckFailed', () => this.dns()),
      this.guard('CheckFailed', async () => [...(await this.database()), ...(await this.privateEndpoints(ws))]),
    ]);
    const na = (what: string) => [
      ok('NotApplicable', `${what} do not exist on a self-hosted server; nothing to check`),
    ];
    return {
      userDefinedRouteResults: na('user-defined routes'),
      networkSecurityRuleResults: na('network security groups'),
      resourceLockResults: na('resource locks'),
      dnsResolutionResults: dnsr,
      storageAccountResults: storage,
      keyVaultResults: keyVault,
      containerRegistryResults: registry,
      applicationInsightsResults: insights,
      otherResults: other,
    };
  }

  private async guard(code: string, f: () => Promise<DiagnoseResult[]>): Promise<DiagnoseResult[]> {
    try {
      return await f();
    } catch (e) {
      return [error(code, `the check itself failed: ${(e as Error).message}`)];
    }
  }

  private async storage(ws: WorkspaceInfo): Promise<DiagnoseResult[]> {
    if (!ws.storageAccountId)
      return [error('StorageAccountNotSet', 'the workspace has no storage account; set one with updateDependencies')];
    const r = await this.engine.get(ws.storageAccountId);
    if (!r)
      return [
        error(
          'StorageAccountNotFound',
          `storage account '${ws.storageAccountId}' no longer exists; create it again or point the workspace at another one`,
        ),
      ];
    const out: DiagnoseResult[] = [];
    const store = storageAccountBlobStore(this.ctx, r.name);
    const st = await store.stat('').catch(() => undefined);
    if (!st)
      return [
        error(
          'StorageFolderMissing',
          `the blob folder of storage account '${r.name}' is missing on the server; restore it from a backup (the datastores' files were in it)`,
        ),
      ];
    if (!st.isDir)
      return [
        error(
          'StorageFolderNotAFolder',
          `the blob location of storage account '${r.name}' is not a folder; move the file away and restore the folder`,
        ),
      ];
    const probe = `.atelier-diagnose-${process.pid}-${Date.now()}`;
    try {
      await store.put(probe, Readable.from([Buffer.from('diagnose')]));
      await store.delete(probe);
      out.push(ok('StorageWritable', `storage account '${r.name}' is reachable and writable`));
    } catch (e) {
      out.push(
        error(
          'StorageNotWritable',
          `storage account '${r.name}' cannot be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check the server's blob store (disk and folder permissions, or the S3 bucket)`,
        ),
      );
    }
    const keys = await this.keys.all(r.id).catch((e: Error) => e);
    if (keys instanceof Error)
      out.push(
        error(
          'StorageKeysUnreadable',
          `the access keys of storage account '${r.name}' cannot be decrypted: ${keys.message}`,
        ),
      );
    else if (!keys.key1 || !keys.key2)
      out.push(
        error('StorageKeysMissing', `storage account '${r.name}' lacks an access key; regenerate key1 and key2`),
      );
    return out;
  }

  private async keyVault(ws: WorkspaceInfo): Promise<DiagnoseResult[]> {
    if (!ws.keyVaultId)
      return [error('KeyVaultNotSet', 'the workspace has no key vault; set one with updateDependencies')];
    const r = await this.engine.get(ws.keyVaultId);
    if (!r)
      return [
        error(
          'KeyVaultNotFound',
          `key vault '${ws.keyVaultId}' no longer exists; create it again (its secrets are lost)`,
        ),
      ];
    const v = await this.vault.verify(r.id);
    const wrappedBy = await this.ctx.keys.wrappedBy(r.id);
    const cmk = wrappedBy !== undefined && wrappedBy !== 'master';
    if (v.error && cmk)
      return [
        error(
          'CustomerManagedKeyUnusable',
          `key vault '${r.name}' is encrypted with the workspace's customer-managed key, which cannot be used: ${v.error}`,
        ),
      ];
    if (v.error)
      return [
        error(
          'KeyVaultDecryptFailed',
          `key vault '${r.name}': ${v.error}; restore the master key (ATELIER_MASTER_KEY or master.key) the data was sealed with`,
        ),
      ];
    return [
      ok(
        'KeyVaultDecrypts',
        `key vault '${r.name}' is reachable and its data key${cmk ? ' (wrapped by the customer-managed key)' : ''} opens all ${v.checked} checked secrets`,
      ),
    ];
  }

  private async registry(ws: WorkspaceInfo): Promise<DiagnoseResult[]> {
    if (!ws.containerRegistryId)
      return [
        ok(
          'ContainerRegistryNotYetCreated',
          'the workspace has no container registry yet; one is created when an image is first built',
        ),
      ];
    const r = await this.engine.get(ws.containerRegistryId);
    if (!r)
      return [
        error(
          'ContainerRegistryNotFound',
          `container registry '${ws.containerRegistryId}' no longer exists; create it again or point the workspace at another one`,
        ),
      ];
    const all = await this.keys.all(r.id).catch((e: Error) => e);
    if (all instanceof Error)
      return [
        error(
          'ContainerRegistryCredentialsUnreadable',
          `the credentials of registry '${r.name}' cannot be decrypted: ${all.message}`,
        ),
      ];
    if (!all.password && !all.password2)
      return [
        error('ContainerRegistryCredentialsMissing', `registry '${r.name}' has no admin password; regenerate one`),
      ];
    const login = String(r.properties.loginServer ?? '');
    return [ok('ContainerRegistryConfigured', `registry '${r.name}' is configured (login server ${login || 'unset'})`)];
  }

  private async insights(ws: WorkspaceInfo): Promise<DiagnoseResult[]> {
    if (!ws.applicationInsightsId)
      return [
        warn(
          'ApplicationInsightsNotSet',
          'the workspace has no application insights; deployed services will not report telemetry — set one with update',
        ),
      ];
    const r = await this.engine.get(ws.applicationInsightsId);
    if (!r)
      return [
        error(
          'ApplicationInsightsNotFound',
          `application insights '${ws.applicationInsightsId}' no longer exists; create it again or point the workspace at another one`,
        ),
      ];
    const key = await this.keys.get(r.id, 'instrumentationKey').catch(() => undefined);
    if (!key)
      return [
        error(
          'InstrumentationKeyMissing',
          `application insights '${r.name}' has no readable instrumentation key; services cannot report to it`,
        ),
      ];
    return [ok('ApplicationInsightsReady', `application insights '${r.name}' has its instrumentation key`)];
  }

  private async dns(): Promise<DiagnoseResult[]> {
    const host = new URL(this.ctx.config.publicUrl).hostname.replace(/^\[|\]$/g, '');
    try {
      const a = await dns.lookup(host, { all: true });
      return [
        ok('DnsResolved', `the server's public host '${host}' resolves to ${a.map((x) => x.address).join(', ')}`),
      ];
    } catch (e) {
      return [
        error(
          'DnsResolutionFailed',
          `the server's public host '${host}' (ATELIER_PUBLIC_URL) does not resolve (${(e as NodeJS.ErrnoException).code}); clients cannot reach it`,
        ),
      ];
    }
  }

  private async database(): Promise<DiagnoseResult[]> {
    const t0 = Date.now();
    await sql`select 1`.execute(this.ctx.db);
    const ms = Date.now() - t0;
    const applied = new Set(
      (await sql<{ name: string }>`select name from kysely_migration`.execute(this.ctx.db)).rows.map((r) => r.name),
    );
    const missing = Object.keys(migrations).filter((m) => !applied.has(m));
    const out = [ok('DatabaseReachable', `the ${this.ctx.database.dialect} database answered in ${ms} ms`)];
    if (missing.length)
      out.push(
        error(
          'DatabaseMigrationsMissing',
          `the database lacks migrations ${missing.join(', ')}; restart the server to apply them`,
        ),
      );
    return out;
  }

  private async privateEndpoints(ws: WorkspaceInfo): Promise<DiagnoseResult[]> {
    const { cidrs, problems } = await this.endpoints.approvedNetworks(ws.id);
    const out = problems.map((p) => error('PrivateEndpointInconsistent', `${p}; delete the connection`));
    if (ws.publicNetworkAccess === 'Disabled' && cidrs.length === 0) {
      out.push(
        error(
          'NoNetworkPath',
          'public network access is disabled and no private endpoint is approved: nobody can reach the workspace; approve an endpoint or enable public network access',
        ),
      );
    } else if (!problems.length) {
      out.push(
        ok(
          'PrivateEndpointsConsistent',
          ws.publicNetworkAccess === 'Disabled'
            ? `reachable from ${cidrs.join(', ')}`
            : 'public network access is enabled',
        ),
      );
    }
    return out;
  }
}
