/**
 * AWS's provisioning template grammar in the sim: each documented construct evaluated, and each
 * refusal (unknown section, key, resource type, function, override action, bad arguments) named.
 */
import { evaluateTemplate } from '../../src/sim/registry/template-eval';
import { parseTemplate, TemplateError } from '../../src/sim/registry/template-grammar';

const ID = 'a'.repeat(64);
const cert = { certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' } } } };

function plan(body: unknown, params: Record<string, string> = {}) {
  return evaluateTemplate(parseTemplate(JSON.stringify(body)), params, { 'AWS::IoT::Certificate::Id': ID });
}

function thingNamed(name: unknown, extra: Record<string, unknown> = {}) {
  return { Parameters: { P: { Type: 'String' }, Q: { Type: 'String', Default: 'q' } }, ...extra, Resources: { ...cert, thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: name } } } };
}

describe('template evaluation', () => {
  it.each([
    ['Ref', { Ref: 'P' }, 'p1'],
    ['a Default', { Ref: 'Q' }, 'q'],
    ['the certificate id pseudo-parameter', { 'Fn::Join': ['-', ['x', { Ref: 'AWS::IoT::Certificate::Id' }]] }, `x-${ID}`],
    ['Fn::Join with an empty delimiter', { 'Fn::Join': ['', ['a', { Ref: 'P' }, 'b']] }, 'ap1b'],
    ['Fn::Sub', { 'Fn::Sub': 'dev-${P}-${Q}' }, 'dev-p1-q'],
    ['Fn::Sub with a variable map', { 'Fn::Sub': ['${X}-${P}', { X: { Ref: 'Q' } }] }, 'q-p1'],
    ['Fn::Sub ${!Literal}', { 'Fn::Sub': 'a${!P}' }, 'a${P}'],
    ['Fn::Select over Fn::Split', { 'Fn::Select': [1, { 'Fn::Split': [':', 'a:b:c'] }] }, 'b'],
    ['Fn::Select with a string index', { 'Fn::Select': ['0', ['x', 'y']] }, 'x'],
  ])('%s', (_what, expr, expected) => {
    expect(plan(thingNamed(expr), { P: 'p1' }).thing?.name).toBe(expected);
  });

  it('Fn::FindInMap, DeviceConfiguration, AttributePayload, ThingGroups, policies and certificate status', () => {
    const p = plan(
      {
        Parameters: { Site: { Type: 'String' } },
        Mappings: { M: { ber: { url: 'https://b' } } },
        Resources: {
          ...{ certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'Inactive' }, OverrideSettings: { Status: 'DO_NOTHING' } } },
          thing: {
            Type: 'AWS::IoT::Thing',
            Properties: { ThingName: 'x', AttributePayload: { site: { Ref: 'Site' } }, ThingGroups: ['g1', { Ref: 'Site' }], ThingTypeName: 'Gateway', BillingGroup: 'b' },
            OverrideSettings: { AttributePayload: 'MERGE', ThingGroups: 'REPLACE', ThingTypeName: 'FAIL' },
          },
          named: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'Existing' } },
          inline: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: { Version: '2012-10-17', Statement: [] } } },
        },
        DeviceConfiguration: { Url: { 'Fn::FindInMap': ['M', { Ref: 'Site' }, 'url'] }, Fixed: 'v' },
      },
      { Site: 'ber' },
    );
    expect(p.thing).toMatchObject({ name: 'x', attributes: { site: 'ber' }, groups: ['g1', 'ber'], thingTypeName: 'Gateway', billingGroup: 'b', overrides: { AttributePayload: 'MERGE', ThingGroups: 'REPLACE', ThingTypeName: 'FAIL' } });
    expect(p.certificate).toMatchObject({ certificateId: ID, status: 'INACTIVE', overrides: { Status: 'DO_NOTHING' } });
    expect(p.policies.map((x) => x.policyName)).toEqual(['Existing', expect.stringMatching(/^[0-9A-F]{40}$/)]);
    expect(p.deviceConfiguration).toEqual({ Url: 'https://b', Fixed: 'v' });
  });

  it.each([
    ['a parameter with no value and no default', { Ref: 'P' }, {}, /Parameter P has no value/],
    ['an index out of range', { 'Fn::Select': [5, ['a']] }, {}, /out of range/],
    ['a key missing from a mapping', { 'Fn::FindInMap': ['M', 'nope', 'k'] }, {}, /found no value at M\.nope\.k/],
    ['a list where a string is needed', { 'Fn::Split': [',', 'a,b'] }, {}, /list where a string is needed/],
  ])('fails the registration on %s', (_what, expr, params, message) => {
    expect(() => plan(thingNamed(expr, { Mappings: { M: { k: { k: 'v' } } } }), params)).toThrow(message);
  });
});

describe('template grammar refusals, each by name', () => {
  const withThingProps = (props: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    Resources: { ...cert, thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'x', ...props }, ...extra } },
  });
  it.each<[string, unknown, RegExp]>([
    ['JSON that is not well-formed', '{"Resources": ', /JSON not well-formed/],
    ['a section other than the four', { Conditions: {}, Resources: {} }, /"Conditions" is not supported/],
    ['Outputs', { Outputs: {} }, /"Outputs" is not supported/],
    ['a parameter type other than String', { Parameters: { P: { Type: 'Number' } } }, /Parameters\.P\.Type must be "String"/],
    ['a parameter key other than Type and Default', { Parameters: { P: { Type: 'String', AllowedValues: ['a'] } } }, /"AllowedValues" is not supported/],
    ['a function in Mappings', { Mappings: { M: { a: { b: { Ref: 'P' } } } } }, /no intrinsic functions in Mappings/],
    ['an unknown resource type', { Resources: { r: { Type: 'AWS::IoT::ThingGroup', Properties: {} } } }, /AWS::IoT::ThingGroup" is not supported/],
    ['Fn::If', thingNamedRaw({ 'Fn::If': ['c', 'a', 'b'] }), /Fn::If is not supported in provisioning templates/],
    ['Fn::GetAtt', thingNamedRaw({ 'Fn::GetAtt': ['a', 'b'] }), /Fn::GetAtt is not supported/],
    ['Fn::Equals', thingNamedRaw({ 'Fn::Equals': ['a', 'b'] }), /Fn::Equals is not supported/],
    ['an object with two keys', thingNamedRaw({ Ref: 'P', 'Fn::Sub': 'x' }), /exactly one key/],
    ['Fn::Join without a list', thingNamedRaw({ 'Fn::Join': 'x' }), /Fn::Join takes a list of 2 arguments/],
    ['Fn::Select with a non-numeric index', thingNamedRaw({ 'Fn::Select': [true, ['a']] }), /index must be a number/],
    ['an unknown Thing property', withThingProps({ ThingId: 'x' }), /"ThingId" is not supported/],
    ['a Thing without ThingName', { Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: {} } } }, /ThingName is required/],
    ['an unknown override key', withThingProps({}, { OverrideSettings: { BillingGroup: 'REPLACE' } }), /"BillingGroup" is not supported/],
    ['MERGE where only REPLACE, DO_NOTHING or FAIL apply', withThingProps({}, { OverrideSettings: { ThingTypeName: 'MERGE' } }), /ThingTypeName must be one of REPLACE, DO_NOTHING, FAIL/],
    ['nested JSON in DeviceConfiguration', { DeviceConfiguration: { a: { b: 'c' } } }, /DeviceConfiguration\.a: b is not supported/],
    ['a CSR in a fleet template', { Resources: { c: { Type: 'AWS::IoT::Certificate', Properties: { CertificateSigningRequest: 'x' } } } }, /only certificate IDs can be used/],
    ['a policy with neither name nor document', { Resources: { p: { Type: 'AWS::IoT::Policy', Properties: {} } } }, /Neither policyName nor policyDocument is present in the Template\./],
    ['a policy with both', { Resources: { p: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'a', PolicyDocument: '{}' } } } }, /not both/],
    ['override settings on a policy', { Resources: { p: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'a' }, OverrideSettings: {} } } }, /policies have no override settings/],
    ['two Thing resources', { Resources: { a: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'a' } }, b: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'b' } } } }, /only one AWS::IoT::Thing/],
    ['a resource key other than Type, Properties, OverrideSettings', { Resources: { a: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'a' }, DependsOn: 'b' } } }, /"DependsOn" is not supported/],
  ])('refuses %s', (_what, body, message) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    let thrown: unknown;
    try {
      parseTemplate(text);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(TemplateError);
    expect((thrown as Error).message).toMatch(/^Invalid registration template\. /);
    expect((thrown as Error).message).toMatch(message);
  });
});

function thingNamedRaw(name: unknown) {
  return { Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: name } } } };
}
