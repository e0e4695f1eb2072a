import type { ResourceGroupService } from './resources/resource-groups.js';
import type { ControlPlaneServices } from './resources/control-plane.js';

/** Services made once (by app.ts) and shared by the HTTP plugins of every feature. */
export interface Services extends ControlPlaneServices {
  groups: ResourceGroupService;
}
