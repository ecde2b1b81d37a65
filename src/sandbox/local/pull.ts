/** An image on the local Docker engine: there already, or pulled with the registry's credentials (../../docker/auth.ts). */
import type Docker from 'dockerode';
import { dockerAuthConfig, resolveRegistryAuth } from '../../docker/auth.js';
import { parseReference } from '../../docker/reference.js';

/** undefined when the image is here (or was pulled), else why not. */
export async function ensureImage(docker: Docker, image: string): Promise<string | undefined> {
  if (await docker.getImage(image).inspect().then(() => true, () => false)) return undefined;
  try {
    const ref = parseReference(image);
    const creds = await resolveRegistryAuth(ref.registry).catch(() => undefined);
    const stream = await docker.pull(image, creds ? { authconfig: dockerAuthConfig(creds) } : {});
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
        const failed = err ?? out.find((x) => x.error);
        if (failed) reject(new Error(err ? err.message : (failed as { error: string }).error));
        else resolve();
      }),
    );
    return undefined;
  } catch (e) {
    return `the local Docker engine cannot pull ${image}: ${(e as Error).message}`;
  }
}
