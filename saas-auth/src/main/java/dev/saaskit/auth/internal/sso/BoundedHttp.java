package dev.saaskit.auth.internal.sso;

import com.nimbusds.oauth2.sdk.http.HTTPRequestSender;
import com.nimbusds.oauth2.sdk.http.HTTPResponse;
import com.nimbusds.oauth2.sdk.http.ReadOnlyHTTPRequest;
import com.nimbusds.oauth2.sdk.http.ReadOnlyHTTPResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URLConnection;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * Sends a request to an IdP (discovery, token endpoint) and reads at most {@code maxBytes} of its answer: the IdP
 * is whatever URL a tenant administrator configured, and nimbus's own sender reads a response body of any size
 * into memory. No redirects are followed; timeouts are the request's. Not API.
 */
public final class BoundedHttp implements HTTPRequestSender {
  /** The most an IdP answer (a discovery document, a token response) may weigh: 256 KiB, as a JWKS. */
  public static final int MAX_RESPONSE_BYTES = 256 * 1024;

  private final int maxBytes;
  private final boolean allowPrivate;

  /**
   * A sender refusing answers longer than {@code maxBytes}, and hosts that are not public unless {@code
   * allowPrivate} (see {@link IdpAddresses}).
   */
  public BoundedHttp(int maxBytes, boolean allowPrivate) {
    if (maxBytes < 1) {
      throw new IllegalArgumentException("maxBytes must be positive but was " + maxBytes);
    }
    this.maxBytes = maxBytes;
    this.allowPrivate = allowPrivate;
  }

  @Override
  public ReadOnlyHTTPResponse send(ReadOnlyHTTPRequest request) throws IOException {
    if (!allowPrivate) {
      IdpAddresses.requirePublic(request.getURL().getHost());
    }
    URLConnection opened = request.getURL().openConnection();
    if (!(opened instanceof HttpURLConnection)) {
      throw new IOException("not an HTTP URL");
    }
    HttpURLConnection c = (HttpURLConnection) opened;
    try {
      c.setInstanceFollowRedirects(false);
      c.setUseCaches(false);
      c.setConnectTimeout(request.getConnectTimeout());
      c.setReadTimeout(request.getReadTimeout());
      c.setRequestMethod(request.getMethod().name());
      for (Map.Entry<String, List<String>> header : request.getHeaderMap().entrySet()) {
        for (String value : header.getValue()) {
          c.addRequestProperty(header.getKey(), value);
        }
      }
      String body = request.getBody();
      if (body != null && !body.isEmpty()) {
        c.setDoOutput(true);
        try (OutputStream out = c.getOutputStream()) {
          out.write(body.getBytes(StandardCharsets.UTF_8));
        }
      }
      int status = c.getResponseCode();
      HTTPResponse response = new HTTPResponse(status);
      response.setStatusMessage(c.getResponseMessage());
      for (Map.Entry<String, List<String>> header : c.getHeaderFields().entrySet()) {
        if (header.getKey() != null && header.getValue() != null && !header.getValue().isEmpty()) {
          response.setHeader(header.getKey(), header.getValue().toArray(new String[0]));
        }
      }
      InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream();
      if (in != null) {
        try (InputStream stream = in) {
          response.setBody(new String(read(stream), StandardCharsets.UTF_8));
        }
      }
      return response;
    } finally {
      c.disconnect();
    }
  }

  private byte[] read(InputStream in) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buffer = new byte[8192];
    int n;
    while ((n = in.read(buffer)) >= 0) {
      if (out.size() + n > maxBytes) {
        throw new IOException("the response is larger than " + maxBytes + " bytes");
      }
      out.write(buffer, 0, n);
    }
    return out.toByteArray();
  }
}
