// ES module entry: `import { createClient } from 'doshit'`. The same objects as require('doshit').
import doshit from './index.js';

export default doshit;
export const {
  createClient,
  Client,
  Task,
  TaskInfo,
  LegacyClient,
  Keys,
  DoshitDate,
  encode,
  decode,
  formatTimestamp,
  parseTimestamp,
  schema,
  DoshitError,
  EncodeError,
  DecodeError,
  ConfigError,
  TaskExistsError,
  TaskNotDurableError,
  TaskNotFoundError,
  TaskTimeoutError,
  TaskFailedError,
} = doshit;
