/**
 * Validators shared by flags, environment variables, the saved stack file and the wizard's prompts.
 * Each returns the parsed value or throws a ValidationFailure saying what is wrong and what is allowed.
 */

export class ValidationFailure extends Error {
  constructor(
    readonly problem: string,
    readonly allowed: string,
  ) {
    super(`${problem}; ${allowed}`);
  }
}

export type Validator<T> = (raw: string) => T;

function fail(problem: string, allowed: string): never {
  throw new ValidationFailure(problem, allowed);
}

/** Turn a validator into an inquirer `validate` callback. */
export function promptValidator<T>(v: Validator<T>): (s: string) => true | string {
  return (s: string) => {
    try {
      v(s);
      return true;
    } catch (e) {
      return e instanceof ValidationFailure ? `${e.problem}: ${e.allowed}` : String(e);
    }
  };
}

// The shape only (us-east-1, us-gov-west-1, eusc-de-east-1): src/aws/conventions.ts checks the name
// against the SDK's partition data when connecting. One rule for the CLI and the logging container:
// docker/rootfs/usr/local/bin/ecs-cwlogs-agent-config holds this same text (bash ERE), which
// test/docker/regions.test.ts compares; so no \d or \w here (their meaning differs in bash).
export const REGION_PATTERN = '^[a-z]{2,4}(-[a-z]+){1,3}-[0-9]{1,2}$';
export const REGION_RE = new RegExp(REGION_PATTERN);
export const region: Validator<string> = (s) =>
  REGION_RE.test(s) ? s : fail(`"${s}" is not an AWS region name`, 'use a region code such as us-east-1 or eu-west-2');

export const stackName: Validator<string> = (s) =>
  /^[A-Za-z][A-Za-z0-9-]{0,62}$/.test(s)
    ? s
    : fail(`"${s}" is not a valid stack name`, 'use 1-63 letters, digits and hyphens, starting with a letter');

/** ECS: up to 255 letters (upper and lower), numbers, underscores and hyphens. */
export const ecsName =
  (what: string): Validator<string> =>
  (s) =>
    /^[A-Za-z0-9_-]{1,255}$/.test(s)
      ? s
      : fail(`"${truncate(s)}" is not a valid ${what}`, 'use 1-255 letters, digits, hyphens and underscores');

/** IAM role / policy / instance profile names. */
export const iamName: Validator<string> = (s) =>
  /^[\w+=,.@-]{1,48}$/.test(s)
    ? s
    : fail(`"${truncate(s)}" is not a valid IAM name`, 'use 1-48 letters, digits and +=,.@_- characters (the region is added to it: IAM names are global)');

export const securityGroupName: Validator<string> = (s) => {
  if (!/^[A-Za-z0-9 ._\-:/()#,@[\]+=&;{}!$*]{1,255}$/.test(s)) {
    return fail(`"${truncate(s)}" is not a valid security group name`, 'use 1-255 letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*');
  }
  if (/^sg-/i.test(s)) return fail(`"${s}" is not a valid security group name`, 'it must not start with "sg-"');
  return s;
};

export const logGroupName: Validator<string> = (s) =>
  /^[.\-_/#A-Za-z0-9]{1,512}$/.test(s)
    ? s
    : fail(`"${truncate(s)}" is not a valid log group name`, 'use 1-512 letters, digits and ._-/# characters');

/** The most instances --instances takes: a lab, not a fleet (and inside a new account's vCPU quota). */
export const MAX_INSTANCES = 20;
export const instanceCount: Validator<number> = (s) => {
  const n = Number(s);
  return /^\d+$/.test(String(s).trim()) && Number.isInteger(n) && n >= 1 && n <= MAX_INSTANCES
    ? n
    : fail(`"${truncate(String(s))}" is not a number of instances`, `use a whole number from 1 to ${MAX_INSTANCES}`);
};

/** A switch given as a flag (true), --no-… (false), or true/false in the environment and the stack file. */
export const flag =
  (name: string): Validator<boolean> =>
  (s) => {
    const t = String(s).trim().toLowerCase();
    if (['true', '1', 'yes'].includes(t)) return true;
    if (['false', '0', 'no'].includes(t)) return false;
    return fail(`"${truncate(String(s))}" is not a value ${name} takes`, 'use true or false');
  };

/** An email address SNS takes as an email subscription's endpoint (a plain address, no display name). */
export const email: Validator<string> = (s) =>
  /^[^\s@<>(),;:"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/.test(s.trim()) && s.trim().length <= 254
    ? s.trim()
    : fail(`"${truncate(String(s))}" is not an email address`, 'use a plain address such as ops@example.com');

/** A percentage above 0, at most 100 (decimals allowed). */
export const percent: Validator<number> = (s) => {
  const n = Number(String(s).trim());
  return String(s).trim() !== '' && Number.isFinite(n) && n > 0 && n <= 100 ? n : fail(`"${truncate(String(s))}" is not a percentage`, 'use a number above 0 and at most 100, e.g. 5 or 0.5');
};

/** A whole number of at least 1. */
export const positiveCount =
  (what: string): Validator<number> =>
  (s) => {
    const t = String(s).trim();
    const n = Number(t);
    return /^\d+$/.test(t) && Number.isSafeInteger(n) && n >= 1 ? n : fail(`"${truncate(String(s))}" is not a number of ${what}`, 'use a whole number of at least 1');
  };

export const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;
export const retentionDays: Validator<number> = (s) => {
  const n = Number(s);
  return Number.isInteger(n) && (RETENTION_DAYS as readonly number[]).includes(n)
    ? n
    : fail(`"${s}" is not a retention period CloudWatch Logs accepts`, `use one of ${RETENTION_DAYS.join(', ')} (days)`);
};

/**
 * EC2 instance types: the shape only (family.size, e.g. t3.small, m7i-flex.large, c5d.xlarge). Which
 * types exist is EC2's to say: the instance step asks DescribeInstanceTypes before anything is created.
 */
export const instanceType: Validator<string> = (s) =>
  /^[a-z][a-z0-9]*(-[a-z]+)?\.(nano|micro|small|medium|large|metal|\d*xlarge|metal-\d+xl)$/.test(s)
    ? s
    : fail(`"${truncate(s)}" is not an EC2 instance type`, 'use a type such as t3.small, t3.medium, m7i.large or t4g.small (Graviton)');

/** Graviton (arm64) families end their generation with "g" (t4g, m7g, c7gn, ...), plus a1. */
export function isArmInstanceType(type: string): boolean {
  const family = type.split('.')[0] ?? '';
  return family === 'a1' || /^[a-z]+\d+g[a-z]*$/.test(family);
}

export const cidr: Validator<string> = (s) => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(s);
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32) {
    return fail(`"${truncate(s)}" is not an IPv4 CIDR block`, 'use a form such as 203.0.113.7/32');
  }
  const octets = m.slice(1, 5).map(Number);
  const bits = Number(m[5]);
  const addr = ((octets[0]! << 24) >>> 0) + (octets[1]! << 16) + (octets[2]! << 8) + octets[3]!;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  if ((addr & ~mask) >>> 0 !== 0) {
    return fail(`"${s}" has host bits set`, `use the network address, e.g. ${networkOf(octets, mask)}/${bits}`);
  }
  return s;
};
function networkOf(octets: number[], mask: number): string {
  const addr = (((octets[0]! << 24) >>> 0) + (octets[1]! << 16) + (octets[2]! << 8) + octets[3]!) & mask;
  return [24, 16, 8, 0].map((sh) => (addr >>> sh) & 255).join('.');
}

export const keyName: Validator<string> = (s) =>
  s.length >= 1 && s.length <= 255 && /^[\x20-\x7e]+$/.test(s)
    ? s
    : fail(`"${truncate(s)}" is not a valid key pair name`, 'use 1-255 printable ASCII characters');

export const vpcId: Validator<string> = (s) =>
  /^vpc-[0-9a-f]{8}([0-9a-f]{9})?$/.test(s) ? s : fail(`"${s}" is not a VPC id`, 'use an id such as vpc-0a1b2c3d4e5f60718');
export const subnetId: Validator<string> = (s) =>
  /^subnet-[0-9a-f]{8}([0-9a-f]{9})?$/.test(s) ? s : fail(`"${s}" is not a subnet id`, 'use an id such as subnet-0a1b2c3d4e5f60718');

/** A container image reference: [registry/]repo[:tag][@sha256:digest]. */
export const imageRef: Validator<string> = (s) =>
  /^[a-z0-9]+([._-][a-z0-9]+)*(:\d+)?(\.[a-z0-9-]+)*(\/[a-z0-9]+([._-]{1,2}[a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/.test(s) &&
  s.length <= 255
    ? s
    : fail(`"${truncate(s)}" is not a container image reference`, 'use a form such as httpd:2.4, user/repo:tag or 123456789012.dkr.ecr.us-east-1.amazonaws.com/repo@sha256:…');

export const endpointUrl: Validator<string> = (s) => {
  try {
    const u = new URL(s);
    if (u.protocol === 'http:' || u.protocol === 'https:') return s;
  } catch {
    /* fall through */
  }
  return fail(`"${truncate(s)}" is not an endpoint URL`, 'use a URL such as http://127.0.0.1:4566');
};

function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
