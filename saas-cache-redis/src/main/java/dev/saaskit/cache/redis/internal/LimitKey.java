package dev.saaskit.cache.redis.internal;

import dev.saaskit.core.TenantId;
import java.util.Objects;

/** A rate limit bucket: one tenant and subject. */
record LimitKey(TenantId tenant, String subject) {
  /** The longest subject accepted, in characters. */
  static final int MAX_SUBJECT_LENGTH = 1024;

  LimitKey {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(subject, "subject");
    // subjects may come from clients (API keys, addresses): every bucket keeps its subject in memory (the lease
    // and fallback maps hold up to 100,000 of them) and in Redis, so a long one is refused, not stored
    if (subject.length() > MAX_SUBJECT_LENGTH) {
      throw new IllegalArgumentException("subject must be at most " + MAX_SUBJECT_LENGTH + " characters but was "
          + subject.length() + " (hash longer identifiers)");
    }
    // UTF-8, and so Redis, has no form for an unpaired surrogate: "a" + U+D800 would share the bucket of "a?"
    for (int i = 0; i < subject.length(); i++) {
      char c = subject.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < subject.length()
          && Character.isLowSurrogate(subject.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        throw new IllegalArgumentException("subject must be valid Unicode but holds an unpaired surrogate at index "
            + i);
      }
    }
  }

  /** {@code <len>:<tenant>:<subject>}: the tenant's length keeps tenant/subject pairs apart. */
  String encoded() {
    String t = tenant.value();
    return t.length() + ":" + t + ":" + subject;
  }
}
