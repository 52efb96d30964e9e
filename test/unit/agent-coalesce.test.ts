import { Coalescer } from '../../src/agent/coalesce';

describe('Coalescer', () => {
  it('turns a burst into one run plus one follow-up', async () => {
    const calls: string[] = [];
    let release: () => void = () => undefined;
    const c = new Coalescer<string>(
      async (k) => {
        calls.push(k);
        if (calls.length === 1) await new Promise<void>((r) => (release = r));
      },
      () => undefined,
    );
    const first = c.trigger('ns');
    for (let i = 0; i < 50; i++) void c.trigger('ns');
    void c.trigger('other');
    release();
    await first;
    await c.idle();
    expect(calls.filter((k) => k === 'ns')).toHaveLength(2);
    expect(calls.filter((k) => k === 'other')).toHaveLength(1);
  });

  it('reports errors and keeps working', async () => {
    const errors: unknown[] = [];
    let n = 0;
    const c = new Coalescer<string>(
      () => {
        n += 1;
        return n === 1 ? Promise.reject(new Error('x')) : Promise.resolve();
      },
      (_k, e) => errors.push(e),
    );
    await c.trigger('a');
    await c.trigger('a');
    expect(errors).toHaveLength(1);
    expect(n).toBe(2);
  });
});
