/**
 * What the sim does to a document between CreateJob and the device that matters to signed job
 * documents (docs/PROTOCOL.md §2.6): null members stripped on delivery (option `stripNulls`), both
 * presigned-URL placeholder forms substituted, and GetJobDocument with `beforeSubstitution`.
 */
import { makeSim, only } from './sim-harness';

const withNulls = JSON.stringify({ ija: 1, jws: { payload: 'eyJhIjpudWxsfQ', signatures: [] }, note: null, nested: { keep: 1, gone: null, list: [null, 1] } });

describe('stripNulls', () => {
  it('is off by default: the document arrives as created', () => {
    const sim = makeSim();
    sim.job('J1', { document: withNulls });
    expect(only(sim.mqtt('J1/get', {}), 'accepted').execution.jobDocument).toEqual(JSON.parse(withNulls));
    const h = sim.svc.httpDescribe('t1', 'J1', {});
    expect(h.ok && h.value.execution?.jobDocument).toBe(withNulls);
  });

  it('on: members whose value is null are left out on MQTT and HTTPS, array elements and base64url payloads are untouched', () => {
    const sim = makeSim({ stripNulls: true });
    const nn = only(sim.job('J1', { document: withNulls }), 'notify-next').execution.jobDocument;
    const expected = { ija: 1, jws: { payload: 'eyJhIjpudWxsfQ', signatures: [] }, nested: { keep: 1, list: [null, 1] } };
    expect(nn).toEqual(expected);
    expect(only(sim.mqtt('J1/get', {}), 'accepted').execution.jobDocument).toEqual(expected);
    const h = sim.svc.httpDescribe('t1', 'J1', {});
    expect(JSON.parse((h.ok && (h.value.execution?.jobDocument as string)) || '{}')).toEqual(expected);
    // What AWS keeps is what was created: only delivery strips.
    expect(sim.svc.getJobDocument('J1')).toEqual({ ok: true, value: { document: withNulls } });
  });
});

describe('presigned URL placeholders, v2 form', () => {
  it('are substituted per delivery like the v1 form', () => {
    const sim = makeSim();
    const doc = JSON.stringify({ urls: { fw: '${aws:iot:s3-presigned-url-v2:https://s3.eu-west-1.amazonaws.com/acme-fw/gw/fw.bin}' } });
    sim.job('J1', { document: doc });
    const a = only(sim.mqtt('J1/get', {}), 'accepted').execution.jobDocument.urls.fw as string;
    const b = only(sim.mqtt('J1/get', {}), 'accepted').execution.jobDocument.urls.fw as string;
    // Delivered virtual-hosted, as AWS delivers them (docs/PROTOCOL.md §2.6, §10.22).
    for (const u of [a, b]) expect(u).toMatch(/^https:\/\/acme-fw\.s3\.eu-west-1\.amazonaws\.com\/gw\/fw\.bin\?X-Amz-Algorithm=AWS4-HMAC-SHA256&.*X-Amz-Signature=[0-9a-f]{64}&/);
    expect(a).not.toBe(b);
  });
});

describe('GetJobDocument beforeSubstitution', () => {
  it('a plain job: the stored text byte for byte either way, placeholders in place', () => {
    const sim = makeSim();
    const doc = '{"ija":1,"jws":{"payload":"x","signatures":[]},"urls":{"fw":"${aws:iot:s3-presigned-url:https://s3.amazonaws.com/b/k}"}}';
    sim.job('J1', { document: doc });
    expect(sim.svc.getJobDocument('J1', true)).toEqual({ ok: true, value: { document: doc } });
    expect(sim.svc.getJobDocument('J1', false)).toEqual({ ok: true, value: { document: doc } });
  });

  it('a managed-template job: parameters substituted, or with beforeSubstitution the template placeholders', () => {
    const sim = makeSim();
    const body = sim.svc.applyJobTemplate({ targets: ['t1'], jobTemplateArn: 'arn:aws:iot:us-east-1::jobtemplate/AWS-Run-Command:1.0', documentParameters: { command: 'echo,ok' } });
    expect(body.ok).toBe(true);
    const r = sim.svc.createJob({ ...(body.ok ? body.value : {}), jobId: 'RC' } as never);
    expect(r.ok).toBe(true);
    const after = sim.svc.getJobDocument('RC');
    const before = sim.svc.getJobDocument('RC', true);
    expect(after.ok && after.value.document).toContain('"command":"echo,ok"');
    expect(before.ok && before.value.document).toContain('${aws:iot:parameter:command}');
    expect(before.ok && before.value.document).not.toContain('echo,ok');
  });

  it('an unknown job: ResourceNotFoundException', () => {
    const r = makeSim().svc.getJobDocument('nope', true);
    expect(r.ok || r.error.name).toBe('ResourceNotFoundException');
  });
});
