/** The validated, frozen agent configuration (docs/ARCHITECTURE.md §6). Defaults already applied. */

export interface Pkcs11Config {
  library: string;
  tokenLabel?: string;
  slotId?: number;
  keyLabel: string;
  pinFile?: string;
  pinEnv?: string;
}

/** A template parameter: a literal, the first line of a file, or an environment variable. */
export type ParameterSource = string | { file: string } | { env: string };

/** Fleet provisioning by claim and certificate rotation (docs/ARCHITECTURE.md §8). */
export interface ProvisioningConfig {
  templateName: string;
  method: 'csr' | 'create-keys';
  claim: { certificateFile: string; privateKeyFile: string };
  parameters: Record<string, ParameterSource>;
  /** Client id of the claim connection; default provisioning-{SerialNumber, else /etc/machine-id}. */
  clientId?: string;
  rotationTemplateName?: string;
  /** Bound on each provisioning request (subscribe + publish + answer). */
  stepTimeoutSeconds: number;
}

export interface TrustConfig {
  storeFile: string;
  mode: 'enforce' | 'audit';
  labels: string[];
  allowUnsigned: { handler: string; minIntervalSeconds: number }[];
}

export interface AgentConfig {
  /**
   * With `provisioning`, the provisioned name from `{stateDirectory}/identity/identity.json`; `''`
   * while the device has no identity yet (then `mqtt.clientId` is `''` too unless configured).
   */
  thingName: string;
  mqtt: {
    endpoint: string;
    port: number;
    clientId: string;
    protocolVersion: 4 | 5;
    alpn: boolean;
    keepAliveSeconds: number;
    transport: 'mqtt' | 'aws-crt';
  };
  tls: { certificateFile: string; privateKeyFile?: string; rootCaFile: string };
  pkcs11?: Pkcs11Config;
  jobs: {
    namespaces: string[];
    defaultNamespace: boolean;
    dataPlaneEndpoint?: string;
    /** Namespaces worked over MQTT instead of the HTTPS data plane. */
    mqttNamespaces: string[];
    concurrency: number;
    safetyPollSeconds: number;
    requestTimeoutSeconds: number;
    drainGraceSeconds: number;
    outboxLimit: number;
    progressIntervalSeconds: number;
  };
  handlers: {
    directories: string[];
    scriptDirectories: string[];
    defaultTimeoutSeconds: number;
    allowShell: boolean;
    options: Record<string, Record<string, unknown>>;
  };
  stateDirectory: string;
  provisioning?: ProvisioningConfig;
  /** Signed job documents (docs/SIGNING.md); absent: no signature is checked. */
  trust?: TrustConfig;
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent' };
}
