/**
 * The settings of a run, resolved once, by one pure function: `resolveSettings(input)`.
 *
 * Its inputs are facts, read before it runs:
 *   flags        what the command line gave (`--subnet ""` clears a setting)
 *   env          ECS_CWLOGS_* (and, for the region, AWS_REGION and AWS_DEFAULT_REGION)
 *   saved        what the user gave in an earlier run, for this stack and target (core/config.ts)
 *   region       the region's other sources: the profile's `region`, the region the stack was last
 *                used in with the account, the sandbox, the wizard's answer
 *   tagged       what the stack's tagged resources show (cli/tagged-facts.ts reads them)
 *   answers      the wizard's answers (cli/wizard.ts asks; it writes nothing)
 *   built        an image this machine builds for the run (`--local --base-image`)
 *
 * For every setting: flag, then environment, then saved, then the wizard's answer, then what the
 * stack's tags show, then the default. The region has its own list, the AWS CLI's (regionOf). The
 * output is deeply frozen: nothing writes the config after it. The same input gives the same output.
 */
import { UserInputError } from './errors.js';
import { SETTING_LIST, SETTINGS, topologyOf, type Setting, type SettingKey, type StackConfig } from './settings.js';
import { ValidationFailure } from './validate.js';

/**
 * `tagged`: a name the stack's tagged resources have (never saved). `cleared`: the flag was given
 * empty (`--subnet ""`): the setting is unset (or its default) and forgotten from the stack file.
 * `profile`: the region of the AWS profile. `built`: an image this machine built for the run.
 */
export type Source = 'flag' | 'env' | 'saved' | 'prompt' | 'default' | 'tagged' | 'cleared' | 'profile' | 'built';

/** A saved setting the stack's shape does not use (kept in the file for a move back). */
export interface NotApplied {
  readonly key: SettingKey;
  readonly flag: string;
  readonly value: string;
  readonly why: string;
}

export interface ResolvedConfig {
  readonly config: Readonly<StackConfig>;
  /** Where each value came from. */
  readonly sources: Readonly<Partial<Record<SettingKey, Source>>>;
  /** Saved settings the chosen shape ignores this run. */
  readonly notApplied: readonly NotApplied[];
}

export type SavedSettings = Partial<Record<SettingKey, string | number | boolean>>;

/** Raw values from the command line, keyed like StackConfig (commander's camelCased option names). */
export type FlagValues = Partial<Record<SettingKey, string | number | undefined>>;

/** The wizard's answers. `null`: answered "none" (no key pair): unset, and forgotten from the stack file. */
export type Answers = Partial<Record<Exclude<SettingKey, 'region' | 'profile'>, string | number | boolean | null>>;

/** The region's sources after the flag and the environment, as connecting finds them. */
export interface RegionFacts {
  /** The `region` of the AWS profile in use, and the profile's name (for messages). */
  profile?: string;
  profileName?: string;
  /** The region this stack was last used in with this account (from the stack file). */
  last?: string;
  /** The tool's own sandbox: us-east-1 when nothing else names a region. */
  sandbox?: boolean;
  /** The wizard's answer, asked only when nothing else names one. */
  answer?: string;
}

/** What the stack's tagged resources show (only what was looked for: a given setting is never looked up). */
export interface TaggedFacts {
  /** The stack's one Auto Scaling group: its size, and whether an ALB is tagged too. */
  group?: { readonly size: number; readonly loadBalancer: boolean };
  clusters?: readonly string[];
  services?: readonly { readonly cluster: string; readonly name: string }[];
  taskFamilies?: readonly string[];
  logGroups?: readonly string[];
  /** The instances' security groups' names (the ALB's own `<name>-alb` counted as its base). */
  securityGroupNames?: readonly string[];
  /** The IAM base names of the stack's roles and policies in this region. */
  iamNames?: readonly string[];
  /** The logging image of a task family's latest ACTIVE revision, where that revision is the stack's. */
  images?: Readonly<Record<string, string>>;
}

export interface SettingsInput {
  flags: FlagValues;
  env: Readonly<Record<string, string | undefined>>;
  saved?: SavedSettings;
  /** Names the saved file in messages about a bad saved value. */
  file?: string;
  region?: RegionFacts;
  tagged?: TaggedFacts;
  answers?: Answers;
  built?: { appImage?: string };
}

/** The logging image's setting (named through the table: its key is also a step's id). */
const IMAGE = SETTINGS.image.key;

/** Settings the stack's tags can stand in for (they name a whole resource of the stack, or its shape). */
export const TAGGED_KEYS: readonly SettingKey[] = ['instances', 'loadBalancer', 'clusterName', 'serviceName', 'taskFamily', 'logGroup', 'securityGroupName', 'iamName', IMAGE];

/** Only an unambiguous find (one resource of the kind) stands in for a setting. */
export function onlyOne(found: readonly string[] | undefined): string | undefined {
  return found?.length === 1 ? found[0] : undefined;
}

const RANK: Record<Source, number> = { flag: 4, prompt: 4, cleared: 4, env: 3, profile: 3, saved: 2, tagged: 1, default: 1, built: 1 };

type Draft = { config: Record<string, unknown>; sources: Partial<Record<SettingKey, Source>>; notApplied: NotApplied[] };

export interface RegionChoice {
  region: string;
  source: Source;
  /** For messages: "--region", "AWS_REGION", 'the region of profile "dev"'. */
  from: string;
}

/**
 * The region, by the one rule: --region, ECS_CWLOGS_REGION, AWS_REGION, AWS_DEFAULT_REGION (in the
 * AWS CLI's order), the profile's `region`, the region the stack was last used in with the account,
 * the sandbox's us-east-1, the wizard's answer. Undefined when nothing names one. The shape of a
 * flag or ECS_CWLOGS_REGION is checked by resolveSettings, the name against the SDK's partitions by
 * aws/conventions.ts checkRegion when connecting.
 */
export function regionOf(flags: FlagValues, env: SettingsInput['env'], facts: RegionFacts = {}): RegionChoice | undefined {
  const candidates: [unknown, Source, string][] = [
    [flags.region, 'flag', '--region'],
    [env[SETTINGS.region.env], 'env', SETTINGS.region.env],
    [env.AWS_REGION, 'env', 'AWS_REGION'],
    [env.AWS_DEFAULT_REGION, 'env', 'AWS_DEFAULT_REGION'],
    [facts.profile, 'profile', `the region of profile "${facts.profileName ?? 'default'}"`],
    [facts.last, 'saved', 'the region the stack was last used in with this account'],
    [facts.sandbox ? 'us-east-1' : undefined, 'default', "the sandbox's default"],
    [facts.answer, 'prompt', 'your answer'],
  ];
  for (const [value, source, from] of candidates) {
    const v = typeof value === 'string' ? value.trim() : '';
    if (v) return { region: v, source, from };
  }
  return undefined;
}

/** What the user gave (flag, environment, saved), parsed; every bad value reported at once. */
function givenLayer(input: SettingsInput, draft: Draft, problems: string[]): void {
  for (const s of SETTING_LIST) {
    if (s.key === 'region') continue;
    if (input.flags[s.key] === '') {
      // `--subnet ""`: unset, whatever the environment or the file say; the default if there is one.
      if (s.default !== undefined) draft.config[s.key] = s.default;
      draft.sources[s.key] = 'cleared';
      continue;
    }
    const found = pick(s, input);
    if (found === undefined) continue;
    try {
      draft.config[s.key] = s.parse(String(found.value));
      draft.sources[s.key] = found.source;
    } catch (e) {
      if (!(e instanceof ValidationFailure)) throw e;
      problems.push(`${describeSource(s, found.source, input.file)}: ${e.problem}; ${e.allowed}`);
    }
  }
}

function failOn(problems: string[], file?: string): void {
  if (problems.length === 0) return;
  throw new UserInputError({
    what: problems.length === 1 ? `Invalid setting` : `${problems.length} invalid settings`,
    why: problems.join('\n  '),
    fix: problems.some((p) => p.includes('(saved in '))
      ? `Pass the setting again with an allowed value (a flag beats what is saved), or correct it in ${file ?? 'the stack file'}.`
      : 'Pass an allowed value (each line says which) and run the command again.',
  });
}

function region(input: SettingsInput, draft: Draft, problems: string[]): void {
  const r = regionOf(input.flags, input.env, input.region);
  if (!r) return;
  if (r.from === '--region' || r.from === SETTINGS.region.env) {
    try {
      SETTINGS.region.parse(r.region);
    } catch (e) {
      if (!(e instanceof ValidationFailure)) throw e;
      problems.push(`${r.from}: ${e.problem}; ${e.allowed}`);
      return;
    }
  }
  draft.config.region = r.region;
  draft.sources.region = r.source;
}

/**
 * What the user gave (flag, environment, saved), parsed and checked, with where each came from;
 * nothing looked up, nothing defaulted. Throws a UserInputError naming every bad value. Used to
 * check the flags before any AWS call, and to know what is left for the stack's tags to show.
 */
export function givenSettings(input: Pick<SettingsInput, 'flags' | 'env' | 'saved' | 'file'>): { values: Readonly<Partial<StackConfig>>; sources: Readonly<Partial<Record<SettingKey, Source>>> } {
  const draft: Draft = { config: {}, sources: {}, notApplied: [] };
  const problems: string[] = [];
  givenLayer(input, draft, problems);
  region(input, draft, problems);
  failOn(problems, input.file);
  return deepFreeze({ values: draft.config as Partial<StackConfig>, sources: draft.sources });
}

/**
 * The one resolution. Every present value is validated, and all problems are reported together.
 * Settings without a value are left undefined (the caller asks or fails).
 */
export function resolveSettings(input: SettingsInput): ResolvedConfig {
  const draft: Draft = { config: {}, sources: {}, notApplied: [] };
  const problems: string[] = [];
  givenLayer(input, draft, problems);
  region(input, draft, problems);
  answerLayer(input, draft, problems);
  failOn(problems, input.file);
  for (const s of SETTING_LIST) {
    if (draft.sources[s.key] === undefined && s.default !== undefined) {
      draft.config[s.key] = s.default;
      draft.sources[s.key] = 'default';
    }
  }
  pickImageSource(draft);
  if (input.tagged) applyTagged(draft, input.tagged);
  if (input.built?.appImage && draft.sources.appImage === 'default') {
    draft.config.appImage = input.built.appImage;
    draft.sources.appImage = 'built';
  }
  settleShape(draft);
  return deepFreeze(draft as unknown as ResolvedConfig);
}

/** The wizard's answers: only for what was not given (the wizard asks nothing else). */
function answerLayer(input: SettingsInput, draft: Draft, problems: string[]): void {
  for (const [key, value] of Object.entries(input.answers ?? {}) as [SettingKey, string | number | boolean | null | undefined][]) {
    const s = SETTINGS[key];
    if (!s || value === undefined || draft.sources[key] !== undefined) continue;
    draft.sources[key] = 'prompt';
    if (value === null || value === '') {
      delete draft.config[key];
      continue;
    }
    try {
      draft.config[key] = (s as Setting).parse(String(value));
    } catch (e) {
      if (!(e instanceof ValidationFailure)) throw e;
      problems.push(`the answer to ${s.flagName}: ${e.problem}; ${e.allowed}`);
    }
  }
}

/**
 * Names the user did not give (they are defaults) but the stack's tagged resources have: used, so a
 * lost stack file or an older run's custom names still lead to the stack's resources. The shape
 * first (a tagged Auto Scaling group means the group topology, so a lost stack file never turns `up`
 * into "replace the group by one instance"), then the names, then the image the task runs.
 */
function applyTagged(d: Draft, t: TaggedFacts): void {
  const notGiven = (k: SettingKey) => d.sources[k] === 'default' || d.sources[k] === undefined;
  const use = (k: SettingKey, value: string | number | boolean | undefined) => {
    if (value === undefined || !notGiven(k) || value === d.config[k]) return;
    d.config[k] = value;
    d.sources[k] = 'tagged';
  };
  if (t.group) {
    use('instances', Math.max(1, t.group.size));
    use('loadBalancer', t.group.loadBalancer);
  }
  use('clusterName', onlyOne(t.clusters));
  use('serviceName', onlyOne(t.services?.filter((s) => s.cluster === d.config.clusterName).map((s) => s.name)));
  use('taskFamily', onlyOne(t.taskFamilies));
  use('logGroup', onlyOne(t.logGroups));
  use('securityGroupName', onlyOne(t.securityGroupNames));
  use('iamName', onlyOne(t.iamNames));
  // Neither --image nor --repo given: the logging image the stack's task definition runs is what it has.
  if (notGiven(IMAGE) && notGiven('imageRepo')) use(IMAGE, t.images?.[String(d.config.taskFamily)]);
}

/** The settings the stack's tags stood in for, as "key=value" (for --verbose). */
export function taggedText(r: ResolvedConfig): string[] {
  return TAGGED_KEYS.filter((k) => r.sources[k] === 'tagged').map((k) => `${k}=${String(r.config[k])}`);
}

/**
 * One-instance settings a group does not use. A *saved* subnet (a one-instance stack's, often the
 * wizard's answer) does not stop a move to a group: it is set aside for this run, named in
 * `notApplied` for the plan to show, and stays in the stack file, so `--instances 1` goes back to
 * that subnet. A subnet given now (flag or environment) with a group is the user's conflict, and
 * the group's network check refuses it before anything is written.
 */
function settleShape(d: Draft): void {
  const c = d.config as unknown as StackConfig;
  if (topologyOf(c) !== 'group') return;
  if (c.subnetId && d.sources.subnetId === 'saved') {
    d.notApplied.push({
      key: 'subnetId',
      flag: SETTINGS.subnetId.flagName,
      value: c.subnetId,
      why: 'an Auto Scaling group spreads its instances over a public subnet in each Availability Zone',
    });
    delete d.config.subnetId;
  }
}

/**
 * --image (run this image) and --repo (build and push to this repository) are two answers to one
 * question. Given at the same level (two flags), they conflict; otherwise the one given more
 * directly wins, so a flag always beats a saved answer to the other.
 */
function pickImageSource(d: Draft): void {
  const a = d.sources.image;
  const b = d.sources.imageRepo;
  if (!a || !b || a === 'cleared' || b === 'cleared') return;
  if (RANK[a] === RANK[b]) {
    if (a === 'saved') {
      delete d.config.image; // both saved (an older version): building wins, as it did then
      delete d.sources.image;
      return;
    }
    const how = a === 'env' ? `${SETTINGS.image.env} and ${SETTINGS.imageRepo.env}` : '--image and --repo (or --ecr)';
    throw new UserInputError({
      what: `Both ${how} are given`,
      why: '--image runs an image that is already pushed; --repo and --ecr build the image and push it there',
      fix: 'Pass one of them.',
    });
  }
  const drop: SettingKey = RANK[a] > RANK[b] ? 'imageRepo' : IMAGE;
  delete d.config[drop];
  delete d.sources[drop];
}

function pick(s: Setting, input: SettingsInput): { value: string | number; source: Source } | undefined {
  const flag = input.flags[s.key];
  if (flag !== undefined && flag !== '') return { value: flag, source: 'flag' };
  const env = input.env[s.env];
  if (env !== undefined && env !== '') return { value: env, source: 'env' };
  const saved = input.saved?.[s.key];
  if (saved !== undefined && saved !== '') return { value: typeof saved === 'boolean' ? String(saved) : saved, source: 'saved' };
  return undefined;
}

function describeSource(s: Setting, source: Source, file?: string): string {
  switch (source) {
    case 'env':
      return s.env;
    case 'saved':
      return `${s.flagName} (saved in ${file ?? 'the stack file'})`;
    default:
      return s.flagName;
  }
}

function deepFreeze<T>(x: T): T {
  if (typeof x === 'object' && x !== null && !Object.isFrozen(x)) {
    Object.freeze(x);
    for (const v of Object.values(x)) deepFreeze(v);
  }
  return x;
}
