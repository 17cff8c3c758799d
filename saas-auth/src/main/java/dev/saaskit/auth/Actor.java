package dev.saaskit.auth;

import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Who made a membership change, as the permission-change log records it: a user ({@code issuer}, {@code subject})
 * or {@link #system()} (a migration, a back-office job, the onboarding of a new tenant). Immutable.
 */
public final class Actor {
  private static final Actor SYSTEM = new Actor(null, null);

  private final @Nullable String issuer;
  private final @Nullable String subject;

  private Actor(@Nullable String issuer, @Nullable String subject) {
    this.issuer = issuer;
    this.subject = subject;
  }

  /** The system: no user made the change. */
  public static Actor system() {
    return SYSTEM;
  }

  /**
   * The user ({@code issuer}, {@code subject}).
   *
   * @throws IllegalArgumentException if either is empty or holds a NUL character
   */
  public static Actor user(String issuer, String subject) {
    return new Actor(MembershipsText.requireIssuer(issuer), MembershipsText.requireSubject(subject));
  }

  /** The user of {@code principal}. */
  public static Actor of(Principal principal) {
    Objects.requireNonNull(principal, "principal");
    return user(principal.issuer(), principal.subject());
  }

  /** Whether this is {@link #system()}. */
  public boolean isSystem() {
    return issuer == null;
  }

  /** The user's issuer; empty for the system. */
  public Optional<String> issuer() {
    return Optional.ofNullable(issuer);
  }

  /** The user's subject; empty for the system. */
  public Optional<String> subject() {
    return Optional.ofNullable(subject);
  }

  /** {@link Principal#userKey(String, String)} of the user; empty for the system. */
  public Optional<String> userKey() {
    return issuer == null || subject == null ? Optional.empty() : Optional.of(Principal.userKey(issuer, subject));
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof Actor a && Objects.equals(issuer, a.issuer) && Objects.equals(subject, a.subject);
  }

  @Override
  public int hashCode() {
    return Objects.hash(issuer, subject);
  }

  /** {@code system}, or {@code user[issuer subject]}. */
  @Override
  public String toString() {
    return issuer == null ? "system" : "user[" + issuer + " " + subject + "]";
  }
}
