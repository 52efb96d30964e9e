/**
 * Which job configurations a job template carries, and how to read them off a CreateJob body (for
 * CreateJobTemplate with a jobArn). Kept apart so jobs.ts and templates.ts share it without a cycle.
 */

/** Job configurations a template carries and a job created from it inherits (CreateJob may override each). */
export const TEMPLATE_CONFIG_KEYS = [
  'presignedUrlConfig',
  'jobExecutionsRolloutConfig',
  'abortConfig',
  'timeoutConfig',
  'jobExecutionsRetryConfig',
  'maintenanceWindows',
  'destinationPackageVersions',
] as const;
export type TemplateConfigKey = (typeof TEMPLATE_CONFIG_KEYS)[number];
export type TemplateConfigs = Partial<Record<TemplateConfigKey, unknown>>;

/** A job's configurations in template form: CreateJob's `schedulingConfig.maintenanceWindows` is a template's `maintenanceWindows`. */
export function configsOfJobBody(b: Readonly<Record<string, unknown>>): TemplateConfigs {
  const out: TemplateConfigs = {};
  for (const k of TEMPLATE_CONFIG_KEYS) {
    if (k === 'maintenanceWindows') continue;
    if (b[k] !== undefined) out[k] = b[k];
  }
  const sc = b.schedulingConfig;
  if (typeof sc === 'object' && sc !== null && !Array.isArray(sc)) {
    const mw = (sc as Record<string, unknown>).maintenanceWindows;
    if (mw !== undefined) out.maintenanceWindows = mw;
  }
  return out;
}
