/**
 * Where the SDK sends a client's calls, found by the SDK's own endpoint resolution: --endpoint-url,
 * AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, a profile's endpoint_url or `services` section,
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, FIPS and dual-stack settings, the partition's DNS suffix. The
 * request is built and stopped before it is signed or sent: no credentials, no network.
 */

class Resolved extends Error {
  constructor(readonly url: string) {
    super('endpoint resolved');
  }
}

interface SdkClientLike {
  send(command: unknown): Promise<unknown>;
}

interface CommandLike {
  middlewareStack: { add(mw: unknown, opts: { step: string; name?: string; priority?: string }): void };
}

/** The origin (scheme://host:port) a client would call with this command, or undefined if unknown. */
export async function resolvedOrigin(client: SdkClientLike, command: CommandLike): Promise<string | undefined> {
  command.middlewareStack.add(
    () => async (args: { request?: { protocol?: string; hostname?: string; port?: number } }) => {
      const r = args.request;
      const url = r?.hostname ? `${r.protocol ?? 'https:'}//${r.hostname.includes(':') ? `[${r.hostname}]` : r.hostname}${r.port ? `:${r.port}` : ''}` : '';
      throw new Resolved(url);
    },
    { step: 'build', name: 'ecsCwlogsResolveEndpoint', priority: 'low' },
  );
  try {
    await client.send(command);
  } catch (e) {
    if (e instanceof Resolved) return e.url || undefined;
    return undefined;
  }
  return undefined;
}

/** Is this an AWS service host (any partition), as opposed to an emulator or a test endpoint? */
export function isAwsHost(origin: string): boolean {
  const host = new URL(origin).hostname.toLowerCase();
  return /(^|\.)(amazonaws\.com|amazonaws\.com\.cn|api\.aws|c2s\.ic\.gov|sc2s\.sgov\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov|amazonaws\.eu)$/.test(host);
}

/**
 * The endpoint to ask for the caller's IP: the one EC2 calls go to when it is not AWS itself (the
 * sandbox answers /_sandbox/checkip there), else undefined (ask checkip.amazonaws.com). `explicit` is
 * the run's --endpoint-url or sandbox URL, which wins; otherwise the SDK resolves EC2's endpoint, so
 * AWS_ENDPOINT_URL_EC2 or a profile's endpoint_url count as the user meant them.
 */
export async function callerIpEndpoint(ctx: { endpoint?: string; ec2: object }): Promise<string | undefined> {
  if (ctx.endpoint) return ctx.endpoint;
  const client = ctx.ec2 as Partial<SdkClientLike>;
  if (typeof client.send !== 'function') return undefined;
  try {
    const { DescribeVpcsCommand } = await import('@aws-sdk/client-ec2');
    const origin = await resolvedOrigin(client as SdkClientLike, new DescribeVpcsCommand({}) as unknown as CommandLike);
    return origin && !isAwsHost(origin) ? origin : undefined;
  } catch {
    return undefined;
  }
}

/** Where a run's calls go, and what said so: shown in every error about reaching them. */
export interface EndpointOrigin {
  /** scheme://host[:port], or a host pattern for AWS's own endpoints. */
  url: string;
  /** "--endpoint-url", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL", `endpoint_url of profile "dev"`, "--sandbox", "AWS (the region's endpoints)". */
  source: string;
  kind: 'flag' | 'env' | 'profile' | 'sandbox' | 'aws';
  /** The variable or flag to change, when there is one. */
  setting?: string;
}

/**
 * What decides the endpoint of `serviceEnvId`'s calls, in the SDK's order: an explicit endpoint (the
 * flag or the sandbox), unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: AWS_ENDPOINT_URL_<SERVICE>,
 * AWS_ENDPOINT_URL, then the profile's endpoint_url (or its `services` section); otherwise AWS.
 */
export function endpointOrigin(input: {
  explicit?: { url: string; from: 'flag' | 'sandbox' };
  resolved?: string;
  serviceEnvId: string;
  profile?: { name: string; settings: Record<string, string | undefined> };
  env?: NodeJS.ProcessEnv;
}): EndpointOrigin {
  const env = input.env ?? process.env;
  if (input.explicit) {
    return input.explicit.from === 'sandbox'
      ? { url: input.explicit.url, source: 'the sandbox (--sandbox)', kind: 'sandbox' }
      : { url: input.explicit.url, source: '--endpoint-url', kind: 'flag', setting: '--endpoint-url' };
  }
  const url = input.resolved;
  const ignore = /^true$/i.test(env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '') || /^true$/i.test(input.profile?.settings.ignore_configured_endpoint_urls ?? '');
  if (!ignore) {
    const serviceVar = `AWS_ENDPOINT_URL_${input.serviceEnvId}`;
    if (env[serviceVar]) return { url: url ?? env[serviceVar]!, source: serviceVar, kind: 'env', setting: serviceVar };
    if (env.AWS_ENDPOINT_URL) return { url: url ?? env.AWS_ENDPOINT_URL, source: 'AWS_ENDPOINT_URL', kind: 'env', setting: 'AWS_ENDPOINT_URL' };
    if (url && !isAwsHost(url) && input.profile) {
      const p = input.profile;
      const where = p.settings.endpoint_url ? `endpoint_url of profile "${p.name}"` : `the services section of profile "${p.name}"`;
      return { url, source: `${where} (${env.AWS_CONFIG_FILE ?? '~/.aws/config'})`, kind: 'profile', setting: where };
    }
  }
  return { url: url ?? 'https://<service>.<region>.amazonaws.com', source: "AWS's endpoint for the region", kind: 'aws' };
}
