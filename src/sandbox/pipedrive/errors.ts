const INFO = 'Please check developers.pipedrive.com for more information about Pipedrive API.';

/**
 * Pipedrive's error body. The API itself answers `{success: false, error, error_info, data: null,
 * additional_data: null}` (the spec's error schema); the gateway in front of it (401, 429) answers
 * `{success: false, error, errorCode, error_info}`, as observed live for 401 (see spec-deviations.ts).
 */
export class PipedriveError extends Error {
  readonly statusCode: number;
  readonly info: string;
  readonly fromGateway: boolean;

  constructor(statusCode: number, error: string, info = INFO, fromGateway = false) {
    super(error);
    this.statusCode = statusCode;
    this.info = info;
    this.fromGateway = fromGateway;
  }

  body() {
    if (this.fromGateway) return { success: false, error: this.message, errorCode: this.statusCode, error_info: this.info };
    return { success: false, error: this.message, error_info: this.info, data: null, additional_data: null };
  }
}

export const notFound = (what = 'Deal') => new PipedriveError(404, `${what} not found`);
export const badRequest = (message: string) => new PipedriveError(400, message);
/** Live 401 body (2026): error_info is the short form, without "for more information…". */
export const unauthorized = () => new PipedriveError(401, 'unauthorized access', 'Please check developers.pipedrive.com', true);
/** Not verified against a live 429: the message and shape follow the 401 the same gateway sends. */
export const overLimit = () => new PipedriveError(429, 'Request over limit', INFO, true);
