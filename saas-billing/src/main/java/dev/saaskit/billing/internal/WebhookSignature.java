package dev.saaskit.billing.internal;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.jspecify.annotations.Nullable;

/**
 * Verifies a {@code Stripe-Signature} header ({@code t=<ts>,v1=<hex>[,v1=...][,v0=...]}): HMAC-SHA256 of {@code t +
 * "." + body} with each configured secret, compared in constant time with every {@code v1}; the timestamp must be
 * within the tolerance of now, either way. Stateless and thread-safe.
 */
public final class WebhookSignature {
  /** Why a header was refused, or {@link #OK}. */
  public enum Verdict {
    /** The signature matches and is fresh. */
    OK,
    /** The header is not {@code t=...,v1=...}. */
    MALFORMED,
    /** No {@code v1} matches any secret. */
    MISMATCH,
    /** The timestamp is outside the tolerance. */
    OUT_OF_TOLERANCE
  }

  private final List<byte[]> secrets;
  private final Duration tolerance;

  /** A verifier accepting any of {@code secrets}, within {@code tolerance} of now. */
  public WebhookSignature(List<String> secrets, Duration tolerance) {
    this.secrets = new ArrayList<>();
    for (String s : secrets) {
      this.secrets.add(s.getBytes(StandardCharsets.UTF_8));
    }
    this.tolerance = tolerance;
  }

  /** Verifies {@code header} for {@code body} at {@code now}. */
  public Verdict verify(String body, @Nullable String header, Instant now) {
    if (header == null || header.length() > 4096) {
      return Verdict.MALFORMED;
    }
    String t = null;
    List<byte[]> v1 = new ArrayList<>();
    for (String part : header.split(",", -1)) {
      int eq = part.indexOf('=');
      if (eq <= 0) {
        continue;
      }
      String key = part.substring(0, eq).strip();
      String value = part.substring(eq + 1).strip();
      if ("t".equals(key)) {
        // one timestamp, spelled as Stripe spells it (decimal digits): the signed payload is this exact text, so
        // "+1700000000" or "01700000000" is not another spelling of a signed time, and two t= leave it ambiguous
        if (t != null || !isTimestamp(value)) {
          return Verdict.MALFORMED;
        }
        t = value;
      } else if ("v1".equals(key)) {
        byte[] sig = hex(value);
        if (sig != null) {
          v1.add(sig);
        }
      }
    }
    if (t == null || v1.isEmpty()) {
      return Verdict.MALFORMED;
    }
    byte[] signed = (t + "." + body).getBytes(StandardCharsets.UTF_8);
    boolean match = false;
    for (byte[] secret : secrets) {
      byte[] expected = hmac(secret, signed);
      for (byte[] candidate : v1) {
        // no early exit: every pair is compared, each in constant time
        match |= MessageDigest.isEqual(expected, candidate);
      }
    }
    if (!match) {
      return Verdict.MISMATCH;
    }
    // compared as a window, not as |now - t|: the subtraction can overflow (to Long.MIN_VALUE, whose absolute
    // value is negative) for a timestamp near the ends of a long
    long nowSeconds = now.getEpochSecond();
    long tol = tolerance.toSeconds();
    long seconds;
    try {
      seconds = Long.parseLong(t);
    } catch (NumberFormatException tooLarge) {
      return Verdict.OUT_OF_TOLERANCE; // signed, but past any long: far outside the window
    }
    return seconds >= nowSeconds - tol && seconds <= nowSeconds + tol ? Verdict.OK : Verdict.OUT_OF_TOLERANCE;
  }

  private static byte[] hmac(byte[] secret, byte[] data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret, "HmacSHA256"));
      return mac.doFinal(data);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available", e);
    }
  }

  /** Decimal digits only (no sign, no leading zero), as Stripe writes a Unix time. */
  private static boolean isTimestamp(String s) {
    if (s.isEmpty() || s.length() > 19 || (s.length() > 1 && s.charAt(0) == '0')) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      if (ch < '0' || ch > '9') {
        return false;
      }
    }
    return true;
  }

  /**
   * The 32 bytes of a 64-character lowercase hex signature, as Stripe writes it; null otherwise. Not {@link
   * Character#digit}: it also reads fullwidth and other Unicode digits, so one signature would have many spellings.
   */
  private static byte @Nullable [] hex(String s) {
    if (s.length() != 64) {
      return null;
    }
    byte[] out = new byte[32];
    for (int i = 0; i < 32; i++) {
      int hi = nibble(s.charAt(2 * i));
      int lo = nibble(s.charAt(2 * i + 1));
      if (hi < 0 || lo < 0) {
        return null;
      }
      out[i] = (byte) (hi << 4 | lo);
    }
    return out;
  }

  private static int nibble(char ch) {
    if (ch >= '0' && ch <= '9') {
      return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
      return ch - 'a' + 10;
    }
    return -1;
  }
}
