package dev.saaskit.cli;

import dev.saaskit.core.SaasException;

/**
 * A failure a command reports as one line on stderr with {@link SaasKit#EXIT_USAGE} (bad input it could only
 * detect while running, an unreachable database, an unreadable file). Messages never carry secrets; the cause is
 * printed only with {@code --verbose}.
 */
final class CliException extends SaasException {
  private static final long serialVersionUID = 1L;

  CliException(String message) {
    super(message);
  }

  CliException(String message, Throwable cause) {
    super(message, cause);
  }
}
