/** The shipped example configs are valid, and the local one fits the files the sim generates. */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkConfig } from '../../src/config/check';
import { loadConfig } from '../../src/config/load';
import { ensureSimPki } from '../../src/sim/registry/pki-store';

const CONFIG_DIR = path.resolve(__dirname, '../../config');

describe('config examples', () => {
  it('agent.example.json (AWS IoT Core) is valid', () => {
    const cfg = loadConfig({ file: path.join(CONFIG_DIR, 'agent.example.json') });
    expect(cfg.mqtt).toMatchObject({ port: 8883, clientId: 'gateway-42', transport: 'mqtt' });
    expect(cfg.mqtt.endpoint).toMatch(/-ats\.iot\.[a-z0-9-]+\.amazonaws\.com$/);
    expect(cfg.stateDirectory).toBe('/var/lib/iot-jobs-agent');
  });

  it('agent.local.json resolves its relative paths next to itself and checks clean against a generated sim layout', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'local-cfg-'));
    try {
      await fsp.copyFile(path.join(CONFIG_DIR, 'agent.local.json'), path.join(dir, 'agent.local.json'));
      await ensureSimPki(path.join(dir, '.sim'), ['thing1']);
      const cfg = loadConfig({ file: path.join(dir, 'agent.local.json') });
      expect(cfg.mqtt.endpoint).toBe('127.0.0.1');
      expect(cfg.tls.certificateFile).toBe(path.join(dir, '.sim/things/thing1/thing1.cert.pem'));
      expect(cfg.stateDirectory).toBe(path.join(dir, '.sim/agent-state'));
      const result = await checkConfig(cfg, { greengrassRoot: path.join(dir, 'no-greengrass') });
      expect(result).toEqual({ errors: [], warnings: [] });
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
