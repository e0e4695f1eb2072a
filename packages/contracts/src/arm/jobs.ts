import { Type, type Static } from '@sinclair/typebox';
import { Paged, ReadOnlyEnvelope, Resource } from './common.js';

/**
 * Jobs (`W/jobs/{name}`): command, sweep and pipeline jobs, with Azure ML's status values. A PUT's
 * `properties` are checked field by field by the server (messages name the field), so the request
 * schema only requires what routes it; the answer schema describes the common fields.
 */
const OptStr = Type.Optional(Type.String());
const StringMap = Type.Record(Type.String(), Type.String());

export const JobStatus = Type.String({
  description:
    'NotStarted | Starting | Provisioning | Preparing | Queued | Running | Finalizing | CancelRequested | Completed | Failed | Canceled | NotResponding | Paused | Unknown',
});

export const JobService = Type.Object(
  { jobServiceType: OptStr, endpoint: OptStr, status: OptStr },
  { additionalProperties: true },
);

export const JobProperties = Type.Object(
  {
    jobType: Type.String({ description: 'Command | Sweep | Pipeline' }),
    status: JobStatus,
    displayName: OptStr,
    description: OptStr,
    experimentName: Type.String(),
    computeId: Type.Union([Type.String(), Type.Null()]),
    isArchived: Type.Optional(Type.Boolean()),
    tags: Type.Optional(StringMap),
    properties: Type.Optional(StringMap),
    services: Type.Record(Type.String(), JobService, {
      description: 'Studio (the run in the web UI) and Tracking (the MLflow tracking URI)',
    }),
    command: OptStr,
    codeId: OptStr,
    environmentId: OptStr,
    environmentVariables: Type.Optional(StringMap),
    inputs: Type.Optional(Type.Record(Type.String(), Type.Object({}, { additionalProperties: true }))),
    outputs: Type.Optional(Type.Record(Type.String(), Type.Object({}, { additionalProperties: true }))),
    parentJobName: OptStr,
    error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: true })),
  },
  { additionalProperties: true },
);
export type JobProperties = Static<typeof JobProperties>;

/** PUT W/jobs/{name}. */
export const JobBody = Type.Object(
  {
    properties: Type.Object({ jobType: Type.String() }, { additionalProperties: true }),
    ...ReadOnlyEnvelope,
  },
  { additionalProperties: true },
);
export type JobBody = Static<typeof JobBody>;

export const Job = Resource(JobProperties);
export type Job = Static<typeof Job>;
export const JobList = Paged(Job);
export type JobList = Static<typeof JobList>;

/** `GET W/jobs/{name}/logs` without `path`. */
export const JobLogFiles = Type.Object({ files: Type.Array(Type.String()) });
export type JobLogFiles = Static<typeof JobLogFiles>;
