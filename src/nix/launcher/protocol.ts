/**
 * The messages between the service and its process launcher (see launcher.ts): the service
 * asks for programs to run and signals to send; the launcher reports output and exits.
 */

/** Service → launcher. */
export type LauncherRequest =
  | { t: 'run'; id: number; file: string; args: string[]; cwd?: string; env: Record<string, string | undefined> }
  /** Signal the run's whole process group. */
  | { t: 'kill'; id: number; signal: NodeJS.Signals };

/** Launcher → service. */
export type LauncherReport =
  | { t: 'out'; id: number; fd: 1 | 2; data: string }
  /** The program never ran (ENOENT when it is missing). */
  | { t: 'error'; id: number; code?: string; message: string }
  /** The program ended and its output is drained; `code` is null after a signal. */
  | { t: 'close'; id: number; code: number | null };
