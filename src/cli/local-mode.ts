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
import { parseReference } from '../docker/reference.js';
import { localAppUrl, localDocker, removeLabelled, sandboxIdentity, type Owner } from '../sandbox/local/labels.js';
import { localDir, stopSandbox } from './sandbox-mode.js';
import type { GlobalOptions } from './runtime.js';

/** Whether this command's sandbox runs the stack's tasks on Docker. */
export function isLocal(opts: GlobalOptions, stack: string): boolean {
  return Boolean(opts.sandbox) && (Boolean(opts.local) || existsSync(localDir(stack)));
}

/**
 * Before the plan: every image the task will run is on the Docker engine or can be pulled. Says
 * plainly which flag picks another one.
 */
export async function checkLocalImages(images: { ref: string; flag: string; what: string }[]): Promise<void> {
  const docker = localDocker();
  try {
    await docker.ping();
  } catch (e) {
    throw new UserInputError({ what: 'Docker is not reachable', why: `--local runs the task on the local Docker engine: ${(e as Error).message}`, fix: 'Start Docker, or set DOCKER_HOST to where your daemon listens.' });
  }
  for (const { ref, flag, what } of images) {
    if (await docker.getImage(ref).inspect().then(() => true, () => false)) continue;
    try {
      const creds = await resolveRegistryAuth(parseReference(ref).registry).catch(() => undefined);
      const stream = await docker.pull(ref, creds ? { authconfig: dockerAuthConfig(creds) } : {});
      await new Promise<void>((resolve, reject) =>
        docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
          const bad = out?.find((x) => x.error);
          if (err || bad) reject(new Error(err ? err.message : bad!.error));
          else resolve();
        }),
      );
    } catch (e) {
      throw new UserInputError({
        what: `The ${what} ${ref} cannot be pulled`,
        why: `the local Docker engine does not have it and cannot pull it (${(e as Error).message.trim()})`,
        fix: `Pass ${flag} with an image this Docker engine has or can pull (for httpd, any image laid out like httpd:2.4, e.g. one built from test/docker/httpd-like).`,
      });
    }
  }
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
