package dev.saaskit.cache.redis.internal;

import dev.saaskit.core.TenantId;
import java.util.Objects;

/** A rate limit bucket: one tenant and subject. */
record LimitKey(TenantId tenant, String subject) {
  LimitKey {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(subject, "subject");
  }

  /** {@code <len>:<tenant>:<subject>}: the tenant's length keeps tenant/subject pairs apart. */
  String encoded() {
    String t = tenant.value();
    return t.length() + ":" + t + ":" + subject;
  }
}
