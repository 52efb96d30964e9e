/**
 * The strict parser and the RFC 8785 canonicaliser: RFC 8785's own vectors, and property tests of
 * the inputs where signer and verifier could disagree — duplicate keys, big numbers, lone
 * surrogates, deep nesting.
 */
import fc from 'fast-check';
import { StrictJsonError, canonicalBytes, canonicalText, hasLoneSurrogate, parseCanonical, parseStrictJson } from '../../src/trust';
import { NonCanonicalError } from '../../src/trust/canonical';

describe('RFC 8785 vectors', () => {
  // RFC 8785 §3.2.2 / §3.2.3 and the RFC's published test data (arrays, french, structures, values, weird).
  const structural: [string, string][] = [
    ['[56,{"d":true,"10":null,"1":[ ]}]', '[56,{"1":[],"10":null,"d":true}]'],
    [
      '{"peach":"This sorting order","péché":"is wrong according to French","pêche":"but canonicalization MUST","sin":"ignore locale"}',
      '{"peach":"This sorting order","péché":"is wrong according to French","pêche":"but canonicalization MUST","sin":"ignore locale"}',
    ],
    [
      '{"1":{"f":{"f":"hi","F":5},"\\n":56.0},"10":{},"":"empty","a":{},"111":[{"e":"yes","E":"no"}],"A":{"b":"123"}}',
      '{"":"empty","1":{"\\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{"E":"no","e":"yes"}],"A":{"b":"123"},"a":{}}',
    ],
    [
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    ],
    [
      '{"€":"Euro Sign","1":"One","\\u0080":"Control","\\ud83d\\ude02":"Smiley","ö":"Latin Small Letter O With Diaeresis","\\ufb33":"Hebrew Letter Dalet With Dagesh","</script>":"Browser Challenge"}',
      '{"1":"One","</script>":"Browser Challenge","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis","€":"Euro Sign","😂":"Smiley","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    ],
    [
      '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}',
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis","€":"Euro Sign","😀":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    ],
  ];
  test.each(structural)('%s', (input, expected) => {
    expect(canonicalText(JSON.parse(input))).toBe(expected);
  });

  // RFC 8785 Appendix B: IEEE-754 bit patterns and their canonical text.
  const numbers: [string, string][] = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];
  test.each(numbers)('number %s', (hex, expected) => {
    expect(canonicalText(Buffer.from(hex, 'hex').readDoubleBE(0))).toBe(expected);
  });

  test('NaN, Infinity and lone surrogates have no canonical form', () => {
    expect(() => canonicalText(NaN)).toThrow(/NaN/);
    expect(() => canonicalText([Infinity])).toThrow(/Infinity/);
    expect(() => canonicalText({ a: '\ud800' })).toThrow(/lone surrogate/);
    expect(() => canonicalText({ '\udc00': 1 })).toThrow(/lone surrogate/);
  });

  test('canonical bytes are UTF-8', () => {
    expect(canonicalBytes({ é: 'ü' }).toString('hex')).toBe(Buffer.from('{"é":"ü"}', 'utf8').toString('hex'));
  });
});

/** JSON values inside the signed profile: integers, strings, booleans, arrays, objects. */
const profileValue = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.boolean(), fc.maxSafeInteger(), fc.string({ unit: 'grapheme' }), tie('arr'), tie('obj')),
  arr: fc.array(tie('value'), { maxLength: 4 }),
  obj: fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 6 }), tie('value'), { maxKeys: 4 }),
})).value;

describe('strict parser', () => {
  test('agrees with JSON.parse on every value of the signed profile, in any spelling', () => {
    fc.assert(
      fc.property(profileValue, fc.integer({ min: 0, max: 4 }), (v, indent) => {
        const text = JSON.stringify(v, null, indent);
        expect(parseStrictJson(text)).toEqual(JSON.parse(text));
        expect(canonicalText(parseStrictJson(text))).toBe(canonicalText(JSON.parse(text)));
      }),
      { numRuns: 300 },
    );
  });

  test('refuses any object with a duplicate key, wherever it is', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), profileValue, profileValue, fc.integer({ min: 0, max: 3 }), (key, a, b, depth) => {
        let text = `{${JSON.stringify(key)}:${JSON.stringify(a)},"x":1,${JSON.stringify(key)}:${JSON.stringify(b)}}`;
        for (let i = 0; i < depth; i++) text = `{"w${i}":[${text}]}`;
        expect(() => parseStrictJson(text)).toThrow(/duplicate key/);
      }),
      { numRuns: 200 },
    );
  });

  test('a duplicate key spelled with escapes is still a duplicate', () => {
    expect(() => parseStrictJson('{"op":"reboot","\\u006fp":"run-command"}')).toThrow(/duplicate key "op"/);
  });

  test('refuses integers beyond ±(2^53-1), fractions, exponents and -0', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 2n ** 53n, max: 2n ** 80n }), fc.boolean(), (n, neg) => {
        expect(() => parseStrictJson(`{"n":${neg ? '-' : ''}${n}}`)).toThrow(/outside/);
      }),
    );
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)), (d) => {
        expect(() => parseStrictJson(JSON.stringify([d]))).toThrow(/only integers/);
      }),
    );
    for (const t of ['1e400', '1E3', '1.0', '-0', '01', '+1', '0x10']) expect(() => parseStrictJson(t)).toThrow(StrictJsonError);
    expect(parseStrictJson(String(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseStrictJson(String(-Number.MAX_SAFE_INTEGER))).toBe(-Number.MAX_SAFE_INTEGER);
  });

  test('refuses lone surrogates, escaped or raw, and invalid UTF-8', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0xd800, max: 0xdfff }), fc.string({ maxLength: 4 }), (code, around) => {
        const esc = `\\u${code.toString(16)}`;
        expect(() => parseStrictJson(`[${JSON.stringify(around).slice(0, -1)}${esc}"]`)).toThrow(/lone surrogate/);
        expect(() => parseStrictJson(`["${String.fromCharCode(code)}"]`)).toThrow(/lone surrogate/);
      }),
    );
    expect(parseStrictJson('"\\ud83d\\ude00"')).toBe('😀');
    expect(() => parseStrictJson(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]))).toThrow(/invalid UTF-8/);
    expect(() => parseStrictJson(Buffer.from([0xef, 0xbb, 0xbf, 0x31]))).toThrow(/byte-order mark/);
    expect(hasLoneSurrogate('a\udc00')).toBe(true);
  });

  test('refuses nesting deeper than the limit, and parses up to it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2000 }), fc.boolean(), (depth, obj) => {
        const open = obj ? '{"a":' : '[';
        const close = obj ? '}' : ']';
        const text = `${open.repeat(depth)}1${close.repeat(depth)}`;
        if (depth > 32) expect(() => parseStrictJson(text)).toThrow(/nesting deeper than 32/);
        else expect(() => parseStrictJson(text)).not.toThrow();
      }),
      { numRuns: 100 },
    );
    // Far deeper than the stack could recurse: refused, not a RangeError.
    expect(() => parseStrictJson('['.repeat(200000))).toThrow(StrictJsonError);
  });

  test('nulls only when allowed; "__proto__" stays a plain key', () => {
    expect(() => parseStrictJson('{"a":null}')).toThrow(/null is not allowed/);
    expect(parseStrictJson('{"a":null}', { allowNull: true })).toEqual({ a: null });
    const v = parseStrictJson('{"__proto__":{"polluted":1}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('never throws anything but StrictJsonError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.stringMatching(/^[[\]{}",:0-9a-z\\ -]{0,40}$/)), (text) => {
        try {
          parseStrictJson(text);
        } catch (e) {
          expect(e).toBeInstanceOf(StrictJsonError);
        }
      }),
      { numRuns: 500 },
    );
  });

  test('parseCanonical accepts exactly the canonical spelling', () => {
    fc.assert(
      fc.property(profileValue, (v) => {
        const canonical = canonicalBytes(v);
        expect(parseCanonical(canonical)).toEqual(JSON.parse(canonical.toString()));
        const pretty = Buffer.from(JSON.stringify(v, null, 1));
        if (!pretty.equals(canonical)) expect(() => parseCanonical(pretty)).toThrow(NonCanonicalError);
      }),
      { numRuns: 200 },
    );
    expect(() => parseCanonical(Buffer.from('{"b":1,"a":2}'))).toThrow(NonCanonicalError);
    expect(() => parseCanonical(Buffer.from('"\\u0041"'))).toThrow(NonCanonicalError);
  });
});
