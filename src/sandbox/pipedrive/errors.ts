/** Pipedrive's error body: {success: false, error, error_info, data: null, additional_data: null}. */
export class PipedriveError extends Error {
  readonly statusCode: number;
  readonly info: string;

  constructor(statusCode: number, error: string, info: string) {
    super(error);
    this.statusCode = statusCode;
    this.info = info;
  }

  body() {
    return { success: false, error: this.message, error_info: this.info, data: null, additional_data: null };
  }
}

export const notFound = (what = 'Deal') => new PipedriveError(404, `${what} not found`, 'Please check developers.pipedrive.com for more information about Pipedrive API.');
export const badRequest = (message: string) => new PipedriveError(400, message, 'Please check developers.pipedrive.com for more information about Pipedrive API.');
