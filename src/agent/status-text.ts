/**
 * systemd's STATUS= line: what the agent is doing, preceded by whatever keeps it from doing its job
 * (a state directory it cannot write, a clock that makes every certificate look invalid). On a
 * device with no console, `systemctl status` is often the first thing an operator sees.
 */
export type Condition = 'storage' | 'clock' | 'proxy' | 'identity' | 'policy';

export class StatusText {
  private activity = 'starting';
  private readonly conditions = new Map<Condition, string>();
  private last = '';

  constructor(private readonly send: (text: string) => void) {}

  setActivity(text: string): void {
    this.activity = text;
    this.publish();
  }

  /** Set (text) or clear (undefined) one condition. */
  setCondition(key: Condition, text: string | undefined): void {
    if (text === undefined) this.conditions.delete(key);
    else this.conditions.set(key, text);
    this.publish();
  }

  get text(): string {
    return [...this.conditions.values(), this.activity].join('; ');
  }

  private publish(): void {
    const t = this.text;
    if (t === this.last) return;
    this.last = t;
    this.send(t);
  }
}
