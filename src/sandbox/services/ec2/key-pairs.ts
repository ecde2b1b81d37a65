/** EC2 key pairs. */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { unflatten } from '../../protocols/query.js';
import { ServiceError, type Operation, type SandboxRequest, type World } from '../../types.js';
import { bool, type TagMap } from '../util.js';
import { applyFilters, dryRun, inRegion, invalidValue, missing, requiredParam, strings, tagSet, tagSpecifications } from './common.js';
import { regional, state } from './state.js';

export interface KeyPairRecord {
  keyPairId: string;
  region: string;
  keyName: string;
  keyType: 'rsa' | 'ed25519';
  keyFingerprint: string;
  publicKey: string;
  createTime: number;
  tags: TagMap;
}

export function keyPairByName(world: World, region: string, name: string): KeyPairRecord | undefined {
  return inRegion(state(world).keyPairs, region).find((k) => k.keyName === name);
}

export function createKeyPair(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  dryRun(p);
  const keyName = requiredParam(p.KeyName, 'KeyName');
  if (keyName.length > 255) throw invalidValue(`Value (${keyName}) for parameter keyName is invalid. Length exceeds maximum of 255.`);
  const keyType = (p.KeyType ?? 'rsa') as 'rsa' | 'ed25519';
  if (keyType !== 'rsa' && keyType !== 'ed25519') throw invalidValue(`Invalid value '${keyType}' for keyType.`);
  const tags = tagSpecifications(p, ['key-pair'])['key-pair'] ?? {};
  if (keyPairByName(world, req.region, keyName)) {
    throw new ServiceError('InvalidKeyPair.Duplicate', `The keypair '${keyName}' already exists.`, 400);
  }
  const { material, fingerprint, publicKey } = generateKeyMaterial(keyType);
  const record: KeyPairRecord = {
    keyPairId: world.nextId('key-'),
    region: req.region,
    keyName,
    keyType,
    keyFingerprint: fingerprint,
    publicKey,
    createTime: req.now,
    tags,
  };
  state(world).keyPairs[record.keyPairId] = record;
  return {
    keyName,
    keyFingerprint: fingerprint,
    keyMaterial: material,
    keyPairId: record.keyPairId,
    tagSet: Object.keys(tags).length ? tagSet(tags) : undefined,
  };
}

/** A real key pair, so the private key is usable: RSA as PKCS#1 PEM, ed25519 in OpenSSH format. */
export function generateKeyMaterial(type: 'rsa' | 'ed25519') {
  if (type === 'rsa') {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    // EC2's fingerprint of a key it created: SHA-1 of the DER-encoded PKCS#8 private key.
    const fingerprint = createHash('sha1').update(der).digest('hex').match(/../g)!.join(':');
    return {
      material: privateKey.export({ format: 'pem', type: 'pkcs1' }).toString().trim(),
      fingerprint,
      publicKey: publicKey.export({ format: 'pem', type: 'spki' }).toString().trim(),
    };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const rawPublic = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const fingerprint = createHash('sha256').update(rawPublic).digest('base64').replace(/=+$/, '') + '=';
  return {
    material: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString().trim(),
    fingerprint,
    publicKey: `ssh-ed25519 ${rawPublic.toString('base64')}`,
  };
}

export function describeKeyPairs(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  let keys = inRegion(state(world).keyPairs, req.region);
  const names = strings(p.KeyName);
  const ids = strings(p.KeyPairId);
  for (const name of names) {
    if (!keys.some((k) => k.keyName === name)) {
      throw new ServiceError('InvalidKeyPair.NotFound', `The key pair '${name}' does not exist`, 400);
    }
  }
  for (const id of ids) {
    if (!keys.some((k) => k.keyPairId === id)) {
      throw new ServiceError('InvalidKeyPair.NotFound', `The key pair '${id}' does not exist`, 400);
    }
  }
  if (names.length || ids.length) keys = keys.filter((k) => names.includes(k.keyName) || ids.includes(k.keyPairId));
  keys = applyFilters(keys, p, {
    'key-name': (k) => [k.keyName],
    'key-pair-id': (k) => [k.keyPairId],
    fingerprint: (k) => [k.keyFingerprint],
    'key-type': (k) => [k.keyType],
  });
  const includePublicKey = bool(p.IncludePublicKey) ?? false;
  return {
    keySet: keys.map((k) => ({
      keyPairId: k.keyPairId,
      keyName: k.keyName,
      keyFingerprint: k.keyFingerprint,
      keyType: k.keyType,
      tagSet: tagSet(k.tags),
      publicKey: includePublicKey ? k.publicKey : undefined,
      createTime: new Date(k.createTime),
    })),
  };
}

export function deleteKeyPair(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  dryRun(p);
  if (!p.KeyName && !p.KeyPairId) throw missing('KeyName');
  const keys = state(world).keyPairs;
  let record: KeyPairRecord | undefined;
  if (p.KeyPairId) {
    record = keys[p.KeyPairId];
    if (!record || record.region !== req.region) {
      throw new ServiceError('InvalidKeyPair.NotFound', `The key pair '${p.KeyPairId}' does not exist`, 400);
    }
  } else {
    // Like EC2, deleting a key pair name that does not exist succeeds.
    record = keyPairByName(world, req.region, String(p.KeyName));
  }
  if (record) delete keys[record.keyPairId];
  return { return: true, keyPairId: record?.keyPairId };
}

export const operations: Record<string, Operation> = {
  CreateKeyPair: { mutating: true, handler: regional(createKeyPair) },
  DescribeKeyPairs: { mutating: false, handler: regional(describeKeyPairs) },
  DeleteKeyPair: { mutating: true, handler: regional(deleteKeyPair) },
};
