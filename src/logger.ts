import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Paths that may carry credentials. pino replaces them before a line is written,
 * so a stray `log.info({ headers })` or `{ input }` cannot leak a password or token.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.totpCode',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.apiKey',
  '*.value',
  'password',
  'totpCode',
  'token',
  'refreshToken',
  'accessToken',
  'variables',
  '*.variables',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'coffer' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
