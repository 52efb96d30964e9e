/**
 * check-config's PKCS#11 probe: load the library, find the token, log in with the PIN and find the
 * key, exactly as a connection would (building an aws-crt TLS context does all four), without
 * connecting. config/ may not import the transport, so the CLI hands this to checkConfig.
 */
import type { Pkcs11TransportOptions } from './types';
import { classifyCrtError } from './crt-errors';
import { loadCrt, type CrtModules } from './crt-load';

export interface Pkcs11ProbeInput extends Pkcs11TransportOptions {
  certificateFile: string;
}

/**
 * Resolves when the token, PIN and key all work; rejects with a TransportError (kind 'credentials')
 * that names the setting to fix. Tries the PIN once: a real token may lock after a few wrong ones.
 */
export function probePkcs11(p: Pkcs11ProbeInput, load: () => CrtModules = loadCrt): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      const { io } = load();
      const lib = wrap(() => new io.Pkcs11Lib(p.library), `pkcs11.library ${p.library}`);
      const opts = io.TlsContextOptions.create_client_with_mtls_pkcs11({
        pkcs11_lib: lib,
        user_pin: p.pin,
        private_key_object_label: p.keyLabel,
        cert_file_path: p.certificateFile,
        ...(p.tokenLabel !== undefined ? { token_label: p.tokenLabel } : {}),
        ...(p.slotId !== undefined ? { slot_id: p.slotId } : {}),
      });
      wrap(() => new io.ClientTlsContext(opts), 'pkcs11');
      resolve();
    } catch (err) {
      reject(err);
    }
  });
}

function wrap<T>(fn: () => T, where: string): T {
  try {
    return fn();
  } catch (err) {
    throw classifyCrtError(err, where);
  }
}
