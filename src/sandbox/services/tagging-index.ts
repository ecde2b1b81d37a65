/**
 * The Tagging API's index: what GetResources, GetTagKeys and GetTagValues answer from when the
 * listing lags (settings.taggingLagMs > 0, the realistic profile's default).
 *
 * What AWS does: the Resource Groups Tagging API does not read the services at the moment of the call.
 * Services "should be onboarded to an internal tag management service" that the API answers from
 * (a maintainer, aws/aws-sdk#302, https://github.com/aws/aws-sdk/issues/302), so what it lists follows
 * the services' own state later: GetResources "returns all the tagged or previously tagged resources"
 * (API reference, GetResources); deleted volumes were still listed 20 minutes later, which AWS's
 * maintainer took for "just eventual consistency" (aws/aws-cli#4173); just-terminated instances were
 * listed for hours, fewer and fewer (boto/boto3#3341). No figure is documented, for a new resource,
 * a tag change or a deletion: the sandbox takes one lag for all three (latency.ts
 * DEFAULT_TAGGING_LAG_MS), stricter than the rare ghost for hours in that it applies to every change.
 *
 * The model, exact for a lag L: a journal of (time, ARN, tags | deleted), appended whenever a
 * resource's tags differ from its last entry (the module's tick compares every resource after each
 * request, and after each mutating one at the moment it changed the world), answered as of now - L:
 *   - a resource created (or first tagged) less than L ago is not listed;
 *   - one deleted less than L ago is still listed, with its last tags;
 *   - a tag change less than L ago shows the old tags;
 *   - a resource whose last tag was removed stays listed with no tags, for as long as it exists
 *     ("previously tagged"); one that never had a tag is never listed.
 * The journal lives in the world's state (world.state.tagging.index), so it survives the state file,
 * and stays small: for each ARN only the newest entry older than L is kept, and a deletion older
 * than L is forgotten. What existed before the journal began (a sandbox started with L = 0, or an
 * older state file) counts as settled long ago. With L = 0 there is no journal: the listing is the
 * services' tags at the moment of the call, as it always was.
 */
import { arrayOf, num, object, optional, recordOf, str, type Infer } from '../shape.js';
import type { World } from '../types.js';
import type { TagMap } from './util.js';

/** One change to one resource: its tags from `at` on (sandbox clock, ms); no tags member: deleted at `at`. */
const indexEntryShape = object({ at: num, tags: optional(recordOf(str)) });
/** world.state.tagging, checked when a state file is loaded (state-shapes.ts). `index.entries`: ARN -> its entries, oldest first. */
export const taggingStateShape = object({ index: optional(object({ entries: recordOf(arrayOf(indexEntryShape)) })) });

export type IndexEntry = Infer<typeof indexEntryShape>;
export type TaggingState = Infer<typeof taggingStateShape>;

/** A resource and its tags (none: a resource that exists untagged). */
export interface Tagged {
  arn: string;
  tags: TagMap;
}

function taggingState(world: World): TaggingState {
  return (world.state.tagging ??= {}) as TaggingState;
}

const hasTags = (tags: TagMap | undefined): tags is TagMap => tags !== undefined && Object.keys(tags).length > 0;

function sameEntry(a: IndexEntry, b: IndexEntry): boolean {
  if (a.tags === undefined || b.tags === undefined) return a.tags === b.tags;
  const ka = Object.keys(a.tags);
  return ka.length === Object.keys(b.tags).length && ka.every((k) => b.tags !== undefined && b.tags[k] === a.tags?.[k]);
}

/** Append a change; one made at the same moment as the last entry replaces it (a tick's two rounds). */
function append(list: IndexEntry[], entry: IndexEntry): void {
  const last = list[list.length - 1];
  if (last && last.at === entry.at) {
    list.pop();
    const before = list[list.length - 1];
    if (!before || !sameEntry(before, entry)) list.push(entry);
    return;
  }
  if (!last || !sameEntry(last, entry)) list.push(entry);
}

/**
 * Bring the index up to `now` from every resource of every region (`current`, untagged ones
 * included), then drop what no answer as of now - lag can need. Lag 0: no index.
 */
export function recordIndex(world: World, now: number, current: () => Tagged[]): void {
  const lag = world.settings.taggingLagMs;
  const state = taggingState(world);
  if (!(lag > 0)) {
    delete state.index;
    return;
  }
  const resources = current();
  if (!state.index) {
    // The journal begins: what is tagged now counts as settled long ago.
    const entries: Record<string, IndexEntry[]> = {};
    for (const r of resources) if (hasTags(r.tags)) entries[r.arn] = [{ at: 0, tags: { ...r.tags } }];
    state.index = { entries };
    return;
  }
  const entries = state.index.entries;
  const seen = new Set<string>();
  for (const r of resources) {
    seen.add(r.arn);
    const list = entries[r.arn];
    const last = list?.[list.length - 1];
    // Untagged: listed with no tags only once it had tags ("previously tagged"); never tagged, never listed.
    // (A resource deleted and made again under its ARN, untagged, is a new one: never tagged.)
    if (!hasTags(r.tags) && !hasTags(last?.tags)) continue;
    if (list) append(list, { at: now, tags: { ...r.tags } });
    else entries[r.arn] = [{ at: now, tags: { ...r.tags } }];
  }
  for (const [arn, list] of Object.entries(entries)) {
    if (!seen.has(arn)) append(list, { at: now });
  }
  prune(entries, now - lag);
}

/** For each ARN keep the newest entry at or before `cutoff` and all after it; a deletion at or before it goes. */
function prune(entries: Record<string, IndexEntry[]>, cutoff: number): void {
  for (const [arn, list] of Object.entries(entries)) {
    let settled = -1;
    for (let i = 0; i < list.length && list[i]!.at <= cutoff; i++) settled = i;
    if (settled > 0) list.splice(0, settled);
    if (settled >= 0 && list[0]!.tags === undefined) list.shift();
    if (list.length === 0) delete entries[arn];
  }
}

/** The resources as the index shows them at `now` (their tags as of now - lag), untagged ones included; undefined without an index. */
export function indexedResources(world: World, now: number, inRegion: (arn: string) => boolean): Tagged[] | undefined {
  const index = (world.state.tagging as TaggingState | undefined)?.index;
  if (!index || !(world.settings.taggingLagMs > 0)) return undefined;
  const cutoff = now - world.settings.taggingLagMs;
  const out: Tagged[] = [];
  for (const [arn, list] of Object.entries(index.entries)) {
    if (!inRegion(arn)) continue;
    let shown: IndexEntry | undefined;
    for (const e of list) if (e.at <= cutoff) shown = e;
    if (shown?.tags) out.push({ arn, tags: shown.tags });
  }
  return out;
}
