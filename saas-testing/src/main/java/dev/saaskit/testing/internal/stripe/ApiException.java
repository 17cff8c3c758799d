package dev.saaskit.testing.internal.stripe;

import org.jspecify.annotations.Nullable;

/**
 * A Stripe API error: the HTTP status and the fields of Stripe's {@code error} object. Thrown by the emulator's
 * operations; the HTTP front turns it into Stripe's error response, the Java API lets it through (it is an
 * {@link IllegalArgumentException}: the caller named something that does not exist or passed a bad value).
 */
public final class ApiException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final int status;
  private final String type;
  private final @Nullable String code;
  private final @Nullable String param;

  ApiException(int status, String type, @Nullable String code, String message, @Nullable String param) {
    super(message);
    this.status = status;
    this.type = type;
    this.code = code;
    this.param = param;
  }

  static ApiException missing(String what, String id, String param) {
    return new ApiException(404, "invalid_request_error", "resource_missing",
        "No such " + what + ": '" + id + "'", param);
  }

  static ApiException invalid(@Nullable String code, String message, @Nullable String param) {
    return new ApiException(400, "invalid_request_error", code, message, param);
  }

  static ApiException paramMissing(String param) {
    return invalid("parameter_missing", "Missing required param: " + param + ".", param);
  }

  /** The HTTP status. */
  public int status() {
    return status;
  }

  /** Stripe's error type, such as {@code invalid_request_error}. */
  public String type() {
    return type;
  }

  /** Stripe's error code, such as {@code resource_missing}, or {@code null}. */
  public @Nullable String code() {
    return code;
  }

  /** The parameter at fault, or {@code null}. */
  public @Nullable String param() {
    return param;
  }
}
