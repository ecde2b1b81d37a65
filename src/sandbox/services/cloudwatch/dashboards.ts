/**
 * Dashboards: PutDashboard (with the body's validation), GetDashboard, ListDashboards,
 * DeleteDashboards. Dashboards are global: their ARN has no region (arn:aws:cloudwatch::ACCOUNT:
 * dashboard/NAME, API_TagResource), and every region's endpoint sees the same ones.
 *
 * Validation follows the "Dashboard Body Structure and Syntax" reference (CloudWatch API reference):
 * the body is a JSON object with a `widgets` array; a widget has a `type` (metric, text, log, alarm,
 * explorer, custom), `properties`, and integer x (0-23), y (>= 0), width (1-24), height (1-1000);
 * a metric widget needs properties.region and metrics (or an alarm annotation); a log widget needs
 * properties.query and region; a text widget needs properties.markdown; an alarm widget needs
 * properties.alarms. Errors come back as DashboardInvalidInputError (Query code
 * InvalidParameterInput) with one DashboardValidationMessage per problem (DataPath, Message), and
 * nothing is saved.
 */
import {
  DeleteDashboardsInput$,
  GetDashboardInput$,
  ListDashboardsInput$,
  PutDashboardInput$,
  type DeleteDashboardsInput,
  type DeleteDashboardsOutput,
  type GetDashboardInput,
  type GetDashboardOutput,
  type ListDashboardsInput,
  type ListDashboardsOutput,
  type PutDashboardInput,
  type PutDashboardOutput,
} from '@aws-sdk/client-cloudwatch';
import type { Operation } from '../../types.js';
import { arrayToTagMap } from '../util.js';
import { cwOperation, cwState, dashboardArn, dashboardInvalid, dashboardNotFound, invalidParameterValue, missingParameter, page, type ValidationMessage } from './common.js';

const NAME = /^[A-Za-z0-9_-]{1,255}$/;
const WIDGET_TYPES = ['metric', 'text', 'log', 'alarm', 'explorer', 'custom'];
/** A dashboard holds at most 500 widgets (CloudWatch service quotas, "Dashboards"). */
const MAX_WIDGETS = 500;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function validateDashboardBody(body: string): ValidationMessage[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return [{ DataPath: '', Message: 'The field DashboardBody must be a valid JSON object' }];
  }
  if (!isObject(doc)) return [{ DataPath: '', Message: 'Should be object' }];
  const out: ValidationMessage[] = [];
  const widgets = doc.widgets;
  if (widgets === undefined) return [{ DataPath: '', Message: "Should have required property 'widgets'" }];
  if (!Array.isArray(widgets)) return [{ DataPath: '/widgets', Message: 'Should be array' }];
  if (widgets.length > MAX_WIDGETS) out.push({ DataPath: '/widgets', Message: `Should NOT have more than ${MAX_WIDGETS} items` });
  widgets.forEach((w, i) => {
    const path = `/widgets/${i}`;
    if (!isObject(w)) return out.push({ DataPath: path, Message: 'Should be object' });
    if (w.type === undefined) out.push({ DataPath: path, Message: "Should have required property 'type'" });
    else if (typeof w.type !== 'string' || !WIDGET_TYPES.includes(w.type)) out.push({ DataPath: `${path}/type`, Message: `Should be equal to one of the allowed values: ${WIDGET_TYPES.join(', ')}` });
    const bounds: [string, number, number][] = [
      ['x', 0, 23],
      ['y', 0, Number.MAX_SAFE_INTEGER],
      ['width', 1, 24],
      ['height', 1, 1000],
    ];
    for (const [k, min, max] of bounds) {
      const v = w[k];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isInteger(v)) out.push({ DataPath: `${path}/${k}`, Message: 'Should be integer' });
      else if (v < min) out.push({ DataPath: `${path}/${k}`, Message: `Should be >= ${min}` });
      else if (v > max) out.push({ DataPath: `${path}/${k}`, Message: `Should be <= ${max}` });
    }
    const props = w.properties;
    if (props === undefined) return out.push({ DataPath: path, Message: "Should have required property 'properties'" });
    if (!isObject(props)) return out.push({ DataPath: `${path}/properties`, Message: 'Should be object' });
    const need = (k: string) => props[k] === undefined && out.push({ DataPath: `${path}/properties`, Message: `Should have required property '${k}'` });
    if (w.type === 'metric') {
      need('region');
      if (props.metrics === undefined && props.annotations === undefined) need('metrics');
      if (props.metrics !== undefined && !Array.isArray(props.metrics)) out.push({ DataPath: `${path}/properties/metrics`, Message: 'Should be array' });
      if (Array.isArray(props.metrics)) {
        props.metrics.forEach((m, j) => {
          if (!Array.isArray(m)) out.push({ DataPath: `${path}/properties/metrics/${j}`, Message: 'Should be array' });
        });
      }
    } else if (w.type === 'log') {
      need('query');
      need('region');
    } else if (w.type === 'text') {
      need('markdown');
    } else if (w.type === 'alarm') {
      need('alarms');
    }
  });
  return out;
}

function validDashboardName(name: string | undefined): string {
  if (!name) throw missingParameter('DashboardName');
  if (!NAME.test(name)) {
    throw invalidParameterValue('The value for field DashboardName contains invalid characters. It can only contain alphanumerics, dash (-) and underscore (_).');
  }
  return name;
}

const putDashboard = cwOperation<PutDashboardInput, PutDashboardOutput>(true, PutDashboardInput$, (p, { world, now }) => {
  const name = validDashboardName(p.DashboardName);
  if (p.DashboardBody === undefined) throw missingParameter('DashboardBody');
  const messages = validateDashboardBody(p.DashboardBody);
  if (messages.length) throw dashboardInvalid(messages);
  const state = cwState(world);
  const existing = state.dashboards[name];
  state.dashboards[name] = {
    name,
    arn: dashboardArn(world, name),
    body: p.DashboardBody,
    lastModified: now,
    // "If you specify Tags when updating an existing dashboard, the tag updates are ignored" (API_PutDashboard).
    tags: existing ? existing.tags : arrayToTagMap(p.Tags ?? []),
  };
  return { DashboardValidationMessages: [] };
});

const getDashboard = cwOperation<GetDashboardInput, GetDashboardOutput>(false, GetDashboardInput$, (p, { world }) => {
  if (!p.DashboardName) throw missingParameter('DashboardName');
  const d = cwState(world).dashboards[p.DashboardName];
  if (!d) throw dashboardNotFound(`Dashboard ${p.DashboardName} does not exist`);
  return { DashboardArn: d.arn, DashboardBody: d.body, DashboardName: d.name };
});

const listDashboards = cwOperation<ListDashboardsInput, ListDashboardsOutput>(false, ListDashboardsInput$, (p, { world }) => {
  const entries = Object.values(cwState(world).dashboards)
    .filter((d) => !p.DashboardNamePrefix || d.name.startsWith(p.DashboardNamePrefix))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((d) => ({ DashboardName: d.name, DashboardArn: d.arn, LastModified: new Date(d.lastModified), Size: Buffer.byteLength(d.body) }));
  // "ListDashboards returns up to 1000 results on one page" (API_ListDashboards).
  const pg = page(entries, p.NextToken, 1000);
  return { DashboardEntries: pg.items, NextToken: pg.next };
});

const deleteDashboards = cwOperation<DeleteDashboardsInput, DeleteDashboardsOutput>(true, DeleteDashboardsInput$, (p, { world }) => {
  const names = p.DashboardNames ?? [];
  if (names.length === 0) throw missingParameter('DashboardNames');
  const state = cwState(world);
  // "If you specify a dashboard that does not exist, no dashboards are deleted" (API_DeleteDashboards, DashboardNotFoundError).
  const missing = names.filter((n) => !state.dashboards[n]);
  if (missing.length) throw dashboardNotFound(`Dashboard${missing.length === 1 ? '' : 's'} ${missing.join(', ')} ${missing.length === 1 ? 'does' : 'do'} not exist`);
  for (const n of names) delete state.dashboards[n];
  return {};
});

export const dashboardOperations: Record<string, Operation> = {
  PutDashboard: putDashboard,
  GetDashboard: getDashboard,
  ListDashboards: listDashboards,
  DeleteDashboards: deleteDashboards,
};
