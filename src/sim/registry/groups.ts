/**
 * Static thing groups (docs/FLEETS.md §A.1): a forest of groups, each with at most one parent set
 * at creation, and the things in each. A thing may be in up to 10 groups, never in two groups of
 * the same hierarchy; a hierarchy is at most 7 deep. Pure data: what a membership change does to
 * jobs is targets.ts's business.
 */
export interface GroupRecord {
  readonly name: string;
  readonly arn: string;
  readonly id: string;
  readonly parent?: string;
  readonly createdAtMs: number;
  readonly children: Set<string>;
  readonly things: Set<string>;
  version: number;
  description?: string;
  attributes: Record<string, string>;
  tags?: { Key: string; Value?: string }[];
}

export const MAX_GROUPS_PER_THING = 10;
export const MAX_DEPTH = 7;

export class ThingGroups {
  readonly byName = new Map<string, GroupRecord>();
  /** Direct memberships of each thing, in the order they were made. */
  private readonly direct = new Map<string, Set<string>>();

  get(name: string): GroupRecord | undefined {
    return this.byName.get(name);
  }

  /** The group and its ancestors, the group first and the root last. */
  lineage(name: string): string[] {
    const out: string[] = [];
    for (let g = this.byName.get(name); g !== undefined; g = g.parent === undefined ? undefined : this.byName.get(g.parent)) out.push(g.name);
    return out;
  }

  root(name: string): string | undefined {
    return this.lineage(name).at(-1);
  }

  directGroupsOf(thing: string): string[] {
    return [...(this.direct.get(thing) ?? [])];
  }

  /** Every group a thing belongs to, directly or as a member of a descendant group. */
  closureOf(thing: string): Set<string> {
    const out = new Set<string>();
    for (const g of this.direct.get(thing) ?? []) for (const a of this.lineage(g)) out.add(a);
    return out;
  }

  /** Things in a group, and with `recursive` in its descendants too, each once. */
  members(name: string, recursive: boolean): string[] {
    const g = this.byName.get(name);
    if (g === undefined) return [];
    if (!recursive) return [...g.things];
    const seen = new Set<string>();
    const walk = (r: GroupRecord): void => {
      for (const t of r.things) seen.add(t);
      for (const c of r.children) {
        const child = this.byName.get(c);
        if (child !== undefined) walk(child);
      }
    };
    walk(g);
    return [...seen];
  }

  descendants(name: string): string[] {
    const out: string[] = [];
    const walk = (n: string): void => {
      for (const c of this.byName.get(n)?.children ?? []) {
        out.push(c);
        walk(c);
      }
    };
    walk(name);
    return out;
  }

  /** Why the group cannot be created, or undefined. */
  refuseCreate(name: string, parent: string | undefined): { name: string; message: string } | undefined {
    if (this.byName.has(name)) return { name: 'ResourceAlreadyExistsException', message: `Thing group ${name} already exists` };
    if (parent === undefined) return undefined;
    if (!this.byName.has(parent)) return { name: 'InvalidRequestException', message: `parent group ${parent} does not exist` };
    if (this.lineage(parent).length >= MAX_DEPTH)
      return { name: 'InvalidRequestException', message: `a thing group hierarchy is at most ${MAX_DEPTH} deep` };
    return undefined;
  }

  add(g: GroupRecord): void {
    this.byName.set(g.name, g);
    if (g.parent !== undefined) this.byName.get(g.parent)?.children.add(g.name);
  }

  /** Drops a childless group; its things lose that membership. */
  drop(name: string): void {
    const g = this.byName.get(name);
    if (g === undefined) return;
    for (const t of g.things) this.direct.get(t)?.delete(name);
    if (g.parent !== undefined) this.byName.get(g.parent)?.children.delete(name);
    this.byName.delete(name);
  }

  /** Why `thing` cannot join `group`, or undefined (also when it is already a member). */
  refuseJoin(thing: string, group: string): string | undefined {
    const mine = this.direct.get(thing) ?? new Set<string>();
    if (mine.has(group)) return undefined;
    if (mine.size >= MAX_GROUPS_PER_THING) return `thing ${thing} is already in ${MAX_GROUPS_PER_THING} thing groups`;
    const root = this.root(group);
    const clash = [...mine].find((m) => this.root(m) === root);
    if (clash !== undefined) return `thing ${thing} is already in ${clash}, in the same hierarchy as ${group}`;
    return undefined;
  }

  join(thing: string, group: string): void {
    const mine = this.direct.get(thing) ?? new Set<string>();
    mine.add(group);
    this.direct.set(thing, mine);
    this.byName.get(group)?.things.add(thing);
  }

  leave(thing: string, group: string): void {
    this.direct.get(thing)?.delete(group);
    this.byName.get(group)?.things.delete(thing);
  }
}
