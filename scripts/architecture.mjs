#!/usr/bin/env node
// The architecture's pictures, generated from the code, and the layering guard (docs/architecture.md).
//
//   node scripts/architecture.mjs            writes docs/architecture-layers.svg and docs/architecture-steps.svg
//   node scripts/architecture.mjs --check    regenerates them in memory; exits 1 when a committed picture is
//                                            stale, when an import goes up (or sideways) across LAYERS, or
//                                            when src/ has an import cycle (type-only imports included)
//   --root DIR                               another tree with the same layout (the tests' tiny copies)
//
// The imports are read with the TypeScript compiler's parser (import, export ... from, import type,
// import('...') calls and types), so nothing hides in a string a regex would miss. The steps are read
// from the built modules (dist/src/steps/*.js): every exported object, or object in an exported list,
// that looks like a step (an `id`, a `dependsOn` list, a `read`, `plan` or `apply` function). Build
// first (`npm run build`; `npm ci` builds too).
// Output is deterministic: everything sorted, no timestamps.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The floors of src/, bottom first. A folder may import only from folders on a lower floor: an import
 * to its own floor or above is a layering error. Every folder of src/ must be on a floor.
 */
export const LAYERS = [
  ['core'],
  ['aws', 'io', 'docker'],
  ['logs', 'engine', 'sandbox'],
  ['steps'],
  ['cli'],
];

/**
 * Known exceptions, to be emptied once the branches of issue 20 that remove them are merged. Each entry
 * is an import cycle (its files, relative to the root, sorted) that --check reports but lets pass. An
 * entry that no longer matches a cycle exactly fails the check too, so the list cannot go stale.
 * Only applies to this repository (not to a tree given with --root).
 */
export const KNOWN_EXCEPTIONS = [];

const OUTPUTS = { layers: 'docs/architecture-layers.svg', steps: 'docs/architecture-steps.svg' };

// ---------------------------------------------------------------------------------------------------
// Reading the imports

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : []))
    .sort();
}

/** Every module specifier of a file, with whether it is only types. */
function specifiers(file) {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out = [];
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      let typeOnly = ts.isImportDeclaration(node) ? Boolean(node.importClause?.isTypeOnly) : node.isTypeOnly;
      const named = ts.isImportDeclaration(node) ? node.importClause?.namedBindings : node.exportClause;
      if (!typeOnly && ts.isImportDeclaration(node) && node.importClause && !node.importClause.name && named && ts.isNamedImports(named)) {
        typeOnly = named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      }
      if (!typeOnly && ts.isExportDeclaration(node) && named && ts.isNamedExports(named)) {
        typeOnly = named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      }
      out.push({ spec: node.moduleSpecifier.text, typeOnly });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push({ spec: node.argument.literal.text, typeOnly: true });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0])) {
      out.push({ spec: node.arguments[0].text, typeOnly: false });
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      out.push({ spec: node.moduleReference.expression.text, typeOnly: node.isTypeOnly });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

function resolveSpec(from, spec) {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(dirname(from), spec);
  for (const c of [base.replace(/\.m?js$/, '.ts'), `${base}.ts`, join(base, 'index.ts'), base]) {
    if (c.endsWith('.ts') && existsSync(c)) return c;
  }
  return undefined;
}

/** The file graph of src/: [{ from, to, typeOnly }] with paths relative to the root, sorted. */
function readImports(root) {
  const src = join(root, 'src');
  if (!existsSync(src)) throw new Error(`architecture: no src/ in ${root}`);
  const files = walk(src);
  const edges = [];
  for (const f of files) {
    for (const { spec, typeOnly } of specifiers(f)) {
      const t = resolveSpec(f, spec);
      if (!t || t === f || !t.startsWith(src + sep)) continue;
      edges.push({ from: rel(root, f), to: rel(root, t), typeOnly });
    }
  }
  edges.sort((a, b) => cmp(a.from, b.from) || cmp(a.to, b.to) || Number(a.typeOnly) - Number(b.typeOnly));
  return { files: files.map((f) => rel(root, f)), edges };
}

const rel = (root, f) => relative(root, f).split(sep).join('/');
const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const folderOf = (file) => file.split('/')[1];

/** Strongly connected components of more than one file (Tarjan), each sorted, sorted by first file. */
function cycles(files, edges) {
  const next = new Map(files.map((f) => [f, []]));
  for (const e of edges) next.get(e.from).push(e.to);
  const index = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const out = [];
  let n = 0;
  const visit = (v) => {
    index.set(v, n);
    low.set(v, n++);
    stack.push(v);
    on.add(v);
    for (const w of next.get(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return out.sort((a, b) => cmp(a[0], b[0]));
}

function analyse(root) {
  const { files, edges } = readImports(root);
  const floor = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i])));
  const problems = [];
  const folders = [...new Set(files.map(folderOf))].sort();
  for (const f of folders) {
    if (!floor.has(f)) problems.push(`src/${f}/ is on no floor: add it to LAYERS in scripts/architecture.mjs, above what it imports and below what imports it`);
  }
  const upward = edges.filter((e) => folderOf(e.from) !== folderOf(e.to) && floor.has(folderOf(e.from)) && floor.has(folderOf(e.to)) && floor.get(folderOf(e.to)) >= floor.get(folderOf(e.from)));
  for (const e of upward) {
    const [a, b] = [folderOf(e.from), folderOf(e.to)];
    const how = floor.get(b) > floor.get(a) ? 'up a floor' : 'sideways, on its own floor';
    problems.push(`${e.from} imports ${e.to}${e.typeOnly ? ' (type only)' : ''}: ${a}/ may not import ${b}/ (${how}; LAYERS in scripts/architecture.mjs)`);
  }
  const exceptions = resolve(root) === REPO ? KNOWN_EXCEPTIONS : [];
  const found = cycles(files, edges);
  const excused = [];
  for (const c of found) {
    const known = exceptions.some((x) => x.cycle.join('\n') === c.join('\n'));
    if (known) excused.push(`known exception (KNOWN_EXCEPTIONS): import cycle of ${c.length} files: ${c.join(', ')}`);
    else problems.push(`import cycle of ${c.length} files: ${c.join(', ')}`);
  }
  for (const x of exceptions) {
    if (!found.some((c) => c.join('\n') === x.cycle.join('\n'))) {
      problems.push(`KNOWN_EXCEPTIONS lists a cycle that no longer exists as listed (${x.cycle.join(', ')}): remove it from scripts/architecture.mjs`);
    }
  }
  return { files, edges, floor, folders, found, problems, excused };
}

// ---------------------------------------------------------------------------------------------------
// Reading the steps (from the build)

/** A step, as declared or as built: an id, its dependencies (a list, or none), and its behaviour. */
const isStep = (v) =>
  typeof v === 'object' &&
  v !== null &&
  typeof v.id === 'string' &&
  (Array.isArray(v.dependsOn) || v.dependsOn === undefined) &&
  (v.after === undefined || Array.isArray(v.after)) &&
  ['read', 'plan', 'apply'].some((m) => typeof v[m] === 'function');

async function readSteps(root) {
  const dir = join(root, 'dist', 'src', 'steps');
  if (!existsSync(dir)) throw new Error(`architecture: no ${rel(root, dir)}/: build first (npx tsc -p tsconfig.json, or npm run build)`);
  const byId = new Map();
  const modules = readdirSync(dir).filter((f) => f.endsWith('.js')).sort();
  for (const m of modules) {
    const mod = await import(pathToFileURL(join(dir, m)).href);
    for (const name of Object.keys(mod).sort()) {
      const values = Array.isArray(mod[name]) ? mod[name] : [mod[name]];
      for (const s of values.filter(isStep)) {
        const step = {
          id: s.id,
          title: typeof s.title === 'string' ? s.title : s.id,
          dependsOn: [...(s.dependsOn ?? [])].map(String).sort(),
          after: Array.isArray(s.after) ? [...s.after].map(String).sort() : [],
          shapes: Array.isArray(s.shapes) && s.shapes.every((x) => typeof x === 'string') ? [...s.shapes].sort() : undefined,
        };
        const seen = byId.get(s.id);
        if (seen && JSON.stringify(seen) !== JSON.stringify(step)) {
          throw new Error(`architecture: two different declarations of step ${s.id} (in dist/src/steps/${m}, export ${name}): ${JSON.stringify(seen)} vs ${JSON.stringify(step)}`);
        }
        byId.set(s.id, step);
      }
    }
  }
  if (byId.size === 0) throw new Error(`architecture: no step found in ${rel(root, dir)}/*.js (an exported object with an id, a dependsOn list and read, plan or apply): has the step declaration changed? Update isStep in scripts/architecture.mjs`);
  const steps = [...byId.values()].sort((a, b) => cmp(a.id, b.id));
  for (const s of steps) {
    for (const d of [...s.dependsOn, ...s.after]) if (!byId.has(d)) throw new Error(`architecture: step ${s.id} depends on ${d}, which no step declares`);
  }
  // Before the steps declare their shapes, the topology's table says which shape runs which step.
  if (steps.every((s) => !s.shapes)) {
    const topo = join(root, 'dist', 'src', 'core', 'topology.js');
    const table = existsSync(topo) ? (await import(pathToFileURL(topo).href)).TOPOLOGY_STEPS : undefined;
    if (table && typeof table === 'object') {
      for (const s of steps) s.shapes = Object.keys(table).filter((k) => Array.isArray(table[k]) && table[k].includes(s.id)).sort();
    }
  }
  return steps;
}

// ---------------------------------------------------------------------------------------------------
// SVG

const RED = '#c62828';
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const textWidth = (s, size) => Math.ceil(s.length * size * 0.6);
const r1 = (x) => Math.round(x * 10) / 10;

function svgOpen(w, h, title) {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
    `<title>${esc(title)}</title>`,
    '<defs>',
    '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#455a64"/></marker>',
    `<marker id="arrow-red" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${RED}"/></marker>`,
    '</defs>',
    `<rect x="0" y="0" width="${w}" height="${h}" fill="#ffffff"/>`,
  ];
}

/** (a) the layers: folders as boxes on floors, arrows for imports between folders. */
function layersSvg(a) {
  const W = 1000;
  const FLOOR_H = 120;
  const BOX_H = 46;
  const TOP = 50;
  const floors = LAYERS.map((names) => names.filter((n) => a.folders.includes(n)));
  const unplaced = a.folders.filter((f) => !a.floor.has(f));
  if (unplaced.length) floors.push(unplaced); // drawn on top, in red, until LAYERS places them
  const H = TOP + floors.length * FLOOR_H + 44;
  const box = new Map();
  floors.forEach((names, i) => {
    const y = TOP + (floors.length - 1 - i) * FLOOR_H + (FLOOR_H - BOX_H) / 2;
    const bw = names.length === 1 && (i === 0 || i === floors.length - 1) ? 320 : 150;
    const gap = (W - 120 - names.length * bw) / (names.length + 1);
    names.forEach((n, j) => box.set(n, { x: 110 + gap + j * (bw + gap), y, w: bw, h: BOX_H, floor: i }));
  });
  // Imports between folders, counted; red when they go up or sideways, or when both directions exist.
  const pairs = new Map();
  for (const e of a.edges) {
    const [f, t] = [folderOf(e.from), folderOf(e.to)];
    if (f === t) continue;
    const k = `${f}\n${t}`;
    const p = pairs.get(k) ?? { from: f, to: t, n: 0, types: 0 };
    p.n++;
    if (e.typeOnly) p.types++;
    pairs.set(k, p);
  }
  const list = [...pairs.values()].sort((p, q) => cmp(p.from, q.from) || cmp(p.to, q.to));
  const floorOf = (f) => (a.floor.has(f) ? a.floor.get(f) : LAYERS.length);
  // Ports: spread each box's outgoing arrows along its bottom and incoming ones along its top, by the other end's x.
  const outs = new Map();
  const ins = new Map();
  for (const p of list) {
    (outs.get(p.from) ?? outs.set(p.from, []).get(p.from)).push(p);
    (ins.get(p.to) ?? ins.set(p.to, []).get(p.to)).push(p);
  }
  const port = (name, group, other) => {
    const b = box.get(name);
    const g = [...group].sort((p, q) => box.get(other(p)).x - box.get(other(q)).x || cmp(other(p), other(q)));
    return (p) => b.x + ((g.indexOf(p) + 1) * b.w) / (g.length + 1);
  };
  const lines = svgOpen(W, H, 'ecs-cwlogs: the layers of src/ and the imports between them');
  lines.push(`<text x="20" y="28" font-size="16" font-weight="bold">src/ by floor: a folder imports only from the floors below (an arrow: imports; dashed: types only)</text>`);
  floors.forEach((names, i) => {
    const y = TOP + (floors.length - 1 - i) * FLOOR_H;
    const extra = i >= LAYERS.length;
    lines.push(`<rect x="10" y="${y + 4}" width="${W - 20}" height="${FLOOR_H - 8}" rx="6" fill="${i % 2 ? '#f5f7f8' : '#eef2f4'}"${extra ? ` stroke="${RED}"` : ''}/>`);
    lines.push(`<text x="22" y="${y + FLOOR_H / 2 + 5}" fill="${extra ? RED : '#607d8b'}" font-size="12">${extra ? 'no floor' : `floor ${i}`}</text>`);
  });
  const arrows = [];
  for (const p of list) {
    const s = box.get(p.from);
    const t = box.get(p.to);
    const bad = floorOf(p.to) >= floorOf(p.from) || pairs.has(`${p.to}\n${p.from}`);
    const down = s.y < t.y;
    const x1 = down ? port(p.from, outs.get(p.from), (q) => q.to)(p) : port(p.from, outs.get(p.from), (q) => q.to)(p);
    const x2 = port(p.to, ins.get(p.to), (q) => q.from)(p);
    const y1 = down ? s.y + s.h : s.y;
    const y2 = down ? t.y : t.y + t.h;
    let d;
    if (s.floor === t.floor) {
      const yy = s.y - 28;
      d = `M${r1(x1)},${r1(s.y)} C${r1(x1)},${yy} ${r1(x2)},${yy} ${r1(x2)},${r1(t.y)}`;
    } else {
      // Through the gaps between the boxes of the floors in between, not behind them.
      const pts = [[x1, y1]];
      const step = down ? -1 : 1;
      for (let f = s.floor + step; f !== t.floor; f += step) {
        const row = floors[f].map((n) => box.get(n)).sort((p, q) => p.x - q.x);
        const y = row.length ? row[0].y + BOX_H / 2 : TOP + (floors.length - 1 - f) * FLOOR_H + FLOOR_H / 2;
        const want = x1 + ((x2 - x1) * (y - y1)) / (y2 - y1);
        const gaps = [];
        let left = 100;
        for (const b of row) {
          gaps.push([left + 12, b.x - 12]);
          left = b.x + b.w;
        }
        gaps.push([left + 12, W - 30]);
        const candidates = gaps.filter(([g0, g1]) => g1 > g0).map(([g0, g1]) => Math.min(g1, Math.max(g0, want)));
        const x = candidates.sort((p, q) => Math.abs(p - want) - Math.abs(q - want) || p - q)[0] ?? want;
        pts.push([x, y]);
      }
      pts.push([x2, y2]);
      d = `M${r1(pts[0][0])},${r1(pts[0][1])}`;
      for (let i = 1; i < pts.length; i++) {
        const [[px, py], [qx, qy]] = [pts[i - 1], pts[i]];
        const my = (py + qy) / 2;
        d += ` C${r1(px)},${r1(my)} ${r1(qx)},${r1(my)} ${r1(qx)},${r1(qy)}`;
      }
    }
    const color = bad ? RED : '#455a64';
    const dash = p.types === p.n ? ' stroke-dasharray="5,4"' : '';
    arrows.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="${bad ? 2.2 : 1.2}" stroke-opacity="${bad ? 1 : 0.75}"${dash} marker-end="url(#${bad ? 'arrow-red' : 'arrow'})"><title>${esc(`${p.from}/ imports ${p.to}/${p.types === p.n ? ' (types only)' : ''}${bad ? ': against the layers' : ''}`)}</title></path>`);
  }
  lines.push(...arrows);
  const cyclesIn = new Map();
  for (const c of a.found) for (const f of new Set(c.map(folderOf))) cyclesIn.set(f, (cyclesIn.get(f) ?? 0) + 1);
  for (const [name, b] of [...box.entries()].sort((p, q) => cmp(p[0], q[0]))) {
    const cyc = cyclesIn.get(name) ?? 0;
    const bad = cyc > 0 || !a.floor.has(name);
    lines.push(`<rect x="${r1(b.x)}" y="${b.y}" width="${b.w}" height="${b.h}" rx="5" fill="#ffffff" stroke="${bad ? RED : '#37474f'}" stroke-width="${bad ? 2.5 : 1.5}"/>`);
    lines.push(`<text x="${r1(b.x + b.w / 2)}" y="${b.y + (cyc ? 20 : 28)}" text-anchor="middle" font-weight="bold">${esc(name)}/</text>`);
    if (cyc) lines.push(`<text x="${r1(b.x + b.w / 2)}" y="${b.y + 36}" text-anchor="middle" font-size="11" fill="${RED}">${cyc} import cycle${cyc > 1 ? 's' : ''} in its files</text>`);
  }
  lines.push(`<text x="20" y="${H - 26}" font-size="11" fill="#607d8b">Generated by scripts/architecture.mjs from the imports of src/ (type-only included). It changes only when which folder imports which does.</text>`);
  lines.push(`<text x="20" y="${H - 11}" font-size="11" fill="#607d8b">Red: an import up a floor or sideways, two folders importing each other, or a folder with an import cycle among its files.</text>`);
  lines.push('</svg>');
  return lines.join('\n') + '\n';
}

/** (b) the steps' graph: each step, its dependsOn (solid) and after (dashed) edges. */
function stepsSvg(steps) {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const deps = (s) => [...s.dependsOn, ...s.after];
  const rank = new Map();
  const visiting = new Set();
  const rankOf = (id) => {
    if (rank.has(id)) return rank.get(id);
    if (visiting.has(id)) throw new Error(`architecture: the steps' graph has a cycle through ${id}`);
    visiting.add(id);
    const s = byId.get(id);
    const r = deps(s).length ? Math.max(...deps(s).map(rankOf)) + 1 : 0;
    visiting.delete(id);
    rank.set(id, r);
    return r;
  };
  steps.forEach((s) => rankOf(s.id));
  const cols = [];
  for (const s of steps) (cols[rank.get(s.id)] ??= []).push(s.id);
  // Order each column by the mean position of its dependencies (a few sweeps; ties by id).
  const pos = new Map();
  cols.forEach((c) => c.sort(cmp).forEach((id, i) => pos.set(id, i)));
  for (let sweep = 0; sweep < 4; sweep++) {
    for (let r = 1; r < cols.length; r++) {
      const key = (id) => {
        const d = deps(byId.get(id));
        return d.length ? d.reduce((acc, x) => acc + pos.get(x), 0) / d.length : pos.get(id);
      };
      cols[r].sort((p, q) => key(p) - key(q) || cmp(p, q)).forEach((id, i) => pos.set(id, i));
    }
  }
  const BW = 150;
  const BH = 48;
  const CW = 200;
  const RH = 86;
  const TOP = 56;
  const rows = Math.max(...cols.map((c) => c.length));
  const W = 40 + cols.length * CW;
  const H = TOP + rows * RH + 60;
  const at = new Map();
  cols.forEach((c, r) => {
    const off = ((rows - c.length) * RH) / 2;
    c.forEach((id, i) => at.set(id, { x: 30 + r * CW, y: TOP + off + i * RH }));
  });
  // A step of 'group' runs in every group, the ALB's too ('group-with-alb' is the narrower one).
  const runs = (s) => [...new Set((s.shapes ?? []).flatMap((x) => (x === 'group' ? ['group', 'group-with-alb'] : [x])))].sort();
  const shapeNames = [...new Set(steps.flatMap(runs))].sort();
  const fill = (s) => {
    if (!s.shapes || shapeNames.length < 2 || runs(s).length === shapeNames.length) return '#ffffff';
    return ['#e3f2fd', '#fff3e0', '#e8f5e9', '#fce4ec'][shapeNames.indexOf(s.shapes[0]) % 4];
  };
  const lines = svgOpen(W, H, "ecs-cwlogs: the steps and their dependencies");
  lines.push(`<text x="20" y="28" font-size="16" font-weight="bold">The steps: an arrow goes from a step to one that waits for it (solid: dependsOn; dashed: after, when both are in the run)</text>`);
  const edges = [];
  for (const s of steps) {
    for (const d of s.dependsOn) edges.push({ from: d, to: s.id, after: false });
    for (const d of s.after) edges.push({ from: d, to: s.id, after: true });
  }
  edges.sort((p, q) => cmp(p.from, q.from) || cmp(p.to, q.to) || Number(p.after) - Number(q.after));
  // Ports: each box's outgoing edges spread down its right side, incoming ones down its left, by the other end's row.
  const spread = (group, other) => {
    const g = [...group].sort((p, q) => at.get(other(p)).y - at.get(other(q)).y || at.get(other(p)).x - at.get(other(q)).x || cmp(other(p), other(q)));
    return (e) => ((g.indexOf(e) + 1) * BH) / (g.length + 1);
  };
  for (const e of edges) {
    const a = at.get(e.from);
    const b = at.get(e.to);
    const x1 = a.x + BW;
    const y1 = a.y + spread(edges.filter((x) => x.from === e.from), (x) => x.to)(e);
    const x2 = b.x;
    const y2 = b.y + spread(edges.filter((x) => x.to === e.to), (x) => x.from)(e);
    // Through the gaps between the boxes of the columns in between, not behind them.
    const pts = [[x1, y1]];
    for (let r = rank.get(e.from) + 1; r < rank.get(e.to); r++) {
      const x = 30 + r * CW + BW / 2;
      const want = y1 + ((y2 - y1) * (x - x1)) / (x2 - x1);
      const row = cols[r].map((id) => at.get(id)).sort((p, q) => p.y - q.y);
      const gaps = [];
      let top = TOP - 30;
      for (const box of row) {
        gaps.push([top + 6, box.y - 6]);
        top = box.y + BH;
      }
      gaps.push([top + 6, H - 40]);
      const ys = gaps.filter(([g0, g1]) => g1 > g0).map(([g0, g1]) => Math.min(g1, Math.max(g0, want)));
      pts.push([x - BW / 2 - 10, ys.sort((p, q) => Math.abs(p - want) - Math.abs(q - want) || p - q)[0] ?? want]);
      pts.push([x + BW / 2 + 10, pts[pts.length - 1][1]]);
    }
    pts.push([x2, y2]);
    let d = `M${r1(x1)},${r1(y1)}`;
    for (let i = 1; i < pts.length; i++) {
      const [[px, py], [qx, qy]] = [pts[i - 1], pts[i]];
      if (py === qy) d += ` L${r1(qx)},${r1(qy)}`;
      else {
        const mx = (px + qx) / 2;
        d += ` C${r1(mx)},${r1(py)} ${r1(mx)},${r1(qy)} ${r1(qx)},${r1(qy)}`;
      }
    }
    lines.push(`<path d="${d}" fill="none" stroke="#455a64" stroke-width="1.3" stroke-opacity="0.8"${e.after ? ' stroke-dasharray="5,4"' : ''} marker-end="url(#arrow)"><title>${esc(`${e.to} ${e.after ? 'after' : 'dependsOn'} ${e.from}`)}</title></path>`);
  }
  for (const s of [...steps].sort((p, q) => cmp(p.id, q.id))) {
    const { x, y } = at.get(s.id);
    lines.push(`<rect x="${x}" y="${r1(y)}" width="${BW}" height="${BH}" rx="5" fill="${fill(s)}" stroke="#37474f" stroke-width="1.5"><title>${esc(s.title)}</title></rect>`);
    lines.push(`<text x="${x + BW / 2}" y="${r1(y + 20)}" text-anchor="middle" font-weight="bold">${esc(s.id)}</text>`);
    if (s.shapes) lines.push(`<text x="${x + BW / 2}" y="${r1(y + 37)}" text-anchor="middle" font-size="11" fill="#607d8b">${esc(s.shapes.join(' · ') || 'no shape')}</text>`);
  }
  const legend = shapeNames.length ? ` Under each step: the shapes that run it (${shapeNames.join(', ')}); white: every shape.` : '';
  lines.push(`<text x="20" y="${H - 14}" font-size="11" fill="#607d8b">${esc(`Generated by scripts/architecture.mjs from the built steps (dist/src/steps/*.js).${legend}`)}</text>`);
  lines.push('</svg>');
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------

function firstDifference(a, b) {
  const x = a.split('\n');
  const y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] !== y[i]) {
      const [p, q] = [x[i] ?? '', y[i] ?? ''];
      let c = 0;
      while (c < p.length && p[c] === q[c]) c++;
      const around = (t) => (t === undefined ? '(no such line)' : JSON.stringify(`${c > 40 ? '…' : ''}${t.slice(Math.max(0, c - 40), c + 80)}`));
      return `line ${i + 1}: committed ${around(x[i])}, generated ${around(y[i])}`;
    }
  }
  return 'identical';
}

async function main(argv) {
  const check = argv.includes('--check');
  const r = argv.indexOf('--root');
  const root = resolve(r >= 0 ? argv[r + 1] ?? '.' : REPO);
  const unknown = argv.filter((x, i) => x !== '--check' && !(r >= 0 && (i === r || i === r + 1)));
  if (unknown.length) {
    console.error(`architecture: unknown argument ${unknown[0]}: usage: node scripts/architecture.mjs [--check] [--root DIR]`);
    return 2;
  }
  const a = analyse(root);
  const steps = await readSteps(root);
  const pictures = { [OUTPUTS.layers]: layersSvg(a), [OUTPUTS.steps]: stepsSvg(steps) };
  for (const x of a.excused) console.error(`architecture: ${x}`);
  if (!check) {
    for (const [file, text] of Object.entries(pictures)) {
      mkdirSync(dirname(join(root, file)), { recursive: true });
      writeFileSync(join(root, file), text);
      console.error(`architecture: wrote ${file}`);
    }
    for (const p of a.problems) console.error(`architecture: ${p}`);
    return 0;
  }
  const problems = [...a.problems];
  for (const [file, text] of Object.entries(pictures)) {
    const path = join(root, file);
    const committed = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (committed === undefined) problems.push(`${file} is missing: run node scripts/architecture.mjs and commit it`);
    else if (committed !== text) problems.push(`${file} is stale (${firstDifference(committed, text)}): run node scripts/architecture.mjs and commit it`);
  }
  for (const p of problems) console.error(`architecture: ${p}`);
  if (problems.length) return 1;
  console.error(`architecture: ${a.files.length} files, ${a.edges.length} imports, ${steps.length} steps: the layers hold, no import cycle${a.excused.length ? ` beyond ${a.excused.length} known exception${a.excused.length > 1 ? 's' : ''}` : ''}, the pictures are current`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2)).catch((e) => {
  console.error(e instanceof Error && e.message.startsWith('architecture:') ? e.message : e);
  return 1;
});
