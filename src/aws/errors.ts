/**
 * Turning SDK and network failures into errors that say what happened, why, and what to do.
 */
import { AwsError, CliError, InternalError, awsErrorCode } from '../core/errors.js';
import type { EndpointOrigin } from './endpoints.js';

/** Where this run's calls go (set once connected): every error about reaching them names it. */
let endpoint: EndpointOrigin | undefined;
/** Where one service's calls go (AWS_ENDPOINT_URL_<SERVICE> decides per service), when known. */
let perService: ((serviceEnvId: string) => EndpointOrigin) | undefined;
/**
 * `origin` is where STS's calls go (the run's first call); `forService` tells any other service's,
 * so that an error about SNS's endpoint names AWS_ENDPOINT_URL_SNS, not AWS_ENDPOINT_URL_STS.
 */
export function setEndpointOrigin(origin: EndpointOrigin | undefined, forService?: (serviceEnvId: string) => EndpointOrigin): void {
  endpoint = origin;
  perService = origin ? forService : undefined;
}

/** AWS's host prefix of each service the tool calls -> its AWS_ENDPOINT_URL_<SERVICE> id (the SDK's env id). */
const SERVICE_HOSTS: Record<string, string> = {
  sts: 'STS',
  ecs: 'ECS',
  ec2: 'EC2',
  iam: 'IAM',
  ssm: 'SSM',
  'api.ecr': 'ECR',
  logs: 'CLOUDWATCH_LOGS',
  tagging: 'RESOURCE_GROUPS_TAGGING_API',
  autoscaling: 'AUTO_SCALING',
  elasticloadbalancing: 'ELASTIC_LOAD_BALANCING_V2',
  monitoring: 'CLOUDWATCH',
  sns: 'SNS',
};

/** The AWS_ENDPOINT_URL_<SERVICE> id of the service a host's prefix names ("sns.…" -> "SNS"). */
function serviceOfHost(host: string): string | undefined {
  const h = host.toLowerCase();
  const prefix = Object.keys(SERVICE_HOSTS).find((p) => h.startsWith(`${p}.`));
  return prefix ? SERVICE_HOSTS[prefix] : undefined;
}

/** host[:port] of a URL, as networkTarget reports it ("127.0.0.1:9", "sns.us-east-1.amazonaws.com"). */
function hostOf(url: string): string[] {
  try {
    const u = new URL(url);
    return u.port ? [`${u.hostname}:${u.port}`] : [u.hostname];
  } catch {
    return [];
  }
}

/**
 * Where the call that failed on `target` was going, when that is not where STS's go: an AWS host
 * names its service ("sns.us-east-1.amazonaws.com"), an emulator's address is matched against each
 * service's configured endpoint.
 */
function originFor(target: string | undefined): EndpointOrigin | undefined {
  const e = endpoint;
  if (!e || !target || !perService || e.kind === 'flag' || e.kind === 'sandbox') return e;
  if (hostOf(e.url).includes(target)) return e;
  const service = /amazonaws\.com(\.cn)?$|api\.aws$/.test(target.toLowerCase()) ? serviceOfHost(target) : undefined;
  if (service) return perService(service);
  for (const id of Object.values(SERVICE_HOSTS)) {
    const o = perService(id);
    if (o.kind !== 'aws' && hostOf(o.url).includes(target)) return o;
  }
  return e;
}

/** The host a network error was about (ENOTFOUND's hostname, ECONNREFUSED's address:port). */
function networkTarget(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    const o = cur as { hostname?: unknown; address?: unknown; port?: unknown; cause?: unknown };
    if (typeof o.hostname === 'string') return o.hostname;
    if (typeof o.address === 'string') return typeof o.port === 'number' ? `${o.address}:${o.port}` : o.address;
    cur = o.cause;
  }
  return undefined;
}

const NETWORK_WHY: Record<string, string> = {
  ECONNREFUSED: 'nothing accepts connections there',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved (DNS did not answer)',
  ECONNRESET: 'the connection was reset',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
};

/** "http://127.0.0.1:4566 (from AWS_ENDPOINT_URL)" and what to do about it. */
function endpointAdvice(target: string | undefined, e: EndpointOrigin | undefined = endpoint): { where: string; fix: string } {
  if (!e || e.kind === 'aws') {
    // STS's calls go to an endpoint of AWS_ENDPOINT_URL_STS, this service's to AWS: its variable is missing.
    const sts = endpoint?.kind === 'env' && endpoint.setting?.startsWith('AWS_ENDPOINT_URL_') ? endpoint.setting : undefined;
    const service = target && serviceOfHost(target);
    if (sts && service && !process.env.AWS_ENDPOINT_URL) {
      const variable = `AWS_ENDPOINT_URL_${service}`;
      return {
        where: `AWS (${target})`,
        fix: `${variable} is not set (${sts} is), so these calls go to AWS itself: set ${variable} to your endpoint's URL too (or AWS_ENDPOINT_URL, for every service), or check your network and proxy if you meant AWS.`,
      };
    }
    return {
      where: `AWS${target ? ` (${target})` : ''}`,
      fix: 'Check your network and proxy (HTTPS_PROXY, NO_PROXY); if you meant an emulator, pass --endpoint-url or --sandbox.',
    };
  }
  const where = `${e.url} (from ${e.source})`;
  const fix =
    e.kind === 'sandbox'
      ? 'The sandbox stopped answering: run the command again (it starts the sandbox anew from its state file), or see `ecs-cwlogs sandbox --help`.'
      : e.kind === 'flag'
        ? `Check that the emulator or proxy at ${e.url} is running, or fix --endpoint-url.`
        : e.kind === 'env'
          ? `Check that something answers at ${e.url}, or unset ${e.setting} to call AWS itself.`
          : `Check that something answers at ${e.url}, or fix the ${e.setting}.`;
  return { where, fix };
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

function networkCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    const errors = (cur as { errors?: unknown[] }).errors;
    if (Array.isArray(errors)) {
      for (const sub of errors) {
        const c = networkCode(sub);
        if (c) return c;
      }
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Any error thrown while a step (or command) runs, as a CliError. */
export function toCliError(e: unknown, doing: string): CliError {
  if (e instanceof CliError) return e;
  const name = e instanceof Error ? e.name : '';
  const message = e instanceof Error ? e.message : String(e);

  if (name === 'CredentialsProviderError' && /credential_process of profile/.test(message)) {
    return new AwsError({
      what: 'No AWS credentials',
      why: message.split('\n')[0],
      fix: 'Fix that command (run it by hand to see what it prints), or use another --profile.',
      cause: e,
    });
  }
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new AwsError({
      what: 'No AWS credentials found',
      why: message.split('\n')[0],
      fix: 'Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, pass --profile (after `aws configure` or `aws sso login`), or try the tool without an account: --sandbox.',
      cause: e,
    });
  }
  if (/Region is missing/i.test(message)) {
    return new AwsError({
      what: 'No AWS region set',
      why: 'neither --region, AWS_REGION nor the profile names one',
      fix: 'Pass --region, e.g. --region us-east-1.',
      cause: e,
    });
  }
  const net = networkCode(e);
  if (net) {
    const target = networkTarget(e);
    const origin = originFor(target);
    const { where, fix } = endpointAdvice(target, origin);
    return new AwsError({
      what: `Cannot reach ${where} while working on ${doing.charAt(0).toLowerCase()}${doing.slice(1)}`,
      why: `${NETWORK_WHY[net] ?? 'the connection failed'} (${net}${target && origin && origin.kind !== 'aws' && !origin.url.includes(target) ? ` for ${target}` : ''})`,
      fix,
      code: net,
      cause: e,
    });
  }
  // Something answered, but not as AWS does (a web server, a proxy's page, the wrong port).
  if (endpoint && endpoint.kind !== 'aws' && /Deserialization error|Unexpected token|is not valid JSON|Unexpected end of JSON|non-xml|char 0/i.test(message) && !(e && typeof e === 'object' && '$fault' in e && awsErrorCode(e))) {
    const { where, fix } = endpointAdvice(undefined);
    return new AwsError({ what: `${where} did not answer as AWS does while working on ${doing.charAt(0).toLowerCase()}${doing.slice(1)}`, why: message.split('\n')[0], fix, cause: e });
  }
  const code = awsErrorCode(e);
  if (code && e && typeof e === 'object' && '$metadata' in e) {
    const fix =
      code === 'AccessDenied' || code === 'AccessDeniedException' || code === 'UnauthorizedOperation'
        ? 'Use credentials allowed to manage ECS, EC2, IAM and CloudWatch Logs (see README, "Permissions").'
        : code === 'ExpiredToken' || code === 'ExpiredTokenException'
          ? 'Refresh your credentials (e.g. `aws sso login`) and run the command again.'
          : code.includes('Throttl') || code === 'RequestLimitExceeded'
            ? 'AWS is throttling this account; wait a minute and run the command again: it resumes where it stopped.'
            : 'Run the command again with --verbose for details; it resumes where it stopped.';
    return new AwsError({ what: `${doing} failed`, why: `${code}: ${message}`, fix, code, cause: e });
  }
  return new InternalError({
    what: `${doing} failed`,
    why: message,
    fix: 'Run again with --verbose for details; it resumes where it stopped.',
    cause: e,
  });
}
