package dev.saaskit.auth.internal.sso;

import com.nimbusds.jose.util.DefaultResourceRetriever;
import dev.saaskit.auth.internal.DeadlineRetriever;
import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.URL;
import java.net.UnknownHostException;
import org.jspecify.annotations.Nullable;

/**
 * Keeps requests to a tenant's IdP off the server's own networks. An OIDC issuer is typed by a tenant administrator,
 * and its discovery document names the token and key endpoints, so without this check a tenant could make the
 * server send requests to its loopback interface, a cloud metadata address or any host of the private network
 * (server-side request forgery). Every address the host name resolves to must be public. Not API.
 *
 * <p>The name is resolved again when the connection opens, so a DNS server that answers a public address to this
 * check and a private one to the connection (DNS rebinding) is not stopped here; the JVM's DNS cache
 * ({@code networkaddress.cache.ttl}, 30 s by default) makes the two answers usually the same.
 */
public final class IdpAddresses {
  private IdpAddresses() {}

  /**
   * Refuses {@code host} if it is, or resolves to, an address that is not public.
   *
   * @throws IOException naming the host and the kind of address
   */
  public static void requirePublic(String host) throws IOException {
    String bare = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    InetAddress[] addresses;
    try {
      addresses = InetAddress.getAllByName(bare);
    } catch (UnknownHostException e) {
      throw new IOException("unknown host " + host, e);
    }
    for (InetAddress address : addresses) {
      String kind = nonPublicKind(address);
      if (kind != null) {
        throw new IOException("the IdP host " + host + " is " + kind + " (" + address.getHostAddress()
            + "), which this server does not call on a tenant's behalf; an IdP inside your own network needs "
            + "OidcLogin.Builder.allowPrivateAddresses(true)");
      }
    }
  }

  /** What kind of non-public address {@code address} is, or null if it is public. */
  static @Nullable String nonPublicKind(InetAddress address) {
    if (address.isLoopbackAddress()) {
      return "a loopback address";
    }
    if (address.isAnyLocalAddress()) {
      return "the wildcard address";
    }
    if (address.isLinkLocalAddress()) {
      return "a link-local address";
    }
    if (address.isSiteLocalAddress()) {
      return "a private address";
    }
    if (address.isMulticastAddress()) {
      return "a multicast address";
    }
    byte[] b = address.getAddress();
    if (b.length == 16) {
      if ((b[0] & 0xfe) == 0xfc) {
        return "a private address";                       // fc00::/7, unique local
      }
      if (b[0] == 0 && b[1] == 0x64 && (b[2] & 0xff) == 0xff && (b[3] & 0xff) == 0x9b) {
        return embeddedV4Kind(b, 12);                      // 64:ff9b::/96, NAT64 of an IPv4 address
      }
      boolean zeroPrefix = true;
      for (int i = 0; i < 12; i++) {
        zeroPrefix &= b[i] == 0;
      }
      return zeroPrefix ? embeddedV4Kind(b, 12) : null;   // ::a.b.c.d, IPv4-compatible
    }
    return v4Kind(b[0] & 0xff, b[1] & 0xff, b[2] & 0xff);
  }

  private static @Nullable String embeddedV4Kind(byte[] b, int at) {
    try {
      String kind = nonPublicKind(InetAddress.getByAddress(new byte[] {b[at], b[at + 1], b[at + 2], b[at + 3]}));
      return kind == null ? null : kind + " behind an IPv6 form";
    } catch (UnknownHostException e) {
      return "an unreadable address";
    }
  }

  private static @Nullable String v4Kind(int a, int b, int c) {
    if (a == 0) {
      return "a reserved address";                          // 0.0.0.0/8
    }
    if (a == 100 && (b & 0xc0) == 64) {
      return "a private address";                           // 100.64.0.0/10, carrier-grade NAT
    }
    if (a == 192 && b == 0 && c == 0) {
      return "a reserved address";                          // 192.0.0.0/24, IETF protocol assignments
    }
    if (a == 198 && (b == 18 || b == 19)) {
      return "a private address";                           // 198.18.0.0/15, benchmarking networks
    }
    if (a >= 240) {
      return "a reserved address";                          // 240.0.0.0/4 and the broadcast address
    }
    return null;
  }

  /**
   * A key-set retriever that checks the address before each request and follows no redirect (a redirect would
   * reach a host this check never saw).
   */
  public static DefaultResourceRetriever retriever(int timeoutMillis, int sizeLimit, boolean allowPrivate) {
    // the whole fetch gets twice the timeout: a tenant's IdP trickling its keys cannot hold a login thread longer
    return new DeadlineRetriever(timeoutMillis, sizeLimit, 2L * timeoutMillis) {
      @Override
      protected HttpURLConnection openHTTPConnection(URL url) throws IOException {
        if (!allowPrivate) {
          requirePublic(url.getHost());
        }
        HttpURLConnection connection = super.openHTTPConnection(url);
        connection.setInstanceFollowRedirects(false);
        return connection;
      }
    };
  }
}
