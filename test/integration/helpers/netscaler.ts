/**
 * A small reader of NetScaler CLI lines, enough to check a recipe: which objects the `add` lines
 * define, which names the other lines use, and every parameter's values. It knows only the commands
 * the README recipe uses; any other line is reported, so a new command gets taught here first.
 */

export interface NsObject {
  type: string;
  name: string;
  /** Words after the name before the first `-param`, e.g. `RADIUS 10.0.0.60 1812`. */
  positional: string[];
  params: Map<string, string>;
}

interface Reference {
  line: string;
  /** Who refers, for the message. */
  from: string;
  param: string;
  types: string[];
  name: string;
}

export interface NsConfig {
  objects: Map<string, NsObject>;
  references: Reference[];
  problems: string[];
}

/** `add <words> NAME …` defines an object of this type. */
const ADD: Record<string, string> = {
  'add lb monitor': 'lb monitor',
  'add server': 'server',
  'add serviceGroup': 'serviceGroup',
  'add lb vserver': 'lb vserver',
  'add authentication radiusAction': 'radiusAction',
  'add authentication Policy': 'authentication Policy',
  'add authentication loginSchema': 'loginSchema',
  'add authentication loginSchemaPolicy': 'loginSchemaPolicy',
  'add authentication vserver': 'authentication vserver',
  'add authentication authnProfile': 'authnProfile',
};

/** `bind|set <words> NAME …`: the object the line works on. */
const TARGET: Record<string, string> = {
  'bind serviceGroup': 'serviceGroup',
  'bind lb vserver': 'lb vserver',
  'bind authentication vserver': 'authentication vserver',
  'bind vpn vserver': 'vpn vserver',
  'set vpn vserver': 'vpn vserver',
  'set authentication radiusAction': 'radiusAction',
};

/** What a `-param NAME` refers to, by the type of the object on the line. */
const PARAM_REFS: Record<string, string[]> = {
  '-monitorName': ['lb monitor'],
  '-policy': ['authentication Policy', 'loginSchemaPolicy'],
  '-authnVsName': ['authentication vserver'],
  '-authnProfile': ['authnProfile'],
};
const ACTION_OF: Record<string, string> = {
  'authentication Policy': 'radiusAction',
  loginSchemaPolicy: 'loginSchema',
};

/** Objects that exist on the NetScaler before the recipe: the admin's Gateway virtual server. */
export const EXISTING = new Map([['vpn vserver', ['gw-vpn']]]);

/** Splits a CLI line into words; "double quotes" group, as the NetScaler CLI does. */
export function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
}

function paramsOf(
  ws: string[],
  where: string,
  problems: string[],
): { positional: string[]; params: Map<string, string> } {
  const positional: string[] = [];
  const params = new Map<string, string>();
  for (let i = 0; i < ws.length; i++) {
    const w = ws[i] ?? '';
    if (w.startsWith('-') && !/^-?\d/.test(w)) {
      if (params.has(w)) problems.push(`${where}: ${w} given twice`);
      params.set(w, ws[i + 1] ?? '');
      i++;
    } else if (params.size === 0) positional.push(w);
    else problems.push(`${where}: stray word "${w}"`);
  }
  return { positional, params };
}

function match(table: Record<string, string>, ws: string[]): [number, string] | undefined {
  for (const [prefix, type] of Object.entries(table)) {
    const p = prefix.split(' ');
    if (p.every((w, i) => ws[i] === w) && ws.length > p.length) return [p.length, type];
  }
  return undefined;
}

export function parseNetscaler(lines: readonly string[]): NsConfig {
  const objects = new Map<string, NsObject>();
  const references: Reference[] = [];
  const problems: string[] = [];
  const key = (type: string, name: string): string => `${type}\u0000${name}`;
  const refer = (line: string, from: string, param: string, types: string[], name: string): void =>
    void references.push({ line, from, param, types, name });

  for (const line of lines) {
    const ws = words(line.trim());
    if (ws.join(' ') === 'save ns config') continue;
    const add = match(ADD, ws);
    const target = add ? undefined : match(TARGET, ws);
    if (!add && !target) {
      problems.push(`unknown command: ${line.trim()}`);
      continue;
    }
    const [len, type] = (add ?? target)!;
    const name = ws[len] ?? '';
    const verb = ws[0] ?? '';
    const where = verb === 'bind' ? `bind ${type} ${name}` : `${type} ${name}`;
    const { positional, params } = paramsOf(ws.slice(len + 1), where, problems);

    if (verb === 'add') {
      if (objects.has(key(type, name))) problems.push(`${where}: added twice`);
      objects.set(key(type, name), { type, name, positional, params: new Map() });
    } else refer(line, where, '(target)', [type], name);

    if (verb !== 'bind') {
      // add and set: one value per parameter per object, across all lines.
      const obj = objects.get(key(type, name));
      for (const [p, v] of params) {
        const had = obj?.params.get(p);
        if (had !== undefined && had !== v) problems.push(`${where}: ${p} is ${had} and ${v}`);
        else obj?.params.set(p, v);
      }
    }
    for (const [p, v] of params) {
      const types = p === '-action' ? [ACTION_OF[type] ?? '?'] : PARAM_REFS[p];
      if (types) refer(line, where, p, types, v);
    }
    // bind serviceGroup SG SERVER PORT, bind lb vserver VS SG
    if (verb === 'bind' && type === 'serviceGroup' && positional[0] !== undefined)
      refer(line, where, '(member)', ['server'], positional[0]);
    if (verb === 'bind' && type === 'lb vserver' && positional[0] !== undefined)
      refer(line, where, '(member)', ['serviceGroup'], positional[0]);
  }
  for (const r of references) {
    const known = r.types.some(
      (t) => objects.has(key(t, r.name)) || (EXISTING.get(t) ?? []).includes(r.name),
    );
    if (!known)
      problems.push(`${r.from}: ${r.param} names ${r.types.join(' or ')} "${r.name}", which no line adds`);
  }
  return { objects, references, problems };
}

export function nsProblems(c: NsConfig): string[] {
  return c.problems;
}
