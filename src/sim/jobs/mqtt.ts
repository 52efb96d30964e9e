/**
 * The MQTT device plane: topic → operation, payload → request, result → exactly one
 * `accepted`/`rejected` response addressed to the requester, then the notifications the change
 * caused (docs/PROTOCOL.md §1.2, §1.6: response first). Never throws on any input.
 */
import { epochSeconds } from '../../lib/clock';
import { errorMessage } from '../../lib/errors';
import { isServiceOnlyTopic, parseRequestTopic, topics } from '../../jobs/topics';
import type { ParseResult, ParsedRequest, ResponseKind } from '../../jobs/topics';
import { LIMITS } from '../../jobs/types';
import type { Publication, Refusal } from '../types';
import { describe, getPending, startNext, update } from './device';
import type { Ask } from './device';
import { fail } from './options';
import type { DevErr, DevResult } from './options';
import { detailRules, field, isObj, parseDescribe, parseStartNext, parseUpdate } from './validate';
import type { Obj } from './validate';
import type { World } from './world';

export interface FrontDeps {
  world: World;
  publish: (p: Publication) => void;
  /** Injected throttle / internal error for this thing, if the dice say so. */
  roll: (thing: string) => DevErr | undefined;
  consistencyMs: (thing: string) => number | undefined;
  duplicateNotifyNext: (thing: string) => boolean;
  refused: (r: Refusal) => void;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decode(payload: Buffer, emptyAsObject: boolean): Obj | undefined {
  if (payload.length === 0) return emptyAsObject ? {} : undefined;
  try {
    const v: unknown = JSON.parse(utf8.decode(payload));
    return isObj(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function dispatch(d: FrontDeps, req: ParsedRequest, body: Obj): DevResult<object> {
  const w = d.world;
  const ask: Ask = { thing: req.thing, docForm: 'object', withThing: w.opts.mqttThingName };
  if (req.namespace !== undefined) ask.namespace = req.namespace;
  const ec = d.consistencyMs(req.thing);
  if (ec !== undefined) ask.consistencyMs = ec;
  const max = detailRules(w.opts);
  switch (req.op) {
    case 'get':
      return getPending(w, ask);
    case 'start-next': {
      const inp = parseStartNext(body, max);
      return inp.ok ? startNext(w, ask, inp.value) : inp;
    }
    case 'describe': {
      const inp = parseDescribe(body);
      return inp.ok ? describe(w, ask, req.jobId ?? '$next', inp.value) : inp;
    }
    case 'update': {
      const inp = parseUpdate(body, max);
      if (!inp.ok) return inp;
      return update(w, ask, req.jobId ?? '$next', inp.value, d.duplicateNotifyNext(req.thing));
    }
  }
}

function checkToken(token: unknown): DevErr | undefined {
  if (token === undefined) return undefined;
  if (typeof token !== 'string') return { code: 'InvalidRequest', message: 'clientToken must be a string' };
  if (token.length > LIMITS.clientTokenMax)
    return { code: 'InvalidRequest', message: `clientToken is longer than ${LIMITS.clientTokenMax} characters` };
  return undefined;
}

interface Requester {
  clientId: string;
  topic: string;
  thing: string;
}

function handle(d: FrontDeps, from: Requester, parsed: ParseResult & object, payload: Buffer, respond: (k: ResponseKind, b: object) => void): void {
  const body = decode(payload, d.world.opts.emptyPayload === 'object');
  const token = body === undefined ? undefined : field(body, 'clientToken');
  const ts = epochSeconds(d.world.clock);
  const head = (): Obj => (token === undefined ? { timestamp: ts } : { clientToken: token, timestamp: ts });
  const reject = (e: DevErr): void => {
    const b: Obj = { code: e.code, message: e.message, ...head() };
    if (e.executionState !== undefined) b.executionState = e.executionState;
    const r: Refusal = { thing: from.thing, request: from.topic, clientId: from.clientId, code: e.code, message: e.message };
    if (token !== undefined) r.clientToken = token;
    d.refused(r);
    respond('rejected', b);
  };
  if (!parsed.ok) return reject({ code: 'InvalidTopic', message: parsed.reason });
  // InvalidJson cannot echo a token: the body could not be read (docs/PROTOCOL.md §2.1).
  if (body === undefined) {
    d.refused({ thing: from.thing, request: from.topic, clientId: from.clientId, code: 'InvalidJson', message: 'Payload is not a JSON object' });
    return respond('rejected', { code: 'InvalidJson', message: 'Payload is not a JSON object', timestamp: ts });
  }
  const pre = checkToken(token) ?? d.roll(parsed.request.thing);
  if (pre !== undefined) return reject(pre);
  let r: DevResult<object>;
  try {
    r = dispatch(d, parsed.request, body);
  } catch (e) {
    r = fail('InternalError', `internal error: ${errorMessage(e)}`);
  }
  if (r.ok) respond('accepted', { ...head(), ...r.value });
  else reject(r.err);
}

export function handleMqtt(d: FrontDeps, clientId: string, topic: string, payload: Buffer): void {
  // Devices may not publish responses or notifications; the front applies servicePublishPolicy.
  if (isServiceOnlyTopic(topic)) return;
  const parsed = parseRequestTopic(topic);
  if (parsed === null) return;
  const thingName = parsed.ok ? parsed.request.thing : parsed.thing;
  handle(d, { clientId, topic, thing: thingName }, parsed, payload, (kind, body) =>
    d.publish({ topic: topics.response(topic, kind), payload: body, to: clientId, thing: thingName, kind: 'response' }),
  );
  for (const n of d.world.drain()) d.publish(n);
}
