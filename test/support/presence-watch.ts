/** A subscriber to AWS IoT lifecycle events ($aws/events/presence/#), for the sim's presence tests. */
import type { MqttClient } from 'mqtt';

export interface PresenceEvent {
  topic: string;
  body: Record<string, unknown>;
}

export interface PresenceWatch {
  /** The first event, already seen or still to come, that matches. */
  next(match: (e: PresenceEvent) => boolean): Promise<PresenceEvent>;
}

/** Subscribes `watcher` (a connected client allowed to read $aws/#) to every lifecycle event. */
export async function watchPresence(watcher: MqttClient): Promise<PresenceWatch> {
  const seen: PresenceEvent[] = [];
  const waiters: { match: (e: PresenceEvent) => boolean; resolve: (e: PresenceEvent) => void }[] = [];
  watcher.on('message', (topic, payload) => {
    const e = { topic, body: JSON.parse(payload.toString()) as Record<string, unknown> };
    seen.push(e);
    for (const w of waiters.filter((x) => x.match(e))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(e);
    }
  });
  await watcher.subscribeAsync('$aws/events/presence/#', { qos: 1 });
  return {
    next: (match) =>
      new Promise((resolve) => {
        const already = seen.find(match);
        if (already) resolve(already);
        else waiters.push({ match, resolve });
      }),
  };
}
