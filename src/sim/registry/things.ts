/**
 * What the registry knows of a thing beyond its name and groups: the attributes, thing type and
 * billing group a provisioning template gives it, and its version (DescribeThing).
 */
export interface ThingInfo {
  attributes: Record<string, string>;
  thingTypeName?: string;
  billingGroupName?: string;
  version: number;
}

export class ThingInfoStore {
  private readonly info = new Map<string, ThingInfo>();

  get(name: string): ThingInfo {
    let i = this.info.get(name);
    if (i === undefined) {
      i = { attributes: {}, version: 1 };
      this.info.set(name, i);
    }
    return i;
  }

  has(name: string): boolean {
    return this.info.has(name);
  }
}
