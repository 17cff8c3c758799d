package dev.saaskit.auth;

import java.util.Objects;

/**
 * A key just created: the only time its full text exists outside the caller's hands. Show {@link #key()} to the
 * user once; it is not stored (only its hash is) and cannot be shown again. {@link #toString()} hides it.
 */
public final class CreatedApiKey {
  private final String key;
  private final ApiKeyInfo info;

  CreatedApiKey(String key, ApiKeyInfo info) {
    this.key = Objects.requireNonNull(key, "key");
    this.info = Objects.requireNonNull(info, "info");
  }

  /** The full key, to hand to the user once. */
  public String key() {
    return key;
  }

  /** Everything else about the key. */
  public ApiKeyInfo info() {
    return info;
  }

  /** Names the key by its public id; never its secret. */
  @Override
  public String toString() {
    return "CreatedApiKey[" + info + "]";
  }
}
