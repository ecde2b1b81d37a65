/**
 * Reading what test/helpers/net-recorder.ts recorded. Not a test file.
 */
import { readFileSync } from 'node:fs';

/** The hosts in a recording that are not this machine (loopback, localhost and unix sockets are). */
export function outsideHosts(logFile: string): string[] {
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return [];
  }
  const hosts = new Set(text.split('\n').filter(Boolean).map((l) => l.split(' ')[1]!));
  return [...hosts].filter((h) => !(h.startsWith('unix:') || h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h))).sort();
}
