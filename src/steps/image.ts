/**
 * Step: the logging container image (lab steps 2-4: build the rsyslog + CloudWatch agent image and
 * push it where ECS can pull it).
 *
 *   tag      <repo>:<content hash of docker/ (as .dockerignore filters it), build args, platform>
 *   platform the instance type's architecture (x86_64 -> linux/amd64, arm64 -> linux/arm64), never
 *            the Docker daemon's; --platform only overrides it, and must agree with the instance
 *   read     is that tag in the registry? (HTTP API v2 HEAD, the registry is the truth)
 *   apply    ECR: create the repository if missing (tagged); build unless the tag exists locally;
 *            tag latest; push both; the registry's digest is the result
 *   outputs  imageRef (repo@sha256:..., what the task definition runs), tag, repository, digest
 *
 * With --image and no repository to push to, the step builds nothing and hands on that image.
 */
import type { RegistryCredentials } from '../docker/auth.js';
import { describeAuth, resolveRegistryAuth } from '../docker/auth.js';
import { readBuildContext, type BuildContext } from '../docker/build-context.js';
import { authKeyFor, isLoopbackRegistry, parseReference } from '../docker/reference.js';
import { awsTags } from '../core/context.js';
import type { Context } from '../engine/context.js';
import { DockerError, hasAwsCode, UserInputError } from '../core/errors.js';
import { absent, isAbsent, unknown, type Absent, type Plan, type DeclaredStep, type Later } from '../core/step.js';
import { PACKAGE_ROOT } from '../core/version.js';
import { architectureOf } from './instance.js';
import { isArmInstanceType } from '../core/validate.js';
import { join } from 'node:path';

export interface ImageOutputs { imageRef: Later<string>; repository?: string; tag?: string; digest?: Later<string>; built?: boolean; pushed?: boolean }

declare module '../core/step.js' {
  interface StepOutputs {
    image: ImageOutputs;
  }
}

export type ImageCtx = Pick<Context, 'config' | 'ecr' | 'docker' | 'tags' | 'stack' | 'account' | 'io' | 'signal' | 'report'> & Partial<Pick<Context, 'ec2' | 'target'>>;

/** What the image step finds before planning: the architecture the instance type runs, ECR's registry. */
export interface ImagePrepared {
  architecture?: Architecture;
  /**
   * The account's ECR registry host, from GetAuthorizationToken's proxyEndpoint (in AWS
   * <account>.dkr.ecr.<region>.amazonaws.com[.cn]; in the sandbox its loopback registry).
   */
  registry?: string;
}

/** A rehearsal (--sandbox) reaches no host outside this machine: no registry but a loopback one. */
function rehearsal(ctx: Partial<Pick<Context, 'target'>>): boolean {
  return ctx.target?.kind === 'sandbox';
}

export interface ImageStepOptions {
  /** The build context (default: the package's docker/). */
  contextDir?: string;
  /** Push to ECR (also when --repo is "ecr"). */
  ecr?: boolean;
  /** BASE_IMAGE build argument. */
  baseImage?: string;
  /** SKIP_CLOUDWATCH_AGENT=true (offline builds). */
  skipAgent?: boolean;
  /**
   * --platform, e.g. linux/amd64: an override, which must agree with the instance's architecture
   * (default: platformFor(architecture)).
   */
  platform?: string;
  /**
   * The EC2 instance type's architecture (DescribeInstanceTypes). Default: guessed from the
   * configured instance type's name (Graviton families, e.g. t4g, are arm64).
   */
  architecture?: Architecture;
  /** --username with --password-stdin (or the prompt). Never written anywhere. */
  credentials?: { username: string; password: string };
  /** Where config.json is (default: DOCKER_CONFIG, else ~/.docker). */
  dockerConfigDir?: string;
  env?: NodeJS.ProcessEnv;
}

export const DEFAULT_ECR_REPOSITORY = 'cloudwatchlogs';

export interface ImageDesired {
  mode: 'given' | 'registry' | 'ecr';
  /** --image, handed on as is (mode given). */
  given?: string;
  /** Full repository, e.g. user/cloudwatchlogs or 123456789012.dkr.ecr.us-east-1.amazonaws.com/cloudwatchlogs. */
  repository: string;
  /** ECR repository name (mode ecr). */
  ecrName?: string;
  tag: string;
  /** repository:tag */
  ref: string;
  buildArgs: Record<string, string>;
  /** linux/amd64 or linux/arm64 (also part of the tag); unset in mode given. */
  platform?: string;
  context?: BuildContext;
  tags: Record<string, string>;
}

export interface ImageObserved {
  /** repository@digest (or the given image). */
  imageRef: string;
  digest: string;
  repository: string;
  tag: string;
}

export type Architecture = 'x86_64' | 'arm64';

/** The image platform an EC2 architecture runs: x86_64 -> linux/amd64, arm64 -> linux/arm64. */
export function platformFor(architecture: Architecture): 'linux/amd64' | 'linux/arm64' {
  return architecture === 'arm64' ? 'linux/arm64' : 'linux/amd64';
}

/** The EC2 architecture of an image platform (linux/amd64, linux/arm64, linux/arm64/v8), if any. */
export function architectureOfPlatform(platform: string): Architecture | undefined {
  const p = platform.trim().toLowerCase();
  if (p === 'linux/amd64' || p === 'linux/x86_64') return 'x86_64';
  if (p === 'linux/arm64' || p === 'linux/arm64/v8' || p === 'linux/aarch64') return 'arm64';
  return undefined;
}

/**
 * The platform to build for: --platform if given (it must be the instance's), else the
 * architecture's. A --platform that ECS on that instance cannot run is an input error.
 */
export function resolvePlatform(input: { platform?: string; architecture: Architecture; instanceType?: string }): string {
  const want = platformFor(input.architecture);
  if (input.platform === undefined || input.platform.trim() === '') return want;
  const arch = architectureOfPlatform(input.platform);
  const on = input.instanceType ? `${input.instanceType} (${input.architecture})` : `an ${input.architecture} instance`;
  if (!arch) {
    throw new UserInputError({
      what: `--platform ${input.platform} is not a platform ECS on EC2 runs`,
      why: 'the logging container runs on Linux, on an x86_64 or arm64 instance',
      fix: `Leave --platform out (${on} needs ${want}), or give linux/amd64 or linux/arm64.`,
    });
  }
  if (arch !== input.architecture) {
    throw new UserInputError({
      what: `--platform ${input.platform} does not match the instance type`,
      why: `the task would run on ${on}, which needs ${want}: the container would fail with "exec format error"`,
      fix: `Leave --platform out, or choose an instance type of the other architecture (e.g. ${arch === 'arm64' ? 't4g.small' : 't3.small'}).`,
    });
  }
  return want;
}

const REPO_RE = /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const ECR_NAME_RE = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

export function createImageStep(options: ImageStepOptions = {}): DeclaredStep<ImageCtx, ImageObserved, ImageDesired, ImagePrepared, 'image'> {
  const contextDir = options.contextDir ?? join(PACKAGE_ROOT, 'docker');
  // Credentials are looked up once per run (a helper may prompt or be slow), kept in memory only.
  const credCache = new Map<string, Promise<RegistryCredentials | undefined>>();

  const target = (ctx: Pick<ImageCtx, 'config' | 'account' | 'tags' | 'target'>, prepared?: ImagePrepared): ImageDesired => {
    const repo = ctx.config.imageRepo?.trim() || undefined;
    const ecr = Boolean(options.ecr) || repo === 'ecr';
    const tags = { ...ctx.tags };
    if (!ecr && !repo) {
      if (ctx.config.image) return { mode: 'given', given: ctx.config.image, repository: '', tag: '', ref: ctx.config.image, buildArgs: {}, tags };
      throw new UserInputError({
        what: 'No repository to push the logging image to',
        why: 'ECS pulls the image from a registry',
        fix: rehearsal(ctx)
          ? "Pass --ecr (in a rehearsal, the sandbox's ECR registry on this machine), or --image with a logging image this Docker engine has."
          : 'Pass --repo user/cloudwatchlogs (Docker Hub or any registry), or --ecr, or --image with an image already pushed.',
      });
    }
    const buildArgs: Record<string, string> = {};
    if (options.baseImage) buildArgs.BASE_IMAGE = options.baseImage;
    if (options.skipAgent) buildArgs.SKIP_CLOUDWATCH_AGENT = 'true';
    const platform = resolvePlatform({
      platform: options.platform,
      architecture: options.architecture ?? prepared?.architecture ?? (isArmInstanceType(ctx.config.instanceType) ? 'arm64' : 'x86_64'),
      instanceType: ctx.config.instanceType,
    });
    let context: BuildContext;
    try {
      context = readBuildContext(contextDir, { buildArgs, platform });
    } catch (e) {
      throw new UserInputError({ what: `Cannot read the image's build context ${contextDir}`, why: (e as Error).message, fix: 'Reinstall ecs-cwlogs, or check the directory.' });
    }
    let repository: string;
    let ecrName: string | undefined;
    if (ecr) {
      ecrName = repo && repo !== 'ecr' ? repo : DEFAULT_ECR_REPOSITORY;
      if (!ECR_NAME_RE.test(ecrName) || ecrName.length > 256) {
        throw new UserInputError({ what: `"${ecrName}" is not an ECR repository name`, fix: 'Use lowercase letters, digits, and . _ - / between them, e.g. cloudwatchlogs.' });
      }
      if (!ctx.account) throw new UserInputError({ what: 'No AWS account for ECR', why: 'the AWS identity was not read', fix: 'Check your AWS credentials.' });
      repository = `${prepared?.registry ?? `${ctx.account}.dkr.ecr.${ctx.config.region}.amazonaws.com`}/${ecrName}`;
    } else {
      repository = repo!;
      if (!REPO_RE.test(repository) || repository.includes('@') || /:[^/]*$/.test(repository.replace(/^[^/]*\//, ''))) {
        throw new UserInputError({
          what: `"${repository}" is not a repository to push to`,
          fix: 'Give a repository without tag, such as user/cloudwatchlogs or registry.example.com:5000/team/cloudwatchlogs (the tag is the content hash).',
        });
      }
      const registry = parseReference(`${repository}:x`).registry;
      if (rehearsal(ctx) && !isLoopbackRegistry(registry)) {
        throw new UserInputError({
          what: `A rehearsal does not push to ${registry}`,
          why: `--sandbox never leaves this machine, and --repo ${repository} is outside it`,
          fix: "Pass --ecr (the sandbox's ECR registry, on this machine), or a --repo on a loopback registry (127.0.0.1:<port>/<name>).",
        });
      }
    }
    return { mode: ecr ? 'ecr' : 'registry', repository, ecrName, tag: context.tag, ref: `${repository}:${context.tag}`, buildArgs, platform, context, tags };
  };

  /** ECR's token (one per run): the registry's credentials and, from its proxyEndpoint, its host. */
  let ecrToken: Promise<RegistryCredentials & { host?: string }> | undefined;
  const ecrCredentials = (ctx: Pick<ImageCtx, 'ecr'>, fallbackHost: string): Promise<RegistryCredentials & { host?: string }> => {
    ecrToken ??= (async () => {
      const res = await ctx.ecr.getAuthorizationToken({});
      const data = res.authorizationData?.[0];
      if (!data?.authorizationToken) throw new DockerError({ what: 'ECR gave no authorization token', fix: 'Check that your identity may call ecr:GetAuthorizationToken.' });
      const decoded = Buffer.from(data.authorizationToken, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      let host: string | undefined;
      try {
        host = data.proxyEndpoint ? new URL(data.proxyEndpoint).host : undefined;
      } catch {
        host = undefined;
      }
      return { serverAddress: data.proxyEndpoint ?? `https://${fallbackHost}`, username: decoded.slice(0, i), password: decoded.slice(i + 1), source: 'ECR GetAuthorizationToken', host };
    })();
    ecrToken.catch(() => (ecrToken = undefined));
    return ecrToken;
  };

  const credentials = (ctx: Pick<ImageCtx, 'ecr' | 'report'>, d: ImageDesired): Promise<RegistryCredentials | undefined> => {
    const registry = parseReference(d.ref).registry;
    const key = `${d.mode}:${registry}`;
    let p = credCache.get(key);
    if (!p) {
      p = (async (): Promise<RegistryCredentials | undefined> => {
        if (d.mode === 'ecr') {
          const { host: _host, ...creds } = await ecrCredentials(ctx, registry);
          return creds;
        }
        if (options.credentials) {
          return { serverAddress: authKeyFor(registry), username: options.credentials.username, password: options.credentials.password, source: '--username' };
        }
        return resolveRegistryAuth(registry, { env: options.env, configDir: options.dockerConfigDir });
      })();
      credCache.set(key, p);
      p.catch(() => credCache.delete(key));
    }
    return p;
  };

  const ecrRepositoryExists = async (ctx: Pick<ImageCtx, 'ecr'>, name: string): Promise<boolean> => {
    try {
      const res = await ctx.ecr.describeRepositories({ repositoryNames: [name] });
      return (res.repositories ?? []).some((r) => r.repositoryName === name);
    } catch (e) {
      if (hasAwsCode(e, 'RepositoryNotFoundException')) return false;
      throw e;
    }
  };

  return {
    id: 'image',
    title: 'Logging image',
    dependsOn: [],
    command: {
      summary: 'Build the logging image (rsyslog + CloudWatch agent) from docker/ and push it; prints it by digest',
      settings: ['imageRepo', 'image'],
      examples: [
        'ecs-cwlogs image --repo user/cloudwatchlogs',
        'ecs-cwlogs image --ecr',
        'echo "$TOKEN" | ecs-cwlogs image --repo registry.example.com/team/cloudwatchlogs --username ci --password-stdin',
        'ecs-cwlogs image --repo user/cloudwatchlogs --dry-run',
      ],
      notes: 'Credentials come from ~/.docker/config.json (or $DOCKER_CONFIG): auths, credsStore and credHelpers, as `docker login` left them.\nThe tag is a hash of docker/ and the build arguments: nothing is rebuilt or pushed when the registry already has it.',
      kind: 'artifact',
    },
    shapes: ['single', 'group'],
    tagged: [],

    /**
     * The instance type's architecture, from EC2 (when there is an AWS account to ask), and with
     * --ecr the registry's host, as GetAuthorizationToken names it.
     */
    async prepare(ctx): Promise<ImagePrepared> {
      const out: ImagePrepared = {};
      // A given image (--image, no --repo or --ecr) is not built: no platform to choose.
      const given = !options.ecr && !ctx.config.imageRepo?.trim() && Boolean(ctx.config.image);
      if (!options.architecture && !given && ctx.account && ctx.ec2) {
        out.architecture = await architectureOf(ctx as { ec2: NonNullable<ImageCtx['ec2']> }, ctx.config.instanceType);
      }
      const ecr = Boolean(options.ecr) || ctx.config.imageRepo?.trim() === 'ecr';
      if (ecr && ctx.account && !ctx.config.image) {
        out.registry = (await ecrCredentials(ctx, `${ctx.account}.dkr.ecr.${ctx.config.region}.amazonaws.com`)).host;
      }
      return out;
    },

    async read(ctx, prepared): Promise<ImageObserved | Absent> {
      const d = target(ctx, prepared);
      if (d.mode === 'given') return { imageRef: d.given!, digest: parseReference(d.given!).digest ?? '', repository: parseReference(d.given!).repository, tag: parseReference(d.given!).tag ?? '' };
      // A build and push is planned when the image is not there: its preconditions (the Docker daemon
      // answers, the base image exists) are checked now, before anything is created.
      const buildable = async () => {
        if (await ctx.docker.inspectImage(d.ref)) return;
        await ctx.docker.ping();
        await checkBaseImage(ctx, d);
      };
      if (d.mode === 'ecr' && !(await ecrRepositoryExists(ctx, d.ecrName!))) {
        await buildable();
        return absent(`ECR repository ${d.ecrName} does not exist`);
      }
      const creds = await credentials(ctx, d);
      const digest = await ctx.docker.remoteDigest(d.ref, creds, ctx.signal);
      if (digest) return { imageRef: `${d.repository}@${digest}`, digest, repository: d.repository, tag: d.tag };
      await buildable();
      return absent(`${d.ref} is not in the registry`);
    },

    desired: (ctx, _deps, prepared) => target(ctx, prepared),

    plan(observed, desired): Plan {
      if (desired.mode === 'given') return { action: 'noop', summary: `using ${desired.given}` };
      if (!isAbsent(observed)) return { action: 'noop', summary: `${desired.ref} is in the registry` };
      const ecr = desired.mode === 'ecr' && observed.detail?.startsWith('ECR repository') ? `create ECR repository ${desired.ecrName}, ` : '';
      const from = desired.buildArgs.BASE_IMAGE ? ` (from ${desired.buildArgs.BASE_IMAGE})` : '';
      return { action: 'create', summary: `${ecr}build${from} and push ${desired.ref}` };
    },

    async apply(ctx, { plan, observed, desired: d }) {
      if (plan.action === 'noop' && !isAbsent(observed)) {
        return outputsOf(observed, { built: false, pushed: false });
      }
      if (d.mode === 'ecr' && !(await ecrRepositoryExists(ctx, d.ecrName!))) {
        ctx.report(`creating ECR repository ${d.ecrName}`);
        try {
          await ctx.ecr.createRepository({
            repositoryName: d.ecrName!,
            imageScanningConfiguration: { scanOnPush: true },
            imageTagMutability: 'MUTABLE',
            tags: awsTags(d.tags),
          });
        } catch (e) {
          if (!hasAwsCode(e, 'RepositoryAlreadyExistsException')) throw e;
        }
      }
      await ctx.docker.ping();
      let built = false;
      const local = await ctx.docker.inspectImage(d.ref);
      if (local) {
        ctx.report(`${d.ref} exists locally, not rebuilt`);
      } else {
        ctx.report(`building ${d.ref}`);
        await ctx.docker.build({
          context: d.context!,
          tag: d.ref,
          buildArgs: d.buildArgs,
          platform: d.platform,
          signal: ctx.signal,
          onOutput: (line) => {
            if (/^Step \d+\/\d+ :/.test(line)) ctx.report(`build ${truncate(line, 100)}`);
            if (ctx.io.verbose) ctx.io.emit({ type: 'message', level: 'info', text: line });
          },
        });
        built = true;
      }
      const latest = `${d.repository}:latest`;
      await ctx.docker.tag(d.ref, latest);
      const creds = await credentials(ctx, d);
      ctx.report(`pushing ${d.ref} (${describeAuth(creds)})`);
      const onOutput = (line: string) => {
        if (ctx.io.verbose) ctx.io.emit({ type: 'message', level: 'info', text: line });
      };
      const { digest } = await ctx.docker.push({ ref: d.ref, credentials: creds, signal: ctx.signal, onOutput });
      await ctx.docker.push({ ref: latest, credentials: creds, signal: ctx.signal, onOutput });
      return outputsOf({ imageRef: `${d.repository}@${digest}`, digest, repository: d.repository, tag: d.tag }, { built, pushed: true });
    },

    preview(observed, desired) {
      if (desired.mode === 'given') return { imageRef: desired.given! };
      if (!isAbsent(observed)) return outputsOf(observed, { built: false, pushed: false });
      return { imageRef: unknown('push'), repository: desired.repository, tag: desired.tag, digest: unknown('push') };
    },

    describe: (o) => ({ imageRef: o.imageRef, tag: o.tag }),

    // Images in a registry are not deleted: other stacks or people may run them. An ECR
    // repository this stack created carries its tags; deleting it is left to the user.
    destroy: (ctx) => kept(ctx),
    destroyPreview: (ctx) => kept(ctx),
  };

  async function kept(ctx: ImageCtx): Promise<{ deleted: string[]; kept: string[] }> {
    let d: ImageDesired;
    try {
      d = target(ctx);
    } catch {
      return { deleted: [], kept: [] };
    }
    if (d.mode === 'ecr') {
      const exists = await ecrRepositoryExists(ctx, d.ecrName!);
      return { deleted: [], kept: exists ? [`ECR repository ${d.ecrName} (delete it with: aws ecr delete-repository --force --repository-name ${d.ecrName})`] : [] };
    }
    return { deleted: [], kept: d.mode === 'registry' ? [`image ${d.repository} in its registry`] : [] };
  }

  /**
   * The build's FROM image: on the Docker host already, or in its registry (with the user's
   * credentials). A rehearsal asks no registry outside this machine: the image must be on the host.
   */
  async function checkBaseImage(ctx: ImageCtx, d: ImageDesired): Promise<void> {
    const base = d.buildArgs.BASE_IMAGE ?? DEFAULT_BASE_IMAGE;
    if (await ctx.docker.inspectImage(base)) return;
    const registry = parseReference(base).registry;
    if (rehearsal(ctx) && !isLoopbackRegistry(registry)) {
      const given = d.buildArgs.BASE_IMAGE !== undefined;
      const candidates = given ? [] : await debianLikeImages(ctx.docker);
      throw new UserInputError({
        what: `Cannot build the logging image: base image ${base} is not on this Docker host`,
        why: `a rehearsal (--sandbox) pulls from no registry outside this machine, and ${given ? `--base-image ${base}` : `the Dockerfile's default, ${base},`} is not here`,
        fix: candidates.length
          ? `Pass --base-image with a Debian image this Docker host has: ${candidates.slice(0, 3).join(', ')}.`
          : given
            ? `Check the name (\`docker image ls\`), or pull or import ${base} first.`
            : `Pull or import a Debian bookworm image first (\`docker pull ${base}\` reaches Docker Hub), then pass it as --base-image.`,
      });
    }
    let digest: string | undefined;
    let why = 'it is not on the Docker host and its registry does not have it';
    try {
      const creds = await resolveRegistryAuth(registry, { env: options.env, configDir: options.dockerConfigDir });
      digest = await ctx.docker.remoteDigest(base, creds, ctx.signal);
    } catch (e) {
      why = `it is not on the Docker host, and its registry ${registry} could not be asked (${(e as Error).message})`;
    }
    if (!digest) {
      throw new UserInputError({
        what: `Cannot build the logging image: base image ${base} not found`,
        why,
        fix: 'Pull or build it first (docker pull / docker import), or pass --base-image with one the Docker host has.',
      });
    }
  }
}

/** Images on the Docker host that look like a Debian base (for hints): repo:tag, newest first. */
export async function debianLikeImages(docker: Pick<ImageCtx['docker'], 'listImages'>): Promise<string[]> {
  const all = (await docker.listImages?.().catch(() => [])) ?? [];
  return all.filter((ref) => /debian|bookworm|trixie|bullseye/i.test(ref) && !ref.endsWith(':<none>'));
}

/** The Dockerfile's default BASE_IMAGE. */
export const DEFAULT_BASE_IMAGE = 'debian:bookworm-slim';

function outputsOf(o: ImageObserved, extra: { built: boolean; pushed: boolean }): ImageOutputs {
  return { imageRef: o.imageRef, repository: o.repository, tag: o.tag, digest: o.digest, ...extra };
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/** The image step with the defaults (`up`): --repo / --repo ecr from the settings, docker/ as is. */
export const imageStep = createImageStep();
