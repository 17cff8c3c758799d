package dev.saaskit.cache;

import dev.saaskit.cache.internal.Texts;
import dev.saaskit.core.TenantId;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One invalidation: what to drop, on every node that receives it. Immutable; travels over an
 * {@link InvalidationBus}, so every part is a string (keys are sent in their encoded form, see the cache's key
 * codec).
 *
 * <ul>
 *   <li>{@link Scope#KEY}: one key of one cache ({@code cacheName} and {@code value} required; {@code tenant} is
 *       the key's tenant, absent for a global cache);
 *   <li>{@link Scope#TAG}: every entry carrying the tag {@code value}, in cache {@code cacheName} or, when it is
 *       absent, in every cache;
 *   <li>{@link Scope#TENANT}: every entry of {@code tenant} (required), in one cache or in every cache;
 *   <li>{@link Scope#ALL}: everything in one cache or, when {@code cacheName} is absent, in every cache.
 * </ul>
 *
 * @param scope what kind of invalidation this is
 * @param cacheName the cache it applies to, or {@code null} for every cache (not allowed for {@link Scope#KEY})
 * @param tenant the tenant it applies to ({@link Scope#KEY} of a tenant-scoped cache, {@link Scope#TENANT})
 * @param value the encoded key ({@link Scope#KEY}) or the tag ({@link Scope#TAG})
 */
public record Invalidation(Scope scope, @Nullable String cacheName, @Nullable TenantId tenant, @Nullable String value) {

  /** Longest cache name, key or tag accepted, in characters. */
  public static final int MAX_TEXT_LENGTH = 1024;

  /** What an {@link Invalidation} drops. */
  public enum Scope {
    /** One key of one cache. */
    KEY,
    /** Every entry carrying a tag. */
    TAG,
    /** Every entry of one tenant. */
    TENANT,
    /** Every entry. */
    ALL
  }

  /**
   * Checks that the parts fit the scope.
   *
   * @throws IllegalArgumentException naming the missing or malformed part
   */
  public Invalidation {
    Objects.requireNonNull(scope, "scope");
    checkText("cacheName", cacheName);
    checkText("value", value);
    switch (scope) {
      case KEY -> {
        if (cacheName == null || value == null) {
          throw new IllegalArgumentException("a KEY invalidation needs a cacheName and a value (the encoded key)");
        }
      }
      case TAG -> {
        if (value == null || tenant != null) {
          throw new IllegalArgumentException("a TAG invalidation needs a value (the tag) and no tenant");
        }
      }
      case TENANT -> {
        if (tenant == null || value != null) {
          throw new IllegalArgumentException("a TENANT invalidation needs a tenant and no value");
        }
      }
      case ALL -> {
        if (tenant != null || value != null) {
          throw new IllegalArgumentException("an ALL invalidation takes only an optional cacheName");
        }
      }
    }
  }

  /**
   * Drops {@code encodedKey} of {@code tenant} (or {@code null} for a global cache) in cache {@code cacheName}. The
   * key must be in the form the cache's {@link KeyCodec} gives (for {@link KeyCodec#standard()}: a {@code String}
   * key as it is, a {@code Long}, {@code Integer} or {@code UUID} key its {@code toString()}): rather than encoding
   * it yourself, ask the cache, {@link SaasCache#keyInvalidation(Object)} or
   * {@link SaasCache#keyInvalidation(TenantId, Object)}.
   */
  public static Invalidation key(String cacheName, @Nullable TenantId tenant, String encodedKey) {
    return new Invalidation(Scope.KEY, cacheName, tenant, encodedKey);
  }

  /** Drops every entry tagged {@code tag}, in every cache. */
  public static Invalidation tag(String tag) {
    return new Invalidation(Scope.TAG, null, null, tag);
  }

  /** Drops every entry tagged {@code tag} in cache {@code cacheName}. */
  public static Invalidation tag(String cacheName, String tag) {
    return new Invalidation(Scope.TAG, cacheName, null, tag);
  }

  /** Drops every entry of {@code tenant}, in every cache. */
  public static Invalidation tenant(TenantId tenant) {
    return new Invalidation(Scope.TENANT, null, tenant, null);
  }

  /** Drops every entry of {@code tenant} in cache {@code cacheName}. */
  public static Invalidation tenant(String cacheName, TenantId tenant) {
    return new Invalidation(Scope.TENANT, cacheName, tenant, null);
  }

  /** Drops everything in cache {@code cacheName}. */
  public static Invalidation all(String cacheName) {
    return new Invalidation(Scope.ALL, cacheName, null, null);
  }

  /** Drops everything in every cache. */
  public static Invalidation everything() {
    return new Invalidation(Scope.ALL, null, null, null);
  }

  /** True if this invalidation applies to the cache named {@code name}. */
  public boolean appliesTo(String name) {
    return cacheName == null || cacheName.equals(name);
  }

  private static void checkText(String what, @Nullable String text) {
    if (text == null) {
      return;
    }
    if (text.isEmpty() || text.length() > MAX_TEXT_LENGTH) {
      throw new IllegalArgumentException(
          what + " must be 1 to " + MAX_TEXT_LENGTH + " characters but was " + text.length());
    }
    if (text.indexOf('\0') >= 0) {
      throw new IllegalArgumentException(what + " must not contain NUL characters");
    }
    if (Texts.hasLoneSurrogate(text)) {
      throw new IllegalArgumentException(what + " must be valid Unicode but holds an unpaired surrogate");
    }
  }
}
