/**
 * IAM SimulatePrincipalPolicy (`aws iam simulate-principal-policy`): what a role's identity policies
 * (its attached managed policies, at their default version) decide for actions on resources.
 *
 * As AWS evaluates identity policies (IAM User Guide, "Policy evaluation logic"): an explicit Deny
 * wins, then an Allow, else the request is implicitly denied. Action/NotAction and Resource/
 * NotResource match with the * and ? wildcards (actions case-insensitively).
 *
 * Stricter than AWS where it has to choose:
 *   - The resource an action is evaluated on follows the Service Authorization Reference, not the
 *     caller's ResourceArns: an action without resource-level permissions (its "Resource types"
 *     column is empty, e.g. logs:DescribeLogGroups, list_amazoncloudwatchlogs.html) is authorised on
 *     "*" at request time, so only a statement whose Resource matches "*" allows it. A policy that
 *     scopes such an action to an ARN is what gets AccessDenied on AWS; here it says implicitDeny.
 *   - A statement with a Condition never matches (no context keys are simulated): a policy that
 *     needs a condition to allow something is not shown as allowing it.
 */
import type { EvaluationResult, SimulatePolicyResponse, SimulatePrincipalPolicyRequest } from '@aws-sdk/client-iam';
import { ServiceError, type World } from '../../types.js';

/**
 * Actions whose authorisation has no resource (Service Authorization Reference, "Actions defined
 * by Amazon CloudWatch Logs": the Resource types column is empty for these).
 */
export const NO_RESOURCE_LEVEL_ACTIONS = new Set(['logs:describeloggroups', 'logs:describedestinations', 'logs:describeexporttasks', 'logs:describequeries', 'logs:describeresourcepolicies', 'logs:testmetricfilter']);

interface Statement {
  Sid?: string;
  Effect?: string;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: unknown;
}

export interface NamedPolicy {
  /** The policy's name, as SourcePolicyId. */
  id: string;
  awsManaged: boolean;
  document: string;
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** IAM's wildcard match: * any run of characters, ? one character. */
export function wildcard(pattern: string, value: string, caseInsensitive = false): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, caseInsensitive ? 'is' : 's');
  return re.test(value);
}

/** The resource AWS authorises the action on: "*" for an action without resource-level permissions. */
export function evaluatedResource(action: string, resource: string | undefined): string {
  return NO_RESOURCE_LEVEL_ACTIONS.has(action.toLowerCase()) ? '*' : resource || '*';
}

function statementApplies(s: Statement, action: string, resource: string): boolean {
  if (s.Condition !== undefined) return false;
  const actionOk = s.Action !== undefined ? list(s.Action).some((a) => wildcard(a, action, true)) : !list(s.NotAction).some((a) => wildcard(a, action, true));
  if (!actionOk) return false;
  return s.Resource !== undefined ? list(s.Resource).some((r) => wildcard(r, resource)) : !list(s.NotResource).some((r) => wildcard(r, resource));
}

/** The decision of a set of identity policies for one action on one resource. */
export function evaluate(policies: NamedPolicy[], action: string, resourceArn: string | undefined): EvaluationResult {
  const resource = evaluatedResource(action, resourceArn);
  let decision: 'allowed' | 'explicitDeny' | 'implicitDeny' = 'implicitDeny';
  const matched: { SourcePolicyId: string; SourcePolicyType: 'aws-managed' | 'user-managed' }[] = [];
  for (const p of policies) {
    let doc: { Statement?: Statement | Statement[] };
    try {
      doc = JSON.parse(decodeURIComponent(p.document)) as { Statement?: Statement | Statement[] };
    } catch {
      doc = JSON.parse(p.document) as { Statement?: Statement | Statement[] };
    }
    const statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : [];
    for (const s of statements) {
      if (!statementApplies(s, action, resource)) continue;
      if (s.Effect === 'Deny') {
        decision = 'explicitDeny';
        matched.push({ SourcePolicyId: p.id, SourcePolicyType: p.awsManaged ? 'aws-managed' : 'user-managed' });
      } else if (s.Effect === 'Allow' && decision !== 'explicitDeny') {
        decision = 'allowed';
        matched.push({ SourcePolicyId: p.id, SourcePolicyType: p.awsManaged ? 'aws-managed' : 'user-managed' });
      }
    }
  }
  return { EvalActionName: action, EvalResourceName: resource, EvalDecision: decision, MatchedStatements: matched, MissingContextValues: [] };
}

/** The handler, given how common.ts finds a role's policies. */
export function simulatePrincipalPolicy(rolePolicies: (world: World, roleName: string) => NamedPolicy[] | undefined) {
  return (p: SimulatePrincipalPolicyRequest, { world }: { world: World }): SimulatePolicyResponse => {
    const source = p.PolicySourceArn ?? '';
    const m = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(source);
    if (!source || !/^arn:/.test(source)) throw new ServiceError('InvalidInput', `ARN ${source} is not valid.`, 400);
    if (!m) throw new ServiceError('InvalidInput', `The sandbox simulates roles only; ${source} is not a role ARN.`, 400);
    const policies = m[1] === world.settings.accountId ? rolePolicies(world, m[2]!) : undefined;
    if (!policies) throw new ServiceError('NoSuchEntity', `The role with name ${m[2]} cannot be found.`, 404);
    const actions = p.ActionNames ?? [];
    if (actions.length === 0) throw new ServiceError('ValidationError', "1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: Member must not be null", 400);
    const resources = p.ResourceArns?.length ? p.ResourceArns : ['*'];
    const results: EvaluationResult[] = [];
    for (const action of actions) for (const r of resources) results.push(evaluate(policies, action, r));
    return { EvaluationResults: results, IsTruncated: false };
  };
}
