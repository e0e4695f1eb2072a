import { linkOf, type HasServiceContext, type WorkspaceLink } from '../assets/link.js';
import type * as C from '@atelier/contracts';

/**
 * An image (the seed's `Image`): a build record of the workspace — a Python environment built for a
 * job or deployment (`kind: 'environment'`), or a deployment package (`kind: 'deployment'`: the
 * model, code, environment and engine one provisioning of a deployment assembled). Read-only: the
 * server makes them when it builds; `ws.images()` lists them, newest first.
 */
export class Image {
  private constructor(
    private readonly link: WorkspaceLink,
    private body: C.ImageRecord,
  ) {}

  get id(): string {
    return this.body.id;
  }
  get name(): string {
    return this.body.name;
  }
  /** `environment` or `deployment`. */
  get kind(): string {
    return this.body.properties.kind;
  }
  /** `sha256:…` of the environment's spec, or of the package's contents. */
  get digest(): string {
    return this.body.properties.digest;
  }
  /** `Running`, `Succeeded` or `Failed`. */
  get status(): string {
    return this.body.properties.status;
  }
  /** The environment version built (or the one the deployment ran in; '' when none). */
  get environmentId(): string {
    return this.body.properties.environmentId;
  }
  /** The deployment a package was made for (packages only). */
  get deploymentId(): string | undefined {
    return this.body.properties.deploymentId;
  }
  get modelId(): string | null | undefined {
    return this.body.properties.modelId;
  }
  /** uv, venv or cache for environments; the serving engine (local, ray-serve) for packages. */
  get tool(): string {
    return this.body.properties.tool;
  }
  get pipRequirements(): string[] {
    return this.body.properties.pipRequirements;
  }
  get createdTime(): Date {
    return new Date(this.body.properties.createdTime);
  }
  get properties(): C.ImageRecord['properties'] {
    return this.body.properties;
  }

  /** One image of the workspace by name (its id). */
  static async get(ws: HasServiceContext | WorkspaceLink, name: string): Promise<Image> {
    const link = linkOf(ws);
    const r = await link.client.request<C.ImageRecord>('GET', `${link.id}/images/${encodeURIComponent(name)}`, {
      what: `get image '${name}'`,
    });
    return new Image(link, r.body);
  }

  /** The workspace's images, newest first (at most `top`, default 100). */
  static async list(ws: HasServiceContext | WorkspaceLink, top = 100): Promise<Image[]> {
    const link = linkOf(ws);
    const r = await link.client.request<C.ImageList>('GET', `${link.id}/images`, {
      query: { $top: String(top) },
      what: 'list images',
    });
    return r.body.value.map((b) => new Image(link, b));
  }

  /** The build log (of the environment build, or the package's provisioning log). */
  async getLogs(): Promise<string> {
    if (this.body.properties.log === undefined) this.body = (await Image.get(this.link, this.name)).body;
    return this.body.properties.log ?? '';
  }
}
