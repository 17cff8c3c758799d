package dev.saaskit.fleet;

import java.util.Objects;

/**
 * A user name and password for one database, as a {@link CredentialResolver} returns them. {@link #toString()}
 * never shows the password.
 *
 * @param user the PostgreSQL role
 * @param password its password
 */
public record Credentials(String user, String password) {
  /** Checks both parts are present. */
  public Credentials {
    Objects.requireNonNull(user, "user");
    Objects.requireNonNull(password, "password");
    if (user.isBlank()) {
      throw new IllegalArgumentException("user must not be blank");
    }
  }

  @Override
  public String toString() {
    return "Credentials[user=" + user + ", password=***]";
  }
}
