import { readdirSync as fsReaddir } from 'node:fs';
import os from 'node:os';

/**
 * The catalogue of node shapes an `AmlCompute`'s `vmSize` may name. On Azure a VM size buys a
 * machine; here every node of a compute is a slot on this server, and its shape is the share of
 * the machine that one node's job may use: the local runner starts at most `maxNodeCount` nodes'
 * worth of work at once and tells each job its cores, memory and GPUs (`capacity()`).
 *
 * Azure names keep their Azure size so that scripts written for Azure ML run unchanged; the
 * `local-*` names say plainly what they are. Names match without regard to case
 * (`STANDARD_DS3_V2` = `Standard_DS3_v2`), and the compute keeps the catalogue's spelling.
 *
 * A shape bigger than this machine is accepted (a GPU shape on a machine without GPUs too: the
 * workspace's default GPU cluster uses one): the shape is a quota, not a reservation, and the
 * compute's `properties.properties.shape` shows both the shape and what this machine has.
 */
export interface NodeShape {
  name: string;
  cores: number;
  memoryGiB: number;
  gpus: number;
  /** Where the name comes from: an Azure VM size, or Atelier's own. */
  family: 'azure' | 'local';
}

const shape = (name: string, cores: number, memoryGiB: number, gpus = 0): NodeShape => ({
  name,
  cores,
  memoryGiB,
  gpus,
  family: name.startsWith('local-') ? 'local' : 'azure',
});

export const NODE_SHAPES: readonly NodeShape[] = [
  shape('local-1c-2g', 1, 2),
  shape('local-2c-4g', 2, 4),
  shape('local-4c-8g', 4, 8),
  shape('local-8c-16g', 8, 16),
  shape('local-16c-32g', 16, 32),
  shape('Standard_DS1_v2', 1, 3.5),
  shape('Standard_DS2_v2', 2, 7),
  shape('Standard_DS3_v2', 4, 14),
  shape('Standard_DS4_v2', 8, 28),
  shape('Standard_DS5_v2', 16, 56),
  shape('Standard_DS11_v2', 2, 14),
  shape('Standard_DS12_v2', 4, 28),
  shape('Standard_D2_v2', 2, 7),
  shape('Standard_D3_v2', 4, 14),
  shape('Standard_D2_v3', 2, 8),
  shape('Standard_D4_v3', 4, 16),
  shape('Standard_D2s_v3', 2, 8),
  shape('Standard_D4s_v3', 4, 16),
  shape('Standard_D8s_v3', 8, 32),
  shape('Standard_E4ds_v4', 4, 32),
  shape('Standard_F4s_v2', 4, 8),
  shape('Standard_F8s_v2', 8, 16),
  shape('Standard_NC6', 6, 56, 1),
  shape('Standard_NC12', 12, 112, 2),
  shape('Standard_NC24', 24, 224, 4),
  shape('Standard_NC6s_v3', 6, 112, 1),
  shape('Standard_NC4as_T4_v3', 4, 28, 1),
  shape('Standard_ND40rs_v2', 40, 672, 8),
];

const BY_NAME = new Map(NODE_SHAPES.map((s) => [s.name.toLowerCase(), s]));

/** The shape named `name` (any case), or undefined. */
export function findShape(name: string): NodeShape | undefined {
  return BY_NAME.get(name.toLowerCase());
}

/** What this machine has, to show beside a shape (GPUs: the NVIDIA devices the kernel lists). */
export function machineResources(): { cores: number; memoryGiB: number; gpus: number } {
  let gpus: number;
  try {
    // Each NVIDIA GPU shows up as /dev/nvidia<N>; no driver, no devices.
    gpus = fsReaddir('/dev').filter((n) => /^nvidia\d+$/.test(n)).length;
  } catch {
    gpus = 0;
  }
  return {
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    gpus,
  };
}
