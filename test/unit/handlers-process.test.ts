import { TailBuffer } from '../../src/handlers/capture';
import { describeExit } from '../../src/handlers/process';
import { detailTail, lineCount } from '../../src/handlers/sanitize';
import { parsePasswdLine } from '../../src/handlers/users';

describe('process helper pieces', () => {
  it('keeps only the tail, in bounded memory', () => {
    const t = new TailBuffer(10);
    t.push(Buffer.from('0123456'));
    expect(t.truncated).toBe(false);
    t.push(Buffer.from('789abc'));
    expect(t.text()).toBe('3456789abc');
    expect(t.truncated).toBe(true);
    t.push(Buffer.from('x'.repeat(50)));
    expect(t.text()).toBe('x'.repeat(10));
  });

  it('drops a character cut in half at the front of a truncated tail', () => {
    const t = new TailBuffer(5);
    t.push(Buffer.from('aaé€')); // é is 2 bytes, € 3: the last 5 bytes are é€
    expect(t.text()).toBe('é€');
    t.push(Buffer.from('b'));
    expect(t.text()).toBe('€b');
  });

  it('describes exits', () => {
    expect(describeExit(0, null)).toBe('exit 0');
    expect(describeExit(null, 'SIGKILL')).toBe('killed by SIGKILL');
  });

  it('parses passwd lines', () => {
    expect(parsePasswdLine('nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin')).toEqual({ name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent' });
    expect(parsePasswdLine('broken')).toBeUndefined();
  });

  it('sanitises detail values', () => {
    expect(detailTail('a\u0000b\u001b[31mc\n')).toBe('a b [31mc');
    expect(detailTail('x'.repeat(2000))).toHaveLength(1024);
    expect(lineCount('')).toBe(0);
    expect(lineCount('a\nb\n')).toBe(2);
    expect(lineCount('a\nb')).toBe(2);
  });
});
