package dev.saaskit.fleet.internal;

import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;

/** Checks of names that reach the directory table. Not API. */
public final class Names {
  private static final Pattern SHARD = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");
  private static final Pattern REF = Pattern.compile("[A-Za-z0-9_]{1,100}");

  private Names() {}

  public static String requireShardName(String name) {
    Objects.requireNonNull(name, "shard");
    if (!SHARD.matcher(name).matches()) {
      throw new IllegalArgumentException("shard name must be 1-63 characters of a-z, 0-9, '_' and '-', starting "
          + "with a letter or digit, but was '" + name + "'");
    }
    return name;
  }

  public static String requireJdbcUrl(String url) {
    Objects.requireNonNull(url, "jdbcUrl");
    if (!url.startsWith("jdbc:postgresql:")) {
      throw new IllegalArgumentException("jdbcUrl must start with jdbc:postgresql: but was '" + withoutQuery(url)
          + "'");
    }
    String lower = url.toLowerCase(Locale.ROOT);
    if (lower.contains("password=") || lower.contains("user=") || url.contains("@")) {
      throw new IllegalArgumentException("jdbcUrl must not carry credentials (user, password): store a "
          + "credentials reference instead");
    }
    return url;
  }

  public static String requireCredentialsRef(String ref) {
    Objects.requireNonNull(ref, "credentialsRef");
    if (!REF.matcher(ref).matches()) {
      throw new IllegalArgumentException("credentials reference must be 1-100 characters of A-Z, a-z, 0-9 and '_' "
          + "but was '" + ref + "'");
    }
    return ref;
  }

  public static String withoutQuery(String url) {
    int q = url.indexOf('?');
    return q < 0 ? url : url.substring(0, q);
  }
}
