/** EC2 key pairs. */
import { createHash, generateKeyPairSync } from 'node:crypto';
import {
  CreateKeyPairRequest$,
  DeleteKeyPairRequest$,
  DeleteKeyPairResult$,
  DescribeKeyPairsRequest$,
  DescribeKeyPairsResult$,
  KeyPair$,
  type CreateKeyPairRequest,
  type DeleteKeyPairRequest,
  type DeleteKeyPairResult,
  type DescribeKeyPairsRequest,
  type DescribeKeyPairsResult,
  type KeyPair,
} from '@aws-sdk/client-ec2';
import { typedOperation, type Call } from '../../typed.js';
import { ServiceError, type Operation } from '../../types.js';
import { ec2Decoder, ec2Encoder } from './codec.js';
import { dryRun, filterItems, inRegion, invalidValue, missing, requiredParam, sdkTags, sdkTagSpecifications } from './common.js';
import { keyPairByName } from './lookups.js';
import type { KeyPairRecord } from './records.js';
import { seeded, state } from './state.js';

export function createKeyPair(input: CreateKeyPairRequest, { world, region, now }: Call): KeyPair {
  dryRun(input);
  const keyName = requiredParam(input.KeyName, 'KeyName');
  if (keyName.length > 255) throw invalidValue(`Value (${keyName}) for parameter keyName is invalid. Length exceeds maximum of 255.`);
  const keyType = (input.KeyType ?? 'rsa') as 'rsa' | 'ed25519';
  if (keyType !== 'rsa' && keyType !== 'ed25519') throw invalidValue(`Invalid value '${keyType}' for keyType.`);
  const tags = sdkTagSpecifications(input.TagSpecifications, ['key-pair'])['key-pair'] ?? {};
  if (keyPairByName(world, region, keyName)) {
    throw new ServiceError('InvalidKeyPair.Duplicate', `The keypair '${keyName}' already exists.`, 400);
  }
  const { material, fingerprint, publicKey } = generateKeyMaterial(keyType);
  const record: KeyPairRecord = {
    keyPairId: world.nextId('key-'),
    region,
    keyName,
    keyType,
    keyFingerprint: fingerprint,
    publicKey,
    createTime: now,
    tags,
  };
  state(world).keyPairs[record.keyPairId] = record;
  return { KeyName: keyName, KeyFingerprint: fingerprint, KeyMaterial: material, KeyPairId: record.keyPairId, Tags: sdkTags(tags) };
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

export function describeKeyPairs(input: DescribeKeyPairsRequest, { world, region }: Call): DescribeKeyPairsResult {
  let keys = inRegion(state(world).keyPairs, region);
  const names = input.KeyNames ?? [];
  const ids = input.KeyPairIds ?? [];
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
  keys = filterItems(keys, input.Filters, {
    'key-name': (k) => [k.keyName],
    'key-pair-id': (k) => [k.keyPairId],
    fingerprint: (k) => [k.keyFingerprint],
    'key-type': (k) => [k.keyType],
  });
  const includePublicKey = input.IncludePublicKey ?? false;
  return {
    KeyPairs: keys.map((k) => ({
      KeyPairId: k.keyPairId,
      KeyName: k.keyName,
      KeyFingerprint: k.keyFingerprint,
      KeyType: k.keyType,
      Tags: Object.entries(k.tags).map(([Key, Value]) => ({ Key, Value })),
      PublicKey: includePublicKey ? k.publicKey : undefined,
      CreateTime: new Date(k.createTime),
    })),
  };
}

export function deleteKeyPair(input: DeleteKeyPairRequest, { world, region }: Call): DeleteKeyPairResult {
  dryRun(input);
  if (!input.KeyName && !input.KeyPairId) throw missing('KeyName');
  const keys = state(world).keyPairs;
  let record: KeyPairRecord | undefined;
  if (input.KeyPairId) {
    record = keys[input.KeyPairId];
    if (!record || record.region !== region) {
      throw new ServiceError('InvalidKeyPair.NotFound', `The key pair '${input.KeyPairId}' does not exist`, 400);
    }
  } else {
    // Like EC2, deleting a key pair name that does not exist succeeds.
    record = keyPairByName(world, region, String(input.KeyName));
  }
  if (record) delete keys[record.keyPairId];
  return { Return: true, KeyPairId: record?.keyPairId };
}

export const operations: Record<string, Operation> = {
  CreateKeyPair: typedOperation<CreateKeyPairRequest, KeyPair>({
    mutating: true,
    decode: ec2Decoder(CreateKeyPairRequest$),
    encode: ec2Encoder(KeyPair$),
    handler: seeded(createKeyPair),
  }),
  DescribeKeyPairs: typedOperation<DescribeKeyPairsRequest, DescribeKeyPairsResult>({
    mutating: false,
    decode: ec2Decoder(DescribeKeyPairsRequest$),
    encode: ec2Encoder(DescribeKeyPairsResult$),
    handler: seeded(describeKeyPairs),
  }),
  DeleteKeyPair: typedOperation<DeleteKeyPairRequest, DeleteKeyPairResult>({
    mutating: true,
    decode: ec2Decoder(DeleteKeyPairRequest$),
    encode: ec2Encoder(DeleteKeyPairResult$),
    handler: seeded(deleteKeyPair),
  }),
};
