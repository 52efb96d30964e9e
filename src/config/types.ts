/** The validated, frozen agent configuration (docs/ARCHITECTURE.md §6). Defaults already applied. */

export interface Pkcs11Config {
  library: string;
  tokenLabel?: string;
  slotId?: number;
  keyLabel: string;
  pinFile?: string;
  pinEnv?: string;
}

/** The `proxy` key (docs/ARCHITECTURE.md §3, "Through a proxy"): one way out for everything the agent opens. */
export interface ProxyConfig {
  /** `http://host:port`, `https://host:port` (TLS to the proxy) or `socks5://host:port`. */
  url: string;
  username?: string;
  /** File holding the proxy password (mode 0600, like the key file); never logged. */
  passwordFile?: string;
  /** CA the HTTPS proxy's certificate is verified against (default: the system store). */
  caFile?: string;
  /** Hosts reached directly: names, domain suffixes, IPs, CIDRs. */
  noProxy: string[];
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
    /** Longest wait between reconnects while another client uses this client id. */
    takeoverBackoffSeconds: number;
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
  /** Absent: the environment's HTTPS_PROXY / ALL_PROXY / NO_PROXY apply. `false`: never a proxy. */
  proxy?: ProxyConfig | false;
  provisioning?: ProvisioningConfig;
  /** Signed job documents (docs/SIGNING.md); absent: no signature is checked. */
  trust?: TrustConfig;
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent' };
}
