/** The reply error codes of SPEC §3. A const object and a derived type, never a TS enum. */
export const ErrorCode = {
  invalid_json: 'invalid_json',
  validation: 'validation',
  unknown_subject: 'unknown_subject',
  not_found: 'not_found',
  already_exists: 'already_exists',
  invalid_transition: 'invalid_transition',
  conflict: 'conflict',
  nix_failed: 'nix_failed',
  unavailable: 'unavailable',
  forbidden: 'forbidden',
  internal: 'internal',
  timeout: 'timeout',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
