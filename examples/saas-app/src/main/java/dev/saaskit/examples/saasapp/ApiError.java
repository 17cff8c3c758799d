package dev.saaskit.examples.saasapp;

/**
 * An error answered to the client as {@code {"error": {"code", "message"}}} with {@code status}. The message is
 * meant for the client: it never carries a stack trace, a token or SQL.
 */
final class ApiError extends RuntimeException {
  private final int status;
  private final String code;

  ApiError(int status, String code, String message) {
    super(message, null, false, false);
    this.status = status;
    this.code = code;
  }

  int status() {
    return status;
  }

  String code() {
    return code;
  }

  static ApiError badRequest(String code, String message) {
    return new ApiError(400, code, message);
  }

  static ApiError notFound(String what) {
    return new ApiError(404, "not_found", what + " not found");
  }

  static ApiError forbidden(String message) {
    return new ApiError(403, "forbidden", message);
  }
}
