/**
 * The service modules the sandbox serves by default, selected per request by SigV4 signing name.
 * Add a module here to emulate another service.
 */
import type { ServiceModule } from '../types.js';
import { autoscaling } from './autoscaling/index.js';
import { cloudwatch } from './cloudwatch.js';
import { ec2 } from './ec2/index.js';
import { ecr } from './ecr.js';
import { ecsService } from './ecs/index.js';
import { elbv2 } from './elbv2/index.js';
import { iam } from './iam.js';
import { logs } from './logs.js';
import { sns } from './sns.js';
import { ssm } from './ssm.js';
import { stsService } from './sts.js';
import { tagging } from './tagging.js';

export const defaultServices: ServiceModule[] = [ecsService, iam, stsService, ec2, ssm, logs, ecr, tagging, autoscaling, elbv2, cloudwatch, sns];
