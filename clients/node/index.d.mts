// Type declarations of doshit for ES modules: `import { createClient } from 'doshit'`.
import doshit from './index.js';

export default doshit;
export import createClient = doshit.createClient;
export import Client = doshit.Client;
export import Task = doshit.Task;
export import TaskInfo = doshit.TaskInfo;
export import LegacyClient = doshit.LegacyClient;
export import Keys = doshit.Keys;
export import DoshitDate = doshit.DoshitDate;
export import encode = doshit.encode;
export import decode = doshit.decode;
export import formatTimestamp = doshit.formatTimestamp;
export import parseTimestamp = doshit.parseTimestamp;
export import schema = doshit.schema;
export import DoshitError = doshit.DoshitError;
export import EncodeError = doshit.EncodeError;
export import DecodeError = doshit.DecodeError;
export import ConfigError = doshit.ConfigError;
export import TaskExistsError = doshit.TaskExistsError;
export import TaskNotDurableError = doshit.TaskNotDurableError;
export import TaskNotFoundError = doshit.TaskNotFoundError;
export import TaskTimeoutError = doshit.TaskTimeoutError;
export import TaskFailedError = doshit.TaskFailedError;
export type {
  TaskFields,
  Value,
  ClientOptions,
  SubmitOptions,
  WaitOptions,
  CallOptions,
  CancelOutcome,
  RequeueOutcome,
  LegacyTask,
  LegacyCallback,
} from './index.js';
