/** EC2 launch templates. */
import type { Operation } from '../../types.js';
import type { TagMap } from '../util.js';

export interface LaunchTemplateRecord {
  launchTemplateId: string;
  launchTemplateName: string;
  region: string;
  tags: TagMap;
}

export const operations: Record<string, Operation> = {};
