/**
 * The Ask phase of `up`. Without a terminal (or with --yes) it asks nothing: it checks that what
 * can't be defaulted was given, naming every missing flag in one message.
 */
import { missingSettingsError } from '../core/config.js';
import type { Context } from '../core/context.js';
import type { SettingKey } from '../core/settings.js';
import type { Runtime } from './run.js';

export async function runWizard(rt: Runtime, connect: () => Promise<Context>): Promise<Context> {
  const c = rt.resolved.config;
  const missing: SettingKey[] = [];
  const ecr = Boolean((rt.opts as { ecr?: boolean }).ecr);
  if (!c.image && !c.imageRepo && !ecr) missing.push('imageRepo');
  if (missing.length > 0) {
    throw missingSettingsError(missing, 'the logging image must be pushed somewhere ECS can pull it from (or given with --image, or --ecr)');
  }
  return connect();
}
