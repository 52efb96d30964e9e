/** The shipped systemd unit: systemd's own verifier accepts it, and it agrees with the config defaults. */
import { execFile } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import schema from '../../config/agent.schema.json';

const UNIT = path.resolve(__dirname, '../../systemd/iot-jobs-agent.service');
const text = readFileSync(UNIT, 'utf8');

function directive(name: string): string[] {
  return [...text.matchAll(new RegExp(`^${name}=(.*)$`, 'gm'))].map((m) => (m[1] ?? '').trim());
}

describe('systemd/iot-jobs-agent.service', () => {
  it('passes systemd-analyze verify with no output', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'unit-'));
    try {
      // verify checks that ExecStart exists: point it at an executable that does (node itself).
      const copy = text.replace(/^ExecStart=\/usr\/bin\/iot-jobs-agent /m, `ExecStart=${process.execPath} `);
      expect(copy).not.toBe(text);
      const file = path.join(dir, 'iot-jobs-agent.service');
      await fsp.writeFile(file, copy);
      const { stdout, stderr } = await promisify(execFile)('systemd-analyze', ['verify', file]);
      expect(`${stdout}${stderr}`).toBe('');
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('is a notify service with a watchdog, restart policy and state/config directories', () => {
    expect(directive('Type')).toEqual(['notify']);
    expect(directive('ExecStart')).toEqual(['/usr/bin/iot-jobs-agent run --config /etc/iot-jobs-agent/agent.json']);
    expect(directive('WatchdogSec')).toEqual(['30']);
    expect(directive('Restart')).toEqual(['always']);
    expect(directive('RestartSec')).toEqual(['5']);
    expect(directive('StateDirectory')).toEqual(['iot-jobs-agent']);
    expect(directive('ConfigurationDirectory')).toEqual(['iot-jobs-agent']);
    expect(directive('KillMode')).toEqual(['mixed']);
    expect(directive('RestartPreventExitStatus')).toEqual(['2']);
  });

  it('never stops restarting a device agent that failed for a reason a restart may cure', () => {
    // No start limit: after a burst of failures systemd would leave the unit failed until someone logs in.
    expect(directive('StartLimitIntervalSec')).toEqual(['0']);
    expect(directive('StartLimitBurst')).toEqual([]);
  });

  it('leaves the agent time to drain before SIGKILL', () => {
    const drain = schema.properties.jobs.properties.drainGraceSeconds.default;
    expect(Number(directive('TimeoutStopSec')[0])).toBeGreaterThan(drain);
    expect(schema.properties.stateDirectory.default).toBe('/var/lib/iot-jobs-agent');
  });

  it('is hardened and keeps only the capabilities running jobs as another user needs', () => {
    for (const d of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp']) expect(directive(d)).toEqual(['yes']);
    expect(directive('ProtectSystem')).toEqual(['strict']);
    expect(directive('CapabilityBoundingSet')[0]?.split(/\s+/).sort()).toEqual(['CAP_CHOWN', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID']);
  });

  it('opens only the PKCS#11 token stores where a key is generated, and only where they exist', () => {
    // Anything more writable than the state directory widens what every job process may write.
    expect(directive('ReadWritePaths')).toEqual(['-/var/lib/softhsm/tokens -/etc/tpm2_pkcs11']);
    expect(directive('ReadOnlyPaths')).toEqual([]);
  });
});
