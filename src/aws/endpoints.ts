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
