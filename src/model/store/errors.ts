/** Domain failures with the HTTP meaning the API gives them; the API maps these to problem+json. */
export interface FieldError {
  field: string;
  message: string;
}

export class DomainError extends Error {
  readonly status: number;
  readonly title: string;
  readonly errors: FieldError[];
  readonly extra: Record<string, unknown>;

  constructor(status: number, title: string, detail: string, errors: FieldError[] = [], extra = {}) {
    super(detail);
    this.status = status;
    this.title = title;
    this.errors = errors;
    this.extra = extra;
  }
}

export const notFound = (what: string) => new DomainError(404, 'Not Found', `${what} not found`);

export const invalid = (errors: FieldError[]) =>
  new DomainError(400, 'Bad Request', errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors);

export const conflict = (detail: string, extra: Record<string, unknown> = {}, errors: FieldError[] = []) =>
  new DomainError(409, 'Conflict', detail, errors, extra);

export const preconditionFailed = (current: number) =>
  new DomainError(412, 'Precondition Failed', `the opportunity is at version ${current}`, [{ field: 'If-Match', message: `is stale: the opportunity is at version ${current}` }], {
    currentVersion: current,
  });
