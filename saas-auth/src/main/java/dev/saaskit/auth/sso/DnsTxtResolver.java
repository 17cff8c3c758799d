package dev.saaskit.auth.sso;

import dev.saaskit.auth.internal.sso.JndiDnsTxtResolver;
import java.util.List;

/**
 * Looks up DNS TXT records, for domain verification. Plug in your own (a DNS-over-HTTPS client, a fake in tests);
 * {@link #system()} uses the JDK's JNDI DNS provider. Implementations must be thread-safe.
 */
@FunctionalInterface
public interface DnsTxtResolver {
  /**
   * The TXT records of {@code name}, each as one string (the character-strings of a record joined without
   * separators); empty when the name has none or does not exist.
   *
   * @param name a lower-case ASCII domain name
   * @throws dev.saaskit.core.SaasException when DNS could not be asked (a timeout, no server)
   */
  List<String> txtRecords(String name);

  /** The JDK's JNDI DNS provider ({@code com.sun.jndi.dns}), system resolvers, 2 s initial timeout, 2 retries. */
  static DnsTxtResolver system() {
    return new JndiDnsTxtResolver();
  }
}
