import { DrizzleQueryError } from 'drizzle-orm/errors';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { loggableUrl } from '../../src/log.ts';
import { databaseUnavailable, loggableDatabaseError } from '../../src/model/store/db-errors.ts';

/** postgres.js builds its errors from the server's ErrorResponse fields. */
const PostgresError = postgres.PostgresError as unknown as new (fields: Record<string, string>) => Error;
const serverError = (code: string, message: string, extra: Record<string, string> = {}) => new PostgresError({ code, message, severity: 'FATAL', ...extra });
/** What drizzle throws: the driver's error as its cause, the parameters in its message. */
const wrapped = (cause: Error) => new DrizzleQueryError('select 1 where key_hash = $1', ['the-hash'], cause);
const socketError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code });

describe('a database that cannot be reached', () => {
  it.each([
    ['connection refused', socketError('ECONNREFUSED')],
    ['connect timeout (postgres.js)', socketError('CONNECT_TIMEOUT')],
    ['connection closed under a query', socketError('CONNECTION_CLOSED')],
    ['too many clients', serverError('53300', 'sorry, too many clients already')],
    ['admin shutdown', serverError('57P01', 'terminating connection due to administrator command')],
    ['starting up', serverError('57P03', 'the database system is starting up')],
    ['connection failure class 08', serverError('08006', 'connection failure')],
    ['refused on every address of the host', new AggregateError([socketError('ECONNREFUSED'), socketError('ECONNREFUSED')], 'refused')],
  ])('is unavailable: %s, bare or wrapped by drizzle', (_what, error) => {
    expect(databaseUnavailable(error)).toBe(true);
    expect(databaseUnavailable(wrapped(error))).toBe(true);
  });

  it.each([
    ['a unique violation', serverError('23505', 'duplicate key value violates unique constraint "x"')],
    ['a missing table', serverError('42P01', 'relation "x" does not exist')],
    ['a plain bug', new TypeError('x is undefined')],
    ['an ECONNREFUSED code from the server is not a socket error', serverError('ECONNREFUSED', 'odd')],
  ])('is not: %s', (_what, error) => {
    expect(databaseUnavailable(wrapped(error))).toBe(false);
  });
});

describe('what a log may hold of a database error', () => {
  it('keeps codes and names, never the parameters, the detail or a failing value', () => {
    const violation = serverError('23505', 'duplicate key value violates unique constraint "api_keys_key_hash_unique"', {
      detail: 'Key (key_hash)=(the-hash) already exists.',
      constraint_name: 'api_keys_key_hash_unique',
      table_name: 'api_keys',
    });
    const logged = JSON.stringify(loggableDatabaseError(wrapped(violation)));
    expect(logged).not.toContain('the-hash');
    expect(logged).toContain('23505');
    expect(logged).toContain('api_keys_key_hash_unique');
    const syntax = JSON.stringify(loggableDatabaseError(wrapped(serverError('22P02', 'invalid input syntax for type uuid: "crm_secret"'))));
    expect(syntax).not.toContain('crm_secret');
    expect(syntax).toContain('22P02');
  });
});

describe('what a log may hold of a URL', () => {
  it.each([
    ['/v1/opportunities', '/v1/opportunities'],
    ['/v1/opportunities?token=abc', '/v1/opportunities?token=[redacted]'],
    ['/x?limit=5&access_token=abc&flag', '/x?limit=[redacted]&access_token=[redacted]&[redacted]'],
    ['/x?abc', '/x?[redacted]'],
  ])('%s → %s', (url, logged) => {
    expect(loggableUrl(url)).toBe(logged);
  });
});
