/**
 * The door of the configuration: one table of settings (src/config/settings.ts) from which
 * the `Config` type, the loader, `--help` and the README's configuration table all come.
 */
export { loadConfig, formatIssues, type Config, type ConfigIssue, type ConfigResult } from './config/load.js';
export { usage, settingsMarkdown, describeSettings } from './config/docs.js';
export { isLoopbackHost } from './config/forms.js';
export {
  SETTINGS,
  LOG_LEVELS,
  LOG_FORMATS,
  DEFAULT_CONFIG_FILE,
  DEFAULT_NATS_URL,
  type LogLevel,
  type LogFormatSetting,
  type Setting,
  type SettingPath,
} from './config/settings.js';
