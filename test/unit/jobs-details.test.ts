import { detailsValid, sanitizeDetails } from '../../src/jobs/details';
import fc from 'fast-check';

describe('sanitizeDetails', () => {
  it.each([
    [{ ok: 'fine' }, { ok: 'fine' }],
    [{ 'bad key.x': 'v' }, { bad_key_x: 'v' }],
    [{ k: 'line1\nline2\tx' }, { k: 'line1 line2 x' }],
    [{ k: '' }, { k: '-' }],
    [{ k: 'x'.repeat(2000) }, { k: 'x'.repeat(1024) }],
  ])('%j → %j', (input, out) => {
    expect(sanitizeDetails(input)).toEqual(out);
  });

  it('keeps the tail of long values and at most 10 entries', () => {
    const long = `${'a'.repeat(1500)}END`;
    expect(sanitizeDetails({ k: long })?.k?.endsWith('END')).toBe(true);
    const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'v']));
    expect(Object.keys(sanitizeDetails(many) ?? {})).toHaveLength(10);
  });

  it('always produces details the service accepts', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.fullUnicodeString(), fc.integer())), (d) => {
        expect(detailsValid(sanitizeDetails(d))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
