/**
 * The CLI side of `--sandbox --local` (the runner itself lives in the sandbox process, see
 * src/sandbox/local/): the images' check before the plan, the app's local URL, and what `down`
 * clears once the stack's sandbox has nothing left to run.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { UserInputError } from '../core/errors.js';
import type { IoHost } from '../io/host.js';
import { dockerAuthConfig, resolveRegistryAuth } from '../docker/auth.js';
import { readBuildContext } from '../docker/build-context.js';
import { createDockerEngine } from '../docker/engine.js';
import { isLoopbackRegistry, parseReference } from '../docker/reference.js';
import { PACKAGE_ROOT } from '../core/version.js';
import { join } from 'node:path';
import { localAppUrl, localDocker, removeLabelled, sandboxIdentity, type Owner } from '../sandbox/local/labels.js';
import { localDir, stopSandbox } from './sandbox-mode.js';
import type { GlobalOptions } from './runtime.js';

/** Whether this command's sandbox runs the stack's tasks on Docker. */
export function isLocal(opts: GlobalOptions, stack: string): boolean {
  return Boolean(opts.sandbox) && (Boolean(opts.local) || existsSync(localDir(stack)));
}

/** The app image ECS runs in the lab: `--app-image`'s default. */
export const DEFAULT_APP_IMAGE = 'httpd:2.4';

/** An httpd-like app image built from a base image (templates/httpd-like), not built yet. */
export interface PendingAppImage {
  ref: string;
  /** Builds it (after the plan is confirmed: nothing is written before). */
  build(io: IoHost, signal?: AbortSignal): Promise<void>;
}

export interface LocalImagesInput {
  appImage: string;
  /** Whether --app-image (or the environment, or a saved answer) chose the app image. */
  appImageChosen: boolean;
  /** --image: a logging image given (not built). */
  image?: string;
  /** --base-image: the Debian image to build from when httpd:2.4 (or the Dockerfile's base) is absent. */
  baseImage?: string;
}

/**
 * Before the plan: every image the task will run is on the Docker engine, or can be had without
 * leaving this machine (a rehearsal pulls only from loopback registries). When the default app image,
 * httpd:2.4, is absent and --base-image names a local Debian image, an httpd-like image is built
 * from it instead (templates/httpd-like; the returned ref is what the task definition runs). Errors
 * name only what the user has and gave.
 */
export async function checkLocalImages(input: LocalImagesInput): Promise<{ appImage?: PendingAppImage }> {
  const docker = localDocker();
  try {
    await docker.ping();
  } catch (e) {
    throw new UserInputError({ what: 'Docker is not reachable', why: `--local runs the task on the local Docker engine: ${(e as Error).message}`, fix: 'Start Docker, or set DOCKER_HOST to where your daemon listens.' });
  }
  const has = (ref: string) => docker.getImage(ref).inspect().then(() => true, () => false);
  let base: string | undefined;
  if (input.baseImage) {
    if (!(await has(input.baseImage))) {
      throw new UserInputError({
        what: `The base image ${input.baseImage} is not on this Docker engine`,
        why: '--base-image builds the images from an image this machine has; a rehearsal pulls from no registry outside it',
        fix: `Check the name (\`docker image ls\`), or pull or import ${input.baseImage} first.`,
      });
    }
    base = input.baseImage;
  }
  let pending: PendingAppImage | undefined;
  const wanted = [{ ref: input.appImage, flag: '--app-image', what: 'app image', chosen: input.appImageChosen }, ...(input.image ? [{ ref: input.image, flag: '--image', what: 'logging image', chosen: true }] : [])];
  for (const w of wanted) {
    if (await has(w.ref)) continue;
    const defaultApp = w.flag === '--app-image' && !w.chosen && w.ref === DEFAULT_APP_IMAGE;
    if (defaultApp && base) {
      pending = httpdLike(base);
      continue;
    }
    const registry = parseReference(w.ref).registry;
    let why = `a rehearsal pulls from no registry outside this machine (${registry})`;
    if (isLoopbackRegistry(registry)) {
      try {
        await pull(docker, w.ref);
        continue;
      } catch (e) {
        why = `this Docker engine does not have it and cannot pull it (${(e as Error).message.trim()})`;
      }
    }
    const candidates = base ? [] : await (createDockerEngine().listImages?.() ?? Promise.resolve([])).then((l) => l.filter((r) => /debian|bookworm|trixie|bullseye/i.test(r)), () => []);
    const fromBase = defaultApp
      ? candidates.length
        ? ` or pass --base-image ${candidates[0]} (a Debian image this engine has) to build the app image (httpd-like) and the logging image from it,`
        : ' or pass --base-image with a Debian image this engine has to build the app image (httpd-like) and the logging image from it,'
      : '';
    throw new UserInputError({
      what: `The ${w.what} ${w.ref} is not on this Docker engine`,
      why,
      fix: `Pull or load it yourself (\`docker pull ${w.ref}\`${isLoopbackRegistry(registry) ? '' : ` reaches ${registry}`}),${fromBase} or pass ${w.flag} with an image this engine has.`,
    });
  }
  return pending ? { appImage: pending } : {};
}

/** The httpd-like image of the package (templates/httpd-like) from a base image, tagged by content. */
function httpdLike(base: string): PendingAppImage {
  const buildArgs = { BASE_IMAGE: base };
  const context = readBuildContext(join(PACKAGE_ROOT, 'templates', 'httpd-like'), { buildArgs });
  const ref = `ecs-cwlogs-httpd-like:${context.tag}`;
  return {
    ref,
    async build(io, signal) {
      const engine = createDockerEngine();
      if (await engine.inspectImage(ref)) return;
      io.emit({ type: 'message', level: 'info', text: `Building the app image ${ref} (httpd-like, from ${base})` });
      await engine.build({ context, tag: ref, buildArgs, signal });
    },
  };
}

async function pull(docker: ReturnType<typeof localDocker>, ref: string): Promise<void> {
  const creds = await resolveRegistryAuth(parseReference(ref).registry).catch(() => undefined);
  const stream = await docker.pull(ref, creds ? { authconfig: dockerAuthConfig(creds) } : {});
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
      const bad = out?.find((x) => x.error);
      if (err || bad) reject(new Error(err ? err.message : bad!.error));
      else resolve();
    }),
  );
}

/** This config directory's sandbox of the stack, as its containers are labelled. */
function owner(stack: string): Owner {
  return { stack, sandbox: sandboxIdentity(localDir(stack)) };
}

/** The app's URL on this machine (http://127.0.0.1:<port>/), if its container runs. */
export async function localUrl(stack: string): Promise<string | undefined> {
  return localAppUrl(localDocker(), owner(stack)).catch(() => undefined);
}

/**
 * After `down --sandbox`: stop the stack's sandbox process (its state stays in its file), then remove
 * whatever still carries the stack's label on Docker and the stack's local directory.
 */
export async function finishSandboxDown(stack: string, io: IoHost): Promise<void> {
  const stopped = await stopSandbox(stack, false);
  const dir = localDir(stack);
  if (existsSync(dir)) {
    const removed = await removeLabelled(localDocker(), owner(stack)).catch(() => ({ containers: [], networks: [] }));
    if (removed.containers.length || removed.networks.length) {
      io.emit({ type: 'message', level: 'info', text: `Removed from Docker: ${[...removed.containers, ...removed.networks].join(', ')}` });
    }
    await rm(dir, { recursive: true, force: true });
  }
  if (stopped) io.emit({ type: 'message', level: 'info', text: `Stopped the sandbox of stack ${stack} (its state is kept).` });
}
