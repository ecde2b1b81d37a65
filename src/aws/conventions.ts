/**
 * The AWS CLI's conventions for profile, region, retries and credentials, in one place, so that
 * ecs-cwlogs behaves like `aws` with the same environment and ~/.aws files:
 *
 *   profile      --profile, then AWS_PROFILE, then "default"; a named profile that is in neither
 *                file is an error ("Profile X not found"), as `aws` says it.
 *   region       --region (or the tool's own ECS_CWLOGS_REGION), then AWS_REGION, then
 *                AWS_DEFAULT_REGION, then the profile's `region`, by one rule (core/resolve.ts
 *                regionOf); checked here against the SDK's partition data (so eusc-de-east-1 is a
 *                region and us-nowhere-1 is not).
 *   retries      AWS_MAX_ATTEMPTS / AWS_RETRY_MODE, then the profile's max_attempts / retry_mode,
 *                then the tool's defaults.
 *   credentials  one provider for every client of the run (the SDK's standard chain), so a
 *                credential_process or an SSO refresh runs once, not once per client.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { UserInputError } from '../core/errors.js';
import { REGION_RE } from '../core/validate.js';

type Env = NodeJS.ProcessEnv;

interface SharedFiles {
  config: Record<string, Record<string, string | undefined>>;
  credentials: Record<string, Record<string, string | undefined>>;
}

/** ~/.aws/config and ~/.aws/credentials (AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE), parsed by the SDK. */
export async function sharedFiles(): Promise<SharedFiles> {
  const { loadSharedConfigFiles } = await import('@smithy/core/config');
  const f = await loadSharedConfigFiles({ ignoreCache: true });
  return { config: f.configFile ?? {}, credentials: f.credentialsFile ?? {} };
}

export interface ProfileChoice {
  /** The profile name the SDK will use. */
  name: string;
  /** Named by --profile or AWS_PROFILE (not just the implicit "default"). */
  explicit: boolean;
  /** The profile's settings from the config file ({} when it has none). */
  settings: Record<string, string | undefined>;
}

/** The profile in use, or UserInputError when a named profile exists in neither file. */
export async function resolveProfile(flag: string | undefined, env: Env = process.env, files?: SharedFiles): Promise<ProfileChoice> {
  const name = flag || env.AWS_PROFILE || 'default';
  const explicit = Boolean(flag || env.AWS_PROFILE);
  const f = files ?? (await sharedFiles());
  const settings = f.config[name];
  if (explicit && !settings && !f.credentials[name]) {
    const where = [env.AWS_CONFIG_FILE || '~/.aws/config', env.AWS_SHARED_CREDENTIALS_FILE || '~/.aws/credentials'].join(' or ');
    throw new UserInputError({
      what: `Profile "${name}" not found`,
      why: `${flag ? '--profile' : 'AWS_PROFILE'} names it, but there is no such profile in ${where}`,
      fix: `Check the name (\`aws configure list-profiles\` lists them), create it with \`aws configure --profile ${name}\`, or ${flag ? 'drop --profile' : 'unset AWS_PROFILE'}.`,
    });
  }
  return { name, explicit, settings: settings ?? {} };
}

/** Is this a region of one of the SDK's partitions (listed, or matching a partition's region pattern)? */
export async function knownRegion(region: string): Promise<boolean> {
  const { partition } = await import('@aws-sdk/core/client');
  const p = partition(region) as { name?: string; description?: string };
  if (p.description) return true; // listed by name in the partition data
  // Not listed: the SDK matched a partition's region pattern, or fell back to "aws" for anything.
  // The aws partition's own pattern tells the two apart (a region newer than this SDK still passes).
  if (p.name !== 'aws') return true;
  return /^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$/.test(region);
}

export async function checkRegion(region: string, source = '--region'): Promise<string> {
  // The shape (REGION_RE, the rule the logging container applies too) and a partition of the SDK.
  if (REGION_RE.test(region) && (await knownRegion(region))) return region;
  throw new UserInputError({
    what: `Invalid region "${region}" (from ${source})`,
    why: 'it is not a region of any AWS partition the SDK knows',
    fix: 'Use a region code such as us-east-1, eu-west-2 or eusc-de-east-1.',
  });
}

export interface RetrySettings {
  maxAttempts: number;
  retryMode: 'standard' | 'adaptive';
  /** Set by the user (environment or profile), so the tool's own choices give way. */
  fromUser: boolean;
}

/** AWS_MAX_ATTEMPTS / AWS_RETRY_MODE, then the profile, then the tool's defaults. */
export function retrySettings(profile: ProfileChoice, defaults: { maxAttempts: number; retryMode: 'standard' | 'adaptive' }, env: Env = process.env): RetrySettings {
  const rawAttempts = env.AWS_MAX_ATTEMPTS ?? profile.settings.max_attempts;
  const rawMode = env.AWS_RETRY_MODE ?? profile.settings.retry_mode;
  let maxAttempts = defaults.maxAttempts;
  if (rawAttempts !== undefined && rawAttempts !== '') {
    const n = Number(rawAttempts);
    if (!Number.isInteger(n) || n < 1) {
      throw new UserInputError({
        what: `Invalid ${env.AWS_MAX_ATTEMPTS !== undefined ? 'AWS_MAX_ATTEMPTS' : `max_attempts in profile "${profile.name}"`}: "${rawAttempts}"`,
        why: 'it must be a whole number of attempts, 1 or more',
        fix: 'Set it to e.g. 3, or unset it for the default.',
      });
    }
    maxAttempts = n;
  }
  let retryMode = defaults.retryMode;
  if (rawMode !== undefined && rawMode !== '') {
    const m = rawMode.toLowerCase();
    // The AWS CLI's "legacy" mode has no equivalent in the JavaScript SDK: its closest is "standard".
    if (m === 'standard' || m === 'legacy') retryMode = 'standard';
    else if (m === 'adaptive') retryMode = 'adaptive';
    else {
      throw new UserInputError({
        what: `Invalid ${env.AWS_RETRY_MODE !== undefined ? 'AWS_RETRY_MODE' : `retry_mode in profile "${profile.name}"`}: "${rawMode}"`,
        why: 'the retry modes are standard, adaptive and legacy',
        fix: 'Set it to standard or adaptive, or unset it for the default.',
      });
    }
  }
  return { maxAttempts, retryMode, fromUser: rawAttempts !== undefined || rawMode !== undefined };
}

/**
 * One credential provider for the whole run: the SDK's standard chain, resolved once and shared by
 * every client (the SDK memoizes it and refreshes it before it expires). Each client given its own
 * chain would run a credential_process or an SSO refresh once per client.
 *
 * When the chain fails with its generic "Could not load credentials from any providers" and the
 * profile has a credential_process, that process's own failure (its exit status and what it printed)
 * is what the user needs: it is asked for once more to say so.
 */
export function sharedCredentialProvider(profile: ProfileChoice, flag: string | undefined): AwsCredentialIdentityProvider {
  let chain: Promise<AwsCredentialIdentityProvider> | undefined;
  return async (props?: Record<string, unknown>): Promise<AwsCredentialIdentity> => {
    chain ??= import('@aws-sdk/credential-provider-node').then(({ defaultProvider }) => defaultProvider({ profile: flag }) as AwsCredentialIdentityProvider);
    try {
      return await (await chain)(props);
    } catch (e) {
      if (!profile.settings.credential_process || !(e instanceof Error) || !/Could not load credentials from any providers/i.test(e.message)) throw e;
      const { fromProcess } = await import('@aws-sdk/credential-provider-process');
      try {
        await fromProcess({ profile: profile.name })();
      } catch (pe) {
        const detail = (pe instanceof Error ? pe.message : String(pe)).split('\n').map((l) => l.trim()).filter(Boolean).join(': ');
        const err = new Error(`the credential_process of profile "${profile.name}" failed: ${detail}`);
        err.name = 'CredentialsProviderError';
        (err as { cause?: unknown }).cause = pe;
        throw err;
      }
      throw e;
    }
  };
}
