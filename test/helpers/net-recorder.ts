/**
 * A preload (`node --import dist/test/helpers/net-recorder.js`, or NODE_OPTIONS=--import=...) that
 * records every host name a process resolves or connects to, one line each, in the file named by
 * ECS_CWLOGS_TEST_NET_LOG (appended, so the detached sandbox a CLI run starts records there too).
 * For tests proving that a rehearsal never leaves the machine. Not a test file.
 */
import dns from 'node:dns';
import { appendFileSync } from 'node:fs';
import net from 'node:net';

const file = process.env.ECS_CWLOGS_TEST_NET_LOG;

function record(kind: string, host: unknown): void {
  if (!file || typeof host !== 'string' || host === '') return;
  try {
    appendFileSync(file, `${kind} ${host} ${process.pid}\n`);
  } catch {
    /* a recorder never breaks the run */
  }
}

if (file) {
  const lookup = dns.lookup;
  (dns as { lookup: unknown }).lookup = function (this: unknown, hostname: string, ...rest: unknown[]) {
    record('lookup', hostname);
    return (lookup as (...a: unknown[]) => unknown).call(this, hostname, ...rest);
  };
  const plookup = dns.promises.lookup;
  (dns.promises as { lookup: unknown }).lookup = function (this: unknown, hostname: string, ...rest: unknown[]) {
    record('lookup', hostname);
    return (plookup as (...a: unknown[]) => unknown).call(this, hostname, ...rest);
  };
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    if (first && typeof first === 'object') {
      const o = first as { host?: string; path?: string };
      record('connect', o.path ? `unix:${o.path}` : (o.host ?? 'localhost'));
    } else if (typeof first === 'string' && !/^\d+$/.test(first)) {
      record('connect', `unix:${first}`);
    } else {
      record('connect', typeof args[1] === 'string' ? args[1] : 'localhost');
    }
    return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof connect;
}
