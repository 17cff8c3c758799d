package dev.saaskit.auth.internal.sso;

import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;

/** URL rules for IdP endpoints: https, or http to a loopback host (tests, local fakes). Not API. */
public final class Urls {
  private Urls() {}

  /**
   * Checks an issuer identifier: an absolute https URL (http only for a loopback host) without query or fragment.
   *
   * @throws IllegalArgumentException naming the value
   */
  public static URI requireIssuer(String name, String issuer) {
    URI uri = requireEndpoint(name, issuer);
    if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
      throw new IllegalArgumentException(name + " must have no query or fragment but was '" + issuer + "'");
    }
    return uri;
  }

  /**
   * Checks an endpoint URL: absolute, https (http only for a loopback host), with a host.
   *
   * @throws IllegalArgumentException naming the value
   */
  public static URI requireEndpoint(String name, String value) {
    URI uri;
    try {
      uri = new URI(value);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(name + " must be a URL but was '" + value + "'", e);
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    String host = uri.getHost();
    if (host == null || !(scheme.equals("https") || (scheme.equals("http") && isLoopback(host)))) {
      throw new IllegalArgumentException(name + " must be an https URL (http only for localhost) but was '"
          + value + "'");
    }
    return uri;
  }

  /** Whether the host is a loopback name or address, without asking DNS. */
  public static boolean isLoopback(String host) {
    String h = host.toLowerCase(Locale.ROOT);
    if (h.equals("localhost") || h.endsWith(".localhost")) {
      return true;
    }
    if (h.startsWith("[") && h.endsWith("]")) {
      h = h.substring(1, h.length() - 1);
    }
    if (!h.matches("[0-9.]+") && !h.contains(":")) {
      return false;
    }
    try {
      return InetAddress.getByName(h).isLoopbackAddress();
    } catch (java.net.UnknownHostException e) {
      return false;
    }
  }
}
