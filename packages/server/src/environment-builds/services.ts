import type { AppContext } from '../context.js';
import type { AssetServices } from '../assets/services.js';
import { EnvironmentBuildService } from './environment-builds.js';

/** Python environments built from workspace environments (uv or venv), cached by spec hash; their build records are the seed's images. */
export function createEnvironmentBuildServices(ctx: AppContext, assets: AssetServices): EnvironmentBuildService {
  return new EnvironmentBuildService(ctx, assets.environments);
}
