package dev.saaskit.fleet;

import java.util.Locale;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * Turns a credentials reference stored in the directory (never the credentials themselves) into credentials. The
 * default, {@link #environment()}, reads environment variables; a secrets manager plugs in here.
 */
@FunctionalInterface
public interface CredentialResolver {

  /** Who the credentials are for. */
  enum Access {
    /** The application role: not owner, no BYPASSRLS; serves tenant traffic. */
    APP,
    /** The role that owns the schema: migrations, moves, export and erasure. */
    ADMIN
  }

  /**
   * The credentials {@code reference} names for {@code access}.
   *
   * @throws FleetException if there are none (the message names the reference, never a secret)
   */
  Credentials resolve(String reference, Access access);

  /**
   * Environment variables: for reference {@code SHARD_1}, {@code SHARD_1_USER} and {@code SHARD_1_PASSWORD} (app),
   * {@code SHARD_1_ADMIN_USER} and {@code SHARD_1_ADMIN_PASSWORD} (admin).
   */
  static CredentialResolver environment() {
    return fromLookup(System::getenv);
  }

  /** Like {@link #environment()}, reading names through {@code lookup} (a map, a properties file). */
  static CredentialResolver fromLookup(Function<String, @Nullable String> lookup) {
    Objects.requireNonNull(lookup, "lookup");
    return (reference, access) -> {
      String prefix = reference.toUpperCase(Locale.ROOT) + (access == Access.ADMIN ? "_ADMIN" : "");
      String user = lookup.apply(prefix + "_USER");
      String password = lookup.apply(prefix + "_PASSWORD");
      // an empty user (a variable set to "") is as missing as an unset one: say which variables, not "blank user"
      if (user == null || user.isBlank() || password == null) {
        throw new FleetException("credentials reference '" + reference + "' (" + access + "): set " + prefix
            + "_USER and " + prefix + "_PASSWORD");
      }
      return new Credentials(user, password);
    };
  }
}
