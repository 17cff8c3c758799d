package dev.saaskit.auth.internal;

import dev.saaskit.core.TenantId;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Locale;
import java.util.zip.CRC32;
import org.jspecify.annotations.Nullable;

/**
 * The text of an API key: {@code <prefix><tenant>_<publicId>_<secret><check>}, where the tenant is base32
 * (lower case, no padding) of its UTF-8 bytes, the public id 12 base62 characters, the secret 43 base62 characters
 * (256 random bits) and the check 6 base62 characters of the CRC-32 of everything before it. Not API.
 */
public final class ApiKeyFormat {
  /** Characters of the public id. */
  public static final int PUBLIC_ID_LENGTH = 12;
  private static final int SECRET_LENGTH = 43;
  private static final int CHECK_LENGTH = 6;
  private static final String BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  private static final String BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
  private static final int MAX_LENGTH = 512;

  /** A key split into its parts. */
  public static final class Parsed {
    /** The tenant the key names. */
    public final TenantId tenant;
    /** The public id. */
    public final String publicId;

    Parsed(TenantId tenant, String publicId) {
      this.tenant = tenant;
      this.publicId = publicId;
    }
  }

  private ApiKeyFormat() {}

  /** A new key for {@code tenant} with {@code publicId}, under {@code prefix} (such as {@code sk_live_}). */
  public static String newKey(String prefix, TenantId tenant, String publicId, SecureRandom random) {
    byte[] secret = new byte[32];
    random.nextBytes(secret);
    String body = prefix + base32(tenant.value().getBytes(StandardCharsets.UTF_8)) + "_" + publicId + "_"
        + base62(secret, SECRET_LENGTH);
    return body + check(body);
  }

  /** A new public id. */
  public static String newPublicId(SecureRandom random) {
    StringBuilder sb = new StringBuilder(PUBLIC_ID_LENGTH);
    for (int i = 0; i < PUBLIC_ID_LENGTH; i++) {
      sb.append(BASE62.charAt(random.nextInt(62)));
    }
    return sb.toString();
  }

  /** The parts of {@code key} if it is well-formed under {@code prefix} and its check matches; else null. */
  public static @Nullable Parsed parse(String prefix, String key) {
    if (key.length() > MAX_LENGTH || !key.startsWith(prefix)) {
      return null;
    }
    String rest = key.substring(prefix.length());
    int first = rest.indexOf('_');
    int second = first < 0 ? -1 : rest.indexOf('_', first + 1);
    if (first <= 0 || second < 0 || rest.indexOf('_', second + 1) >= 0) {
      return null;
    }
    String tenant32 = rest.substring(0, first);
    String publicId = rest.substring(first + 1, second);
    String tail = rest.substring(second + 1);
    if (publicId.length() != PUBLIC_ID_LENGTH || !all(publicId, BASE62)
        || tail.length() != SECRET_LENGTH + CHECK_LENGTH || !all(tail, BASE62) || !all(tenant32, BASE32)) {
      return null;
    }
    String body = key.substring(0, key.length() - CHECK_LENGTH);
    if (!check(body).equals(key.substring(key.length() - CHECK_LENGTH))) {
      return null;
    }
    byte[] tenantBytes = unbase32(tenant32);
    if (tenantBytes == null) {
      return null;
    }
    String tenantValue = new String(tenantBytes, StandardCharsets.UTF_8);
    try {
      return new Parsed(TenantId.of(tenantValue), publicId);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** Whether {@code prefix} is usable: 2 to 16 of {@code a-z 0-9 _}, ending in {@code _}. */
  public static boolean validPrefix(String prefix) {
    return prefix.matches("[a-z][a-z0-9_]{0,14}_") && prefix.toLowerCase(Locale.ROOT).equals(prefix);
  }

  private static boolean all(String s, String alphabet) {
    if (s.isEmpty()) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      if (alphabet.indexOf(s.charAt(i)) < 0) {
        return false;
      }
    }
    return true;
  }

  private static String check(String body) {
    CRC32 crc = new CRC32();
    crc.update(body.getBytes(StandardCharsets.UTF_8));
    long v = crc.getValue();
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < CHECK_LENGTH; i++) {
      sb.append(BASE62.charAt((int) (v % 62)));
      v /= 62;
    }
    return sb.reverse().toString();
  }

  private static String base62(byte[] bytes, int length) {
    BigInteger n = new BigInteger(1, bytes);
    BigInteger base = BigInteger.valueOf(62);
    StringBuilder sb = new StringBuilder();
    while (n.signum() > 0) {
      BigInteger[] qr = n.divideAndRemainder(base);
      sb.append(BASE62.charAt(qr[1].intValue()));
      n = qr[0];
    }
    while (sb.length() < length) {
      sb.append('0');
    }
    return sb.reverse().toString();
  }

  private static String base32(byte[] bytes) {
    StringBuilder sb = new StringBuilder();
    int buffer = 0;
    int bits = 0;
    for (byte b : bytes) {
      buffer = (buffer << 8) | (b & 0xff);
      bits += 8;
      while (bits >= 5) {
        sb.append(BASE32.charAt((buffer >> (bits - 5)) & 31));
        bits -= 5;
      }
    }
    if (bits > 0) {
      sb.append(BASE32.charAt((buffer << (5 - bits)) & 31));
    }
    return sb.toString();
  }

  private static byte @Nullable [] unbase32(String text) {
    byte[] out = new byte[text.length() * 5 / 8];
    int buffer = 0;
    int bits = 0;
    int n = 0;
    for (int i = 0; i < text.length(); i++) {
      buffer = (buffer << 5) | BASE32.indexOf(text.charAt(i));
      bits += 5;
      if (bits >= 8) {
        out[n++] = (byte) (buffer >> (bits - 8));
        bits -= 8;
      }
    }
    // canonical only: leftover bits must be zero, so one tenant has one spelling
    if ((buffer & ((1 << bits) - 1)) != 0 || n != out.length) {
      return null;
    }
    return out;
  }
}
